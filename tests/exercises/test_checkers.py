"""Every registered exercise checker (cnn_core.exercises) can tell right from wrong.

For each exercise: the reference is "correct"; every Mistake (a deliberately wrong answer of the
kind a student writes) is "wrong" and its hint is printed; there is at least one Mistake, so no
checker is vacuous. The registry and the book agree: every registered label is an {exercise} of
the book, and every exercise-check cell of the book calls ``check`` on a registered label.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from cnn_core.exercises import evaluate, exercises

from exercisehelpers import book_paths, checker_label, sn, tags

REGISTRY = exercises()
LABELS = sorted(REGISTRY)


def _flat(text: str) -> str:
    return " ".join(text.split())


def book_exercise_labels() -> dict[str, str]:
    """label -> notebook name of every {exercise} in the book notebooks."""
    found = {}
    for path in book_paths():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            lines = cell.source.split("\n")
            for name, _, first, last in sn.directive_blocks(cell.source):
                if name != "exercise":
                    continue
                for line in lines[first + 1:last]:
                    m = re.match(r"^\s*:label:\s*(\S+)\s*$", line)
                    if m:
                        found[m.group(1)] = path.name
    return found


def checker_cells() -> list[tuple[str, int, object]]:
    out = []
    for path in book_paths():
        nb = nbformat.read(path, as_version=4)
        out.extend((path.name, i, c) for i, c in enumerate(nb.cells)
                   if c.cell_type == "code" and sn.CHECK in tags(c))
    return out


def test_registry_is_not_empty():
    assert REGISTRY, "cnn_core.exercises registers no exercise (modules chNN.py)"


@pytest.mark.parametrize("label", LABELS)
def test_reference_is_correct(label):
    ex = REGISTRY[label]
    result = evaluate(label, ex.reference)
    assert result.status == "correct", f"{label}: the reference itself gets:\n{result.message}"


@pytest.mark.parametrize("label", LABELS)
def test_every_mistake_is_caught_and_named(label):
    ex = REGISTRY[label]
    assert ex.mistakes, (f"{label}: no Mistake registered: a checker must be shown to reject at "
                         "least one wrong answer of the kind a student writes")
    for mistake in ex.mistakes:
        result = evaluate(label, mistake.wrong)
        assert result.status == "wrong", (
            f"{label}: the mistake {mistake.name!r} gets {result.status!r}:\n{result.message}")
        assert _flat(mistake.hint) in _flat(result.message), (
            f"{label}: the mistake {mistake.name!r} is caught but its hint is not printed:\n"
            f"{result.message}")
        assert all(len(line) <= 76 for line in result.message.split("\n")), result.message


@pytest.mark.parametrize("label", LABELS)
def test_unfinished_answers_are_not_done(label):
    ex = REGISTRY[label]
    unfinished = [...]
    if ex.is_function:
        def stub(*args, **kwargs):
            raise NotImplementedError
        unfinished.append(stub)
    for answer in unfinished:
        result = evaluate(label, answer)
        assert result.status == "not done", result.message


def test_registered_labels_are_exercises_of_the_book():
    in_book = book_exercise_labels()
    missing = sorted(set(LABELS) - set(in_book))
    assert not missing, (f"registered in cnn_core.exercises but no {{exercise}} of the book: "
                         f"{missing}")


def test_every_checker_cell_checks_a_registered_exercise():
    problems = []
    for name, index, cell in checker_cells():
        label = checker_label(cell)
        if label is None:
            problems.append(f"{name} cell {index}: the exercise-check cell is not exactly "
                            f"check(\"ex-…\", name): {cell.source!r}")
        elif label not in REGISTRY:
            problems.append(f"{name} cell {index}: check({label!r}, …) but no exercise "
                            "is registered with that label")
    assert not problems, "\n".join(problems)
