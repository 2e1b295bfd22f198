"""Datasets as [N, C, H, W] tensors: scikit-learn digits (live) and CIFAR-10.

The digits are what every live cell of the book trains on; CIFAR-10 is only
read by :mod:`cnn_tutorial.cifar`, which pre-renders the cached figures. It
comes from either of two sources, decoded once into uint8 tensors:

- the python release, a folder holding ``cifar-10-batches-py/`` (read with
  ``torchvision.datasets.CIFAR10``, which can also download it);
- an image-folder tree ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``,
  either unpacked or still inside its ``.tar.gz`` (read in place), such as
  the JPEG copy in ``../shared/data/cifar10-jpeg.tar.gz``.
"""
from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .cifar.names import (
    CIFAR10_CLASSES,
    CIFAR10_FILES,
    CIFAR10_FOLDER,
    CIFAR10_SPLITS,
    SHARED_ARCHIVE,
)

DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.25



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


def pattern_signal(
    length: int = 200, starts: tuple[int, ...] = (30, 95, 150),
    noise: float = 0.5, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy time series with a short pattern (one period of a sine,
    12 samples) added at ``starts``; returns (signal, pattern).

    For chapter 2's 1-D convolution: the pattern is where a detector with
    shared weights should fire.
    """
    pattern = np.sin(np.linspace(0, 2 * np.pi, 12, endpoint=False))
    if any(not 0 <= s <= length - len(pattern) for s in starts):
        raise ValueError(f"every start must be in "
                         f"[0, {length - len(pattern)}], got {starts}")
    signal = np.random.default_rng(seed).normal(0, noise, length)
    for s in starts:
        signal[s:s + len(pattern)] += 2 * pattern
    return signal, pattern


class CIFARDataMissing(FileNotFoundError):
    """CIFAR-10 is not on disk; the message says how to get it."""


class CIFARDataError(ValueError):
    """CIFAR-10 data that is there but wrong; the message says what."""


def cifar10_missing_message(path: str | Path) -> str:
    """What to tell a user whose ``path`` holds no CIFAR-10."""
    where = Path(path).resolve()
    return (
        f"CIFAR-10 was not found at {where}\n"
        "Expected either\n"
        f"  - a folder holding {CIFAR10_FOLDER}/ (the python release: "
        f"{', '.join(CIFAR10_FILES)}), or\n"
        "  - an image-folder tree train/<class>/*.jpg and test/<class>/*.jpg"
        " with the ten CIFAR-10 classes, unpacked or as a .tar.gz.\n"
        "Get it with either of:\n"
        "  python -m cnn_tutorial.cifar --images "
        f"{SHARED_ARCHIVE}   (the JPEG copy on the build machines)\n"
        "  python -m cnn_tutorial.cifar --data-dir data --download   "
        "(the python release, about 170 MB, needs network)"
    )


@dataclass(frozen=True)
class CifarSource:
    """Where CIFAR-10 was read from: ``kind`` is ``python-release``,
    ``image-archive`` or ``image-folder``; ``files`` are the files whose
    sha256 identifies the data (the archive itself, or the pickles)."""

    kind: str
    path: Path
    files: tuple[Path, ...]


def find_cifar10(path: str | Path) -> CifarSource:
    """Which CIFAR-10 source ``path`` is: a folder holding
    ``cifar-10-batches-py/``, a ``.tar.gz`` of an image-folder tree, or the
    unpacked tree itself (``train/`` and ``test/``, possibly one folder
    down). Raises :class:`CIFARDataMissing` if it is none of them."""
    path = Path(path)
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        return CifarSource("image-archive", path, (path,))
    if path.is_dir():
        pickles = tuple(path / CIFAR10_FOLDER / f for f in CIFAR10_FILES)
        if all(f.is_file() for f in pickles):
            return CifarSource("python-release", path, pickles)
        for root in (path, *sorted(p for p in path.iterdir() if p.is_dir())):
            if all((root / split).is_dir() for split in CIFAR10_SPLITS):
                return CifarSource("image-folder", root, ())
    raise CIFARDataMissing(cifar10_missing_message(path))


def _image_entries(source: CifarSource, splits: tuple[str, ...]
                   ) -> Iterator[tuple[str, str, str, bytes]]:
    """(split, class, name, encoded bytes) of every image file of
    ``splits``."""
    if source.kind == "image-folder":
        for split in splits:
            for file in sorted((source.path / split).glob("*/*")):
                if file.is_file():
                    yield split, file.parent.name, str(file), \
                        file.read_bytes()
        return
    try:
        with tarfile.open(source.path, "r:*") as archive:
            for member in archive:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) < 3 \
                        or parts[-3] not in splits:
                    continue
                data = archive.extractfile(member).read()
                yield (parts[-3], parts[-2], f"{source.path}:{member.name}",
                       data)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise CIFARDataError(
            f"{source.path} is not a readable .tar.gz archive "
            f"({type(err).__name__}: {err or 'empty'})") from None


def _decode(name: str, encoded: bytes) -> torch.Tensor:
    """One 32x32 RGB image file as uint8 [3, 32, 32]; the error names it."""
    from torchvision.io import ImageReadMode, decode_image

    try:
        image = decode_image(torch.frombuffer(bytearray(encoded),
                                              dtype=torch.uint8),
                             mode=ImageReadMode.UNCHANGED)
    except RuntimeError as err:
        raise CIFARDataError(f"{name} is not a readable image ({err})"
                             ) from None
    if tuple(image.shape) != (3, 32, 32):
        raise CIFARDataError(
            f"{name} is not a 32x32 RGB image: it decodes to [C, H, W] = "
            f"{list(image.shape)}")
    return image


def _read_image_tree(source: CifarSource, progress: bool,
                     splits: tuple[str, ...]) -> dict[str, Split]:
    """Decode every image of ``splits`` of an image-folder tree (or its
    archive)."""
    from tqdm.auto import tqdm

    images: dict[str, list[torch.Tensor]] = {s: [] for s in splits}
    labels: dict[str, list[int]] = {s: [] for s in splits}
    folders: dict[str, set[str]] = {s: set() for s in splits}
    if source.kind == "image-folder":
        for split in splits:
            folders[split] = {p.name for p in (source.path / split).iterdir()
                              if p.is_dir()}
    entries = tqdm(_image_entries(source, splits), desc="decoding CIFAR-10",
                   unit=" images", disable=not progress)
    for split, cls, name, encoded in entries:
        folders[split].add(cls)
        if cls not in CIFAR10_CLASSES:
            _check_classes(split, folders[split], source)
        images[split].append(_decode(name, encoded))
        labels[split].append(CIFAR10_CLASSES.index(cls))
    decoded = {}
    for split in splits:
        _check_classes(split, folders[split], source)
        if not images[split]:
            raise CIFARDataError(f"the {split} split of {source.path} has no "
                                 "images")
        decoded[split] = Split(torch.stack(images[split]),
                               torch.tensor(labels[split], dtype=torch.int64))
    return decoded


def _check_classes(split: str, found: set[str], source: CifarSource) -> None:
    if not found:
        raise CIFARDataError(
            f"{source.path} has no {split}/ folder of class folders "
            f"(expected {split}/<class>/*.jpg for each of "
            f"{', '.join(CIFAR10_CLASSES)})")
    if found != set(CIFAR10_CLASSES):
        unexpected = sorted(found - set(CIFAR10_CLASSES))
        missing = sorted(set(CIFAR10_CLASSES) - found)
        raise CIFARDataError(
            f"the {split} split of {source.path} does not have CIFAR-10's "
            f"class folders: unexpected {unexpected}, missing {missing} "
            f"(expected {', '.join(CIFAR10_CLASSES)})")


def _check_every_class(data: Dataset, splits: tuple[str, ...]) -> None:
    """Stop before training if a split lacks a class (figures and
    per-class accuracies need every class in both splits)."""
    for split_name in splits:
        split = getattr(data, split_name)
        counts = torch.bincount(split.y, minlength=len(data.classes))
        absent = [data.classes[c] for c in range(len(counts))
                  if counts[c] == 0]
        if absent:
            raise CIFARDataError(
                f"the {split_name} split has no images of class "
                f"{', '.join(absent)}: every class needs at least one "
                "image in both splits")


def cifar10_images(
    path: str | Path, download: bool = False, progress: bool = False,
    splits: tuple[str, ...] = CIFAR10_SPLITS,
) -> tuple[Dataset, CifarSource]:
    """CIFAR-10 as uint8 images [N, 3, 32, 32] with labels, from either
    source (see the module docstring), and where it came from. Only the
    ``splits`` asked for are decoded (the others are left empty).

    Raises :class:`CIFARDataMissing` (saying how to get the data) if
    ``path`` holds none, and :class:`CIFARDataError` naming the problem
    (and the file) for wrong class folders, an empty split, a split without
    some class, an unreadable image or one that is not 32x32 RGB.
    """
    path = Path(path)
    if download:
        from torchvision.datasets import CIFAR10

        for train in (True, False):
            CIFAR10(str(path), train=train, download=True)
    source = find_cifar10(path)
    if source.kind == "python-release":
        from torchvision.datasets import CIFAR10

        decoded = {}
        for split in splits:
            ds = CIFAR10(str(path), train=split == "train")
            decoded[split] = Split(
                torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
                torch.tensor(ds.targets, dtype=torch.int64))
    else:
        decoded = _read_image_tree(source, progress, splits)
    empty = Split(torch.empty(0, 3, 32, 32, dtype=torch.uint8),
                  torch.empty(0, dtype=torch.int64))
    images = Dataset(decoded.get("train", empty), decoded.get("test", empty),
                     CIFAR10_CLASSES)
    _check_every_class(images, splits)
    return images, source


def cifar10_test_images(path: str | Path) -> Split:
    """CIFAR-10's test split alone, as :func:`cifar10_images` reads it (for
    evaluating trained models without decoding the training images)."""
    return cifar10_images(path, splits=("test",))[0].test


def hold_out(split: Split, n_val: int, seed: int = 0) -> tuple[Split, Split]:
    """(fit, validation): ``n_val`` images of ``split``, stratified by class
    and fixed by ``seed``, held out for choosing the training schedule."""
    if not 0 < n_val < len(split):
        raise ValueError(f"n_val must be in (0, {len(split)}), got {n_val}")
    fit_idx, val_idx = train_test_split(
        np.arange(len(split)), test_size=n_val, random_state=seed,
        stratify=split.y.numpy())
    fit_idx, val_idx = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
    return (Split(split.x[fit_idx], split.y[fit_idx]),
            Split(split.x[val_idx], split.y[val_idx]))


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean and standard deviation, on the [0, 1] scale."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def of(cls, x: torch.Tensor) -> Normalization:
        """The statistics of uint8 images ``x`` [N, 3, H, W]."""
        pixels = x.double().div(255).transpose(0, 1).reshape(x.shape[1], -1)
        return cls(tuple(pixels.mean(1).tolist()),
                   tuple(pixels.std(1).tolist()))

    def _stats(self, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1, 1, 1) if dims == 3 else (1, -1, 1, 1)
        return (torch.tensor(self.mean).view(shape),
                torch.tensor(self.std).view(shape))

    def apply(self, split: Split) -> Split:
        """uint8 images to float32, standardised per channel."""
        mean, std = self._stats(4)
        x = (split.x.float() / 255 - mean) / std
        return Split(x.float().contiguous(), split.y)

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised images back to [0, 1], for display."""
        mean, std = self._stats(x.dim())
        return (x * std + mean).clamp(0, 1)
