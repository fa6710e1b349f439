"""Shared by the exercise tests: the generator module, the book's chapters, a synthetic chapter."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
import student_notebooks as sn  # noqa: E402

CHECK_CALL = re.compile(r"""^\s*check\(\s*["'](?P<label>[\w-]+)["']\s*,\s*(?P<name>\w+)\s*\)\s*$""")


def book_paths() -> list[Path]:
    """The book notebooks that get a student version (empty if _toc.yml cannot be read)."""
    try:
        return sn.book_notebooks()
    except Exception:  # noqa: BLE001 - reported by test_there_are_student_notebooks
        return []


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def checker_label(cell) -> str | None:
    """The exercise label of an ``exercise-check`` cell (``check("ex-…", name)``)."""
    m = CHECK_CALL.match(cell.source)
    return m.group("label") if m else None


def output_text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    text = output.get("data", {}).get("text/plain", "")
    return text if isinstance(text, str) else "".join(text)


def _code(source, tag_list=(), outputs=()):
    cell = new_code_cell(source)
    if tag_list:
        cell.metadata["tags"] = list(tag_list)
    cell.outputs = [new_output("stream", name="stdout", text=t) for t in outputs]
    cell.execution_count = 1
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    return cell


def synthetic_book_notebook():
    """A small chapter in the contract's format: two implement-and-check exercises (gated
    solutions, one closing in the same cell as text that follows), a derivation with a plain
    solution next to its statement, a plain solution alone in its cell, and a value exercise."""
    md = new_markdown_cell
    cells = [
        md("# A synthetic chapter\n\nText of the chapter."),
        _code("import numpy as np\nfrom cnn_core.exercises import check"),
        _code("print('a figure of the chapter')", outputs=["a figure of the chapter\n"]),
        md("## Exercises\n\n```{exercise}\n:label: ex-syn-double\n\nWrite `double(x)`.\n```"),
        _code("def double(x):\n    # Return twice x.\n    raise NotImplementedError",
              ["exercise-stub", "remove-cell"]),
        _code('check("ex-syn-double", double)', ["exercise-check", "remove-cell"],
              ["ex-syn-double: not done yet (your function still raises ...).\n"]),
        md("```{solution-start} ex-syn-double\n:class: dropdown\n```\n\n"
           "Multiply by two: the secret prose of the first solution."),
        _code("def double(x):\n    return x + x          # the secret answer line",
              ["solution-answer"]),
        _code('check("ex-syn-double", double)',
              outputs=["ex-syn-double: correct on all 3 cases (secret output).\n"]),
        md("```{solution-end}\n```\n\nText after the first solution, kept."),
        md("```{exercise}\n:label: ex-syn-prove\n:class: derivation\n\nProve it.\n```\n\n"
           "````{solution} ex-syn-prove\n:class: dropdown\n\nThe secret proof, with code:\n\n"
           "```python\nsecret_proof_line = 1\n```\n````"),
        md("```{exercise}\n:label: ex-syn-height\n\nThe height of the output.\n```"),
        _code("height = ...  # the output height", ["exercise-stub", "remove-cell"]),
        _code('check("ex-syn-height", height)', ["exercise-check", "remove-cell"],
              ["ex-syn-height: not done yet (the answer is still `...`).\n"]),
        md(":::{solution-start} ex-syn-height\n:class: dropdown\n:::\nThe secret height prose."),
        _code("height = (9 - 3) // 2 + 1   # secret value answer", ["solution-answer"]),
        _code("print(height)", outputs=["4\n"]),
        md(":::{solution-end}\n:::"),
        md("```{exercise}\n:label: ex-syn-words\n\nSay why.\n```"),
        md("```{solution} ex-syn-words\n:class: dropdown\n\nThe secret words.\n```"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nbformat.from_dict(nb)


SECRETS = ["secret prose of the first", "the secret answer line", "secret output",
           "secret proof", "secret_proof_line", "secret height prose", "secret value answer",
           "secret words", "solution-start", "solution-end", "{solution}", "\n4\n"]
