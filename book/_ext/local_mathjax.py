"""Serve MathJax from the built site itself, so every build renders maths
without network, with nothing to install but the pinned requirements.

MathJax 3 comes from the PyPI package ``sphinx-mathjax-offline`` (pinned in
requirements.txt): its ``static/mathjax`` folder (scripts and fonts) is
copied to ``_static/mathjax`` after the build and the pages load
``_static/mathjax/tex-chtml.js``. Without the package the build stops with
an error instead of falling back to a CDN.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"   # its import name has hyphens
ENTRY = "tex-chtml.js"


def mathjax_folder() -> Path:
    """The installed package's MathJax folder."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = (Path(spec.origin).parent / "static" / "mathjax"
              if spec and spec.origin else None)
    if folder is None or not (folder / ENTRY).is_file():
        raise ExtensionError(
            f"local_mathjax: MathJax not found; install the pinned "
            f"'{PACKAGE}' package (pip install -r requirements.txt)")
    return folder


def _use_local(app, config) -> None:
    mathjax_folder()
    config.mathjax_path = f"mathjax/{ENTRY}"


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_folder(),
                        Path(app.outdir) / "_static" / "mathjax",
                        dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _use_local)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
