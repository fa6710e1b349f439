"""Reading the book: per-chapter numbers and the rules every chapter notebook follows.

One concern per module:

- :mod:`bookrules.toc`      the table of contents (_toc.yml): pages and chapter notebooks;
- :mod:`bookrules.myst`     MyST Markdown parsing: code blocks, directives, equations, roles;
- :mod:`bookrules.code`     code-cell analysis with ``ast``: assertions, torch imports;
- :mod:`bookrules.chapter`  a chapter notebook parsed once, and the book around it;
- :mod:`bookrules.rules`    the rules (``RULES``: name -> function of a chapter and the book);
- :mod:`bookrules.cli`      the command line: the table, and ``--violations``.

Command line: ``.venv/bin/python tools/book_stats.py [--violations]`` (a shim that runs
:func:`bookrules.cli.main`), or ``cd tools && python -m bookrules``. ``tests/book/`` imports the
same functions, so the table and the verdicts of ``make test`` cannot disagree. Everything is pure
file parsing (nbformat, regular expressions and ``ast``): no notebook is executed.
"""

from .chapter import (ANSWER_TAG, CHECK_TAG, STUB_TAG, Book, Chapter, Exercise, ExerciseCells,
                      Figure, GatedSolution, Violation)
from .cli import COLUMNS, chapter_row, main
from .code import (asserting_helpers, called_names, has_assertion, parse_code,
                   unguarded_torch_imports)
from .myst import (Directive, Equation, find_citations, find_directives, find_equations,
                   find_headings, find_role_targets, read_bib_keys, read_glossary_terms,
                   strip_code_blocks)
from .rules import (CODE_WIDTH, MIN_DERIVATION, MIN_EXERCISES, MIN_IMPLEMENT, RULES,
                    all_violations, equation_check_problem, rule_clean_outputs, rule_code_width,
                    rule_equation_checks, rule_equation_labels, rule_executed, rule_exercises,
                    rule_figures, rule_structure, rule_torch_optional)
from .toc import BIBLIOGRAPHY, GLOSSARY, ROOT, TOC, chapter_paths, toc_pages

__all__ = [name for name in dir() if not name.startswith("_")]
