"""The book's two in-browser explorers: the data they run on and the HTML
that places them on a page.

The JavaScript that draws them is in ``book/_ext/static/widgets/`` (loaded by
the
``widgets`` Sphinx extension); everything it needs comes from here, so the
numbers, colours and weights are the library's own:

* the convolution explorer (chapter 2) gets the worked-example input, the
  kernels and the colour ramps inside its HTML;
* the draw-a-digit pad and the CIFAR-10 explorer (chapter 4) run a trained
  network from a weights file in ``_static/widgets/`` that
  :func:`export.export_weights` writes when the page executes (any network
  built from Conv2d, BatchNorm2d, ReLU, GELU (tanh form), MaxPool2d,
  AdaptiveAvgPool2d(1), AdaptiveMaxPool2d(1), Flatten, Linear and Scale
  can be exported the same way); the JavaScript forward pass is
  ``numerics.js``.
"""
from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from . import activations, attribution, conv, figures
from .data import Normalization, Split
from .export import export_weights, read_weights  # noqa: F401 (the API)

WIDGETS_DIR = Path("_static/widgets")   # relative to book/, as pages run
DIGITS_WEIGHTS = "digits_cnn.bin"
CIFAR_WEIGHTS = "cifar_cnn.bin"
CIFAR_TOP_WEIGHTS = "cifar_top.bin"     # the ladder's top rung, on demand
CIFAR_SAMPLES = "cifar_samples.bin"     # uint8 [N, 3, 32, 32], raw
SAMPLES_PER_CLASS = 3
CONV_RANGES = {"n": (3, conv.EXAMPLE_SIDE), "k": (1, 5), "p": (0, 3),
               "s": (1, 3), "channels": (1, 3), "filters": (1, 2)}
CONV_BIAS = (0, 1)   # filter 0 has none: with one channel and one filter
#                      the explorer shows the chapter's worked example
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


def explorer_input() -> np.ndarray:
    """The convolution explorer's input, [3, 12, 12] (smaller n use the
    top-left corner, fewer channels the first ones): the worked example,
    its transpose, and a fixed pattern of 0s, 1s and 2s."""
    x = conv.example_input(conv.EXAMPLE_SIDE)
    pattern = np.random.default_rng(0).integers(0, 3, x.shape)
    return np.stack([x, x.T, pattern]).astype(int)


def explorer_filters(k: int) -> np.ndarray:
    """The explorer's two k x k filters over three channels, [2, 3, k, k],
    integers in -1..1: filter 0 sees channel 0 through the chapter's
    example kernel; the other slices are fixed (seeded by k)."""
    lo, hi = CONV_RANGES["k"]
    if not lo <= k <= hi:
        raise ValueError(f"conv explorer: k = {k} is outside {lo}..{hi}")
    w = np.random.default_rng(k).integers(-1, 2, (2, 3, k, k))
    w[0, 0] = conv.example_kernel(k)
    return w


def conv_explorer_config(start: dict[str, int] | None = None) -> dict:
    """What the convolution explorer draws: its input (the largest size),
    the filters and biases for every kernel size, the parameter ranges and
    the book's colour ramps."""
    start = {"n": 5, "k": 3, "p": 0, "s": 1, "channels": 1, "filters": 1,
             **(start or {})}
    for name, value in start.items():
        lo, hi = CONV_RANGES[name]
        if not lo <= value <= hi:
            raise ValueError(f"conv explorer: {name} = {value} is outside "
                             f"{lo}..{hi}")
    lo, hi = CONV_RANGES["k"]
    return {
        "input": explorer_input().tolist(),
        "weights": {str(k): explorer_filters(k).tolist()
                    for k in range(lo, hi + 1)},
        "bias": list(CONV_BIAS),
        "ranges": CONV_RANGES,
        "start": start,
        "colors": {"input": _ramp(figures.INPUT_CMAP),
                   "kernel": _ramp(figures.SIGNED_CMAP),
                   "output": _ramp(figures.OUTPUT_CMAP),
                   "window": figures.WINDOW_EDGE},
    }


# the step of the explorer its static view shows: padding, stride, a
# greyed row and column, and a positive output (the stroke on the left)
FALLBACK_VIEW = {"n": 6, "k": 3, "p": 1, "s": 2, "cell": 5}


def explorer_view(n: int, k: int, p: int, s: int, cell: int) -> Figure:
    """What the explorer shows at these settings after stepping to output
    cell number ``cell`` (its static view, for readers without JavaScript
    and on paper): the same formula line and worked sum as the widget."""
    x, kernel = conv.example_input(n), conv.example_kernel(k)
    out = conv.conv2d(x[None, None], kernel[None, None], padding=p,
                      stride=s)[0, 0]
    o = out.shape[0]
    if not 0 <= cell < o * o:
        raise ValueError(f"conv explorer: cell {cell} is outside the "
                         f"{o * o} output cells")
    i, j = divmod(cell, o)
    terms, value = conv.worked_sum(x, kernel, i, j, stride=s, padding=p)
    formula = (f"n = {n}, k = {k}, p = {p}, s = {s}:  n_out = "
               f"⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = {o}")
    left = conv.unused_cells(n, k, p, s)
    if left:
        rows = "row and column" if left == 1 else \
            f"{left} rows and columns"
        formula += f"\nthe last {rows} of the padded input unused (grey)"
    worked = _wrap(f"output({i}, {j}) = {terms} = "
                   f"{value:g}".replace("-", "\u2212"), 44)
    return figures.plot_explorer_view(
        x, kernel, out, cell, s, p, formula,
        f"{worked}\n(cell {cell + 1} of {o * o})")


def _wrap(text: str, width: int) -> str:
    """``text`` broken at " + " into lines of at most ``width`` characters."""
    lines = [""]
    for part in text.split(" + "):
        piece = part if not lines[-1] else f" + {part}"
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(f"+ {part}")
        else:
            lines[-1] += piece
    return "\n".join(lines)


def conv_explorer(start: dict[str, int] | None = None) -> Widget:
    """The convolution explorer, starting at ``start`` (n, k, p, s); its
    static view shows one step of it (:data:`FALLBACK_VIEW`)."""
    config = conv_explorer_config(start)
    view = FALLBACK_VIEW
    n, k, p, s = (view[key] for key in "nkps")
    fallback = explorer_view(**view)
    i, j = divmod(view["cell"], conv.output_size(n, k, p, s))
    return _widget(
        "conv-explorer", config, fallback,
        alt=f"The explorer at n = {n}, k = {k}, p = {p}, s = {s}: a {n} by "
            f"{n} input in a dashed ring of padding, its last row and "
            f"column greyed, the window of output cell ({i}, {j}), the "
            "kernel, the output filled up to that cell, and the cell's "
            "products written out.",
        note=f"Static view: one step of the explorer (n = {n}, k = {k}, "
             f"p = {p}, s = {s}). The interactive explorer needs "
             "JavaScript.")


def probabilities(model: nn.Module, pixels: np.ndarray) -> np.ndarray:
    """Class probabilities for digits given on the 0-16 scale ([N, 64] or
    [N, 8, 8]), exactly as the pad feeds them to the network."""
    pixels = np.asarray(pixels, dtype=np.float32).reshape(-1, 1, 8, 8)
    if pixels.min() < 0 or pixels.max() > DIGIT_SCALE:
        raise ValueError("digit pixels must lie in 0..16")
    with torch.no_grad():
        logits = model(torch.from_numpy(pixels / DIGIT_SCALE))
    return torch.softmax(logits, dim=1).numpy()


def conv_maps(model: nn.Module, x: torch.Tensor, after_relu: bool
              ) -> dict[str, torch.Tensor]:
    """The first two conv layers' maps of one image ``x`` [1, C, H, W], as
    the explorers draw them: "conv1" and "conv2", [C_out, H, W], before the
    ReLU or after it (the ReLU right after each conv, as in
    ``TwoBlockCNN``)."""
    layers = list(activations.conv_layers(model).values())[:2]
    if len(layers) < 2:
        raise ValueError("the explorers draw two conv layers; the model has "
                         f"{len(layers)}")
    maps = activations.feature_maps(
        model, x, {"conv1": layers[0], "conv2": layers[1]})
    return {name: (m[0].clamp(min=0) if after_relu else m[0])
            for name, m in maps.items()}


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


def digit_pad(model: nn.Module, test: Split,
              folder: str | Path = WIDGETS_DIR,
              teach: dict | None = None) -> Widget:
    """The draw-a-digit pad for ``model``, offering one correctly
    classified test digit per class as a preset; writes the weights file
    the pad loads (float32: exactly the trained model) into ``folder``.
    ``teach`` (``train_widget.teach_config``) adds the panel that
    fine-tunes the network on the reader's drawings."""
    pixels, labels = preset_digits(model, test)
    export_weights(model, Path(folder) / DIGITS_WEIGHTS,
                   input_shape=(1, 8, 8), scale=DIGIT_SCALE,
                   classes=[str(d) for d in range(10)], dtype="float32")
    config = {
        "weights": f"{WIDGETS_DIR.name}/{DIGITS_WEIGHTS}",  # from _static/
        "input": [1, 8, 8],
        "presets": [{"label": str(y), "pixels": p.ravel().tolist()}
                    for y, p in zip(labels, pixels)],
        "colors": {"digit": _ramp(figures.DIGIT_CMAP),
                   "signed": _ramp(figures.SIGNED_CMAP),
                   "bar": figures.MODEL_COLORS["CNN"]},
    }
    if teach is not None:
        config["teach"] = teach
    x = torch.from_numpy(pixels[:1, None] / DIGIT_SCALE).float()
    fallback = figures.plot_network_view(
        pixels[0], probabilities(model, pixels[:1])[0],
        {f"{name}, before ReLU": m for name, m in
         conv_maps(model, x, after_relu=False).items()})
    return _widget(
        "digit-pad", config, fallback,
        alt=f"A test digit {labels[0]}, the ten class probabilities the "
            "trained CNN gives it, and its conv1 and conv2 feature maps in "
            "red (positive) and blue (negative).",
        note="Static view: drawing your own digit needs JavaScript and the "
        "site served over HTTP.")


def cifar_samples(x: torch.Tensor, y: torch.Tensor,
                  per_class: int = SAMPLES_PER_CLASS
                  ) -> tuple[torch.Tensor, list[int]]:
    """The first ``per_class`` images of each class among uint8 images
    ``x`` [N, 3, H, W] with labels ``y``, class by class, and their
    labels."""
    chosen = []
    for c in range(int(y.max()) + 1):
        found = (y == c).nonzero()[:per_class, 0].tolist()
        if len(found) < per_class:
            raise ValueError(f"class {c} has {len(found)} images, "
                             f"{per_class} wanted")
        chosen += found
    return x[chosen], [int(y[i]) for i in chosen]


@dataclass(frozen=True)
class ExplorerNetwork:
    """A network the CIFAR-10 explorer can switch to: the model, the label
    of its switch, the file it is written to and the file's dtype
    (float32 where folding BatchNorm into its weights would otherwise
    round them a second time)."""

    model: nn.Module
    label: str
    file: str
    dtype: str = "float32"


def cifar_explorer(model: nn.Module, images: torch.Tensor,
                   labels: Sequence[int], classes: Sequence[str],
                   norm: Normalization,
                   folder: str | Path = WIDGETS_DIR, *, label: str = "",
                   others: Sequence[ExplorerNetwork] = ()) -> Widget:
    """The CIFAR-10 explorer: ``model`` (a 2-block CNN trained on images
    standardised with ``norm``) run in the page on test ``images`` (uint8
    [N, 3, 32, 32]) or the reader's photo.
    Writes its weights (float16) and the images (raw bytes) into
    ``folder``. With ``others`` the reader can switch to each of them
    (their files are loaded only then); ``label`` names ``model`` on the
    switch."""
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != (3, 32, 32):
        raise ValueError("images must be uint8 [N, 3, 32, 32], got "
                         f"{images.dtype} {tuple(images.shape)}")
    if others and not label:
        raise ValueError("name the first network (label=...) when the "
                         "reader can switch to others")
    folder = Path(folder)
    networks = [ExplorerNetwork(model, label, CIFAR_WEIGHTS, "float16"),
                *others]
    if len({n.file for n in networks}) < len(networks):
        raise ValueError("each network needs its own weights file, got "
                         f"{[n.file for n in networks]}")
    for network in networks:
        export_weights(network.model, folder / network.file,
                       input_shape=(3, 32, 32), mean=norm.mean,
                       std=norm.std, classes=classes, dtype=network.dtype)
    (folder / CIFAR_SAMPLES).write_bytes(images.contiguous().numpy()
                                         .tobytes())
    config = {
        "weights": f"{WIDGETS_DIR.name}/{CIFAR_WEIGHTS}",
        "networks": [{"label": n.label,
                      "weights": f"{WIDGETS_DIR.name}/{n.file}",
                      "kb": round((folder / n.file).stat().st_size / 1000)}
                     for n in networks] if others else [],
        "samples": f"{WIDGETS_DIR.name}/{CIFAR_SAMPLES}",
        "input": [3, 32, 32],
        "labels": [classes[int(c)] for c in labels],
        "occlusion": {"patch": attribution.OCCLUSION_PATCH,
                      "stride": attribution.OCCLUSION_STRIDE},
        "colors": {"maps": _ramp(figures.OUTPUT_CMAP),
                   "channel": _ramp(figures.PHOTO_CMAP),
                   "signed": _ramp(figures.SIGNED_CMAP),
                   "bar": figures.MODEL_COLORS["CNN"],
                   "window": figures.WINDOW_EDGE},
    }
    fallback = cifar_explorer_view(model, images[0], classes, norm,
                                   title=f"a test {classes[int(labels[0])]}")
    return _widget(
        "cifar-explorer", config, fallback,
        alt=f"A CIFAR-10 test image (class: {classes[int(labels[0])]}), its "
            "occlusion map for the predicted class, the ten class "
            "probabilities the trained CNN gives it, and its 32 conv1 and 64 "
            "conv2 feature maps after the ReLU.",
        note="Static view: exploring the network layer by layer needs "
             "JavaScript and the site served over HTTP.")


def cifar_explorer_view(model: nn.Module, image: torch.Tensor,
                        classes: Sequence[str], norm: Normalization,
                        title: str) -> Figure:
    """The CIFAR-10 explorer's view of one uint8 ``image`` [3, 32, 32] as a
    static figure: the image, the occlusion map for the predicted class,
    the probabilities, and conv1's and conv2's maps after the ReLU."""
    x = norm.apply(Split(image[None], torch.zeros(1, dtype=torch.long))).x
    with torch.no_grad():
        probs = torch.softmax(model.eval()(x), 1)[0]
        heat = attribution.occlusion(model, x, probs.argmax()[None])[0]
    return figures.plot_network_view(
        image.permute(1, 2, 0).numpy(), probs.numpy(),
        {f"{name}, after ReLU": m for name, m in
         conv_maps(model, x, after_relu=True).items()},
        classes, title=title, signed=False, heat=heat,
        heat_title=f"occlusion: {classes[int(probs.argmax())]}")
