"""The whole book, built strictly from a clean execution cache."""
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import CHAPTER_FILES, ROOT

from cnn_tutorial import conv, params
from cnn_tutorial.cifar import cache as cifar_cache
from cnn_tutorial.cifar import present, report
from cnn_tutorial.cifar.present import fmt_spread
from cnn_tutorial.display import fmt_int, fmt_pct

pytestmark = pytest.mark.book

CHAPTERS = [f"{f}.html" for f in CHAPTER_FILES]
# the chapters by name: the pages a check reads, whatever their order
PAGE = {Path(f).name: f"{f}.html" for f in CHAPTER_FILES}


def glued_names(chapter: str) -> set[str]:
    """The glue names a chapter's source shows ({glue:...}`name`)."""
    source = (ROOT / f"{chapter}.md").read_text(encoding="utf-8")
    return set(re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", source))


def text_of(page: Path) -> str:
    """The page's text with tags dropped and entities decoded."""
    raw = page.read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    return re.sub(r"[ \t\r\n]+", " ", text)    # keeps the thin spaces


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapters_hold_executed_outputs(built_book, page):
    raw = (built_book / page).read_text(encoding="utf-8")
    assert raw.count('class="cell_output') >= 3
    assert "Traceback" not in raw
    pngs = re.findall(r'<img[^>]+src="([^"]+\.png)"', raw)
    assert len(pngs) >= 3
    for src in pngs:
        target = (built_book / page).parent.joinpath(unquote(src))
        assert target.resolve().is_file()


def test_chapter1_prints_the_computed_numbers(built_book):
    text = text_of(built_book / CHAPTERS[0])
    for row in params.explosion_table():
        assert fmt_int(row.dense_params) in text
    assert fmt_int(params.conv_params(3, 32, 3)) in text


def test_measured_cifar_results_are_shown(built_book):
    """With the committed cache, every chapter that quotes CIFAR-10 results
    shows the measured numbers (reported ones beside them), its provenance
    and every cached figure, and no warning."""
    cache = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    assert cache.ok, cache.problems
    numbers = present.numbers(cache)
    text = {name: text_of(built_book / PAGE[name]) for name in
            ("01_why_cnns", "04_opened_up", "05_real_world")}
    for name, page in text.items():
        assert "not available in this build" not in page
        assert "not numbers measured here" not in page
        assert "Measured on the JPEG copy of CIFAR-10" in page, name
        assert cache.command in page, name          # the provenance note
        shown = glued_names(f"book/{name}") & numbers.keys()
        assert len(shown) >= 5, name
        for key in sorted(shown):
            assert numbers[key] in page, (name, key)
    for row in report.verdict(cache):           # reported beside measured
        assert (f"{row.name} ~{fmt_int(row.reported_params)} "
                f"~{fmt_pct(row.reported_acc, 0)} {fmt_int(row.params)} "
                f"{fmt_spread(row.test_acc)}") in text["01_why_cnns"], row.name
    for row in report.ladder(cache):            # every rung in the table
        assert (f"{row.rung} {row.run.name} {fmt_int(row.params)}"
                in text["05_real_world"])
    for name, figures in (
            ("01_why_cnns", ("fig-cifar-samples", "fig-cifar-curves",
                             "fig-cifar-per-class", "fig-cifar-permutation")),
            ("04_opened_up", ("fig-cifar-filters", "fig-cifar-patches1",
                              "fig-cifar-patches2", "fig-cifar-confusion")),
            ("05_real_world", ("fig-cifar-ladder",))):
        raw = (built_book / PAGE[name]).read_text(encoding="utf-8")
        for figure_id in figures:
            figure = raw.split(f'id="{figure_id}"', 1)[1].split(
                "</figure>")[0]
            assert "<img" in figure, figure_id


def test_chapter2_checks_formula_against_torch(built_book):
    text = (text_of(built_book / PAGE["02_convolution"])  # formula, pool
            + text_of(built_book / PAGE["03_layers"]))     # nn.Conv2d
    assert "output (64, 32, 32, 32)" in text
    assert f"{conv.output_size(224, 11, 2, 4)}" in text
    assert fmt_int(params.conv_params(3, 32, 3)) in text
    # figure captions carry the worked arithmetic
    assert re.search(r"output\(0, 0\) = [\d×+ ()\u2212]+ = \u2212?\d+",
                     text)
    assert re.search(r"max\([-\d., ]+\) = -?[\d.]+ and \([-\d.+ ]+\) / 4",
                     text)


def test_chapters_1_and_4_report_the_one_live_cnn(built_book, trained_cnn):
    """Both pages train the same seeded digits CNN and print the accuracy
    the suite's own training of it reached (its accuracy: test_train.py)."""
    acc = fmt_pct(trained_cnn.test_acc)
    ch1 = text_of(built_book / PAGE["01_why_cnns"])
    assert f"The CNN reaches {acc}" in ch1
    text = text_of(built_book / PAGE["04_opened_up"])
    assert f"the CNN classifies {acc}" in text
    assert "class TwoBlockCNN" in text                 # literalinclude


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(a[key])


# `make pdf` prints the built site to this file (tests/test_pdf.py checks
# that the intro's link reaches it)
PRINTED_BOOK = "tutorial-04-cnns.pdf"


def test_internal_links_resolve(built_book):
    """Every relative href/src of every page points at a file that exists,
    and every #fragment at an id on the target page (offline link check)."""
    parsed = {}

    def parse(page: Path) -> _Links:
        if page not in parsed:
            p = _Links()
            p.feed(page.read_text(encoding="utf-8"))
            parsed[page] = p
        return parsed[page]

    broken = []
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        for link in parse(page).links:
            url = urlparse(link)
            if url.scheme or link.startswith("//"):
                continue
            target = (page.parent / unquote(url.path)).resolve() \
                if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if target == (built_book / PRINTED_BOOK).resolve():
                continue
            if not target.exists():
                broken.append(f"{page.name}: {link}")
            elif url.fragment and target.suffix == ".html" and \
                    url.fragment not in parse(target).ids:
                broken.append(f"{page.name}: {link} (no such anchor)")
    assert not broken, broken


def test_attribution_page_shows_the_cached_checks(built_book):
    cache = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    page = built_book / PAGE["06_attribution"]
    text = text_of(page)
    for key, value in present.numbers(cache).items():
        if key.startswith("attr_"):
            assert value in text, key
    raw = page.read_text(encoding="utf-8")
    for name in ("fig-attribution", "fig-features-conv2",
                 "fig-features-classes"):
        assert "<img" in raw.split(f'id="{name}"', 1)[1].split(
            "</figure>")[0], name
    assert "def occlusion" in text                       # the lesson code
    assert "Physics-Informed Neural Networks" in text     # the last page
