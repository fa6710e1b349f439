"""The format of the bad-input tables and helpers that generate their standard rows.

A table is ``CASES: dict[str, list[Case | Result]]`` in a module ``cases_*.py`` of this folder,
keyed by the public name (``"conv2d"``, ``"Dense.backward"``, ``"SGD.step"`` ...). A row is

- a :class:`Case`: the call must raise ``exc`` with a message that contains every one of
  ``words`` (case-insensitive), or
- a :class:`Result`: the call must return, and ``check(result)`` must pass (raise
  ``AssertionError`` otherwise): for input that is valid but unusual, where PyTorch gives an
  empty array or NaN rather than an error.

Labels read ``"<public name>: <what is bad>"`` and are unique, so a failure says what was tried.
A module may also export ``XFAIL: dict[str, str]``, row label → reason, for rows that fail today
because of code the module's authors do not own; they run as strict xfails (a fix is noticed).
``test_bad_input.py`` runs every row, and checks that no call changes the arrays it can reach
and that a call that fails leaves every layer or optimiser it can reach as it was.

The helpers below generate the usual rows for one argument so that a table stays short:
:func:`array_cases` (wrong ndim, wrong size of each constrained axis, bool/complex/object/str
dtypes, empty axes, NaN and ∞), :func:`int_cases`, :func:`real_cases` and :func:`pair_cases`
(sizes and hyperparameters: wrong type, out of range, not finite); their messages must name the
argument and show the value given (its ``repr``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    """``call()`` raises ``exc`` and its message contains every word of ``words``."""

    label: str
    call: Callable[[], object]
    exc: type[BaseException] | tuple
    words: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """``call()`` returns a value, and ``check(value)`` passes."""

    label: str
    call: Callable[[], object]
    check: Callable[[object], None]


def _bind(call_with, value, fresh):
    """A call with no arguments: ``call_with(value)``, or ``call_with(fresh(), value)`` with an
    object made now (so each row has its own layer or optimiser)."""
    if fresh is None:
        return lambda: call_with(value)
    obj = fresh()
    return lambda: call_with(obj, value)


def _quiet(call):
    """``call`` without numpy's RuntimeWarnings (inf - inf, 0 * inf give NaN, as in PyTorch)."""
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return call()
    return run


def shapes(result):
    """The shape of an array result, or the tuple of shapes of a tuple result."""
    if isinstance(result, tuple):
        return tuple(np.shape(r) for r in result)
    return np.shape(result)


def has_nan(result) -> None:
    """Check: NaN went through (as in PyTorch): one of the results holds a NaN."""
    parts = result if isinstance(result, tuple) else (result,)
    assert any(np.isnan(np.asarray(p, dtype=float)).any() for p in parts), \
        "NaN in the input did not reach the result"


def same_as(reference: Callable[[], object]):
    """Check: the result equals ``reference()``'s (same shapes, same values, NaN in the same
    places)."""
    def check(result):
        expected = reference()
        got_shapes, want_shapes = shapes(result), shapes(expected)
        assert got_shapes == want_shapes, f"shapes {got_shapes}, expected {want_shapes}"
        got = result if isinstance(result, tuple) else (result,)
        want = expected if isinstance(expected, tuple) else (expected,)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g, dtype=float), np.asarray(w, dtype=float))
    return check


def emptied(reference: Callable[[], object], axis: int = 0):
    """Check: the result has the shapes of ``reference()``'s with ``axis`` of size 0 (in every
    array that has that axis): what PyTorch gives for an empty batch."""
    def cut(shape):
        return shape[:axis] + (0,) + shape[axis + 1:] if len(shape) > axis else shape

    def check(result):
        expected = reference()
        want = (tuple(map(cut, shapes(expected))) if isinstance(expected, tuple)
                else cut(shapes(expected)))
        assert shapes(result) == want, f"shapes {shapes(result)}, expected {want}"
    return check


def array_cases(name: str, arg: str, call_with, good, *, fixed=(), ndim=True, dtypes=True,
                bool_ok=True, nan="propagates", empty=None, fresh=None) -> list:
    """Standard rows for the array argument ``arg`` of ``name``.

    ``call_with(value)`` calls ``name`` with ``arg = value`` and every other argument valid (with
    ``fresh``: ``call_with(obj, value)`` on a new ``obj = fresh()`` per row). ``good`` is a valid
    value. Rows:

    - one dimension more and one less (``ndim=False`` where any ndim is valid): ``ValueError``
      naming ``arg`` and the shape given;
    - each axis in ``fixed`` (whose size other arguments decide) one larger: ``ValueError``
      naming ``arg`` and the shape given;
    - complex, object and str dtypes: ``TypeError`` naming ``arg`` and the dtype; bool is
      accepted as 0/1 (a :class:`Result` equal to the float call; no row with
      ``bool_ok=False``, for a call whose result cannot be compared);
    - ``nan``: ``"propagates"`` (a Result: NaN reaches the output, as in PyTorch), ``None``
      (no row), or ``(exc, words)``; with ``"propagates"`` also an ∞ row that must return;
    - ``empty``: ``{axis: check or (exc, words)}``, ``arg`` with that axis of size 0.
    """
    good = np.asarray(good)
    rows: list = []

    def case(what, value, exc, words):
        rows.append(Case(f"{name}: {arg} {what}", _bind(call_with, value, fresh), exc,
                         (arg, *words)))

    def result(what, value, check):
        rows.append(Result(f"{name}: {arg} {what}", _bind(call_with, value, fresh), check))

    if ndim:
        more = good[None]
        case(f"with one axis too many {more.shape}", more, ValueError, (str(more.shape),))
        if good.ndim >= 1:
            less = good[0]
            case(f"with one axis too few {less.shape}", less, ValueError, (str(less.shape),))
    for axis in fixed:
        bigger = np.concatenate([good, good.take([0], axis=axis)], axis=axis)
        case(f"with axis {axis} of the wrong size {bigger.shape}", bigger, ValueError,
             (str(bigger.shape),))
    if dtypes:
        case("complex", good.astype(complex), TypeError, ("complex",))
        case("of dtype object", good.astype(object), TypeError, ("object",))
        case("of strings", good.astype(str), TypeError, ("dtype",))
    if dtypes and bool_ok:
        float_call = _bind(call_with, good.astype(bool).astype(float), fresh)
        result("bool (accepted as 0/1)", good.astype(bool) if good.size else good,
               same_as(float_call))
    if nan is not None and good.size and good.dtype.kind == "f":
        with_nan = good.copy()
        with_nan.flat[0] = np.nan
        if nan == "propagates":
            result("holding NaN (it propagates, as in PyTorch)", with_nan, has_nan)
            with_inf = good.copy()
            with_inf.flat[0] = np.inf
            result("holding inf (accepted)", with_inf, lambda r: None)
            rows[-1] = Result(rows[-1].label, _quiet(rows[-1].call), rows[-1].check)
        else:
            case("holding NaN", with_nan, nan[0], nan[1])
    for axis, expect in (empty or {}).items():
        shape = list(good.shape)
        shape[axis] = 0
        value = np.zeros(shape, dtype=good.dtype)
        if callable(expect):
            result(f"with an empty axis {axis} {tuple(shape)}", value, expect)
        else:
            case(f"with an empty axis {axis} {tuple(shape)}", value, expect[0], expect[1])
    return rows


def int_cases(name: str, arg: str, call_with, *, minimum: int = 1, fresh=None,
              type_error=TypeError) -> list:
    """A size or count: below ``minimum`` (``ValueError``), a float, a str, ``None`` and
    ``True`` (``type_error``, normally ``TypeError``); each message names ``arg``."""
    rows = [Case(f"{name}: {arg} = {minimum - 1} (below {minimum})",
                 _bind(call_with, minimum - 1, fresh), ValueError, (arg, str(minimum - 1)))]
    for bad in (minimum + 0.5, str(minimum), None, True):
        rows.append(Case(f"{name}: {arg} = {bad!r} (not an int)", _bind(call_with, bad, fresh),
                         type_error, (arg, repr(bad))))
    return rows


def real_cases(name: str, arg: str, call_with, *, below=None, above=None, fresh=None,
               none_ok=False) -> list:
    """A real hyperparameter: NaN, ±∞ (``ValueError``), a str and ``None`` (``TypeError``;
    not ``None`` with ``none_ok``), and the out-of-range values ``below``/``above`` given
    (``ValueError``)."""
    rows = []
    for bad in (np.nan, np.inf, -np.inf, *(v for v in (below, above) if v is not None)):
        rows.append(Case(f"{name}: {arg} = {bad!r}", _bind(call_with, bad, fresh), ValueError,
                         (arg, repr(bad))))
    for bad in ("0.1",) if none_ok else ("0.1", None):
        rows.append(Case(f"{name}: {arg} = {bad!r} (not a number)", _bind(call_with, bad, fresh),
                         TypeError, (arg, repr(bad))))
    return rows


def pair_cases(name: str, arg: str, call_with, *, minimum: int = 1, fresh=None) -> list:
    """An int or a pair of ints such as ``stride``: below ``minimum`` alone or in a pair
    (``ValueError``), a float, a triple, NaN (``TypeError``); each message names ``arg``."""
    rows = [Case(f"{name}: {arg} = {bad!r} (below {minimum})", _bind(call_with, bad, fresh),
                 ValueError, (arg, str(minimum)))
            for bad in (minimum - 1, (minimum, minimum - 1))]
    rows += [Case(f"{name}: {arg} = {bad!r} (not an int or a pair of ints)",
                  _bind(call_with, bad, fresh), TypeError, (arg, repr(bad)))
             for bad in (1.5, (1, 1, 1), np.nan)]
    return rows


def raises(name: str, what: str, call, exc, *words) -> Case:
    """One hand-written row: ``Case("<name>: <what>", call, exc, words)``."""
    return Case(f"{name}: {what}", call, exc, tuple(words))


def returns(name: str, what: str, call, check) -> Result:
    """One hand-written row: ``Result("<name>: <what>", call, check)``."""
    return Result(f"{name}: {what}", call, check)
