"""The in-browser explorers: their scripts and styles (static/widgets/), and
the data the pages write when they execute (book/_static/widgets/, e.g. the
digits CNN's weights) copied into the built site's _static/widgets/."""
from __future__ import annotations

import shutil
from pathlib import Path

from site_css import copy_static
from sphinx.util import logging

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static" / "widgets"
GENERATED = Path("book/_static/widgets")    # written by cnn_tutorial.widgets
SCRIPTS = ("numerics.js", "widgets_common.js", "conv_explorer.js",
           "digit_pad.js", "cifar_explorer.js", "trainer.js")
# trainer_worker.js and numerics_train.js are copied with the others and
# loaded by the training Web Worker only, when a page starts one


def _copy(app, exception) -> None:
    copy_static(app, STATIC, exception)
    if exception is not None or app.builder.format != "html":
        return
    folder = Path(app.srcdir) / GENERATED
    if not folder.is_dir():
        logger.warning("widgets: %s is missing (the pages write it when they "
                       "execute; run `make clean book`)", GENERATED)
        return
    shutil.copytree(folder, Path(app.outdir) / "_static" / "widgets",
                    dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy)
    app.add_css_file("widgets.css")
    for script in SCRIPTS:
        app.add_js_file(script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
