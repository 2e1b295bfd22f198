"""`make pdf`: the whole book as one PDF, printed from the built site by the
system's Chromium (Playwright's ``page.pdf``), with no network.

The pages of the site's navigation (which follows ``_toc.yml``) are put in
reading order into one document, in the browser: a title page, a table of
contents, then every page's article. The site's print stylesheet
(``book/_ext/static/print.css``) hides sidebars and buttons, prints each
explorer as its static figure, keeps figures, tables and code inside the
page width, and the dropdowns (solutions, "how these numbers were made")
are opened in place. MathJax typesets the maths, then Chromium prints
twice: the first PDF's bookmarks say on which page each chapter starts,
and the second prints those numbers in the table of contents.

    python scripts/make_pdf.py [--html _build/html] [--out FILE]

What was printed (the PDF, the digest of the pages it was printed from,
and anything cut at the page's edge or refused off-site) is recorded in
``pdf-report.json`` beside the html folder, for the tests of a `make test`
run to read instead of printing again. ``--skip-without-browser`` prints
nothing, and succeeds, where no Chromium is installed.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# pypdf warns that Chromium's PDFs declare too small a cross-reference table
logging.getLogger("pypdf").setLevel(logging.ERROR)
PDF_NAME = "tutorial-04-cnns.pdf"     # the intro links ../<this>
REPORT_NAME = "pdf-report.json"       # beside the html folder: not published
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu",
    "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PAPER = {"format": "A4",
         "margin": {"top": "15mm", "bottom": "18mm", "left": "15mm",
                    "right": "15mm"}}
CONTENT_WIDTH_PX = 680       # A4's 210 mm less the side margins, at 96 dpi
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;'
          'color:#444"><span class="pageNumber"></span> / '
          '<span class="totalPages"></span></div>')

# In the page: gather every chapter's article into this one, with ids
# prefixed per chapter (so anchors stay unique and links between chapters
# land in the PDF), add the title page and contents, open the dropdowns.
ASSEMBLE_JS = """
async ({front, pages, title}) => {
  const article = document.querySelector("article.bd-article");
  const chapters = [];
  for (const [i, url] of pages.entries()) {
    const html = await (await fetch(url)).text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const part = doc.querySelector("article.bd-article");
    if (!part) throw new Error(`${url}: no article.bd-article`);
    const prefix = `cnn-p${i}-`;
    for (const el of part.querySelectorAll("[id]")) el.id = prefix + el.id;
    for (const el of part.querySelectorAll("[src]"))
      el.setAttribute("src", new URL(el.getAttribute("src"), url).href);
    for (const a of part.querySelectorAll("a[href]")) {
      const target = new URL(a.getAttribute("href"), url);
      const j = pages.indexOf(target.origin + target.pathname);
      if (j >= 0) a.setAttribute("href", "#cnn-p" + j + "-" +
        (target.hash ? target.hash.slice(1) : "chapter"));
      else a.setAttribute("href", target.href);
    }
    const section = document.createElement("section");
    section.className = "cnn-print-chapter";
    section.id = prefix + "chapter";
    section.append(...part.childNodes);
    const h1 = section.querySelector("h1");
    chapters.push({id: section.id,
                   title: h1 ? h1.textContent.replace(/#$/, "").trim()
                             : url});
    section.querySelectorAll("details.sd-dropdown")
           .forEach(d => { d.open = true; });
    section.querySelectorAll(".cnn-widget-fallback")
           .forEach(f => { f.hidden = false; });
    // the chapter's scripts do not run here: its explorers stay figures
    section.querySelectorAll("script").forEach(s => s.remove());
    (chapters.length === 1 ? article.replaceChildren(section)
                           : article.append(section));
  }
  const head = document.createElement("section");
  head.className = "cnn-print-front";
  head.innerHTML = front;
  const list = head.querySelector("ol.cnn-print-contents");
  for (const c of chapters) {
    const li = document.createElement("li");
    li.innerHTML = `<a href="#${c.id}"></a><span class="cnn-print-page">` +
                   `</span>`;
    li.firstChild.textContent = c.title;
    list.append(li);
  }
  article.prepend(head);
  // the theme's print-only page title and contents (of the first page)
  document.querySelector("#jb-print-docs-body")?.remove();
  document.documentElement.dataset.theme = "light";
  document.title = title;
  if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise();
  await Promise.all(Array.from(document.images).map(img => img.complete ||
    new Promise(done => { img.onload = img.onerror = done; })));
  const headings = Array.from(
    article.querySelectorAll("h1, h2, h3, h4, h5, h6"))
    .map(h => h.textContent.replace(/#$/, "").trim());
  return {titles: chapters.map(c => c.title), headings};
}
"""

# In the page, laid out for print at the paper's width: what sticks out of
# the column (and would be cut on paper).
OVERFLOW_JS = """
() => {
  const column = document.querySelector("article.bd-article")
                         .getBoundingClientRect();
  const out = [];
  const items = document.querySelectorAll(
    "article img, article table, article pre, article mjx-container, " +
    "article figure, article .cell_output, article svg");
  for (const el of items) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > column.right + 1) {
      const where = el.closest("section[id], [id]");
      out.push(`${el.tagName.toLowerCase()} in #${where ? where.id : "?"}: ` +
               `${Math.round(box.right - column.left)} px wide, ` +
               `${Math.round(column.width)} px available`);
    }
  }
  return out;
}
"""

FRONT_CSS = """
.cnn-print-front { break-after: page; }
.cnn-print-title { text-align: center; padding-top: 30vh;
                   break-after: page; }
.cnn-print-book-title { font-size: 2.2em; font-weight: bold;
                        margin-bottom: 1.5em; }
.cnn-print-contents-title { font-size: 1.6em; font-weight: bold; }
.cnn-print-contents li { display: flex; gap: 0.5em; margin: 0.3em 0; }
.cnn-print-contents li a { flex: 1; border-bottom: 1px dotted #888; }
"""


@dataclass
class PrintedBook:
    """What was printed: the file, its pages, where each chapter starts
    (1-based page numbers, in reading order) and anything cut at the
    page's edge (empty when every figure, table and formula fits)."""

    path: Path
    pages: int
    chapters: list[tuple[str, int]]
    overflow: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)   # requests off-site


def find_browser() -> str | None:
    """The system's Chromium (Debian's here, Chrome on GitHub's runners),
    or None."""
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def browser_path() -> str:
    """:func:`find_browser`'s, or a stop saying how to install one."""
    found = find_browser()
    if found is None:
        raise SystemExit("make pdf: no Chromium found; install it with "
                         "scripts/install_browser_deps.sh")
    return found


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """The built site on a loopback port (fetch() needs http://)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def source_commit() -> str:
    """The commit the book was built from, or '' outside a git checkout."""
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def front_matter(config: dict) -> str:
    """Title page and the (empty) table of contents, as HTML."""
    from html import escape

    commit = source_commit()
    built = f"Printed {date.today():%d %B %Y}" + (
        f" from commit {commit}" if commit else "")
    url = config.get("repository", {}).get("url", "")
    title = escape(config["title"])
    return (
        f'<style>{FRONT_CSS}</style>'
        f'<div class="cnn-print-title"><p class="cnn-print-book-title">'
        f'{title}</p><p>{escape(config.get("author", ""))}</p>'
        f'<p>{escape(built)}</p><p>{escape(url)}</p></div>'
        '<p class="cnn-print-contents-title">Contents</p>'
        '<ol class="cnn-print-contents"></ol>')


def root_page(html_dir: Path) -> str:
    """The book's first page, where the site's index.html redirects."""
    index = (html_dir / "index.html").read_text(encoding="utf-8")
    found = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"',
                      index, re.I)
    return found.group(1) if found else "index.html"


def site_pages(page, base: str, root: str) -> list[str]:
    """Every page of the site's navigation, in reading order (the root
    page first), as absolute URLs without fragments."""
    page.goto(f"{base}/{root}")
    links = page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference.internal",
        "els => els.map(a => a.href)")
    urls = [page.url.split("#")[0]]
    for link in links:
        url = link.split("#")[0]
        if url.endswith(".html") and url not in urls:
            urls.append(url)
    return urls


def squash(text: str) -> str:
    """``text`` without whitespace, to compare a bookmark with a heading."""
    return re.sub(r"\s+", "", text)


def chapter_starts(pdf: Path) -> list[tuple[str, int]]:
    """The top-level bookmarks of ``pdf`` with their 1-based pages."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    return [(item.title, reader.get_destination_page_number(item) + 1)
            for item in reader.outline if not isinstance(item, list)]


def retitle(pdf: Path, headings: list[str], info: dict[str, str]) -> None:
    """Give every bookmark its heading's own text (Chromium joins a
    heading's wrapped lines without a space, and repeats a heading that a
    page break moved) and set the PDF's title and author."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    by_text = {squash(h): h for h in headings}
    writer = PdfWriter(clone_from=PdfReader(pdf))
    stack = [writer.root_object["/Outlines"].get("/First")]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        item = node.get_object()
        title = squash(item["/Title"])
        half = title[:len(title) // 2]
        heading = by_text.get(title) or (
            by_text.get(half) if half * 2 == title else None)
        if heading:
            item[NameObject("/Title")] = TextStringObject(heading)
        stack += [item.get("/Next"), item.get("/First")]
    writer.add_metadata({f"/{k}": v for k, v in info.items()})
    with open(pdf, "wb") as f:
        writer.write(f)


def print_book(html_dir: Path, out: Path) -> PrintedBook:
    """Print the site in ``html_dir`` to ``out`` (see the module's doc)."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise SystemExit(f"make pdf: {html_dir}/index.html is missing; "
                         "build the book first (make book)")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    options = dict(PAPER, print_background=True, outline=True, tagged=True,
                   display_header_footer=True,
                   header_template="<span></span>", footer_template=FOOTER)
    with serve(html_dir) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path(),
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": CONTENT_WIDTH_PX,
                                          "height": 1000})
        page.set_default_timeout(300_000)   # a loaded 2-core machine is slow
        refused = []

        def offline(route):
            if route.request.url.startswith(base):
                return route.continue_()
            refused.append(route.request.url)
            return route.abort()

        page.route("**/*", offline)
        pages = site_pages(page, base, root_page(html_dir))
        page.goto(pages[0])
        page.emulate_media(media="print")
        found = page.evaluate(ASSEMBLE_JS, {"front": front_matter(config),
                                            "pages": pages,
                                            "title": config["title"]})
        overflow = page.evaluate(OVERFLOW_JS)
        with tempfile.TemporaryDirectory() as tmp:
            draft = Path(tmp) / "draft.pdf"
            page.pdf(path=str(draft), **options)
            starts = chapter_starts(draft)
        titles = found["titles"]
        if [squash(t) for t, _ in starts] != list(map(squash, titles)):
            raise SystemExit(
                "make pdf: the PDF's bookmarks do not match the chapters "
                f"(each page needs one <h1>):\n{starts}\n{titles}")
        page.evaluate(
            "numbers => document.querySelectorAll('.cnn-print-page')"
            ".forEach((el, i) => { el.textContent = numbers[i]; })",
            [n for _, n in starts])
        page.pdf(path=str(out), **options)
        browser.close()
    retitle(out, found["headings"], {"Title": config["title"],
                                     "Author": config.get("author", ""),
                                     "Creator": "make pdf (Chromium)"})
    printed = chapter_starts(out)
    if [n for _, n in printed] != [n for _, n in starts]:
        raise SystemExit("make pdf: page numbers moved between the two "
                         f"prints: {starts} then {printed}")
    return PrintedBook(out, len(PdfReader(out).pages), printed, overflow,
                       refused)


def pages_digest(html_dir: Path) -> str:
    """sha256 of every built page (``*.html``) of ``html_dir``, by path."""
    digest = hashlib.sha256()
    for page in sorted(Path(html_dir).rglob("*.html")):
        digest.update(str(page.relative_to(html_dir)).encode())
        digest.update(page.read_bytes())
    return digest.hexdigest()


def write_report(book: PrintedBook, html_dir: Path, path: Path) -> None:
    """Record what :func:`print_book` printed from ``html_dir`` (see
    :func:`read_report`)."""
    path.write_text(json.dumps({"pdf": str(Path(book.path).resolve()),
                                "pages_sha256": pages_digest(html_dir),
                                "overflow": book.overflow,
                                "refused": book.refused}, indent=1))


def read_report(path: Path, html_dir: Path) -> PrintedBook:
    """The book a print of ``html_dir`` recorded in ``path``: its pages and
    chapters read back from the PDF itself. A report of other pages (the
    book was rebuilt since) is refused."""
    from pypdf import PdfReader

    report = json.loads(Path(path).read_text())
    if report["pages_sha256"] != pages_digest(html_dir):
        raise ValueError(f"{path} records a print of other pages than "
                         f"{html_dir}'s: print the book again (make pdf)")
    pdf = Path(report["pdf"])
    return PrintedBook(pdf, len(PdfReader(pdf).pages), chapter_starts(pdf),
                       report["overflow"], report["refused"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build/html")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"default: <html>/{PDF_NAME}")
    parser.add_argument("--skip-without-browser", action="store_true",
                        help="print nothing, and succeed, without Chromium")
    args = parser.parse_args(argv)
    if args.skip_without_browser and find_browser() is None:
        print("make pdf: no Chromium here, the PDF is not printed")
        return 0
    out = args.out or args.html / PDF_NAME
    book = print_book(args.html, out)
    write_report(book, args.html, args.html.resolve().parent / REPORT_NAME)
    for title, start in book.chapters:
        print(f"  p. {start:>3}  {title}")
    for problem in book.overflow:
        print(f"warning: wider than the page: {problem}", file=sys.stderr)
    for url in book.refused:
        print(f"warning: not fetched (offline): {url}", file=sys.stderr)
    print(f"PDF written: {book.path} ({book.pages} pages, "
          f"{book.path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
