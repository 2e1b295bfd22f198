"""A trained network as one binary file the browser widgets run.

The file is ``CNNW``, a version number and a JSON header (the layers in
forward order, the input's shape and scaling, the class names and where each
tensor sits), then every tensor's values, little-endian, in float16 or
float32. BatchNorm is folded into the convolution before it (or kept as a
per-channel scale and shift where a pooling layer sits in between), so the
browser needs only nine kinds of layer: conv2d, affine, relu, gelu (tanh
form), maxpool, gap, gmp (global max pooling), flatten and linear (a Scale
after a Linear is folded into it). :func:`run_layers` runs a file's layers
in PyTorch: the reference the JavaScript forward pass (``numerics.js``) is
tested against, and the check :func:`export_weights` makes that the layers,
taken in the order the model registers them, really are its forward pass.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import Scale

MAGIC, VERSION = b"CNNW", 1
DTYPES = {"float16": np.dtype("<f2"), "float32": np.dtype("<f4")}
_PASS_THROUGH = (nn.Identity, nn.Dropout)   # nothing to do in eval mode


def _square(value, what: str, name: str) -> int:
    pair = value if isinstance(value, tuple) else (value, value)
    if pair[0] != pair[1]:
        raise ValueError(f"{name}: only square {what}s can be exported, "
                         f"got {pair}")
    return int(pair[0])


@torch.no_grad()
def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """BatchNorm in eval mode as y = scale * x + shift, per channel."""
    if bn.running_mean is None:
        raise ValueError("BatchNorm without running statistics cannot be "
                         "exported (track_running_stats=False)")
    scale = 1 / torch.sqrt(bn.running_var.double() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.affine:
        shift = shift + bn.bias.double()
    return scale, shift


@torch.no_grad()
def layers_and_tensors(model: nn.Module
                       ) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """The model's leaf layers in registration order as the browser runs
    them, and their tensors (float64, BatchNorm folded)."""
    layers: list[dict] = []
    tensors: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if list(module.children()) or isinstance(module, _PASS_THROUGH):
            continue
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or \
                    _square(module.dilation, "dilation", name) != 1 or \
                    module.padding_mode != "zeros":
                raise ValueError(f"{name}: only ungrouped, undilated, "
                                 "zero-padded convolutions can be exported")
            weight = module.weight.detach().double()
            bias = (module.bias.detach().double() if module.bias is not None
                    else torch.zeros(weight.shape[0], dtype=torch.float64))
            tensors[f"{name}.weight"], tensors[f"{name}.bias"] = weight, bias
            layers.append({
                "type": "conv2d", "name": name,
                "weight": f"{name}.weight", "bias": f"{name}.bias",
                "kernel": _square(module.kernel_size, "kernel", name),
                "padding": _square(module.padding, "padding", name),
                "stride": _square(module.stride, "stride", name)})
        elif isinstance(module, nn.BatchNorm2d):
            scale, shift = _bn_scale_shift(module)
            previous = layers[-1] if layers else {}
            if previous.get("type") == "conv2d":      # fold into the conv
                w, b = previous["weight"], previous["bias"]
                tensors[w] = tensors[w] * scale[:, None, None, None]
                tensors[b] = tensors[b] * scale + shift
                previous["folded"] = name
            else:
                tensors[f"{name}.scale"] = scale
                tensors[f"{name}.shift"] = shift
                layers.append({"type": "affine", "name": name,
                               "scale": f"{name}.scale",
                               "shift": f"{name}.shift"})
        elif isinstance(module, nn.ReLU):
            layers.append({"type": "relu", "name": name})
        elif isinstance(module, nn.GELU):
            if module.approximate != "tanh":
                raise ValueError(f"{name}: only GELU(approximate='tanh') can "
                                 "be exported (the browser has no erf)")
            layers.append({"type": "gelu", "name": name})
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            if _square(module.output_size, "output size", name) != 1:
                raise ValueError(f"{name}: only AdaptiveMaxPool2d(1) (global "
                                 "max pooling) can be exported")
            layers.append({"type": "gmp", "name": name})
        elif isinstance(module, Scale):
            previous = layers[-1] if layers else {}
            if previous.get("type") != "linear":
                raise ValueError(f"{name}: a Scale is exported folded into "
                                 "the Linear layer before it, and there is "
                                 "none")
            for key in ("weight", "bias"):
                tensors[previous[key]] = tensors[previous[key]] * module.factor
            previous["folded"] = name
        elif isinstance(module, nn.MaxPool2d):
            kernel = _square(module.kernel_size, "kernel", name)
            stride = _square(module.stride or kernel, "stride", name)
            if _square(module.padding, "padding", name) or module.ceil_mode \
                    or _square(module.dilation, "dilation", name) != 1:
                raise ValueError(f"{name}: only unpadded, undilated max "
                                 "pooling without ceil_mode can be exported")
            layers.append({"type": "maxpool", "name": name, "size": kernel,
                           "stride": stride})
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            if _square(module.output_size, "output size", name) != 1:
                raise ValueError(f"{name}: only AdaptiveAvgPool2d(1) (global "
                                 "average pooling) can be exported")
            layers.append({"type": "gap", "name": name})
        elif isinstance(module, nn.Flatten):
            layers.append({"type": "flatten", "name": name})
        elif isinstance(module, nn.Linear):
            tensors[f"{name}.weight"] = module.weight.detach().double()
            tensors[f"{name}.bias"] = (
                module.bias.detach().double() if module.bias is not None
                else torch.zeros(module.out_features, dtype=torch.float64))
            layers.append({"type": "linear", "name": name,
                           "weight": f"{name}.weight", "bias": f"{name}.bias"})
        else:
            raise ValueError(
                f"{name}: {type(module).__name__} layers cannot be run by the "
                "browser widgets (they run Conv2d, BatchNorm2d, ReLU, "
                "GELU(approximate='tanh'), MaxPool2d, AdaptiveAvgPool2d(1), "
                "AdaptiveMaxPool2d(1), Flatten, Linear and Scale)")
    return layers, tensors


def run_layers(layers: list[dict], tensors: dict[str, torch.Tensor],
               x: torch.Tensor) -> list[torch.Tensor]:
    """Run exported ``layers`` on a standardised batch ``x`` [N, C, H, W];
    returns every layer's output, in order (the last: the logits)."""
    outputs = []
    for layer in layers:
        kind = layer["type"]
        if kind == "conv2d":
            x = F.conv2d(x, tensors[layer["weight"]].to(x.dtype),
                         tensors[layer["bias"]].to(x.dtype),
                         stride=layer["stride"], padding=layer["padding"])
        elif kind == "affine":
            x = x * tensors[layer["scale"]].to(x.dtype)[:, None, None] \
                + tensors[layer["shift"]].to(x.dtype)[:, None, None]
        elif kind == "relu":
            x = x.clamp_min(0)
        elif kind == "gelu":
            x = F.gelu(x, approximate="tanh")
        elif kind == "gmp":
            x = x.amax((2, 3), keepdim=True)
        elif kind == "maxpool":
            x = F.max_pool2d(x, layer["size"], layer["stride"])
        elif kind == "gap":
            x = x.mean((2, 3), keepdim=True)
        elif kind == "flatten":
            x = x.flatten(1)
        elif kind == "linear":
            x = F.linear(x, tensors[layer["weight"]].to(x.dtype),
                         tensors[layer["bias"]].to(x.dtype))
        else:
            raise ValueError(f"unknown layer type {kind!r}")
        outputs.append(x)
    return outputs


def export_weights(model: nn.Module, path: str | Path, *,
                   input_shape: Sequence[int], scale: float = 255.0,
                   mean: Sequence[float] | None = None,
                   std: Sequence[float] | None = None,
                   classes: Sequence[str] | None = None,
                   dtype: str = "float16") -> Path:
    """Write ``model`` (eval mode) to ``path`` for the browser widgets.

    ``input_shape`` is (C, H, W); raw pixels 0..``scale`` become
    ``(pixels / scale - mean) / std`` per channel (default mean 0, std 1).
    Before writing, the exported layers are run in PyTorch on random input
    and must reproduce ``model``: a model whose ``forward`` does something
    its registered layers do not say is refused, not exported wrong.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got "
                         f"{dtype!r}")
    c, h, w = (int(v) for v in input_shape)
    mean = [0.0] * c if mean is None else [float(v) for v in mean]
    std = [1.0] * c if std is None else [float(v) for v in std]
    if len(mean) != c or len(std) != c or min(std) <= 0:
        raise ValueError(f"mean and std need {c} values (std > 0), got "
                         f"{mean} and {std}")
    model = model.eval()
    layers, tensors = layers_and_tensors(model)
    x = torch.randn(4, c, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).double()
        got = run_layers(layers, tensors, x.double())[-1]
    if got.shape != expected.shape or not torch.allclose(got, expected,
                                                         atol=1e-4):
        raise ValueError(
            f"{type(model).__name__}: its layers, in the order they are "
            "registered, do not reproduce its forward pass (a custom "
            "forward, or a functional call such as torch.relu?); only "
            "models built as a chain of layers can be exported")
    if classes is not None and len(classes) != expected.shape[1]:
        raise ValueError(f"{len(classes)} class names for "
                         f"{expected.shape[1]} outputs")
    offsets, offset = {}, 0
    for name, t in tensors.items():
        offsets[name] = {"shape": list(t.shape), "offset": offset}
        offset += t.numel()
    header = {"dtype": dtype, "layers": layers, "tensors": offsets,
              "values": offset,
              "input": {"shape": [c, h, w], "scale": float(scale),
                        "mean": mean, "std": std},
              "classes": list(classes) if classes is not None else None}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(MAGIC) + 8 + len(text)) % 4)   # align the values
    values = np.concatenate([t.flatten().numpy() for t in tensors.values()])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAGIC + struct.pack("<II", VERSION, len(text)) + text
                     + values.astype(DTYPES[dtype]).tobytes())
    return path


def read_weights(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """A file :func:`export_weights` wrote: its header and its tensors
    (float64, as the browser computes with them)."""
    raw = Path(path).read_bytes()
    if raw[:4] != MAGIC:
        raise ValueError(f"{path}: not a weights file (no {MAGIC!r} at the "
                         "start)")
    version, size = struct.unpack("<II", raw[4:12])
    if version != VERSION:
        raise ValueError(f"{path}: version {version}, expected {VERSION}")
    header = json.loads(raw[12:12 + size])
    dtype = DTYPES[header["dtype"]]
    data = raw[12 + size:]
    if len(data) != header["values"] * dtype.itemsize:
        raise ValueError(f"{path}: {len(data)} bytes of values, the header "
                         f"says {header['values']} {header['dtype']} values "
                         "(truncated?)")
    values = np.frombuffer(data, dtype=dtype)
    tensors = {name: torch.from_numpy(
        values[t["offset"]:t["offset"] + int(np.prod(t["shape"]))]
        .astype(np.float64)).reshape(t["shape"])
        for name, t in header["tensors"].items()}
    return header, tensors


class Exported(nn.Module):
    """A weights file as a PyTorch module (float64), computing exactly what
    the browser computes: the reference the JavaScript is tested against."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.header, self.tensors = read_weights(path)

    def outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output for a standardised batch ``x``."""
        return run_layers(self.header["layers"], self.tensors, x.double())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs(x)[-1]

    def standardise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw pixels as the network sees them (float64)."""
        scaling = self.header["input"]
        mean = torch.tensor(scaling["mean"], dtype=torch.float64)
        std = torch.tensor(scaling["std"], dtype=torch.float64)
        return (pixels.double() / scaling["scale"] - mean[:, None, None]) \
            / std[:, None, None]
