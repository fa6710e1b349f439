"""Every student notebook, as a student gets it, runs top to bottom; and solved, it is all correct.

- unfilled: the student notebook executes without error with every stub as generated, and every
  checker cell prints "not done yet";
- solved: each stub's source replaced by the book's ``solution-answer`` cell(s) of its exercise
  (what the student would type), every checker prints "correct". To keep ``make test`` short
  this runs in the same kernel as the unfilled notebook: after each checker, the answer is
  executed in a copy of the namespace (with the answers of the exercises before it) and checked,
  so the student's own namespace keeps its stubs. ``STUDENT_SOLVED_FULL=1`` also runs each
  solved notebook on its own from top to bottom;
- no solution code, output or prose of the book is in the student notebook (static, fast).

The notebooks run with nbclient in this interpreter's kernel from ``book/`` (as the chapters do),
one test per notebook and variant, so ``pytest -n 2`` spreads them over the cores.
"""

from __future__ import annotations

import os
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


def solved(book) -> tuple[object, list[str]]:
    """The student notebook with each stub replaced by its exercise's solution-answer cells, and
    what is missing for that (a stub without its checker, an exercise without an answer)."""
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


# Run after a checker cell of the unfilled notebook: the book's answer is executed where the stub
# is, in a copy of the notebook's namespace holding the answers of the exercises before it (as
# in the solved notebook), and checked; the student's namespace keeps its unfilled stubs.
SOLVED_CHECK = """\
__solved = globals().setdefault("__solved_answers", {{}})
__ns = {{**globals(), **__solved}}
exec(compile(get_ipython().transform_cell({answer!r}), "solution-answer", "exec"), __ns)
check({label!r}, __ns[{name!r}])
__solved.update({{k: v for k, v in __ns.items()
                 if not k.startswith("__") and globals().get(k, __ns) is not v}})
"""


def with_solved_checks(student, solved_nb) -> tuple[object, list[int]]:
    """The unfilled student notebook with a cell after each checker that checks the answer the
    solved notebook has in that stub; returns it and the indices of the added cells."""
    nb = nbformat.from_dict(student)
    cells, added = [], []
    for cell, solved_cell in zip(student.cells, solved_nb.cells):
        cells.append(cell)
        if cell.cell_type == "code" and sn.STUB in tags(cell):
            stub_answer = solved_cell.source
        if cell.cell_type == "code" and sn.CHECK in tags(cell) and checker_label(cell):
            name = sn_name(cell)
            extra = nbformat.v4.new_code_cell(SOLVED_CHECK.format(
                answer=stub_answer, label=checker_label(cell), name=name))
            extra.metadata["tags"] = ["solved-check"]
            added.append(len(cells))
            cells.append(extra)
    nb.cells = cells
    return nb, added


def sn_name(cell) -> str:
    from exercisehelpers import CHECK_CALL

    return CHECK_CALL.match(cell.source).group("name")


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_student_notebook_unfilled_and_solved(path):
    """One run per notebook: top to bottom with the stubs unfilled (every checker says "not done
    yet"), and after each checker the book's answer for that stub is checked ("correct")."""
    book = _read(path)
    solved_nb, missing = solved(book)
    assert not missing, f"{path.name}: " + "; ".join(missing)
    student = sn.student_notebook(book)
    nb, added = with_solved_checks(student, solved_nb)
    nb = _run(nb, path.name)
    not_done = [f"cell {i} ({label}): {text.strip()[:300]!r}"
                for i, label, text in _checker_outputs(nb) if "not done yet" not in text]
    assert not not_done, (f"{path.name}: with the stubs unfilled these checkers do not say "
                          "'not done yet':\n" + "\n".join(not_done))
    wrong = []
    for i in added:
        text = "".join(output_text(o) for o in nb.cells[i].outputs)
        if not re.search(r": correct\b", text):
            wrong.append(f"{checker_label(nb.cells[i - 1])}: {text.strip()[:400]!r}")
    assert not wrong, (f"{path.name}: with the book's answers pasted into the stubs these "
                       "checkers do not say 'correct':\n" + "\n".join(wrong))


@pytest.mark.skipif(os.environ.get("STUDENT_SOLVED_FULL") != "1",
                    reason="the solved notebook as a whole runs with STUDENT_SOLVED_FULL=1 (the "
                           "test above checks every answer where its stub is, in one run)")
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_solved_student_notebook_runs_and_is_all_correct(path):
    """The solved student notebook, run on its own from top to bottom: all correct."""
    student, missing = solved(_read(path))
    assert not missing, f"{path.name}: " + "; ".join(missing)
    nb = _run(student, path.name)
    wrong = [f"cell {i} ({label}): {text.strip()[:400]!r}"
             for i, label, text in _checker_outputs(nb) if not re.search(r": correct\b", text)]
    assert not wrong, f"{path.name}: not 'correct':\n" + "\n".join(wrong)


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
        prose |= {line for line in _lines(sn.plain_roles(region["prose"]))
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
