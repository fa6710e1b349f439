# Two commands do everything on a fresh machine with Python >= 3.11, git and make:
#   make book   set up .venv, install, build the site into _build/html (executing every notebook)
#               and the PDF edition into _build/pdf/book.pdf (copied to _build/html/book.pdf)
#   make test   set up .venv, install, run every test (unit, property, strict nbval, exercises,
#               -W build, the PDF, site, PDF)
#   make pdf    the PDF edition alone
#   make exercises   the student notebooks (solutions removed) in _build/exercises/ and a zip
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup book test unit notebooks exercises exercise-check build-check site-check execute \
        bench clean pdf pdf-check

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	$(MAKE) pdf PDF_OPTIONAL=1

# The PDF and the site checks run side by side: each mostly waits on one Chromium process.
test: unit notebooks exercise-check build-check
	$(MAKE) -j2 --output-sync=target pdf site-check PDF_OPTIONAL=1
	$(MAKE) pdf-check

unit: $(STAMP)
	$(BIN)/python -m pytest tests -n $(JOBS) -q --ignore=tests/site --ignore=tests/exercises \
	    --ignore=tests/pdf

# One student notebook per chapter (the chapter without its solutions, stubs and checkers kept)
# and _build/exercises/student-notebooks.zip; the site build publishes the same in exercises/.
exercises: $(STAMP)
	$(BIN)/python _ext/student_notebooks.py --out _build/exercises

# The exercises: the generator, every checker against its reference and its classic mistakes,
# and every student notebook run top to bottom twice (stubs unfilled, then filled with the
# book's answers), one test per notebook and variant spread over the cores.
exercise-check: $(STAMP)
	$(BIN)/python -m pytest tests/exercises -n $(JOBS) -q -p no:cacheprovider

notebooks: $(STAMP)
	$(BIN)/python -m pytest book $(NBVAL) -n $(JOBS) --dist loadfile -q -p no:cacheprovider

# Strict nbval above re-executed every notebook and found its stored outputs reproduced, so the
# warnings-as-errors build renders those stored outputs instead of executing everything again.
build-check: $(STAMP)
	@mkdir -p _build
	$(BIN)/python tools/config_variant.py --out _build/_config.noexec.yml execute.execute_notebooks=off
	$(BIN)/jupyter-book build . --config _build/_config.noexec.yml -W -n --keep-going

# Checks of the built site in _build/html (written by build-check or book): internal links and
# anchors, offline assets, API reference, and a real browser (Playwright + Debian's chromium;
# skipped with a message when no Chromium is found): MathJax, images, alt text, no outside
# requests, axe-core, dark mode, solution dropdowns, search. Screenshots: _build/screenshots/.
site-check: $(STAMP)
	@test -f _build/html/index.html || { echo "site-check: no _build/html; run 'make build-check' or 'make book' first" >&2; exit 1; }
	$(BIN)/python -m pytest tests/site -q -p no:cacheprovider

# The PDF edition: _build/pdf/book.pdf from the notebooks' stored outputs (the ones strict nbval
# checks), through the single-page build and Debian's Chromium; copied to _build/html/book.pdf,
# where the intro page links to it, when a site has been built (tools/make_pdf.py says how).
pdf: $(STAMP)
	$(BIN)/python tools/make_pdf.py

# Checks of the PDF with poppler's pdftotext, pdftohtml, pdfimages, pdfinfo (skipped with a message
# without them): titles, bookmarks, contents' page numbers, running heads, math, figures,
# solutions in their appendix, nothing in the right margin, no site navigation.
pdf-check: $(STAMP)
	$(BIN)/python -m pytest tests/pdf -q -p no:cacheprovider

# Re-execute notebooks in place (commit them with their outputs): make execute NB="book/02_*.ipynb"
NB ?= book/*.ipynb
execute: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NB)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf _build .pytest_cache .hypothesis
