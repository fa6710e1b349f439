"""Student notebooks: each chapter with its solutions removed and its exercise stubs left to fill.

One module, three users:

- ``make exercises`` runs it as a script (``python _ext/student_notebooks.py --out DIR``): one
  student notebook per chapter in ``DIR`` (same file names as ``book/``) and
  ``DIR/student-notebooks.zip`` with all of them;
- the Sphinx extension below (``setup``) writes the same files into the built site
  (``_build/html/exercises/``) and adds a "student .ipynb" entry to each chapter's download
  dropdown;
- the tests (``tests/exercises/``) call :func:`student_notebook` and :func:`solution_regions`.

The book notebook is the single source. It marks the exercises as BOOK_CONTRACT.md says, and this
pass reads exactly that (a small nbformat pass, no grading framework: nbgrader's ClearSolutions and
otter-assign mark solutions *inside* cells with comment delimiters and their own metadata, and
cannot drop a run of cells that sphinx-exercise's gated directives open and close):

- a markdown cell opening ```{solution-start} LABEL``` (backtick or colon fence), everything after
  it up to and including the markdown cell with ```{solution-end}```: dropped (prose, code, outputs;
  text in the opening cell before the directive and in the closing cell after it is kept);
- a plain ```{solution} LABEL``` directive in a markdown cell: the directive block is removed, and
  the cell dropped if nothing else is left;
- cells tagged ``exercise-stub`` and ``exercise-check``: kept, with the ``remove-cell`` tag (which
  hides them on the site) removed and their outputs cleared;
- a cell tagged ``solution-answer`` anywhere: dropped (it belongs inside a gated solution);
- every other cell: kept with its outputs (the student keeps the chapter's figures); execution
  counts and execution metadata are removed;
- markdown is made readable outside Jupyter Book: each ```{exercise}``` becomes a bold
  "Exercise" line with its label, and roles become plain text ({term}`stride` -> stride,
  {eq}`eq-x` -> (eq-x), {cite}`key` -> [key]).

A short first cell says what the notebook is and how to work with it.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import yaml
from repository_links import repository_url

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"
STUB, CHECK, ANSWER = "exercise-stub", "exercise-check", "solution-answer"
HIDING_TAGS = ("remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input",
               "hide-output")
ZIP_NAME = "student-notebooks.zip"
SITE_FOLDER = "exercises"            # _build/html/exercises/NN_name.ipynb and the zip
BUTTON_LABEL = "download-student-button"
BUTTON_TEXT = "student .ipynb"


def colab_install() -> str:
    """The install line for Colab, from the one repository setting (``repository.url``)."""
    return f'%pip install \\\n        "cnn_core[data] @ git+{repository_url()}"'


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*(?P<info>.*?)[ \t]*$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*)$")


# ---------------------------------------------------------------------------------------------
# Reading the MyST of a markdown cell
# ---------------------------------------------------------------------------------------------

def _closes(line: str, fence: str) -> bool:
    return re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", line) is not None


def directive_blocks(text: str) -> list[tuple[str, str, int, int]]:
    """(name, argument, first line, last line + 1) of every top-level directive of a MyST text.

    Code blocks are skipped (a directive shown inside ```` ```markdown ```` is not one), and so is
    the body of each directive found (nested directives are part of their parent's block).
    """
    lines = text.split("\n")
    found = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        d = DIRECTIVE.match(m.group("info"))
        if d:
            found.append((d.group("name"), d.group("arg").strip(), i, min(j + 1, len(lines))))
        i = j + 1
    return found


def _find(text: str, name: str):
    return [b for b in directive_blocks(text) if b[0] == name]


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


# ---------------------------------------------------------------------------------------------
# Solution regions and the student notebook
# ---------------------------------------------------------------------------------------------

def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_regions(nb) -> list[dict]:
    """Where the solutions of a book notebook are: a list of regions, each a dict with

    ``label``, ``kind`` ("gated" or "plain"), ``start``/``end`` (indices of the cells holding the
    opening and the closing directive), ``cells`` (indices of the cells wholly inside the
    solution), ``prose`` (the solution's markdown text) and ``answers`` (sources of its
    ``solution-answer`` cells). A gated region that is never closed runs to the notebook's end.
    """
    regions = []
    current = None                                   # the gated region being read
    for index, cell in enumerate(nb.cells):
        if current is not None and not (cell.cell_type == "markdown"
                                        and _find(cell.source, "solution-end")):
            current["cells"].append(index)
            if cell.cell_type == "markdown":
                current["prose"].append(cell.source)
            elif ANSWER in _tags(cell):
                current["answers"].append(cell.source)
            continue
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for name, arg, first, last in directive_blocks(cell.source):
            if name == "solution" and current is None:
                regions.append({"label": arg, "kind": "plain", "start": index, "end": index,
                                "cells": [], "prose": [_join(lines[first:last])], "answers": []})
            elif name == "solution-start" and current is None:
                current = {"label": arg, "kind": "gated", "start": index, "end": None,
                           "cells": [], "prose": [], "answers": [], "_from": last}
            elif name == "solution-end" and current is not None:
                begin = current.pop("_from", 0) if current["start"] == index else 0
                current["prose"].append(_join(lines[begin:first]))
                current["end"] = index
                regions.append(current)
                current = None
        if current is not None and "_from" in current:
            current["prose"].append(_join(lines[current.pop("_from"):]))
    if current is not None:
        current.pop("_from", None)
        current["end"] = len(nb.cells)
        regions.append(current)
    for region in regions:
        region["prose"] = "\n\n".join(p for p in region["prose"] if p.strip())
    return regions


def _strip_markdown(text: str) -> tuple[str, bool]:
    """(text without its plain {solution} blocks and its gated parts, whether a gated solution is
    left open at the end of the text). Text between a solution-end and a solution-start stays."""
    lines = text.split("\n")
    keep = [True] * len(lines)
    opened = False
    blocks = directive_blocks(text)
    position = 0
    for name, _, first, last in blocks:
        if name == "solution":
            keep[first:last] = [False] * (last - first)
        elif name == "solution-start":
            opened, position = True, first
            keep[first:] = [False] * (len(lines) - first)
        elif name == "solution-end" and opened:
            opened = False
            keep[position:last] = [False] * (last - position)
            keep[last:] = [True] * (len(lines) - last)
    kept = [line for line, k in zip(lines, keep) if k]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n"), opened


def plain_exercises(text: str) -> str:
    """Each ```{exercise}``` block as plain Markdown, which Jupyter, Colab and VS Code render
    (inside a fence its math and formatting would show as raw text): a bold "Exercise" line with
    the label (and the class, e.g. derivation), then the body."""
    lines = text.split("\n")
    for name, _, first, last in reversed(directive_blocks(text)):
        if name != "exercise":
            continue
        body = lines[first + 1:last - 1 if last - 1 > first else last]
        options = {}
        while body and re.match(r"^[ \t]*:([\w-]+):", body[0]):
            key, _, value = body.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        head = "**Exercise**"
        if options.get("label"):
            head += f" `{options['label']}`"
        if options.get("class"):
            head += f" *({options['class']})*"
        lines[first:last] = [head, ""] + _dedent_body(body)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]+)`")


def _role_text(m: re.Match) -> str:
    role, content = m.group("role"), " ".join(m.group("content").split())
    explicit = re.match(r"^(.*?)\s*<([^<>]+)>$", content)
    text, target = (explicit.group(1), explicit.group(2)) if explicit else (content, content)
    if role in ("eq",):
        return f"({target})"                         # displays show their label as "(eq-…)"
    if role.startswith("cite"):
        return "[" + ", ".join(k.strip() for k in target.split(",")) + "]"
    if role == "math":
        return f"${content}$"
    if role in ("func", "class", "meth", "mod", "attr", "obj", "data", "py:func", "py:class"):
        return f"`{target.lstrip('~')}`"
    if role in ("term", "ref", "doc", "numref", "download"):
        return text if explicit else {"numref": f"({target})"}.get(role, target)
    return m.group(0)


def plain_roles(text: str) -> str:
    """MyST roles as plain Markdown that Jupyter and Colab render: {term}`stride` -> stride,
    {eq}`eq-x` -> (eq-x) (the label printed next to its display), {cite}`a,b` -> [a, b],
    {doc}/{ref}/{numref} -> their text, {func}`cnn_core.f` -> `cnn_core.f`. Code blocks are left
    as they are."""
    lines = text.split("\n")
    out, fence = [], None
    for line in lines:
        m = FENCE.match(line)
        if m and fence is None and not DIRECTIVE.match(m.group("info")):
            fence = m.group("fence")
        elif fence is not None and _closes(line, fence):
            fence = None
        elif fence is None:
            line = ROLE.sub(_role_text, line)
        out.append(line)
    return "\n".join(out)


def _dedent_body(body: list[str]) -> list[str]:
    while body and not body[0].strip():
        body = body[1:]
    return body


def student_notebook(nb, title: str | None = None):
    """The student version of a book notebook (a new notebook; ``nb`` is left unchanged)."""
    nb = copy.deepcopy(nb)
    cells = []
    inside = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = cell.source
            if inside:
                ends = _find(text, "solution-end")
                if not ends:
                    continue
                inside = False
                text = "\n".join(text.split("\n")[ends[0][3]:])
            text, inside = _strip_markdown(text)
            text = plain_roles(plain_exercises(text))
            if text.strip():
                cell.source = text
                cells.append(cell)
            continue
        if inside or ANSWER in _tags(cell):
            continue
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.execution_count = None
            tags = _tags(cell)
            if STUB in tags or CHECK in tags:
                cell.outputs = []
                cell.metadata["tags"] = [t for t in tags if t not in HIDING_TAGS]
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
        cells.append(cell)
    nb.cells = [introduction(title or _title(nb))] + cells
    nb.metadata.pop("widgets", None)
    nb.metadata["cnn_core"] = {"student_notebook": True}
    return nb


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", cell.source, re.M)
            if m:
                return m.group(1)
    return "this chapter"


def introduction(title: str):
    """The first cell of a student notebook: what it is and how to work with it."""
    text = f"""**Student notebook: {title}.** This is the chapter with every solution taken out.
Each exercise that asks for code has a *stub* cell for your answer (it says what to write and
still raises `NotImplementedError` or holds `...`) and a *checker* cell right below it.

How to work: run all cells once (Run All does not stop at unfinished stubs). Then fill in a stub,
run it, and run its checker. The checker prints one of three verdicts:

- **not done yet**: the stub is still a stub;
- **not yet right**: what differs (the shape expected and got, or the first differing element
  with both values) and, when your answer matches a classic mistake, a hint that names it;
- **correct**: your answer agrees with the reference on every case checked.

The solutions are on the book's site, folded under each exercise. On Colab (or anywhere
`cnn_core` is not installed), first run this in a new cell:

    {colab_install()}
"""
    return nbformat.v4.new_markdown_cell(text)


# ---------------------------------------------------------------------------------------------
# Which notebooks, and writing them
# ---------------------------------------------------------------------------------------------

def _toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found.extend(_toc_files(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_toc_files(child))
    return found


def has_exercises(path: Path) -> bool:
    """Whether a notebook has an {exercise} directive in one of its markdown cells."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable (e.g. being written): treat as none
        return False
    return any(name == "exercise" for cell in nb.cells if cell.cell_type == "markdown"
               for name, *_ in directive_blocks(cell.source))


def is_chapter(path: Path) -> bool:
    """A numbered chapter (``book/NN_name.ipynb``)."""
    return path.suffix == ".ipynb" and re.match(r"^\d+_", path.name) is not None


def wants_student_notebook(path: Path) -> bool:
    """Every numbered chapter; any other notebook page (the appendix) if it has exercises."""
    return path.suffix == ".ipynb" and (is_chapter(path) or has_exercises(path))


def book_notebooks(toc: Path = TOC) -> list[Path]:
    """The notebooks that get a student version, in the order of _toc.yml."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    entries = ([data["root"]] if data.get("root") else []) + _toc_files(data)
    paths = []
    for entry in entries:
        path = toc.parent / entry
        path = path if path.suffix else path.with_suffix(".ipynb")
        if path.is_file() and wants_student_notebook(path):
            paths.append(path)
    return paths


def write_student_notebook(source: Path, out_dir: Path) -> Path:
    nb = nbformat.read(source, as_version=4)
    target = Path(out_dir) / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(student_notebook(nb)) + "\n"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def write_zip(paths: list[Path], zip_path: Path) -> Path:
    """All student notebooks in one zip (a folder ``student-notebooks/`` inside), written fresh."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            info = zipfile.ZipInfo(f"student-notebooks/{path.name}",
                                   date_time=(2026, 1, 1, 0, 0, 0))     # reproducible zip
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(zip_path)
    return zip_path


def write_all(out_dir: Path, toc: Path = TOC) -> list[Path]:
    """Write every student notebook and the zip into ``out_dir``; return the notebooks."""
    out_dir = Path(out_dir)
    paths = [write_student_notebook(p, out_dir) for p in book_notebooks(toc)]
    wanted = {p.name for p in paths}
    for stale in out_dir.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    write_zip(paths, out_dir / ZIP_NAME)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "exercises"),
                        help="folder for the student notebooks and the zip "
                             "(default: _build/exercises)")
    parser.add_argument("--toc", default=str(TOC), help="the book's _toc.yml")
    args = parser.parse_args(argv)
    paths = write_all(Path(args.out), Path(args.toc))
    for path in paths:
        print(f"wrote {path}")
    print(f"wrote {Path(args.out) / ZIP_NAME} ({len(paths)} notebooks)")
    return 0


# ---------------------------------------------------------------------------------------------
# Sphinx: the student notebook in each chapter's download dropdown, and the zip in the site
# ---------------------------------------------------------------------------------------------

def _site_folder(app) -> Path:
    return Path(app.outdir) / SITE_FOLDER


def add_student_button(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Write the page's student notebook and put a link to it after the ".ipynb" entry."""
    if app.builder.format != "html" or pagename not in app.env.found_docs:
        return
    source = Path(app.env.doc2path(pagename))
    if not wants_student_notebook(source):
        return
    write_student_notebook(source, _site_folder(app))
    from md_download import insert_download_link      # the same dropdown, the same rule
    insert_download_link(context, {
        "type": "link",
        "url": f"{context['pathto'](SITE_FOLDER, 1)}/{source.name}",
        "text": BUTTON_TEXT,
        "tooltip": "Download the student notebook: the chapter without its solutions, "
                   "with stubs to fill in and checkers",
        "icon": "fas fa-pen",
        "label": BUTTON_LABEL,
    })


def write_site_files(app, exception) -> None:
    """After the build: every student notebook (also of pages not rewritten) and the zip."""
    if exception is not None or app.builder.format != "html":
        return
    paths = []
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if not wants_student_notebook(source):
            continue
        # the copy this build serves as the page's .ipynb, so that the two always agree
        served = Path(app.outdir) / "_sources" / (docname + source.suffix)
        paths.append(write_student_notebook(served if served.is_file() else source,
                                            _site_folder(app)))
    write_zip(paths, _site_folder(app) / ZIP_NAME)


def setup(app) -> dict:
    # Later than sphinx-book-theme's add_header_buttons (501) and md_download (600).
    app.connect("html-page-context", add_student_button, priority=610)
    app.connect("build-finished", write_site_files)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
