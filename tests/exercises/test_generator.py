"""The student-notebook generator (_ext/student_notebooks.py) on a synthetic chapter.

Fast (no kernel): every form of solution the contract allows is removed, stubs and checkers are
kept and shown, outputs of everything else are kept, and the site/zip writers produce what the
Makefile and the Sphinx extension publish.
"""

from __future__ import annotations

import copy
import zipfile

import nbformat

from exercisehelpers import (ROOT, SECRETS, book_paths, output_text, sn, synthetic_book_notebook,
                             tags)


def _everything(nb) -> str:
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        parts.extend(output_text(o) for o in cell.get("outputs", []))
    return "\n".join(parts)


def test_synthetic_chapter_loses_every_solution():
    student = sn.student_notebook(synthetic_book_notebook())
    text = _everything(student)
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"solution text in the student notebook: {leaked}"
    assert not any(sn.ANSWER in tags(c) for c in student.cells)


def test_synthetic_chapter_keeps_stubs_checkers_and_the_rest():
    book = synthetic_book_notebook()
    before = copy.deepcopy(book)
    student = sn.student_notebook(book)
    stubs = [c for c in student.cells if sn.STUB in tags(c)]
    checks = [c for c in student.cells if sn.CHECK in tags(c)]
    assert [c.source for c in stubs] == [c.source for c in book.cells if sn.STUB in tags(c)]
    assert [c.source for c in checks] == ['check("ex-syn-double", double)',
                                         'check("ex-syn-height", height)']
    for cell in stubs + checks:
        assert cell.outputs == [] and "remove-cell" not in tags(cell), cell
    # each checker right after its stub
    for i, cell in enumerate(student.cells):
        if sn.CHECK in tags(cell):
            assert sn.STUB in tags(student.cells[i - 1])
    # the chapter's own outputs are kept; execution data is not
    body = [c for c in student.cells if c.source == "print('a figure of the chapter')"]
    assert body and output_text(body[0].outputs[0]) == "a figure of the chapter\n"
    assert all(c.get("execution_count") is None for c in student.cells if c.cell_type == "code")
    assert not any("execution" in c.metadata for c in student.cells)
    text = _everything(student)
    assert "Text after the first solution, kept." in text
    for label in ("ex-syn-double", "ex-syn-prove", "ex-syn-height", "ex-syn-words"):
        assert f"**Exercise** `{label}`" in text, label
    assert "*(derivation)*" in text and "{exercise}" not in text
    # the book notebook itself is untouched
    assert book == before


def test_first_cell_says_how_to_work():
    student = sn.student_notebook(synthetic_book_notebook())
    first = student.cells[0]
    assert first.cell_type == "markdown"
    assert "A synthetic chapter" in first.source
    for words in ("not done yet", "not yet right", "correct", "pip install", "stub"):
        assert words in first.source, words
    nbformat.validate(student)


def test_solution_regions_of_the_synthetic_chapter():
    regions = sn.solution_regions(synthetic_book_notebook())
    assert [(r["label"], r["kind"]) for r in regions] == [
        ("ex-syn-double", "gated"), ("ex-syn-prove", "plain"), ("ex-syn-height", "gated"),
        ("ex-syn-words", "plain")]
    assert regions[0]["cells"] == [7, 8] and regions[0]["end"] == 9
    assert "secret answer line" in regions[0]["answers"][0]
    assert "secret value answer" in regions[2]["answers"][0]
    assert "secret prose of the first" in regions[0]["prose"]


def test_directive_inside_a_code_block_is_not_a_solution():
    text = ("Write it like this:\n\n````markdown\n```{solution} ex-a\n:class: dropdown\n```\n"
            "````\n\nThen go on.")
    assert sn.directive_blocks(text) == []
    cell = nbformat.v4.new_markdown_cell(text)
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert sn.student_notebook(nb).cells[1].source == text


def test_write_all_writes_notebooks_and_zip(tmp_path):
    paths = sn.write_all(tmp_path)
    assert [p.name for p in paths] == [p.name for p in book_paths()]
    assert paths, "no chapter gets a student notebook"
    with zipfile.ZipFile(tmp_path / sn.ZIP_NAME) as zf:
        assert sorted(zf.namelist()) == sorted(f"student-notebooks/{p.name}" for p in paths)
        assert zf.read(f"student-notebooks/{paths[0].name}") == paths[0].read_bytes()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["cnn_core"] == {"student_notebook": True}


def test_every_numbered_chapter_gets_one():
    chapters = {p.name for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    assert chapters <= {p.name for p in book_paths()}


def test_roles_become_plain_text():
    text = ("A {term}`Stride <stride>` and {term}`kernel`: eq. {eq}`eq-a`, {cite}`a2001,b2002`, "
            "{doc}`06_backpropagation`, {numref}`fig-x`, {ref}`the preface <sec-p>`, "
            "{func}`cnn_core.conv2d`.\n\n```python\nx = '{term}`kept in code`'\n```")
    assert sn.plain_roles(text) == (
        "A Stride and kernel: eq. (eq-a), [a2001, b2002], 06_backpropagation, (fig-x), the "
        "preface, `cnn_core.conv2d`.\n\n```python\nx = '{term}`kept in code`'\n```")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    assert sn.student_notebook(nb).cells[1].source == sn.plain_roles(text)


def test_a_notebook_with_exercises_gets_a_student_version(tmp_path):
    """Also when it is not a numbered chapter (the appendix): the {exercise} is found in the
    notebook's markdown cells (not in its raw JSON text)."""
    nb = synthetic_book_notebook()
    path = tmp_path / "appendix_something.ipynb"
    nbformat.write(nb, path)
    assert sn.has_exercises(path) and sn.wants_student_notebook(path)
    nb.cells = [c for c in nb.cells if "{exercise}" not in c.source]
    nbformat.write(nb, path)
    assert not sn.has_exercises(path) and not sn.wants_student_notebook(path)
