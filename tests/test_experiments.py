"""The claims the chapters make, checked on the same seeded runs."""
import pytest
import torch

from cnn_tutorial import experiments


def test_the_digits_mlp_learns_and_the_cnn_is_smaller(trained_models):
    """(The CNN's accuracy is tested in test_train.py, the comparisons of
    the two and the permutation experiment over several seeds in
    test_claims.py.)"""
    mlp, cnn = trained_models["MLP"], trained_models["CNN"]
    assert cnn.params < mlp.params / 4
    assert mlp.test_acc >= 0.97


def test_permuted_dataset_is_a_pixel_permutation(digits):
    scrambled = experiments.permuted(digits, seed=0)
    assert torch.equal(scrambled.train.y, digits.train.y)
    assert torch.allclose(scrambled.test.x.sum((1, 2, 3)),
                          digits.test.x.sum((1, 2, 3)))
    assert not torch.equal(scrambled.test.x, digits.test.x)


def test_a_shift_of_zero_is_the_plain_test_accuracy(digits, trained_models):
    """(How shifts hurt each model, over several seeds:
    test_claims.py.)"""
    result = experiments.shift_experiment(
        {k: v.model for k, v in trained_models.items()}, digits.test, (0, 1))
    for name, accs in result.items():
        assert len(accs) == 2
        assert accs[0] == pytest.approx(trained_models[name].test_acc), name


def test_the_augmented_cnn_still_learns(augmented_cnn):
    """(What augmentation buys and costs, over several seeds:
    test_claims.py.)"""
    assert augmented_cnn.test_acc > 0.9


def test_batchnorm_cnn_trains(digits):
    bn = experiments.train_digits_cnn(digits, seed=0, batch_norm=True)
    assert bn.test_acc >= 0.97


def test_equivariance_demo(digits):
    panels, error = experiments.equivariance_demo(digits.test.x[0], dx=1)
    assert error < 1e-12
    assert len(panels) == 6
    shifted = panels["edge response (shifted 1 px)"]
    original = panels["edge response (digit)"]
    # away from the border the map moved by one column
    assert torch.allclose(shifted[1:-1, 2:-1], original[1:-1, 1:-2])
    with pytest.raises(ValueError):
        experiments.equivariance_demo(digits.test.x[:2])


def test_ink_lost_by_shifting():
    from cnn_tutorial.data import Split

    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0              # a corner pixel: half the shifts drop it
    x[1, 0, 1:3, 1:3] = 1.0          # a centred block: one pixel keeps it
    test = Split(x, torch.zeros(2))
    assert experiments.ink_lost(test, 1) == pytest.approx((0.5 + 0.0) / 2)
    assert experiments.ink_lost(test, 2) == pytest.approx((0.5 + 0.5) / 2)


def test_one_model_one_number(digits):
    """Chapter 1's CNN (train_digits_models) and chapter 3's
    (train_digits_cnn) are the same seeded model: two epochs of each give
    the same weights and accuracy (the suite trains the full model once,
    as ``trained_models``, and serves it as ``trained_cnn`` too)."""
    ch1 = experiments.train_digits_models(digits, seed=0, epochs=2)["CNN"]
    ch3 = experiments.train_digits_cnn(digits, seed=0, epochs=2)
    assert ch3.history.test_acc == ch1.history.test_acc
    for p, q in zip(ch3.model.parameters(), ch1.model.parameters()):
        assert torch.equal(p, q)


def test_gradient_descent_recovers_a_known_kernel(digits):
    sobel = torch.tensor(
        [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    fit = experiments.learn_kernel(digits.train.x[0, 0], sobel)
    assert len(fit.losses) == len(fit.kernels) - 1 == 200
    assert fit.losses[-1] < fit.losses[0] / 1000
    assert torch.allclose(fit.learned, sobel, atol=0.05)
    assert not torch.allclose(fit.kernels[0], sobel, atol=0.5)
    with pytest.raises(ValueError, match="2-D"):
        experiments.learn_kernel(digits.train.x[0], sobel)


def test_batchnorm_by_hand_equals_pytorch():
    demo = experiments.batchnorm_demo()
    assert torch.allclose(demo.by_hand, demo.torch_train, atol=1e-5)
    # statistics per channel over the batch and all positions
    assert torch.allclose(demo.mean, demo.x.transpose(0, 1).flatten(1)
                          .mean(1))
    # one step of running statistics with momentum 0.1 from (0, 1), where
    # the running variance is the unbiased one
    n = demo.x.numel() // demo.x.shape[1]
    assert torch.allclose(demo.running_mean, 0.1 * demo.mean)
    assert torch.allclose(demo.running_var,
                          0.9 + 0.1 * demo.var * n / (n - 1))
    # eval mode normalises with the running statistics instead
    assert not torch.allclose(demo.torch_eval, demo.torch_train, atol=0.1)


def test_the_permuted_twin_of_a_trained_mlp_agrees(digits, trained_models):
    mlp = trained_models["MLP"].model
    assert experiments.twin_agreement(mlp, digits.test) == 1.0
