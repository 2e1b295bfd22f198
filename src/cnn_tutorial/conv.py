"""A numpy reference convolution and pooling (chapter 2).

Same conventions as ``torch.nn.functional``: inputs are [N, C, H, W],
kernels [F, C, kh, kw], and "convolution" is cross-correlation::

    out[n, f, i, j] = b[f] + sum_c sum_m sum_n x[n, c, s*i + m, s*j + n]
                                             * w[f, c, m, n]
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

if TYPE_CHECKING:
    import torch
    from torch import nn


def output_size(n: int, k: int, pad: int = 0, stride: int = 1,
                dilation: int = 1) -> int:
    """Output length along one axis: floor((n + 2*pad - k') / stride) + 1,
    with k' = :func:`effective_kernel_size` (k itself when not dilated)."""
    k_eff = effective_kernel_size(k, dilation)
    _check_geometry(n, k_eff, pad, stride)
    return (n + 2 * pad - k_eff) // stride + 1


def effective_kernel_size(k: int, dilation: int = 1) -> int:
    """The span of a k-tap kernel whose taps are ``dilation`` apart:
    k + (k - 1)(dilation - 1)."""
    if k < 1:
        raise ValueError(f"kernel size must be >= 1, got {k}")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    return k + (k - 1) * (dilation - 1)


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """(height, width) from one int for both axes or a pair."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, "
                         f"got {value!r}")
    return pair


def output_shape(
    size: int | tuple[int, int], k: int | tuple[int, int],
    pad: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """(H_out, W_out): :func:`output_size` on each axis with that axis's
    kernel size, padding, stride and dilation (as ``nn.Conv2d`` takes
    them: an int for both axes or a (height, width) pair)."""
    return tuple(output_size(*axis) for axis in zip(
        _pair(size, "input size"), _pair(k, "kernel size"),
        _pair(pad, "padding"), _pair(stride, "stride"),
        _pair(dilation, "dilation")))


def unused_cells(n: int, k: int, pad: int = 0, stride: int = 1) -> int:
    """Rows (or columns) at the end of the padded input that no window
    reaches, because the formula's floor drops a partial step (the
    convolution explorer greys them)."""
    o = output_size(n, k, pad, stride)
    return n + 2 * pad - ((o - 1) * stride + k)


def dilate_kernel(kernel: np.ndarray, dilation: int) -> np.ndarray:
    """The k' x k' kernel (k' = :func:`effective_kernel_size`) with zeros
    between the taps: convolving with it equals the dilated convolution."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D [kh, kw], got {kernel.shape}")
    kh, kw = kernel.shape
    out = np.zeros((effective_kernel_size(kh, dilation),
                    effective_kernel_size(kw, dilation)), kernel.dtype)
    out[::dilation, ::dilation] = kernel
    return out


def _check_geometry(n: int, k: int, pad: int, stride: int) -> None:
    """Raise a ValueError describing the first impossible setting."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if pad < 0:
        raise ValueError(f"padding must be >= 0, got {pad}")
    if k < 1:
        raise ValueError(f"kernel size must be >= 1, got {k}")
    if k > n + 2 * pad:
        raise ValueError(
            f"kernel size {k} is larger than the padded input "
            f"({n} + 2*{pad} = {n + 2 * pad})"
        )


def _check_images(x: np.ndarray, what: str = "input") -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{what} must be 4-D [N, C, H, W], got shape {x.shape}"
        )


def _check_conv_inputs(
    x: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.asarray(x), np.asarray(w)
    _check_images(x)
    _check_images(w, "kernel")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"kernel expects {w.shape[1]} input channels but the input has "
            f"{x.shape[1]} (input {x.shape}, kernel {w.shape})"
        )
    return x, w


def _windows(
    x: np.ndarray, kh: int, kw: int, stride: int, pad: int, fill: float
) -> np.ndarray:
    """Every (kh, kw) window of padded ``x``: [N, C, H_out, W_out, kh, kw].

    A strided view, not a copy: this is the im2col of the textbooks.
    """
    _check_geometry(x.shape[2], kh, pad, stride)
    _check_geometry(x.shape[3], kw, pad, stride)
    if pad:
        x = np.pad(
            x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill
        )
    view = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """2-D cross-correlation of ``x`` [N, C, H, W] with ``w`` [F, C, kh, kw].

    Returns [N, F, H_out, W_out]; ``b`` is an optional [F] bias.
    """
    x, w = _check_conv_inputs(x, w)
    windows = _windows(x, w.shape[2], w.shape[3], stride, padding, 0.0)
    # Contract channels and the window: [N, Ho, Wo, F] -> [N, F, Ho, Wo].
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        b = np.asarray(b)
        if b.shape != (w.shape[0],):
            raise ValueError(
                f"bias must have shape ({w.shape[0]},), got {b.shape}"
            )
        out = out + b[None, :, None, None]
    return np.ascontiguousarray(out)


def conv2d_naive(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """The formula as loops, for reading, not running: equals :func:`conv2d`.

    output(i, j) = sum_m sum_n input(s*i + m, s*j + n) * kernel(m, n),
    summed over input channels, for every image and filter.
    """
    x, w = _check_conv_inputs(x, w)
    n_img, _, h, wd = x.shape
    n_f, _, kh, kw = w.shape
    h_out = output_size(h, kh, padding, stride)
    w_out = output_size(wd, kw, padding, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    out = np.zeros((n_img, n_f, h_out, w_out), dtype=np.result_type(x, w))
    for img in range(n_img):
        for f in range(n_f):
            for i in range(h_out):
                for j in range(w_out):
                    r, c = i * stride, j * stride
                    patch = xp[img, :, r:r + kh, c:c + kw]
                    out[img, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                out[img, f] += b[f]
    return out


def _pool(
    x: np.ndarray, kernel_size: int, stride: int | None, padding: int,
    reduce: str,
) -> np.ndarray:
    x = np.asarray(x)
    _check_images(x)
    stride = kernel_size if stride is None else stride
    if padding > kernel_size // 2:
        raise ValueError(
            f"padding must be at most half the kernel size ({kernel_size} "
            f"// 2 = {kernel_size // 2}), got {padding}"
        )
    fill = -np.inf if reduce == "max" else 0.0
    windows = _windows(x, kernel_size, kernel_size, stride, padding, fill)
    if reduce == "max":
        return windows.max(axis=(4, 5))
    return windows.mean(axis=(4, 5))


def max_pool2d(
    x: np.ndarray, kernel_size: int, stride: int | None = None,
    padding: int = 0,
) -> np.ndarray:
    """Largest value in each window (stride defaults to the kernel size)."""
    return _pool(x, kernel_size, stride, padding, "max")


def avg_pool2d(
    x: np.ndarray, kernel_size: int, stride: int | None = None,
    padding: int = 0,
) -> np.ndarray:
    """Mean of each window; zero padding counts, as in PyTorch's default."""
    return _pool(x, kernel_size, stride, padding, "mean")


def worked_sum(
    x: np.ndarray, kernel: np.ndarray, i: int, j: int, stride: int = 1,
    padding: int = 0,
) -> tuple[str, float]:
    """Output cell (i, j) of a single-channel conv written out in full,
    e.g. ``("0×0 + 1×1 + 3×2 + 4×3", 19.0)``, for figure captions."""
    x, kernel = np.asarray(x), np.asarray(kernel)
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError("worked_sum takes one 2-D input and one 2-D kernel")
    k = kernel.shape[0]
    xp = np.pad(x, padding)
    r, c = i * stride, j * stride
    patch = xp[r:r + k, c:c + kernel.shape[1]]
    if patch.shape != kernel.shape:
        raise ValueError(f"output cell ({i}, {j}) lies outside the output")
    terms = " + ".join(
        f"{_factor(a)}×{_factor(b)}"
        for a, b in zip(patch.ravel(), kernel.ravel())
    )
    return terms, float(np.sum(patch * kernel))


def conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           stride: int = 1, padding: int = 0) -> np.ndarray:
    """1-D convolution of signals [N, C, L] with kernels [F, C, k]: the 2-D
    one on images of height 1 (as ``torch.nn.functional.conv1d``)."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d takes signals [N, C, L] and kernels "
                         f"[F, C, k], got {x.shape} and {w.shape}")
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    return conv2d(x[:, :, None], w[:, :, None], b, stride=stride)[:, :, 0]


def worked_channel_sum(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                       f: int, i: int, j: int, stride: int = 1,
                       padding: int = 0) -> str:
    """Output (f, i, j) of a multi-channel conv written out: one bracket of
    products per input channel, plus the bias,
    e.g. ``"(1×0 + …) + (…) + (…) + 1 = 2 + 0 + 3 + 1 = 6"``."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 3 or w.ndim != 4 or w.shape[1] != x.shape[0]:
        raise ValueError(f"need x [C, H, W] and w [F, C, k, k] with the same "
                         f"C, got {x.shape} and {w.shape}")
    parts = [worked_sum(x[c], w[f, c], i, j, stride=stride, padding=padding)
             for c in range(x.shape[0])]
    values = [v for _, v in parts] + [float(b[f])]
    brackets = " + ".join(f"({terms})" for terms, _ in parts)
    return (f"{brackets} + {_factor(b[f])} = "
            f"{' + '.join(_factor(v) for v in values)} = "
            f"{sum(values):g}".replace("-", "\u2212"))


def _factor(v: float) -> str:
    """A number as a factor in a printed product: 3, or (−1) with a true
    minus sign."""
    return f"(\u2212{-v:g})" if v < 0 else f"{v:g}"


def conv_matrix(kernel: np.ndarray, n: int, padding: int = 0,
                stride: int = 1) -> np.ndarray:
    """The dense matrix ``W`` [o*o, n*n] of a single-channel convolution of
    an n x n input: ``W @ x.ravel() == conv2d(x, kernel).ravel()``.

    A convolution is linear, so its matrix has as column p the output for
    the p-th basis image (a single 1 at pixel p). Most entries are zero
    (locality) and every row repeats the same k*k kernel values (weight
    sharing): a CNN layer is a dense layer with tied, mostly-zero weights.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D [k, k], got {kernel.shape}")
    basis = np.eye(n * n).reshape(n * n, 1, n, n)
    images = conv2d(basis, kernel[None, None], stride=stride,
                    padding=padding)
    return images.reshape(n * n, -1).T


def worked_pool(x: np.ndarray, k: int, i: int, j: int) -> tuple[str, str]:
    """Output cell (i, j) of k x k, stride-k max and average pooling written
    out, e.g. ``("max(1, 5, 2, 0) = 5", "(1 + 5 + 2 + 0) / 4 = 2")``."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("worked_pool takes one 2-D feature map")
    window = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
    if window.shape != (k, k):
        raise ValueError(f"output cell ({i}, {j}) lies outside the output")
    values = [f"{v:g}" for v in window.ravel()]
    return (f"max({', '.join(values)}) = {window.max():g}",
            f"({' + '.join(values)}) / {k * k} = {window.mean():.2f}")


# Hand-made 3x3 kernels of classical image processing (chapter 2).
KERNELS = {
    "Sobel x (vertical edges)": np.array(
        [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "Sobel y (horizontal edges)": np.array(
        [[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
}


EXAMPLE_SIDE = 12   # the largest input the convolution explorer offers


def example_input(n: int = 5) -> np.ndarray:
    """The chapter's worked-example input: an L-shaped stroke of 4s with a
    faint 1 at its sides on a background of 0s, the top-left n x n corner
    of one fixed 12 x 12 grid (so every size shows the same numbers, and an
    edge kernel has edges to find at every size)."""
    if not 1 <= n <= EXAMPLE_SIDE:
        raise ValueError(
            f"example_input: n must be 1..{EXAMPLE_SIDE}, got {n}")
    grid = np.zeros((EXAMPLE_SIDE,) * 2)
    grid[1:10, [1, 4]] = 1           # faint sides of the vertical stroke
    grid[1:10, 2:4] = 4              # the vertical stroke
    grid[8:10, 2:10] = 4             # the horizontal stroke
    return grid[:n, :n]


def example_kernel(k: int = 3) -> np.ndarray:
    """A k x k bright-left, dark-right kernel: +1 columns left of the
    centre, -1 right of it, 0 in the centre column (k = 3: rows of
    [1, 0, -1]); k = 1 is the identity [[1]]."""
    if k < 1:
        raise ValueError(f"example_kernel: k must be >= 1, got {k}")
    if k == 1:
        return np.ones((1, 1))
    row = np.sign((k - 1) / 2 - np.arange(k))
    return np.tile(row, (k, 1)).astype(float)


def opponent_kernel(plus: int = 0, minus: int = 1) -> np.ndarray:
    """A [1, 3, 1, 1] kernel computing channel ``plus`` minus channel
    ``minus`` at every pixel: red-green opponency for (0, 1)."""
    w = np.zeros((1, 3, 1, 1))
    w[0, plus], w[0, minus] = 1.0, -1.0
    return w


def torch_output_size(n: int, k: int, pad: int = 0, stride: int = 1,
                      dilation: int = 1) -> int:
    """The output side PyTorch's ``conv2d`` really produces, for checking
    :func:`output_size` against the real thing."""
    return torch_output_shape(n, k, pad, stride, dilation)[-1]


def torch_output_shape(
    size: int | tuple[int, int], k: int | tuple[int, int],
    pad: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """(H_out, W_out) of a real ``nn.Conv2d`` with these settings on one
    image: :func:`output_shape` checked against the real thing."""
    import torch

    layer = torch.nn.Conv2d(1, 1, k, stride=stride, padding=pad,
                            dilation=dilation, bias=False)
    with torch.no_grad():
        return tuple(layer(torch.zeros(1, 1, *_pair(size, "input size")))
                     .shape[-2:])


def as_linear(layer: nn.Conv2d) -> nn.Linear:
    """The ``nn.Linear`` that a 1 x 1 ``nn.Conv2d`` applies at every pixel:
    the same weights, reshaped [C_out, C_in, 1, 1] -> [C_out, C_in]."""
    import torch

    if layer.kernel_size != (1, 1) or layer.groups != 1:
        raise ValueError(f"as_linear needs a 1 x 1 convolution without "
                         f"groups, got {layer}")
    linear = torch.nn.Linear(layer.in_channels, layer.out_channels,
                             bias=layer.bias is not None)
    with torch.no_grad():
        linear.weight.copy_(layer.weight[:, :, 0, 0])
        if layer.bias is not None:
            linear.bias.copy_(layer.bias)
    return linear


def per_pixel(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``linear`` applied to the channel vector of every pixel of ``x``
    [N, C, H, W]: move channels last, apply, move them back."""
    return linear(x.movedim(1, -1)).movedim(-1, 1)


def equivariance_error(
    x: np.ndarray, w: np.ndarray, dy: int, dx: int
) -> float:
    """Largest |conv(shift(x)) - shift(conv(x))| away from the border.

    Zero (up to rounding) says convolution is translation equivariant: a
    shifted input gives the same output, shifted.
    """
    x = np.asarray(x, dtype=float)
    _check_images(x)
    shifted = np.roll(x, (dy, dx), axis=(2, 3))
    a = np.roll(conv2d(x, w, padding=w.shape[-1] // 2), (dy, dx), axis=(2, 3))
    b = conv2d(shifted, w, padding=w.shape[-1] // 2)
    m = w.shape[-1] // 2 + max(abs(dy), abs(dx))  # rows the border touches
    return float(np.abs(a - b)[..., m:-m or None, m:-m or None].max())


def strided_equivariance_error(
    x: np.ndarray, w: np.ndarray, dy: int, dx: int, stride: int
) -> float:
    """How far a stride-``stride`` convolution (padding k // 2) is from
    equivariance under a shift by (dy, dx): the largest interior
    |conv(shift(x)) - shift'(conv(x))|, smallest over the output shifts
    shift' nearest to (dy / stride, dx / stride). Zero when dy and dx are
    multiples of the stride; otherwise no shift of the output reproduces
    the shifted input's output, and it is not zero.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    x = np.asarray(x, dtype=float)
    _check_images(x)
    k = w.shape[-1]
    a = conv2d(x, w, stride=stride, padding=k // 2)
    b = conv2d(np.roll(x, (dy, dx), axis=(2, 3)), w, stride=stride,
               padding=k // 2)
    m = -(-(k + max(abs(dy), abs(dx))) // stride) + 1  # outputs the border
    if a.shape[-1] <= 2 * m or a.shape[-2] <= 2 * m:  # or the wrap touches
        raise ValueError(f"a {x.shape[-2]}x{x.shape[-1]} image leaves no "
                         f"interior for stride {stride} and shift "
                         f"({dy}, {dx}); use a larger one")

    def error(oy: int, ox: int) -> float:
        moved = np.roll(a, (oy, ox), axis=(2, 3))
        return float(np.abs(moved - b)[..., m:-m, m:-m].max())

    return min(error(oy, ox)
               for oy in {dy // stride, -(-dy // stride)}
               for ox in {dx // stride, -(-dx // stride)})
