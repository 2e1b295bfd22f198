"""The committed CIFAR-10 models, re-evaluated on the shared test images:
each cached model scores what metrics.json says it scored."""
import pytest
import torch
from conftest import ROOT

from cnn_tutorial.cifar import cache as cifar_cache
from cnn_tutorial.cifar import report
from cnn_tutorial.cifar.data import classes_subset
from cnn_tutorial.cifar.runs import TRANSFER, group
from cnn_tutorial.data import cifar10_test_images
from cnn_tutorial.train import evaluate

SHARED = ROOT.parent / "shared/data/cifar10-jpeg.tar.gz"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cached():
    if not SHARED.is_file():
        pytest.skip(f"the shared CIFAR-10 copy is not here ({SHARED})")
    opened = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    assert opened.ok, opened.problems
    test = cifar_cache.normalization(opened).apply(
        cifar10_test_images(SHARED))
    return opened, test


def test_every_cached_ladder_model_scores_its_recorded_accuracy(cached):
    """Within 0.5 point of metrics.json (exactly, on the machine that made
    the cache: every model was measured as stored, in float16). The flip
    test-time augmentation rung shares its weights with the rung before."""
    opened, test = cached
    for run in group("ladder"):
        if run.flip_tta:   # the same weights as the rung before it
            continue
        model = cifar_cache.load_model(opened, run.slug)
        # channels-last: faster on CPU; it may differ in the last bits,
        # well within the 0.5 point allowed
        _, acc = evaluate(model.to(memory_format=torch.channels_last), test)
        recorded = report.seed0(opened, run.slug)["test_acc"]
        assert acc == pytest.approx(recorded, abs=0.005), run.name


def test_the_cached_transfer_backbone_scores_its_recorded_accuracy(cached):
    opened, test = cached
    backbone = cifar_cache.load_model(opened, "transfer")
    source = classes_subset(test, list(TRANSFER.source))
    _, acc = evaluate(backbone, source)
    seed0 = next(s for s in opened.metrics["transfer"]["seeds"]
                 if s["seed"] == 0)
    assert acc == pytest.approx(seed0["source_test_acc"], abs=0.005)
