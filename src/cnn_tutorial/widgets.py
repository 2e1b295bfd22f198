"""The book's two in-browser explorers: the data they run on and the HTML
that places them on a page.

The JavaScript that draws them is in ``book/_ext/static/widgets/`` (loaded by
the
``widgets`` Sphinx extension); everything it needs comes from here, so the
numbers, colours and weights are the library's own:

* the convolution explorer (chapter 2) gets the worked-example input, the
  kernels and the colour ramps inside its HTML;
* the draw-a-digit pad (chapter 3) gets the trained digits CNN's layers in
  its HTML and the weights from ``_static/widgets/digits_cnn.json``, which
  :func:`export_weights` writes when the page executes.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from . import conv, figures
from .activations import conv_layers
from .data import Split

WIDGETS_DIR = Path("_static/widgets")   # relative to book/, as pages run
WEIGHTS_FILE = "digits_cnn.json"
CONV_RANGES = {"n": (3, conv.EXAMPLE_SIDE), "k": (1, 5), "p": (0, 3),
               "s": (1, 3)}
DIGIT_SCALE = 16.0   # digits are 0-16 ink counts; the model sees them / 16


@dataclass(frozen=True)
class Widget:
    """An explorer as page output: HTML for the web page (with a static
    figure for readers without JavaScript), the figure alone elsewhere."""

    html: str
    png: bytes

    def _repr_html_(self) -> str:
        return self.html

    def _repr_png_(self) -> bytes:
        return self.png


def _ramp(cmap: str, steps: int = 11) -> list[str]:
    """A colour map as evenly spaced hex stops, for the JS to interpolate."""
    colormap = matplotlib.colormaps[cmap]
    return [matplotlib.colors.to_hex(colormap(t))
            for t in np.linspace(0, 1, steps)]


def _widget(kind: str, config: dict, fallback: Figure, alt: str,
            note: str) -> Widget:
    png = figures.figure_png(fallback)
    src = "data:image/png;base64," + base64.b64encode(png).decode()
    markup = (
        f'<div class="cnn-widget cnn-{kind}" '
        f"data-config='{html.escape(json.dumps(config), quote=True)}'>"
        f'<div class="cnn-widget-fallback"><img src="{src}" '
        f'alt="{html.escape(alt)}"><p class="cnn-widget-note">'
        f"{html.escape(note)}</p></div></div>"
    )
    return Widget(markup, png)


def conv_explorer_config(start: dict[str, int] | None = None) -> dict:
    """What the convolution explorer draws: the worked-example input (the
    largest size; smaller n use its top-left corner), one example kernel
    per size, the parameter ranges and the book's colour ramps."""
    start = {"n": 5, "k": 3, "p": 0, "s": 1, **(start or {})}
    for name, value in start.items():
        lo, hi = CONV_RANGES[name]
        if not lo <= value <= hi:
            raise ValueError(f"conv explorer: {name} = {value} is outside "
                             f"{lo}..{hi}")
    lo, hi = CONV_RANGES["k"]
    return {
        "input": conv.example_input(conv.EXAMPLE_SIDE).astype(int).tolist(),
        "kernels": {str(k): conv.example_kernel(k).astype(int).tolist()
                    for k in range(lo, hi + 1)},
        "ranges": CONV_RANGES,
        "start": start,
        "colors": {"input": _ramp(figures.INPUT_CMAP),
                   "kernel": _ramp(figures.SIGNED_CMAP),
                   "output": _ramp(figures.OUTPUT_CMAP),
                   "window": figures.WINDOW_EDGE},
    }


def conv_explorer(start: dict[str, int] | None = None) -> Widget:
    """The convolution explorer, starting at ``start`` (n, k, p, s)."""
    config = conv_explorer_config(start)
    n, k, p, s = (config["start"][key] for key in "nkps")
    x, kernel = conv.example_input(n), conv.example_kernel(k)
    out = conv.conv2d(x[None, None], kernel[None, None], padding=p,
                      stride=s)[0, 0]
    fallback = figures.plot_conv_step(x, kernel, out, 0, 0, stride=s,
                                      padding=p)
    return _widget(
        "conv-explorer", config, fallback,
        alt=f"A {n} by {n} input, a {k} by {k} kernel and the output, with "
            "the window of output cell (0, 0) marked.",
        note="Static view: the interactive explorer needs JavaScript.")


def layer_specs(model: nn.Module) -> list[dict]:
    """The model's layers in forward order, as the JS forward pass reads
    them; weights are named by their ``state_dict`` keys."""
    specs = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.stride[0] != module.stride[1] or \
                    module.padding[0] != module.padding[1] or \
                    module.groups != 1 or module.dilation != (1, 1):
                raise ValueError(f"{name}: only square, ungrouped, "
                                 "undilated convolutions are exported")
            specs.append({"type": "conv2d", "name": name,
                          "weight": f"{name}.weight", "bias": f"{name}.bias",
                          "padding": module.padding[0],
                          "stride": module.stride[0]})
        elif isinstance(module, nn.MaxPool2d):
            specs.append({"type": "maxpool", "size": module.kernel_size})
        elif isinstance(module, nn.ReLU):
            specs.append({"type": "relu"})
        elif isinstance(module, nn.Flatten):
            specs.append({"type": "flatten"})
        elif isinstance(module, nn.Linear):
            specs.append({"type": "linear", "weight": f"{name}.weight",
                          "bias": f"{name}.bias"})
        elif not list(module.children()):
            raise ValueError(f"{name}: {type(module).__name__} layers "
                             "cannot be run by the browser widget")
    return specs


def weights_json(model: nn.Module) -> dict:
    """``state_dict`` as JSON: each name with its shape and flat values
    (nine significant digits: float32 exactly)."""
    return {name: {"shape": list(t.shape),
                   "values": [float(f"{v:.9g}")
                              for v in t.detach().flatten().tolist()]}
            for name, t in model.state_dict().items()}


def export_weights(model: nn.Module, folder: str | Path = WIDGETS_DIR
                   ) -> Path:
    """Write the model's weights to ``folder/digits_cnn.json`` (the file the
    digit pad loads); returns its path."""
    path = Path(folder) / WEIGHTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(weights_json(model), separators=(",", ":")))
    return path


def probabilities(model: nn.Module, pixels: np.ndarray) -> np.ndarray:
    """Class probabilities for digits given on the 0-16 scale ([N, 64] or
    [N, 8, 8]), exactly as the pad feeds them to the network."""
    pixels = np.asarray(pixels, dtype=np.float32).reshape(-1, 1, 8, 8)
    if pixels.min() < 0 or pixels.max() > DIGIT_SCALE:
        raise ValueError("digit pixels must lie in 0..16")
    with torch.no_grad():
        logits = model(torch.from_numpy(pixels / DIGIT_SCALE))
    return torch.softmax(logits, dim=1).numpy()


def preset_digits(model: nn.Module,
                  test: Split) -> tuple[np.ndarray, list[int]]:
    """The first test digit of each class that ``model`` classifies
    correctly, on the 0-16 scale ([10, 8, 8]), and their labels."""
    pixels = np.rint(test.x.numpy()[:, 0] * DIGIT_SCALE)
    predicted = probabilities(model, pixels).argmax(axis=1)
    labels = test.y.numpy()
    chosen = []
    for d in np.unique(labels):
        right = np.flatnonzero((labels == d) & (predicted == d))
        if not len(right):
            raise ValueError(f"the model gets no test digit {d} right: "
                             "train it before offering presets")
        chosen.append(int(right[0]))
    return pixels[chosen].astype(int), [int(labels[i]) for i in chosen]


def digit_pad(model: nn.Module, test: Split) -> Widget:
    """The draw-a-digit pad for ``model`` (its weights exported with
    :func:`export_weights`), offering one correctly classified test digit
    per class as a preset."""
    pixels, labels = preset_digits(model, test)
    config = {
        "weights": f"{WIDGETS_DIR.name}/{WEIGHTS_FILE}",  # from _static/
        "layers": layer_specs(model),
        "show": {name: f"conv{i}" for i, name in
                 enumerate(conv_layers(model), start=1)},
        "scale": DIGIT_SCALE,
        "presets": [{"label": str(y), "pixels": p.ravel().tolist()}
                    for y, p in zip(labels, pixels)],
        "colors": {"digit": _ramp(figures.DIGIT_CMAP),
                   "signed": _ramp(figures.SIGNED_CMAP),
                   "bar": figures.MODEL_COLORS["CNN"]},
    }
    fallback = figures.plot_prediction(
        pixels[0], probabilities(model, pixels[:1])[0])
    return _widget(
        "digit-pad", config, fallback,
        alt=f"A test digit {labels[0]} and the ten class probabilities the "
            "trained CNN gives it.",
        note="Static view: drawing your own digit needs JavaScript.")
