"""The book's own CSS and JS (book/_ext/static/): tables readable at phone
width, figures kept on white in dark mode, captions with contrast, and a
click on a figure opens it at full size."""
from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _add_static(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", _add_static)
    app.add_css_file("tutorial.css")
    app.add_js_file("tutorial.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
