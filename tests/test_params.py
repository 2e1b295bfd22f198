import pytest
import torch
from torch import nn

from cnn_tutorial import models, params
from cnn_tutorial.models import digits_cnn


@pytest.mark.parametrize("n_inputs, expected", [
    (64, 33_280), (3_072, 1_573_376), (150_528, 77_070_848),
])
def test_dense_first_layer_matches_the_tutorial(n_inputs, expected):
    assert params.dense_first_layer_params(n_inputs, 512) == expected
    # any width: a weight per input per unit, a bias per unit
    assert params.dense_first_layer_params(n_inputs, 7) == n_inputs * 7 + 7


def test_conv1_has_896_parameters_whatever_the_image():
    assert params.conv_params(3, 32, 3) == 896
    assert params.count_params(nn.Conv2d(3, 32, 3, padding=1)) == 896


def test_explosion_table_rows():
    rows = params.explosion_table()
    assert [r.n_inputs for r in rows] == [64, 3_072, 150_528]
    assert [r.dense_params for r in rows] == [33_280, 1_573_376, 77_070_848]
    assert [r.conv_params for r in rows] == [320, 896, 896]
    # compute grows with the image for both layers (issue #18's figures)
    imagenet = rows[-1]
    assert (imagenet.dense_macs, imagenet.conv_macs) == (77_070_336,
                                                         43_352_064)


def flop_counter_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """PyTorch's own count: FLOPs of one forward pass / 2."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        model.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("build, shape", [
    (lambda: digits_cnn(seed=0), (1, 8, 8)),
    (models.cifar_cnn, (3, 32, 32)),
    (models.cifar_gap_cnn, (3, 32, 32)),
    (models.cifar_mlp, (3, 32, 32)),
    (lambda: nn.Conv2d(3, 32, 3, padding=1), (3, 224, 224)),
    (lambda: nn.Conv2d(8, 16, 5, stride=2, groups=2), (8, 20, 20)),
])
def test_multiply_adds_agree_with_pytorchs_flop_counter(build, shape):
    model = build()
    assert params.count_macs(model, shape) == flop_counter_macs(model, shape)
    rows = params.layer_table(model, (1, *shape))
    assert sum(r.macs for r in rows) == params.count_macs(model, shape)


def test_growth_curve_dense_grows_conv_constant():
    sides, dense, conv = params.growth_curve([8, 16, 32, 224])
    assert sides == [8, 16, 32, 224]
    assert dense == sorted(set(dense))                  # strictly growing
    assert len(set(conv)) == 1
    # the curve passes through the RGB rows of the chapter's table
    for row in params.explosion_table()[1:]:
        i = sides.index(row.side)
        assert (dense[i], conv[i]) == (row.dense_params, row.conv_params)


def test_trainable_only_skips_frozen():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert params.count_params(model) == 15 + 8
    assert params.count_params(model, trainable_only=True) == 8


def test_layer_table_shapes_and_total():
    model = digits_cnn(seed=0)
    rows = params.layer_table(model, (2, 1, 8, 8))
    shapes = {r.name: r.output_shape for r in rows}
    assert shapes["block1.0"] == (2, 32, 8, 8)
    assert shapes["block1.2"] == (2, 32, 4, 4)
    assert shapes["block2.2"] == (2, 64, 2, 2)
    assert rows[-1].output_shape == (2, 10)
    assert sum(r.params for r in rows) == params.count_params(model)
    # the hooks are gone afterwards
    assert all(not m._forward_hooks for m in model.modules())
