"""Every comparison chapter 1 makes between digits results, checked over
random seeds 0-4 (the pages show seed 0). Slow: it trains 20 small models."""
import pytest

from cnn_tutorial import experiments

pytestmark = pytest.mark.slow
SEEDS = range(5)


@pytest.fixture(scope="module")
def claims(digits):
    return {seed: experiments.digits_claims(digits, seed) for seed in SEEDS}


def test_the_mlp_learns_permuted_pixels_exactly_as_the_originals(claims):
    """'it ends with the same accuracy' (the permuted twin)."""
    for seed, c in claims.items():
        assert c["MLP"]["permuted"] == c["MLP"]["original"], seed


def test_scrambling_costs_the_cnn_little_either_way(claims):
    """'the difference stays within a few points and can go either way'."""
    drops = [c["CNN"]["original"] - c["CNN"]["permuted"]
             for c in claims.values()]
    assert all(abs(d) < 0.03 for d in drops), drops
    assert min(drops) < 0 < max(drops), drops


def test_mlp_and_cnn_are_as_good_on_digits(claims):
    """'the two stay within three points of each other, and either can come
    out ahead'."""
    gaps = [c["CNN"]["original"] - c["MLP"]["original"]
            for c in claims.values()]
    assert all(abs(g) < 0.03 for g in gaps), gaps
    assert min(gaps) < 0 < max(gaps), gaps


def test_shifts_hurt_both_and_the_cnn_keeps_more(claims):
    """'Both models collapse ... The CNN keeps more (with each of the random
    seeds 0-4)'."""
    for seed, c in claims.items():
        for name in ("MLP", "CNN"):
            accs = c[name]
            assert accs["original"] > accs["shift1"] > accs["shift2"], seed
            assert accs["shift1"] < 0.75, seed
        assert c["CNN"]["shift1"] > c["MLP"]["shift1"], seed
        assert c["CNN"]["shift2"] > c["MLP"]["shift2"], seed


@pytest.fixture(scope="module")
def augmented(digits):
    return {seed: experiments.augmentation_claims(digits, seed)
            for seed in SEEDS}


def test_augmentation_buys_shift_robustness_at_a_price(augmented):
    """Chapter 3: 'On digits shifted by two pixels the augmented CNN keeps
    ... against ... without augmentation. The price: on the unshifted test
    set it scores ...' (lower)."""
    for seed, a in augmented.items():
        assert a["augmented_shift2"] > a["plain_shift2"] + 0.3, seed
        assert a["augmented"] < a["plain"], seed
