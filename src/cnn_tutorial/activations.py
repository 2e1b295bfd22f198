"""Looking inside a trained CNN: filters, feature maps and the inputs that
excite a channel most (chapter 3)."""
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


@torch.no_grad()
def feature_maps(
    model: nn.Module, x: torch.Tensor, layers: dict[str, nn.Module]
) -> dict[str, torch.Tensor]:
    """The output of each module in ``layers`` when ``model`` sees ``x``.

    Captured with forward hooks, so the model's code is untouched; for a
    conv layer this is its response before the ReLU, [N, C_out, H, W].
    """
    if x.dim() != 4:
        raise ValueError(
            f"expected a batch [N, C, H, W], got shape {tuple(x.shape)}"
        )
    captured: dict[str, torch.Tensor] = {}
    handles = [
        layer.register_forward_hook(
            lambda _m, _inp, out, name=name: captured.__setitem__(
                name, out.detach().cpu())
        )
        for name, layer in layers.items()
    ]
    try:
        model.eval()
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return captured


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
