"""A chapter notebook parsed once (equations, directives, exercises, figures, …) and the book
around it (glossary, bibliography, labels and figure names of every page)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat

from .code import asserting_helpers
from .myst import (Directive, Equation, find_citations, find_directives, find_equations,
                   find_role_targets, read_bib_keys, read_glossary_terms, strip_code_blocks)
from .toc import TOC, toc_pages


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
    classes: tuple = () # its :class: words, e.g. ("derivation",)

    @property
    def is_derivation(self) -> bool:
        return "derivation" in self.classes


@dataclass
class GatedSolution:
    """A ```{solution-start} LABEL``` … ```{solution-end}``` region (BOOK_CONTRACT.md)."""
    label: str
    options: dict
    start: int                  # cell of the solution-start directive
    end: int | None             # cell of the matching solution-end; None if never closed
    cells: list                 # indices of the cells wholly inside

    @property
    def classes(self) -> tuple:
        return tuple(str(self.options.get("class", "")).split())


@dataclass
class ExerciseCells:
    """An exercise-check cell and the exercise-stub cell before it (None if there is none)."""
    label: str | None           # from ``check("ex-…", name)``; None if the call is not that
    name: str | None            # the name the checker is given
    check: int                  # the check cell
    stub: int | None


STUB_TAG, CHECK_TAG, ANSWER_TAG = "exercise-stub", "exercise-check", "solution-answer"
CHECK_CALL = re.compile(r"""^\s*check\(\s*["'](?P<label>[\w-]+)["']\s*,\s*(?P<name>\w+)\s*\)\s*$""")


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
        return [Exercise(d.options.get("label") or None, d.cell, d.body,
                         tuple(str(d.options.get("class", "")).split()))
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

    def tags(self, index: int) -> list[str]:
        return list(self.cells[index].metadata.get("tags", []))

    def solution_code(self, solution: Directive) -> list[tuple[int, str]]:
        """Code cells right after a plain solution's markdown cell, up to the next markdown cell
        (the old form of a code solution; the contract wants such code gated)."""
        found = []
        for i in range(solution.cell + 1, len(self.cells)):
            if self.cells[i].cell_type != "code":
                break
            found.append((i, self.cells[i].source))
        return found

    @cached_property
    def gated_solutions(self) -> list[GatedSolution]:
        """Every solution-start region, closed by the next solution-end (in the same markdown
        cell or a later one)."""
        found, current = [], None
        for i, cell in enumerate(self.cells):
            if cell.cell_type != "markdown":
                if current is not None:
                    current.cells.append(i)
                continue
            names = [d for d in find_directives(strip_code_blocks(cell.source), i)
                     if d.name in ("solution-start", "solution-end")]
            if current is not None and not names:
                current.cells.append(i)
            for d in names:
                if d.name == "solution-start":
                    if current is not None:            # never closed: ends where the next opens
                        found.append(current)
                    current = GatedSolution(d.argument, d.options, i, None, [])
                elif current is not None:
                    current.end = i
                    found.append(current)
                    current = None
        if current is not None:
            found.append(current)
        return found

    @cached_property
    def gated_cells(self) -> set:
        return {i for g in self.gated_solutions for i in g.cells}

    @cached_property
    def exercise_cells(self) -> list[ExerciseCells]:
        """Every exercise-check cell, with the label it checks and the stub cell before it."""
        found = []
        for i, cell in self.code_cells():
            if CHECK_TAG not in self.tags(i):
                continue
            m = CHECK_CALL.match(cell.source)
            stub = i - 1 if i > 0 and self.cells[i - 1].cell_type == "code" \
                and STUB_TAG in self.tags(i - 1) else None
            found.append(ExerciseCells(m.group("label") if m else None,
                                       m.group("name") if m else None, i, stub))
        return found

    def is_implement_and_check(self, exercise: Exercise) -> bool:
        """The exercise has a stub cell and a checker cell with its label (BOOK_CONTRACT.md)."""
        return exercise.label is not None and any(
            e.label == exercise.label and e.stub is not None for e in self.exercise_cells)

    @cached_property
    def asserting_helpers(self) -> set[str]:
        return asserting_helpers(c.source for _, c in self.code_cells())

    @cached_property
    def checked_equations(self) -> list[Equation]:
        """Labelled equations followed by their check (see :func:`rule_equation_checks`)."""
        from .rules import equation_check_problem      # the rule's own test, not a copy of it
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
