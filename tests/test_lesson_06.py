"""Chapter 6, "Why did it say "cat"?": what each attribution method costs,
SmoothGrad's noise, the deletion check's two fills, the measured checks
(book/_static/attribution_checks.json) as the prose reads them, and the
numbers on the built page."""
import json

import pytest
import torch
from conftest import ROOT
from torch import nn

from cnn_tutorial import attribution, conv, figures
from cnn_tutorial.cifar import attribution_checks
from cnn_tutorial.cifar import cache as cifar_cache

PAGE = "book/06_attribution.html"


class Tiny(nn.Module):
    """One conv layer, named as Grad-CAM's default layer, and a head."""

    def __init__(self):
        super().__init__()
        self.conv2 = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 32 * 32, 10)

    def forward(self, x):
        return self.head(self.conv2(x).relu().flatten(1))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Tiny().eval(), torch.randn(2, 3, 32, 32), torch.tensor([1, 7])


def test_passes_per_image_counts_what_each_method_costs(tiny):
    model, x, y = tiny
    positions = conv.output_size(32, attribution.OCCLUSION_PATCH, 0,
                                 attribution.OCCLUSION_STRIDE)
    expected = {
        "gradient": (1, 1),
        "SmoothGrad": (attribution.SMOOTHGRAD_SAMPLES,) * 2,
        "integrated gradients": (attribution.IG_STEPS,) * 2,
        "occlusion": (positions ** 2 + 1, 0),
        "Grad-CAM": (1, 1),
    }
    for name, method in attribution.METHODS.items():
        passes = attribution.passes_per_image(method, model, x, y)
        assert (passes.forward, passes.backward) == expected[name], name


class Recorder(nn.Module):
    """A linear classifier that keeps every input it is shown."""

    def __init__(self):
        super().__init__()
        self.linear, self.seen = nn.Linear(3 * 32 * 32, 10), []

    def forward(self, x):
        self.seen.append(x.detach())
        return self.linear(x.flatten(1))


def test_smoothgrad_noise_is_a_share_of_each_images_range(tiny):
    model, x, y = tiny
    without = attribution.smoothgrad(model, x, y, noise=0.0, samples=3)
    torch.testing.assert_close(without, attribution.saliency(model, x, y))
    torch.testing.assert_close(attribution.smoothgrad(model, x, y),
                               attribution.smoothgrad(model, x, y))
    recorder = Recorder()
    x = torch.stack([torch.rand(3, 32, 32), 10 * torch.rand(3, 32, 32)])
    attribution.smoothgrad(recorder, x, y, samples=4)
    noise = torch.stack(recorder.seen) - x          # [samples, N, C, H, W]
    spread = x.amax((1, 2, 3)) - x.amin((1, 2, 3))
    share = noise.transpose(0, 1).flatten(1).std(1) / spread
    assert share.tolist() == pytest.approx(
        [attribution.SMOOTHGRAD_NOISE] * 2, rel=0.05)


def test_deletion_fills_are_the_mean_colour_or_a_blur():
    x = torch.randn(2, 3, 32, 32)
    assert (attribution.filled(x, "mean") == 0).all()
    flat = torch.full((1, 3, 32, 32), 0.7)
    torch.testing.assert_close(attribution.filled(flat, "blur"), flat)
    blurred = attribution.filled(x, "blur")
    assert blurred.std() < 0.5 * x.std()       # detail is gone
    with pytest.raises(ValueError, match="fill must be one of"):
        attribution.filled(x, "noise")


def test_blurring_a_flat_image_costs_nothing(tiny):
    model, _, y = tiny
    flat = torch.full((2, 3, 32, 32), 0.3)
    result = attribution.deletion(model, flat, y, torch.rand(2, 32, 32),
                                  fill="blur")
    assert result.top == pytest.approx(0, abs=1e-6)
    assert result.random == pytest.approx(0, abs=1e-6)


# --- the measured checks --------------------------------------------------

@pytest.fixture(scope="module")
def cache():
    opened = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    assert opened.ok, opened.problems
    return opened


@pytest.fixture(scope="module")
def checks(cache):
    return attribution_checks.load(
        cache, ROOT / attribution_checks.CHECKS_FILE)


def test_the_checks_merge_the_artefact_with_the_cached_seed(cache, checks):
    measured = json.loads((ROOT / attribution_checks.CHECKS_FILE).read_text())
    assert measured["inputs"] == attribution_checks.inputs(cache)
    assert set(checks["methods"]) == set(attribution.METHODS)
    cached = cache.metrics["attribution"]["seeds"][0]
    assert cached["seed"] == checks["seed"] == 0
    for name, m in checks["methods"].items():
        assert set(m) == {"randomisation", "deletion", "deletion_blur"}
        if name != "SmoothGrad":
            assert m["randomisation"] == \
                cached["methods"][name]["randomisation"]


def test_a_stale_or_missing_checks_file_says_what_to_run(
        cache, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="run `python -m"):
        attribution_checks.load(cache, tmp_path / "none.json")
    stale = tmp_path / "stale.json"
    stale.write_text((ROOT / attribution_checks.CHECKS_FILE).read_text())
    monkeypatch.setattr(attribution, "SMOOTHGRAD_NOISE", 0.5)
    with pytest.raises(ValueError, match="other settings"):
        attribution_checks.load(cache, stale)


def test_the_checks_as_the_prose_reads_them(checks):
    """Chapter 6, on the seed-0 CNN: see attribution_checks.verdicts."""
    verdicts = attribution_checks.verdicts(checks)
    assert all(verdicts.values()), verdicts


@pytest.mark.slow
def test_the_checks_file_recomputes_from_the_cached_cnn(cache, checks):
    """A reviewer's rerun of the blurred deletion of the two cheapest
    methods."""
    sample, _ = cifar_cache.load_test_sample(cache)
    model = cifar_cache.load_cnn(cache)
    for name in ("gradient", "Grad-CAM"):
        maps = attribution.METHODS[name](model, sample.x, sample.y)
        again = attribution.deletion(model, sample.x, sample.y, maps,
                                     fill="blur")
        assert vars(again) == pytest.approx(
            checks["methods"][name]["deletion_blur"], abs=1e-4), name


def test_class_images_are_titled_with_their_probability():
    fig = figures.plot_class_images(torch.rand(2, 3, 32, 32), ["cat", "dog"],
                                    torch.tensor([0.994, 0.5]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["cat\n99\u202f%", "dog\n50\u202f%"]


# --- the built page ---------------------------------------------------------

@pytest.mark.book
def test_the_page_shows_the_measured_checks_and_costs(built_book, checks):
    from test_book import text_of

    page = built_book / PAGE
    text = text_of(page)
    for name, value in attribution_checks.numbers(checks).items():
        if f"`{name}`" in (ROOT / "book/06_attribution.md").read_text():
            assert value in text, name
    flat = " ".join(text.split())
    positions = conv.output_size(32, attribution.OCCLUSION_PATCH, 0,
                                 attribution.OCCLUSION_STRIDE)
    assert f"occlusion {positions ** 2 + 1} forward, 0 backward" in flat
    assert (f"integrated gradients {attribution.IG_STEPS} forward, "
            f"{attribution.IG_STEPS} backward") in flat
    assert "Not clearly cheaper: integrated gradients" in flat
    raw = page.read_text(encoding="utf-8")
    assert raw.count("self-check-answer") >= 3


def test_cats_and_dogs_are_the_pair_the_cnn_confuses_most(cache):
    """The figure's classes (3 and 5): "the classes this CNN confuses
    most", on every cached seed, both directions counted."""
    for seed in cache.metrics["runs"]["cnn"]["seeds"]:
        c = seed["confusion"]
        pairs = {(t, p): c[t][p] + c[p][t]
                 for t in range(len(c)) for p in range(t + 1, len(c))}
        assert max(pairs, key=pairs.get) == (3, 5), seed["seed"]
    assert cache.metrics["classes"][3:6:2] == ["cat", "dog"]
