"""Checkers for the book's exercises.

In a student notebook every implement-and-check exercise has a stub cell, which the student fills
in, and a checker cell right after it::

    check("ex-conv-valid", conv_valid)

:func:`check` never raises: it prints one of three verdicts and the notebook goes on.

- **not done yet**: the stub still raises ``NotImplementedError``, returns ``None`` or is ``...``;
- **not yet right**: what differs (the shape expected and got, the first differing element with
  both values) and, when the answer matches a classic mistake, a hint that names it;
- **correct**: a one-line confirmation with the number of cases checked.

Each chapter's exercises are registered in a module ``cnn_core.exercises.chNN`` with
:func:`register`: the reference answer, the cases it is compared on, and the classic mistakes,
each written as a deliberately wrong implementation (the tests check that every one of them is
caught and named). :func:`evaluate` returns the verdict as a :class:`Result` instead of printing it.
"""

from ._core import Case, Exercise, Mistake, Result, check, evaluate, exercises, register

__all__ = ["Case", "Exercise", "Mistake", "Result", "check", "evaluate", "exercises", "register"]
