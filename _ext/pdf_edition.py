"""Let the single-page HTML builder render the book, for the PDF edition (``make pdf``).

``tools/make_pdf.py`` builds the whole book as one HTML page (Sphinx's ``singlehtml`` builder)
and prints it with Chromium. Sphinx looks up the visit/depart handlers of extension nodes under
the builder's name and falls back to its format ("html") only when the builder has *none*
registered. sphinx-exercise registers a few for ``singlehtml``, so every other extension's HTML
handlers (myst-nb's hidden-cell node, sphinx-togglebutton, sphinx-design, ...) are then ignored
and the first such node raises ``NotImplementedError``. At ``builder-inited`` this copies every
HTML handler that the single-page builder lacks; the ordinary HTML build is left untouched.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _share_html_handlers(app: Sphinx) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, pair in handlers.get("html", {}).items():
        single.setdefault(node_name, pair)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _share_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
