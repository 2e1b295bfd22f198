"""Parameter counting from real ``torch.nn`` modules (chapter 1).

Nothing here uses a closed-form formula: every count is the number of
elements of a module's parameters, so the table cannot drift from PyTorch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .activations import capture_outputs


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module``."""
    return sum(
        p.numel()
        for p in module.parameters()
        if p.requires_grad or not trainable_only
    )


def dense_first_layer_params(n_inputs: int, hidden: int = 512) -> int:
    """Parameters of ``nn.Linear(n_inputs, hidden)``: the first MLP layer."""
    with torch.device("meta"):  # count without allocating the weights
        return count_params(nn.Linear(n_inputs, hidden))


def conv_params(
    in_channels: int = 3, out_channels: int = 32, kernel_size: int = 3
) -> int:
    """Parameters of ``nn.Conv2d(in_channels, out_channels, kernel_size)``.

    Padding and image size do not appear: a convolution's parameter count is
    independent of the image it slides over.
    """
    with torch.device("meta"):
        layer = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2
        )
        return count_params(layer)


@dataclass(frozen=True)
class ExplosionRow:
    """One image size: inputs of a flattened image, and both first layers'
    parameters and multiply-adds per image."""

    name: str
    channels: int
    side: int
    n_inputs: int
    dense_params: int
    conv_params: int
    dense_macs: int
    conv_macs: int


# The three image sizes chapter 1 compares.
IMAGE_SIZES = (
    ("8×8 digits", 1, 8),
    ("32×32 RGB (CIFAR-10)", 3, 32),
    ("224×224 RGB (ImageNet)", 3, 224),
)


def explosion_table(
    hidden: int = 512, filters: int = 32, kernel_size: int = 3
) -> list[ExplosionRow]:
    """First dense layer (``hidden`` units) vs first conv layer per size.

    The conv column is ``nn.Conv2d(C, filters, kernel_size, padding=k//2)``
    with the row's C input channels: its parameters depend on C, never on H
    and W; its multiply-adds grow with H and W (one k x k x C dot product
    per output value), as the dense layer's do.
    """
    rows = []
    for name, c, side in IMAGE_SIZES:
        with torch.device("meta"):     # shapes only: no 300 MB weights
            dense = nn.Sequential(nn.Flatten(),
                                  nn.Linear(c * side * side, hidden))
            conv = nn.Conv2d(c, filters, kernel_size,
                             padding=kernel_size // 2)
            macs = [count_macs(m, (c, side, side)) for m in (dense, conv)]
        rows.append(ExplosionRow(
            name, c, side, c * side * side,
            dense_first_layer_params(c * side * side, hidden),
            conv_params(c, filters, kernel_size), *macs))
    return rows


def growth_curve(
    sides: list[int], channels: int = 3, hidden: int = 512, filters: int = 32
) -> tuple[list[int], list[int], list[int]]:
    """(sides, dense first-layer params, conv1 params) for square images."""
    dense = [dense_first_layer_params(channels * n * n, hidden) for n in sides]
    conv = [conv_params(channels, filters, 3) for _ in sides]
    return list(sides), dense, conv


@dataclass(frozen=True)
class LayerRow:
    """A leaf layer: its name, type, output shape, parameter count,
    multiply-adds per image and the bytes its output (the activations the
    next layer reads, kept for the backward pass) takes per image."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int = 0


def layer_macs(layer: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds per image of a conv or linear layer that produced
    ``output`` (a batch): one per weight used, per output value. Pooling,
    BatchNorm and ReLU do no multiply-adds (as ``FlopCounterMode`` counts)."""
    per_image = output[0].numel()
    if isinstance(layer, nn.Conv2d):
        k_h, k_w = layer.kernel_size
        return per_image * layer.in_channels // layer.groups * k_h * k_w
    if isinstance(layer, nn.Linear):
        return per_image * layer.in_features
    return 0


def layer_table(
    model: nn.Module, input_shape: tuple[int, ...]
) -> list[LayerRow]:
    """Run a dummy batch of ``input_shape`` through ``model`` and record
    every leaf module's output shape, parameter count and multiply-adds per
    image, in call order."""
    leaves = {name: module for name, module in model.named_modules()
              if not list(module.children())}
    with torch.no_grad():
        outputs = capture_outputs(model, torch.zeros(input_shape), leaves)
    return [LayerRow(name, type(leaves[name]).__name__, tuple(out.shape),
                     count_params(leaves[name]), layer_macs(leaves[name], out),
                     out[0].numel() * out.element_size())
            for name, out in outputs.items()]


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one image of ``input_shape``
    ([C, H, W], or [1, C, H, W])."""
    shape = input_shape if len(input_shape) == 4 else (1, *input_shape)
    return sum(row.macs for row in layer_table(model, shape))


@dataclass(frozen=True)
class WalkRow:
    """One layer of a walk-through: the output shape the output-size
    formula predicts (with its arithmetic) beside the measured row."""

    formula: str
    predicted_shape: tuple[int, ...]
    layer: LayerRow


def formula_shape(layer: nn.Module, shape: tuple[int, ...]
                  ) -> tuple[tuple[int, ...], str]:
    """The output shape (one image, no batch axis) of ``layer`` for an input
    of ``shape``, by the output-size formula for convolutions and pooling
    (with its arithmetic, e.g. "⌊(32 + 2·0 − 5)/1⌋ + 1 = 28"), by the
    layer's size for Linear and Flatten, unchanged otherwise."""
    from .conv import effective_kernel_size, output_size

    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        channels, h, w = shape
        pair = [(v, v) if isinstance(v, int) else tuple(v) for v in (
            layer.kernel_size, layer.padding, layer.stride,
            getattr(layer, "dilation", 1))]
        sides = [output_size(n, *axis) for n, axis in
                 zip((h, w), zip(*pair))]
        texts = [f"⌊({n} + 2·{p} − {effective_kernel_size(k, d)})/{s}⌋"
                 f" + 1 = {o}" for n, k, p, s, d, o
                 in zip((h, w), *pair, sides)]
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
        text = texts[0] if texts[0] == texts[1] else " by ".join(texts)
        return (channels, *sides), text
    if isinstance(layer, nn.Linear):
        return (layer.out_features,), f"{layer.out_features} units"
    if isinstance(layer, nn.Flatten):
        size = math.prod(shape)
        return (size,), " × ".join(map(str, shape)) + f" = {size}"
    return tuple(shape), "unchanged"


def walkthrough(model: nn.Sequential, input_shape: tuple[int, ...]
                ) -> list[WalkRow]:
    """Every layer of a sequential ``model`` for one image of
    ``input_shape`` [C, H, W]: the shape the formula predicts, chained
    layer to layer, beside what a forward pass measures."""
    shape, rows = tuple(input_shape), []
    leaves = [m for _, m in model.named_modules(remove_duplicate=False)
              if not list(m.children())]
    if not isinstance(model, nn.Sequential) or \
            len({id(m) for m in leaves}) != len(leaves):
        raise ValueError("walkthrough needs an nn.Sequential whose layers "
                         "each appear once, in the order they run")
    for module, row in zip(leaves, layer_table(model, (1, *input_shape)),
                           strict=True):
        shape, text = formula_shape(module, shape)
        rows.append(WalkRow(text, shape, row))
    return rows
