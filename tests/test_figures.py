import io
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from cnn_tutorial import figures
from cnn_tutorial.train import History


def mosaic(fig: Figure) -> np.ndarray:
    return fig.axes[0].images[0].get_array()


def count_tiles(fig: Figure, n_slots: int, ncols: int) -> int:
    """Slots of the mosaic that hold a non-white tile."""
    canvas = np.asarray(mosaic(fig))
    nrows = -(-n_slots // ncols)
    h, w = canvas.shape[0] // nrows, canvas.shape[1] // ncols
    return sum(
        (canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] < 0.99).any()
        for r in range(nrows) for c in range(ncols))


def test_filter_grid_has_one_tile_per_filter():
    w = torch.randn(32, 1, 3, 3)
    fig = figures.image_grid(w, ncols=8, signed=True)
    assert count_tiles(fig, 32, 8) == 32
    fig = figures.image_grid(w[:13], ncols=8, signed=True)
    assert count_tiles(fig, 16, 8) == 13      # three empty slots stay white


def test_signed_tiles_are_centred_at_zero():
    tiles = np.array([[[-1.0, 0.0], [0.5, 1.0]]])
    canvas = np.asarray(mosaic(figures.image_grid(tiles, signed=True)))
    # the tile sits at the top left of its cell: [[-1, 0], [0.5, 1]]
    assert canvas[0, 1].min() > 0.9                  # 0 -> (nearly) white
    assert canvas[0, 0][2] > canvas[0, 0][0]         # -1 -> blue
    assert canvas[1, 1][0] > canvas[1, 1][2]         # +1 -> red


def test_rgb_tiles_and_titles():
    fig = figures.image_grid(torch.rand(4, 3, 5, 5), titles=list("abcd"),
                             suptitle="RGB")
    assert [t.get_text() for t in fig.axes[0].texts] == list("abcd")
    assert fig._suptitle.get_text() == "RGB"


@pytest.mark.parametrize("bad, match", [
    ([], "at least one"), ([np.zeros((2, 4, 4))], "tile must be"),
])
def test_image_grid_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        figures.image_grid(bad)
    with pytest.raises(ValueError, match="titles"):
        figures.image_grid(np.zeros((2, 3, 3)), titles=["one"])


def test_conv_step_titles_carry_the_arithmetic():
    from cnn_tutorial import conv
    x = np.arange(25.0).reshape(5, 5)
    k = np.ones((3, 3))
    out = conv.conv2d(x[None, None], k[None, None], stride=2, padding=1)[0, 0]
    fig = figures.plot_conv_step(x, k, out, 1, 1, stride=2, padding=1)
    assert fig._suptitle.get_text() == \
        "n = 5, k = 3, p = 1, s = 2  →  n_out = 3"
    texts = [t.get_text() for t in fig.axes[2].texts]
    assert f"{out[1, 1]:g}" in texts


def test_conv_positions_panels():
    fig = figures.plot_conv_positions(5, 3, padding=1, stride=2)
    assert "n_out = 3" in fig._suptitle.get_text()
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 9
    fig = figures.plot_conv_positions(5, 3, padding=1, max_panels=10)
    assert "first 10" in fig._suptitle.get_text()


def test_plots_have_labels():
    h = History([1.0, 0.5], [0.5, 0.9], [1.1, 0.6], [0.4, 0.8])
    for fig in (
        figures.plot_learning_curves({"CNN": h, "MLP": h.as_dict()}),
        figures.plot_shift_curves({"CNN": [0.9, 0.5]}, (0, 1)),
        figures.plot_accuracy_bars({"MLP": {"a": 0.5, "b": 0.6}}, "t"),
        figures.plot_param_growth([8, 16], [10, 40], [5, 5]),
        figures.plot_confusion([0, 1, 1], [0, 1, 0], ["0", "1"]),
    ):
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    conf = figures.plot_confusion([0, 1, 1], [0, 1, 0], ["0", "1"])
    assert "accuracy 66.7" in conf.axes[0].get_title()


def test_flattening_marks_nine_pixels_per_channel():
    fig = figures.plot_flattening(torch.rand(3, 6, 6), 2, 2)
    vector_ax = fig.axes[-1]
    assert len(vector_ax.lines) == 27
    assert "27 values" in vector_ax.get_title()
    with pytest.raises(ValueError):
        figures.plot_flattening(torch.rand(6, 6), 2, 2)


def test_pooling_figure_prints_both_pooled_maps():
    x = np.arange(16.0).reshape(4, 4)
    fig = figures.plot_pooling(x, 2, np.array([[5, 7], [13, 15]]),
                               np.array([[2.5, 4.5], [10.5, 12.5]]))
    assert {t.get_text() for t in fig.axes[1].texts} == {"5", "7", "13",
                                                         "15"}
    assert "12.50" in {t.get_text() for t in fig.axes[2].texts}


def test_figure_png_is_drawn_at_the_column_width():
    figures.use_book_style()
    fig = figures.plot_pooling(np.ones((4, 4)), 2, np.ones((2, 2)),
                               np.ones((2, 2)))
    image = matplotlib.image.imread(io.BytesIO(figures.figure_png(fig)))
    assert 600 <= image.shape[1] <= 690      # 6.9 in at 100 dpi, trimmed


@pytest.mark.slow
def test_plot_style_is_an_explicit_call_not_an_import_side_effect():
    script = (
        "import matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "from cnn_tutorial import figures\n"
        "assert dict(matplotlib.rcParams) == before\n"
        "figures.use_book_style()\n"
        "assert matplotlib.rcParams['axes.spines.top'] is False\n"
        "assert matplotlib.rcParams['savefig.dpi'] == 100\n")
    subprocess.run([sys.executable, "-c", script], check=True)


def test_tiles_then_layout():
    tiles = figures.image_tiles([np.zeros((2, 2)), np.ones((3, 4, 4))])
    assert [t.shape for t in tiles] == [(2, 2, 3), (4, 4, 3)]
    fig = figures.tile_mosaic(tiles, ncols=1)
    assert np.asarray(mosaic(fig)).shape[:2] == (2 * (4 + 1), 4 + 1)
    with pytest.raises(ValueError, match="2 flags for 1 images"):
        figures.image_tiles([np.zeros((2, 2))], signed=[True, False])


def test_colour_roles_mark_window_and_padding():
    from cnn_tutorial import conv
    x, k = conv.example_input(5), conv.example_kernel(3)
    out = conv.conv2d(x[None, None], k[None, None], padding=1)[0, 0]
    fig = figures.plot_conv_step(x, k, out, 0, 0, padding=1)
    edges = {matplotlib.colors.to_hex(p.get_edgecolor())
             for ax in fig.axes for p in ax.patches}
    assert figures.WINDOW_EDGE in edges
    assert matplotlib.colors.to_hex(figures.PADDING_EDGE) in edges


def test_rgb_photos_keep_colours_filters_are_stretched():
    photo = np.full((3, 2, 2), 0.3)
    photo[0, 0, 0] = 0.4
    kept = np.asarray(mosaic(figures.image_grid([photo], scale_rgb=False)))
    assert np.allclose(kept[0, 0], [0.4, 0.3, 0.3])
    stretched = np.asarray(mosaic(figures.image_grid([photo])))
    assert np.allclose(stretched[0, 0], [1.0, 0.0, 0.0])


def test_attribution_maps_of_signed_methods_get_their_own_scale():
    """A method with tiny values is not drawn faint beside one with large
    values: each signed method is scaled by its own largest magnitude."""
    image = torch.rand(1, 3, 4, 4)
    big, small = torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)
    big[0, 0, 0], small[0, 0, 0] = 100.0, 0.01
    fig = figures.plot_attribution(image, {"big": big, "small": small},
                                   ["x"], signed=["big", "small"])
    canvas = fig.axes[0].images[0].get_array()
    side = canvas.shape[1] // 3                # three tiles in the row
    big_tile = canvas[:, side:2 * side]
    small_tile = canvas[:, 2 * side:]
    assert np.allclose(big_tile.min(axis=(0, 1)), small_tile.min(axis=(0, 1)))
