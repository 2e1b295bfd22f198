"""Every comparison the chapters make between digits results, checked over
random seeds (SEEDS; the pages show seed 0). Slow: it trains 60 small
models."""
import pytest

from cnn_tutorial import activations, experiments, models

pytestmark = pytest.mark.slow
SEEDS = range(10)
TEST_DIGIT = 1 / 450                       # one test digit, as a fraction


@pytest.fixture(scope="module")
def trained(digits, trained_models, augmented_cnn):
    """Chapter 1's MLP and CNN of every seed (seed 0: the suite's models,
    with its augmented CNN)."""
    return {seed: {**trained_models, "CNN + augmentation": augmented_cnn}
            if seed == 0 else experiments.train_digits_models(
                digits, seed, every_epoch=False)
            for seed in SEEDS}


@pytest.fixture(scope="module")
def claims(digits, trained):
    """The claims of every seed, from those models (and the variants
    digits_claims trains)."""
    assert len(digits.test) == 450
    return {seed: experiments.digits_claims(digits, seed, trained[seed])
            for seed in SEEDS}


def test_the_permuted_twin_makes_the_same_predictions(claims):
    """Chapter 1: 'on the permuted test digits it makes exactly the
    predictions the original makes on the real ones'."""
    for seed, c in claims.items():
        assert c["MLP"]["twin_agreement"] == 1.0, seed


def test_the_retrained_twin_ends_within_rounding(claims):
    """Chapter 1: 'they ended with the same test accuracy or one test digit
    apart'."""
    gaps = [abs(c["MLP"]["permuted"] - c["MLP"]["original"])
            for c in claims.values()]
    assert max(gaps) <= TEST_DIGIT + 1e-9, gaps


def test_scrambling_costs_the_cnn_little(claims):
    """Chapter 1: 'Over the random seeds 0 to 19 that the tests check, the
    CNN lost less than four points with each of them' (on permuted digits):
    seeds 0-9 here, more tightly; seeds 10-19 in test_lesson_01.py."""
    drops = [c["CNN"]["original"] - c["CNN"]["permuted"]
             for c in claims.values()]
    assert max(drops) < 0.025, drops
    gains = [-d for d in drops if d < 0]
    assert len(gains) == 1 and gains[0] < 0.01, drops


def test_mlp_and_cnn_are_nearly_as_good_on_digits(claims):
    """Chapter 1: 'the two stayed within two points of each other, the CNN
    ahead with most seeds and the MLP with some'."""
    gaps = [c["CNN"]["original"] - c["MLP"]["original"]
            for c in claims.values()]
    assert all(abs(g) < 0.02 for g in gaps), gaps
    assert sum(g > 0 for g in gaps) > len(gaps) / 2, gaps
    assert sum(g < 0 for g in gaps) >= 2, gaps


def test_shifts_hurt_both_and_the_cnn_keeps_more(claims):
    """Chapter 1: 'Both models collapse ... The CNN keeps more (with each of
    the random seeds 0-9)'."""
    for seed, c in claims.items():
        for name in ("MLP", "CNN"):
            accs = c[name]
            assert accs["original"] > accs["shift1"] > accs["shift2"], seed
            assert accs["shift1"] < 0.75, seed
        assert c["CNN"]["shift1"] > c["MLP"]["shift1"], seed
        assert c["CNN"]["shift2"] > c["MLP"]["shift2"], seed


def test_a_gap_head_keeps_more_under_shifts_but_far_from_invariance(claims):
    """Chapter 3: the GAP CNN (fewer parameters: test_models) keeps more of
    its accuracy than the dense-head CNN at 1 and 2 pixels with every seed;
    on unshifted digits 'over the ten seeds tested (0 to 9) the two heads
    stayed within GAP_VS_DENSE_WITHIN of each other, the dense head ahead
    with most seeds'; it still loses far more than the augmented CNN."""
    unshifted = []
    for seed, c in claims.items():
        gap, dense = c["CNN, GAP head"], c["CNN"]
        aug = c["CNN + augmentation"]
        assert gap["shift1"] > dense["shift1"], seed
        assert gap["shift2"] > dense["shift2"], seed
        assert gap["shift1"] < 0.8 < aug["shift1"], seed
        assert aug["shift2"] > gap["shift2"] + 0.3, seed
        unshifted.append(gap["original"] - dense["original"])
    assert max(map(abs, unshifted)) < experiments.GAP_VS_DENSE_WITHIN, \
        unshifted
    assert sum(u < 0 for u in unshifted) > len(unshifted) / 2, unshifted


def test_augmentation_buys_shift_robustness_at_a_price(claims):
    """Chapter 3: 'On digits shifted by two pixels the augmented CNN keeps
    ... against ... without augmentation. The price: on the unshifted test
    set it scores ...' (lower)."""
    for seed, c in claims.items():
        plain, aug = c["CNN"], c["CNN + augmentation"]
        assert aug["shift2"] > plain["shift2"] + 0.3, seed
        assert aug["original"] < plain["original"], seed


def test_digits_filters_change_little_and_grow(trained):
    """Chapter 4: 'Close: half the filters have a cosine similarity of at
    least ... the median filter's norm grew' (each seed's trained CNN
    against its initial filters)."""
    for seed, models_of_seed in trained.items():
        before = activations.filters(models.digits_cnn(seed=seed).conv1)
        after = activations.filters(models_of_seed["CNN"].model.conv1)
        change = activations.filter_change(before, after)
        assert change.cosine.median() > 0.5, seed
        assert change.scale.median() > 1, seed
