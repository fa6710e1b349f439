"""The book's table of contents: which pages there are, and which of them are chapter notebooks."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOC = ROOT / "_toc.yml"
GLOSSARY = ROOT / "book" / "glossary.md"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"


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
