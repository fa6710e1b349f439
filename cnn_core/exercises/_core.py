"""The machinery behind :func:`cnn_core.exercises.check` (see the package docstring)."""

from __future__ import annotations

import copy
import importlib
import pkgutil
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

NOT_DONE, WRONG, CORRECT = "not done", "wrong", "correct"
_SEED = 20240601                  # the cases of every checker are drawn from this seed


@dataclass(frozen=True)
class Case:
    """One input on which the student's function is compared with the reference."""
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def describe(self) -> str:
        parts = [_describe(a) for a in self.args]
        parts += [f"{k}={_describe(v)}" for k, v in self.kwargs.items()]
        return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: ``wrong`` makes it (a function, or a value for value exercises), and
    ``hint`` is printed when the student's answer agrees with it where the reference does not."""
    name: str
    wrong: Any
    hint: str


@dataclass(frozen=True)
class Exercise:
    """One checked exercise.

    ``reference`` is the right answer: a function (then ``cases`` gives the inputs, a list of
    :class:`Case` or a function of a seeded ``numpy.random.Generator`` returning one) or a value.
    ``what`` says in a few words what the student writes (used in the messages).
    """
    label: str
    what: str
    reference: Any
    cases: Any = None
    mistakes: tuple = ()
    rtol: float = 1e-7
    atol: float = 1e-9
    hint: str = ""               # printed with any wrong answer that matches no listed mistake

    @property
    def is_function(self) -> bool:
        return callable(self.reference)

    def make_cases(self) -> list[Case]:
        cases = self.cases(np.random.default_rng(_SEED)) if callable(self.cases) else self.cases
        out = []
        for c in cases or ():
            if isinstance(c, Case):
                out.append(c)
            elif isinstance(c, tuple) and len(c) == 2 and isinstance(c[1], dict):
                out.append(Case(tuple(c[0]), dict(c[1])))
            else:
                out.append(Case(tuple(c) if isinstance(c, tuple) else (c,)))
        return out


@dataclass(frozen=True)
class Result:
    """A checker's verdict: ``status`` is ``"not done"``, ``"wrong"`` or ``"correct"``."""
    label: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        return self.message


_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the registry (a chapter module calls this at import)."""
    if ex.label in _REGISTRY:
        raise ValueError(f"exercise label {ex.label!r} is registered twice")
    if ex.is_function and not ex.make_cases():
        raise ValueError(f"{ex.label}: a function exercise needs at least one case")
    _REGISTRY[ex.label] = ex
    return ex


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    from cnn_core import exercises as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    _LOADED = True


def exercises() -> dict[str, Exercise]:
    """Every registered exercise, by label."""
    _load_all()
    return dict(_REGISTRY)


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape}"
    if isinstance(a, (list, tuple)) and any(isinstance(v, np.ndarray) for v in a):
        shapes = ", ".join(str(np.shape(v)) for v in a[:4]) + (", ..." if len(a) > 4 else "")
        return f"{type(a).__name__} of {len(a)} arrays of shapes {shapes}"
    if isinstance(a, (list, tuple)) and len(a) > 4:
        return f"{type(a).__name__} of length {len(a)}"
    if callable(a):
        return getattr(a, "__name__", "a function")
    return repr(a)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return repr(v)


def _difference(got, expected, rtol: float, atol: float) -> str | None:
    """None when ``got`` equals ``expected`` (within the tolerance); else what differs."""
    if isinstance(expected, (tuple, list)) and not isinstance(expected, np.ndarray) and \
            any(isinstance(e, (np.ndarray, tuple, list)) for e in expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            n = len(got) if isinstance(got, (tuple, list)) else "not a tuple"
            return f"expected a tuple of {len(expected)} results, got {n}"
        for number, (g, e) in enumerate(zip(got, expected), 1):
            d = _difference(g, e, rtol, atol)
            if d is not None:
                return f"result {number} of {len(expected)}: {d}"
        return None
    e = np.asarray(expected)
    if got is None:
        return "your answer is None"
    try:
        g = np.asarray(got)
        if e.dtype.kind in "biuf" and g.dtype.kind not in "biuf":
            raise TypeError
    except (TypeError, ValueError):
        return f"expected a number or an array, got {type(got).__name__}"
    if g.shape != e.shape:
        return f"wrong shape: expected {e.shape}, got {g.shape}"
    if e.dtype.kind in "biuf":
        g64, e64 = g.astype(np.float64), e.astype(np.float64)
        bad = ~np.isclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True)
    else:
        bad = np.asarray(g != e)
    if not bad.any():
        return None
    if e.ndim == 0:
        return f"expected {_fmt(e[()])}, got {_fmt(g[()])}"
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())} of {bad.size} elements differ; the first at index {idx}: "
            f"expected {_fmt(e[idx])}, got {_fmt(g[idx])}")


def _copy(v):
    return v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)


class _NotDone(Exception):
    pass


def _call(fn, case: Case):
    try:
        out = fn(*[_copy(a) for a in case.args], **{k: _copy(v) for k, v in case.kwargs.items()})
    except NotImplementedError:
        raise _NotDone("still raises NotImplementedError") from None
    if out is Ellipsis:
        raise _NotDone("still returns ...")
    if out is None:
        raise _NotDone("returns None: is the `return` missing?")
    return out


def evaluate(label: str, answer) -> Result:
    """The verdict on ``answer`` (a function or a value) for exercise ``label``, without printing."""
    ex = exercises().get(label)
    if ex is None:
        raise KeyError(f"no exercise is labelled {label!r}; known: {sorted(exercises())}")
    todo = (f"{label}: not done yet ({{why}}).\n"
            "  Fill in the cell above, run it, then run this one again.")
    if answer is Ellipsis or answer is None:
        why = "the answer is still `...`" if answer is Ellipsis else "the answer is None"
        return Result(label, NOT_DONE, _wrap(todo.format(why=why)))
    if not ex.is_function:
        diff = _difference(answer, ex.reference, ex.rtol, ex.atol)
        if diff is None:
            return Result(label, CORRECT, f"{label}: correct.")
        if np.ndim(ex.reference) == 0 and not diff.startswith("expected a"):
            diff = f"{_fmt(answer)} is not the right value"   # do not give the answer away
        hints = [m.hint for m in ex.mistakes
                 if _difference(answer, m.wrong, ex.rtol, ex.atol) is None]
        return Result(label, WRONG, _wrong_message(ex, diff, None, hints))
    if not callable(answer):
        return Result(label, WRONG, _wrap(f"{label}: expected a function ({ex.what}), "
                                          f"got {type(answer).__name__}."))
    cases = ex.make_cases()
    for number, case in enumerate(cases, 1):
        expected = ex.reference(*case.args, **case.kwargs)
        try:
            got = _call(answer, case)
        except _NotDone as why:
            return Result(label, NOT_DONE, _wrap(todo.format(why=f"your function {why}")))
        except Exception as exc:  # noqa: BLE001 - the student's error is the feedback
            where = f"case {number} of {len(cases)} {case.describe()}"
            return Result(label, WRONG, _wrap(f"{label}: not yet right. On {where} your "
                                              f"function raised {type(exc).__name__}: {exc}"))
        diff = _difference(got, expected, ex.rtol, ex.atol)
        if diff is not None:
            hints = []
            for m in ex.mistakes:
                try:
                    wrong = m.wrong(*[_copy(a) for a in case.args],
                                    **{k: _copy(v) for k, v in case.kwargs.items()})
                except Exception:  # noqa: BLE001 - a mistake that cannot run matches nothing
                    continue
                if _difference(got, wrong, ex.rtol, ex.atol) is None:
                    hints.append(m.hint)
            return Result(label, WRONG, _wrong_message(ex, diff, (number, len(cases), case), hints))
    return Result(label, CORRECT, f"{label}: correct on all {len(cases)} cases.")


def _wrong_message(ex: Exercise, diff: str, where, hints: list[str]) -> str:
    lines = [f"{ex.label}: not yet right."]
    if where is not None:
        number, total, case = where
        lines.append(f"  On case {number} of {total} {case.describe()}: {diff}.")
    else:
        lines.append(f"  {diff[0].upper()}{diff[1:]}.")
    for h in hints or ([ex.hint] if ex.hint else []):
        lines.append(f"  Hint: {h}")
    return _wrap("\n".join(lines))


WIDTH = 76   # the book's code boxes show 77 characters; checker output fits them


def _wrap(text: str) -> str:
    """Wrap every line at :data:`WIDTH` characters, continuation lines indented by four."""
    out = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip()))
        out.extend(textwrap.wrap(line, WIDTH, subsequent_indent=indent + "  ",
                                 break_on_hyphens=False) or [""])
    return "\n".join(out)


def check(label: str, answer) -> None:
    """Print the verdict on ``answer`` for exercise ``label`` (never raises on a wrong answer)."""
    print(evaluate(label, answer))
