"""The bad-input table, generated from the API itself (issue 15).

Every ``cases_*.py`` module in this folder exports ``CASES: dict[str, list[Case | Result]]``
(format in ``framework.py``); a new module is picked up by its name. The tests:

- every row behaves as its table says (the exception type and the words of its message, or a
  result that passes its check);
- every public name of ``cnn_core`` and every public method of its classes has at least one row,
  so nothing new can slip through without a bad-input row;
- no call changes an array it can reach (its inputs), and a call that fails leaves every layer
  and optimiser it can reach exactly as it was (parameters, gradients, caches, optimiser state,
  and the identity of the arrays an optimiser holds).
"""

from __future__ import annotations

import copy
import importlib.util
import sys
import inspect
import types
from pathlib import Path

import numpy as np
import pytest

import cnn_core as cc

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))             # the tables import their helpers as ``framework``


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"bad_input_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = {path.stem: _load(path) for path in sorted(HERE.glob("cases_*.py"))}
TABLE: dict[str, list] = {}
for _module in MODULES.values():
    for _name, _rows in _module.CASES.items():
        TABLE.setdefault(_name, []).extend(_rows)
ROWS = [row for rows in TABLE.values() for row in rows]
XFAIL = {label: reason for module in MODULES.values()
         for label, reason in getattr(module, "XFAIL", {}).items()}

#: Public methods without arguments, which no input can make bad: they only read the object.
NO_INPUT = {"parameters", "num_parameters", "penalty_value", "max_error", "alpha"}
#: Methods that change an object's state without arguments: they need rows all the same.
STATEFUL = {"step", "zero_grad"}


def public_names() -> list[str]:
    """``cnn_core.__all__`` (or, without one, every public non-module name the package
    exports), the functions of ``cnn_core.data``, and ``Class.method`` for every public method
    of every class among them."""
    names = list(getattr(cc, "__all__", None) or
                 [n for n in vars(cc) if not n.startswith("_")
                  and not isinstance(getattr(cc, n), types.ModuleType) and n != "annotations"])
    names += [f"data.{n}" for n in cc.data.__all__ if inspect.isfunction(getattr(cc.data, n))]
    for name in list(names):
        obj = getattr(cc, name, None)
        if not inspect.isclass(obj):
            continue
        for attr in sorted(set(dir(obj)) - set(dir(object)) | {"__call__"}):
            method = inspect.getattr_static(obj, attr, None)
            if attr.startswith("_") and attr != "__call__" or not inspect.isfunction(method):
                continue
            takes_input = len(inspect.signature(method).parameters) > 1
            if attr not in NO_INPUT and (takes_input or attr in STATEFUL):
                names.append(f"{name}.{attr}")
    return names


def test_every_public_name_has_a_row():
    missing = [n for n in public_names() if not TABLE.get(n)]
    assert not missing, "public names without a bad-input row: " + ", ".join(missing)


def test_every_row_is_for_a_public_name_and_labelled_by_it():
    names = set(public_names())
    unknown = sorted(set(TABLE) - names)
    assert not unknown, f"rows for names that are not public: {unknown}"
    for name, rows in TABLE.items():
        for row in rows:
            assert row.label.startswith(f"{name}: "), f"{row.label!r} is filed under {name!r}"
    labels = [row.label for row in ROWS]
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    assert not duplicated, f"labels used twice: {duplicated}"


def test_table_size(capsys):
    """Print the size of the table (read with ``pytest -s``)."""
    errors = sum(type(row).__name__ == "Case" for row in ROWS)
    with capsys.disabled():
        print(f"\nbad-input table: {len(TABLE)} public names x {len(ROWS)} rows "
              f"({errors} errors, {len(ROWS) - errors} results; {len(XFAIL)} strict xfails)")
    assert len(ROWS) >= len(TABLE)


# ---------------------------------------------------------------------------- what a call reaches

def _reachable(call, depth: int = 3):
    """The input arrays and the stateful objects (anything with ``params`` and ``grads``, or an
    optimiser's ``pairs``) that ``call`` can see: its closure, defaults, bound object and the
    globals it names, following functions and containers ``depth`` levels down. The arrays
    inside a stateful object are its state, not inputs: a successful call may change them."""
    arrays, objects, seen = [], [], set()

    def visit(value, level):
        if id(value) in seen or level < 0 or isinstance(value, (types.ModuleType, type)):
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            arrays.append(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                visit(v, level - 1)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v, level - 1)
        elif isinstance(value, (types.FunctionType, types.MethodType)):
            if isinstance(value, types.MethodType):
                visit(value.__self__, level - 1)
                value = value.__func__
            for cell in value.__closure__ or ():
                try:
                    visit(cell.cell_contents, level - 1)
                except ValueError:       # an empty cell
                    pass
            for v in value.__defaults__ or ():
                visit(v, level - 1)
            for n in value.__code__.co_names:
                if n in value.__globals__:
                    visit(value.__globals__[n], level - 1)
        elif hasattr(value, "params") and hasattr(value, "grads") or hasattr(value, "pairs"):
            objects.append(value)           # its arrays are its state, compared as a whole

    visit(call, depth)
    return arrays, objects


def _equal(a, b, where="") -> str | None:
    """None when ``a`` and ``b`` hold the same values, else where they differ."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{where}: an array became {type(b).__name__}"
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{where}: {a.dtype} {a.shape} became {b.dtype} {b.shape}"
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        return None if same else f"{where}: values changed"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(a)} became {sorted(b)}"
        return next((d for k in a if (d := _equal(a[k], b[k], f"{where}[{k!r}]"))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: length {len(a)} became {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b))
                     if (d := _equal(x, y, f"{where}[{i}]"))), None)
    if hasattr(a, "__dict__") and type(a) is type(b) and not callable(a):
        return _equal(vars(a), vars(b), f"{where}.")
    if callable(a) or callable(b):
        return None                     # a function held by a layer (e.g. a penalty)
    try:
        return None if a == b or (a != a and b != b) else f"{where}: {a!r} became {b!r}"
    except Exception:                                   # noqa: BLE001 - incomparable values
        return None


def _array_ids(obj) -> list[int]:
    """The identity of every parameter and gradient array (and an optimiser's arrays)."""
    dicts = (getattr(obj, "params", {}), getattr(obj, "grads", {}))
    ids = [id(a) for d in dicts for a in d.values()]
    return ids + [id(a) for pair in getattr(obj, "pairs", []) for a in pair]


def _run(row):
    arrays, objects = _reachable(row.call)
    before = [a.copy() for a in arrays]
    states = [copy.deepcopy(vars(o)) for o in objects]
    ids = [_array_ids(o) for o in objects]
    failed = False
    try:
        if type(row).__name__ == "Case":
            with pytest.raises(row.exc) as info:
                row.call()
            failed = True
            message = str(info.value).lower()
            missing = [w for w in row.words if w.lower() not in message]
            assert not missing, f"the message lacks {missing}: {info.value}"
        else:
            row.check(row.call())
    finally:
        for old, new in zip(before, arrays):
            diff = _equal(old, new, "an input array")
            assert diff is None, f"the call changed its input: {diff}"
        if failed:
            for obj, old, old_ids in zip(objects, states, ids):
                diff = _equal(old, vars(obj), type(obj).__name__)
                assert diff is None, f"the failed call changed the object's state: {diff}"
                assert _array_ids(obj) == old_ids, \
                    f"the failed call replaced arrays of {type(obj).__name__}"


def _param(row):
    if row.label in XFAIL:
        return pytest.param(row, id=row.label,
                            marks=pytest.mark.xfail(strict=True, reason=XFAIL[row.label]))
    return pytest.param(row, id=row.label)


def test_every_xfail_names_a_row():
    labels = {row.label for row in ROWS}
    assert not set(XFAIL) - labels, f"XFAIL labels without a row: {sorted(set(XFAIL) - labels)}"


@pytest.mark.parametrize("row", [_param(row) for row in ROWS])
def test_bad_input(row):
    _run(row)
