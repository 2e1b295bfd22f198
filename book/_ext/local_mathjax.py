"""Serve MathJax from the built site itself, so locally built pages render
maths without network.

``make book`` installs MathJax 3 from the npm registry into
``.cache/mathjax`` (``scripts/install_mathjax.sh``). When that copy exists,
the pages load ``_static/mathjax/tex-mml-chtml.js`` and the copy's ``es5/``
folder (scripts and fonts) is copied there after the build; without it they
fall back to MathJax's CDN, as Sphinx does by default.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)
ES5 = Path(".cache/mathjax/node_modules/mathjax/es5")
ENTRY = "tex-mml-chtml.js"


def _local_copy(app) -> Path | None:
    folder = Path(app.srcdir) / ES5
    return folder if (folder / ENTRY).is_file() else None


def _use_local(app, config) -> None:
    if _local_copy(app) is not None:
        config.mathjax_path = f"mathjax/{ENTRY}"
    else:
        logger.info("local_mathjax: no %s; pages load MathJax from its CDN "
                    "(run scripts/install_mathjax.sh)", ES5 / ENTRY)


def _copy(app, exception) -> None:
    folder = _local_copy(app)
    if exception is None and folder is not None and \
            app.builder.format == "html":
        shutil.copytree(folder, Path(app.outdir) / "_static" / "mathjax",
                        dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _use_local)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
