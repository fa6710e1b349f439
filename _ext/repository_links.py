"""The repository's URL is one setting, ``repository.url`` in _config.yml; all links derive from it.

Jupyter Book makes the source, issues and edit buttons and the Binder and Colab launch buttons
from it. This extension gives it to the book's text: ``{{ repo_url }}`` (the URL) and
``{{ repo_name }}`` (its last part, the folder ``git clone`` makes) are MyST substitutions in
prose, and are replaced in code blocks too, where MyST leaves substitutions alone (the preface's
``git clone {{ repo_url }}``). :func:`repository_url` reads the same setting for the tools that
run outside Sphinx: the student notebooks' install line and the PDF's title page.
``tests/book/test_repository_url.py`` fails if the URL is written anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

ROOT = Path(__file__).resolve().parents[1]


def repository_url(config_file: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` of the book's configuration, without a trailing slash."""
    config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    return str(config["repository"]["url"]).rstrip("/")


def substitutions(url: str) -> dict[str, str]:
    return {"repo_url": url, "repo_name": url.rsplit("/", 1)[-1]}


def fill(text: str, url: str) -> str:
    """``text`` with ``{{ repo_url }}`` and ``{{ repo_name }}`` (spaces optional) replaced."""
    for name, value in substitutions(url).items():
        for spelling in (f"{{{{ {name} }}}}", f"{{{{{name}}}}}"):
            text = text.replace(spelling, value)
    return text


def _url(config: Config) -> str:
    # Jupyter Book passes repository.url to the theme as html_theme_options["repository_url"].
    return str(config.html_theme_options["repository_url"]).rstrip("/")


def _config_inited(app: Sphinx, config: Config) -> None:
    config.myst_substitutions = {**config.myst_substitutions, **substitutions(_url(config))}


def _fill_code_blocks(app: Sphinx, doctree: nodes.document) -> None:
    url = _url(app.config)
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if "{{" in text and "repo_" in text:
            filled = fill(text, url)
            block.rawsource = filled
            block.children = [nodes.Text(filled)]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited)
    app.connect("doctree-read", _fill_code_blocks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
