"""The command line: the per-chapter table, and every rule violation with ``--violations``.

    .venv/bin/python -m bookrules [--violations]      (from tools/, or with tools/ on sys.path)
    .venv/bin/python tools/book_stats.py [--violations]
"""

from __future__ import annotations

from .chapter import Book, Chapter
from .rules import all_violations
from .toc import chapter_paths

COLUMNS = [
    ("chapter", "chapter"),
    ("eqs", "numbered (labelled) displayed equations"),
    ("checked", "equations directly followed by a cell that asserts"),
    ("code", "code cells"),
    ("figs", "figures (image outputs)"),
    ("ex", "exercises"),
    ("impl", "implement-and-check exercises (an exercise-stub and its exercise-check cell)"),
    ("deriv", "derivation exercises (:class: derivation)"),
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
        "deriv": sum(ex.is_derivation for ex in ch.exercises),
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


