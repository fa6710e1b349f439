"""Per-chapter numbers for the book, and the parsing and rule functions behind them.

Usage:
    .venv/bin/python tools/book_stats.py                # the table
    .venv/bin/python tools/book_stats.py --violations   # the table, then every rule violation

This module is the single source of truth for reading the book: ``tests/test_book_structure.py``
imports the same parsing and rule functions, so the numbers in the table and the verdicts of
``make test`` cannot disagree. Everything here is pure file parsing (nbformat, regular expressions
and Python's ``ast``): no notebook is executed.

A *rule function* takes a :class:`Chapter` and the :class:`Book` around it and returns a list of
:class:`Violation` (empty when the chapter follows the rule). Every violation names the notebook,
the cell index (0-based, as nbformat and Jupyter's "cell number minus one" count them), the rule
and exactly what is wrong.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"
GLOSSARY = ROOT / "book" / "glossary.md"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"

MIN_EXERCISES = 3
MIN_ALT_CHARS = 25
MIN_ALT_WORDS = 4
# Calls that count as the assertion of an equation's check: np.testing.assert_*, cc.assert_close,
# GradientReport.assert_ok, unittest-style assert*, and cc.check_implementation.
ASSERT_CALL = re.compile(r"^(assert\w*|check_implementation)$")
# Calls that make an exercise (or a chapter) "implement and check".
CHECKER_CALLS = ("check_implementation", "assert_close")
ALLOWED_ERROR_TAG = "raises-exception"
SOLUTION_CODE_TAGS = ("hide-input", "hide-cell")

MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{4,}")
WARNING_TEXT = re.compile(r"warning", re.IGNORECASE)
FILE_NAME_LIKE = re.compile(r"^\S*\.(png|jpe?g|gif|svg|pdf|webp)$|_images/|^[0-9a-fA-F]{12,}$",
                            re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Table of contents
# ---------------------------------------------------------------------------------------------

def _toc_files(node) -> list[str]:
    """Every ``file:`` entry of a _toc.yml structure, in reading order."""
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found.extend(_toc_files(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_toc_files(child))
    return found


def toc_pages(toc: Path = TOC) -> list[Path]:
    """All pages of the book (root first), resolved to existing files (.ipynb, .md or .rst)."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    entries = ([data["root"]] if data.get("root") else []) + _toc_files(data)
    pages = []
    for entry in entries:
        base = toc.parent / entry
        suffixes = (".ipynb", ".md", ".rst")
        candidates = [base] if base.suffix else [base.with_suffix(s) for s in suffixes]
        existing = [c for c in candidates if c.exists()]
        if not existing:
            raise FileNotFoundError(f"{toc.name}: entry {entry!r} matches no .ipynb, .md or .rst "
                                    "file")
        pages.append(existing[0])
    return pages


def chapter_paths(toc: Path = TOC) -> list[Path]:
    """The notebooks listed in the table of contents: the chapters the notebook rules apply to."""
    return [p for p in toc_pages(toc) if p.suffix == ".ipynb"]


# ---------------------------------------------------------------------------------------------
# Markdown parsing
# ---------------------------------------------------------------------------------------------

FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*)$")
# Directives whose body is code, not MyST markdown: their content is ignored like a code block.
CODE_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode", "literalinclude", "raw"}


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (same character, at least as long)."""
    return re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", line) is not None


def strip_code_blocks(text: str) -> str:
    """``text`` with the contents of fenced code blocks blanked out (lines kept, so offsets and
    line numbers survive). Directive fences such as ```{exercise} are kept: their bodies are
    markdown and hold math, roles and nested directives."""
    lines = text.split("\n")
    out = []
    open_directives = []                              # fences of the directives we are inside
    i = 0
    while i < len(lines):
        line = lines[i]
        if open_directives and _closes(line, open_directives[-1]):
            open_directives.pop()
            out.append(line)
            i += 1
            continue
        m = FENCE_OPEN.match(line)
        if m:
            fence = m.group("fence")
            d = DIRECTIVE_INFO.match(m.group("info").strip())
            if d and d.group("name") not in CODE_DIRECTIVES:
                open_directives.append(fence)
            elif fence[0] != ":":                     # a code block: blank it up to its fence
                out.append(line)
                i += 1
                while i < len(lines) and not _closes(lines[i], fence):
                    out.append("")
                    i += 1
                if i < len(lines):
                    out.append(lines[i])
                    i += 1
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


@dataclass
class Directive:
    """A MyST directive: ```{name} argument, then :option: lines, then the body."""
    name: str
    argument: str
    options: dict
    body: str
    cell: int
    start: int          # offset of the opening fence in the cell's source


def find_directives(text: str, cell: int = -1) -> list[Directive]:
    """All directives in a markdown text, nested ones included, in order of their opening fence."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    found = []
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        d = DIRECTIVE_INFO.match(m.group("info").strip()) if m else None
        if not d:
            i += 1
            continue
        fence = m.group("fence")
        j = i + 1
        options = {}
        if j < len(lines) and lines[j].strip() == "---":          # YAML option block
            k = j + 1
            while k < len(lines) and lines[k].strip() != "---":
                k += 1
            try:
                options = yaml.safe_load("\n".join(lines[j + 1:k])) or {}
            except yaml.YAMLError:
                options = {}
            j = k + 1
        else:
            while j < len(lines):
                opt = re.match(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", lines[j])
                if not opt:
                    break
                options[opt.group(1)] = opt.group(2).strip()
                j += 1
        body_start = j
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        body = "\n".join(lines[body_start:j])
        found.append(Directive(d.group("name"), d.group("arg").strip(), options, body, cell,
                               offsets[i]))
        found.extend(Directive(n.name, n.argument, n.options, n.body, cell,
                               offsets[body_start] + n.start)
                     for n in find_directives(body, cell))
        i = j + 1
    return found


@dataclass
class Equation:
    """A displayed equation. ``label`` is None for an unnumbered display."""
    label: str | None
    cell: int
    start: int          # offset in the cell's (code-stripped) source, for ordering within a cell
    kind: str           # "dollar" ($$ … $$ (label)), "math" ({math} directive) or "amsmath"


DOLLAR_DISPLAY = re.compile(r"\$\$(?P<math>.+?)\$\$(?:[ \t]*\((?P<label>[^()\s]+)\))?", re.DOTALL)
AMSMATH_ENV = re.compile(
    r"^[ \t]*\\begin\{(?P<env>equation|align|alignat|gather|multline|eqnarray|flalign)"
    r"(?P<star>\*?)\}"
    r"(?P<body>.*?)\\end\{(?P=env)(?P=star)\}", re.DOTALL | re.MULTILINE)


def find_equations(text: str, cell: int = -1) -> list[Equation]:
    """Displayed equations of a markdown text: MyST dollar-math displays, ``{math}`` directives
    and top-level amsmath environments. Code blocks and inline code are ignored."""
    text = strip_code_blocks(text)
    # blank inline code (`$$` in backticks is not math), keeping offsets
    text = re.sub(r"(?<!`)`[^`\n]+`(?!`)", lambda m: " " * len(m.group(0)), text)
    found = []
    spans = []
    for m in DOLLAR_DISPLAY.finditer(text):
        found.append(Equation(m.group("label"), cell, m.start(), "dollar"))
        spans.append(m.span())
    for d in find_directives(text, cell):
        if d.name == "math":
            found.append(Equation(d.options.get("label") or None, cell, d.start, "math"))
            spans.append((d.start, d.start + len(d.body) + 10))
    for m in AMSMATH_ENV.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue                                  # an environment inside $$ … $$ or {math}
        label = re.search(r"\\label\{([^}]+)\}", m.group("body"))
        found.append(Equation(label.group(1) if label else None, cell,
                              m.start(), "amsmath"))
    return sorted(found, key=lambda e: e.start)


def find_role_targets(text: str, role: str) -> list[str]:
    """Targets of ``{role}`text <target>``` or ``{role}`target```, whitespace normalised."""
    targets = []
    for m in re.finditer(r"\{" + re.escape(role) + r"(?::[\w-]+)?\}`([^`]+)`", text):
        content = " ".join(m.group(1).split())
        explicit = re.match(r"^(.*?)\s*<([^<>]+)>$", content)
        targets.append(explicit.group(2).strip() if explicit else content)
    return targets


def find_citations(text: str) -> list[str]:
    """Keys of ``{cite}`a,b``` and its ``{cite:p}``/``{cite:t}`` … variants."""
    keys = []
    for m in re.finditer(r"\{cite(?::[\w-]+)?\}`([^`]+)`", text):
        keys.extend(k.strip() for k in m.group(1).split(",") if k.strip())
    return keys


def find_headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every ATX heading outside code blocks."""
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", strip_code_blocks(text), re.M)]


def read_glossary_terms(path: Path = GLOSSARY) -> set[str]:
    """Lower-cased terms of every ``{glossary}`` directive in a page (Sphinx matches terms
    case-insensitively). Term lines are unindented; definitions are indented under them."""
    terms = set()
    for d in find_directives(path.read_text(encoding="utf-8")):
        if d.name != "glossary":
            continue
        for line in d.body.split("\n"):
            if line.strip() and not line[0].isspace() and not re.match(r"^:[\w-]+:", line):
                term = line.split(" : ")[0]           # "term : classifier"
                terms.add(" ".join(term.split()).lower())
    return terms


def read_bib_keys(path: Path = BIBLIOGRAPHY) -> set[str]:
    return set(re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", path.read_text(encoding="utf-8"), re.M))


# ---------------------------------------------------------------------------------------------
# Code parsing
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The book and its chapters
# ---------------------------------------------------------------------------------------------

@dataclass
class Violation:
    rule: str
    notebook: str
    cell: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.notebook} cell {self.cell}" if self.cell is not None else self.notebook
        return f"{where}: [{self.rule}] {self.message}"


@dataclass
class Figure:
    cell: int
    n_images: int
    alt: str
    caption: str
    name: str


@dataclass
class Exercise:
    label: str | None
    cell: int
    text: str           # the exercise's body


class Chapter:
    """One chapter notebook, with everything the rules and the table need, parsed once."""

    def __init__(self, nb, name: str, size: int = 0):
        self.nb = nb
        self.name = name
        self.size = size

    @classmethod
    def read(cls, path: Path) -> "Chapter":
        return cls(nbformat.read(path, as_version=4), path.name, path.stat().st_size)

    @property
    def cells(self):
        return self.nb.cells

    def code_cells(self):
        return [(i, c) for i, c in enumerate(self.cells) if c.cell_type == "code"]

    def markdown_cells(self):
        return [(i, c.source) for i, c in enumerate(self.cells) if c.cell_type == "markdown"]

    @cached_property
    def markdown(self) -> str:
        return "\n\n".join(strip_code_blocks(s) for _, s in self.markdown_cells())

    @cached_property
    def equations(self) -> list[Equation]:
        return [e for i, s in self.markdown_cells() for e in find_equations(s, i)]

    @cached_property
    def labelled_equations(self) -> list[Equation]:
        return [e for e in self.equations if e.label]

    @cached_property
    def directives(self) -> list[Directive]:
        return [d for i, s in self.markdown_cells()
                for d in find_directives(strip_code_blocks(s), i)]

    @cached_property
    def exercises(self) -> list[Exercise]:
        return [Exercise(d.options.get("label") or None, d.cell, d.body)
                for d in self.directives if d.name == "exercise"]

    @cached_property
    def solutions(self) -> list[Directive]:
        return [d for d in self.directives if d.name == "solution"]

    @cached_property
    def figures(self) -> list[Figure]:
        figures = []
        for i, cell in self.code_cells():
            n_images = sum(1 for o in cell.get("outputs", [])
                           if any(k.startswith("image/") for k in o.get("data", {})))
            if not n_images:
                continue
            mystnb = cell.metadata.get("mystnb", {}) or {}
            image, figure = mystnb.get("image", {}) or {}, mystnb.get("figure", {}) or {}
            figures.append(Figure(i, n_images, str(image.get("alt", "") or ""),
                                  str(figure.get("caption", "") or ""),
                                  str(figure.get("name", "") or "")))
        return figures

    @cached_property
    def named_cells_without_image(self) -> dict:
        """Figure names set in the metadata of code cells that have no image output."""
        with_image = {f.cell for f in self.figures}
        return {name: i for i, c in self.code_cells() if i not in with_image
                if (name := ((c.metadata.get("mystnb") or {}).get("figure") or {}).get("name"))}

    @cached_property
    def terms(self) -> list[str]:
        return find_role_targets(self.markdown, "term")

    @cached_property
    def citations(self) -> list[str]:
        return find_citations(self.markdown)

    def solution_code(self, solution: Directive) -> list[tuple[int, str]]:
        """Code cells right after the solution's markdown cell, up to the next markdown cell."""
        found = []
        for i in range(solution.cell + 1, len(self.cells)):
            if self.cells[i].cell_type != "code":
                break
            found.append((i, self.cells[i].source))
        return found

    def is_implement_and_check(self, exercise: Exercise) -> bool:
        """The exercise (its text, its solution's text or its solution's code) uses a checker
        from cnn_core that says what is wrong: check_implementation or assert_close."""
        texts = [exercise.text]
        for sol in self.solutions:
            if exercise.label and sol.argument == exercise.label:
                texts.append(sol.body)
                texts.extend(src for _, src in self.solution_code(sol))
        return any(name in text for text in texts for name in CHECKER_CALLS)

    @cached_property
    def asserting_helpers(self) -> set[str]:
        return asserting_helpers(c.source for _, c in self.code_cells())

    @cached_property
    def checked_equations(self) -> list[Equation]:
        """Labelled equations followed by their check (see :func:`rule_equation_checks`)."""
        return [eq for eq in self.labelled_equations if equation_check_problem(self, eq) is None]


@dataclass
class Book:
    """What a chapter is checked against: the glossary, the bibliography and, for uniqueness and
    cross-references, the labels and figure names of every page."""
    glossary_terms: set = field(default_factory=set)
    bib_keys: set = field(default_factory=set)
    equation_labels: dict = field(default_factory=dict)     # label -> [(page, cell), ...]
    figure_names: dict = field(default_factory=dict)        # name -> [(page, cell), ...]
    other_targets: set = field(default_factory=set)         # (label)= targets, :name: options
    imageless_figures: dict = field(default_factory=dict)   # name -> (page, cell): no image output

    @classmethod
    def load(cls, toc: Path = TOC, chapters: dict | None = None) -> "Book":
        book = cls(read_glossary_terms(), read_bib_keys())
        for page in toc_pages(toc):
            if page.suffix == ".ipynb":
                chapter = (chapters or {}).get(page) or Chapter.read(page)
                book.add_chapter(chapter)
            else:
                text = page.read_text(encoding="utf-8")
                for eq in find_equations(text):
                    if eq.label:
                        book.equation_labels.setdefault(eq.label, []).append((page.name, None))
                book._add_targets(text)
        return book

    def _add_targets(self, text: str) -> None:
        self.other_targets.update(re.findall(r"^\(([^()\s]+)\)=\s*$", text, re.M))
        self.other_targets.update(d.options["name"] for d in find_directives(text)
                                  if "name" in d.options)

    def add_chapter(self, chapter: Chapter) -> None:
        for eq in chapter.labelled_equations:
            self.equation_labels.setdefault(eq.label, []).append((chapter.name, eq.cell))
        for fig in chapter.figures:
            if fig.name:
                self.figure_names.setdefault(fig.name, []).append((chapter.name, fig.cell))
        for name, cell in chapter.named_cells_without_image.items():
            self.imageless_figures[name] = (chapter.name, cell)
        for _, source in chapter.markdown_cells():
            self._add_targets(source)


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------

def rule_executed(ch: Chapter, book: Book) -> list[Violation]:
    """Every non-empty code cell executed, top to bottom in one run; no error outputs except in
    cells tagged raises-exception."""
    out = []
    expected = 1
    for i, cell in ch.code_cells():
        if not cell.source.strip():
            continue
        count = cell.get("execution_count")
        if count is None:
            out.append(Violation("executed", ch.name, i, "code cell was never executed "
                                 "(execution_count is None): run `make execute` on the notebook"))
        elif count != expected:
            out.append(Violation("executed", ch.name, i, f"execution_count is {count}, expected "
                                 f"{expected}: the notebook was not executed top to bottom in one "
                                 "run (stale or re-run cells); run `make execute` on it"))
        expected += 1
        if ALLOWED_ERROR_TAG in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                out.append(Violation("executed", ch.name, i, f"output is an error "
                                     f"({output.get('ename')}: {output.get('evalue', '')[:80]!r}) "
                                     f"in a cell not tagged {ALLOWED_ERROR_TAG}"))
    return out


def equation_check_problem(ch: Chapter, eq: Equation) -> str | None:
    """Why ``eq`` is not directly followed by a checking cell, or None if it is.

    The rule: the first code cell after the equation's markdown cell contains an assertion
    (``assert``, ``np.testing.assert_*``, ``cc.assert_close``, ``….assert_ok``,
    ``cc.check_implementation``), and no other labelled equation is displayed between the
    equation and that cell (later in the same markdown cell or in a markdown cell in between):
    every formula gets its own check before the next formula appears. Prose in between is fine.
    """
    later_same_cell = [e for e in ch.labelled_equations if e.cell == eq.cell and e.start > eq.start]
    if later_same_cell:
        return (f"is followed by eq. {later_same_cell[0].label} in the same markdown cell before "
                "any check: give each equation its own checking cell (split the markdown cell)")
    for j in range(eq.cell + 1, len(ch.cells)):
        cell = ch.cells[j]
        if cell.cell_type == "markdown":
            between = [e for e in ch.labelled_equations if e.cell == j]
            if between:
                return (f"is followed by eq. {between[0].label} (cell {j}) before any code cell: "
                        "put a checking cell right after it")
        elif cell.cell_type == "code":
            if has_assertion(cell.source, ch.asserting_helpers):
                return None
            return (f"the first code cell after it (cell {j}) asserts nothing (no assert, "
                    "np.testing.assert_*, cc.assert_close, .assert_ok, cc.check_implementation, "
                    "nor a helper of this notebook that asserts): the cell right after a formula "
                    "must evaluate both sides and assert they agree")
    return "no code cell follows it: add a cell that evaluates both sides and asserts"


def rule_equation_checks(ch: Chapter, book: Book) -> list[Violation]:
    """Every displayed equation is numbered (labelled) and directly followed by its check."""
    out = []
    for eq in ch.equations:
        if not eq.label:
            what = {"dollar": "$$ … $$ display", "math": "{math} directive",
                    "amsmath": "amsmath environment"}[eq.kind]
            out.append(Violation("equation-check", ch.name, eq.cell,
                                 f"unnumbered {what}: every displayed equation needs a label, "
                                 "e.g. `$$ … $$ (eq-topic-name)`"))
            continue
        problem = equation_check_problem(ch, eq)
        if problem:
            out.append(Violation("equation-check", ch.name, eq.cell, f"eq. {eq.label} {problem}"))
    return out


def rule_equation_labels(ch: Chapter, book: Book) -> list[Violation]:
    """Equation labels unique across the book; every {eq} reference resolves."""
    out = []
    seen = {}
    for eq in ch.labelled_equations:
        if eq.label in seen:
            out.append(Violation("equation-labels", ch.name, eq.cell, f"label {eq.label} is "
                                 f"defined twice in this chapter (also cell {seen[eq.label]})"))
        seen[eq.label] = eq.cell
        elsewhere = [(p, c) for p, c in book.equation_labels.get(eq.label, []) if p != ch.name]
        if elsewhere:
            places = ", ".join(f"{p} cell {c}" if c is not None else p for p, c in elsewhere)
            out.append(Violation("equation-labels", ch.name, eq.cell, f"label {eq.label} is also "
                                 f"defined in {places}: labels must be unique across the book"))
    own = {eq.label for eq in ch.labelled_equations}
    for i, source in ch.markdown_cells():
        for target in find_role_targets(strip_code_blocks(source), "eq"):
            if target not in own and target not in book.equation_labels:
                out.append(Violation("equation-labels", ch.name, i,
                                     f"{{eq}}`{target}` refers to no equation label in the book"))
    return out


def rule_figures(ch: Chapter, book: Book) -> list[Violation]:
    """Every image output has alt text (>= 25 characters, words, not a file name), a caption and
    a name unique across the book; one figure per cell; {numref} targets exist."""
    out = []
    for fig in ch.figures:
        v = lambda msg, f=fig: out.append(Violation("figures", ch.name, f.cell, msg))  # noqa: E731
        label = f"figure {fig.name}" if fig.name else "figure"
        alt = " ".join(fig.alt.split())
        if not alt:
            v(f"{label}: no alt text (cell metadata mystnb.image.alt): say what the figure shows")
        elif len(alt) < MIN_ALT_CHARS:
            v(f"{label}: alt text {alt!r} has {len(alt)} characters, fewer than {MIN_ALT_CHARS}")
        elif FILE_NAME_LIKE.search(alt):
            v(f"{label}: alt text {alt!r} looks like a file name or hash, not a description")
        elif len(alt.split()) < MIN_ALT_WORDS:
            v(f"{label}: alt text {alt!r} has fewer than {MIN_ALT_WORDS} words: describe the "
              "figure")
        if not fig.caption.strip():
            v(f"{label}: no caption (cell metadata mystnb.figure.caption)")
        if not fig.name:
            v("figure has no name (cell metadata mystnb.figure.name, e.g. 'fig-topic-what'): "
              "it cannot be referenced with {numref}")
        if fig.n_images > 1:
            v(f"{label}: the cell outputs {fig.n_images} images; one figure per cell (they would "
              "share one alt text and caption)")
        others = [(p, c) for p, c in book.figure_names.get(fig.name, [])
                  if (p, c) != (ch.name, fig.cell)]
        if fig.name and others:
            places = ", ".join(f"{p} cell {c}" for p, c in others)
            v(f"figure name {fig.name} is also used in {places}: names must be unique in the book")
    targets = set(book.figure_names) | book.other_targets | {f.name for f in ch.figures if f.name}
    for i, source in ch.markdown_cells():
        for target in find_role_targets(strip_code_blocks(source), "numref"):
            if target in targets:
                continue
            imageless = book.imageless_figures.get(target)
            if target in ch.named_cells_without_image:
                imageless = (ch.name, ch.named_cells_without_image[target])
            if imageless:
                msg = (f"{{numref}}`{target}`: the cell that names this figure ({imageless[0]} "
                       f"cell {imageless[1]}) has no image output (not executed?)")
            else:
                msg = f"{{numref}}`{target}` refers to no figure name in the book"
            out.append(Violation("figures", ch.name, i, msg))
    return out


def rule_exercises(ch: Chapter, book: Book) -> list[Violation]:
    """>= 3 labelled exercises, a dropdown solution for each, no gated solutions, an
    implement-and-check exercise, and code solutions folded away."""
    out = []
    v = lambda cell, msg: out.append(Violation("exercises", ch.name, cell, msg))  # noqa: E731
    if len(ch.exercises) < MIN_EXERCISES:
        v(None, f"{len(ch.exercises)} {{exercise}} directives, at least {MIN_EXERCISES} required")
    labels = {}
    for ex in ch.exercises:
        if not ex.label:
            v(ex.cell, "{exercise} without :label: (its {solution} cannot refer to it)")
        elif ex.label in labels:
            v(ex.cell, f"exercise label {ex.label} used twice (also cell {labels[ex.label]})")
        else:
            labels[ex.label] = ex.cell
    solved = {}
    for sol in ch.solutions:
        if sol.argument not in labels:
            v(sol.cell, f"{{solution}} {sol.argument!r} refers to no exercise label of this "
              "chapter")
        solved.setdefault(sol.argument, []).append(sol.cell)
        if "dropdown" not in str(sol.options.get("class", "")).split():
            v(sol.cell, f"{{solution}} {sol.argument} lacks `:class: dropdown`")
        for i, cell_source in ch.solution_code(sol):
            tags = ch.cells[i].metadata.get("tags", [])
            if not any(t in tags for t in SOLUTION_CODE_TAGS):
                v(i, f"code cell after {{solution}} {sol.argument} is not tagged hide-input: the "
                  "solution code would be shown unfolded")
    for label, cell in labels.items():
        if label not in solved:
            v(cell, f"exercise {label} has no {{solution}} {label}")
        elif len(solved[label]) > 1:
            v(cell, f"exercise {label} has {len(solved[label])} solutions (cells {solved[label]})")
    for d in ch.directives:
        if re.match(r"^(solution|exercise)-(start|end)$", d.name):
            v(d.cell, f"gated directive {{{d.name}}}: write the solution as a plain {{solution}} "
              "with a hide-input code cell after it")
    if not any(any(n in CHECKER_CALLS for n in called_names(c.source)) for _, c in ch.code_cells()):
        v(None, "no code cell calls cc.check_implementation or cc.assert_close: the "
          "implement-and-check exercise is missing")
    if ch.exercises and not any(ch.is_implement_and_check(ex) for ex in ch.exercises):
        v(None, "no exercise (text, solution or solution code) uses cc.check_implementation or "
          "cc.assert_close: at least one must ask the reader to implement and check")
    return out


def rule_structure(ch: Chapter, book: Book) -> list[Violation]:
    """One # title in the first cell; ## Summary and ## Exercises; >= 1 {cite} and {term}; every
    term in the glossary and every citation key in the bibliography."""
    out = []
    v = lambda cell, msg: out.append(Violation("structure", ch.name, cell, msg))  # noqa: E731
    headings = [(i, level, title) for i, s in ch.markdown_cells()
                for level, title in find_headings(s)]
    titles = [(i, t) for i, level, t in headings if level == 1]
    if not ch.cells or ch.cells[0].cell_type != "markdown" or not titles or titles[0][0] != 0:
        v(0, "the first cell must be markdown starting with the chapter's `# Title`")
    for i, t in titles[1:]:
        v(i, f"second level-1 heading `# {t}`: a chapter has one title (use ##)")
    for wanted in ("Summary", "Exercises"):
        if not any(level == 2 and t == wanted for _, level, t in headings):
            v(None, f"no `## {wanted}` heading")
    if not ch.citations:
        v(None, "no {cite} in the chapter")
    if not ch.terms:
        v(None, "no {term} in the chapter")
    for i, source in ch.markdown_cells():
        text = strip_code_blocks(source)
        for target in find_role_targets(text, "term"):
            if " ".join(target.split()).lower() not in book.glossary_terms:
                v(i, f"{{term}} target {target!r} is not a term of book/glossary.md")
        for key in find_citations(text):
            if key not in book.bib_keys:
                v(i, f"{{cite}} key {key!r} is not in book/references.bib")
    return out


def _output_texts(output) -> list[str]:
    if output.output_type == "stream":
        return [output.get("text", "")]
    if output.output_type == "error":
        return ["\n".join(output.get("traceback", [])), output.get("evalue", "")]
    return [v if isinstance(v, str) else "\n".join(v) for k, v in output.get("data", {}).items()
            if k.startswith("text/")]


def rule_clean_outputs(ch: Chapter, book: Book) -> list[Violation]:
    """kernelspec python3; no memory addresses in outputs; no warnings on stderr."""
    out = []
    kernel = (ch.nb.metadata.get("kernelspec") or {}).get("name")
    if kernel != "python3":
        out.append(Violation("clean-outputs", ch.name, None,
                             f"kernelspec name is {kernel!r}, expected 'python3'"))
    for i, cell in ch.code_cells():
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                m = MEMORY_ADDRESS.search(text)
                if m:
                    line = next(ln for ln in text.split("\n") if m.group(0) in ln)
                    out.append(Violation("clean-outputs", ch.name, i, f"output shows a memory "
                                         f"address: {line.strip()[:100]!r} (machine-dependent; "
                                         "print something meaningful instead)"))
            if output.output_type == "stream" and output.get("name") == "stderr":
                text = output.get("text", "")
                if WARNING_TEXT.search(text):
                    first = next(ln for ln in text.split("\n") if WARNING_TEXT.search(ln))
                    out.append(Violation("clean-outputs", ch.name, i, f"a warning leaks into the "
                                         f"book on stderr: {first.strip()[:120]!r}"))
    return out


def rule_torch_optional(ch: Chapter, book: Book) -> list[Violation]:
    """torch is optional: never imported outside try/except, an `if` on its availability, or
    after importorskip."""
    out = []
    for i, cell in ch.code_cells():
        for line in unguarded_torch_imports(cell.source):
            out.append(Violation("torch-optional", ch.name, i, f"line {line} imports torch "
                                 "unguarded (torch is optional): wrap it in try/except "
                                 "ImportError"))
    return out


RULES = {
    "executed": rule_executed,
    "equation-check": rule_equation_checks,
    "equation-labels": rule_equation_labels,
    "figures": rule_figures,
    "exercises": rule_exercises,
    "structure": rule_structure,
    "clean-outputs": rule_clean_outputs,
    "torch-optional": rule_torch_optional,
}


def all_violations(ch: Chapter, book: Book) -> list[Violation]:
    return [v for rule in RULES.values() for v in rule(ch, book)]


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

COLUMNS = [
    ("chapter", "chapter"),
    ("eqs", "numbered (labelled) displayed equations"),
    ("checked", "equations directly followed by a cell that asserts"),
    ("code", "code cells"),
    ("figs", "figures (image outputs)"),
    ("ex", "exercises"),
    ("impl", "implement-and-check exercises (check_implementation / assert_close)"),
    ("terms", "distinct glossary terms used ({term})"),
    ("cites", "distinct works cited ({cite})"),
    ("KB", "stored size of the notebook, kilobytes"),
    ("issues", "rule violations (details: --violations)"),
]


def chapter_row(ch: Chapter, book: Book) -> dict:
    return {
        "chapter": ch.name.removesuffix(".ipynb"),
        "eqs": len(ch.labelled_equations),
        "checked": len(ch.checked_equations),
        "code": len(ch.code_cells()),
        "figs": len(ch.figures),
        "ex": len(ch.exercises),
        "impl": sum(ch.is_implement_and_check(ex) for ex in ch.exercises),
        "terms": len({t.lower() for t in ch.terms}),
        "cites": len(set(ch.citations)),
        "KB": round(ch.size / 1024),
        "issues": len(all_violations(ch, book)),
    }


def main(argv: list[str]) -> int:
    show = "--violations" in argv
    chapters = {}
    problems = []
    for path in chapter_paths():
        try:
            chapters[path] = Chapter.read(path)
        except Exception as exc:                      # noqa: BLE001 - e.g. a notebook mid-write
            problems.append(f"{path.name}: cannot be read ({exc})")
    book = Book.load(chapters=chapters)
    rows = [chapter_row(ch, book) for ch in chapters.values()]
    chapters_list = list(chapters.values())
    total = {k: sum(r[k] for r in rows) for k, _ in COLUMNS[1:]}
    total["chapter"] = "total"
    total["terms"] = len({t.lower() for ch in chapters_list for t in ch.terms})
    total["cites"] = len({c for ch in chapters_list for c in ch.citations})
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows + [total])) for k, _ in COLUMNS}

    def line(r):
        return "  ".join(str(r[k]).ljust(widths[k]) if k == "chapter"
                         else str(r[k]).rjust(widths[k]) for k, _ in COLUMNS)

    print(line({k: k for k, _ in COLUMNS}))
    print("  ".join("-" * widths[k] for k, _ in COLUMNS))
    for r in rows:
        print(line(r))
    print("  ".join("-" * widths[k] for k, _ in COLUMNS))
    print(line(total))
    print()
    for k, meaning in COLUMNS[1:]:
        print(f"  {k:>7}  {meaning}")
    print("  (total row: terms and cites count distinct ones across the book)")
    for p in problems:
        print(p)
    if show:
        print()
        for ch in chapters_list:
            for v in all_violations(ch, book):
                print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
