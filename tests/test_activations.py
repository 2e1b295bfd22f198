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
