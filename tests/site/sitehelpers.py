"""Paths and page lists shared by the site checks (imported by conftest.py and the tests)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from chromium import CHROMIUM_ARGS, find_chromium, serve  # noqa: E402,F401  (shared with the PDF)
HTML = Path(os.environ.get("SITE_HTML_DIR", ROOT / "_build" / "html"))
SCREENSHOTS = Path(os.environ.get("SITE_SCREENSHOTS_DIR", ROOT / "_build" / "screenshots"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cnn-math-verified"
AXE_VERSION = "4.14.1"  # npm axe-core, installed into CACHE at test time, never committed



def html_pages() -> list[str]:
    """Every HTML page of the site, relative to _build/html (POSIX paths), sorted."""
    if not (HTML / "index.html").is_file():
        return []
    return sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
                  if not p.relative_to(HTML).parts[0].startswith("_"))


def book_pages() -> list[str]:
    """The book's own pages (book/*.html): the chapters and the pages around them."""
    return [p for p in html_pages() if p.startswith("book/")]


def meaningful_alt(alt: str) -> bool:
    """Not empty, not a file name or path, not a hash, and at least two words."""
    alt = alt.strip()
    if not alt:
        return False
    if re.search(r"\.(png|jpe?g|gif|svg|webp)\b", alt, re.I) or "_images/" in alt:
        return False
    if len(alt.split()) == 1 and "/" in alt:  # a bare path
        return False
    if re.fullmatch(r"[0-9a-f]{8,}", alt, re.I):
        return False
    return len(alt.split()) >= 2
