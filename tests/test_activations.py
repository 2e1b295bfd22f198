import pytest
import torch

from cnn_tutorial import activations, models


@pytest.fixture
def cnn():
    return models.digits_cnn(seed=0)


def test_feature_maps_shapes_and_hooks_removed(cnn):
    layers = activations.conv_layers(cnn)
    assert list(layers) == ["block1.0", "block2.0"]
    maps = activations.feature_maps(cnn, torch.rand(3, 1, 8, 8), layers)
    assert maps["block1.0"].shape == (3, 32, 8, 8)
    assert maps["block2.0"].shape == (3, 64, 4, 4)
    assert all(not m._forward_hooks for m in cnn.modules())
    direct = cnn.conv1(torch.zeros(1, 1, 8, 8))
    got = activations.feature_maps(cnn, torch.zeros(1, 1, 8, 8),
                                   {"c": cnn.conv1})["c"]
    assert torch.allclose(got, direct)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        activations.feature_maps(cnn, torch.zeros(1, 8, 8), layers)


def test_filters_are_a_copy(cnn):
    w = activations.filters(cnn.conv1)
    assert w.shape == (32, 1, 3, 3)
    w.zero_()
    assert cnn.conv1.weight.abs().sum() > 0


def test_top_activating_is_the_brute_force_answer(cnn):
    x = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    top = activations.top_activating(cnn, cnn.conv1, x, channel=5, k=4)
    with torch.no_grad():
        scores = cnn.conv1(x)[:, 5].amax(dim=(1, 2))
    assert torch.equal(top.indices, scores.argsort(descending=True)[:4])
    assert (top.scores[:-1] >= top.scores[1:]).all()
    with pytest.raises(ValueError, match="channel"):
        activations.top_activating(cnn, cnn.conv1, x, channel=32)


def test_receptive_field_of_the_cifar_cnn_matches_gradients():
    """The window the arithmetic predicts is exactly the set of input
    pixels with a non-zero gradient for one output unit."""
    cnn = models.cifar_cnn(seed=0)
    expected = {cnn.block1[0]: (3, 1, -1), cnn.block2[0]: (8, 2, -3)}
    for layer, (size, jump, start) in expected.items():
        rf = activations.receptive_field(
            activations.layers_until(cnn, layer))
        assert (rf.size, rf.jump, rf.start) == (size, jump, start)
        for i, j in ((0, 0), (5, 7), (15, 15)):
            rows, cols = activations.measured_receptive_field(
                cnn, layer, (3, 32, 32), i, j)
            r0, r1 = rf.window(i)
            c0, c1 = rf.window(j)
            assert rows == (max(r0, 0), min(r1, 32))
            assert cols == (max(c0, 0), min(c1, 32))


def test_receptive_field_rejects_non_square_kernels():
    with pytest.raises(ValueError, match="non-square kernel"):
        activations.receptive_field([torch.nn.Conv2d(1, 1, (3, 5))])
    cnn = models.cifar_cnn(seed=0)
    with pytest.raises(ValueError, match="not a leaf module"):
        activations.layers_until(cnn, torch.nn.ReLU())


def test_top_patches_are_the_receptive_fields_of_the_strongest_units():
    cnn = models.cifar_cnn(seed=0)
    x = torch.randn(40, 3, 32, 32)
    layer = cnn.block2[0]
    top = activations.top_patches(cnn, layer, x, [0, 3], k=5)
    patches, scores = top[3]
    assert patches.shape == (5, 3, 8, 8)
    assert torch.all(scores[:-1] >= scores[1:])
    maps = activations.feature_maps(cnn, x, {"l": layer})["l"][:, 3]
    best = maps.flatten(1).max(1)
    assert torch.allclose(scores, best.values.topk(5).values)
    image = int(best.values.argmax())
    row, col = divmod(int(best.indices[image]), 16)
    padded = torch.nn.functional.pad(x[image], (8, 8, 8, 8))
    r0, c0 = 2 * row - 3 + 8, 2 * col - 3 + 8
    assert torch.equal(patches[0], padded[:, r0:r0 + 8, c0:c0 + 8])
    with pytest.raises(ValueError, match="channels"):
        activations.top_patches(cnn, layer, x, [64])


def test_a_filter_bank_spans_the_patch_space():
    weights = torch.zeros(4, 1, 3, 3)
    weights[0, 0, 0, 0] = 2.0
    weights[1, 0, 1, 1] = 1.0
    weights[2, 0, 2, 2] = 1.0
    weights[3, 0, 2, 2] = 3.0                 # parallel to filter 2
    bank = activations.filter_bank(weights)
    assert (bank.rank, bank.dimension) == (3, 9)
    # directions e0 (length 2), e4 (1) and e8 (filters 2 and 3: sqrt(10))
    assert bank.condition == pytest.approx(10 ** 0.5 / 1.0)
    random = activations.filter_bank(torch.randn(32, 1, 3, 3))
    assert random.rank == 9
