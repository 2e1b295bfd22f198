"""Every chapter as a notebook with its outputs, published with the site
(``notebooks/<page>.ipynb``), offered by the page's download menu and
opened by its Colab button.

myst-nb writes each executed page to ``_build/jupyter_execute/``; after the
build this extension copies it to the site with two cells in front: one
that installs the library when ``cnn_tutorial`` is not importable (from
the repository at the commit that built the notebook, which also brings
the cached CIFAR-10 results), and a note on how long the cells took on the
CPU that built the book. The book workflow pushes the same folder to the
``notebooks`` branch, where Colab's button finds it.
"""
from __future__ import annotations

import ast
import contextlib
import os
import re
import subprocess
from pathlib import Path

from myst_nb.sphinx_ import NbMetadataCollector
from myst_nb.sphinx_ext import OUTPUT_FOLDER
from sphinx.util import logging

logger = logging.getLogger(__name__)
SITE_FOLDER = "notebooks"        # in the built site, and the branch's root
CHECKOUT = "tutorial-04-cnns"    # the folder the install cell clones into

INSTALL_CELL = '''\
# Run this cell first. Where the library `cnn_tutorial` is not installed
# (Colab, a fresh Jupyter), it fetches the book at the commit that built
# this notebook ({release}): the library and the cached CIFAR-10 results;
# it installs the library and works in the book's book/ folder, as the
# pages do when the book is built.
import importlib.util
import os
import subprocess
import sys

REPOSITORY = {repository!r}
COMMIT = {commit!r}
if importlib.util.find_spec("cnn_tutorial") is None:
    checkout = os.path.abspath({checkout!r})
    if not os.path.isdir(checkout):
        for command in (["init", "--quiet", checkout],
                        ["-C", checkout, "fetch", "--quiet", "--depth", "1",
                         REPOSITORY, COMMIT],
                        ["-C", checkout, "checkout", "--quiet",
                         "FETCH_HEAD"]):
            subprocess.run(["git", *command], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    checkout, {myst_nb!r}], check=True)
    os.chdir(os.path.join(checkout, "book"))
    importlib.invalidate_caches()'''

CPU_NOTE = """\
> **No GPU needed.** This is the chapter "{title}" of *{book}*, with the
> outputs of the build. Its cells run on a CPU: on the {cores}-core machine
> that built the book they took {runtime} s together (the install in the
> first cell aside). "Run all" reproduces the outputs; printed numbers can
> differ in the last digits on other hardware. The computed numbers are
> filled into the text, and so is the library code the page shows; the
> other MyST markup (notes, cross-references) shows as written, and the
> book's page shows it rendered."""


def source_commit(folder: Path) -> str:
    """The commit being built (``main`` outside a git checkout)."""
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder,
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "main"


def requirement(folder: Path, name: str) -> str:
    """``name``'s pin in requirements.txt (just ``name`` if unpinned)."""
    pins = (folder / "requirements.txt").read_text()
    found = re.search(rf"^({re.escape(name)}==\S+)", pins, re.M)
    return found.group(1) if found else name


def release(folder: Path) -> str:
    """The library's name and version as pyproject.toml declares them."""
    import tomllib

    project = tomllib.loads((folder / "pyproject.toml").read_text())
    return f"{project['project']['name']} {project['project']['version']}"


def notebook_pages(app) -> list[str]:
    """The pages that are notebooks (they name a kernel), in order."""
    return sorted(name for name in app.env.found_docs
                  if "kernelspec" in app.env.metadata.get(name, {}))


def executed(app, docname: str):
    """The page as myst-nb read it, with the outputs of its execution:
    in cache mode myst-nb writes jupyter_execute/ without them, so they
    are merged from the execution cache as the page's build did."""
    import nbformat
    from jupyter_cache import get_cache

    path = Path(app.outdir).parent / OUTPUT_FOLDER / f"{docname}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    config = app.env.mystnb_config
    if config.execution_mode == "cache":
        cache = get_cache(config.execution_cache_path)
        try:
            _, notebook = cache.merge_match_into_notebook(notebook)
        except KeyError:
            logger.warning("notebooks: %s has no executed outputs in the "
                           "execution cache", docname)
    return notebook


GLUE_ROLE = re.compile(r"\{glue:(?:text|md)\}`([^`]+)`")


def glued(notebook) -> dict[str, str]:
    """The values the notebook's cells glue, by name, as the page shows
    them (Markdown if glued as Markdown, else the text of the value)."""
    values = {}
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            record = out.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            data, prefix = out["data"], record["mime_prefix"]
            text = data.get(prefix + "text/markdown")
            if text is None:
                text = data.get(prefix + "text/plain", "")
                with contextlib.suppress(ValueError, SyntaxError):
                    value = ast.literal_eval(text)
                    text = value if isinstance(value, str) else text
            values[record["name"]] = text
    return values


def paste_glue(notebook) -> None:
    """Put the glued values into the text, where the page shows them
    (Jupyter and Colab do not know myst-nb's glue roles)."""
    values = glued(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = GLUE_ROLE.sub(
                lambda m: values.get(m.group(1), m.group(0)), cell.source)


LITERALINCLUDE = re.compile(
    r"```\{literalinclude\} *(?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)```")


def show_included_code(app, notebook, folder: Path) -> None:
    """Put the code that the page shows from the library (literalinclude)
    into the text as a code block, read as Sphinx reads it for the page."""
    from sphinx.directives.code import LiteralIncludeReader

    def code(match: re.Match) -> str:
        options = dict(re.findall(r":([\w-]+):[ \t]*(.*)",
                                  match.group("options")))
        path = (folder / match.group("path")).resolve()
        text, _ = LiteralIncludeReader(str(path), options, app.config).read()
        return f"```{options.get('language', '')}\n{text.rstrip()}\n```"

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = LITERALINCLUDE.sub(code, cell.source)


def publish(app, docname: str, commit: str) -> Path:
    """Write the executed page ``docname`` with the install cell and the
    CPU note to the site's notebooks/ folder; returns its path."""
    import nbformat

    notebook = executed(app, docname)
    root = Path(app.srcdir)
    paste_glue(notebook)
    show_included_code(app, notebook, (root / docname).parent)
    exec_data = NbMetadataCollector.get_exec_data(app.env, docname) or {}
    runtime = exec_data.get("runtime")
    install = INSTALL_CELL.format(
        release=release(root), repository=app.config.html_theme_options
        .get("repository_url", ""), commit=commit, checkout=CHECKOUT,
        myst_nb=requirement(root, "myst-nb"))
    note = CPU_NOTE.format(
        title=app.env.titles[docname].astext(), book=app.config.html_title,
        cores=os.cpu_count(),
        runtime=f"{runtime:.0f}" if runtime is not None else "a few")
    notebook.cells[:0] = [
        nbformat.v4.new_code_cell(install, id="install-the-library"),
        nbformat.v4.new_markdown_cell(note, id="runs-on-a-cpu")]
    notebook.metadata.pop("source_map", None)
    notebook.metadata["cnn_tutorial"] = {
        "commit": commit, "release": release(root), "runtime_s": runtime,
        "page": docname}
    out = Path(app.outdir) / SITE_FOLDER / f"{docname}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out)
    return out


def _publish_all(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    commit = source_commit(Path(app.srcdir))
    for docname in notebook_pages(app):
        publish(app, docname, commit)


def _buttons(app, pagename, templatename, context, doctree) -> None:
    """The download menu's notebook is the published one; Colab opens the
    notebooks branch (the theme would point it at the Markdown source)."""
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    branch = app.config.cnn_notebooks_branch
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-notebook-button":
                button["url"] = context["pathto"](
                    f"{SITE_FOLDER}/{pagename}.ipynb", 1)
                button["text"] = "notebook"
                button["tooltip"] = ("Download this chapter as a notebook, "
                                     "with its outputs")
            elif button.get("text") == "Colab":
                button["url"] = re.sub(r"/blob/.*", f"/blob/{branch}/"
                                       f"{pagename}.ipynb", button["url"])


def setup(app):
    app.add_config_value("cnn_notebooks_branch", "notebooks", "html")
    # after the theme's header buttons (priority 501)
    app.connect("html-page-context", _buttons, priority=900)
    app.connect("build-finished", _publish_all)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
