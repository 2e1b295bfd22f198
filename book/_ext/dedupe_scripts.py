"""Drop repeated <script> entries from each page.

sphinx-thebe 0.3.1 and sphinx-togglebutton register inline scripts after the
HTML builder has collected the registry, so with Sphinx 7 every page
declares ``const THEBE_JS_URL`` twice and the browser reports a
SyntaxError. Keeping the first copy of each script fixes it.
"""
from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (getattr(js, "filename", str(js)) or "",
               tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    # in place: handlers after this one (sphinx.ext.mathjax) append to it
    scripts[:] = unique


def setup(app):
    # early: a later handler may return a template and end the event
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
