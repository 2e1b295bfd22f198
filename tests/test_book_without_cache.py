"""The pages' other branch: with the CIFAR-10 cache absent or altered, the
book still builds strictly and says so, showing only the tutorial's
reported figures (labelled as reported)."""
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, build_book_strictly
from test_book import text_of

from cnn_tutorial.artifacts import REPORTED
from cnn_tutorial.display import NOT_MEASURED, fmt_int, fmt_pct

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def uncached_book(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("uncached")
    repo = work / "repo"
    repo.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, repo / name)
    for folder in ("book", "src"):
        shutil.copytree(ROOT / folder, repo / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    cache = repo / "book/_static/cifar"
    (cache / "samples.png").write_bytes(b"altered")
    return build_book_strictly(repo, work / "out")


@pytest.mark.parametrize("page", ["01_why_cnns", "03_opened_up"])
def test_pages_say_the_measured_results_are_unavailable(uncached_book,
                                                       page):
    text = text_of(uncached_book / f"book/{page}.html")
    assert "not numbers measured here" in text          # the warning
    assert "samples.png was altered after it was generated" in text
    assert "not available in this build" in text


def test_verdict_shows_reported_figures_only(uncached_book):
    text = text_of(uncached_book / "book/01_why_cnns.html")
    assert "parameters (reported by the tutorial)" in text
    for name, reported in REPORTED.items():
        acc = f"~{fmt_pct(reported['test_acc'], 0)}"
        assert f"{acc} | " not in text           # rendered as a table
        assert (f"{name} ~{fmt_int(reported['params'])} {acc} "
                f"{NOT_MEASURED} {NOT_MEASURED}") in text, name
