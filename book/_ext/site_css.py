"""The book's own CSS and JS (book/_ext/static/): tables readable at phone
width, figures kept on white in dark mode, captions with contrast, a click
on a figure opens it at full size, accessible names the audit accepts, and
print.css for paper (the browser's print dialog and `make pdf`)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

STATIC = Path(__file__).parent / "static"


def copy_static(app, folder: Path, exception) -> None:
    """Copy ``folder``'s files into the built site's _static/ after every
    build: Sphinx copies static files only when some page was rewritten,
    so an edited script would otherwise stay stale."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static"
    target.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        if file.is_file():
            shutil.copyfile(file, target / file.name)


def _citation_list_items(app, pagename, templatename, context, doctree):
    """Bibliography entries as list items: docutils marks them with the
    deprecated doc-biblioentry role inside a role="list", which screen
    readers (and axe) do not accept as list items."""
    if "body" in context:
        context["body"] = context["body"].replace(
            'class="citation" id=', 'class="citation" role="listitem" id=')\
            .replace(' role="doc-biblioentry"', "")


THEME_FIXES = [
    # axe's label-content-name-mismatch: a button's name must contain its
    # visible text. The theme's search field shows "Search Ctrl+K" but is
    # named "Search": let its text name it. The colour-mode icons' tooltip
    # titles become SVG <title>s that count as visible text: drop them (the
    # button keeps its "Color mode" name).
    (re.compile(r'(class="btn search-button-field[^"]*"[^>]*?) '
                r'aria-label="Search"'), r"\1"),
    (re.compile(r'(<i class="theme-switch [^"]*"[^>]*?) title="[^"]*"'),
     r"\1"),
    # myst-nb's folded cells: a <summary> named "Toggle hidden content"
    # while it shows "Show code cell source"; its text names it.
    (re.compile(r'(<summary[^>]*?) aria-label="Toggle hidden content"'),
     r"\1"),
    # the sidebar's toggle of a chapter's sections shows only an icon
    (re.compile(r'<summary>(<span class="toctree-toggle")'),
     r'<summary aria-label="Show or hide the sections of this chapter">\1'),
]


def _finish(app, exception) -> None:
    copy_static(app, STATIC, exception)
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = text
        for pattern, replacement in THEME_FIXES:
            fixed = pattern.sub(replacement, fixed)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _finish)
    app.connect("html-page-context", _citation_list_items)
    app.add_css_file("tutorial.css")
    app.add_css_file("print.css", media="print")   # and `make pdf`
    app.add_js_file("tutorial.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
