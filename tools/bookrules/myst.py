"""MyST Markdown parsing: code blocks, directives, displayed equations, roles, headings, and the
glossary's terms and the bibliography's keys. Regular expressions only; nothing is rendered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .toc import BIBLIOGRAPHY, GLOSSARY


FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*)$")
# Directives whose body is code, not MyST markdown: their content is ignored like a code block.
CODE_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode", "literalinclude", "raw"}


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (same character, at least as long)."""
    return re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", line) is not None


def strip_code_blocks(text: str) -> str:
    """``text`` with the contents of fenced code blocks blanked out (lines kept, so offsets and
    line numbers survive). Directive fences such as ```{exercise} are kept: their bodies are
    markdown and hold math, roles and nested directives."""
    lines = text.split("\n")
    out = []
    open_directives = []                              # fences of the directives we are inside
    i = 0
    while i < len(lines):
        line = lines[i]
        if open_directives and _closes(line, open_directives[-1]):
            open_directives.pop()
            out.append(line)
            i += 1
            continue
        m = FENCE_OPEN.match(line)
        if m:
            fence = m.group("fence")
            d = DIRECTIVE_INFO.match(m.group("info").strip())
            if d and d.group("name") not in CODE_DIRECTIVES:
                open_directives.append(fence)
            elif fence[0] != ":":                     # a code block: blank it up to its fence
                out.append(line)
                i += 1
                while i < len(lines) and not _closes(lines[i], fence):
                    out.append("")
                    i += 1
                if i < len(lines):
                    out.append(lines[i])
                    i += 1
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


@dataclass
class Directive:
    """A MyST directive: ```{name} argument, then :option: lines, then the body."""
    name: str
    argument: str
    options: dict
    body: str
    cell: int
    start: int          # offset of the opening fence in the cell's source


def find_directives(text: str, cell: int = -1) -> list[Directive]:
    """All directives in a markdown text, nested ones included, in order of their opening fence."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    found = []
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        d = DIRECTIVE_INFO.match(m.group("info").strip()) if m else None
        if not d:
            i += 1
            continue
        fence = m.group("fence")
        j = i + 1
        options = {}
        if j < len(lines) and lines[j].strip() == "---":          # YAML option block
            k = j + 1
            while k < len(lines) and lines[k].strip() != "---":
                k += 1
            try:
                options = yaml.safe_load("\n".join(lines[j + 1:k])) or {}
            except yaml.YAMLError:
                options = {}
            j = k + 1
        else:
            while j < len(lines):
                opt = re.match(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", lines[j])
                if not opt:
                    break
                options[opt.group(1)] = opt.group(2).strip()
                j += 1
        body_start = j
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        body = "\n".join(lines[body_start:j])
        found.append(Directive(d.group("name"), d.group("arg").strip(), options, body, cell,
                               offsets[i]))
        found.extend(Directive(n.name, n.argument, n.options, n.body, cell,
                               offsets[body_start] + n.start)
                     for n in find_directives(body, cell))
        i = j + 1
    return found


@dataclass
class Equation:
    """A displayed equation. ``label`` is None for an unnumbered display."""
    label: str | None
    cell: int
    start: int          # offset in the cell's (code-stripped) source, for ordering within a cell
    kind: str           # "dollar" ($$ … $$ (label)), "math" ({math} directive) or "amsmath"


DOLLAR_DISPLAY = re.compile(r"\$\$(?P<math>.+?)\$\$(?:[ \t]*\((?P<label>[^()\s]+)\))?", re.DOTALL)
AMSMATH_ENV = re.compile(
    r"^[ \t]*\\begin\{(?P<env>equation|align|alignat|gather|multline|eqnarray|flalign)"
    r"(?P<star>\*?)\}"
    r"(?P<body>.*?)\\end\{(?P=env)(?P=star)\}", re.DOTALL | re.MULTILINE)


def find_equations(text: str, cell: int = -1) -> list[Equation]:
    """Displayed equations of a markdown text: MyST dollar-math displays, ``{math}`` directives
    and top-level amsmath environments. Code blocks and inline code are ignored."""
    text = strip_code_blocks(text)
    # blank inline code (`$$` in backticks is not math), keeping offsets
    text = re.sub(r"(?<!`)`[^`\n]+`(?!`)", lambda m: " " * len(m.group(0)), text)
    found = []
    spans = []
    for m in DOLLAR_DISPLAY.finditer(text):
        found.append(Equation(m.group("label"), cell, m.start(), "dollar"))
        spans.append(m.span())
    for d in find_directives(text, cell):
        if d.name == "math":
            found.append(Equation(d.options.get("label") or None, cell, d.start, "math"))
            spans.append((d.start, d.start + len(d.body) + 10))
    for m in AMSMATH_ENV.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue                                  # an environment inside $$ … $$ or {math}
        label = re.search(r"\\label\{([^}]+)\}", m.group("body"))
        found.append(Equation(label.group(1) if label else None, cell,
                              m.start(), "amsmath"))
    return sorted(found, key=lambda e: e.start)


def find_role_targets(text: str, role: str) -> list[str]:
    """Targets of ``{role}`text <target>``` or ``{role}`target```, whitespace normalised."""
    targets = []
    for m in re.finditer(r"\{" + re.escape(role) + r"(?::[\w-]+)?\}`([^`]+)`", text):
        content = " ".join(m.group(1).split())
        explicit = re.match(r"^(.*?)\s*<([^<>]+)>$", content)
        targets.append(explicit.group(2).strip() if explicit else content)
    return targets


def find_citations(text: str) -> list[str]:
    """Keys of ``{cite}`a,b``` and its ``{cite:p}``/``{cite:t}`` … variants."""
    keys = []
    for m in re.finditer(r"\{cite(?::[\w-]+)?\}`([^`]+)`", text):
        keys.extend(k.strip() for k in m.group(1).split(",") if k.strip())
    return keys


def find_headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every ATX heading outside code blocks."""
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", strip_code_blocks(text), re.M)]


def read_glossary_terms(path: Path = GLOSSARY) -> set[str]:
    """Lower-cased terms of every ``{glossary}`` directive in a page (Sphinx matches terms
    case-insensitively). Term lines are unindented; definitions are indented under them."""
    terms = set()
    for d in find_directives(path.read_text(encoding="utf-8")):
        if d.name != "glossary":
            continue
        for line in d.body.split("\n"):
            if line.strip() and not line[0].isspace() and not re.match(r"^:[\w-]+:", line):
                term = line.split(" : ")[0]           # "term : classifier"
                terms.add(" ".join(term.split()).lower())
    return terms


def read_bib_keys(path: Path = BIBLIOGRAPHY) -> set[str]:
    return set(re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", path.read_text(encoding="utf-8"), re.M))
