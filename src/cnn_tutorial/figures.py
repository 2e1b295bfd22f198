"""Every figure in the book, in one colour grammar.

Inputs are blue, outputs teal, padding a dashed unfilled ring, the kernel
window a dark translucent overlay; signed maps (filters, feature maps) use
RdBu centred at zero. Functions return a ``matplotlib.figure.Figure``
(never touching pyplot's global state), so a book cell that ends with the
call shows the figure exactly once.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from sklearn.metrics import confusion_matrix

# Colour roles: every figure (and the browser widgets) takes its colours
# from these names.
INPUT_CMAP = "Greys"         # input values in cells (blue means negative)
INPUT_COLOR = "#2171b5"      # a line or band drawn from the input
INPUT_FILL = "#6baed6"       # an input cell whose value is not shown
OUTPUT_CMAP = "GnBu"         # output values printed in cells
OUTPUT_COLOR = "#01665e"     # a line drawn from the output
SIGNED_CMAP = "RdBu_r"       # kernels, filters, feature maps: 0 is white
DIGIT_CMAP = "gray_r"        # digits: ink (high values) dark on white
PHOTO_CMAP = "gray"          # photos: bright stays bright
ATTRIBUTION_CMAP = "magma_r"  # attribution maps: dark = important
PADDING_EDGE = "gray"        # the dashed ring of zero padding
WINDOW_EDGE = "#d95f02"      # the kernel window, a marked cell or patch
WINDOW = dict(facecolor="black", alpha=0.3, edgecolor=WINDOW_EDGE, lw=3.5)
MODEL_COLORS = {            # one colour per model on every page
    "MLP": "#d95f02", "CNN": "#1b9e77",
    "CNN + BatchNorm": "#7570b3", "CNN + augmentation": "#e7298a",
    "CNN + BatchNorm + augmentation": "#e6ab02", "CNN, GAP head": "#386cb0",
}
EXTRA_COLORS = ("#7570b3", "#e7298a", "#e6ab02", "#386cb0")
GUIDE_COLOR = "gray"         # legend keys for line styles (train/test)
FRAME_COLOR = "#b0b0b0"      # thin frame around each tile of a mosaic

BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def figure_png(fig: Figure) -> bytes:
    """A figure rendered to PNG bytes (how notebooks and the cache show it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def use_book_style() -> None:
    """Set the book's matplotlib style and, in Jupyter, show a returned
    Figure as a PNG, once, without pyplot. Each chapter calls it first."""
    matplotlib.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        formatter = shell.display_formatter.formatters["image/png"]
        formatter.for_type(Figure, figure_png)


def _figure(nrows: int = 1, ncols: int = 1, size=(6.0, 3.0),
            layout: str | None = "constrained", **kw):
    fig = Figure(figsize=size, layout=layout)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _color(name: str, i: int,
           colors: Mapping[str, str] | None = None) -> str:
    return {**MODEL_COLORS, **(colors or {})}.get(
        name, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def _as_array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _to_rgb(tile: np.ndarray, scale: bool = True) -> np.ndarray:
    """[3, H, W] to an [H, W, 3] image, scaled to [0, 1] within the tile
    (for filters) or, with ``scale=False``, clipped (for photos)."""
    tile = tile.transpose(1, 2, 0)
    if not scale:
        return tile.clip(0, 1)
    lo, hi = tile.min(), tile.max()
    return (tile - lo) / (hi - lo) if hi > lo else np.full_like(tile, 0.5)


def _tile(image) -> np.ndarray:
    """One image as [H, W] (gray or signed) or [3, H, W] (RGB)."""
    image = _as_array(image)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[0] == 3):
        raise ValueError(
            f"a tile must be [H, W], [1, H, W] or [3, H, W], got {image.shape}"
        )
    return image


def _resample(image: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes to side x side."""
    rows = np.arange(side) * image.shape[-2] // side
    cols = np.arange(side) * image.shape[-1] // side
    return image[..., rows[:, None], cols[None, :]]


def image_tiles(
    images,
    signed: bool | Sequence[bool] = False,
    cmap: str = DIGIT_CMAP,
    scale_rgb: bool = True,
    gray_range: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """Each image ([H, W], [1, H, W] or [3, H, W]; a batch [N, C, H, W]
    works too) as an [H, W, 3] RGB tile in [0, 1].

    ``signed`` maps (one flag for all, or one per image) share one RdBu
    scale centred at zero (blue negative, red positive); other gray and RGB
    images are each scaled to their own range (RGB photos already in
    [0, 1] keep their colours with ``scale_rgb=False``), or, with
    ``gray_range=(lo, hi)``, all gray images share that range (values
    outside it are clipped).
    """
    images = [_tile(img) for img in images]
    if not images:
        raise ValueError("image_grid needs at least one image")
    flags = [signed] * len(images) if isinstance(signed, bool) \
        else list(signed)
    if len(flags) != len(images):
        raise ValueError(f"signed has {len(flags)} flags for "
                         f"{len(images)} images")
    smax = max([np.abs(im).max() for im, flag in zip(images, flags)
                if flag and im.ndim == 2], default=1.0) or 1.0
    signed_map = matplotlib.colormaps[SIGNED_CMAP]
    gray_map = matplotlib.colormaps[cmap]

    def rgb(im: np.ndarray, flag: bool) -> np.ndarray:
        if im.ndim == 3:
            return _to_rgb(im, scale_rgb)
        if flag:
            return signed_map((im / smax + 1) / 2)[..., :3]
        lo, hi = gray_range or (im.min(), im.max())
        return gray_map(np.clip((im - lo) / (hi - lo or 1.0), 0, 1))[..., :3]

    return [rgb(im, flag) for im, flag in zip(images, flags)]


def _title_size(title: str, tile: float) -> float:
    """9 pt, or smaller (not below 8 pt) where the longest line of a title
    would be wider than its ``tile``-inch tile (about 0.6 em a letter)."""
    longest = max((len(line) for line in title.split("\n")), default=0)
    return max(8.0, min(9.0, tile * 72 / (0.6 * longest or 1)))


def _canvas(tiles: Sequence[np.ndarray], ncols: int, side: int, gap: int,
            title_px: int = 0) -> np.ndarray:
    """RGB tiles resized to ``side`` and placed in rows of ``ncols`` on a
    white canvas, ``gap`` pixels apart, ``title_px`` free above each row."""
    nrows = -(-len(tiles) // ncols)
    cell_h, cell_w = side + gap + title_px, side + gap
    canvas = np.ones((nrows * cell_h, ncols * cell_w, 3))
    for i, rgb in enumerate(tiles):
        r, c = divmod(i, ncols)
        y, x = r * cell_h + title_px, c * cell_w
        canvas[y:y + side, x:x + side] = _resample(
            rgb.transpose(2, 0, 1), side).transpose(1, 2, 0)
    return canvas


def tile_mosaic(
    tiles: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    suptitle: str | None = None,
    tile: float = 1.1,
    title_pt: float | None = None,
) -> Figure:
    """RGB tiles ([H, W, 3]) laid out in rows of ``ncols``, each ``tile``
    inches wide, with optional titles above them (``title_pt`` points, or
    as :func:`_title_size` fits them). The grid is drawn as one mosaic
    image, so even hundreds of tiles render quickly."""
    n = len(tiles)
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    side = max(max(t.shape[:2]) for t in tiles)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    gap = max(1, side // 8)
    # room for the titles: about 0.16 inch per 9-point line, in canvas pixels
    lines = max((t.count("\n") + 1 for t in titles or []), default=0)
    line_in = 0.16 * (title_pt or 9) / 9
    title_px = int(np.ceil(line_in * lines * side / tile))
    cell_h, cell_w = side + gap + title_px, side + gap
    canvas = _canvas(tiles, ncols, side, gap, title_px)
    top_h = 0.35 if suptitle else 0.0
    height = nrows * tile * cell_h / cell_w + top_h
    fig, axes = _figure(size=(tile * ncols, height), layout=None)
    fig.subplots_adjust(0, 0, 1, 1 - top_h / height)
    ax = axes[0, 0]
    for i in range(n if titles is not None else 0):
        r, c = divmod(i, ncols)
        y, x = r * cell_h + title_px, c * cell_w
        ax.text(x + side / 2, y - 0.5, titles[i], ha="center",
                va="bottom",
                fontsize=title_pt or _title_size(titles[i], tile))
    ax.imshow(canvas, interpolation="nearest", aspect="auto")
    for i in range(n):      # a thin frame: a shifted image shows its shift
        r, c = divmod(i, ncols)
        ax.add_patch(Rectangle((c * cell_w - 0.5, r * cell_h + title_px - 0.5),
                               side, side, fill=False, lw=0.6,
                               edgecolor=FRAME_COLOR))
    ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle, y=1 - 0.05 / height)
    return fig


def image_grid(
    images,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    signed: bool | Sequence[bool] = False,
    cmap: str = DIGIT_CMAP,
    suptitle: str | None = None,
    tile: float = 1.1,
    scale_rgb: bool = True,
    gray_range: tuple[float, float] | None = None,
    title_pt: float | None = None,
) -> Figure:
    """One tile per image (see :func:`image_tiles` for the colours), laid
    out by :func:`tile_mosaic`."""
    return tile_mosaic(image_tiles(images, signed, cmap, scale_rgb,
                                   gray_range), titles, ncols, suptitle, tile,
                       title_pt)


def row_titles(labels: Sequence[str], per_row: int) -> list[str]:
    """Titles for rows of ``per_row`` tiles: each label over the first tile
    of its row, nothing over the rest."""
    return [t for label in labels for t in [label] + [""] * (per_row - 1)]


def _draw_grid(ax, values: np.ndarray, cmap: str, pad: int = 0,
               fmt: str = "{:g}", signed: bool = False) -> None:
    """A matrix as coloured cells with its numbers printed in them.

    ``pad`` zero cells around the border are drawn as a dashed ring;
    ``signed`` centres the colour scale at zero. Values with a negative
    entry are always drawn signed, on the diverging map: -5 must not look
    like an empty cell.
    """
    if values.min() < 0:
        cmap, signed = SIGNED_CMAP, True
    h, w = values.shape
    vmax = np.abs(values).max() or 1.0
    vmin = -vmax if signed else min(0, values.min())
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax,
              extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax.set_aspect("equal", adjustable="box")
    norm = matplotlib.colors.Normalize(vmin, vmax)
    colormap = matplotlib.colormaps[cmap]
    for (r, c), v in np.ndenumerate(values):
        in_pad = not (pad <= r < h - pad and pad <= c < w - pad)
        if in_pad:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=True,
                                   facecolor="white",
                                   edgecolor=PADDING_EDGE,
                                   ls="--", lw=1))
        dark = sum(colormap(norm(v))[:3]) < 1.5 and not in_pad
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.set_xticks(np.arange(w) - 0.5, minor=True)
    ax.set_yticks(np.arange(h) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1)
    ax.tick_params(which="both", length=0, labelbottom=False,
                   labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _window(ax, row: int, col: int, kh: int, kw: int) -> None:
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), kw, kh, **WINDOW))


def plot_conv_step(
    x: np.ndarray, kernel: np.ndarray, out: np.ndarray, i: int, j: int,
    stride: int = 1, padding: int = 0,
) -> Figure:
    """Input (window over output cell (i, j) marked) * kernel = output."""
    x, kernel, out = _as_array(x), _as_array(kernel), _as_array(out)
    xp = np.pad(x, padding)
    k = kernel.shape[0]
    fig, axes = _figure(1, 3, (6.9, 2.9),
                        width_ratios=[xp.shape[1], k + 1, out.shape[1] + 1])
    _draw_grid(axes[0, 0], xp, INPUT_CMAP, pad=padding)
    _window(axes[0, 0], i * stride, j * stride, k, k)
    axes[0, 0].set_title("input")
    _draw_grid(axes[0, 1], kernel, SIGNED_CMAP, signed=True)
    axes[0, 1].set_title("kernel")
    _draw_grid(axes[0, 2], out, OUTPUT_CMAP)
    axes[0, 2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                   edgecolor=WINDOW_EDGE, lw=3.5,
                                   clip_on=False))
    axes[0, 2].set_title("output")
    fig.suptitle(
        f"n = {x.shape[0]}, k = {k}, p = {padding}, s = {stride}"
        f"  →  n_out = {out.shape[0]}"
    )
    return fig


def plot_explorer_view(
    x: np.ndarray, kernel: np.ndarray, out: np.ndarray, cell: int,
    stride: int, padding: int, formula: str, worked: str,
) -> Figure:
    """One step of the convolution explorer, as it shows it: the formula
    line, the padded input with the window of output cell number ``cell``
    (row by row) and the cells no window reaches greyed, the kernel, the
    output filled up to that cell, and the cell's worked sum."""
    x, kernel, out = _as_array(x), _as_array(kernel), _as_array(out)
    xp, k, o = np.pad(x, padding), kernel.shape[0], out.shape[0]
    i, j = divmod(cell, o)
    reach = (o - 1) * stride + k
    fig, axes = _figure(1, 3, (4.3, 2.5),
                        width_ratios=[xp.shape[1], k + 1, o + 1])
    _draw_grid(axes[0, 0], xp, INPUT_CMAP, pad=padding)
    for r, c in np.ndindex(xp.shape):
        if r >= reach or c >= reach:       # no window reaches these cells
            axes[0, 0].add_patch(Rectangle(
                (c - 0.5, r - 0.5), 1, 1, facecolor="#bdbdbd", alpha=0.85,
                edgecolor="white", zorder=4))
    _window(axes[0, 0], i * stride, j * stride, k, k)
    axes[0, 0].set_title("padded input")
    _draw_grid(axes[0, 1], kernel, SIGNED_CMAP, signed=True)
    axes[0, 1].set_title("kernel")
    _draw_grid(axes[0, 2], out, OUTPUT_CMAP)
    for r, c in np.ndindex(out.shape):
        if r * o + c > cell:               # not computed yet
            axes[0, 2].add_patch(Rectangle(
                (c - 0.5, r - 0.5), 1, 1, facecolor="white",
                edgecolor="#d9d9d9", zorder=4))
    axes[0, 2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                   edgecolor=WINDOW_EDGE, lw=3,
                                   clip_on=False, zorder=5))
    axes[0, 2].set_title("output")
    fig.suptitle(formula, fontsize=10)
    fig.text(0.5, 0.0, worked, ha="center", va="top", fontsize=10)
    return fig


def plot_conv_positions(
    n: int, k: int, padding: int = 0, stride: int = 1, max_panels: int = 9
) -> Figure:
    """Small multiples: where the k x k window sits for each output cell
    (in the style of Dumoulin & Visin's convolution arithmetic guide)."""
    from .conv import output_size

    o = output_size(n, k, padding, stride)
    positions = [(r, c) for r in range(o) for c in range(o)][:max_panels]
    ncols = min(len(positions), o if o <= 5 else 5)
    nrows = -(-len(positions) // ncols)
    fig, axes = _figure(nrows, ncols, (1.35 * ncols, 1.35 * nrows + 0.5))
    side = n + 2 * padding
    inside = np.zeros((side, side))
    inside[padding:padding + n, padding:padding + n] = 1
    colors = matplotlib.colors.ListedColormap(["white", INPUT_FILL])
    ticks = np.arange(side + 1)
    for ax, (r, c) in zip(axes.flat, positions):
        ax.imshow(inside, cmap=colors, vmin=0, vmax=1,
                  extent=(0, side, side, 0))
        ax.vlines(ticks, 0, side, colors="white", lw=1)
        ax.hlines(ticks, 0, side, colors="white", lw=1)
        if padding:  # the zero ring: dashed, unfilled
            ax.vlines(ticks, 0, side, colors=PADDING_EDGE, lw=0.8, ls="--")
            ax.hlines(ticks, 0, side, colors=PADDING_EDGE, lw=0.8, ls="--")
            ax.add_patch(Rectangle((padding, padding), n, n, fill=False,
                                   edgecolor=INPUT_FILL, lw=1.5))
        ax.add_patch(Rectangle((c * stride, r * stride), k, k, **WINDOW))
        ax.set_axis_off()
        ax.set_title(f"output ({r}, {c})", fontsize=9)
    for ax in list(axes.flat)[len(positions):]:
        ax.set_axis_off()
    shown = "" if len(positions) == o * o else f" (first {len(positions)})"
    fig.suptitle(f"n = {n}, k = {k}, p = {padding}, s = {stride}  →  "
                 f"n_out = {o}: {o * o} window positions{shown}")
    return fig


def plot_pooling(
    x: np.ndarray, k: int, max_out: np.ndarray, avg_out: np.ndarray
) -> Figure:
    """A feature map with its k x k pooling windows, and both pooled maps."""
    x, max_out, avg_out = map(_as_array, (x, max_out, avg_out))
    fig, axes = _figure(1, 3, (6.9, 3.0), width_ratios=[2, 1, 1])
    _draw_grid(axes[0, 0], x, SIGNED_CMAP, signed=True)
    for r in range(0, x.shape[0] - k + 1, k):
        for c in range(0, x.shape[1] - k + 1, k):
            axes[0, 0].add_patch(Rectangle((c - 0.5, r - 0.5), k, k,
                                           fill=False, lw=2.5))
    axes[0, 0].set_title(f"feature map, {k}×{k} windows")
    _draw_grid(axes[0, 1], max_out, SIGNED_CMAP, signed=True)
    axes[0, 1].set_title("max pooling")
    _draw_grid(axes[0, 2], avg_out, SIGNED_CMAP, signed=True, fmt="{:.2f}")
    axes[0, 2].set_title("average pooling")
    return fig


def plot_flattening(image, row: int, col: int,
                    thumbnail=None) -> Figure:
    """[C, H, W] image with a 3x3 neighbourhood marked, and the same nine
    pixels per channel in the flattened vector (C*H*W long).

    Gray images use the digits' map (ink dark); each colour channel runs
    from black to full red, green or blue, so bright stays bright.
    ``thumbnail`` ([3, H', W'] in [0, 1]) adds the photo itself at full
    resolution, for recognising it.
    """
    image = _as_array(image)
    if image.ndim != 3:
        raise ValueError(f"expected one image [C, H, W], got {image.shape}")
    c, h, w = image.shape
    names = ["gray"] if c == 1 else ["red", "green", "blue"]
    cmaps = [DIGIT_CMAP] if c == 1 else [
        matplotlib.colors.LinearSegmentedColormap.from_list(
            name, ["black", name]) for name in names]
    extra = thumbnail is not None
    fig = Figure(figsize=(6.9 if c > 1 else 3.6, 3.6 if c > 1 else 4.2),
                 layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.4, 1.2])
    axes = list(top.subplots(1, c + extra, squeeze=False)[0])
    if extra:
        ax = axes.pop(0)
        ax.imshow(_to_rgb(_as_array(thumbnail), scale=False))
        ax.set_title("the photo")
        ax.set_axis_off()
    rows = [r for r in range(row - 1, row + 2) if 0 <= r < h]
    cols = [q for q in range(col - 1, col + 2) if 0 <= q < w]
    for ch, ax in enumerate(axes):
        ax.imshow(image[ch], cmap=cmaps[ch], interpolation="nearest")
        ax.add_patch(Rectangle((cols[0] - 0.5, rows[0] - 0.5), len(cols),
                               len(rows), fill=False, edgecolor=WINDOW_EDGE,
                               lw=2))
        ax.set_title(f"{names[ch]} ({h}×{w})")
        ax.set_xticks([])
        ax.set_yticks([])
    ax = bottom.subplots()
    flat = image.reshape(-1)
    ax.imshow(flat[None, :], cmap=DIGIT_CMAP if c == 1 else PHOTO_CMAP,
              aspect="auto", interpolation="nearest")
    positions = [ch * h * w + r * w + q
                 for ch in range(c) for r in rows for q in cols]
    for p in positions:
        ax.axvline(p, color=WINDOW_EDGE, lw=1.5)
    ax.set_yticks([])
    ax.set_xlabel("position in the flattened vector")
    ax.set_title(
        f"the 3×3 neighbourhood's {len(positions)} values now span "
        f"positions {min(positions)}–{max(positions)} of {flat.size}")
    return fig


def plot_param_growth(sides: Sequence[int], dense: Sequence[int],
                      conv: Sequence[int], hidden: int = 512) -> Figure:
    """Parameters of the first dense layer vs the first conv layer against
    the image side length (RGB), on a log scale."""
    fig, axes = _figure(size=(6, 3.4))
    ax = axes[0, 0]
    ax.plot(sides, dense, "o-", color=MODEL_COLORS["MLP"],
            label=f"nn.Linear(3*n*n, {hidden})")
    ax.plot(sides, conv, "s-", color=MODEL_COLORS["CNN"],
            label="nn.Conv2d(3, 32, 3)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("image side n (pixels, RGB)")
    ax.set_ylabel("parameters in the first layer")
    ax.set_title("First-layer parameters vs image size")
    ax.legend(frameon=False)
    return fig


def plot_accuracy_bars(results: Mapping[str, Mapping[str, float]],
                       title: str) -> Figure:
    """Grouped bars: test accuracy per model (group) and condition (bar)."""
    models = list(results)
    conditions = list(next(iter(results.values())))
    fig, axes = _figure(size=(5.5, 3.2))
    ax = axes[0, 0]
    width = 0.8 / len(conditions)
    for i, cond in enumerate(conditions):
        xs = np.arange(len(models)) + i * width
        vals = [100 * results[m][cond] for m in models]
        bars = ax.bar(xs, vals, width, label=cond,
                      color=EXTRA_COLORS[i % len(EXTRA_COLORS)],
                      alpha=0.9)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(np.arange(len(models)) + 0.4 - width / 2, models)
    ax.set_xlabel("model")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    fig.legend(frameon=False, loc="outside right upper")
    return fig


def plot_shift_curves(robustness: Mapping[str, Sequence[float]],
                      distances: Sequence[int]) -> Figure:
    """Test accuracy against how far the test digits were shifted."""
    fig, axes = _figure(size=(5.5, 3.2))
    ax = axes[0, 0]
    for i, (name, accs) in enumerate(robustness.items()):
        ax.plot(distances, [100 * a for a in accs], "o-", label=name,
                color=_color(name, i))
    ax.set_xticks(list(distances))
    ax.set_xlabel("shift of the test digits (pixels)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy on shifted test digits")
    ax.legend(frameon=False)
    return fig


def plot_learning_curves(histories: Mapping[str, object],
                         held_out: str = "test",
                         colors: Mapping[str, str] | None = None) -> Figure:
    """Loss and accuracy per epoch, dashed on the training set and solid on
    the ``held_out`` split: ``"test"``, or ``"val"`` for the CIFAR-10 runs,
    whose kept epoch (``best_epoch``) is marked with a dot. Each history is
    a ``train.History`` or a mapping of its fields; ``colors`` (name ->
    colour) adds to the book's model colours."""
    from matplotlib.ticker import MaxNLocator

    label = {"test": "test", "val": "validation"}[held_out]
    fig, axes = _figure(1, 2, (6.9, 3.0))
    for i, (name, h) in enumerate(histories.items()):
        h = h.as_dict() if hasattr(h, "as_dict") else h
        epochs = np.arange(1, len(h[f"{held_out}_loss"]) + 1)
        color = _color(name, i, colors)
        for ax, key, scale in ((axes[0, 0], "loss", 1),
                               (axes[0, 1], "acc", 100)):
            ax.plot(epochs, np.multiply(h[f"train_{key}"], scale), "--",
                    color=color, alpha=0.7)
            ax.plot(epochs, np.multiply(h[f"{held_out}_{key}"], scale), "-",
                    color=color, label=name)
            best = h.get("best_epoch")
            if best:
                ax.plot(best, scale * h[f"{held_out}_{key}"][best - 1], "o",
                        color=color, ms=5)
    axes[0, 0].set_ylabel("cross-entropy loss")
    axes[0, 1].set_ylabel("accuracy (%)")
    for ax in axes.flat:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_title("Loss")
    axes[0, 1].set_title("Accuracy")
    handles, names = axes[0, 1].get_legend_handles_labels()
    handles += [matplotlib.lines.Line2D([], [], color=GUIDE_COLOR, ls="--"),
                matplotlib.lines.Line2D([], [], color=GUIDE_COLOR)]
    names += ["training set", f"{label} set"]
    if any(isinstance(h, Mapping) and h.get("best_epoch")
           for h in histories.values()):
        handles.append(matplotlib.lines.Line2D([], [], color=GUIDE_COLOR,
                                               ls="", marker="o", ms=5))
        names.append("kept epoch")
    long_names = max(len(n) for n in names) > 14
    fig.legend(handles, names, loc="outside lower center", frameon=False,
               ncols=2 if long_names else min(len(names), 4))
    return fig


def plot_confusion(y_true, y_pred, classes: Sequence[str]) -> Figure:
    """Confusion matrix of predictions, with counts printed in the cells."""
    counts = confusion_matrix(_as_array(y_true), _as_array(y_pred),
                              labels=range(len(classes)))
    return plot_confusion_counts(counts, classes)


def plot_confusion_counts(counts, classes: Sequence[str]) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted) with the
    counts printed in the cells."""
    counts = np.asarray(counts)
    size = 0.45 * len(classes) + 1.5
    fig, axes = _figure(size=(size + 0.8, size))
    ax = axes[0, 0]
    ax.imshow(counts, cmap=OUTPUT_CMAP)
    dark = counts > counts.max() / 2
    for (r, c), v in np.ndenumerate(counts):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=8,
                    color="white" if dark[r, c] else "black")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45 if len(classes[0]) > 2 else 0,
                  ha="right" if len(classes[0]) > 2 else "center")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / counts.sum()
    ax.set_title(f"Confusion matrix (accuracy {100 * accuracy:.1f} %)")
    return fig


def plot_per_class(accuracies: Mapping[str, Sequence[float]],
                   classes: Sequence[str]) -> Figure:
    """Test accuracy per class (rows) for each model (bars)."""
    fig, axes = _figure(size=(6.9, 0.34 * len(classes) + 1.2))
    ax = axes[0, 0]
    height = 0.8 / len(accuracies)
    ys = np.arange(len(classes))
    for i, (name, accs) in enumerate(accuracies.items()):
        ax.barh(ys + i * height, np.multiply(accs, 100), height,
                label=name, color=_color(name, i))
    ax.set_yticks(ys + 0.4 - height / 2, classes)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("test accuracy (%)")
    fig.legend(frameon=False, loc="outside upper center",
               ncols=len(accuracies))
    return fig


def plot_conv_matrix(matrix, kernel, n: int) -> Figure:
    """The dense matrix of a convolution (one row per output pixel, one
    column per input pixel), zeros white, next to the kernel it repeats."""
    matrix, kernel = _as_array(matrix), _as_array(kernel)
    fig, axes = _figure(1, 2, (6.9, 3.2), width_ratios=[4, 1])
    vmax = np.abs(kernel).max() or 1.0
    ax = axes[0, 0]
    ax.imshow(np.where(matrix == 0, np.nan, matrix), cmap=SIGNED_CMAP,
              vmin=-vmax, vmax=vmax, interpolation="nearest")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"input pixel ({n} × {n} = {n * n})")
    ax.set_ylabel(f"output pixel ({matrix.shape[0]})")
    ax.set_title(f"dense matrix: {np.count_nonzero(matrix)} of "
                 f"{matrix.size} entries non-zero")
    _draw_grid(axes[0, 1], kernel, SIGNED_CMAP, signed=True)
    axes[0, 1].set_title(f"kernel: {kernel.size} numbers")
    return fig


def plot_signal_detection(signal, pattern, response, starts) -> Figure:
    """A noisy signal with the pattern's true positions shaded, and a 1-D
    convolution's response to it, one value per window start."""
    signal, response = _as_array(signal), _as_array(response)
    fig, axes = _figure(2, 1, (6.9, 3.6), sharex=True)
    top, bottom = axes[0, 0], axes[1, 0]
    for s in starts:
        for ax in (top, bottom):
            ax.axvspan(s, s + len(pattern) - 1, color=INPUT_COLOR,
                       alpha=0.15, lw=0)
    top.plot(signal, color=INPUT_COLOR, lw=1)
    top.set_ylabel("signal")
    top.set_title("Noisy signal; shaded: where the pattern was added")
    bottom.plot(response, color=OUTPUT_COLOR, lw=1.2)
    bottom.set_ylabel("response")
    bottom.set_xlabel("time step (window start)")
    bottom.set_title(f"1-D convolution with the {len(pattern)}-sample "
                     "pattern as kernel")
    return fig


def plot_channels(x, w, out, bias) -> Figure:
    """A multi-channel convolution with numbers in every cell: one row per
    input channel (the channel and each filter's slice for it) and the
    outputs, which sum over all channels. The window of output cell (0, 0)
    is overlaid on every channel and that cell of output 0 outlined."""
    x, w, out = _as_array(x), _as_array(w), _as_array(out)
    c_in, c_out = x.shape[0], w.shape[0]
    fig, axes = _figure(c_in, c_out + 2, (6.9, 1.55 * c_in + 0.4),
                        layout="constrained")
    for c in range(c_in):
        _draw_grid(axes[c, 0], x[c], INPUT_CMAP)
        _window(axes[c, 0], 0, 0, *w.shape[2:])
        axes[c, 0].set_title(f"input channel {c}")
        for f in range(c_out):
            _draw_grid(axes[c, f + 1], w[f, c], SIGNED_CMAP, signed=True)
            axes[c, f + 1].set_title(f"filter {f}, slice {c}")
    for c in range(c_in):
        axes[c, -1].set_axis_off()
    for f in range(c_out):
        ax = axes[f, -1]
        ax.set_axis_on()
        _draw_grid(ax, out[f], OUTPUT_CMAP)
        ax.set_title(f"output {f} (bias {bias[f]:g})")
    axes[0, -1].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False,
                                    edgecolor=WINDOW_EDGE, lw=3.5,
                                    clip_on=False))
    return fig


def plot_prediction(image, probabilities: Sequence[float],
                    classes: Sequence[str] | None = None,
                    title: str = "input (8×8)") -> Figure:
    """An input (an 8x8 digit, or an RGB photo [H, W, 3] with values 0-255)
    and the class probabilities a model gives it."""
    fig, axes = _figure(1, 2, (6.9, 2.4), width_ratios=[1, 2.2])
    _show_input(axes[0, 0], image, title)
    _probability_bars(axes[0, 1], probabilities, classes)
    return fig


def _show_input(ax, image, title: str) -> None:
    """An 8x8 digit, or an RGB photo [H, W, 3] with values 0-255."""
    image = _as_array(image)
    if image.ndim == 3:
        ax.imshow(image.astype(np.uint8))
    else:
        ax.imshow(image, cmap=DIGIT_CMAP)
    ax.set_axis_off()
    ax.set_title(title)


def _probability_bars(ax, probabilities: Sequence[float],
                      classes: Sequence[str] | None = None) -> None:
    probabilities = _as_array(probabilities)
    positions = np.arange(len(probabilities))
    labels = [str(c) for c in (classes if classes is not None
                                else positions)]
    ax.bar(positions, probabilities, color=MODEL_COLORS["CNN"])
    ax.set_xticks(positions, labels,
                  rotation=45 if max(map(len, labels)) > 2 else 0,
                  ha="right" if max(map(len, labels)) > 2 else "center")
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")


def plot_network_view(image, probabilities: Sequence[float],
                       maps: Mapping[str, object],
                       classes: Sequence[str] | None = None,
                       title: str = "input (8×8)", signed: bool = True,
                       heat=None, heat_title: str = "occlusion",
                       ncols: int = 16) -> Figure:
    """What an explorer shows, as one static figure: the input (given
    ``heat``, an attribution map [H, W] beside it), the class
    probabilities, and each layer's feature maps ``maps[name]`` [C, H, W]
    in rows of ``ncols``, on one colour scale per layer (``signed``: the
    diverging map centred at zero; else 0 pale to the largest dark)."""
    blocks = {name: _as_array(m) for name, m in maps.items()}
    for name, m in blocks.items():
        if m.ndim != 3:
            raise ValueError(f"{name}: feature maps must be [C, H, W], "
                             f"got {m.shape}")
    rows = [-(-len(m) // ncols) for m in blocks.values()]
    tile = 6.9 / ncols
    fig = Figure(figsize=(6.9, 2.4 + sum(r * tile + 0.3 for r in rows)),
                 layout="constrained")
    top, *parts = fig.subfigures(1 + len(blocks), 1, height_ratios=[
        2.4, *(r * tile + 0.3 for r in rows)])
    axes = top.subplots(1, 3 if heat is not None else 2, squeeze=False,
                        width_ratios=[1, 1, 2.2] if heat is not None
                        else [1, 2.2])[0]
    _show_input(axes[0], image, title)
    if heat is not None:
        axes[1].imshow(_as_array(heat), cmap=ATTRIBUTION_CMAP)
        axes[1].set_axis_off()
        axes[1].set_title(heat_title)
    _probability_bars(axes[-1], probabilities, classes)
    for part, (name, m) in zip(parts, blocks.items()):
        if signed:
            tiles = image_tiles(m, signed=True)
        else:
            tiles = image_tiles(m, cmap=OUTPUT_CMAP,
                                gray_range=(0.0, float(m.max()) or 1.0))
        side = max(m.shape[1:])
        ax = part.subplots()
        ax.imshow(_canvas(tiles, ncols, side, max(1, side // 8)),
                  interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{name}: {len(m)} maps of {m.shape[1]}×{m.shape[2]}"
                     f", channels in order, one colour scale", loc="left")
    return fig


def plot_overview(photo, maps, occlusion_map, probabilities: Sequence[float],
                  classes: Sequence[str], title: str) -> Figure:
    """The book in one picture: a photo ([H, W, 3], 0-255), four of its
    conv1 feature maps ([4, h, w], signed), its occlusion map ([H, W]; dark:
    greying that part out hurts most) and the class probabilities, top
    five."""
    photo, maps = _as_array(photo), _as_array(maps)
    fig = Figure(figsize=(6.9, 2.3), layout="constrained")
    grid = fig.add_gridspec(2, 5, width_ratios=[2, 1, 1, 2, 2.6])
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(photo.astype(np.uint8))
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    vmax = np.abs(maps).max() or 1.0
    for i, fmap in enumerate(maps[:4]):
        kax = fig.add_subplot(grid[i // 2, 1 + i % 2])
        kax.imshow(fmap, cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax)
        kax.set_axis_off()
        if i == 0:
            kax.set_title("conv1 maps", fontsize=10, loc="left")
    ax = fig.add_subplot(grid[:, 3])
    heat = _as_array(occlusion_map)
    shown = ax.imshow(heat, cmap=ATTRIBUTION_CMAP, vmin=min(0.0, heat.min()))
    ax.set_title("occlusion map", fontsize=10)
    ax.set_axis_off()
    bar = fig.colorbar(shown, ax=ax, shrink=0.9, pad=0.02)
    bar.set_label("probability drop", fontsize=10)
    bar.ax.tick_params(labelsize=10)
    probabilities = _as_array(probabilities)
    top = np.argsort(probabilities)[::-1][:5]
    ax = fig.add_subplot(grid[:, 4])
    ax.barh(np.arange(5), probabilities[top], color=MODEL_COLORS["CNN"])
    ax.set_yticks(np.arange(5), [classes[i] for i in top], fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability", fontsize=10)
    ax.tick_params(axis="x", labelsize=10)
    return fig


def plot_kernel_fit(losses: Sequence[float], kernels: Sequence,
                    target, steps: Sequence[int]) -> Figure:
    """Gradient descent recovering a kernel: the loss per step (log scale)
    and the kernel at a few ``steps`` beside the target, on one diverging
    colour scale."""
    shown = [_as_array(kernels[s]) for s in steps] + [_as_array(target)]
    fig = Figure(figsize=(6.9, 2.6), layout="constrained")
    grid = fig.add_gridspec(2, len(shown), height_ratios=[1, 1.1])
    ax = fig.add_subplot(grid[0, :])
    ax.semilogy(np.arange(1, len(losses) + 1), losses,
                color=MODEL_COLORS["CNN"])
    ax.set_xlabel("gradient step")
    ax.set_ylabel("squared error")
    vmax = max(np.abs(k).max() for k in shown)
    for i, (k, title) in enumerate(zip(
            shown, [f"step {s}" for s in steps] + ["target"])):
        kax = fig.add_subplot(grid[1, i])
        kax.imshow(k, cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax)
        kax.set_title(title, fontsize=10)
        kax.set_axis_off()
    return fig


def plot_attribution(images, maps: Mapping[str, Sequence],
                     labels: Sequence[str], signed: Sequence[str] = ()
                     ) -> Figure:
    """One row per image: the image (RGB in [0, 1]), then one map per
    method (``maps``: name -> [N, H, W]), each scaled to its own range on
    the sequential map, or, for the methods in ``signed``, on the diverging
    map shared by those maps. ``labels`` title the images. The figure is
    the column's width (6.9 in) with 14-point titles, so that at phone
    width (about half as wide) they still read at about 10 pixels; a
    method's name breaks at its first space."""
    names = list(maps)
    # each signed method on its own scale: divide by its largest |value|
    scaled = {name: _as_array(m) / (np.abs(_as_array(m)).max() or 1.0)
              if name in signed else _as_array(m) for name, m in maps.items()}
    tiles, titles, flags = [], [], []
    for i, image in enumerate(images):
        tiles.append(image)
        flags.append(False)
        titles.append(labels[i])
        for name in names:
            tiles.append(scaled[name][i])
            flags.append(name in signed)
            titles.append(name.replace(" ", "\n", 1) if i == 0 else "")
    rgb = image_tiles(tiles, flags, ATTRIBUTION_CMAP, scale_rgb=False)
    ncols = 1 + len(names)
    return tile_mosaic(rgb, titles, ncols=ncols, tile=6.9 / ncols,
                       title_pt=14)


def plot_class_images(images, classes: Sequence[str],
                      probability: Sequence[float]) -> Figure:
    """One image per class (RGB in [0, 1], clipped), titled with the class
    and the probability the network gives it, five to a row, at the
    column's width with titles that stay legible at phone width."""
    titles = [f"{c}\n{100 * float(p):.0f}\u202f%"
              for c, p in zip(classes, probability)]
    return image_grid(images, titles, ncols=5, tile=6.9 / 5,
                      scale_rgb=False, title_pt=14)


def plot_seed_dots(rows: Sequence[tuple[str, Sequence[float]]],
                   xlabel: str) -> Figure:
    """One row per label: a dot for each seed's value (fractions, shown in
    %) and a bar at their mean, first row on top; the means are printed
    at the right."""
    n = len(rows)
    fig, axes = _figure(1, 1, (6.9, 0.34 * n + 0.9))
    ax = axes[0, 0]
    for i, (_, values) in enumerate(rows):
        y = n - 1 - i
        shown = 100 * np.asarray(values, dtype=float)
        ax.plot(shown, [y] * len(shown), "o", mfc="none",
                color=MODEL_COLORS["CNN"], ms=6)
        ax.plot([shown.mean()] * 2, [y - 0.3, y + 0.3], "-",
                color=WINDOW_EDGE, lw=2.5)
        ax.annotate(f"{shown.mean():.1f}", (1.0, y),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=10)
    ax.set_yticks(range(n), [label for label, _ in reversed(rows)])
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color=FRAME_COLOR, lw=0.5, alpha=0.6)
    ax.plot([], [], "o", mfc="none", color=MODEL_COLORS["CNN"],
            label="one seed")
    ax.plot([], [], "|", color=WINDOW_EDGE, ms=12, mew=2.5, label="mean")
    fig.legend(loc="outside upper center", frameon=False, ncols=2)
    return fig
