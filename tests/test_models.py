import pytest
import torch

from cnn_tutorial import models, params
from cnn_tutorial.cifar.cache import REPORTED
from cnn_tutorial.transforms import permute_pixels, pixel_permutation


def test_cifar_models_sizes_match_the_tutorial():
    pair = models.cifar_models()
    mlp, cnn = (params.count_params(pair[k]) for k in ("MLP", "CNN"))
    reported_mlp = REPORTED["mlp"]["params"]    # "~1.7 M parameters"
    reported_cnn = REPORTED["cnn"]["params"]    # "~300 k", at most 300 k
    assert abs(mlp - reported_mlp) < 0.03 * reported_mlp
    assert 0.8 * reported_cnn < cnn <= reported_cnn
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


def test_a_gap_head_keeps_the_convolutions_and_drops_the_dense_layers():
    dense, gap = models.digits_cnn(), models.digits_cnn(head="gap")
    conv = params.count_params(dense.block1) + params.count_params(
        dense.block2)
    assert params.count_params(gap) == conv + 64 * 10 + 10
    assert params.count_params(gap) < params.count_params(dense) / 1.5
    assert gap(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    # global average pooling: the head sees only each channel's mean, so
    # swapping positions within a final map changes nothing
    x = torch.randn(1, 1, 8, 8)
    maps = gap.block2(gap.block1(x))
    assert torch.allclose(gap.classifier(maps),
                          gap.classifier(maps.flip(-1).flip(-2)))
    with pytest.raises(ValueError, match="head"):
        models.digits_cnn(head="max")


def test_the_ladders_gap_network_stays_within_300k_parameters():
    model = models.cifar_gap_cnn()
    assert params.count_params(model) <= 300_000
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert not any(isinstance(m, torch.nn.Linear) and m.in_features > 128
                   for m in model.modules())


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


def test_permuted_twin_reads_permuted_pixels_as_the_original_reads_real():
    mlp = models.digits_mlp(seed=0)
    perm = pixel_permutation(8, 8, seed=0)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = mlp(x)
        twin = models.permuted_twin(mlp, perm)
        assert torch.equal(mlp(x), before)          # the original is kept
        assert torch.allclose(twin(permute_pixels(x, perm)), before,
                              atol=1e-6)
        assert not torch.allclose(twin(x), before, atol=1e-3)
    with pytest.raises(ValueError, match="16 positions"):
        models.permuted_twin(mlp, perm[:16])


def test_patch_whitening_decorrelates_2x2_patches():
    # correlated colour channels: the whitened patches' covariance is the
    # identity in the kept directions, and each filter comes with its
    # negative
    torch.manual_seed(0)
    base = torch.randn(200, 1, 16, 16)
    images = torch.cat([base, 0.5 * base + 0.1 * torch.randn_like(base),
                        torch.randn(200, 1, 16, 16)], 1)
    filters = models.patch_whitening(images, out_channels=24)
    assert filters.shape == (24, 3, 2, 2)
    assert torch.equal(filters[12:], -filters[:12])
    out = torch.nn.functional.conv2d(images, filters[:12])
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = flat.T @ flat / len(flat)
    off_diagonal = covariance - torch.diag(covariance.diag())
    assert off_diagonal.abs().max() < 1e-4
    # eps = 5e-4 shrinks the weakest direction's variance a little below 1
    assert ((covariance.diag() > 0.9) & (covariance.diag() <= 1)).all()


def test_patch_whitening_refuses_impossible_widths():
    with pytest.raises(ValueError, match="even and at most 24"):
        models.patch_whitening(torch.randn(4, 3, 8, 8), out_channels=26)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        models.patch_whitening(torch.randn(3, 8, 8))


def test_whitened_cnn_size_shapes_and_frozen_parts():
    model = models.cifar_whitened_cnn(seed=0)
    assert params.count_params(model) <= 300_000
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    trainable = {name for name, p in model.named_parameters()
                 if p.requires_grad}
    assert "stem.0.weight" not in trainable and "stem.0.bias" in trainable
    # BatchNorm keeps its scale at 1 and learns only its shift
    assert not any(name.endswith("2.weight") and "features" in name
                   and name in trainable for name in trainable)
    bn = model.features[0][2]
    assert isinstance(bn, torch.nn.BatchNorm2d)
    assert not bn.weight.requires_grad and bn.bias.requires_grad
    with pytest.raises(ValueError, match="activation must be one of"):
        models.WhitenedCNN(activation="tanh")


def test_dirac_conv_starts_as_the_identity_on_its_input_channels():
    conv = models.DiracConv(4, 6)
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(conv(x)[:, :4], x)


def test_lenet5_maps_a_32x32_image_to_ten_scores():
    model = models.lenet5(seed=0)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    same = models.lenet5(seed=0)
    for a, b in zip(model.parameters(), same.parameters()):
        assert torch.equal(a, b)
