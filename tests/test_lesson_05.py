"""Chapter 5, "What changes for real-world data": its new library pieces,
the claims its prose makes about the committed CIFAR-10 cache, and what the
built page shows (book tier)."""
import re

import pytest
import torch
from conftest import ROOT
from test_book import text_of

from cnn_tutorial import experiments, models, train
from cnn_tutorial.cifar import cache as cifar_cache
from cnn_tutorial.cifar import present, report
from cnn_tutorial.display import fmt_int, fmt_pct


@pytest.fixture(scope="module")
def cache():
    opened = cifar_cache.open_cache(ROOT / cifar_cache.CACHE_DIR)
    assert opened.ok, opened.problems
    return opened


def test_a_frozen_backbone_still_moves_its_batchnorm_statistics():
    """'Freezing stops gradient steps, not BatchNorm's running averages':
    in training mode one batch moves them, in eval mode nothing does."""
    backbone = models.pretrained_backbone(n_classes=5, weights=None,
                                          freeze=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert train.running_stats_shift(backbone.train(), x) > 0.01
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    assert train.running_stats_shift(backbone.eval(), x) == 0
    assert all(torch.equal(before[k], v)
               for k, v in backbone.state_dict().items())


def test_running_stats_shift_refuses_a_model_without_batchnorm():
    with pytest.raises(ValueError, match="no BatchNorm"):
        train.running_stats_shift(models.digits_cnn(seed=0),
                                  torch.zeros(1, 1, 8, 8))


def test_the_architecture_is_the_largest_gain_by_far(cache):
    """Self-check answer: 'The architecture, by far: rung e gains ... on rung
    d, seed by seed, while BatchNorm gains the tutorial's CNN ... and
    augmentation ...' (by far: at least four times either, every seed)."""
    architecture = report.differences(cache, "gap", "cnn_bn_aug")
    tools = [*report.differences(cache, "cnn_bn", "cnn"),
             *report.differences(cache, "cnn_aug", "cnn")]
    assert min(architecture) > 4 * max(tools), (architecture, tools)


def test_the_transfer_budget_arithmetic(cache):
    """Exercise 4: updates per epoch times epochs is the same budget for
    both label counts; the backbone's training images are the source
    classes' half of the stratified fitting split."""
    numbers = present.numbers(cache)
    t = cache.metrics["transfer"]
    for n in t["labels_per_class"]:
        per_epoch = int(numbers[f"transfer_{n}_epoch_steps"])
        assert per_epoch == -(-n * len(t["target_classes"])
                              // t["recipe"][str(n)]["batch_size"])
        assert fmt_int(per_epoch * t["recipe"][str(n)]["epochs"]) == \
            numbers["transfer_50_steps"]
    assert numbers["transfer_source_images"] == fmt_int(
        cache.metrics["data"]["fit_size"] // 2)


# --- the built page ------------------------------------------------------


@pytest.fixture(scope="module")
def page(built_book):
    return built_book / "book" / "05_real_world.html"


@pytest.mark.book
def test_batchnorm_on_digits_is_stated_in_errors(page, trained_cnn, digits):
    """'Fewer, with this seed: N wrong instead of M (a % against b %)': the
    counts match the page's accuracies on its test digits, and M is the
    suite's own seed-0 CNN's."""
    text = text_of(page)
    m = re.search(r"Fewer, with this seed: (\d+) wrong instead of (\d+) "
                  r"\(\s*([\d.]+\u202f%) against ([\d.]+\u202f%)\s*\)", text)
    assert m, "the BatchNorm answer is missing"
    bn_errors, cnn_errors = int(m[1]), int(m[2])
    n = len(digits.test)
    assert bn_errors < cnn_errors
    assert cnn_errors == len(train.misclassified(trained_cnn.model,
                                                 digits.test)[0])
    for errors, shown in ((bn_errors, m[3]), (cnn_errors, m[4])):
        assert fmt_pct(1 - errors / n) == shown


@pytest.mark.book
def test_the_page_is_a_lesson_a_reader_sees(page):
    """Four self-checks, each answered after it; the time note; the GAP
    bound as the slow tests check it; the frozen backbone's statistics;
    the ladder's curves folded in a dropdown."""
    raw = page.read_text(encoding="utf-8")
    questions = [m.start() for m in re.finditer(r'class="[^"]*\bself-check\b'
                                                 r'(?!-)', raw)]
    answers = [m.start() for m in re.finditer(
        r'class="[^"]*\bself-check-answer\b', raw)]
    assert len(questions) == len(answers) == 4
    assert all(q < a for q, a in zip(questions, answers))
    text = text_of(page)
    assert re.search(r"About \d+ minutes to read", text)
    bound = f"{100 * experiments.GAP_VS_DENSE_WITHIN:g}"
    assert f"stayed within {bound} points of each other" in text
    m = re.search(r"in training mode the BatchNorm running statistics moved "
                  r"by up to (\d+\.\d\d)\s*; in eval mode by 0\s*\.", text)
    assert m and float(m[1]) > 0
    dropdown = raw.split("The learning curves of the trained rungs", 1)[1]
    dropdown = dropdown.split("</details>", 1)[0]
    assert 'id="fig-cifar-ladder-curves"' in dropdown and "<img" in dropdown
