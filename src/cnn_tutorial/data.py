"""Datasets as [N, C, H, W] tensors: scikit-learn digits (live) and CIFAR-10.

The digits are what every live cell of the book trains on; CIFAR-10 is only
read by :mod:`cnn_tutorial.cifar`, which pre-renders the cached figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.25

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
# Per-channel mean and standard deviation of the CIFAR-10 training set.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = (
    "batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
    "data_batch_4", "data_batch_5", "test_batch",
)


@dataclass(frozen=True)
class Split:
    """Images ``x`` [N, C, H, W] (float32) and integer labels ``y`` [N]."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """A train/test pair of :class:`Split` and the class names."""

    train: Split
    test: Split
    classes: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]


def digits(
    test_fraction: float = DIGITS_TEST_FRACTION, seed: int = DIGITS_SEED
) -> Dataset:
    """The 1 797 scikit-learn 8x8 digits as [N, 1, 8, 8] tensors in [0, 1].

    The split is stratified by class and fixed by ``seed``, so every page and
    test sees the same test digits.
    """
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    return Dataset(
        train=Split(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
        test=Split(torch.from_numpy(x_te), torch.from_numpy(y_te)),
        classes=tuple(str(d) for d in range(10)),
    )


def sample_photo(name: str = "china.jpg", size: int | None = None
                 ) -> torch.Tensor:
    """A colour photo that ships with scikit-learn as [3, H, W] in [0, 1].

    With ``size``, the central square is cropped and resized (antialiased)
    to ``size`` x ``size``; nothing is downloaded.
    """
    from sklearn.datasets import load_sample_image

    x = torch.from_numpy(np.array(load_sample_image(name))).permute(2, 0, 1)
    x = x.float() / 255.0
    if size is None:
        return x
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    _, h, w = x.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = x[None, :, top:top + side, left:left + side]
    return torch.nn.functional.interpolate(
        square, size=(size, size), mode="bilinear", antialias=True,
        align_corners=False)[0].clamp(0, 1)


class CIFARDataMissing(FileNotFoundError):
    """CIFAR-10 is not on disk; the message says how to get it."""


def cifar10_missing_message(data_dir: Path) -> str:
    """What to tell a user whose ``data_dir`` holds no CIFAR-10."""
    folder = Path(data_dir).resolve() / CIFAR10_FOLDER
    return (
        f"CIFAR-10 was not found in {folder}\n"
        f"Expected the python version of the dataset: {CIFAR10_FOLDER}/ "
        f"with {', '.join(CIFAR10_FILES)}.\n"
        "Get it (about 170 MB) with either of:\n"
        f"  python -m cnn_tutorial.cifar --data-dir {data_dir} --download\n"
        "  curl -O https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
        f" && tar -xzf cifar-10-python.tar.gz -C {data_dir}"
    )


def cifar10(
    data_dir: str | Path, download: bool = False, normalize: bool = True
) -> Dataset:
    """CIFAR-10 through ``torchvision.datasets.CIFAR10`` as [N, 3, 32, 32].

    With ``normalize`` the standard per-channel mean/std is applied. Raises
    :class:`CIFARDataMissing` (with download instructions) when the data is
    absent and ``download`` is False.
    """
    from torchvision.datasets import CIFAR10

    data_dir = Path(data_dir)
    if not download and not all(
        (data_dir / CIFAR10_FOLDER / f).is_file() for f in CIFAR10_FILES
    ):
        raise CIFARDataMissing(cifar10_missing_message(data_dir))
    splits = []
    for train in (True, False):
        ds = CIFAR10(str(data_dir), train=train, download=download)
        splits.append(_cifar_split(ds.data, ds.targets, normalize))
    return Dataset(splits[0], splits[1], CIFAR10_CLASSES)


def _cifar_split(
    data: np.ndarray, targets: list[int], normalize: bool
) -> Split:
    """uint8 [N, 32, 32, 3] images to a float [N, 3, 32, 32] :class:`Split`."""
    x = torch.from_numpy(data).permute(0, 3, 1, 2).float() / 255.0
    if normalize:
        mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
        x = (x - mean) / std
    return Split(x.contiguous(), torch.tensor(targets, dtype=torch.int64))


def denormalize_cifar(x: torch.Tensor) -> torch.Tensor:
    """Undo the CIFAR-10 normalisation, back to [0, 1] for display."""
    mean = torch.tensor(CIFAR10_MEAN).view(-1, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(-1, 1, 1)
    if x.dim() == 4:
        mean, std = mean[None], std[None]
    return (x * std + mean).clamp(0, 1)
