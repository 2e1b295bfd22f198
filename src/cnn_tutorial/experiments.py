"""The live digits experiments the chapters run, each one call.

Every function is seeded: the same call prints the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from . import conv
from .data import Dataset, Split
from .models import digits_cnn, digits_models, permuted_twin
from .params import count_params
from .train import History, Recipe, evaluate, fit, predict
from .transforms import (
    augmentation,
    permute_pixels,
    pixel_permutation,
    shift_images,
    shifts_of,
)

# Training settings for every live digits run (>= 98 % CNN in a few s).
DIGITS_RECIPE = Recipe(epochs=20, batch_size=128, lr=5e-3)
# Chapter 5: on unshifted test digits the GAP-head CNN and the dense-head
# CNN stay within this many (as a fraction) of each other with every seed
# the slow tests check (tests/test_claims.py)
GAP_VS_DENSE_WITHIN = 0.015


@dataclass
class Trained:
    """A trained model with its training history and parameter count."""

    model: nn.Module
    history: History

    @property
    def params(self) -> int:
        return count_params(self.model)

    @property
    def test_acc(self) -> float:
        return self.history.final_test_acc


def train_digits_models(
    data: Dataset, seed: int = 0, every_epoch: bool = True, **overrides
) -> dict[str, Trained]:
    """Train the digits MLP and CNN (:func:`digits_models`) on ``data``
    with :data:`DIGITS_RECIPE`, or with ``overrides`` of it (e.g.
    epochs=1); ``every_epoch=False`` measures only after the last epoch."""
    recipe = replace(DIGITS_RECIPE, **overrides)
    return {
        name: Trained(model, fit(model, data.train, data.test, recipe,
                                 seed=seed, every_epoch=every_epoch))
        for name, model in digits_models(seed).items()
    }


def permuted(data: Dataset, seed: int = 0) -> Dataset:
    """``data`` with one fixed pixel permutation applied to every image."""
    _, _, h, w = data.train.x.shape
    perm = pixel_permutation(h, w, seed)
    return replace(
        data,
        train=Split(permute_pixels(data.train.x, perm), data.train.y),
        test=Split(permute_pixels(data.test.x, perm), data.test.y),
    )


def permutation_experiment(
    data: Dataset, seed: int = 0, original: dict[str, Trained] | None = None
) -> dict[str, dict[str, float]]:
    """Test accuracy of each model on original vs pixel-permuted digits.

    The permuted MLP starts from the original MLP's initial weights with
    its first layer rearranged by the same permutation
    (:func:`models.permuted_twin`): it computes the same function of the
    scrambled image as the original does of the real one, so it follows
    the same training trajectory, up to float rounding. The CNN has no such
    twin; it starts from its usual initialisation. Pass ``original`` (from
    :func:`train_digits_models` on ``data``) to reuse models already
    trained on the unpermuted digits.
    """
    if original is None:
        original = train_digits_models(data, seed)
    _, _, h, w = data.train.x.shape
    scrambled = permuted(data, seed)
    initial = digits_models(seed)
    initial["MLP"] = permuted_twin(initial["MLP"],
                                   pixel_permutation(h, w, seed))
    results = {}
    for name, model in initial.items():
        history = fit(model, scrambled.train, scrambled.test, DIGITS_RECIPE,
                      seed=seed, every_epoch=False)
        results[name] = {"original": original[name].test_acc,
                         "permuted": history.final_test_acc}
    return results


def shifted_accuracy(
    model: nn.Module, test: Split, distance: int
) -> float:
    """Mean test accuracy over the four shifts of ``distance`` pixels."""
    accs = [
        evaluate(model, Split(shift_images(test.x, dy, dx), test.y))[1]
        for dy, dx in shifts_of(distance)
    ]
    return sum(accs) / len(accs)


def shift_experiment(
    models: dict[str, nn.Module], test: Split, distances=(0, 1, 2)
) -> dict[str, list[float]]:
    """Accuracy of each model on test digits shifted by each distance."""
    return {
        name: [shifted_accuracy(model, test, d) for d in distances]
        for name, model in models.items()
    }


def train_digits_cnn(
    data: Dataset, seed: int = 0, batch_norm: bool = False, augment=None,
    head: str = "dense", every_epoch: bool = True, **overrides,
) -> Trained:
    """Train the digits CNN, optionally with BatchNorm, augmentation or a
    global-average-pooling head, with :data:`DIGITS_RECIPE` or
    ``overrides`` of it; ``every_epoch=False`` measures only after the
    last epoch."""
    model = digits_cnn(batch_norm, seed, head)
    history = fit(model, data.train, data.test,
                  replace(DIGITS_RECIPE, **overrides), seed=seed,
                  augment=augment, every_epoch=every_epoch)
    return Trained(model, history)


def equivariance_demo(
    digit: torch.Tensor, dx: int = 1
) -> tuple[dict[str, torch.Tensor], float]:
    """A digit and the same digit shifted ``dx`` pixels right, each with its
    vertical-edge (Sobel x) response and that response max-pooled 2x2.

    Returns the panels by title and :func:`conv.equivariance_error`.
    """
    if digit.dim() != 3:
        raise ValueError(
            f"expected one image [C, H, W], got {tuple(digit.shape)}")
    kernel = conv.KERNELS["Sobel x (vertical edges)"][None, None]
    panels = {}
    for label, img in (("digit", digit[None]),
                       (f"shifted {dx} px", shift_images(digit[None], 0, dx))):
        x = img.double().numpy()
        response = conv.conv2d(x, kernel, padding=1)
        panels[label] = img[0, 0]
        panels[f"edge response ({label})"] = torch.from_numpy(response[0, 0])
        panels[f"max-pooled ({label})"] = torch.from_numpy(
            conv.max_pool2d(response, 2)[0, 0])
    error = conv.equivariance_error(
        digit[None].double().numpy(), kernel, 0, dx)
    return panels, error


def digits_claims(
    data: Dataset, seed: int, trained: dict[str, Trained] | None = None
) -> dict[str, dict[str, float]]:
    """Every digits number the chapters compare, for one seed: per model,
    test accuracy on original and permuted pixels and on test digits shifted
    by 1 and 2 pixels; for the MLP, the share of permuted test digits on
    which the trained MLP's permuted twin predicts what the MLP predicts on
    the originals. The test suite runs it over several seeds to check that
    the chapters' comparisons do not depend on the seed. Models of this
    seed in ``trained`` (by the names of the result) are used as they are
    instead of being trained again."""
    trained = dict(trained or {})
    if not {"MLP", "CNN"} <= trained.keys():
        trained = {**train_digits_models(data, seed, every_epoch=False),
                   **trained}
    variants = {
        "CNN, GAP head": lambda: train_digits_cnn(
            data, seed, head="gap", every_epoch=False),
        "CNN + augmentation": lambda: train_digits_cnn(
            data, seed, augment=augmentation(seed=seed), every_epoch=False),
    }
    for name, train in variants.items():
        if name not in trained:
            trained[name] = train()
    perm = permutation_experiment(data, seed, original={
        k: trained[k] for k in ("MLP", "CNN")})
    shifts = shift_experiment({k: t.model for k, t in trained.items()},
                              data.test, (0, 1, 2))
    claims = {name: {"original": trained[name].test_acc,
                     "shift1": shifts[name][1], "shift2": shifts[name][2]}
              for name in trained}
    for name in perm:
        claims[name]["permuted"] = perm[name]["permuted"]
    claims["MLP"]["twin_agreement"] = twin_agreement(
        trained["MLP"].model, data.test, seed)
    return claims


def twin_agreement(mlp: nn.Module, test: Split, seed: int = 0) -> float:
    """Share of test images on which the permuted twin of the trained
    ``mlp`` (:func:`models.permuted_twin`) predicts, from the permuted
    image, the class ``mlp`` predicts from the original."""
    _, _, h, w = test.x.shape
    perm = pixel_permutation(h, w, seed)
    twin = permuted_twin(mlp, perm)
    original = predict(mlp, test.x).argmax(1)
    scrambled = predict(twin, permute_pixels(test.x, perm)).argmax(1)
    return (original == scrambled).float().mean().item()


def ink_lost(test: Split, distance: int) -> float:
    """Mean share of a test image's ink that a shift of ``distance`` pixels
    (the four directions of :func:`shift_experiment`) pushes out of the
    frame."""
    total = test.x.sum(dim=(1, 2, 3))
    lost = [1 - shift_images(test.x, dy, dx).sum(dim=(1, 2, 3)) / total
            for dy, dx in shifts_of(distance)]
    return torch.stack(lost).mean().item()


@dataclass
class KernelFit:
    """Gradient descent recovering a kernel: the loss and the kernel after
    every step (``kernels[0]`` is the random start)."""

    losses: list[float]
    kernels: list[torch.Tensor]

    @property
    def learned(self) -> torch.Tensor:
        return self.kernels[-1]


def learn_kernel(image: torch.Tensor, target: torch.Tensor, steps: int = 200,
                 lr: float = 0.1, seed: int = 0) -> KernelFit:
    """Recover ``target`` (k x k) from ``image`` [H, W] and its response
    ``conv2d(image, target)``: start from a random k x k kernel and follow
    the gradient of the mean squared difference between the two responses
    (plain gradient descent; the image is standardised first, which keeps
    the step size meaningful)."""
    if image.dim() != 2 or target.dim() != 2:
        raise ValueError("learn_kernel takes one 2-D image and one 2-D "
                         f"kernel, got {tuple(image.shape)} and "
                         f"{tuple(target.shape)}")
    x = ((image - image.mean()) / image.std())[None, None].float()
    wanted = nn.functional.conv2d(x, target[None, None].float())
    generator = torch.Generator().manual_seed(seed)
    kernel = torch.randn(target.shape, generator=generator,
                         requires_grad=True)
    optimizer = torch.optim.SGD([kernel], lr=lr)
    fit_ = KernelFit([], [kernel.detach().clone()])
    for _ in range(steps):
        loss = nn.functional.mse_loss(
            nn.functional.conv2d(x, kernel[None, None]), wanted)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        fit_.losses.append(loss.item())
        fit_.kernels.append(kernel.detach().clone())
    return fit_


@dataclass(frozen=True)
class BatchNormDemo:
    """A BatchNorm2d layer on one small batch, by hand and by PyTorch."""

    x: torch.Tensor               # [N, C, H, W]
    mean: torch.Tensor            # per channel, over N, H and W
    var: torch.Tensor             # biased, as used to normalise
    by_hand: torch.Tensor         # gamma * (x - mean) / sqrt(var + eps) + beta
    torch_train: torch.Tensor     # nn.BatchNorm2d in train mode
    running_mean: torch.Tensor    # after that one step
    running_var: torch.Tensor
    torch_eval: torch.Tensor      # the same layer in eval mode


def batchnorm_demo(seed: int = 0) -> BatchNormDemo:
    """One batch of 4 images with 2 channels of 3x3 through
    ``nn.BatchNorm2d(2)`` with a set scale and shift: the statistics it
    computes, its output checked against the formula, the running
    statistics one step updates, and the different eval-mode output."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 2, 3, 3, generator=generator) * torch.tensor(
        [1.0, 3.0]).view(1, 2, 1, 1) + torch.tensor([2.0, -1.0]).view(
        1, 2, 1, 1)
    layer = nn.BatchNorm2d(2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.5, 0.5]))     # gamma
        layer.bias.copy_(torch.tensor([0.0, 1.0]))       # beta
    mean = x.mean(dim=(0, 2, 3))
    var = x.var(dim=(0, 2, 3), unbiased=False)
    shape = (1, -1, 1, 1)
    by_hand = (layer.weight.view(shape) * (x - mean.view(shape))
               / torch.sqrt(var.view(shape) + layer.eps)
               + layer.bias.view(shape)).detach()
    layer.train()
    torch_train = layer(x).detach()
    layer.eval()
    torch_eval = layer(x).detach()
    return BatchNormDemo(x, mean, var, by_hand, torch_train,
                         layer.running_mean.clone(),
                         layer.running_var.clone(), torch_eval)
