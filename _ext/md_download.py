"""Offer every notebook page as MyST Markdown in its download dropdown (".md" next to ".ipynb").

When an HTML page is written, each page whose source is a notebook (``book/NN_name.ipynb``) is
converted with jupytext to its MyST Markdown text form (format ``md:myst``: markdown cells as
text, code cells as ```` ```{code-cell} ```` blocks, no outputs) and written next to the copy of
the notebook that Sphinx already serves, ``_build/html/_sources/book/NN_name.md``. The file is
produced at build time only, so the committed notebook stays the single source of truth; it opens
in Jupyter with jupytext and converts back with ``jupytext --to ipynb``.

The download dropdown of sphinx-book-theme (``context["header_buttons"]``, filled in its
``html-page-context`` handlers at priority 501) gets a ".md" entry after the ".ipynb" one on those
pages. Markdown pages are left alone: their dropdown already offers their own ``.md`` source.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
FORMAT = "md:myst"
LABEL = "download-myst-button"
SOURCES = "_sources"


def _notebook_docs(app: Sphinx) -> dict[str, Path]:
    """docname -> source path of every document in the build whose source is a notebook."""
    env = app.env
    docs = {}
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if path.suffix == ".ipynb":
            docs[docname] = path
    return docs


def _markdown_name(docname: str) -> str:
    """The MyST file's path under _sources/ (POSIX), e.g. ``book/02_convolution.md``."""
    return docname + ".md"


def add_markdown_button(app: Sphinx, pagename: str, templatename: str, context: dict,
                        doctree) -> None:
    """Put a ".md" link after the ".ipynb" one in a notebook page's download dropdown."""
    if app.builder.format != "html" or pagename not in app.env.found_docs:
        return
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return
    # Written with the page, as Sphinx copies the page's .ipynb to _sources/ right after this event.
    _write_markdown(app, pagename, source)
    insert_download_link(context, {
        "type": "link",
        "url": f"{context['pathto'](SOURCES, 1)}/{_markdown_name(pagename)}",
        "text": ".md",
        "tooltip": "Download as MyST Markdown (text only, opens in Jupyter with jupytext)",
        "icon": "fab fa-markdown",
        "label": LABEL,
    })


def insert_download_link(context: dict, link: dict) -> None:
    """Put ``link`` into the page's download dropdown after the last notebook link (".ipynb"),
    before ".pdf" (at the end if there is none), unless a link with its label is there already.
    Also used by ``student_notebooks`` for the student notebook's entry."""
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        if any(button.get("label") == link["label"] for button in buttons):
            return
        position = len(buttons)
        for index, button in enumerate(buttons):
            if button.get("type") == "link" and button.get("text") == ".ipynb":
                position = index + 1
        buttons.insert(position, link)
        return


def _write_markdown(app: Sphinx, docname: str, source: Path) -> None:
    text = jupytext.writes(jupytext.read(source, fmt="ipynb"), fmt=FORMAT)
    target = Path(app.outdir) / SOURCES / _markdown_name(docname)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def write_missing_markdown(app: Sphinx, exception: Exception | None) -> None:
    """After the build, write the MyST copy of any notebook page that was not written this time.

    Pages rewritten in this build got theirs in add_markdown_button, at the moment Sphinx copies
    the page's .ipynb to _sources/ as well; this covers an output folder whose _sources/ lost a
    file while the page itself was up to date.
    """
    if exception is not None or app.builder.format != "html":
        return
    docs = _notebook_docs(app)
    for docname, source in docs.items():
        if not (Path(app.outdir) / SOURCES / _markdown_name(docname)).is_file():
            _write_markdown(app, docname, source)
    LOGGER.info("md_download: MyST Markdown of %d notebooks in %s", len(docs),
                Path(app.outdir) / SOURCES)


def setup(app: Sphinx) -> dict:
    # Later than sphinx-book-theme's add_header_buttons (priority 501), which builds the dropdown.
    app.connect("html-page-context", add_markdown_button, priority=600)
    app.connect("build-finished", write_missing_markdown)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
