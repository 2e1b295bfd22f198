"""Chapters 2 and 3 as built: the staples' checks, the self-check answers,
the explorer's static view and the exercises' numbers (issue 26)."""
import base64
import re

import numpy as np
import pytest
from conftest import ROOT
from test_book import text_of as raw_text_of

from cnn_tutorial import conv, data, figures, lesson, models, params, widgets
from cnn_tutorial.display import fmt_int, fmt_pct

pytestmark = pytest.mark.book

CH2 = "book/02_convolution.html"
CH3 = "book/03_layers.html"


@pytest.mark.parametrize("page", ["02_convolution", "03_layers"])
def test_the_page_states_its_time_to_complete(built_book, page):
    minutes = lesson.page_demands(ROOT / "book" / f"{page}.md").minutes
    text = text_of(built_book / f"book/{page}.html")
    assert f"About {minutes} minutes to read" in text
    assert minutes <= 40


def test_chapter2_checks_per_axis_settings_and_dilation(built_book):
    text = text_of(built_book / CH2)
    shape = conv.output_shape(28, (3, 5), (1, 2), (1, 2))
    assert f"formula: {shape} PyTorch: {shape}" in text
    for d in (1, 2, 3):                      # the dilation table's rows
        out = conv.output_size(32, 3, dilation=d)
        assert f"| {d} | {conv.effective_kernel_size(3, d)} | {out} | " \
            f"{out} |" in _tables(built_book / CH2)
    assert f"⌊(32 − 7)/1⌋ + 1 = {conv.output_size(32, 3, dilation=3)}" \
        in text
    assert f"⌊(224 + 2·2 − 11)/4⌋ + 1 = {conv.output_size(224, 11, 2, 4)}" \
        in text


def test_chapter2_answers_the_explorers_prompts(built_book):
    text = text_of(built_book / CH2)
    assert f"⌊(6 + 2·0 − 3)/2⌋ + 1 = {conv.output_size(6, 3, 0, 2)} " \
        f"windows per row, and the last {conv.unused_cells(6, 3, 0, 2)} " \
        "column" in text
    with pytest.raises(ValueError) as error:
        conv.output_size(3, 5)
    assert str(error.value) in text
    x = widgets.explorer_input()[:, :5, :5]
    total = conv.worked_channel_sum(x, widgets.explorer_filters(3),
                                    np.array(widgets.CONV_BIAS), 1, 0, 0)
    assert f"output channel 1 at (0, 0) is {total}" in text


def test_chapter2_exercises_show_computed_answers(built_book):
    text = text_of(built_book / CH2)
    h, w = conv.output_shape((40, 60), (1, 7), (0, 3), (1, 2))
    assert f"⌊(40 + 2·0 − 1)/1⌋ + 1 = {h}" in text
    assert f"⌊(60 + 2·3 − 7)/2⌋ + 1 = {w}" in text
    assert f"The layer gives {h} × {w}" in text
    assert "reaches 7 for d = 3" in text.replace("\\(", "").replace(
        "\\)", "").replace("$", "")
    assert "keeps 9 weights, the dense one has 49" in text
    assert f"⌊(55 − 3)/2⌋ + 1 = {conv.output_size(55, 3, 0, 2)}" in text


def test_the_explorers_static_view_is_a_step_of_the_explorer(built_book):
    """Without JavaScript the reader sees the explorer at FALLBACK_VIEW (its
    formula line and worked sum), not a copy of the first figure."""
    raw = (built_book / CH2).read_text(encoding="utf-8")
    fallback = raw.split('class="cnn-widget-fallback"', 1)[1]
    src = re.search(r'<img src="data:image/png;base64,([^"]+)"', fallback)
    figures.use_book_style()
    expected = figures.figure_png(widgets.explorer_view(
        **widgets.FALLBACK_VIEW))
    assert base64.b64decode(src.group(1)) == expected
    view = widgets.FALLBACK_VIEW
    assert f"one step of the explorer (n = {view['n']}" in fallback


def test_chapter3_pools_per_channel_and_checks_1x1(built_book):
    text = text_of(built_book / CH3)
    assert "conv output (1, 2, 2, 2) -> pooled (1, 2, 1, 1)" in text
    assert "channel by channel: True" in text
    assert "the pooled batch is 1 × 2 × 1 × 1" in text
    assert "weights (8, 32) largest difference" in text


def test_chapter3_walks_lenet5_through_the_formula(built_book):
    text = text_of(built_book / CH3)
    rows = params.walkthrough(models.lenet5(), (1, 32, 32))
    for row in rows:
        shape = "×".join(map(str, row.predicted_shape))
        assert (f"{row.layer.name} {row.formula} {shape} {shape} "
                f"{fmt_int(row.layer.params)} {fmt_int(row.layer.macs)} "
                f"{fmt_int(row.layer.activation_bytes)}") in text, row
    by = {r.layer.name: r.layer for r in rows}
    total = sum(r.params for r in by.values())
    assert f"C5 holds {fmt_int(by['C5'].params)} of the {fmt_int(total)} " \
        f"parameters ({fmt_pct(by['C5'].params / total, 0)})" in text
    assert max(by.values(), key=lambda r: r.params).name == "C5"
    assert max(by.values(), key=lambda r: r.macs).name == "C3"
    assert f"C3 does the most work, {fmt_int(by['C3'].macs)}" in text
    assert f"C1's output takes {fmt_int(by['C1'].activation_bytes)} " \
        "bytes per image" in text
    assert f"alone take {256 * by['C1'].activation_bytes / 1e6:.1f} MB" \
        in text


def test_chapter3_receptive_fields_arithmetic_and_gradients_agree(
        built_book):
    rows = [line.split(" | ") for line in _tables(built_book / CH3)
            .splitlines() if re.match(r"\| (conv|pool)\d ", line)]
    assert [r[0].strip("| ") for r in rows] == ["conv1", "pool1", "conv2",
                                                "pool2"]
    assert all(r[1] == r[3].strip(" |") for r in rows), rows
    conv2 = rows[2][1]
    assert f"{conv2}: conv1 units see {rows[0][1]}, pool1 units " \
        f"{rows[1][1]} with the jump doubled" in text_of(built_book / CH3)


def test_chapter3_exercises_count_right(built_book):
    text = text_of(built_book / CH3)
    signal, pattern = data.pattern_signal(starts=(30, 95, 150), seed=0)
    n, k = len(signal), len(pattern)
    assert f"covers the last {k} samples, so it starts {k} samples " \
        f"before the end (at index {n - k})" in text
    assert f"{k - 1}, fewer values than the signal" in text
    assert "padding 2, since ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28" in text
    assert "to 10 scores" in text


def text_of(page) -> str:
    """The page's text, without the spaces the tags around a glued value
    leave ("( 78 % )" -> "(78 %)") and with straight apostrophes."""
    text = re.sub(r"\(\s+", "(", raw_text_of(page))
    return re.sub(r"\s+([),.:;])", r"\1", text).replace("\u2019", "'")


def _tables(page) -> str:
    """The page's table rows as '| a | b |' lines."""
    raw = page.read_text(encoding="utf-8")
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", raw, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip()
                 for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
