"""Static checks of the built site: internal links, anchors, images, offline assets, the API reference.

Every HTML file under _build/html is parsed; every ``href``/``src`` that stays inside the site must
name an existing file, and every ``#fragment`` must name an ``id`` (or ``name``) in its target page.
"""

from __future__ import annotations

import html
import inspect
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

import cnn_core

from sitehelpers import HTML, ROOT, book_pages, html_pages, meaningful_alt

EXTERNAL_SCHEMES = {"http", "https", "mailto", "javascript", "data", "tel", "ftp"}
LINK_ATTRS = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src",
              "iframe": "src", "video": "src", "audio": "src"}
# Resources the browser fetches by itself when a page loads (links <a> are only followed on click).
LOADED = {"link", "img", "script", "source", "iframe", "video", "audio"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, int]] = []   # (tag, url, line)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        attr = LINK_ATTRS.get(tag)
        if attr and attrs.get(attr):
            self.links.append((tag, attrs[attr], self.getpos()[0]))
        if tag == "img" and attrs.get("srcset"):
            for part in attrs["srcset"].split(","):
                self.links.append((tag, part.split()[0], self.getpos()[0]))

    handle_startendtag = handle_starttag


_parsed: dict[Path, _Page] = {}


def parse(path: Path) -> _Page:
    if path not in _parsed:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        _parsed[path] = page
    return _parsed[path]


def test_site_has_pages(site):
    pages = html_pages()
    assert "index.html" in pages and "search.html" in pages, pages
    assert book_pages(), "no book/*.html page was built"


PDF_EDITION = (HTML / "book.pdf").resolve()


def test_internal_links_and_anchors(site):
    """No broken internal link, missing image or missing anchor anywhere in _build/html."""
    problems = []
    checked = 0
    for rel in html_pages():
        path = site / rel
        for tag, url, line in parse(path).links:
            parts = urlsplit(url)
            if parts.scheme in EXTERNAL_SCHEMES or parts.netloc:
                continue
            checked += 1
            if parts.path:
                if parts.path.startswith("/"):
                    problems.append(f"{rel}:{line}: <{tag}> {url!r} is site-absolute (breaks on "
                                    "GitHub Pages under /<repo>/)")
                    continue
                target = (path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = path
            if target == PDF_EDITION and not target.exists():
                continue        # made by `make pdf` alongside these checks; tests/pdf checks it
            if not target.exists():
                problems.append(f"{rel}:{line}: <{tag}> {url!r} -> missing file "
                                f"{target.relative_to(site) if target.is_relative_to(site) else target}")
                continue
            if not target.is_relative_to(site.resolve()):
                problems.append(f"{rel}:{line}: <{tag}> {url!r} points outside the site")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{rel}:{line}: <{tag}> {url!r}: no id {fragment!r} in "
                                f"{target.relative_to(site.resolve())}")
    assert checked > 100, f"only {checked} internal links found: is the site complete?"
    assert not problems, f"{len(problems)} broken internal links:\n" + "\n".join(problems[:60])


def test_page_load_resources_are_local(site):
    """Offline-capable: scripts, stylesheets and images that load with a page come from the site."""
    problems = []
    for rel in html_pages():
        for tag, url, line in parse(site / rel).links:
            parts = urlsplit(url)
            if tag in LOADED and (parts.netloc or parts.scheme in {"http", "https"}):
                problems.append(f"{rel}:{line}: <{tag}> loads {url}")
    assert not problems, "pages load resources from outside the site:\n" + "\n".join(problems)


def test_mathjax_is_served_from_the_site(site):
    script = site / "_static" / "mathjax" / "tex-chtml.js"
    assert script.is_file(), f"{script} missing: is sphinx-mathjax-offline in the extensions?"
    fonts = list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert fonts, "MathJax's CHTML fonts are not in the site"
    pages_with_math = 0
    for rel in html_pages():
        srcs = [url for tag, url, _ in parse(site / rel).links if tag == "script" and "mathjax" in url]
        assert all("_static/mathjax/tex-chtml.js" in u for u in srcs), (rel, srcs)
        if 'class="math' in (site / rel).read_text(encoding="utf-8"):
            pages_with_math += 1
            assert srcs, f"{rel} has math but loads no MathJax"
    assert pages_with_math >= 3, "hardly any page has math: is dollarmath enabled?"


def _public_api() -> list[str]:
    return sorted(name for name, obj in vars(cnn_core).items()
                  if not name.startswith("_") and not inspect.ismodule(obj))


def _inventory(site) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as fh:
        inv = InventoryFile.load(fh, "", lambda base, uri: uri)
    return {name for kind, items in inv.items() if kind.startswith("py:") for name in items}


def test_api_reference_documents_every_public_name(site):
    """book/api.md documents every name exported by cnn_core (autodoc), under cnn_core.<name>."""
    documented = _inventory(site)
    missing = [name for name in _public_api() if f"cnn_core.{name}" not in documented
               and not any(d.startswith("cnn_core.") and d.endswith("." + name) for d in documented)]
    assert not missing, ("exported by cnn_core but not in the API reference (add an autofunction/"
                         f"autoclass line to book/api.md): {missing}")
    for module in ("cnn_core.naive", "cnn_core.data"):
        assert module in documented, module


def test_api_functions_resolve_under_their_top_level_name(site):
    """{func}`cnn_core.conv2d` resolves: the API page has the anchor, and the reference pages link it."""
    api = parse(site / "book" / "api.html")
    for name in ("cnn_core.conv2d", "cnn_core.max_pool2d", "cnn_core.rot180", "cnn_core.up",
                 "cnn_core.check_implementation", "cnn_core.Conv2D"):
        assert name in api.ids, f"no anchor #{name} in book/api.html"
    notation = parse(site / "book" / "notation.html")
    hrefs = {url for tag, url, _ in notation.links if tag == "a"}
    assert "api.html#cnn_core.conv2d" in hrefs, "notation page does not link {func}`cnn_core.conv2d`"


def test_api_reference_renders_math_from_docstrings(site):
    text = (site / "book" / "api.html").read_text(encoding="utf-8")
    assert text.count('class="math') >= 20, "docstrings' :math: roles were not rendered as math"
    assert "System Message" not in text and "problematic" not in text
    # A directive swallowed by a numpydoc section (napoleon) shows up as literal text.
    assert ".. math::" not in text, "a '.. math::' block in a docstring was rendered as text"


def test_bibliography_and_glossary_pages(site):
    bib = (site / "book" / "bibliography.html").read_text(encoding="utf-8")
    assert "Bouvrie" in bib and "Dumoulin" in bib
    glossary = parse(site / "book" / "glossary.html")
    assert sum(1 for i in glossary.ids if i.startswith("term-")) >= 20


def test_figures_have_alt_text_in_html(site):
    """Every image in the book's pages has alt text that is not empty, a file name or a hash."""
    bad = []
    for rel in book_pages():
        for match in re.finditer(r"<img\b[^>]*>", (site / rel).read_text(encoding="utf-8")):
            alt = re.search(r'\balt="([^"]*)"', match.group(0))
            alt_text = alt.group(1).strip() if alt else ""
            if not meaningful_alt(alt_text):
                bad.append(f"{rel}: {match.group(0)[:160]}")
    assert not bad, "images without meaningful alt text:\n" + "\n".join(bad)


@pytest.mark.parametrize("alt,ok", [("", False), ("_images/3f2a.png", False), ("fig.png", False),
                                    ("3f2a9c0b1d2e", False), ("Kernel", False),
                                    ("A 3×3 kernel sliding over a 6×6 image", True)])
def test_meaningful_alt_rejects_file_names_and_hashes(alt, ok):
    assert meaningful_alt(alt) is ok


def test_links_derive_from_the_repository_setting(site):
    """Every link to the repository is made from repository.url (tests/book checks that no other
    copy exists): the buttons, Binder and Colab, and the preface's clone and install lines."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    owner_name = "/".join(url.rstrip("/").split("/")[-2:])
    chapter = (site / "book" / "01_images_as_data.html").read_text(encoding="utf-8")
    for expected in (f'href="{url}"', f'href="{url}/edit/main/book/01_images_as_data.ipynb"',
                     f"https://mybinder.org/v2/gh/{owner_name}/main?",
                     f"https://colab.research.google.com/github/{owner_name}/blob/main/"):
        assert expected in chapter, expected
    preface = html.unescape(re.sub(r"<[^>]+>", "", (site / "book" / "preface.html")
                                   .read_text(encoding="utf-8")))
    assert f"git clone {url}\ncd {owner_name.split('/')[1]}\n" in preface
    assert f'"cnn_core[data] @ git+{url}"' in preface
    assert "{{" not in preface
