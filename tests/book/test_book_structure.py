"""The book's standards, enforced: structure rules checked on every chapter notebook in _toc.yml.

Pure file parsing (nbformat, regular expressions, ``ast``); nothing is executed, so this runs in
about a second. The parsing and the rules live in the package ``tools/bookrules`` (one source of
truth: the per-chapter table printed by ``tools/book_stats.py`` counts with the same functions).
Rules:

- executed:        every non-empty code cell executed, top to bottom in one run; no error output
                   except in cells tagged ``raises-exception``.
- equation-check:  every displayed equation is labelled, and the first code cell after it asserts,
                   with no other labelled equation displayed in between.
- equation-labels: labels unique across the book; every {eq} reference resolves.
- figures:         alt text (>= 25 characters, a description, not a file name), caption and a
                   name unique in the book for every image output; one image per cell; every
                   {numref} target exists.
- exercises:       the format of BOOK_CONTRACT.md: >= 4 labelled {exercise}s; >= 2
                   implement-and-check (an ``exercise-stub`` cell, then an ``exercise-check``
                   cell ``check("label", name)``, both tagged remove-cell); >= 1
                   ``:class: derivation``; one ``:class: dropdown`` solution per exercise, plain
                   (prose) or gated (solution-start ... solution-end, holding the
                   ``solution-answer`` cell); no code after a plain solution.
- structure:       one ``# Title`` in the first cell, ``## Summary`` and ``## Exercises``,
                   >= 1 {cite} and {term}; every term in book/glossary.md, every key in
                   book/references.bib.
- clean-outputs:   kernelspec python3; no memory addresses in outputs; no warnings on stderr.
- torch-optional:  no ``import torch`` outside try/except (or an availability check).
- code-width:      no code-cell source line and no text-output line over 76 characters.
- math-lines:      no line inside an inline formula that runs over lines starts like a
                   Markdown block (``+ ``, ``- ``, ``1. ``, ``#``, ``>``).

Each test is one (chapter, rule) pair and lists every violation with its cell index (0-based).
The self-tests at the bottom build small notebooks in memory and show that every rule fires.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import bookrules as bs  # noqa: E402

CHAPTERS = bs.chapter_paths()


@pytest.fixture(scope="module")
def book_and_chapters():
    chapters, unreadable = {}, {}
    for path in CHAPTERS:
        try:
            chapters[path] = bs.Chapter.read(path)
        except Exception as exc:                      # noqa: BLE001 - reported by the test
            unreadable[path] = exc
    return bs.Book.load(chapters=chapters), chapters, unreadable


def test_toc_lists_chapter_notebooks():
    assert CHAPTERS, "_toc.yml lists no notebooks"
    assert all(p.suffix == ".ipynb" and p.exists() for p in CHAPTERS)


@pytest.mark.parametrize("rule", list(bs.RULES))
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_rule(path, rule, book_and_chapters):
    book, chapters, unreadable = book_and_chapters
    if path in unreadable:
        pytest.fail(f"{path.name} cannot be read as a notebook: {unreadable[path]}")
    violations = bs.RULES[rule](chapters[path], book)
    if violations:
        doc = " ".join(bs.RULES[rule].__doc__.split())
        pytest.fail(f"{len(violations)} violation(s) of rule '{rule}' ({doc}) in {path.name}:\n"
                    + "\n".join(f"  {v}" for v in violations), pytrace=False)


def test_glossary_cross_references_resolve():
    text = bs.strip_code_blocks(bs.GLOSSARY.read_text(encoding="utf-8"))
    terms = bs.read_glossary_terms()
    missing = [t for t in bs.find_role_targets(text, "term") if t.lower() not in terms]
    assert not missing, f"book/glossary.md refers to terms it does not define: {missing}"


# ---------------------------------------------------------------------------------------------
# Self-tests: a synthetic chapter that follows every rule, and one violation of each rule
# ---------------------------------------------------------------------------------------------

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
       "RU5ErkJggg==")
ALT = "A line rising from the lower left to the upper right, the identity function on [0, 1]."


def exercise(label: str, text: str = "Compute something.", options: str = "") -> str:
    return f"```{{exercise}}\n:label: {label}\n{options}\n{text}\n```\n"


def plain_solution(label: str) -> str:
    return f"```{{solution}} {label}\n:class: dropdown\n\nThe answer, in words.\n```\n"


def tagged(source: str, *tags: str):
    cell = new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def implement_and_check(label: str, name: str, stub: str, answer: str) -> list:
    """The contract's cells of an implement-and-check exercise, after its statement."""
    return [
        tagged(stub, "exercise-stub", "remove-cell"),
        tagged(f'check("{label}", {name})', "exercise-check", "remove-cell"),
        new_markdown_cell(f"```{{solution-start}} {label}\n:class: dropdown\n```\n\n"
                          "Why the answer is what it is."),
        tagged(answer, "solution-answer"),
        new_code_cell(f'check("{label}", {name})'),
        new_markdown_cell("```{solution-end}\n```"),
    ]


def figure_cell(name="fig-syn-line", alt=ALT, caption="The identity on [0, 1].", n_images=1):
    cell = new_code_cell("plt.plot([0, 1], [0, 1])\nplt.show()")
    cell.outputs = [new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
                    for _ in range(n_images)]
    cell.metadata["mystnb"] = {"image": {"alt": alt},
                               "figure": {"caption": caption, "name": name}}
    return cell


def good_cells():
    return [
        new_markdown_cell("# A synthetic chapter\n\nAfter this chapter you can check things "
                          "{cite}`key2006` with a {term}`Stride <stride>` and a {term}`kernel`."),
        new_code_cell("import numpy as np\nimport cnn_core as cc\n\n"
                      "def report(err):\n    assert err < 1e-7, err\n\n"
                      "def report_twice(err):\n    report(err)\n    report(err)"),
        new_markdown_cell("## First\n\nThe sum:\n\n$$\na + b = b + a\n$$ (eq-syn-commute)\n\n"
                          "Prose after the equation, before its check, is fine."),
        new_markdown_cell("Still prose, and a `$$` in inline code does not count."),
        new_code_cell("assert 1 + 2 == 2 + 1\nprint('eq. (eq-syn-commute) checked')"),
        new_markdown_cell("A second one, {eq}`eq-syn-commute` again:\n\n"
                          "$$ a \\cdot 1 = a $$ (eq-syn-unit)\n\n```python\n$$ x $$\n```"),
        new_code_cell("report_twice(abs(3.0 * 1 - 3.0))"),
        new_markdown_cell("{numref}`fig-syn-line` shows it.\n\n```{math}\n:label: eq-syn-math\n"
                          "f(x) = x\n```"),
        new_code_cell("np.testing.assert_allclose(np.arange(3) * 1, np.arange(3))"),
        figure_cell(),
        new_code_cell("try:\n    import torch\nexcept ImportError:\n    torch = None"),
        new_markdown_cell("## Summary\n\n- Things.\n\n## Exercises\n\n"
                          + exercise("ex-syn-impl", "Implement `my_f`.")),              # 11
        *implement_and_check("ex-syn-impl", "my_f",                                      # 12-17
                             "def my_f(x):\n    # Return x.\n    raise NotImplementedError",
                             "def my_f(x):\n    return x"),
        new_markdown_cell(exercise("ex-syn-two", "Prove it.", ":class: derivation\n")
                          + "\n" + plain_solution("ex-syn-two")),                        # 18
        new_markdown_cell(exercise("ex-syn-three") + "\n" + plain_solution("ex-syn-three")),
        new_markdown_cell(exercise("ex-syn-value", "The output height.")),               # 20
        *implement_and_check("ex-syn-value", "height", "height = ...  # the height",    # 21-26
                             "height = (7 - 3) // 2 + 1"),
    ]


def numbered(cells):
    """Give the non-empty code cells execution counts 1, 2, … as one top-to-bottom run does."""
    count = 0
    for cell in cells:
        if cell.cell_type == "code" and cell.source.strip():
            count += 1
            cell.execution_count = count
    return cells


def make_chapter(cells, name="99_synthetic.ipynb") -> bs.Chapter:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return bs.Chapter(nbformat.from_dict(nb), name)


def make_book(*chapters) -> bs.Book:
    book = bs.Book(glossary_terms={"stride", "kernel"}, bib_keys={"key2006"})
    for ch in chapters:
        book.add_chapter(ch)
    return book


def violations_of(ch: bs.Chapter, book: bs.Book | None = None) -> list[bs.Violation]:
    return bs.all_violations(ch, book or make_book(ch))


def test_synthetic_chapter_follows_every_rule():
    ch = make_chapter(numbered(good_cells()))
    assert [str(v) for v in violations_of(ch)] == []
    assert [e.label for e in ch.labelled_equations] == ["eq-syn-commute", "eq-syn-unit",
                                                        "eq-syn-math"]
    assert len(ch.checked_equations) == 3
    assert [ex.label for ex in ch.exercises] == ["ex-syn-impl", "ex-syn-two", "ex-syn-three",
                                                 "ex-syn-value"]
    assert [ch.is_implement_and_check(ex) for ex in ch.exercises] == [True, False, False, True]
    assert [ex.is_derivation for ex in ch.exercises] == [False, True, False, False]
    assert [(g.label, g.start, g.end, g.cells) for g in ch.gated_solutions] == [
        ("ex-syn-impl", 14, 17, [15, 16]), ("ex-syn-value", 23, 26, [24, 25])]
    assert ch.asserting_helpers == {"report", "report_twice"}
    row = bs.chapter_row(ch, make_book(ch))
    assert (row["eqs"], row["checked"], row["figs"], row["ex"], row["impl"], row["deriv"],
            row["terms"], row["cites"], row["issues"]) == (3, 3, 1, 4, 2, 1, 2, 1, 0)


def _set(index, **changes):
    def mutate(cells):
        for key, value in changes.items():
            if key == "tags":
                cells[index].metadata["tags"] = value
            else:
                cells[index][key] = value
    return mutate


def _source(index, old, new):
    def mutate(cells):
        assert old in cells[index].source, (old, cells[index].source)
        cells[index].source = cells[index].source.replace(old, new)
    return mutate


def _error_output(cells):
    cells[4].outputs = [new_output("error", ename="ValueError", evalue="x is 3-D",
                                   traceback=["ValueError: x is 3-D"])]


def _stream(name, text):
    def mutate(cells):
        cells[4].outputs = [new_output("stream", name=name, text=text)]
    return mutate


def _fig_meta(key, sub, value):
    def mutate(cells):
        cells[9].metadata["mystnb"][key][sub] = value
    return mutate


def _insert(index, cell):
    def mutate(cells):
        cells.insert(index, cell)
    return mutate


def _delete(index):
    def mutate(cells):
        del cells[index]
    return mutate


def _truncate_with(cell):
    def mutate(cells):
        del cells[8:]
        cells.append(cell)
    return mutate


def _renumber_swap(cells):
    cells[4].execution_count, cells[6].execution_count = 3, 2


# (id, mutation of good_cells(), rule expected to fire, text the message must contain)
VIOLATIONS = [
    ("unexecuted", _set(4, execution_count=None), "executed",
     "cell 4: [executed] code cell was never executed"),
    ("error-output", _error_output, "executed",
     "cell 4: [executed] output is an error (ValueError: 'x is 3-D')"),
    ("out-of-order", _renumber_swap, "executed",
     "cell 4: [executed] execution_count is 3, expected 2"),
    ("no-assert", _source(4, "assert 1 + 2 == 2 + 1", "x = 1 + 2 == 2 + 1"), "equation-check",
     "cell 2: [equation-check] eq. eq-syn-commute the first code cell after it (cell 4) "
     "asserts nothing"),
    ("helper-defined-not-called", _source(4, "assert 1 + 2 == 2 + 1",
                                          "def check():\n    assert 1 + 2 == 2 + 1"),
     "equation-check", "eq. eq-syn-commute the first code cell after it (cell 4) asserts nothing"),
    ("assert-in-comment", _source(4, "assert 1 + 2 == 2 + 1", "# assert 1 + 2 == 2 + 1"),
     "equation-check", "eq. eq-syn-commute the first code cell after it (cell 4) asserts nothing"),
    ("two-eqs-one-cell", _source(2, "(eq-syn-commute)", "(eq-syn-commute)\n\n$$ c $$ (eq-syn-c)"),
     "equation-check", "cell 2: [equation-check] eq. eq-syn-commute is followed by eq. eq-syn-c "
                       "in the same markdown cell"),
    ("eq-in-between", _source(3, "Still prose", "$$ c $$ (eq-syn-c)\n\nStill prose"),
     "equation-check", "eq. eq-syn-commute is followed by eq. eq-syn-c (cell 3) before any code"),
    ("unlabelled", _source(3, "Still prose", "$$\nc = c\n$$\n\nStill prose"), "equation-check",
     "cell 3: [equation-check] unnumbered $$ … $$ display"),
    ("unlabelled-math", _source(7, ":label: eq-syn-math\n", ""), "equation-check",
     "cell 7: [equation-check] unnumbered {math} directive"),
    ("no-code-after", _truncate_with(new_markdown_cell("$$ z $$ (eq-syn-last)")), "equation-check",
     "eq. eq-syn-last no code cell follows it"),
    ("duplicate-label", _source(5, "(eq-syn-unit)", "(eq-syn-commute)"), "equation-labels",
     "cell 5: [equation-labels] label eq-syn-commute is defined twice in this chapter "
     "(also cell 2)"),
    ("dangling-eq-ref", _source(5, "{eq}`eq-syn-commute`", "{eq}`eq-syn-nowhere`"),
     "equation-labels", "cell 5: [equation-labels] {eq}`eq-syn-nowhere` refers to no equation"),
    ("no-alt", _fig_meta("image", "alt", ""), "figures",
     "cell 9: [figures] figure fig-syn-line: no alt text (cell metadata mystnb.image.alt)"),
    ("short-alt", _fig_meta("image", "alt", "A plot of a line."), "figures",
     "alt text 'A plot of a line.' has 17 characters, fewer than 25"),
    ("file-name-alt", _fig_meta("image", "alt", "_images/8f3e2a9b0c1d2e3f4a5b.png"), "figures",
     "looks like a file name or hash"),
    ("few-words-alt", _fig_meta("image", "alt", "identity_function_on_unit_interval"), "figures",
     "has fewer than 4 words"),
    ("no-caption", _fig_meta("figure", "caption", " "), "figures",
     "figure fig-syn-line: no caption (cell metadata mystnb.figure.caption)"),
    ("no-name", _fig_meta("figure", "name", ""), "figures", "cell 9: [figures] figure has no name"),
    ("two-images", lambda cells: cells.__setitem__(9, figure_cell(n_images=2)), "figures",
     "the cell outputs 2 images; one figure per cell"),
    ("dangling-numref", _source(7, "{numref}`fig-syn-line`", "{numref}`fig-syn-curve`"), "figures",
     "cell 7: [figures] {numref}`fig-syn-curve` refers to no figure name in the book"),
    ("three-exercises", _delete(19), "exercises", "3 {exercise} directives, at least 4 required"),
    ("no-solution", _source(19, "```{solution} ex-syn-three", "```{note}"), "exercises",
     "cell 19: [exercises] exercise ex-syn-three has no solution"),
    ("no-label", _source(18, ":label: ex-syn-two\n", ""), "exercises",
     "cell 18: [exercises] {exercise} without :label:"),
    ("not-dropdown", _source(18, ":class: dropdown\n", ""), "exercises",
     "cell 18: [exercises] {solution} ex-syn-two lacks `:class: dropdown`"),
    ("gated-not-dropdown", _source(14, ":class: dropdown\n", ""), "exercises",
     "cell 14: [exercises] {solution-start} ex-syn-impl lacks `:class: dropdown`"),
    ("solution-refers-nowhere", _source(18, "{solution} ex-syn-two", "{solution} ex-syn-2"),
     "exercises", "{solution} 'ex-syn-2' refers to no exercise label of this chapter"),
    ("gated-refers-nowhere", _source(14, "{solution-start} ex-syn-impl", "{solution-start} ex-x"),
     "exercises", "{solution-start} 'ex-x' refers to no exercise label of this chapter"),
    ("gated-unclosed", _delete(17), "exercises",
     "cell 14: [exercises] {solution-start} ex-syn-impl has no matching {solution-end}"),
    ("two-solutions", _insert(19, new_markdown_cell(plain_solution("ex-syn-two"))), "exercises",
     "exercise ex-syn-two has 2 solutions"),
    ("hide-input-solution", _insert(19, tagged("print(3)", "hide-input")), "exercises",
     "cell 19: [exercises] code cell after the plain {solution} ex-syn-two"),
    ("gated-exercise", _insert(20, new_markdown_cell("```{exercise-start}\n:label: ex-x\n```")),
     "exercises", "cell 20: [exercises] gated {exercise-start}"),
    ("no-derivation", _source(18, ":class: derivation\n", ""), "exercises",
     "no derivation exercise"),
    ("one-implement", lambda cells: [cells.pop(22), cells.pop(21)], "exercises",
     "1 implement-and-check exercises (a stub and a checker), at least 2 required"),
    ("answer-outside", _insert(12, tagged("def my_f(x):\n    return x", "solution-answer")),
     "exercises", "cell 12: [exercises] solution-answer cell outside a gated solution"),
    ("no-answer", _set(15, tags=[]), "exercises",
     "exercise ex-syn-impl: its gated solution has no code cell tagged solution-answer"),
    ("checker-not-exact", _source(13, "my_f)", "my_f); print(1)"), "exercises",
     "cell 13: [exercises] the exercise-check cell must be exactly"),
    ("checker-wrong-label", _source(13, '"ex-syn-impl"', '"ex-syn-other"'), "exercises",
     "cell 13: [exercises] check('ex-syn-other', …) refers to no exercise label"),
    ("stub-without-checker", _set(13, tags=["remove-cell"]), "exercises",
     "cell 12: [exercises] exercise-stub cell not followed directly by its exercise-check"),
    ("checker-without-stub", _set(12, tags=[]), "exercises",
     "cell 13: [exercises] exercise-check cell without an exercise-stub cell right before it"),
    ("stub-shown-on-site", _set(12, tags=["exercise-stub"]), "exercises",
     "cell 12: [exercises] exercise-stub and exercise-check cells are tagged remove-cell"),
    ("stub-defines-other", _source(12, "def my_f(x)", "def my_g(x)"), "exercises",
     "cell 12: [exercises] the stub does not define 'my_f'"),
    ("checker-in-solution", _set(16, tags=["exercise-check", "remove-cell"]), "exercises",
     "cell 16: [exercises] exercise-stub or exercise-check cell inside the gated solution"),
    ("wide-source", _source(4, "print('eq. (eq-syn-commute) checked')",
                            "print('" + "x" * 70 + "')"), "code-width",
     "cell 4: [code-width] 1 source line(s) over 76 characters; source line 2 has 79"),
    ("wide-output", _stream("stdout", "short\n" + "y" * 77 + "\n"), "code-width",
     "cell 4: [code-width] 1 output line(s) over 76 characters; output line 2 has 77"),
    ("wide-stub", _source(12, "# Return x.", "# " + "r" * 80), "code-width",
     "cell 12: [code-width] 1 source line(s) over 76"),
    ("math-line-list", _insert(3, new_markdown_cell("So $a = b\n+ c$ breaks.")), "math-lines",
     "cell 3: [math-lines] line 2 starts a Markdown block inside an inline formula: '+ c$"),
    ("no-summary", _source(11, "## Summary", "## Recap"), "structure", "no `## Summary` heading"),
    ("no-exercises-heading", _source(11, "## Exercises", "### Exercises"), "structure",
     "no `## Exercises` heading"),
    ("no-title", _source(0, "# A synthetic chapter", "A synthetic chapter"), "structure",
     "cell 0: [structure] the first cell must be markdown starting with the chapter's `# Title`"),
    ("second-title", _source(2, "## First", "# First"), "structure",
     "cell 2: [structure] second level-1 heading `# First`"),
    ("no-cite", _source(0, "{cite}`key2006`", "Bouvrie"), "structure", "no {cite} in the chapter"),
    ("no-term", _source(0, "{term}`Stride <stride>` and a {term}`kernel`", "stride"), "structure",
     "no {term} in the chapter"),
    ("unknown-term", _source(0, "{term}`kernel`", "{term}`kernal`"), "structure",
     "cell 0: [structure] {term} target 'kernal' is not a term of book/glossary.md"),
    ("unknown-term-explicit", _source(0, "<stride>", "<strides>"), "structure",
     "{term} target 'strides' is not a term"),
    ("unknown-cite", _source(0, "{cite}`key2006`", "{cite:p}`key2006,nobody1999`"), "structure",
     "cell 0: [structure] {cite} key 'nobody1999' is not in book/references.bib"),
    ("memory-address", _stream("stdout", "<function f at 0x7f3a2b1c0d90>\n"), "clean-outputs",
     "cell 4: [clean-outputs] output shows a memory address: '<function f at 0x7f3a2b1c0d90>'"),
    ("stderr-warning", _stream("stderr", "foo.py:3: RuntimeWarning: overflow in exp\n"),
     "clean-outputs", "cell 4: [clean-outputs] a warning leaks into the book on stderr"),
    ("unguarded-torch", _source(10, "try:\n    import torch\nexcept ImportError:\n    torch = None",
                                "import numpy\nimport torch.nn as nn"), "torch-optional",
     "cell 10: [torch-optional] line 2 imports torch unguarded"),
    ("unguarded-from-torch", _source(10, "try:\n    import torch",
                                     "from torch import nn\ntry:\n    import torch"),
     "torch-optional", "line 1 imports torch"),
]


@pytest.mark.parametrize("mutate, rule, expected", [v[1:] for v in VIOLATIONS],
                         ids=[v[0] for v in VIOLATIONS])
def test_each_rule_can_fail(mutate, rule, expected):
    cells = numbered(good_cells())
    mutate(cells)
    if rule != "executed":                            # cells may have moved: a fresh run
        numbered(cells)
    ch = make_chapter(cells)
    found = [str(v) for v in bs.RULES[rule](ch, make_book(ch))]
    assert any(expected in v for v in found), f"expected {expected!r} among {found}"
    # the mutation breaks this rule only where intended: the message names the notebook
    assert all(v.startswith("99_synthetic.ipynb") for v in found)


def test_raises_exception_tag_allows_an_error():
    cells = numbered(good_cells())
    _error_output(cells)
    cells[4].metadata["tags"] = ["raises-exception"]
    ch = make_chapter(cells)
    assert bs.rule_executed(ch, make_book(ch)) == []


def test_empty_code_cells_need_no_execution():
    cells = good_cells()
    cells.insert(5, new_code_cell(""))
    ch = make_chapter(numbered(cells))
    assert bs.rule_executed(ch, make_book(ch)) == []


def test_labels_and_figure_names_unique_across_the_book():
    first = make_chapter(numbered(good_cells()), name="98_first.ipynb")
    second = make_chapter(numbered(good_cells()), name="99_second.ipynb")
    book = make_book(first, second)
    labels = [str(v) for v in bs.rule_equation_labels(second, book)]
    assert any("label eq-syn-commute is also defined in 98_first.ipynb cell 2" in v for v in labels)
    figures = [str(v) for v in bs.rule_figures(second, book)]
    assert any("figure name fig-syn-line is also used in 98_first.ipynb cell 9" in v
               for v in figures)


def test_equation_references_resolve_across_chapters():
    first = make_chapter(numbered(good_cells()), name="98_first.ipynb")
    cells = numbered(good_cells())
    _source(5, "{eq}`eq-syn-commute`", "{eq}`eq-other`")(cells)
    other = [new_markdown_cell("# Other\n\n$$ x $$ (eq-other)"), new_code_cell("assert True")]
    assert bs.rule_equation_labels(make_chapter(cells), make_book(make_chapter(other))) == []
    assert bs.rule_equation_labels(make_chapter(cells), make_book(first)) != []


def test_allowed_forms_are_not_violations():
    """Guards and conventions the rules must accept."""
    cells = good_cells()
    cells[10].source = ("if importlib.util.find_spec('torch') is not None:\n    import torch\n"
                        "torch_mod = pytest.importorskip('torch')\nimport torch as t2")
    cells[0].source += " A {term}`STRIDE` (terms are case-insensitive)."
    cells[4].source = "%time x = 1\nnp.testing.assert_array_equal(x, 1)"      # IPython magic
    cells[9].outputs[0]["data"]["text/plain"] = "<Figure size 640x480 " + "x" * 80 + ">"
    cells[12].source = "def my_f(x):\n    raise NotImplementedError"  # a stub may be shorter
    cells.insert(5, tagged("# " + "a hidden helper " * 8, "remove-cell"))  # not on the page
    ch = make_chapter(numbered(cells))
    assert [str(v) for v in violations_of(ch)] == []


def test_parsing_helpers():
    assert bs.find_role_targets("{term}`Max pooling <max pooling>` and {term}`stride`", "term") \
        == ["max pooling", "stride"]
    assert bs.find_role_targets("{term}`the\n  kernel`", "term") == ["the kernel"]
    assert bs.find_citations("{cite}`a2001, b2002` {cite:t}`c2003`") == ["a2001", "b2002", "c2003"]
    text = "```python\n$$ x $$ (eq-in-code)\n```\n\n$$\ny\n$$ (eq-real)"
    assert [e.label for e in bs.find_equations(text)] == ["eq-real"]
    nested = "````{exercise}\n:label: ex-a\n\n```{math}\n:label: eq-inner\nx\n```\n````"
    assert [(d.name, d.options.get("label")) for d in bs.find_directives(nested)] == [
        ("exercise", "ex-a"), ("math", "eq-inner")]
    assert bs.has_assertion("np.testing.assert_allclose(a, b)")
    assert bs.has_assertion("report(err)", {"report"})
    assert not bs.has_assertion("print('assert')")
    assert bs.unguarded_torch_imports("x = 1\nimport torch") == [2]
    assert bs.unguarded_torch_imports("try:\n    import torch\nexcept ImportError:\n    pass") == []


def test_real_glossary_and_bibliography_parse():
    terms, keys = bs.read_glossary_terms(), bs.read_bib_keys()
    assert {"stride", "max pooling", "1×1 convolution"} <= terms
    assert "bouvrie2006notes" in keys
