"""What the in-browser explorers are given: example data, layer specs,
exported weights and the page markup (the browser side is in
test_widgets_browser.py)."""
import html.parser
import json

import numpy as np
import pytest
import torch

from cnn_tutorial import conv, figures, models, widgets
from cnn_tutorial.data import Normalization
from cnn_tutorial.export import read_weights


def test_example_input_is_one_grid_cut_to_size():
    big = conv.example_input(conv.EXAMPLE_SIDE)
    assert big.shape == (12, 12)
    assert set(np.unique(big)) <= {0, 1, 2, 3, 4}
    for n in (1, 5, 9):
        np.testing.assert_array_equal(conv.example_input(n), big[:n, :n])
    for bad in (0, 13):
        with pytest.raises(ValueError, match="n must be"):
            conv.example_input(bad)


def test_example_kernel_is_bright_left_dark_right():
    np.testing.assert_array_equal(conv.example_kernel(3),
                                  [[1, 0, -1]] * 3)
    np.testing.assert_array_equal(conv.example_kernel(4),
                                  [[1, 1, -1, -1]] * 4)
    np.testing.assert_array_equal(conv.example_kernel(1), [[1]])
    with pytest.raises(ValueError, match="k must be"):
        conv.example_kernel(0)


def test_conv_explorer_config_rejects_settings_outside_the_ranges():
    config = widgets.conv_explorer_config({"n": 12, "k": 5, "p": 3, "s": 3})
    # one channel and one filter: the chapter's worked example, no bias
    assert config["weights"]["5"][0][0] == conv.example_kernel(5).tolist()
    assert config["input"][0] == conv.example_input(12).tolist()
    assert config["bias"][0] == 0
    assert np.array(config["input"]).shape == (3, 12, 12)
    assert np.array(config["weights"]["4"]).shape == (2, 3, 4, 4)
    assert len({str(c) for c in config["input"]}) == 3   # distinct channels
    with pytest.raises(ValueError, match="p = 4 is outside 0..3"):
        widgets.conv_explorer_config({"p": 4})


class _Parts(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_widget_markup_carries_its_config_and_a_static_figure():
    widget = widgets.conv_explorer({"n": 6, "p": 1})
    parser = _Parts()
    parser.feed(widget._repr_html_())
    (tag, attrs), *rest = parser.tags
    assert "cnn-conv-explorer" in attrs["class"]
    assert json.loads(attrs["data-config"])["start"] == {
        "n": 6, "k": 3, "p": 1, "s": 1, "channels": 1, "filters": 1}
    image = next(a for t, a in rest if t == "img")
    assert image["src"].startswith("data:image/png;base64,")
    assert "6 by 6 input" in image["alt"]
    assert widget._repr_png_().startswith(b"\x89PNG")


def test_digit_pad_writes_the_trained_model_exactly(tmp_path, digits,
                                                   trained_cnn):
    model = trained_cnn.model
    widgets.digit_pad(model, digits.test, folder=tmp_path)
    header, tensors = read_weights(tmp_path / widgets.DIGITS_WEIGHTS)
    assert header["input"] == {"shape": [1, 8, 8], "scale": 16.0,
                               "mean": [0.0], "std": [1.0]}
    for name, tensor in model.state_dict().items():   # float32 exactly
        assert torch.equal(tensors[name], tensor.double()), name


def test_cifar_samples_are_the_first_of_each_class():
    y = torch.tensor([2, 0, 1, 0, 2, 1, 0, 1, 2, 0])
    x = torch.arange(10, dtype=torch.uint8)[:, None, None, None].expand(
        10, 3, 32, 32)
    images, labels = widgets.cifar_samples(x, y, per_class=2)
    assert labels == [0, 0, 1, 1, 2, 2]
    assert images[:, 0, 0, 0].tolist() == [1, 3, 2, 5, 0, 4]
    with pytest.raises(ValueError, match="class 0 has 4 images, 5 wanted"):
        widgets.cifar_samples(x, y, per_class=5)


def test_cifar_explorer_writes_what_it_loads(tmp_path):
    model = models.cifar_cnn(seed=0)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    classes = [f"class {i}" for i in range(10)]
    norm = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    widget = widgets.cifar_explorer(model, images, [3, 3, 7, 7], classes,
                                    norm, folder=tmp_path)
    parser = _Parts()
    parser.feed(widget._repr_html_())
    config = json.loads(parser.tags[0][1]["data-config"])
    assert config["labels"] == ["class 3", "class 3", "class 7", "class 7"]
    raw = (tmp_path / widgets.CIFAR_SAMPLES).read_bytes()
    assert raw == images.numpy().tobytes()
    header, _ = read_weights(tmp_path / widgets.CIFAR_WEIGHTS)
    assert header["classes"] == classes and header["dtype"] == "float16"
    with pytest.raises(ValueError, match="uint8"):
        widgets.cifar_explorer(model, images.float(), [0] * 4, classes,
                               norm, folder=tmp_path)
    assert config["networks"] == []                  # no switch


def test_cifar_explorer_switch_lists_each_network_and_its_file(tmp_path):
    """With another network, the config lists both (labels, files, sizes)
    and the other is written in float32 with its BatchNorm folded."""
    images = torch.zeros((1, 3, 32, 32), dtype=torch.uint8)
    classes = [f"class {i}" for i in range(10)]
    norm = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    other = widgets.ExplorerNetwork(models.cifar_whitened_cnn(0).eval(),
                                    "the other", widgets.CIFAR_TOP_WEIGHTS)
    widget = widgets.cifar_explorer(models.cifar_cnn(seed=0), images, [0],
                                    classes, norm, folder=tmp_path,
                                    label="the CNN", others=[other])
    parser = _Parts()
    parser.feed(widget._repr_html_())
    config = json.loads(parser.tags[0][1]["data-config"])
    assert [(n["label"], n["weights"]) for n in config["networks"]] == [
        ("the CNN", f"widgets/{widgets.CIFAR_WEIGHTS}"),
        ("the other", f"widgets/{widgets.CIFAR_TOP_WEIGHTS}")]
    top = tmp_path / widgets.CIFAR_TOP_WEIGHTS
    assert config["networks"][1]["kb"] == round(top.stat().st_size / 1000)
    header, _ = read_weights(top)
    assert header["dtype"] == "float32"
    assert "gelu" in [layer["type"] for layer in header["layers"]]
    with pytest.raises(ValueError, match="label="):
        widgets.cifar_explorer(models.cifar_cnn(seed=0), images, [0],
                               classes, norm, folder=tmp_path,
                               others=[other])


def test_probabilities_are_the_models_softmax_on_the_16_scale(digits):
    model = models.digits_cnn()
    pixels = digits.test.x[:5].numpy() * 16
    expected = torch.softmax(model(digits.test.x[:5]), 1).detach().numpy()
    np.testing.assert_allclose(widgets.probabilities(model, pixels),
                               expected, atol=1e-6)
    with pytest.raises(ValueError, match="0..16"):
        widgets.probabilities(model, pixels + 1)


def test_presets_are_correctly_classified_test_digits(digits, trained_cnn):
    trained = trained_cnn.model
    pixels, labels = widgets.preset_digits(trained, digits.test)
    assert labels == list(range(10))
    assert widgets.probabilities(trained, pixels).argmax(1).tolist() == labels
    assert pixels.shape == (10, 8, 8) and pixels.max() <= 16
    first = [int(np.flatnonzero(digits.test.y.numpy() == d)[0])
             for d in range(10)]
    assert pixels[0].tolist() == np.rint(
        digits.test.x[first[0], 0].numpy() * 16).astype(int).tolist()


def test_presets_need_a_model_that_gets_each_class_right(digits):
    with pytest.raises(ValueError, match="gets no test digit . right"):
        widgets.preset_digits(models.digits_cnn(), digits.test)


def test_the_static_view_shows_a_step_of_the_explorer():
    """The fallback is the explorer at FALLBACK_VIEW, with its formula line
    and the worked sum of the current cell, not the chapter's first
    figure."""
    view = widgets.FALLBACK_VIEW
    n, k, p, s = (view[key] for key in "nkps")
    o = conv.output_size(n, k, p, s)
    i, j = divmod(view["cell"], o)
    terms, value = conv.worked_sum(conv.example_input(n),
                                   conv.example_kernel(k), i, j, s, p)
    fig = widgets.explorer_view(**view)
    formula = fig.get_suptitle()
    worked = fig.texts[-1].get_text().replace("\n", " ")
    assert f"⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = {o}" in formula
    assert "row and column of the padded input unused" in formula
    assert worked.startswith(f"output({i}, {j}) = ")
    assert worked.endswith(f"= {value:g} (cell {view['cell'] + 1} of "
                           f"{o * o})")
    assert worked.count("×") == terms.count("×") == k * k
    widget = widgets.conv_explorer()
    assert widget.png == figures.figure_png(fig)
    first_figure = figures.plot_conv_step(
        conv.example_input(5), conv.example_kernel(3),
        np.zeros((3, 3)), 0, 0)
    assert widget.png != figures.figure_png(first_figure)
    assert f"p = {p}, s = {s}" in widget._repr_html_()


def test_the_static_view_rejects_a_cell_outside_the_output():
    with pytest.raises(ValueError, match="cell 9 is outside the 9 output"):
        widgets.explorer_view(6, 3, 1, 2, 9)
