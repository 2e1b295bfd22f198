"""Chapter 4, "A trained CNN, opened up": the explorers' static views, the
numbers the page quotes (from the built page) and its claims over the
digits seeds 0-9."""
import html
import re

import numpy as np
import pytest
import torch
from conftest import ROOT

from cnn_tutorial import (
    activations,
    conv,
    experiments,
    figures,
    models,
    widgets,
)
from cnn_tutorial.cifar import cache as cifar_cache
from cnn_tutorial.cifar import present
from cnn_tutorial.display import fmt_pct

PAGE = "book/04_opened_up.html"
SEEDS = range(10)


def test_conv_maps_are_the_two_convs_before_or_after_relu():
    model = models.digits_cnn(seed=0)
    x = torch.rand(1, 1, 8, 8)
    before = widgets.conv_maps(model, x, after_relu=False)
    after = widgets.conv_maps(model, x, after_relu=True)
    with torch.no_grad():
        conv1 = model.conv1(x)
        conv2 = model.conv2(model.block1(x))
    torch.testing.assert_close(before["conv1"], conv1[0])
    torch.testing.assert_close(before["conv2"], conv2[0])
    torch.testing.assert_close(after["conv2"], conv2[0].clamp(min=0))
    assert (before["conv1"] < 0).any()      # before the ReLU: signed


def test_conv_maps_need_two_conv_layers():
    with pytest.raises(ValueError, match="two conv layers; the model has 1"):
        widgets.conv_maps(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)),
                          torch.zeros(1, 1, 8, 8), after_relu=False)


def test_explorer_view_draws_every_map_of_every_layer():
    maps = {"conv1": torch.randn(32, 8, 8), "conv2": torch.randn(64, 4, 4)}
    fig = figures.plot_network_view(np.zeros((8, 8)), np.full(10, 0.1),
                                     maps)
    titles = [ax.get_title(loc="left") for sub in fig.subfigs
              for ax in sub.axes]
    for name, n, side in (("conv1", 32, 8), ("conv2", 64, 4)):
        assert (f"{name}: {n} maps of {side}×{side}, channels in order, "
                "one colour scale") in titles
    mosaics = [ax.images[0].get_array().shape for sub in fig.subfigs[1:]
               for ax in sub.axes]
    assert mosaics == [(2 * 9, 16 * 9, 3), (4 * 5, 16 * 5, 3)]  # 16 a row
    with pytest.raises(ValueError, match=r"conv1: feature maps must be"):
        figures.plot_network_view(np.zeros((8, 8)), np.full(10, 0.1),
                                   {"conv1": torch.zeros(8, 8)})


def test_the_pads_static_view_shows_its_maps(trained_cnn, digits,
                                             tmp_path):
    pad = widgets.digit_pad(trained_cnn.model, digits.test, tmp_path)
    plain = figures.figure_png(figures.plot_prediction(
        np.zeros((8, 8)), np.full(10, 0.1)))
    assert "conv1 and conv2 feature maps" in pad.html
    assert len(pad.png) > 2 * len(plain)     # more than input and bars


def _cache():
    cache = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    assert cache.ok, cache.problems
    return cache


def test_cifar_conv1_spans_its_27_directions_less_evenly_than_digits():
    """Exercise 4: rank 27 of 27 before and after training, and a larger
    singular-value ratio than the digits' 9-dimensional patches (all 10
    digits seeds: test_digits_filter_claims_hold_over_seeds)."""
    numbers = present.numbers(_cache())
    assert numbers["cifar_bank_rank"] == "27 of 27"
    assert numbers["cifar_bank_rank_after"] == "27"
    digits_ratios = [activations.filter_bank(activations.filters(
        models.digits_cnn(seed=s).conv1)).condition for s in SEEDS]
    assert float(numbers["cifar_bank_condition"]) > max(digits_ratios)


def test_random_digits_filters_span_all_nine_directions():
    """'the random filters span all 9 directions' (seeds 0-9; how the
    trained ones moved: test_claims.py)."""
    for seed in SEEDS:
        before = activations.filters(models.digits_cnn(seed=seed).conv1)
        assert activations.filter_bank(before).rank == 9, seed


@pytest.mark.book
def test_the_page_quotes_measured_numbers(built_book, trained_cnn, digits):
    raw = (built_book / PAGE).read_text(encoding="utf-8")
    text = re.sub(r"[ \t\r\n]+", " ",           # keeps the thin spaces
                  html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    assert f"the CNN classifies {fmt_pct(trained_cnn.test_acc)}" in text
    numbers = present.numbers(_cache())
    for key in ("cifar_bank_rank", "cifar_bank_condition",
                "cifar_bank_condition_after", "cifar_conv1_cosine",
                "cifar_top_confusion", "cifar_cnn_acc"):
        assert numbers[key] in text, key
    drop = re.search(r"more than ([\d\u202f]+) times smaller", text).group(1)
    sobel = torch.tensor(conv.KERNELS["Sobel x (vertical edges)"]).float()
    fit = experiments.learn_kernel(digits.train.x[0, 0], sobel)
    ratio = fit.losses[0] / fit.losses[-1]
    power = int(re.sub(r"\D", "", drop))
    assert str(power).rstrip("0") == "1"         # a power of ten
    assert power <= ratio < 10 * power
    # the static views show the maps the widgets draw
    assert raw.count("feature maps in red (positive)") == 1
    assert raw.count("conv2 feature maps after the ReLU") == 1
    assert raw.count("self-check-answer") >= 3
