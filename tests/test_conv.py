import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_tutorial import conv


@st.composite
def conv_case(draw):
    k = draw(st.integers(1, 5))
    pad = draw(st.integers(0, 2))
    h = draw(st.integers(max(1, k - 2 * pad), 12))
    w = draw(st.integers(max(1, k - 2 * pad), 12))
    return dict(
        n=draw(st.integers(1, 3)), c=draw(st.integers(1, 4)),
        f=draw(st.integers(1, 4)), h=h, w=w, k=k, pad=pad,
        stride=draw(st.integers(1, 3)), bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(conv_case())
def test_conv2d_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"]))
    w = rng.standard_normal((case["f"], case["c"], case["k"], case["k"]))
    b = rng.standard_normal(case["f"]) if case["bias"] else None
    ours = conv.conv2d(x, w, b, stride=case["stride"], padding=case["pad"])
    ref = F.conv2d(torch.tensor(x), torch.tensor(w),
                   None if b is None else torch.tensor(b),
                   stride=case["stride"], padding=case["pad"]).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(1, 4), st.integers(4, 12), st.integers(1, 3),
       st.integers(0, 1), st.integers(0, 2**16))
def test_pooling_matches_torch(k, n, stride, pad, seed):
    if k > n or pad > k // 2:
        return
    x = np.random.default_rng(seed).standard_normal((2, 3, n, n))
    t = torch.tensor(x)
    np.testing.assert_allclose(
        conv.max_pool2d(x, k, stride, pad),
        F.max_pool2d(t, k, stride, pad).numpy(), atol=1e-5)
    np.testing.assert_allclose(
        conv.avg_pool2d(x, k, stride, pad),
        F.avg_pool2d(t, k, stride, pad).numpy(), atol=1e-5)


def test_pool_stride_defaults_to_kernel():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(conv.max_pool2d(x, 2)[0, 0],
                                  [[5, 7], [13, 15]])
    np.testing.assert_array_equal(conv.avg_pool2d(x, 2)[0, 0],
                                  [[2.5, 4.5], [10.5, 12.5]])


def test_output_size_matches_torch_on_a_grid():
    for n in range(1, 13):
        for k in range(1, 6):
            for pad in range(3):
                for s in range(1, 4):
                    if k > n + 2 * pad:
                        continue
                    assert conv.output_size(n, k, pad, s) == \
                        conv.torch_output_size(n, k, pad, s), (n, k, pad, s)


def test_naive_equals_fast():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    for stride, pad in [(1, 0), (2, 1), (3, 2)]:
        np.testing.assert_allclose(
            conv.conv2d_naive(x, w, b, stride, pad),
            conv.conv2d(x, w, b, stride, pad), atol=1e-12)


def test_conv_keeps_float32():
    x = np.ones((1, 1, 5, 5), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    assert conv.conv2d(x, w).dtype == np.float32


@pytest.mark.parametrize("x_shape, w_shape, kwargs, match", [
    ((3, 8, 8), (1, 3, 3, 3), {}, "input must be 4-D"),
    ((1, 3, 8, 8), (3, 3, 3), {}, "kernel must be 4-D"),
    ((1, 3, 8, 8), (2, 1, 3, 3), {}, "1 input channels but the input has 3"),
    ((1, 1, 4, 4), (1, 1, 5, 5), {}, "larger than the padded input"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": 0}, "stride must be >= 1"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"padding": -1}, "padding must be >= 0"),
    ((1, 1, 8, 8), (2, 1, 3, 3), {"b": np.zeros(3)}, r"bias must have shape"),
])
def test_conv_bad_input_raises(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv.conv2d(np.zeros(x_shape), np.zeros(w_shape), **kwargs)
    if "b" not in kwargs:
        with pytest.raises(ValueError, match=match):
            conv.conv2d_naive(np.zeros(x_shape), np.zeros(w_shape), **kwargs)


@pytest.mark.parametrize("args, match", [
    ((5, 3, 0, 0), "stride"), ((5, 3, -1, 1), "padding"),
    ((5, 0, 0, 1), "kernel size must be >= 1"), ((2, 5, 1, 1), "larger"),
])
def test_output_size_bad_geometry(args, match):
    with pytest.raises(ValueError, match=match):
        conv.output_size(*args)


def test_pool_bad_input():
    with pytest.raises(ValueError, match="at most half"):
        conv.max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(ValueError, match="4-D"):
        conv.avg_pool2d(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="stride"):
        conv.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, stride=0)


def test_worked_sum_is_the_output_cell():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, (5, 5)).astype(float)
    k = rng.integers(-1, 2, (3, 3)).astype(float)
    out = conv.conv2d(x[None, None], k[None, None], stride=2, padding=1)
    terms, value = conv.worked_sum(x, k, 1, 0, stride=2, padding=1)
    assert value == out[0, 0, 1, 0]
    assert len(terms.split(" + ")) == 9
    assert eval(terms.replace("×", "*").replace("\u2212", "-")) == value
    assert "-" not in terms and "×(\u22121)" in terms   # 4×(−1), not 4×-1
    with pytest.raises(ValueError, match="outside"):
        conv.worked_sum(x, k, 5, 5)


@pytest.mark.parametrize("n, padding, stride", [(5, 0, 1), (6, 1, 1),
                                                (7, 1, 2)])
def test_conv_matrix_is_the_convolution(n, padding, stride):
    import torch

    rng = np.random.default_rng(n)
    kernel = rng.normal(size=(3, 3))
    x = rng.normal(size=(n, n))
    w = conv.conv_matrix(kernel, n, padding, stride)
    o = conv.output_size(n, 3, padding, stride)
    assert w.shape == (o * o, n * n)
    expected = torch.nn.functional.conv2d(
        torch.tensor(x)[None, None], torch.tensor(kernel)[None, None],
        stride=stride, padding=padding)
    assert np.allclose(w @ x.ravel(), expected.numpy().ravel())
    # locality: at most k*k non-zeros per row; sharing: only kernel values
    assert ((w != 0).sum(1) <= 9).all()
    assert set(np.unique(w[w != 0])) <= set(kernel.ravel())
    if padding == 0 and stride == 1:
        assert all(sorted(row[row != 0]) == sorted(kernel.ravel())
                   for row in w)
    with pytest.raises(ValueError, match="2-D"):
        conv.conv_matrix(kernel[None], n)


def test_translation_equivariance():
    x = np.random.default_rng(0).random((1, 2, 12, 12))
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    assert conv.equivariance_error(x, w, 2, -1) < 1e-12
    # the border is excluded for a reason: there the two really differ
    a = np.roll(conv.conv2d(x, w, padding=1), 1, axis=3)
    b = conv.conv2d(np.roll(x, 1, axis=3), w, padding=1)
    assert np.abs(a - b).max() > 1e-3


def test_kernels_behave():
    edge = np.zeros((1, 1, 5, 5))
    edge[..., 3:] = 1.0                      # a vertical edge
    sx = conv.KERNELS["Sobel x (vertical edges)"][None, None]
    sy = conv.KERNELS["Sobel y (horizontal edges)"][None, None]
    assert np.abs(conv.conv2d(edge, sx)).max() > 0
    assert np.abs(conv.conv2d(edge, sy)).max() == 0
    flat = np.ones((1, 1, 5, 5))
    blur = conv.KERNELS["blur"][None, None]
    np.testing.assert_allclose(conv.conv2d(flat, blur), 1)
    rgb = np.zeros((1, 3, 2, 2))
    rgb[0, 0] = 1.0                          # pure red
    assert (conv.conv2d(rgb, conv.opponent_kernel(0, 1)) == 1).all()


def test_worked_pool_matches_pooling():
    x = np.arange(16.0).reshape(4, 4) - 5
    max_text, avg_text = conv.worked_pool(x, 2, 1, 0)
    assert max_text == "max(3, 4, 7, 8) = 8"
    pooled = conv.max_pool2d(x[None, None], 2)[0, 0, 1, 0]
    assert max_text.endswith(f"= {pooled:g}")
    assert avg_text == "(3 + 4 + 7 + 8) / 4 = 5.50"
    assert float(avg_text.split("= ")[1]) == conv.avg_pool2d(
        x[None, None], 2)[0, 0, 1, 0]
    with pytest.raises(ValueError, match="outside"):
        conv.worked_pool(x, 2, 2, 0)


def test_conv1d_matches_torch_and_finds_the_pattern():
    import torch

    from cnn_tutorial import data

    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 20)), rng.normal(size=(4, 3, 5))
    b = rng.normal(size=4)
    for stride, padding in ((1, 0), (2, 2)):
        expected = torch.nn.functional.conv1d(
            torch.tensor(x), torch.tensor(w), torch.tensor(b),
            stride=stride, padding=padding).numpy()
        assert np.allclose(conv.conv1d(x, w, b, stride, padding), expected)
    with pytest.raises(ValueError, match=r"\[N, C, L\]"):
        conv.conv1d(x[0], w)
    signal, pattern = data.pattern_signal(starts=(30, 95, 150), seed=0)
    response = conv.conv1d(signal[None, None], pattern[None, None])[0, 0]
    top3 = sorted(np.argsort(response)[-3:])
    assert top3 == [30, 95, 150]
    with pytest.raises(ValueError, match="start"):
        data.pattern_signal(length=50, starts=(45,))


def test_worked_channel_sum_is_the_output_cell():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (3, 3, 3)).astype(float)
    w = rng.integers(-1, 2, (2, 3, 2, 2)).astype(float)
    b = np.array([1.0, -2.0])
    out = conv.conv2d(x[None], w, b)[0]
    for f, i, j in ((0, 0, 0), (1, 1, 0)):
        text = conv.worked_channel_sum(x, w, b, f, i, j)
        assert text.count("(") >= 3
        total = text.rsplit(" = ", 1)[1].replace("\u2212", "-")
        assert float(total) == out[f, i, j]
        expression = text.split(" = ")[0]
        assert eval(expression.replace("×", "*").replace("\u2212", "-")) \
            == out[f, i, j]
    with pytest.raises(ValueError, match="same"):
        conv.worked_channel_sum(x[:2], w, b, 0, 0, 0)


def test_worked_channel_sum_with_padding_and_stride():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, (3, 5, 5)).astype(float)
    w = rng.integers(-1, 2, (2, 3, 3, 3)).astype(float)
    b = np.array([0.0, 1.0])
    out = conv.conv2d(x[None], w, b, padding=1, stride=2)[0]
    for f, i, j in ((0, 0, 0), (1, 2, 1)):
        text = conv.worked_channel_sum(x, w, b, f, i, j, stride=2,
                                       padding=1)
        expression = text.split(" = ")[0]
        assert eval(expression.replace("×", "*").replace("\u2212", "-")) \
            == out[f, i, j]
        assert f" + {b[f]:g} = " in text
        assert text.startswith("(0×") == (i == 0)     # the padding ring


# --- per-axis settings, dilation, 1 x 1 convolutions (issue 26) -------------

@pytest.mark.parametrize("size, k, pad, stride, dilation", [
    (28, (3, 5), (1, 2), (1, 2), 1),
    ((20, 31), (1, 7), (0, 3), (2, 1), 1),
    (32, 3, 0, 1, 2),
    (32, (3, 3), (2, 4), 1, (2, 4)),
    (17, 5, 1, 3, 3),
])
def test_output_shape_per_axis_matches_nn_conv2d(size, k, pad, stride,
                                                 dilation):
    assert conv.output_shape(size, k, pad, stride, dilation) == \
        conv.torch_output_shape(size, k, pad, stride, dilation)


def test_output_shape_names_a_bad_pair():
    with pytest.raises(ValueError, match="padding must be an int or a"):
        conv.output_shape(8, 3, (1, 1, 1))
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        conv.output_size(8, 3, dilation=0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.output_size(8, 3, dilation=4)      # spans 9 > 8


@pytest.mark.parametrize("k, d, span", [(3, 1, 3), (3, 2, 5), (3, 4, 9),
                                        (5, 2, 9), (1, 7, 1)])
def test_effective_kernel_size(k, d, span):
    assert conv.effective_kernel_size(k, d) == span
    assert conv.dilate_kernel(np.ones((k, k)), d).shape == (span, span)


def test_a_dilated_convolution_is_one_with_zeros_between_the_taps():
    rng = np.random.default_rng(3)
    x, kernel = rng.normal(size=(1, 1, 11, 11)), rng.normal(size=(3, 3))
    dilated = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(kernel)[None, None], dilation=2)
    spread = conv.conv2d(x, conv.dilate_kernel(kernel, 2)[None, None])
    assert spread.shape == tuple(dilated.shape) == (1, 1, 7, 7)
    np.testing.assert_allclose(spread, dilated.numpy(), atol=1e-12)


def test_unused_cells_are_what_the_floor_drops():
    assert conv.unused_cells(6, 3, 1, 2) == 1
    assert conv.unused_cells(5, 3, 0, 1) == 0
    assert conv.unused_cells(8, 3, 0, 3) == 2    # windows at 0 and 3 reach 6
    for n, k, p, s in [(12, 5, 3, 3), (7, 2, 0, 2), (9, 4, 1, 3)]:
        o = conv.output_size(n, k, p, s)
        reached = (o - 1) * s + k               # last window's far edge
        assert reached + conv.unused_cells(n, k, p, s) == n + 2 * p
        assert conv.unused_cells(n, k, p, s) < s


def test_a_1x1_convolution_is_a_linear_layer_at_every_pixel():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(5, 3, 1)
    x = torch.randn(2, 5, 4, 6)
    linear = conv.as_linear(layer)
    assert isinstance(linear, torch.nn.Linear)
    assert (linear.in_features, linear.out_features) == (5, 3)
    with torch.no_grad():
        torch.testing.assert_close(conv.per_pixel(linear, x), layer(x))
        # one pixel by hand: the linear map of its channel vector
        torch.testing.assert_close(layer(x)[1, :, 2, 3],
                                   linear(x[1, :, 2, 3]))
    with pytest.raises(ValueError, match="1 x 1 convolution"):
        conv.as_linear(torch.nn.Conv2d(5, 3, 3))
