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
from .train import History, evaluate, fit
from .transforms import (
    augmentation,
    permute_pixels,
    pixel_permutation,
    shift_images,
    shifts_of,
)

# Training settings for every live digits run (>= 98 % CNN in a few s).
DIGITS_FIT = {"epochs": 20, "lr": 5e-3, "batch_size": 128}


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
    data: Dataset, seed: int = 0, **overrides
) -> dict[str, Trained]:
    """Train the digits MLP and CNN (:func:`digits_models`) on ``data``
    with :data:`DIGITS_FIT`, or with ``overrides`` of it (e.g. epochs=1)."""
    settings = {**DIGITS_FIT, **overrides}
    return {
        name: Trained(model, fit(model, data.train, data.test, seed=seed,
                                 **settings))
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
        history = fit(model, scrambled.train, scrambled.test, seed=seed,
                      **DIGITS_FIT)
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
    data: Dataset, seed: int = 0, batch_norm: bool = False, augment=None
) -> Trained:
    """Train the digits CNN, optionally with BatchNorm or augmentation."""
    model = digits_cnn(batch_norm, seed)
    history = fit(model, data.train, data.test, seed=seed, augment=augment,
                  **DIGITS_FIT)
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


def digits_claims(data: Dataset, seed: int) -> dict[str, dict[str, float]]:
    """Every digits number chapter 1 compares, for one seed: test accuracy
    on original and permuted pixels and on test digits shifted by 1 and 2
    pixels, per model. The test suite runs it for seeds 0-4 to check that
    the chapter's comparisons do not depend on the seed."""
    trained = train_digits_models(data, seed)
    perm = permutation_experiment(data, seed, original=trained)
    shifts = shift_experiment({k: t.model for k, t in trained.items()},
                              data.test, (1, 2))
    return {
        name: {**perm[name], "shift1": shifts[name][0],
               "shift2": shifts[name][1]}
        for name in trained
    }


def augmentation_claims(data: Dataset, seed: int) -> dict[str, float]:
    """The numbers chapter 3 compares for augmentation, for one seed:
    unshifted and 2-pixel-shifted test accuracy of the plain and the
    augmented digits CNN."""
    plain = train_digits_cnn(data, seed=seed)
    augmented = train_digits_cnn(data, seed=seed,
                                 augment=augmentation(seed=seed))
    shifted = shift_experiment({"plain": plain.model,
                                "augmented": augmented.model},
                               data.test, (2,))
    return {"plain": plain.test_acc, "augmented": augmented.test_acc,
            "plain_shift2": shifted["plain"][0],
            "augmented_shift2": shifted["augmented"][0]}


def ink_lost(test: Split, distance: int) -> float:
    """Mean share of a test image's ink that a shift of ``distance`` pixels
    (the four directions of :func:`shift_experiment`) pushes out of the
    frame."""
    total = test.x.sum(dim=(1, 2, 3))
    lost = [1 - shift_images(test.x, dy, dx).sum(dim=(1, 2, 3)) / total
            for dy, dx in shifts_of(distance)]
    return torch.stack(lost).mean().item()
