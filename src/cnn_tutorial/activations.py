"""Looking inside a trained CNN: filters, feature maps and the inputs that
excite a channel most (chapter 4)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def conv_layers(model: nn.Module) -> dict[str, nn.Conv2d]:
    """Every ``nn.Conv2d`` in ``model``, by its module name, in order."""
    return {
        name: module for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
    }


def filters(layer: nn.Conv2d) -> torch.Tensor:
    """A copy of a conv layer's weights, [out_channels, in_channels, k, k]."""
    return layer.weight.detach().cpu().clone()


def capture_outputs(
    model: nn.Module, x: torch.Tensor, layers: dict[str, nn.Module]
) -> dict[str, torch.Tensor]:
    """Run ``model`` (in eval mode) on ``x`` and return the output of each
    module in ``layers``, in the order they ran, captured with forward hooks
    that are removed afterwards, so the model's code is untouched."""
    captured: dict[str, torch.Tensor] = {}
    handles = [
        layer.register_forward_hook(
            lambda _m, _inp, out, name=name: captured.__setitem__(name, out))
        for name, layer in layers.items()
    ]
    try:
        model.eval()
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return captured


@torch.no_grad()
def feature_maps(
    model: nn.Module, x: torch.Tensor, layers: dict[str, nn.Module]
) -> dict[str, torch.Tensor]:
    """The output of each module in ``layers`` when ``model`` sees ``x``;
    for a conv layer its response before the ReLU, [N, C_out, H, W]."""
    if x.dim() != 4:
        raise ValueError(
            f"expected a batch [N, C, H, W], got shape {tuple(x.shape)}"
        )
    return {name: out.detach().cpu()
            for name, out in capture_outputs(model, x, layers).items()}


@dataclass(frozen=True)
class TopActivations:
    """Indices into the searched images and each one's activation score."""

    indices: torch.Tensor
    scores: torch.Tensor


def top_activating(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    channel: int,
    k: int = 9,
) -> TopActivations:
    """The ``k`` images of ``x`` whose strongest response in ``channel`` of
    ``layer`` is largest (maximally activating examples, as in Zeiler &
    Fergus 2014)."""
    maps = feature_maps(model, x, {"layer": layer})["layer"]
    if not 0 <= channel < maps.shape[1]:
        raise ValueError(
            f"channel must be in [0, {maps.shape[1]}), got {channel}"
        )
    scores = maps[:, channel].amax(dim=(1, 2))
    top = scores.topk(min(k, len(scores)))
    return TopActivations(top.indices, top.values)


@dataclass(frozen=True)
class ReceptiveField:
    """The input window one output unit of a layer sees: ``size`` pixels
    square, ``jump`` input pixels between neighbouring units, and the
    window of unit 0 starting at input coordinate ``start`` (negative where
    it reaches into the padding)."""

    size: int
    jump: int
    start: int

    def window(self, i: int) -> tuple[int, int]:
        """[first, last + 1) input coordinates seen by output unit ``i``."""
        first = self.start + i * self.jump
        return first, first + self.size

    def inside(self, side: int, units: int) -> list[int]:
        """For each of ``units`` output units along one axis, how many of
        the ``side`` input pixels its window covers (the rest is padding)."""
        return [min(self.window(i)[1], side) - max(self.window(i)[0], 0)
                for i in range(units)]


def _square(value, what: str, layer: nn.Module) -> int:
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ValueError(f"{layer} has a non-square {what} {value}")
        value = value[0]
    return int(value)


def receptive_field(layers: list[nn.Module]) -> ReceptiveField:
    """Receptive field of the last of a chain of layers, from each conv's
    and pool's kernel, stride, padding and dilation (other layers, such as
    ReLU or BatchNorm, act per position and leave it unchanged)."""
    size, jump, start = 1, 1, 0
    for layer in layers:
        if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        k = _square(layer.kernel_size, "kernel", layer)
        s = _square(layer.stride, "stride", layer)
        p = _square(layer.padding, "padding", layer)
        d = _square(getattr(layer, "dilation", 1), "dilation", layer)
        size += (k - 1) * d * jump
        start -= p * jump
        jump *= s
    return ReceptiveField(size, jump, start)


def measured_receptive_field(
    model: nn.Module, layer: nn.Module, input_shape: tuple[int, int, int],
    i: int, j: int, samples: int = 32, seed: int = 0,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The input rows and columns, as [first, last + 1), that influence
    position (i, j) of ``layer``'s output (all channels): the pixels where
    its gradient is non-zero for any of ``samples`` random inputs. Max
    pooling passes the gradient through one pixel per window and a ReLU
    none through a negative unit, so one input can miss part of the field;
    the union over many does not."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *input_shape, generator=generator,
                    requires_grad=True)
    out = capture_outputs(model, x, {"layer": layer})["layer"]
    out[:, :, i, j].sum().backward()
    rows, cols = (x.grad.abs().sum(dim=(0, 1)) > 0).nonzero(as_tuple=True)
    if len(rows) == 0:
        raise ValueError(f"no input pixel influences unit ({i}, {j}) for "
                         f"these {samples} inputs")
    return ((int(rows.min()), int(rows.max()) + 1),
            (int(cols.min()), int(cols.max()) + 1))


def layers_until(model: nn.Module, layer: nn.Module) -> list[nn.Module]:
    """The leaf modules of ``model`` in definition order, up to and
    including ``layer`` (for a sequential model, the path to it)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    if layer not in leaves:
        raise ValueError(f"{layer} is not a leaf module of the model")
    return leaves[:leaves.index(layer) + 1]


@torch.no_grad()
def strongest_responses(
    model: nn.Module, layer: nn.Module, x: torch.Tensor,
    batch_size: int = 500,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every image and channel of ``layer``: the largest response over
    positions and the row and column where it occurs, each [N, C]."""
    values, positions = [], []
    for i in range(0, len(x), batch_size):
        maps = feature_maps(model, x[i:i + batch_size], {"l": layer})["l"]
        best = maps.flatten(2).max(dim=2)
        values.append(best.values)
        positions.append(best.indices)
    width = maps.shape[-1]
    flat = torch.cat(positions)
    return torch.cat(values), flat // width, flat % width


def top_patches(
    model: nn.Module, layer: nn.Module, x: torch.Tensor,
    channels: list[int], k: int = 9,
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """For each of ``channels``: the ``k`` images of ``x`` with the largest
    response, each cropped to the receptive field of its strongest unit
    (Zeiler & Fergus 2014), as (patches [k, C, r, r], scores [k]).

    Where the window reaches into the padding the crop is filled with 0,
    as the convolution's padding is.
    """
    rf = receptive_field(layers_until(model, layer))
    values, rows, cols = strongest_responses(model, layer, x)
    if any(not 0 <= c < values.shape[1] for c in channels):
        raise ValueError(
            f"channels must be in [0, {values.shape[1]}), got {channels}")
    pad = rf.size
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    result = {}
    for channel in channels:
        top = values[:, channel].topk(min(k, len(x)))
        crops = []
        for image in top.indices.tolist():
            r0, r1 = rf.window(int(rows[image, channel]))
            c0, c1 = rf.window(int(cols[image, channel]))
            crops.append(padded[image, :, r0 + pad:r1 + pad,
                                c0 + pad:c1 + pad])
        result[channel] = (torch.stack(crops), top.values)
    return result


@dataclass(frozen=True)
class FilterChange:
    """How training changed each filter: the cosine similarity between its
    initial and trained weights (1 = same pattern) and the ratio of their
    norms (> 1 = grew)."""

    cosine: torch.Tensor
    scale: torch.Tensor


def filter_change(before: torch.Tensor, after: torch.Tensor
                  ) -> FilterChange:
    """Compare filters [C_out, C_in, k, k] before and after training."""
    if before.shape != after.shape:
        raise ValueError(f"filter shapes differ: {tuple(before.shape)} vs "
                         f"{tuple(after.shape)}")
    b, a = before.flatten(1), after.flatten(1)
    return FilterChange(nn.functional.cosine_similarity(b, a, dim=1),
                        a.norm(dim=1) / b.norm(dim=1))


@dataclass(frozen=True)
class ReceptiveFieldRow:
    """One layer's receptive field, from the arithmetic and as measured."""

    name: str
    size: int
    jump: int
    measured: int


def receptive_field_table(
    model: nn.Module, layers: dict[str, nn.Module],
    input_shape: tuple[int, int, int], position: int,
) -> list[ReceptiveFieldRow]:
    """For each named layer: the receptive-field size and jump by the
    arithmetic of :func:`receptive_field`, and the size measured with
    gradients at unit (``position``, ``position``), which must lie far
    enough from the border for the field to fit."""
    rows = []
    for name, layer in layers.items():
        rf = receptive_field(layers_until(model, layer))
        (r0, r1), (c0, c1) = measured_receptive_field(
            model, layer, input_shape, position, position)
        if (r1 - r0) != (c1 - c0):
            raise ValueError(f"{name}: measured field is not square")
        rows.append(ReceptiveFieldRow(name, rf.size, rf.jump, r1 - r0))
    return rows


@dataclass(frozen=True)
class FilterBank:
    """How a bank of filters covers the space of input patches: each filter
    flattened to a row of a [filters, C_in * k * k] matrix."""

    singular_values: torch.Tensor
    rank: int                  # numerical rank
    dimension: int             # C_in * k * k, the patch space

    @property
    def condition(self) -> float:
        """Largest / smallest singular value of the spanned directions."""
        return float(self.singular_values[0]
                     / self.singular_values[self.rank - 1])


def filter_bank(weights: torch.Tensor) -> FilterBank:
    """Singular values and rank of filters [C_out, C_in, k, k]."""
    matrix = weights.detach().flatten(1).double()
    values = torch.linalg.svdvals(matrix)
    rank = int(torch.linalg.matrix_rank(matrix))
    return FilterBank(values.float(), rank, matrix.shape[1])
