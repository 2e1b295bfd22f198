import pytest
import torch

from cnn_tutorial import models, params


def test_cifar_models_sizes_match_the_tutorial():
    pair = models.cifar_models()
    mlp, cnn = (params.count_params(pair[k]) for k in ("MLP", "CNN"))
    assert abs(mlp - 1_700_000) < 50_000        # "~1.7 M parameters"
    assert 250_000 < cnn <= 300_000             # "~300 k", at most 300 k
    x = torch.zeros(4, 3, 32, 32)
    assert pair["MLP"](x).shape == pair["CNN"](x).shape == (4, 10)


def test_digits_models_shapes():
    for model in models.digits_models().values():
        assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


def test_digits_cnn_seed_is_reproducible():
    a, b = models.digits_cnn(seed=3), models.digits_cnn(seed=3)
    c = models.digits_cnn(seed=4)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_batch_norm_adds_two_parameters_per_channel():
    plain, bn = models.digits_cnn(), models.digits_cnn(batch_norm=True)
    extra = params.count_params(bn) - params.count_params(plain)
    assert extra == 2 * (32 + 64)


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 1, 16, 16), (1, 8, 8),
                                   (2, 64)])
def test_cnn_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match="expects"):
        models.digits_cnn()(torch.zeros(shape))


def test_mlp_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match="64 features"):
        models.MLP(64)(torch.zeros(2, 1, 9, 9))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by 4"):
        models.TwoBlockCNN(1, 10)
    with pytest.raises(ValueError, match=">= 1"):
        models.MLP(0)


def test_pretrained_backbone_head_and_freezing():
    model = models.pretrained_backbone(n_classes=7, weights=None, freeze=True)
    assert model.fc.out_features == 7
    trainable = params.count_params(model, trainable_only=True)
    assert trainable == params.count_params(model.fc) == 512 * 7 + 7
    unfrozen = models.pretrained_backbone(7, weights=None, freeze=False)
    assert params.count_params(unfrozen, True) == params.count_params(model)
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)
