"""Real-browser checks of the built site: Playwright driving Debian's Chromium.

Every page of _build/html is opened from a local HTTP server (127.0.0.1, a free port) and must:
typeset its math with MathJax without errors, load every image, give every figure meaningful alt
text, send no request anywhere but the local server, pass axe-core with no critical violation in
the book's content, and keep its figures on a white background in dark mode. At a 1280x900
window, with every dropdown opened, no code block (cell input or output, or any ``pre``) may be
wider than its box, and no typeset formula may show a literal backslash. A closed solution
dropdown shows none of its solution's outputs, and opening it shows them. Screenshots of each
page in light and dark mode go to _build/screenshots/{light,dark}/ for inspection; serious axe
findings go to _build/screenshots/axe-report.txt.

The test skips (with a message) when no Chromium is available; `.ci/run` installs Debian's.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from urllib.parse import urlsplit

import pytest

from sitehelpers import HTML, SCREENSHOTS, book_pages, html_pages, meaningful_alt

# The chapter that must contain a solution dropdown, and what searching for "padding" must find.
DROPDOWN_PAGE = os.environ.get("SITE_DROPDOWN_PAGE", "book/02_convolution.html")
SEARCH_TERM = os.environ.get("SITE_SEARCH_TERM", "padding")
SEARCH_EXPECT = os.environ.get("SITE_SEARCH_EXPECT", "book/02_convolution")
TIMEOUT_MS = 20_000


def _browser_pages() -> list[str]:
    """Pages to open: everything except redirect stubs (index.html only forwards to the intro)."""
    pages = []
    for rel in html_pages():
        head = (HTML / rel).read_text(encoding="utf-8")[:2000]
        if re.search(r'http-equiv="refresh"', head, re.I):
            continue
        pages.append(rel)
    return pages or ["(no site built)"]


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block",
                              reduced_motion="reduce")
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


class _Guard:
    """Routes every request of a page: local ones go through, anything else is recorded and aborted."""

    def __init__(self, page, base):
        self.base = base
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("requestfailed", lambda req: self.failed.append(f"{req.url} ({req.failure})"))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base + "/") or urlsplit(url).scheme in {"data", "blob"}:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def _open(context, server, rel, dark=False):
    page = context.new_page()
    page.emulate_media(color_scheme="dark" if dark else "light", reduced_motion="reduce")
    guard = _Guard(page, server)
    page.goto(f"{server}/{rel}", wait_until="load")
    return page, guard


MATH_JS = """async () => {
  const math = document.querySelectorAll('.math, span.math, div.math').length;
  if (!math) return {math: 0, containers: 0, errors: 0, red: 0};
  await window.MathJax.startup.promise;
  return {
    math,
    containers: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
    red: Array.from(document.querySelectorAll('mjx-container [style*="color"]'))
              .filter(e => /red|rgb\\(255,\\s*0,\\s*0\\)/.test(e.getAttribute('style'))).length,
  };
}"""

WAIT_MATHJAX_JS = """() => !document.querySelector('.math') ||
  (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)"""

IMAGES_JS = """() => Array.from(document.images).map(i => ({
  src: i.getAttribute('src'), alt: i.getAttribute('alt'), ok: i.complete && i.naturalWidth > 0,
  inArticle: !!i.closest('article'), bg: getComputedStyle(i).backgroundColor}))"""

# Rules that can report a *critical* violation (axe-core's rule table) plus the structural rules
# around them; they run on every page. The full rule set (colour contrast and everything else, the
# slow part) runs on the pages in AXE_FULL_PAGES and its serious findings are reported.
AXE_CORE_RULES = [
    "area-alt", "aria-allowed-attr", "aria-hidden-body", "aria-required-attr",
    "aria-required-children", "aria-required-parent", "aria-roles", "aria-valid-attr",
    "aria-valid-attr-value", "button-name", "image-alt", "input-button-name", "input-image-alt",
    "label", "select-name", "td-has-header", "meta-refresh", "duplicate-id-aria", "list", "listitem",
    "link-name", "nested-interactive", "aria-hidden-focus", "definition-list", "dlitem",
]
AXE_FULL_PAGES = os.environ.get(
    "SITE_AXE_FULL_PAGES",
    "book/intro.html book/preface.html book/notation.html book/bibliography.html " + DROPDOWN_PAGE,
).split()

AXE_JS = """async ([rules]) => {
  const root = document.querySelector('article.bd-article') ? 'article.bd-article' : 'main';
  const options = {resultTypes: ['violations']};
  if (rules) options.runOnly = {type: 'rule', values: rules};
  const result = await axe.run({include: [[root]]}, options);
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _check_math(page, rel):
    page.wait_for_function(WAIT_MATHJAX_JS, timeout=TIMEOUT_MS)
    math = page.evaluate(MATH_JS)
    if math["math"]:
        assert math["containers"] >= math["math"], f"{rel}: MathJax typeset {math}"
        assert math["errors"] == 0, f"{rel}: {math['errors']} MathJax errors (mjx-merror)"
        assert math["red"] == 0, f"{rel}: {math['red']} undefined TeX macros shown in red"
    return math


def _shot(page, screenshots, mode, rel, full=False):
    name = rel.replace("/", "__") + (".full" if full else "") + ".png"
    page.screenshot(path=str(screenshots / mode / name), full_page=full)


def _check_axe(page, rel, axe_source, screenshots):
    page.add_script_tag(content=axe_source)
    full_axe = rel in AXE_FULL_PAGES or os.environ.get("SITE_AXE_FULL_PAGES") == "all"
    violations = page.evaluate(AXE_JS, [None if full_axe else AXE_CORE_RULES])
    critical = [v for v in violations if v["impact"] == "critical"]
    serious = [v for v in violations if v["impact"] == "serious"]
    if serious:
        with open(screenshots / "axe-report.txt", "a", encoding="utf-8") as fh:
            for v in serious:
                fh.write(f"{rel}\tserious\t{v['id']}\t{v['help']}\t{json.dumps(v['nodes'])}\n")
        warnings.warn(f"{rel}: serious accessibility findings (axe-core): "
                      + "; ".join(f"{v['id']} ({v['help']}) at {v['nodes']}" for v in serious))
    assert not critical, f"{rel}: critical accessibility violations (axe-core): {critical}"


@pytest.mark.parametrize("rel", _browser_pages())
def test_page(rel, site, server, context, axe_source, screenshots):
    """Math, images, alt text, offline, accessibility (axe-core) and dark mode of one page.

    Screenshots: the first screen of the page in light and dark mode, and the whole page in both
    modes when a check fails (``*.full.png``) or when SITE_FULL_SCREENSHOTS=1.
    """
    full = os.environ.get("SITE_FULL_SCREENSHOTS") == "1"
    page, guard = _open(context, server, rel)
    mode = "light"
    try:
        math = _check_math(page, rel)

        images = page.evaluate(IMAGES_JS)
        broken = [i["src"] for i in images if not i["ok"]]
        assert not broken, f"{rel}: images that did not load: {broken}"
        figures = [i for i in images if i["inArticle"] and "_static/" not in (i["src"] or "")]
        bad_alt = [(i["src"], i["alt"]) for i in figures if not meaningful_alt(i["alt"] or "")]
        assert not bad_alt, f"{rel}: figures without meaningful alt text: {bad_alt}"

        # Accessibility of the book's own content: the article body of book/*.html (Sphinx's
        # generated index pages are not the book's content).
        if rel.startswith("book/"):
            _check_axe(page, rel, axe_source, screenshots)
        _shot(page, screenshots, mode, rel, full)

        # Dark mode: the theme follows prefers-color-scheme; figures must stay on a white card.
        mode = "dark"
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        if math["math"]:
            _check_math(page, rel)
        images = page.evaluate(IMAGES_JS)
        dark_bg = [i["src"] for i in images if i["inArticle"] and "_static/" not in (i["src"] or "")
                   and i["bg"] not in ("rgb(255, 255, 255)", "rgba(255, 255, 255, 1)")]
        _shot(page, screenshots, mode, rel, full)
        assert not dark_bg, f"{rel}: figures without a white background in dark mode: {dark_bg}"

        assert not guard.outside, f"{rel}: requests left the local server: {guard.outside}"
        assert not guard.failed, f"{rel}: failed requests: {guard.failed}"
        assert not guard.errors, f"{rel}: JavaScript errors: {guard.errors}"
    except Exception:
        if not full:  # keep the whole page for inspection
            try:
                _shot(page, screenshots, mode, rel, full=True)
            except Exception:  # noqa: BLE001 - the original failure matters more
                pass
        raise
    finally:
        page.close()


# Opens every fold (solution dropdowns of sphinx-togglebutton, hide-input <details>) so that the
# code inside them is measured too, then lists every code box whose content is wider than the box.
CODE_WIDTH_JS = """() => {
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => d.open = true);
  const root = document.querySelector('article.bd-article') || document.querySelector('main')
               || document.body;
  const wide = e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1;
  const pres = Array.from(root.querySelectorAll('pre')).filter(wide);
  const boxes = Array.from(root.querySelectorAll('div.highlight, div.cell_output, div.output'))
    .filter(wide).filter(b => !pres.some(p => b.contains(p)));
  return pres.concat(boxes).map(e => ({
    where: e.closest('.cell_output, div.output') ? 'output' : 'code',
    scroll: e.scrollWidth, client: e.clientWidth,
    first: e.innerText.split('\\n').filter(l => l.trim()).slice(0, 2).join(' | ').slice(0, 150)}));
}"""

# Text of typeset formulas (MathJax's assistive MathML is the formula as text) with a backslash:
# a TeX command MathJax did not interpret, e.g. \_ inside \text{...}.
MATH_BACKSLASH_JS = """async () => {
  if (!document.querySelector('.math')) return [];
  await window.MathJax.startup.promise;
  return Array.from(document.querySelectorAll('mjx-container'))
    .filter(c => c.textContent.includes('\\\\'))
    .map(c => c.textContent.slice(0, 120));
}"""


# How many characters of the code font fit on one line of a code cell's box, and of an output's.
CHARS_PER_LINE_JS = """() => {
  const measure = sel => {
    const pre = document.querySelector(sel);
    if (!pre) return null;
    const style = getComputedStyle(pre);
    const span = document.createElement('span');
    span.textContent = '0'.repeat(200);
    pre.appendChild(span);
    const char = span.getBoundingClientRect().width / 200;
    span.remove();
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {chars: inner / char, char_px: char, box_px: inner, font: style.fontFamily,
            size: style.fontSize};
  };
  return {input: measure('article div.cell div.cell_input div.highlight pre'),
          output: measure('article div.cell div.cell_output pre')};
}"""
CODE_WIDTH = 76       # the book's limit for a line of code or output (BOOK_CONTRACT.md)


def test_code_box_holds_76_characters(site, server, context):
    """The width the book writes to: a cell's input box and its output box each hold at least
    76 characters of the code font at a 1280-pixel window. The measure goes to
    _build/screenshots/code-box.txt."""
    chapters = [rel for rel in book_pages() if re.match(r"book/\d+_", rel)]
    assert chapters, "no chapter page"
    page, _ = _open(context, server, chapters[0])
    try:
        measured = page.evaluate(CHARS_PER_LINE_JS)
    finally:
        page.close()
    report = SCREENSHOTS / "code-box.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(measured, indent=1) + "\n", encoding="utf-8")
    for kind in ("input", "output"):
        m = measured[kind]
        assert m, f"{chapters[0]}: no code {kind} box to measure"
        assert m["chars"] >= CODE_WIDTH, (
            f"a code {kind} box holds {m['chars']:.1f} characters ({m['box_px']:.0f} px of "
            f"{m['char_px']:.2f} px characters, {m['size']} {m['font']}), fewer than {CODE_WIDTH}")


def _gated_solution_pages() -> list[str]:
    """Pages with a solution dropdown that holds cell outputs (a gated solution)."""
    pages = []
    for rel in book_pages():
        html = (HTML / rel).read_text(encoding="utf-8")
        for m in re.finditer(r'<div class="solution dropdown[^"]*"', html):
            following = html[m.end():m.end() + 200_000]
            end = following.find('<div class="solution')
            chunk = following[:end if end > 0 else len(following)]
            if "cell_output" in chunk.split('<div class="exercise')[0]:
                pages.append(rel)
                break
    return pages


SOLUTION_OUTPUTS_JS = """() => Array.from(document.querySelectorAll('.solution.dropdown'))
  .map((sol, index) => ({index, id: sol.id,
    outputs: Array.from(sol.querySelectorAll('.cell_output')).map(o => ({
      visible: o.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}),
      text: o.innerText.trim().slice(0, 80)})),
    codeAfter: (() => { const n = sol.nextElementSibling;
      return !!(n && n.matches('div.cell') && n.querySelector('.cell_output')); })()}))
  .filter(s => s.outputs.length || s.codeAfter)"""


OPENED_JS = """(index) => Array.from(
  document.querySelectorAll('.solution.dropdown')[index].querySelectorAll('.cell_output'))
  .every(o => o.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))"""


def test_there_is_a_gated_solution_with_outputs(site):
    assert _gated_solution_pages(), ("no page has a solution dropdown holding code outputs "
                                     "(gated solutions: solution-start ... solution-end)")


def _solution_problems(page, rel) -> list[str]:
    """Closed solution dropdowns that show an output, code cells with outputs right after a
    solution (outside it: the old hide-input form), and solutions whose outputs a click on the
    title does not show. Leaves every solution open."""
    problems = []
    solutions = page.evaluate(SOLUTION_OUTPUTS_JS)
    problems += [f"  code cell with outputs right after solution {s['id']}, outside the "
                 "dropdown: use a gated solution" for s in solutions if s["codeAfter"]]
    problems += [f"  closed solution {s['id']} shows an output: {o['text']!r}"
                 for s in solutions for o in s["outputs"] if o["visible"]]
    for s in solutions:
        if not s["outputs"]:
            continue
        page.locator(".solution.dropdown").nth(s["index"]).locator(
            ".admonition-title").first.click()
        try:
            page.wait_for_function(OPENED_JS, arg=s["index"], timeout=5_000)
        except Exception:  # noqa: BLE001 - say which outputs stayed hidden
            now = page.evaluate(SOLUTION_OUTPUTS_JS)
            problems += [f"  solution {s['id']} opened but its output is hidden: {o['text']!r}"
                         for t in now if t["index"] == s["index"]
                         for o in t["outputs"] if not o["visible"]]
    return problems


@pytest.mark.parametrize("rel", _browser_pages())
def test_code_math_and_solutions(rel, site, server, context):
    """At 1280x900: closed solution dropdowns show none of their outputs and a click shows them;
    no code block (cell input or output, any ``pre``; every fold opened) is wider than its box;
    no typeset formula shows a literal backslash."""
    page, guard = _open(context, server, rel)
    try:
        page.wait_for_function(WAIT_MATHJAX_JS, timeout=TIMEOUT_MS)
        problems = _solution_problems(page, rel)
        backslashes = page.evaluate(MATH_BACKSLASH_JS)
        wide = page.evaluate(CODE_WIDTH_JS)
        problems += [f"  {w['where']} {w['scroll']} px in a {w['client']} px box: "
                     f"{w['first']!r}" for w in wide]
        problems += [f"  formula shows a backslash: {text!r}" for text in backslashes]
        assert not guard.outside, guard.outside
    finally:
        page.close()
    assert not problems, (f"{rel}: {len(wide)} code blocks wider than their box at 1280 px, "
                          f"{len(backslashes)} formulas with a literal backslash, "
                          f"{len(problems) - len(wide) - len(backslashes)} solution problems:\n"
                          + "\n".join(problems[:40]))


def test_solution_dropdown_opens_on_click(site, server, context):
    """A sphinx-exercise solution with :class: dropdown is folded and opens when clicked."""
    html = (site / DROPDOWN_PAGE).read_text(encoding="utf-8") if (site / DROPDOWN_PAGE).is_file() else ""
    assert re.search(r'class="[^"]*\bsolution\b[^"]*\bdropdown\b', html), (
        f"{DROPDOWN_PAGE} has no solution dropdown ({{solution}} with :class: dropdown)")
    page, guard = _open(context, server, DROPDOWN_PAGE)
    try:
        solution = page.locator(".solution.dropdown").first
        body = solution.locator(":scope > :not(.admonition-title)").first
        solution.scroll_into_view_if_needed()
        assert not body.is_visible(), "the solution is visible before clicking: it should be folded"
        solution.locator(".admonition-title").first.click()
        body.wait_for(state="visible", timeout=5_000)
        assert body.is_visible()
        assert not guard.outside, guard.outside
    finally:
        page.close()


def test_search_finds_the_convolution_chapter(site, server, context):
    """Searching for "padding" lists the convolution chapter (the search index works offline)."""
    page, guard = _open(context, server, f"search.html?q={SEARCH_TERM}")
    try:
        selector = f'#search-results a[href*="{SEARCH_EXPECT}"]'
        try:
            page.wait_for_selector(selector, timeout=TIMEOUT_MS)
        except Exception:  # noqa: BLE001 - report what the search did show
            summary = page.locator("#search-results").inner_text()[:500]
            pytest.fail(f"searching {SEARCH_TERM!r} did not list {SEARCH_EXPECT}: {summary!r}")
        assert not guard.outside, guard.outside
    finally:
        page.close()


def test_book_pages_were_opened():
    """The browser tests above iterate over the site's pages: make sure there are book pages."""
    assert book_pages(), "no book pages in _build/html"
