"""``python -m bookrules [--violations]`` (with tools/ on sys.path)."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
