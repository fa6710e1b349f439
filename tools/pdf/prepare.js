// Turns the one-page build of the book into the PDF edition's document (tools/make_pdf.py).
// Called once with the book's facts after MathJax has typeset the page; it returns what it did
// and leaves window.pdfEdition: setPages(bookmarks) writes the contents' page numbers after the
// print, frontNumbersOnly() leaves only those numbers visible for the print laid over it.
(facts) => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  document.documentElement.dataset.theme = "light";
  const make = (tag, className, text) => {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const norm = (text) => text.replace(/\s+/g, " ").trim();
  const report = {};

  // Headings carry a "#" permalink on the site; in print it would enter every bookmark's title.
  article.querySelectorAll("a.headerlink").forEach((a) => a.remove());

  // Links: the single-page build points cross-references at "book/intro.html#id"; inside the PDF
  // they are "#id". Files of the site (downloads, the zip of student notebooks) become plain text.
  let unlinked = 0;
  for (const a of article.querySelectorAll("a[href]")) {
    const href = a.getAttribute("href");
    const anchor = href.match(/^[\w./-]*\.html(#.*)$/);
    if (anchor) a.setAttribute("href", anchor[1]);
    else if (!/^(#|https?:|mailto:)/.test(href)) { a.replaceWith(...a.childNodes); unlinked += 1; }
  }
  report.unlinked = unlinked;

  // Everything the site folds away is printed open, except code the site hides (the code that
  // draws a figure: its figure is printed); the solutions go to their appendix below.
  article.querySelectorAll("details.hide").forEach((d) => d.remove());
  article.querySelectorAll("details").forEach((d) => { d.open = true; });
  article.querySelectorAll(".toggle-hidden").forEach((el) => el.classList.remove("toggle-hidden"));
  article.querySelectorAll("button").forEach((b) => b.remove());

  // Chapters, from the parts of _toc.yml: each document starts at <span id="document-FILE">.
  const docStart = (file) => document.getElementById(`document-${file}`);
  const docSection = (file) => {
    let el = docStart(file);
    while (el && el.tagName !== "SECTION") el = el.nextElementSibling;
    return el;
  };
  const chapters = [];
  const partPages = [];
  facts.parts.forEach((part, index) => {
    part.files.forEach((file) => {
      const section = docSection(file);
      if (!section) throw new Error(`prepare.js: no section for ${file}`);
      section.classList.add("pdf-chapter");
      chapters.push({ file, section, title: norm(section.querySelector("h2").textContent) });
    });
    if (index > 0) {            // "Before you start" holds only the preface: no part page
      const page = make("section", "pdf-part");
      page.append(make("h1", "pdf-part-title", part.caption));
      // after the document's empty start marker, which would otherwise print a blank page
      docSection(part.files[0]).before(page);
      partPages.push(page);
    }
  });
  report.chapters = chapters.map((c) => c.title);
  // Each document's start marker is an empty <span> between two chapters; left there, it can
  // fall alone onto a page of its own when the chapter before fills its last page. Inside its
  // chapter it still anchors the links to the document.
  for (const chapter of chapters) chapter.section.prepend(docStart(chapter.file));

  // Exercise titles become headings (h5): each exercise gets a bookmark.
  for (const title of article.querySelectorAll("div.exercise > p.admonition-title")) {
    const heading = make("h5", "admonition-title");
    heading.append(...title.childNodes);
    title.replaceWith(heading);
  }

  // Solutions: out from under their exercises into "Solutions", before the reference part.
  const solutions = make("section", "pdf-chapter pdf-solutions");
  solutions.id = "pdf-solutions";
  solutions.append(make("h2", "", "Solutions to the exercises"));
  solutions.append(make("p", "", "Each solution is printed here, not under its exercise, " +
    "in the order of the chapters; each exercise links to its solution and back. The site " +
    "holds the same solutions in closed dropdowns; the student notebooks leave them out."));
  let moved = 0;
  for (const chapter of chapters) {
    const found = [...chapter.section.querySelectorAll("div.solution")];
    if (!found.length) continue;
    const group = make("section", "pdf-solution-group");
    group.append(make("h3", "", chapter.title));
    for (const solution of found) {
      let exercise = solution.previousElementSibling;
      while (exercise && !exercise.classList.contains("exercise")) {
        exercise = exercise.previousElementSibling;
      }
      if (!exercise) throw new Error(`prepare.js: solution ${solution.id} has no exercise`);
      const label = norm(exercise.querySelector(".caption-number").textContent);
      const title = `Solution to ${label}`;
      const heading = make("h4", "pdf-solution-title", title);
      heading.id = `pdf-${solution.id.replace(/[^\w-]/g, "-")}`;
      const back = make("a", "", label);
      back.href = `#${exercise.id}`;
      const note = make("p", "pdf-solution-back");
      note.append("The exercise: ", back, ".");
      const ref = make("p", "pdf-solution-ref");
      const link = make("a", "", title);
      link.href = `#${heading.id}`;
      ref.append("In the appendix of solutions: ", link, ".");
      exercise.append(ref);
      solution.querySelector(".admonition-title")?.remove();
      solution.classList.remove("dropdown");
      group.append(heading, note, solution);
      moved += 1;
    }
    solutions.append(group);
  }
  report.solutions_moved = moved;
  partPages[partPages.length - 1].before(solutions);    // before the last part, "Reference"

  // A page reference: a fixed-width box, so that writing the number moves nothing.
  function pageRef(id) {
    const span = make("span", "pdf-page", "000");
    span.dataset.ref = id;
    return span;
  }

  // The front matter: title page, contents, then the intro page as "About this book".
  const intro = article.querySelector("h1");
  const about = make("h2", "", "About this book");
  intro.replaceWith(about);
  about.closest("section").classList.add("pdf-about");

  const title = make("section", "pdf-title-page");
  title.append(make("div", "pdf-title", facts.title),
    make("div", "pdf-subtitle", "A course in which every formula is executed"),
    make("div", "pdf-author", facts.author),
    make("div", "pdf-version",
      `Version ${facts.version}${facts.commit ? ` (commit ${facts.commit})` : ""}, ` +
      `${facts.date}`),
    make("div", "pdf-repository", facts.repository),
    make("div", "pdf-licence", "Code: MIT. Text and figures: CC BY 4.0."));

  const contents = make("nav", "pdf-contents");
  contents.id = "pdf-contents";
  contents.append(make("h2", "", "Contents"));
  const list = make("ol", "pdf-toc");
  let targets = 0;
  const entry = (el, level) => {
    const li = make("li", `pdf-toc-${level}`);
    const link = make("a", "pdf-toc-title");
    el.id = `pdf-heading-${++targets}`;        // section ids repeat from chapter to chapter
    link.href = `#${el.id}`;
    const copy = el.cloneNode(true);         // formulas keep their typeset form
    copy.querySelectorAll("a.headerlink").forEach((a) => a.remove());
    link.append(...copy.childNodes);
    li.append(link, pageRef(el.id));
    list.append(li);
  };
  for (const el of article.querySelectorAll("section.pdf-part h1, section.pdf-chapter h2, " +
                                             "section.pdf-chapter > section > h3")) {
    if (el.tagName === "H1") list.append(make("li", "pdf-toc-part", el.textContent));
    else entry(el, el.tagName === "H2" ? "chapter" : "section");
  }
  contents.append(list);
  article.prepend(title, contents);

  // Every heading becomes a bookmark: Chromium's outline lists them in document order.
  const headings = [...article.querySelectorAll("h1, h2, h3, h4, h5, h6")].filter(
    (h) => h.getClientRects().length > 0);
  for (const h of headings) if (!h.id) h.id = h.closest("section")?.id || "";

  report.headings = headings.length;
  report.figures = article.querySelectorAll("img").length;
  report.math = article.querySelectorAll("mjx-container").length;
  report.math_errors = article.querySelectorAll("mjx-merror").length;
  report.raw_tex = [...article.querySelectorAll("span.math, div.math")].filter(
    (el) => !el.querySelector("mjx-container")).length;
  const pres = [...article.querySelectorAll("pre")];
  report.code_boxes = pres.length;
  report.code_cut = pres.filter((p) => p.scrollWidth > p.clientWidth + 1).length;
  article.classList.add("pdf-measure");       // lines as they are, unwrapped
  const wide = pres.map((p) => p.scrollWidth > p.clientWidth + 1);
  article.classList.remove("pdf-measure");
  report.code_boxes_wrapped = wide.filter(Boolean).length;

  // A heading's text for its bookmark: formulas from their TeX, in plain Unicode (the few
  // constructs the book's headings use), not MathJax's accessible copy ("Through x^").
  const tex = new Map(MathJax.startup.document.getMathItemsWithin(article)
    .map((item) => [item.typesetRoot, item.math]));
  const plain = (source) => source
    .replace(/\\operatorname\{(\w+)\}/g, "$1").replace(/\\hat\s*\{?(\w)\}?/g, "$1\u0302")
    .replace(/\\epsilon/g, "ε").replace(/\\to/g, "→").replace(/\\times/g, "×")
    .replace(/\^\{?p\}?/g, "ᵖ").replace(/\\[a-zA-Z]+/g, "").replace(/[{}]/g, "").trim();
  const headingText = (h) => {
    const copy = h.cloneNode(true);
    const originals = h.querySelectorAll("mjx-container");
    copy.querySelectorAll("mjx-container").forEach((el, i) => {
      el.replaceWith(plain(tex.get(originals[i]) ?? el.textContent));
    });
    return norm(copy.textContent);
  };
  const key = (text) => norm(text).toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
  window.pdfEdition = {
    // bookmarks: [{title, page}] of the print, one per heading in document order. Their
    // titles are Chromium's (it can repeat words, and it leaves formulas out), so they are
    // matched by order and checked by the start of each title.
    setPages(bookmarks) {
      const mismatched = [];
      if (bookmarks.length !== headings.length) {
        mismatched.push(`${bookmarks.length} bookmarks for ${headings.length} headings`);
      }
      const outline = headings.map((h, i) => {
        const mark = bookmarks[i] || { title: "", page: 0 };
        const title = headingText(h);
        const [mine, theirs] = [key(title), key(mark.title)];
        const agree = theirs.startsWith(mine.slice(0, 8)) || theirs.includes(mine.slice(0, 12));
        if (!theirs || !agree) {
          mismatched.push(`${title} / ${mark.title}`);
        }
        h.dataset.page = mark.page;
        return { title, level: Number(h.tagName[1]), page: mark.page };
      });
      const pageOf = {};
      for (const h of headings) pageOf[h.id] ??= Number(h.dataset.page);
      let missing = 0;
      for (const span of article.querySelectorAll("span.pdf-page")) {
        const page = pageOf[span.dataset.ref];
        if (page === undefined) missing += 1;
        else span.textContent = String(page);
      }
      // Running heads: the title of the last chapter-level heading (h2) begun; none on a part
      // page. The front matter is the title page and the contents.
      const heads = [];
      for (const h of headings) {
        if (h.closest("section.pdf-part")) heads.push({ title: "", page: Number(h.dataset.page) });
        else if (h.tagName === "H2") heads.push({ title: norm(h.textContent),
                                                  page: Number(h.dataset.page) });
      }
      const about = article.querySelector(".pdf-about h2");
      return { outline, mismatched, page_refs_missing: missing, heads,
               front_pages: Number(about.dataset.page) - 1 };
    },
    // Leave only the page numbers of the front matter visible, at their places, for a print of
    // the front pages that is laid over the first print's.
    frontNumbersOnly() {
      const front = [article.querySelector(".pdf-title-page"), contents];
      for (const child of article.children) {
        if (!front.includes(child)) child.style.display = "none";
      }
      for (const el of front) el.style.visibility = "hidden";
      for (const span of contents.querySelectorAll("span.pdf-page")) {
        span.style.visibility = "visible";
      }
      // nothing painted but the numbers: this print is laid over the first one's pages
      document.head.append(make("style", "", "html, body, body * { background: transparent " +
                                "!important; box-shadow: none !important; border-color: " +
                                "transparent !important; }"));
    },
  };
  return report;
}
