"""What the in-browser explorers are given: example data, layer specs,
exported weights and the page markup (the browser side is in
test_widgets_browser.py)."""
import html.parser
import json

import numpy as np
import pytest
import torch

from cnn_tutorial import conv, models, widgets


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
    assert config["kernels"]["5"] == conv.example_kernel(5).tolist()
    assert config["input"] == conv.example_input(12).tolist()
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
        "n": 6, "k": 3, "p": 1, "s": 1}
    image = next(a for t, a in rest if t == "img")
    assert image["src"].startswith("data:image/png;base64,")
    assert "6 by 6 input" in image["alt"]
    assert widget._repr_png_().startswith(b"\x89PNG")


def test_layer_specs_follow_the_forward_order():
    specs = widgets.layer_specs(models.digits_cnn())
    assert [s["type"] for s in specs] == [
        "conv2d", "relu", "maxpool", "conv2d", "relu", "maxpool", "flatten",
        "linear", "relu", "linear"]
    names = set(models.digits_cnn().state_dict())
    assert {s[key] for s in specs for key in ("weight", "bias")
            if key in s} == names


def test_layer_specs_refuse_layers_the_browser_cannot_run():
    with pytest.raises(ValueError, match="BatchNorm2d layers cannot"):
        widgets.layer_specs(models.digits_cnn(batch_norm=True))


def test_exported_weights_load_back_exactly(tmp_path):
    model = models.digits_cnn(seed=3)
    path = widgets.export_weights(model, tmp_path / "w")
    assert path == tmp_path / "w" / widgets.WEIGHTS_FILE
    saved = json.loads(path.read_text())
    assert list(saved) == list(model.state_dict())
    state = {name: torch.tensor(v["values"], dtype=torch.float32)
             .reshape(v["shape"]) for name, v in saved.items()}
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor), name


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
