"""Every student notebook, as a student gets it, runs top to bottom; and solved, it is all correct.

- unfilled: the student notebook executes without error with every stub as generated, and every
  checker cell prints "not done yet";
- solved: each stub's source replaced by the book's ``solution-answer`` cell(s) of its exercise
  (what the student would type), the notebook executes and every checker prints "correct";
- no solution code, output or prose of the book is in the student notebook (static, fast).

The notebooks run with nbclient in this interpreter's kernel from ``book/`` (as the chapters do),
one test per notebook and variant, so ``pytest -n 2`` spreads them over the cores.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from exercisehelpers import ROOT, book_paths, checker_label, output_text, sn, tags

PATHS = book_paths()
IDS = [p.stem for p in PATHS]
TIMEOUT = 300                 # seconds per cell (the chapters' own limit is 30-60 s in all)
MIN_LINE = 12                 # shorter lines ("return x", "plt.show()") are not evidence of a leak


def _read(path):
    return nbformat.read(path, as_version=4)


def _run(nb, name: str):
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(ROOT / "book")}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{name}: the student notebook stops with an error:\n{str(exc)[-3000:]}",
                    pytrace=False)
    return nb


def _checker_outputs(nb) -> list[tuple[int, str, str]]:
    """(cell index, label, printed text) of every exercise-check cell."""
    return [(i, checker_label(c) or c.source, "".join(output_text(o) for o in c.outputs))
            for i, c in enumerate(nb.cells) if c.cell_type == "code" and sn.CHECK in tags(c)]


def test_there_are_student_notebooks():
    assert PATHS, "no book notebook gets a student version (see _toc.yml)"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_unfilled_student_notebook_runs_and_says_not_done(path):
    nb = _run(sn.student_notebook(_read(path)), path.name)
    wrong = [f"cell {i} ({label}): {text.strip()[:300]!r}"
             for i, label, text in _checker_outputs(nb) if "not done yet" not in text]
    assert not wrong, (f"{path.name}: with the stubs unfilled these checkers do not say "
                       "'not done yet':\n" + "\n".join(wrong))


def solved(book) -> tuple[object, list[str]]:
    """The student notebook with each stub replaced by its exercise's solution-answer cells."""
    answers = {}
    for region in sn.solution_regions(book):
        if region["answers"]:
            answers.setdefault(region["label"], []).extend(region["answers"])
    student = sn.student_notebook(book)
    missing = []
    for i, cell in enumerate(student.cells):
        if cell.cell_type != "code" or sn.STUB not in tags(cell):
            continue
        following = student.cells[i + 1] if i + 1 < len(student.cells) else None
        label = checker_label(following) if following is not None and \
            sn.CHECK in tags(following) else None
        if label is None:
            missing.append(f"cell {i}: an exercise-stub not followed by its exercise-check cell")
        elif label not in answers:
            missing.append(f"{label}: no solution-answer cell in its gated solution")
        else:
            cell.source = "\n\n".join(answers[label])
    return student, missing


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_solved_student_notebook_is_all_correct(path):
    book = _read(path)
    student, missing = solved(book)
    assert not missing, f"{path.name}: " + "; ".join(missing)
    if not any(sn.STUB in tags(c) for c in student.cells):
        pytest.skip(f"{path.name} has no exercise stub (the book rules require two)")
    nb = _run(student, path.name)
    wrong = [f"cell {i} ({label}): {text.strip()[:400]!r}"
             for i, label, text in _checker_outputs(nb)
             if not re.search(r": correct\b", text)]
    assert not wrong, (f"{path.name}: with the book's answers pasted into the stubs these "
                       "checkers do not say 'correct':\n" + "\n".join(wrong))


# ---------------------------------------------------------------------------------------------
# No solution in the student notebook
# ---------------------------------------------------------------------------------------------

def _lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.split("\n")
            if len(" ".join(line.split())) >= MIN_LINE}


def _images(nb) -> set[str]:
    found = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime, data in output.get("data", {}).items():
                if mime.startswith("image/"):
                    found.add((data if isinstance(data, str) else "".join(data))[:400])
    return found


def solution_material(book) -> dict[str, set]:
    """What belongs to the solutions only: lines of their code, outputs and prose (lines that
    also occur outside every solution are left out, e.g. the ``check(…)`` call), and images."""
    regions = sn.solution_regions(book)
    inside = {i for r in regions for i in r["cells"]}
    code, outputs, prose, images = set(), set(), set(), set()
    for i in sorted(inside):
        cell = book.cells[i]
        if cell.cell_type == "code":
            code |= _lines(cell.source)
            for output in cell.get("outputs", []):
                outputs |= _lines(output_text(output))
    for region in regions:
        prose |= {line for line in _lines(region["prose"])
                  if not re.match(r"^(`{3,}|:{3,}|~{3,})|^:[\w-]+:", line)}
    outside_book = nbformat.from_dict({**book, "cells": [
        c for i, c in enumerate(book.cells) if i not in inside]})
    student_like = sn.student_notebook(outside_book)
    common = set()
    for cell in student_like.cells[1:]:
        common |= _lines(cell.source)
        for output in cell.get("outputs", []):
            common |= _lines(output_text(output))
    sub = nbformat.from_dict({**book, "cells": [book.cells[i] for i in sorted(inside)]})
    images = _images(sub) - _images(outside_book)
    return {"code": code - common, "output": outputs - common, "prose": prose - common,
            "image": images}


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_no_solution_in_the_student_notebook(path):
    book = _read(path)
    student = sn.student_notebook(book)
    seen = set()
    for cell in student.cells:
        seen |= _lines(cell.source)
        for output in cell.get("outputs", []):
            seen |= _lines(output_text(output))
    material = solution_material(book)
    leaks = [f"solution {kind}: {line[:100]!r}" for kind in ("code", "output", "prose")
             for line in sorted(material[kind] & seen)]
    leaks += ["a solution image" for _ in material["image"] & _images(student)]
    assert not leaks, f"{path.name}: the student notebook shows solution material:\n" + \
        "\n".join(leaks[:20])
    assert not any(sn.ANSWER in tags(c) for c in student.cells)
    directives = [name for c in student.cells if c.cell_type == "markdown"
                  for name, *_ in sn.directive_blocks(c.source)
                  if name in ("solution", "solution-start", "solution-end")]
    assert not directives, f"{path.name}: solution directives left: {directives}"


def test_the_leak_check_finds_leaks():
    """Self-test on the synthetic chapter: its solutions' lines are found, and a "student
    notebook" that kept them (the book notebook itself) would fail the check above."""
    from exercisehelpers import synthetic_book_notebook

    book = synthetic_book_notebook()
    material = solution_material(book)
    assert any("secret answer line" in line for line in material["code"])
    assert any("secret output" in line for line in material["output"])
    assert any("secret proof" in line for line in material["prose"])
    assert any("secret words" in line for line in material["prose"])
    assert not any("check(" in line for line in material["code"])   # also outside: not evidence
    leaky = set()
    for cell in book.cells:
        leaky |= _lines(cell.source)
        for output in cell.get("outputs", []):
            leaky |= _lines(output_text(output))
    assert material["code"] & leaky and material["output"] & leaky and material["prose"] & leaky
    seen = set()
    for cell in sn.student_notebook(book).cells:
        seen |= _lines(cell.source) | {x for o in cell.get("outputs", [])
                                       for x in _lines(output_text(o))}
    assert not (material["code"] | material["output"] | material["prose"]) & seen
