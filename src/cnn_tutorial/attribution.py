"""Which pixels made the network say "cat"? Attribution maps and the checks
that show whether a map explains the model or only the image.

Every method of :data:`METHODS` is ``fn(model, x, target) -> [N, H, W]``:
``x`` standardised images [N, C, H, W], ``target`` the class per image, one
map per image with the channels combined. The gradient methods, integrated
gradients and Grad-CAM come from captum (SmoothGrad adds its noise here,
scaled to each image's range); occlusion is written out here, as the
lesson: grey out a patch, watch the probability.
"""
from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

with warnings.catch_warnings():   # captum imports tqdm.auto, which warns
    warnings.simplefilter("ignore")  # in a kernel without ipywidgets
    from captum.attr import (
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        Saliency,
    )
from torch import nn
from torchvision.transforms.functional import gaussian_blur

OCCLUSION_PATCH = 4
OCCLUSION_STRIDE = 2
IG_STEPS = 64
SMOOTHGRAD_SAMPLES = 25
# the noise's standard deviation as a share of each image's range of
# values, max - min: the middle of the 10-20 % Smilkov et al. recommend
SMOOTHGRAD_NOISE = 0.15
DELETION_SHARE = 0.1         # of the pixels, deleted by the deletion check
BLUR_SIGMA = 2.0             # pixels, the blur of the deletion check
DELETION_FILLS = ("mean", "blur")


def _check(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> None:
    if x.dim() != 4 or target.shape != (len(x),):
        raise ValueError(
            "attribution takes images [N, C, H, W] and one target class per "
            f"image, got {tuple(x.shape)} and {tuple(target.shape)}")
    model.eval()


# captum sets requires_grad on the inputs itself, and says so every call
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already "
                        "require gradients", module="captum")


@torch.no_grad()
def occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
              patch: int = OCCLUSION_PATCH, stride: int = OCCLUSION_STRIDE
              ) -> torch.Tensor:
    """Grey out one ``patch`` x ``patch`` square at a time (set it to 0,
    the mean colour of standardised images) and record how much the target
    class's probability drops; each pixel gets the mean drop over the
    squares that covered it."""
    _check(model, x, target)
    n, _, h, w = x.shape
    rows = torch.arange(n)
    base = model(x).softmax(1)[rows, target]
    drop = torch.zeros(n, h, w)
    count = torch.zeros(h, w)
    for top in range(0, h - patch + 1, stride):
        for left in range(0, w - patch + 1, stride):
            grey = x.clone()
            grey[:, :, top:top + patch, left:left + patch] = 0
            p = model(grey).softmax(1)[rows, target]
            drop[:, top:top + patch, left:left + patch] += \
                (base - p)[:, None, None]
            count[top:top + patch, left:left + patch] += 1
    return drop / count


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor
             ) -> torch.Tensor:
    """|d logit / d pixel|, the largest over the colour channels
    (Simonyan et al. 2014)."""
    _check(model, x, target)
    grads = Saliency(model).attribute(x, target=target, abs=True)
    return grads.amax(1).detach()


def smoothgrad(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
               noise: float = SMOOTHGRAD_NOISE,
               samples: int = SMOOTHGRAD_SAMPLES, seed: int = 0
               ) -> torch.Tensor:
    """|gradient| averaged over ``samples`` noisy copies of each image, the
    largest over the colour channels (Smilkov et al. 2017); the noise's
    standard deviation is ``noise`` times the image's max - min. Seeded:
    the same call gives the same map."""
    _check(model, x, target)
    sigma = noise * (x.amax((1, 2, 3)) - x.amin((1, 2, 3)))
    generator = torch.Generator().manual_seed(seed)
    gradient = Saliency(model)
    total = torch.zeros_like(x)
    for _ in range(samples):
        noisy = x + sigma.view(-1, 1, 1, 1) * torch.randn(
            x.shape, generator=generator)
        total += gradient.attribute(noisy, target=target, abs=True)
    return (total / samples).amax(1).detach()


def integrated_gradients_full(model: nn.Module, x: torch.Tensor,
                              target: torch.Tensor
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients from the all-zero (mean-colour) baseline
    (Sundararajan et al. 2017): attributions [N, C, H, W] and captum's
    completeness error per image (sum of attributions minus
    logit(x) - logit(baseline))."""
    _check(model, x, target)
    attributions, delta = IntegratedGradients(model).attribute(
        x, baselines=torch.zeros_like(x), target=target, n_steps=IG_STEPS,
        return_convergence_delta=True)
    return attributions.detach(), delta.detach()


def integrated_gradients(model: nn.Module, x: torch.Tensor,
                         target: torch.Tensor) -> torch.Tensor:
    """Integrated gradients from the all-zero (mean-colour) baseline,
    summed over the colour channels (signed)."""
    _check(model, x, target)
    return IntegratedGradients(model).attribute(
        x, baselines=torch.zeros_like(x), target=target,
        n_steps=IG_STEPS).sum(1).detach()


def grad_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
             layer: nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM on ``layer`` (default: the model's ``conv2``), the positive
    part, upsampled bilinearly to the image size (Selvaraju et al. 2017)."""
    _check(model, x, target)
    layer = model.conv2 if layer is None else layer
    cam = LayerGradCam(model, layer).attribute(x, target=target,
                                               relu_attributions=True)
    return LayerAttribution.interpolate(
        cam, tuple(x.shape[2:]), "bilinear")[:, 0].detach()


Method = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
METHODS: dict[str, Method] = {
    "gradient": saliency,
    "SmoothGrad": smoothgrad,
    "integrated gradients": integrated_gradients,
    "occlusion": occlusion,
    "Grad-CAM": grad_cam,
}


@dataclass(frozen=True)
class Passes:
    """Passes through the model per image: forward, and backward from its
    output."""

    forward: int
    backward: int


def passes_per_image(method: Method, model: nn.Module, x: torch.Tensor,
                     target: torch.Tensor) -> Passes:
    """Count, with hooks, the images ``method`` sends through ``model``
    and the gradients it sends back from the model's output, per image."""
    counts = {"forward": 0, "backward": 0}

    def count(kind: str, n: int) -> None:
        counts[kind] += n

    def on_forward(_module, _inputs, out: torch.Tensor) -> None:
        count("forward", len(out))
        if out.requires_grad:
            out.register_hook(lambda grad: count("backward", len(grad)))

    handle = model.register_forward_hook(on_forward)
    try:
        method(model, x, target)
    finally:
        handle.remove()
    return Passes(counts["forward"] // len(x), counts["backward"] // len(x))


# --- sanity checks -------------------------------------------------------

def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of each pair of maps a[i], b[i] (ties
    broken by position)."""
    def ranks(m: torch.Tensor) -> torch.Tensor:
        flat = m.flatten(1)
        return flat.argsort(1).argsort(1).double()

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1))


def randomised_from_top(model: nn.Module, layers: list[str], seed: int = 0
                        ) -> list[tuple[str, nn.Module]]:
    """Cascading model randomisation (Adebayo et al. 2018): copies of
    ``model`` with the named layers re-initialised one more at a time, in
    the order given (top first)."""
    out, current = [], copy.deepcopy(model)
    modules = dict(current.named_modules())
    for i, name in enumerate(layers):
        current = copy.deepcopy(current)
        modules = dict(current.named_modules())
        if name not in modules or not hasattr(modules[name],
                                              "reset_parameters"):
            raise ValueError(f"{name!r} is not a layer with parameters of "
                             f"{type(model).__name__}")
        torch.manual_seed(seed + i)
        modules[name].reset_parameters()
        out.append((name, current.eval()))
    return out


@dataclass(frozen=True)
class Deletion:
    """Mean drop of the true class's probability when a share of the
    pixels is deleted: the most-attributed ones, or random ones."""

    top: float
    random: float


def filled(x: torch.Tensor, fill: str) -> torch.Tensor:
    """What a deleted pixel becomes: ``"mean"``, the mean colour (0 in
    standardised images, the grey of occlusion and of the integrated
    gradients' baseline), or ``"blur"``, the image blurred by a Gaussian
    of :data:`BLUR_SIGMA` pixels."""
    if fill == "mean":
        return torch.zeros_like(x)
    if fill == "blur":
        radius = math.ceil(3 * BLUR_SIGMA)
        return gaussian_blur(x, [2 * radius + 1] * 2, [BLUR_SIGMA] * 2)
    raise ValueError(f"fill must be one of {DELETION_FILLS}, got {fill!r}")


@torch.no_grad()
def deletion(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
             maps: torch.Tensor, share: float = DELETION_SHARE, seed: int = 0,
             fill: str = "mean") -> Deletion:
    """Delete (replace by :func:`filled` ``fill``) the ``share`` of pixels
    with the largest ``maps`` values, all channels, and compare the mean
    drop in the target probability with deleting as many random pixels."""
    if maps.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(f"maps must be [N, H, W] = {(x.shape[0],)}"
                         f"{tuple(x.shape[2:])}, got {tuple(maps.shape)}")
    model.eval()
    n, _, h, w = x.shape
    k = round(share * h * w)
    rows = torch.arange(n)
    base = model(x).softmax(1)[rows, target]
    replacement = filled(x, fill)
    generator = torch.Generator().manual_seed(seed)

    def drop(pixels: torch.Tensor) -> float:
        keep = torch.ones(n, h * w)
        keep.scatter_(1, pixels, 0.0)
        keep = keep.view(n, 1, h, w)
        deleted = x * keep + replacement * (1 - keep)
        return (base - model(deleted).softmax(1)[rows, target]).mean().item()

    top = maps.flatten(1).argsort(1, descending=True)[:, :k]
    random = torch.stack([torch.randperm(h * w, generator=generator)[:k]
                          for _ in range(n)])
    return Deletion(drop(top), drop(random))


# --- feature visualisation ----------------------------------------------

def visualise(objective: Callable[[torch.Tensor], torch.Tensor], n: int,
              shape: tuple[int, int, int] = (3, 32, 32), steps: int = 128,
              lr: float = 0.05, jitter: int = 2, smoothness: float = 0.5,
              seed: int = 0) -> torch.Tensor:
    """Images [n, *shape] optimised by gradient ascent so that
    ``objective(images)`` (one score per image) grows (Olah et al. 2017):
    each step shifts the images by up to ``jitter`` pixels at random, and a
    penalty on differences between neighbouring pixels (weight
    ``smoothness``) keeps high frequencies down."""
    generator = torch.Generator().manual_seed(seed)
    images = (0.1 * torch.randn((n, *shape), generator=generator)
              ).requires_grad_()
    optimizer = torch.optim.Adam([images], lr=lr)
    for _ in range(steps):
        dy, dx = (int(v) for v in torch.randint(
            -jitter, jitter + 1, (2,), generator=generator))
        shifted = images.roll((dy, dx), dims=(2, 3))
        roughness = ((images[..., 1:, :] - images[..., :-1, :]) ** 2).mean() \
            + ((images[..., :, 1:] - images[..., :, :-1]) ** 2).mean()
        loss = -objective(shifted).mean() + smoothness * roughness * n
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return images.detach()


def channel_objective(model: nn.Module, layer: nn.Module
                      ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Image i's score: channel i of ``layer`` at the centre of its map (a
    unit whose receptive field is the middle of the image)."""
    def objective(images: torch.Tensor) -> torch.Tensor:
        captured = {}
        handle = layer.register_forward_hook(
            lambda _m, _i, out: captured.__setitem__("out", out))
        try:
            model(images)
        finally:
            handle.remove()
        out = captured["out"]
        h, w = out.shape[2:]
        return out[torch.arange(len(images)), torch.arange(len(images)),
                   h // 2, w // 2]
    model.eval()
    return objective


def class_objective(model: nn.Module
                    ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Image i's score: the logit of class i."""
    model.eval()
    return lambda images: model(images)[torch.arange(len(images)),
                                        torch.arange(len(images))]


RANDOMISED_LAYERS = ("classifier.3", "classifier.1", "block2.0", "block1.0")
COMPLETENESS_STEPS = 256


def sanity_checks(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                  layers: tuple[str, ...] = RANDOMISED_LAYERS,
                  methods: tuple[str, ...] = tuple(METHODS)) -> dict:
    """The three checks of each of ``methods`` (default: all) on images
    ``x``: rank correlation of each map with the maps of the model
    randomised from the top (``layers``, one more at a time; absolute
    values), the deletion check (top 10 % vs random 10 % of the pixels,
    deleted with the mean colour as "deletion" and blurred as
    "deletion_blur"), and, if integrated gradients are among them, their
    completeness (the relative error per image, with
    :data:`COMPLETENESS_STEPS` steps)."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown attribution methods {sorted(unknown)}; "
                         f"the methods are {list(METHODS)}")
    stages = randomised_from_top(model, list(layers))
    out: dict = {"randomised_layers": list(layers), "methods": {}}
    for name in methods:
        method = METHODS[name]
        maps = method(model, x, target)
        out["methods"][name] = {
            "randomisation": [
                rank_correlation(maps.abs(),
                                 method(m, x, target).abs()).mean().item()
                for _, m in stages],
            "deletion": vars(deletion(model, x, target, maps)),
            "deletion_blur": vars(deletion(model, x, target, maps,
                                           fill="blur")),
        }
    rows = torch.arange(len(x))
    with torch.no_grad():
        logits = model(x)
    out["true_class_prob"] = logits.softmax(1)[rows, target].mean().item()
    if "integrated gradients" in methods:
        with torch.no_grad():
            change = (logits - model(torch.zeros_like(x)))[rows, target]
        _, delta = IntegratedGradients(model).attribute(
            x, baselines=torch.zeros_like(x), target=target,
            n_steps=COMPLETENESS_STEPS, return_convergence_delta=True,
            internal_batch_size=512)
        out["ig_relative_error"] = (delta.abs() / change.abs()).tolist()
    return out


def first_right_and_wrong(predicted: torch.Tensor, labels: torch.Tensor,
                          classes: list[int]) -> list[int]:
    """For each class in ``classes``: the index of its first correctly and
    of its first wrongly classified image (a rule, not a choice by eye)."""
    picked = []
    for c in classes:
        of_class = labels == c
        for right in (True, False):
            hits = (of_class & ((predicted == labels) == right)).nonzero()
            if len(hits) == 0:
                raise ValueError(f"no {'right' if right else 'wrong'}ly "
                                 f"classified image of class {c}")
            picked.append(int(hits[0]))
    return picked
