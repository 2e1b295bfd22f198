"""The pages' other branch: with a CIFAR-10 cache present (made by the real
script from a tiny synthetic dataset), the book shows measured results."""
import re
import shutil
from pathlib import Path

import pytest

from cnn_tutorial import cifar
from conftest import (
    ROOT, build_book_strictly, skip_md5_check, write_fake_cifar,
)
from test_book import text_of

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def cached_book(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("cached")
    repo = work / "repo"
    repo.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, repo / name)
    for folder in ("book", "src"):
        shutil.copytree(ROOT / folder, repo / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    data_root = write_fake_cifar(work / "data")
    with pytest.MonkeyPatch.context() as mp:
        skip_md5_check(mp)
        assert cifar.main([
            "--data-dir", str(data_root), "--out-dir",
            str(repo / "book/_static/cifar"), "--epochs", "1",
            "--no-progress", "--device", "cpu"]) == 0
    return build_book_strictly(repo, work / "out")


def test_chapter1_shows_measured_verdict(cached_book):
    text = text_of(cached_book / "book/01_why_cnns.html")
    assert "test accuracy (measured (cached CIFAR-10 run))" in text
    assert "Measured CIFAR-10 results" in text
    assert "not numbers measured here" not in text
    assert "not available in this build" not in text


def test_chapter3_shows_the_cached_figures(cached_book):
    raw = (cached_book / "book/03_opened_up.html").read_text(encoding="utf-8")
    text = text_of(cached_book / "book/03_opened_up.html")
    assert "not available in this build" not in text
    imgs = re.findall(r'<img[^>]*alt="([^"]*)"[^>]*>', raw)
    for what in ("conv1 filters of the CIFAR-10 CNN", "feature maps of one "
                 "CIFAR-10 test image", "CIFAR-10 test images with the CNN"):
        assert any(what in alt for alt in imgs), what
