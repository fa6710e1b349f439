"""Execute notebooks in place, so that they are committed with the outputs strict nbval compares.

Usage: python tools/execute_notebooks.py book/02_convolution.ipynb [...]
Runs each notebook with this interpreter's kernel from the notebook's own folder, and records no
timing metadata (it would change on every run).
"""

import os
import sys
import time

import nbformat
from nbclient import NotebookClient

for path in sys.argv[1:]:
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
