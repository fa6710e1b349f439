"""Execute notebooks in place, so that they are committed with the outputs strict nbval compares.

Usage: python tools/execute_notebooks.py book/02_convolution.ipynb [...]
Runs each notebook with this interpreter's kernel from the notebook's own folder, records no timing
metadata (it would change on every run), and merges consecutive pieces of the same output stream
(a busy machine can deliver one print in several pieces, which renders as empty boxes).
"""

import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def merge_streams(outputs):
    merged = []
    for out in outputs:
        if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            merged[-1].text += out.text
        else:
            merged.append(out)
    return merged


for path in sys.argv[1:]:
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
