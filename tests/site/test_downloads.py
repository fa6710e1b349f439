"""The download dropdown: notebook pages offer ``.ipynb`` and MyST ``.md``; text pages their ``.md``.

The ``.md`` of a notebook page is written at build time by ``_ext/md_download.py`` (jupytext,
format ``md:myst``): it must exist in the built site, be the same chapter as the notebook (same
title, same cells in the same order, code cells as ```` ```{code-cell} ```` blocks) and carry no
outputs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jupytext
import pytest

from sitehelpers import HTML, ROOT, book_pages


class _Downloads(HTMLParser):
    """The <title> and the entries (text, href) of the page's download dropdown."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.entries: list[dict] = []
        self._in_title = False
        self._depth = 0          # <div> nesting inside the download dropdown; 0 = outside
        self._entry: dict | None = None
        self._text = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "title":
            self._in_title = True
        if tag == "div":
            if self._depth:
                self._depth += 1
            elif "dropdown-download-buttons" in classes:
                self._depth = 1
        if not self._depth:
            return
        if tag in ("a", "button") and "dropdown-item" in classes:
            self._entry = {"href": attrs.get("href"), "text": "", "classes": classes}
            self.entries.append(self._entry)
        if tag == "span" and "btn__text-container" in classes and self._entry is not None:
            self._text = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if self._depth and tag == "div":
            self._depth -= 1
        if tag == "span":
            self._text = False
        if tag in ("a", "button"):
            self._entry = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._text and self._entry is not None:
            self._entry["text"] += data.strip()


def downloads(rel: str) -> _Downloads:
    parser = _Downloads()
    parser.feed((HTML / rel).read_text(encoding="utf-8"))
    return parser


def entry(page: _Downloads, text: str) -> dict:
    found = [e for e in page.entries if e["text"] == text]
    assert len(found) == 1, f"{len(found)} {text!r} entries in the download dropdown: {page.entries}"
    return found[0]


def target(rel: str, href: str) -> Path:
    parts = urlsplit(href)
    assert not parts.scheme and not parts.netloc, f"{rel}: download {href!r} leaves the site"
    return ((HTML / rel).parent / unquote(parts.path)).resolve()


def page_title(page: _Downloads) -> str:
    """The page's own title: <title> without the site's name and without the chapter number."""
    title = page.title.strip().rsplit(" \u2014 ", 1)[0]
    return re.sub(r"^\d+(\.\d+)*\.\s+", "", title)


def first_heading(markdown: str) -> str:
    """The first level-1 heading of a MyST file, outside its front matter and code blocks."""
    lines = markdown.splitlines()
    if lines and lines[0] == "---":
        lines = lines[lines.index("---", 1) + 1:]
    fence = None
    for line in lines:
        stripped = line.lstrip()
        match = re.match(r"(`{3,}|~{3,})", stripped)
        if match:
            if fence is None:
                fence = match.group(1)
            elif stripped.startswith(fence) and not stripped[len(fence):].strip():
                fence = None
            continue
        if fence is None and line.startswith("# "):
            return line[2:].strip()
    raise AssertionError("no level-1 heading outside the front matter and code blocks")


def notebook_pages() -> list[str]:
    """Book pages whose source is a notebook (Sphinx copied it to _sources/<page>.ipynb)."""
    return [rel for rel in book_pages()
            if (HTML / "_sources" / rel).with_suffix(".ipynb").is_file()]


def text_pages() -> list[str]:
    return [rel for rel in book_pages() if (HTML / "_sources" / rel).with_suffix(".md").is_file()
            and (ROOT / rel).with_suffix(".md").is_file()]


def test_every_chapter_notebook_is_a_notebook_page(site):
    chapters = sorted(p.relative_to(ROOT).with_suffix(".html").as_posix()
                      for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    assert chapters, "no chapter notebook book/NN_*.ipynb in the repository"
    built = [rel for rel in chapters if (HTML / rel).is_file()]
    assert built, "no chapter page was built"
    assert set(built) <= set(notebook_pages()), sorted(set(built) - set(notebook_pages()))


@pytest.mark.parametrize("rel", notebook_pages())
def test_notebook_page_offers_ipynb_and_myst_md(site, rel):
    page = downloads(rel)
    texts = [e["text"] for e in page.entries]
    assert ".ipynb" in texts and ".md" in texts, f"{rel}: download dropdown offers {texts}"
    assert texts.index(".ipynb") < texts.index(".md"), texts

    notebook_file = target(rel, entry(page, ".ipynb")["href"])
    assert notebook_file == (HTML / "_sources" / rel).with_suffix(".ipynb").resolve()
    assert notebook_file.is_file()
    myst_file = target(rel, entry(page, ".md")["href"])
    assert myst_file.is_relative_to(HTML.resolve()), f"{rel}: .md download outside the site"
    assert myst_file.is_file(), f"{rel}: the .md download {myst_file} does not exist"
    assert myst_file.with_suffix(".ipynb") == notebook_file, (myst_file, notebook_file)

    text = myst_file.read_text(encoding="utf-8")
    header = jupytext.reads(text, fmt="md:myst").metadata.get("jupytext", {})
    assert header.get("text_representation", {}).get("format_name") == "myst", header
    heading = re.sub(r"[`*]", "", first_heading(text))     # the title is text: no markup
    assert heading == page_title(page), (first_heading(text), page.title)

    notebook = jupytext.read(notebook_file, fmt="ipynb")
    as_text = jupytext.reads(text, fmt="md:myst")
    assert ([(c.cell_type, c.source) for c in as_text.cells]
            == [(c.cell_type, c.source) for c in notebook.cells]), \
        f"{rel}: the .md does not have the notebook's cells"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code, f"{rel}: the notebook has no code cell"
    assert len(re.findall(r"^```\{code-cell\}", text, re.M)) == len(code), \
        f"{rel}: not every code cell is a ```{{code-cell}} block"
    # Text only: no output of the executed notebook leaks into the .md.
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert outputs, f"{rel}: the committed notebook has no outputs to leave out"
    for output in outputs:
        data = output.get("data", {})
        for mime in ("image/png", "image/svg+xml"):
            if mime in data:
                blob = "".join(data[mime])
                assert blob[:200] not in text, f"{rel}: a {mime} output is in the .md"
    assert "application/vnd.jupyter" not in text and '"output_type"' not in text


@pytest.mark.parametrize("rel", text_pages())
def test_markdown_page_keeps_its_own_md_download(site, rel):
    page = downloads(rel)
    texts = [e["text"] for e in page.entries]
    assert ".ipynb" not in texts, f"{rel}: a text page offers a notebook: {texts}"
    assert not any("btn-download-myst-button" in e["classes"] for e in page.entries), texts
    source = target(rel, entry(page, ".md")["href"])
    assert source == (HTML / "_sources" / rel).with_suffix(".md").resolve()
    assert source.read_text(encoding="utf-8") == \
        (ROOT / rel).with_suffix(".md").read_text(encoding="utf-8"), f"{rel}: .md is not its source"


def test_there_are_text_pages_and_notebook_pages(site):
    assert notebook_pages(), "no notebook page in the built site"
    assert text_pages(), "no markdown page in the built site"


# ---------------------------------------------------------------------------------------------
# Student notebooks (_ext/student_notebooks.py): a "student .ipynb" entry on every chapter page,
# the file in exercises/, and the zip of all of them linked from the preface
# ---------------------------------------------------------------------------------------------

def _generator():
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    import student_notebooks

    return student_notebooks


def student_pages() -> list[str]:
    """Notebook pages that get a student notebook (numbered chapters; others with exercises)."""
    sn = _generator()
    return [rel for rel in notebook_pages()
            if sn.wants_student_notebook((HTML / "_sources" / rel).with_suffix(".ipynb"))]


def test_every_chapter_page_gets_a_student_notebook(site):
    chapters = [rel for rel in notebook_pages() if re.match(r"book/\d+_", rel)]
    assert chapters and set(chapters) <= set(student_pages())


@pytest.mark.parametrize("rel", student_pages())
def test_chapter_page_offers_its_student_notebook(site, rel):
    import nbformat

    sn = _generator()
    page = downloads(rel)
    texts = [e["text"] for e in page.entries]
    assert sn.BUTTON_TEXT in texts, f"{rel}: download dropdown offers {texts}"
    assert texts.index(".ipynb") < texts.index(sn.BUTTON_TEXT), texts
    student_file = target(rel, entry(page, sn.BUTTON_TEXT)["href"])
    name = Path(rel).with_suffix(".ipynb").name
    assert student_file == (HTML / sn.SITE_FOLDER / name).resolve(), student_file
    assert student_file.is_file(), f"{rel}: the student notebook {student_file} does not exist"
    # exactly the generator's output for the notebook this site was built from
    source = nbformat.read(HTML / "_sources" / Path(rel).with_suffix(".ipynb"), as_version=4)
    expected = sn.student_notebook(source)
    got = nbformat.read(student_file, as_version=4)
    assert [(c.cell_type, c.source) for c in got.cells] == \
        [(c.cell_type, c.source) for c in expected.cells], f"{rel}: stale student notebook"
    assert got.cells[0].source.startswith("**Student notebook")


def test_zip_of_student_notebooks_is_published_and_linked(site):
    import zipfile

    sn = _generator()
    archive = HTML / sn.SITE_FOLDER / sn.ZIP_NAME
    assert archive.is_file(), f"no {archive}"
    with zipfile.ZipFile(archive) as zf:
        names = sorted(Path(n).name for n in zf.namelist())
        for n in zf.namelist():
            assert zf.read(n) == (HTML / sn.SITE_FOLDER / Path(n).name).read_bytes(), n
    expected = sorted(Path(rel).with_suffix(".ipynb").name for rel in student_pages())
    assert names == expected, (names, expected)
    preface = (HTML / "book" / "preface.html").read_text(encoding="utf-8")
    assert f'href="../{sn.SITE_FOLDER}/{sn.ZIP_NAME}"' in preface, \
        "the preface does not link the zip of student notebooks"
