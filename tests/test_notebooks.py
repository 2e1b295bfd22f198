"""Every chapter as a notebook with its outputs: published with the site,
offered by the chapter's download menu, opened by its Colab button, and
runnable top to bottom where the library is not installed."""
import ast
import base64
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml
from conftest import CHAPTER_FILES, ROOT

pytestmark = pytest.mark.book

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = "notebooks"          # the site's folder, and the branch


class _Chapter(HTMLParser):
    """A built chapter as the reader sees it: its links, the text it
    printed, its glued values and the images of its outputs."""

    def __init__(self):
        super().__init__()
        self.links, self.printed, self.glued, self.images = [], [], [], []
        self.in_prose = []     # per glued value: in the text, not a caption
        self._into = None
        self._depth = 0
        self._caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        self._caption = self._caption or tag == "figcaption"
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and "_images/" in a.get("src", ""):
            self.images.append(Path(a["src"]).stem)
        if tag == "div" and "stream" in classes and "output" in classes:
            self._into, self._depth = "printed", 0
            self._text = ""
        elif tag == "span" and "pasted-text" in classes:
            self._into, self._text = "glued", ""
        if self._into == "printed" and tag == "div":
            self._depth += 1

    def handle_data(self, data):
        if self._into:
            self._text += data

    def handle_endtag(self, tag):
        self._caption = self._caption and tag != "figcaption"
        if self._into == "printed" and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self.printed.append(self._text)
                self._into = None
        elif self._into == "glued" and tag == "span":
            self.glued.append(self._text)
            self.in_prose.append(not self._caption)
            self._into = None


def chapter(built_book: Path, name: str) -> _Chapter:
    page = _Chapter()
    page.feed((built_book / f"{name}.html").read_text(encoding="utf-8"))
    return page


def notebook(built_book: Path, name: str) -> nbformat.NotebookNode:
    return nbformat.read(built_book / NOTEBOOKS / f"{name}.ipynb",
                         as_version=4)


def outputs_text(nb) -> str:
    """Everything the notebook's outputs hold as text: what cells print
    and display, and the values they glue (stored as Python literals)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for mime, value in out.get("data", {}).items():
                if mime == "text/plain":
                    parts.append(value)
                elif mime.endswith("papermill.record/text/plain"):
                    with contextlib.suppress(ValueError, SyntaxError):
                        value = str(ast.literal_eval(value))
                    parts.append(value)
    return "".join(map(str, parts))


def output_images(nb) -> set[str]:
    """sha256 of every PNG the notebook's outputs hold (the site names its
    output images by theirs)."""
    return {hashlib.sha256(base64.b64decode(out["data"]["image/png"]))
            .hexdigest()
            for cell in nb.cells for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})}


def squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_chapter_notebook_is_valid_and_installs_first(built_book):
    assert CHAPTER_FILES
    for name in CHAPTER_FILES:
        nb = notebook(built_book, name)
        nbformat.validate(nb)
        install, note = nb.cells[0], nb.cells[1]
        assert install.cell_type == "code"
        assert 'find_spec("cnn_tutorial") is None' in install.source
        commit = nb.metadata["cnn_tutorial"]["commit"]
        assert f"COMMIT = {commit!r}" in install.source
        assert f"REPOSITORY = {CONFIG['repository']['url']!r}" in \
            install.source
        runtime = nb.metadata["cnn_tutorial"]["runtime_s"]
        assert f"took {runtime:.0f} s together" in " ".join(note.source
                                                              .split())
        assert "No GPU needed" in note.source


def test_notebooks_hold_the_outputs_the_pages_show(built_book):
    for name in CHAPTER_FILES:
        page, nb = chapter(built_book, name), notebook(built_book, name)
        shown = squashed(outputs_text(nb))
        assert page.images and (page.printed or page.glued), name
        for printed in page.printed:
            assert squashed(printed) in shown, (name, printed[:200])
        for value in page.glued:
            assert squashed(value) in shown, (name, value)
        missing = set(page.images) - output_images(nb)
        assert not missing, f"{name}: page images not in the notebook"


def test_notebook_text_shows_the_numbers_and_code_the_page_shows(
        built_book):
    """The markdown cells carry the glued values and the library code the
    page includes, not myst-nb's roles and Sphinx's directives (which
    Jupyter and Colab would show as raw text)."""
    for name in CHAPTER_FILES:
        page, nb = chapter(built_book, name), notebook(built_book, name)
        markdown = "\n".join(cell.source for cell in nb.cells
                              if cell.cell_type == "markdown")
        assert "{literalinclude}" not in markdown, name
        source = (ROOT / f"{name}.md").read_text()
        for shown in re.findall(r":pyobject: *(\w+)", source):
            assert re.search(rf"^\s*(def|class) {shown}\b", markdown,
                             re.M), (name, shown)
        text = squashed(markdown)
        assert "{glue" not in text, name
        prose = [v for v, p in zip(page.glued, page.in_prose) if p]
        assert prose, name
        for value in prose:
            assert squashed(value) in text, (name, value)


def test_download_menu_and_colab_open_the_published_notebook(built_book):
    repository = urlparse(CONFIG["repository"]["url"]).path.strip("/")
    colab = (f"{CONFIG['launch_buttons']['colab_url']}/github/{repository}"
             f"/blob/{NOTEBOOKS}/")
    for name in CHAPTER_FILES:
        page = chapter(built_book, name)
        here = f"file://{built_book}/{name}.html"
        downloads = [urljoin(here, link) for link in page.links
                     if link.endswith(".ipynb") and "://" not in link]
        assert downloads == [f"file://{built_book}/{NOTEBOOKS}/{name}.ipynb"]
        launches = [link for link in page.links
                    if link.startswith(CONFIG["launch_buttons"]["colab_url"])]
        assert len(launches) == 1, (name, launches)
        assert launches[0].startswith(colab), launches[0]
        path = launches[0].removeprefix(colab)
        assert (built_book / NOTEBOOKS / path).is_file(), launches[0]
        binder = [link for link in page.links if "urlpath=" in link]
        assert binder and all((ROOT / link.split("/tree/", 1)[1]).is_file()
                              for link in binder), binder


def dependencies_without_the_library(where: Path) -> Path:
    """A folder of links to this environment's packages, without the
    tutorial's library (nor its editable-install hooks)."""
    where.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if not re.match(r"(cnn[_-]tutorial|__editable__)", entry.name, re.I):
            (where / entry.name).symlink_to(entry)
    return where


@pytest.mark.slow
def test_a_chapter_notebook_runs_where_the_library_is_missing(
        built_book, tmp_path):
    """The quickest chapter's notebook, run with nbclient in a new virtual
    environment that has the dependencies but not the library, with its
    install cell fetching this checkout: it installs the library, then
    every cell runs."""
    runtimes = {name: notebook(built_book, name).metadata["cnn_tutorial"]
                ["runtime_s"] or 0 for name in CHAPTER_FILES}
    name = min(runtimes, key=runtimes.get)
    nb = notebook(built_book, name)
    nb.cells[0].source = nb.cells[0].source.replace(
        repr(CONFIG["repository"]["url"]), repr(str(ROOT)))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import cnn_tutorial\nprint('library:', cnn_tutorial.__file__)"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    nbformat.write(nb, work / "chapter.ipynb")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; "
         "print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    deps = dependencies_without_the_library(tmp_path / "deps")
    (Path(purelib) / "dependencies.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0",
               PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    missing = subprocess.run([python, "-c", "import cnn_tutorial"],
                             env=env, capture_output=True)
    assert missing.returncode != 0, "the new environment has the library"

    run = subprocess.run(
        [python, "-c",
         "import nbclient, nbformat, sys\n"
         "nb = nbformat.read('chapter.ipynb', as_version=4)\n"
         "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',"
         " resources={'metadata': {'path': '.'}}).execute()\n"
         "nbformat.write(nb, 'ran.ipynb')\n"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    ran = nbformat.read(work / "ran.ipynb", as_version=4)
    library = "".join(out.get("text", "")
                      for out in ran.cells[-1].outputs)
    assert f"library: {venv}" in library, library
    assert [d for d in work.iterdir() if (d / "book/_static").is_dir()], (
        "the install cell fetched no checkout of the book")
