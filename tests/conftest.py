"""Shared fixtures: the digits, a tiny CIFAR-10 on disk, the built book."""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torchvision.datasets.cifar

from cnn_tutorial import data, lesson

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """``scripts/<name>.py`` imported as module ``name``."""
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module         # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


# `make pdf`'s script: its Chromium lookup and flags are the tests' too
make_pdf = load_script("make_pdf")


@pytest.fixture(scope="session")
def digits() -> data.Dataset:
    return data.digits()


# Each seed-0 digits model is trained once per test run, here; tests only
# read them (test_claims.py reuses them for seed 0).
@pytest.fixture(scope="session")
def trained_models(digits):
    """Chapter 1's digits MLP and CNN (seed 0)."""
    from cnn_tutorial import experiments

    return experiments.train_digits_models(digits, seed=0)


@pytest.fixture(scope="session")
def trained_cnn(trained_models):
    """Chapter 3's digits CNN, the one the draw-a-digit pad runs: the same
    seeded model as chapter 1's (test_experiments.py checks that the two
    trainings agree; the book tests, that both pages print its accuracy)."""
    return trained_models["CNN"]


@pytest.fixture(scope="session")
def augmented_cnn(digits):
    """Chapter 3's digits CNN trained with augmentation (seed 0)."""
    from cnn_tutorial import experiments, transforms

    return experiments.train_digits_cnn(
        digits, seed=0, augment=transforms.augmentation(seed=0))


def write_fake_cifar(root: Path, per_batch: int = 20, n_test: int = 30,
                     seed: int = 0) -> Path:
    """A tiny dataset in CIFAR-10's real on-disk format (python pickles of
    uint8 rows in CHW order, as in cifar-10-batches-py/)."""
    folder = root / data.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)

    def batch(n: int, label: str) -> dict:
        return {
            "batch_label": label,
            "labels": [int(i % 10) for i in range(n)],
            "data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
            "filenames": [f"img_{i}.png" for i in range(n)],
        }

    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(per_batch, f"training batch {i} of 5"), f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(n_test, "testing batch 1 of 1"), f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(data.CIFAR10_CLASSES)}, f)
    return root


def write_fake_image_tree(root: Path, train_per_class: int = 10,
                          test_per_class: int = 3, seed: int = 0,
                          archive: bool = False) -> Path:
    """A tiny CIFAR-10 image-folder tree of random 32x32 RGB JPEGs
    (``root/cifar10-jpeg/{train,test}/<class>/NNNN.jpg``); with
    ``archive`` packed as ``root/cifar10-jpeg.tar.gz``. Returns the tree's
    folder or the archive."""
    import tarfile

    import torch
    from torchvision.io import encode_jpeg

    tree = root / "cifar10-jpeg"
    generator = torch.Generator().manual_seed(seed)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for cls in data.CIFAR10_CLASSES:
            folder = tree / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                                      generator=generator)
                (folder / f"{i:04d}.jpg").write_bytes(
                    encode_jpeg(image, quality=75).numpy().tobytes())
    if not archive:
        return tree
    path = root / "cifar10-jpeg.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tree, arcname="cifar10-jpeg")
    shutil.rmtree(tree)
    return path


def skip_md5_check(mp: pytest.MonkeyPatch) -> None:
    """Bypass torchvision's md5 check, explicitly: synthetic files are not
    the real CIFAR-10 ones."""
    mp.setattr(torchvision.datasets.cifar, "check_integrity",
               lambda *args, **kwargs: True)


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch) -> Path:
    """A synthetic CIFAR-10 folder that torchvision will load."""
    skip_md5_check(monkeypatch)
    return write_fake_cifar(tmp_path / "cifar")


def build_book_strictly(repo: Path, out: Path) -> Path:
    """``jupyter-book build repo`` into ``out`` with warnings as errors (and
    a failing cell failing the build); returns the html/ folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", str(repo), "--path-output", str(out), "-W",
         "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    log = out / "build.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (
        f"strict book build failed (log: {log}):\n{result.stdout[-4000:]}"
        f"\n{result.stderr[-4000:]}")
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The whole book's html/ folder: ``BUILT_BOOK`` when it is set (`make
    test` sets it to the build `make book` has just made, so that the book
    is built once per run), else built strictly from a clean execution
    cache into a temporary folder."""
    if os.environ.get("BUILT_BOOK"):
        return Path(os.environ["BUILT_BOOK"]).resolve()
    return build_book_strictly(ROOT, tmp_path_factory.mktemp("book"))


# the pages in reading order, as paths relative to the repository without
# their suffix; the numbered chapters (01_...) are not the intro, references
# or statistics
TOC_FILES = [file for _, file in lesson.toc_pages(ROOT)]
CHAPTER_FILES = [f for f in TOC_FILES if lesson.is_chapter(f)]
SITE_PAGES = [f"{f}.html" for f in TOC_FILES]     # as the built site has them

AXE = ROOT / ".cache/axe/node_modules/axe-core/axe.min.js"
browser_path = make_pdf.find_browser


def has_browser() -> str | None:
    """Why the browser test cannot run here, or None if it can."""
    if browser_path() is None:
        return "chromium is not installed (apt-get install chromium)"
    if not AXE.is_file():
        return ("no local axe-core copy (run scripts/install_browser_deps.sh)")
    return None


def browser_marks() -> list:
    """``pytestmark`` of a browser test module: its markers, and a skip
    with the reason when no browser can run here."""
    marks = [pytest.mark.browser, pytest.mark.book]
    reason = has_browser()
    return marks + ([pytest.mark.skip(reason=reason)] if reason else [])


CHROMIUM_ARGS = make_pdf.CHROMIUM_ARGS


@pytest.fixture(scope="session")
def server(built_book):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser_path(),
                              args=CHROMIUM_ARGS)
        yield b
        b.close()


def offline_page(context):
    """A page whose outside requests are recorded and refused (the site,
    MathJax included, must work offline) and whose console errors are
    collected in ``page.console_errors``."""
    pg = context.new_page()
    pg.external = []
    pg.console_errors = []

    def route(r):
        url = urlparse(r.request.url)
        if url.hostname in ("127.0.0.1", "localhost"):
            return r.continue_()
        pg.external.append(r.request.url)
        return r.abort()

    pg.route("**/*", route)
    pg.on("console", lambda m: m.type == "error"
          and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    return pg


def goto(page, url: str):
    """Open ``url`` once it has loaded and MathJax has typeset it (not
    waiting for the network to idle: a widget test awaits its widget's
    ``ready``, which follows its own files)."""
    response = page.goto(url, wait_until="load")
    page.evaluate("window.MathJax && MathJax.startup && MathJax.startup"
                  ".promise ? MathJax.startup.promise.then(() => null) : null")
    return response


def shared_page(browser, url: str, ready: str = "null", **context):
    """For a module-scoped fixture (``yield from``): one offline page at
    ``url`` (desktop-sized unless ``context`` says otherwise), once the
    promise ``ready`` (a JavaScript expression) has resolved, shared by
    tests that set every input they read; closed after the module."""
    context = browser.new_context(
        **{"viewport": {"width": 1280, "height": 900}, **context})
    page = offline_page(context)
    goto(page, url)
    page.evaluate(ready)
    yield page
    context.close()


def use_color_scheme(page, scheme: str) -> None:
    """The reader's system switches to ``scheme`` ("light" or "dark"): the
    open page's theme follows, and its colour transitions end (axe and
    screenshots read the colours as they are)."""
    page.emulate_media(color_scheme=scheme)
    page.wait_for_function("s => document.documentElement.dataset.theme"
                           " === s", arg=scheme)
    page.evaluate("""Promise.all(document.getAnimations()
        .filter(a => isFinite(a.effect.getComputedTiming().endTime))
        .map(a => a.finished.catch(() => null)))""")


def serious_violations(page, target: str = "document") -> list:
    """axe-core's serious and critical findings in ``target`` (a JavaScript
    expression or a CSS selector string) on the open page, loading axe
    into it if needed: (rule, impact, the first five elements)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        f"axe.run({target}, {{resultTypes: ['violations']}})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.fixture
def page(browser):
    """A desktop-sized offline page (see :func:`offline_page`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield offline_page(context)
    context.close()


def edited_header(raw: bytes, edit) -> bytes:
    """A copy of a weights file (cnn_tutorial.export) whose JSON header
    ``edit(header)`` has changed in place; the values are left as they are."""
    import json
    import struct

    size = struct.unpack("<I", raw[8:12])[0]
    header = json.loads(raw[12:12 + size])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-(12 + len(text)) % 4)
    return raw[:8] + struct.pack("<I", len(text)) + text + raw[12 + size:]


def assert_static_figure_from_disk(browser, page_file: Path,
                                   widget: str) -> None:
    """Opened straight from disk (file://), the ``widget`` (a CSS class)
    keeps its static figure and says why in its message, with no uncaught
    error."""
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_function(f"document.querySelector('.{widget} "
                           ".cnn-message').innerText.includes('disk')")
    assert page.locator(f".{widget} .cnn-widget-fallback img").is_visible()
    assert not errors, errors
    context.close()
