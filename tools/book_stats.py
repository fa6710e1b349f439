"""Per-chapter numbers for the book and every rule violation (the command line of tools/bookrules).

Usage:
    .venv/bin/python tools/book_stats.py                # the table
    .venv/bin/python tools/book_stats.py --violations   # the table, then every rule violation

The parsing and the rules are the package ``tools/bookrules`` (one concern per module: table of
contents, MyST parsing, code analysis, chapter model, rules, command line); this file keeps the
command and ``import book_stats`` working and re-exports the package's names.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bookrules import *  # noqa: E402,F401,F403
from bookrules import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
