"""The rules. A rule function takes a :class:`Chapter` and the :class:`Book` around it and returns a
list of :class:`Violation` (empty when the chapter follows the rule). Every violation names the
notebook, the cell index (0-based) and exactly what is wrong."""

from __future__ import annotations

import ast
import re

from .chapter import ANSWER_TAG, CHECK_TAG, STUB_TAG, Book, Chapter, Equation, Violation
from .code import has_assertion, parse_code, unguarded_torch_imports
from .myst import find_citations, find_headings, find_role_targets, strip_code_blocks

MIN_EXERCISES = 4
MIN_IMPLEMENT = 2
MIN_DERIVATION = 1
CODE_WIDTH = 76
MIN_ALT_CHARS = 25
MIN_ALT_WORDS = 4
ALLOWED_ERROR_TAG = "raises-exception"

MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{4,}")
WARNING_TEXT = re.compile(r"warning", re.IGNORECASE)
FILE_NAME_LIKE = re.compile(r"^\S*\.(png|jpe?g|gif|svg|pdf|webp)$|_images/|^[0-9a-fA-F]{12,}$",
                            re.IGNORECASE)


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


def _defines(source: str, name: str) -> bool:
    """Whether a cell binds ``name`` at its top level (def, class, assignment, import)."""
    tree = parse_code(source)
    if tree is None:
        return re.search(rf"^(def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*=",
                         source, re.M) is not None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == name for a in node.names):
            return True
    return False


def rule_exercises(ch: Chapter, book: Book) -> list[Violation]:
    """>= 4 labelled exercises; >= 2 implement-and-check (an exercise-stub cell, then an
    exercise-check cell `check("label", name)` for the exercise's label, both tagged remove-cell);
    >= 1 `:class: derivation`; one `:class: dropdown` solution per exercise, plain (prose only) or
    gated (solution-start ... solution-end: every solution with code, which holds the exercise's
    solution-answer cell); no code cells after a plain solution (no hide-input solutions)."""
    out = []
    v = lambda cell, msg: out.append(Violation("exercises", ch.name, cell, msg))  # noqa: E731
    if len(ch.exercises) < MIN_EXERCISES:
        v(None, f"{len(ch.exercises)} {{exercise}} directives, at least {MIN_EXERCISES} required")
    labels = {}
    for ex in ch.exercises:
        if not ex.label:
            v(ex.cell, "{exercise} without :label: (its solution cannot refer to it)")
        elif ex.label in labels:
            v(ex.cell, f"exercise label {ex.label} used twice (also cell {labels[ex.label]})")
        else:
            labels[ex.label] = ex.cell
    for d in ch.directives:
        if d.name in ("exercise-start", "exercise-end"):
            v(d.cell, f"gated {{{d.name}}}: write the statement as one {{exercise}} directive")

    solved = {}
    for sol in ch.solutions:
        if sol.argument not in labels:
            v(sol.cell, f"{{solution}} {sol.argument!r} refers to no exercise label of this "
              "chapter")
        solved.setdefault(sol.argument, []).append(sol.cell)
        if "dropdown" not in str(sol.options.get("class", "")).split():
            v(sol.cell, f"{{solution}} {sol.argument} lacks `:class: dropdown`")
        for i, _ in ch.solution_code(sol):
            if i in ch.gated_cells or {STUB_TAG, CHECK_TAG} & set(ch.tags(i)):
                continue
            v(i, f"code cell after the plain {{solution}} {sol.argument}: a solution with code "
              "(or output) is gated, ```{solution-start} " + sol.argument + "``` ... "
              "```{solution-end}```, so that the dropdown holds the code and its outputs and "
              "the student notebook drops them (no hide-input solutions)")
    for g in ch.gated_solutions:
        if g.label not in labels:
            v(g.start, f"{{solution-start}} {g.label!r} refers to no exercise label of this "
              "chapter")
        solved.setdefault(g.label, []).append(g.start)
        if "dropdown" not in g.classes:
            v(g.start, f"{{solution-start}} {g.label} lacks `:class: dropdown`")
        if g.end is None:
            v(g.start, f"{{solution-start}} {g.label} has no matching {{solution-end}} after it")
        for i in g.cells:
            if {STUB_TAG, CHECK_TAG} & set(ch.tags(i)):
                v(i, f"exercise-stub or exercise-check cell inside the gated solution of "
                  f"{g.label}: it belongs before the solution-start")
    closed = sum(g.end is not None for g in ch.gated_solutions)
    ends = [d for d in ch.directives if d.name == "solution-end"]
    if len(ends) > closed:
        v(ends[-1].cell, f"{len(ends)} {{solution-end}} directives for {closed} closed "
          "{solution-start}")
    for label, cell in labels.items():
        if label not in solved:
            v(cell, f"exercise {label} has no solution ({{solution}} or {{solution-start}} "
              f"{label})")
        elif len(solved[label]) > 1:
            v(cell, f"exercise {label} has {len(solved[label])} solutions (cells "
              f"{solved[label]})")

    for i, _ in ch.code_cells():
        tags = ch.tags(i)
        if ANSWER_TAG in tags and i not in ch.gated_cells:
            v(i, "solution-answer cell outside a gated solution: the student notebook would "
              "keep it (put it after the exercise's solution-start)")
        if STUB_TAG in tags and not any(e.stub == i for e in ch.exercise_cells):
            v(i, "exercise-stub cell not followed directly by its exercise-check cell")
    for e in ch.exercise_cells:
        if e.label is None:
            v(e.check, "the exercise-check cell must be exactly "
              f"`check(\"ex-…\", name)`, not {ch.cells[e.check].source.strip()[:60]!r}")
        elif e.label not in labels:
            v(e.check, f"check({e.label!r}, …) refers to no exercise label of this chapter")
        if e.stub is None:
            v(e.check, "exercise-check cell without an exercise-stub cell right before it")
        elif e.name and not _defines(ch.cells[e.stub].source, e.name):
            v(e.stub, f"the stub does not define {e.name!r}, which its checker checks")
        for i in (e.stub, e.check):
            if i is not None and "remove-cell" not in ch.tags(i):
                v(i, "exercise-stub and exercise-check cells are tagged remove-cell (the site "
                  "shows the solution, the student notebook shows these)")
    answers = {}
    for g in ch.gated_solutions:
        answers[g.label] = any(ANSWER_TAG in ch.tags(i) for i in g.cells
                               if ch.cells[i].cell_type == "code")
    implemented = [ex for ex in ch.exercises if ch.is_implement_and_check(ex)]
    for ex in implemented:
        if not answers.get(ex.label):
            v(ex.cell, f"exercise {ex.label}: its gated solution has no code cell tagged "
              "solution-answer (the answer as the student would type it into the stub)")
    if len(implemented) < MIN_IMPLEMENT:
        v(None, f"{len(implemented)} implement-and-check exercises (a stub and a checker), at "
          f"least {MIN_IMPLEMENT} required")
    if sum(ex.is_derivation for ex in ch.exercises) < MIN_DERIVATION:
        v(None, "no derivation exercise (an {exercise} with `:class: derivation`: prove an "
          "identity or derive a gradient, then check its numerical consequence in code)")
    return out


def _width_texts(cell) -> list[str]:
    """The text outputs the page shows as code: streams and text/plain (not a figure's)."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.get("text", ""))
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            text = data.get("text/plain")
            if text and not any(k.startswith("image/") for k in data):
                texts.append(text if isinstance(text, str) else "".join(text))
    return texts


def rule_code_width(ch: Chapter, book: Book) -> list[Violation]:
    """No code-cell source line and no text-output line over 76 characters (the code box holds
    about 77 at a 1280-pixel window); removed cells are exempt, except exercise stubs and
    checkers (the student notebook shows them)."""
    out = []
    for i, cell in ch.code_cells():
        tags = ch.tags(i)
        if "remove-cell" in tags and not {STUB_TAG, CHECK_TAG} & set(tags):
            continue
        for what, lines in (("source", cell.source.split("\n")),
                            ("output", [ln for t in _width_texts(cell) for ln in t.split("\n")])):
            wide = [(n, line) for n, line in enumerate(lines, 1) if len(line) > CODE_WIDTH]
            if wide:
                n, line = wide[0]
                out.append(Violation("code-width", ch.name, i, f"{len(wide)} {what} line(s) over "
                                     f"{CODE_WIDTH} characters; {what} line {n} has {len(line)}: "
                                     f"{line[:60]!r}…"))
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


_INLINE_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
_BLOCK_START = re.compile(r"^\s{0,3}([-+*]|\d+[.)]|#{1,6}|>)(\s|$)")


def rule_math_lines(ch: Chapter, book: Book) -> list[Violation]:
    """No line inside an inline formula that runs over lines starts like a Markdown block (a list
    marker ``+``/``-``/``*``/``1.``, a heading ``#`` or a quote ``>``): Markdown would end the
    paragraph there and print the formula's TeX as text."""
    out = []
    for i, source in ch.markdown_cells():
        inside, display = False, False
        for n, line in enumerate(strip_code_blocks(source).split("\n"), 1):
            if line.strip() == "$$":
                display = not display
                continue
            if display:
                continue
            if inside and _BLOCK_START.match(line):
                out.append(Violation("math-lines", ch.name, i, f"line {n} starts a Markdown "
                                     f"block inside an inline formula: {line.strip()[:40]!r} "
                                     "(move the break)"))
            if len(_INLINE_DOLLAR.findall(line)) % 2:
                inside = not inside
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
    "code-width": rule_code_width,
    "math-lines": rule_math_lines,
}


def all_violations(ch: Chapter, book: Book) -> list[Violation]:
    return [v for rule in RULES.values() for v in rule(ch, book)]
