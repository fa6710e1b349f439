"""Code-cell analysis with Python's ``ast``: what a cell calls, whether it asserts, and its
torch imports."""

from __future__ import annotations

import ast
import re

# Calls that count as the assertion of an equation's check: np.testing.assert_*, cc.assert_close,
# GradientReport.assert_ok, unittest-style assert*, and cc.check_implementation.
ASSERT_CALL = re.compile(r"^(assert\w*|check_implementation)$")


def parse_code(source: str) -> ast.Module | None:
    """The cell's Python AST, IPython magics turned into calls first; None if it does not parse."""
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:                                 # noqa: BLE001 - any failure: unparsable
        return None


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def called_names(source: str) -> set[str]:
    """Names of every function or method called in a cell (``np.testing.assert_allclose`` gives
    ``assert_allclose``). Falls back to a regular expression if the cell does not parse."""
    tree = parse_code(source)
    if tree is None:
        return set(re.findall(r"(\w+)\s*\(", source))
    return {name for node in ast.walk(tree) if isinstance(node, ast.Call)
            if (name := _call_name(node))}


def _executed_nodes(tree: ast.AST):
    """The nodes of ``tree`` that run when the cell runs: function, lambda and class bodies are
    not entered (a helper that asserts counts only where it is called)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                      ast.ClassDef)):
                stack.append(child)


def _asserts(tree: ast.AST, helpers: set, nodes=None) -> bool:
    for node in (nodes if nodes is not None else _executed_nodes(tree)):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and (name := _call_name(node)):
            if ASSERT_CALL.match(name) or (isinstance(node.func, ast.Name) and name in helpers):
                return True
    return False


def asserting_helpers(sources) -> set[str]:
    """Names of functions defined in the notebook's cells that assert when called: their body
    has an ``assert``, calls an assertion, or calls another such helper (e.g. chapter 5's
    ``report(name, err)``)."""
    defs = {}
    for source in sources:
        tree = parse_code(source)
        if tree is not None:
            defs.update((node.name, node) for node in ast.walk(tree)
                        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    helpers = set()
    changed = True
    while changed:
        changed = False
        for name, node in defs.items():
            if name not in helpers and _asserts(node, helpers, ast.walk(node)):
                helpers.add(name)
                changed = True
    return helpers


def has_assertion(source: str, helpers: set = frozenset()) -> bool:
    """True if running the cell executes an ``assert`` statement, an assertion call
    (``np.testing.assert_*``, ``cc.assert_close``, ``.assert_ok``, ``check_implementation``) or
    one of the notebook's asserting ``helpers``."""
    tree = parse_code(source)
    if tree is None:
        return bool(re.search(r"^\s*assert\b", source, re.M)) or any(
            ASSERT_CALL.match(n) or n in helpers for n in re.findall(r"(\w+)\s*\(", source))
    return _asserts(tree, set(helpers))


def unguarded_torch_imports(source: str) -> list[int]:
    """Line numbers of ``import torch`` / ``from torch … import`` (or ``import_module("torch")``)
    that are not inside a ``try:`` body, an ``if`` that tests for torch, or preceded in the same
    cell by ``importorskip("torch")``."""
    tree = parse_code(source)
    if tree is None:
        return [n + 1 for n, line in enumerate(source.split("\n"))
                if re.match(r"^\s*(import\s+torch\b|from\s+torch\b)", line)]
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def imports_torch(node) -> bool:
        if isinstance(node, ast.Import):
            return any(a.name == "torch" or a.name.startswith("torch.") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            return node.level == 0 and (node.module or "").split(".")[0] == "torch"
        if isinstance(node, ast.Call) and _call_name(node) in ("import_module", "__import__"):
            return bool(node.args) and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).split(".")[0] == "torch"
        return False

    skip_lines = [node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and _call_name(node) == "importorskip"]

    def guarded(node) -> bool:
        if any(line < node.lineno for line in skip_lines):
            return True
        child, parent = node, parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Try) and child in parent.body:
                return True
            if isinstance(parent, ast.If) and child in parent.body and (
                    "torch" in ast.unparse(parent.test).lower()
                    or "find_spec" in ast.unparse(parent.test)):
                return True
            child, parent = parent, parents.get(parent)
        return False

    return sorted(node.lineno for node in ast.walk(tree)
                  if imports_torch(node) and not guarded(node))
