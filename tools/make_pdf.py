"""The PDF edition: the whole book in one PDF, ``_build/pdf/book.pdf`` (``make pdf``).

    python tools/make_pdf.py [--out _build/pdf/book.pdf] [--no-build]

Offline, from the notebooks' stored outputs (the ones strict nbval re-executes and compares in
``make test``), in four steps (about two and a half minutes here):

1. **One page.** Jupyter Book's ``singlehtml`` builder, execution off, writes the book as one
   HTML page into ``_build/pdf/src`` (``_ext/pdf_edition.py`` lets that builder render every
   extension's nodes). The page is copied to the folder's root as ``book.html`` so that its
   relative ``_static/`` and ``_images/`` links resolve (Jupyter Book's own ``pdfhtml`` builder
   gets them wrong and overwrites ``_build/html``).
2. **Prepared for print** in Debian's Chromium through Playwright (``tools/chromium.py``), after
   MathJax has typeset every formula: ``tools/pdf/prepare.js`` adds a title page, part pages and a
   table of contents, opens every dropdown, moves every solution into an appendix of solutions,
   and keeps internal links inside the PDF; ``tools/pdf/print.css`` sets the A4 page, hides the
   site's navigation and buttons, wraps code in print only, and keeps figures and equations whole.
3. **Printed once**, tagged, with ``page.pdf(outline=True)``: Chromium's bookmarks, one per
   heading in document order, give the page of every part, chapter, section and exercise. Their
   titles are Chromium's (words repeated where a heading wraps, formulas left out), so the
   bookmarks are rebuilt from the headings' own text; the tags are dropped (they more than
   double the file).
4. **Laid over it** with pypdf: the contents' page numbers (the same page printed again with
   everything but those numbers hidden: their boxes have a fixed width, so nothing moves) and
   the running heads (Chromium cannot vary a header from page to page: a second document of as
   many A4 pages, each with its chapter's title and its page number).

It also writes ``_build/pdf/report.json`` (pages, headings and their pages, running heads,
figures, formulas and MathJax errors, code boxes cut or wrapped, requests leaving the machine),
which ``tests/pdf`` reads with the PDF itself, and copies the PDF to
``_build/html/book.pdf`` when a site has been built, where the intro page links to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from chromium import CHROMIUM_ARGS, find_chromium, serve  # noqa: E402
from config_variant import write_variant  # noqa: E402

PDF_DIR = ROOT / "_build" / "pdf"
SRC = PDF_DIR / "src"
SINGLE = SRC / "_build" / "singlehtml"
PAGE_MARGIN_MM = {"top": 20, "bottom": 20, "left": 20, "right": 20}


def log(message: str) -> None:
    print(f"make_pdf: {message}", flush=True)


# --- 1. one page ------------------------------------------------------------------------------

def build_single_page() -> Path:
    """Build the book with the singlehtml builder (execution off); return the page to print."""
    config = PDF_DIR / "_config.yml"
    write_variant(config, {"execute.execute_notebooks": "off"})
    shutil.rmtree(SRC, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT),
               "--config", str(config), "--builder", "singlehtml", "--path-output", str(SRC),
               "-W", "-n", "--keep-going", "-q"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"make_pdf: the single-page build failed (exit {result.returncode})")
    root_doc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    page = SINGLE / "book.html"
    shutil.copyfile(SINGLE / f"{root_doc}.html", page)
    return page


# --- 2. what the page needs to know -----------------------------------------------------------

def book_facts() -> dict:
    """Title, version, date, repository and the parts of the book, for the title page and TOC."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version = version["project"]["version"]
    commit, date = "", dt.date.today().isoformat()
    git = subprocess.run(["git", "log", "-1", "--format=%h %cs"], cwd=ROOT,
                         capture_output=True, text=True)
    if git.returncode == 0 and git.stdout.strip():
        commit, date = git.stdout.split()
    parts = [{"caption": part.get("caption", ""),
              "files": [chapter["file"] for chapter in part.get("chapters", [])]}
             for part in toc.get("parts", [])]
    return {"title": config["title"], "author": config.get("author", ""),
            "version": version, "commit": commit, "date": date,
            "repository": config["repository"]["url"], "parts": parts}


# --- 3. print ---------------------------------------------------------------------------------

def outline_pages(pdf: Path) -> list[dict]:
    """The PDF's bookmarks in document order: title and 1-based page."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    entries: list[dict] = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                entries.append({"title": item.title,
                                "page": reader.get_destination_page_number(item) + 1})
    walk(reader.outline)
    return entries


def print_pdf(page, target: Path, *, outline: bool, background: bool = True) -> None:
    # Chromium writes bookmarks only into a tagged PDF; the tags themselves are not kept (below).
    page.pdf(path=str(target), format="A4", print_background=background, outline=outline,
             tagged=outline, prefer_css_page_size=True,
             margin={side: f"{mm}mm" for side, mm in PAGE_MARGIN_MM.items()})


def running_heads(page, pages: int, heads: list[dict], target: Path) -> None:
    """Print ``pages`` A4 pages carrying only each page's running head and page number."""
    body = []
    for number in range(1, pages + 1):
        head = next((h for h in reversed(heads) if h["page"] <= number), None)
        # no head on the title page, a part page or the first page of a chapter
        title = "" if head is None or head["page"] == number else html.escape(head["title"])
        folio = "" if number == 1 else str(number)
        body.append(f'<div class="p"><div class="h">{title}</div>'
                    f'<div class="f">{folio}</div></div>')
    css = (HERE / "pdf" / "running_heads.css").read_text(encoding="utf-8")
    page.set_content(f"<!doctype html><html><head><style>{css}</style></head>"
                     f"<body>{''.join(body)}</body></html>")
    page.pdf(path=str(target), format="A4", print_background=False,
             margin={"top": "0", "bottom": "0", "left": "0", "right": "0"})


def assemble(body: Path, front: Path, heads: Path, outline: list[dict], facts: dict,
             target: Path) -> None:
    """The body's pages (without Chromium's tags and bookmarks), the front matter's page numbers
    and the running heads laid over them, and bookmarks made from the headings' own text."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(body), import_outline=False)
    layers = [(PdfReader(front), "front matter"), (PdfReader(heads), "running heads")]
    for reader, name in layers:
        if name == "running heads" and len(reader.pages) != len(writer.pages):
            raise SystemExit(f"make_pdf: {len(reader.pages)} pages of {name} for "
                             f"{len(writer.pages)} book pages")
        for book_page, layer in zip(writer.pages, reader.pages):
            book_page.merge_page(layer)
    for book_page in writer.pages:
        book_page.compress_content_streams()     # merge_page leaves them uncompressed
    parents: dict[int, object] = {}
    for entry in outline:
        parent = next((parents[level] for level in range(entry["level"] - 1, 0, -1)
                       if level in parents), None)
        parents[entry["level"]] = writer.add_outline_item(
            title=entry["title"], page_number=entry["page"] - 1, parent=parent)
        for deeper in [level for level in parents if level > entry["level"]]:
            del parents[deeper]
    writer.add_metadata({"/Title": facts["title"], "/Author": facts["author"],
                         "/Subject": f"Version {facts['version']}, {facts['date']}",
                         "/Creator": "tools/make_pdf.py (Chromium, pypdf)"})
    writer.page_mode = "/UseOutlines"
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    with open(target, "wb") as fh:
        writer.write(fh)


def make(out: Path, build: bool) -> dict:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    started = time.perf_counter()
    elapsed = lambda: f"{time.perf_counter() - started:.0f} s"  # noqa: E731
    facts = book_facts()
    page_file = build_single_page() if build else SINGLE / "book.html"
    log(f"single page built ({elapsed()})")
    prepare = (HERE / "pdf" / "prepare.js").read_text(encoding="utf-8")
    css = (HERE / "pdf" / "print.css").read_text(encoding="utf-8")
    body, front, heads = PDF_DIR / "body.pdf", PDF_DIR / "front.pdf", PDF_DIR / "heads.pdf"
    with serve(SINGLE) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        # the width of the printed text (170 mm), so that what is measured is what is printed
        page = browser.new_page(viewport={"width": 643, "height": 900})
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:"))
                else outside.append(r.url))
        page.goto(f"{base}/{page_file.name}", wait_until="load", timeout=300_000)
        page.wait_for_function("() => window.MathJax?.startup?.promise", timeout=60_000)
        page.evaluate("() => MathJax.startup.promise")
        page.emulate_media(media="print")
        page.add_style_tag(content=css)
        report = page.evaluate(prepare, facts)
        log(f"page prepared ({elapsed()})")
        print_pdf(page, body, outline=True)
        marks = outline_pages(body)
        pages = len(PdfReader(body).pages)
        log(f"printed: {pages} pages, {len(marks)} bookmarks ({elapsed()})")
        report.update(page.evaluate("(m) => window.pdfEdition.setPages(m)", marks))
        if report["mismatched"]:
            raise SystemExit("make_pdf: bookmarks and headings disagree: "
                             + "; ".join(report["mismatched"][:5]))
        page.evaluate("() => window.pdfEdition.frontNumbersOnly()")
        print_pdf(page, front, outline=False, background=False)   # laid over: no white
        if len(PdfReader(front).pages) != report["front_pages"]:
            raise SystemExit(f"make_pdf: the front matter printed alone has "
                             f"{len(PdfReader(front).pages)} pages, in the book "
                             f"{report['front_pages']}")
        running_heads(page, pages, report["heads"], heads)
        browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    assemble(body, front, heads, report["outline"], facts, out)
    report.update({"pages": pages, "outside_requests": outside, "facts": facts,
                   "seconds": round(time.perf_counter() - started, 1),
                   "bytes": out.stat().st_size})
    (PDF_DIR / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    site = ROOT / "_build" / "html"
    if (site / "index.html").is_file():
        shutil.copyfile(out, site / "book.pdf")
    log(f"{out.relative_to(ROOT)}: {pages} pages, {out.stat().st_size / 1e6:.1f} MB, "
        f"{report['seconds']:.0f} s")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PDF_DIR / "book.pdf")
    parser.add_argument("--no-build", action="store_true",
                        help="print the single page already in _build/pdf/src")
    args = parser.parse_args()
    if find_chromium() is None:
        message = ("make_pdf: no Chromium found, so no PDF; install Debian's (apt-get install -y "
                   "chromium) or set CHROMIUM_PATH")
        if os.environ.get("PDF_OPTIONAL") == "1":   # `make test`: the PDF checks skip, as the
            print(message, file=sys.stderr)          # browser checks of the site do
            return
        raise SystemExit(message)
    make(args.out.resolve(), build=not args.no_build)


if __name__ == "__main__":
    main()
