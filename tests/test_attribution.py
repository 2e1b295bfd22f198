"""Attribution maps and their sanity checks, on a small seeded CNN."""
import pytest
import torch
from captum.attr import Occlusion

from cnn_tutorial import attribution, models


@pytest.fixture(scope="module")
def model():
    return models.cifar_cnn(seed=0).eval()


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(3, 3, 32, 32, generator=generator),
            torch.tensor([0, 3, 7]))


@pytest.mark.parametrize("name", list(attribution.METHODS))
def test_every_method_gives_one_map_per_image(model, batch, name):
    x, y = batch
    maps = attribution.METHODS[name](model, x, y)
    assert maps.shape == (3, 32, 32)
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    with pytest.raises(ValueError, match="one target class per image"):
        attribution.METHODS[name](model, x, y[:2])


def test_our_occlusion_is_captums(model, batch):
    """The lesson's loop equals captum's Occlusion on the probabilities
    (same patch, stride and grey baseline)."""
    x, y = batch
    ours = attribution.occlusion(model, x, y)
    p = attribution.OCCLUSION_PATCH
    s = attribution.OCCLUSION_STRIDE
    theirs = Occlusion(lambda z: model(z).softmax(1)).attribute(
        x, sliding_window_shapes=(3, p, p), strides=(3, s, s), baselines=0,
        target=y)
    assert torch.allclose(ours, theirs[:, 0], atol=1e-6)
    assert torch.allclose(theirs[:, 0], theirs[:, 2], atol=1e-6)


def test_integrated_gradients_are_complete(model, batch):
    x, y = batch
    attributions, delta = attribution.integrated_gradients_full(model, x, y)
    with torch.no_grad():
        change = (model(x) - model(torch.zeros_like(x)))[torch.arange(3), y]
    assert torch.allclose(attributions.sum((1, 2, 3)) - change, delta,
                          atol=1e-4)


def test_rank_correlation():
    a = torch.arange(16.0).view(1, 4, 4)
    assert attribution.rank_correlation(a, a).item() == pytest.approx(1)
    assert attribution.rank_correlation(a, -a).item() == pytest.approx(-1)
    assert attribution.rank_correlation(a, a ** 3).item() == pytest.approx(1)


def test_randomisation_replaces_the_named_layers_top_down(model):
    stages = attribution.randomised_from_top(
        model, ["classifier.3", "block1.0"])
    (first, m1), (second, m2) = stages
    assert (first, second) == ("classifier.3", "block1.0")
    assert not torch.equal(m1.classifier[3].weight, model.classifier[3].weight)
    assert torch.equal(m1.block1[0].weight, model.block1[0].weight)
    assert torch.equal(m2.classifier[3].weight, m1.classifier[3].weight)
    assert not torch.equal(m2.block1[0].weight, model.block1[0].weight)
    assert torch.equal(m2.block2[0].weight, model.block2[0].weight)
    with pytest.raises(ValueError, match="'block9'"):
        attribution.randomised_from_top(model, ["block9"])


def test_deletion_compares_top_and_random_pixels(model, batch):
    x, y = batch
    maps = torch.zeros(3, 32, 32)
    maps[:, :4, :] = 1.0                       # the top rows "matter"
    result = attribution.deletion(model, x, y, maps, share=0.125)
    assert -1 <= result.top <= 1 and -1 <= result.random <= 1
    with pytest.raises(ValueError, match="maps must be"):
        attribution.deletion(model, x, y, maps[:, :16])


def test_visualisation_raises_its_objective(model):
    objective = attribution.class_objective(model)
    start = attribution.visualise(objective, 10, steps=0)
    after = attribution.visualise(objective, 10, steps=30)
    with torch.no_grad():
        assert (objective(after) > objective(start)).all()


@pytest.mark.slow
def test_the_cached_sanity_checks_recompute_from_the_cached_cnn():
    """A reviewer's rerun: the checks in metrics.json follow from the
    committed CNN (seed 0) and the committed test images (the two
    cheapest methods here, one backward pass per map; `make cifar`
    recomputes all five, and test_our_occlusion_is_captums checks the
    occlusion code)."""
    from conftest import ROOT

    from cnn_tutorial.cifar import cache as cifar_cache

    opened = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    sample, _ = cifar_cache.load_test_sample(opened)
    cached = next(s for s in opened.metrics["attribution"]["seeds"]
                  if s["seed"] == 0)
    methods = ("gradient", "Grad-CAM")
    again = attribution.sanity_checks(cifar_cache.load_cnn(opened),
                                      sample.x, sample.y, methods=methods)
    assert again["true_class_prob"] == pytest.approx(
        cached["true_class_prob"], abs=1e-4)
    for name in methods:
        checks = cached["methods"][name]
        assert again["methods"][name]["randomisation"] == pytest.approx(
            checks["randomisation"], abs=0.02), name
        for key in ("top", "random"):
            assert again["methods"][name]["deletion"][key] == pytest.approx(
                checks["deletion"][key], abs=0.02), name
