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


def test_activation_bytes_are_the_outputs_float32_size():
    rows = params.layer_table(digits_cnn(seed=0), (2, 1, 8, 8))
    first = rows[0]
    assert first.output_shape == (2, 32, 8, 8)
    assert first.activation_bytes == 32 * 8 * 8 * 4       # per image
    assert rows[6].kind == "Flatten" and rows[6].activation_bytes == 256 * 4


def test_lenet5_walkthrough_formula_agrees_with_the_forward_pass():
    rows = params.walkthrough(models.lenet5(), (1, 32, 32))
    for row in rows:
        assert row.predicted_shape == row.layer.output_shape[1:], row
    shape = {r.layer.name: r.predicted_shape for r in rows}
    assert [shape[n] for n in ("C1", "S2", "C3", "S4", "C5", "F6",
                               "output")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1),
        (84,), (10,)]
    by = {r.layer.name: r for r in rows}
    assert by["C1"].formula == "⌊(32 + 2·0 − 5)/1⌋ + 1 = 28"
    assert by["S2"].formula == "⌊(28 + 2·0 − 2)/2⌋ + 1 = 14"
    # 5*5*1*6 + 6 weights and biases; 28*28*6 outputs of 25 products each
    assert (by["C1"].layer.params, by["C1"].layer.macs) == (156, 117_600)
    assert (by["C3"].layer.params, by["C3"].layer.macs) == (2_416, 240_000)
    assert by["C5"].layer.params == 48_120
    total = sum(r.layer.params for r in rows)
    assert total == params.count_params(models.lenet5()) == 61_706
    assert sum(r.layer.macs for r in rows) == \
        flop_counter_macs(models.lenet5(), (1, 32, 32))


def test_formula_shape_per_axis_and_dilated():
    layer = nn.Conv2d(2, 4, (3, 5), stride=(1, 2), padding=(1, 2),
                      dilation=(1, 2))
    shape, text = params.formula_shape(layer, (2, 9, 20))
    assert shape == tuple(layer(torch.zeros(1, 2, 9, 20)).shape[1:])
    assert text == ("⌊(9 + 2·1 − 3)/1⌋ + 1 = 9 by "
                    "⌊(20 + 2·2 − 9)/2⌋ + 1 = 8")


def test_walkthrough_refuses_a_model_it_cannot_chain():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(4, 4), relu, nn.Linear(4, 4), relu)
    with pytest.raises(ValueError):
        params.walkthrough(model, (4,))
