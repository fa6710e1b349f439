"""Checks of the PDF edition, _build/pdf/book.pdf (``make pdf``, then ``make pdf-check``).

What the PDF is compared with comes from the book's sources, not from the PDF's maker: the chapter
and section titles of the notebooks and Markdown pages named by _toc.yml, the exercises they pose,
the figures their stored outputs hold, the version in pyproject.toml. The text is poppler's
(``pdftotext``), the images ``pdfimages``'s, the bookmarks pypdf's.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
import sys
import tomllib
import unicodedata
from functools import cache
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from chromium import find_chromium  # noqa: E402
PDF = ROOT / "_build" / "pdf" / "book.pdf"
REPORT = ROOT / "_build" / "pdf" / "report.json"
A4_WIDTH_PT = 595.28
MARGIN_PT = 20 / 25.4 * 72               # tools/make_pdf.py: 20 mm on every side
MARGIN_19MM = 19 / 25.4 * 72
MIN_PAGES = 300                           # the book printed to 462 pages on 2026-12-02


def squash(text: str) -> str:
    """Letters and digits only, lower case, compatibility forms folded (ﬁ, ᵖ, ϵ): what survives
    line breaks and typesetting."""
    return re.sub(r"[^\w]|_", "", unicodedata.normalize("NFKC", text)).lower()


def text_parts(title: str) -> list[str]:
    """A Markdown heading's words outside its formulas, with {doc} roles resolved to the titles
    they print: what the PDF must contain, in pieces."""
    title = re.sub(r"\{doc\}`([^`<]*?)\s*<[^>]*>`", r"\1", title)
    title = re.sub(r"\{doc\}`([^`]*)`", lambda m: headings_of(f"book/{m.group(1)}", 1)[0], title)
    return [part for part in re.split(r"\$[^$]*\$", title) if squash(part)]


@pytest.fixture(scope="module", autouse=True)
def tools_present():
    tools = ("pdftotext", "pdftohtml", "pdfimages", "pdfinfo")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"poppler's {', '.join(missing)} not installed (apt-get install -y "
                    "poppler-utils): the PDF is not checked")
    if not PDF.is_file():
        if find_chromium() is None:
            pytest.skip("no Chromium, so `make pdf` made no PDF (apt-get install -y chromium)")
        pytest.fail(f"no {PDF.relative_to(ROOT)}: run `make pdf` first")


@cache
def pages() -> list[str]:
    """The text of every page (pdftotext, reading order)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], check=True,
                         capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


@cache
def report() -> dict:
    return json.loads(REPORT.read_text(encoding="utf-8"))


@cache
def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def markdown_of(file: str) -> str:
    ipynb, md = ROOT / f"{file}.ipynb", ROOT / f"{file}.md"
    if ipynb.is_file():
        notebook = nbformat.read(ipynb, as_version=4)
        return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    return md.read_text(encoding="utf-8")


def headings_of(file: str, depth: int) -> list[str]:
    """Headings ``#`` to ``#`` * depth of a page's Markdown, outside fenced code blocks."""
    found, fence = [], None
    for line in markdown_of(file).splitlines():
        marker = re.match(r"^\s*(`{3,}|~{3,})", line)
        if marker:
            opened = marker.group(1)
            fence = None if fence and opened.startswith(fence) else fence or opened
            continue
        heading = re.match(rf"^(#{{1,{depth}}})\s+(.+?)\s*#*\s*$", line)
        if heading and fence is None:
            found.append(heading.group(2))
    return found


def test_page_count_and_metadata():
    info = subprocess.run(["pdfinfo", str(PDF)], check=True, capture_output=True,
                          text=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert count >= MIN_PAGES
    assert count == len(pages()) == report()["pages"]
    assert re.search(r"^Page size:.*\(A4\)", info, re.M), info


def test_no_blank_pages():
    """Every page holds more than its running head and number (a stray break prints blank ones)."""
    blank = [number for number, (height, page_words) in enumerate(words(), start=1)
             if not [w for *box, w in page_words if MARGIN_PT < box[1] < height - MARGIN_PT]]
    assert not blank, blank


def test_title_page_gives_title_version_and_date():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    first = pages()[0]
    assert squash(config["title"]) in squash(first)
    assert f"Version {version}" in first
    date = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", first)
    assert date, first
    dt.date.fromisoformat(date.group(1))
    assert config["repository"]["url"] in first


def test_every_chapter_and_section_title_is_in_the_text():
    text = squash("".join(pages()))
    titles = [(file, title) for file in toc_files() for title in headings_of(file, 3)]
    missing = [(file, title) for file, title in titles
               if not all(squash(part) in text for part in text_parts(title))]
    assert len(titles) > 200
    assert not missing, missing


@cache
def bookmarks() -> list[tuple[str, int]]:
    """Every bookmark (pypdf), at any depth, in order: its title and its page (0-based)."""
    from pypdf import PdfReader

    reader = PdfReader(PDF)
    found = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((item.title, reader.get_destination_page_number(item)))
    walk(reader.outline)
    return found


def test_every_chapter_and_section_is_a_bookmark():
    joined = "|".join(squash(title) for title, _ in bookmarks())
    missing = [(file, title) for file in toc_files() for title in headings_of(file, 3)
               if not all(squash(part) in joined for part in text_parts(title))]
    assert not missing, missing
    from pypdf import PdfReader

    top = [item.title for item in PdfReader(PDF).outline if not isinstance(item, list)]
    assert [t for t in top if t.startswith("Part ")] == [
        part["caption"] for part in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
        if part["caption"].startswith("Part ")]


def test_bookmarks_point_at_their_headings():
    """Each bookmark's page holds its title (independent of the maker's own bookkeeping): its
    words up to the first formula, whose typeset symbols the text does not keep in order."""
    wrong = []
    for title, page in bookmarks():
        plain = re.match(r"[ -~]*", title).group()    # up to a formula's symbols
        if squash(plain)[:24] not in squash(pages()[page]):
            wrong.append((title, page + 1))
    assert len(bookmarks()) > 400
    assert not wrong, wrong[:10]


def test_table_of_contents_page_numbers():
    """Every line of the printed contents names a page whose text holds that title."""
    layout = subprocess.run(["pdftotext", "-layout", "-f", "2", "-l", "12", str(PDF), "-"],
                            check=True, capture_output=True, text=True).stdout
    contents = layout.split("About this book")[0]
    entries = re.findall(r"^\s*(\S.*?\S)\s{2,}(\d+)\s*$", contents, re.M)
    titles = [t for file in toc_files() for t in headings_of(file, 2)]
    assert len(entries) >= len(titles), (len(entries), len(titles))
    wrong = [(title, page) for title, page in entries
             if squash(title)[:24] not in squash(pages()[int(page) - 1])]
    assert not wrong, wrong[:10]


@cache
def words() -> list[tuple[float, list[tuple[float, float, float, float, str]]]]:
    """Per page: its height and its words with their boxes (pdftotext -bbox), in points."""
    boxes = subprocess.run(["pdftotext", "-bbox", str(PDF), "-"], check=True,
                           capture_output=True, text=True).stdout
    found = []
    for page in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', boxes, re.S):
        found.append((float(page[0]), [
            (float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in
            re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                       r'yMax="([\d.]+)">([^<]*)</word>', page[1])]))
    return found


def test_running_heads_and_page_numbers():
    """In the bottom margin only the page's number (none on the title page); in the top margin
    the running head: the chapter's title on every page of a chapter but its first."""
    heads = report()["heads"]
    assert len(words()) == len(pages())
    for number, (height, page_words) in enumerate(words(), start=1):
        foot = [w for *box, w in page_words if box[1] > height - MARGIN_PT]
        top = " ".join(w for *box, w in page_words if box[3] < MARGIN_PT)
        assert foot == ([] if number == 1 else [str(number)]), (number, foot)
        head = next((h for h in reversed(heads) if h["page"] <= number), None)
        expected = "" if head is None or head["page"] == number else head["title"]
        assert squash(top) == squash(expected), (number, top, expected)
    chapters = [h for h in heads if h["title"][:1].isdigit()]
    assert len(chapters) == sum(1 for f in toc_files() if re.match(r"book/\d\d_", f))


def prose_text() -> str:
    """The PDF's text outside code: every run whose font is not monospaced (pdftohtml -xml)."""
    xml = subprocess.run(["pdftohtml", "-xml", "-i", "-q", "-stdout", str(PDF)], check=True,
                         capture_output=True, text=True).stdout
    mono = set(re.findall(r'<fontspec id="(\d+)"[^>]*family="[^"]*Mono[^"]*"', xml))
    runs = re.findall(r'<text [^>]*font="(\d+)"[^>]*>(.*?)</text>', xml)
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", t)) for f, t in runs if f not in mono)


def test_no_raw_tex_and_no_mathjax_error():
    text = "".join(pages())
    assert "Math input error" not in text and "Undefined control sequence" not in text
    prose = prose_text()
    assert "Batch normalization" in prose and "np.testing" not in prose   # code is left out
    raw = re.findall(r"\\[a-zA-Z]{2,}|\$\$|\\[()\[\]]", prose)
    assert not raw, raw[:10]
    assert report()["math_errors"] == 0
    assert report()["math"] > 1000          # the formulas are there, typeset


def test_every_figure_is_present():
    """At least as many distinct images as the chapters' stored outputs hold figures."""
    figures = 0
    for file in toc_files():
        path = ROOT / f"{file}.ipynb"
        if not path.is_file():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type != "code" or {"remove-cell", "remove-output"} & set(tags):
                continue
            figures += sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    listing = subprocess.run(["pdfimages", "-list", str(PDF)], check=True, capture_output=True,
                             text=True).stdout.splitlines()[2:]
    images = {(row.split()[10], row.split()[11]) for row in listing
              if row.split()[2] == "image"}      # (object, generation); soft masks excluded
    assert figures >= 30
    assert len(images) >= figures, (len(images), figures)
    assert report()["figures"] == figures


def test_solutions_are_in_the_appendix_not_under_the_exercises():
    exercises = sum(markdown_of(file).count("```{exercise}") + markdown_of(file).count(
        ":::{exercise}") for file in toc_files())
    start = next(i for i, text in enumerate(pages())
                 if "Solutions to the exercises" in text.split("\n", 3)[0:3][-1]
                 or text.lstrip().startswith("Solutions to the exercises"))
    first_chapter = squash(headings_of(toc_files()[1], 1)[0])[:30]
    chapter_1 = next(i for i, text in enumerate(pages()) if first_chapter in squash(text)[:60])
    before, after = "".join(pages()[chapter_1:start]), "".join(pages()[start:])
    assert len(re.findall(r"^Solution to Exercise [\d.]+$", after, re.M)) == exercises
    assert not re.findall(r"^Solution to Exercise [\d.]+$", before, re.M)
    # the answers' checker calls, printed only with their solutions
    assert 'check("ex-' not in before
    assert after.count('check("ex-') >= exercises // 2


def test_nothing_crosses_the_right_margin():
    """No word of text (code included) reaches into the right margin: nothing is cut. (Chromium
    rounds the 20 mm margin to whole CSS pixels: the text ends 19.4 mm from the edge.)"""
    over = [(number, box[2], w) for number, (_, page_words) in enumerate(words(), start=1)
            for *box, w in page_words if box[2] > A4_WIDTH_PT - MARGIN_19MM]
    assert not over, over[:10]
    assert report()["code_cut"] == 0 and report()["code_boxes"] > 500


def test_no_site_navigation_or_buttons():
    text = "".join(pages())
    for chrome in ("Skip to main content", "Ctrl+K", "Back to top", "Toggle navigation",
                   "Show code cell", "Download this page", "Launch", "previous page",
                   "next page", "Contents of this page"):
        assert chrome not in text, chrome
    assert report()["outside_requests"] == []


def test_the_site_links_to_the_pdf():
    intro = ROOT / "_build" / "html" / "book" / "intro.html"
    if not intro.is_file():
        pytest.skip("no built site in _build/html")
    assert 'href="../book.pdf"' in intro.read_text(encoding="utf-8")
    assert (ROOT / "_build" / "html" / "book.pdf").read_bytes() == PDF.read_bytes()


def test_no_doubled_reference_words():
    """A reference already prints its kind ("Exercise 2.7", "Fig. 2.6"): "exercise {ref}`…`" in
    the source prints "exercise Exercise 2.7"."""
    text = re.sub(r"\s+", " ", "".join(pages()))
    doubled = re.findall(r"\b(?:exercises?|figures?|fig\.|equations?|eq\.|sections?|chapters?) "
                         r"(?:Exercise|Fig\.|Figure|Equation|Section|Chapter) [\d.]+", text, re.I)
    assert not doubled, doubled[:10]
