"""The CIFAR-10 splits every run trains and is judged on: a stratified
validation split held out of the training images, per-channel
standardisation from the images used for fitting, and the permuted and
five-class variants."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import torch

from ..data import (
    CIFARDataError,
    CifarSource,
    Dataset,
    Normalization,
    Split,
    hold_out,
)
from ..transforms import permute_pixels, pixel_permutation
from .cache import sha256

# The hold-out split and the pixel permutation are part of the protocol:
# fixed, whatever seed a run trains with.
PROTOCOL_SEED = 0


def dataset_digest(source: CifarSource) -> dict[str, str]:
    """sha256 of the files that identify the data: the archive or the
    pickles, or for an unpacked tree one digest over every path and file."""
    if source.files:
        return {p.name: sha256(p) for p in source.files}
    digest = hashlib.sha256()
    for file in sorted(source.path.glob("*/*/*")):
        digest.update(str(file.relative_to(source.path)).encode())
        digest.update(sha256(file).encode())
    return {f"{source.path.name}/ (every path and file)": digest.hexdigest()}


@dataclass
class Prepared:
    """The standardised splits every run trains and is judged on."""

    fit: Split
    val: Split
    test: Split
    norm: Normalization
    classes: tuple[str, ...]


def prepare(images: Dataset, val_fraction: float) -> Prepared:
    """Hold out a stratified validation split, then standardise all splits
    with the per-channel statistics of the images used for fitting."""
    n_val = round(val_fraction * len(images.train))
    n_classes = len(images.classes)
    if n_val < n_classes or len(images.train) - n_val < n_classes:
        raise CIFARDataError(
            f"{len(images.train)} training images are too few to hold out "
            f"a stratified validation split of {n_val} over {n_classes} "
            "classes")
    fit_raw, val_raw = hold_out(images.train, n_val, PROTOCOL_SEED)
    norm = Normalization.of(fit_raw.x)
    return Prepared(norm.apply(fit_raw), norm.apply(val_raw),
                    norm.apply(images.test), norm, images.classes)


def permuted(data: Prepared) -> Prepared:
    """``data`` with one fixed pixel permutation applied to every split."""
    perm = pixel_permutation(*data.fit.x.shape[2:], PROTOCOL_SEED)
    fit_, val, test = (Split(permute_pixels(s.x, perm), s.y)
                       for s in (data.fit, data.val, data.test))
    return replace(data, fit=fit_, val=val, test=test)


def classes_subset(split: Split, classes: list[int]) -> Split:
    """The images of ``classes`` only, relabelled 0, 1, ... in that order."""
    keep = torch.isin(split.y, torch.tensor(classes))
    relabel = torch.full((int(split.y.max()) + 1,), -1, dtype=torch.int64)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    return Split(split.x[keep], relabel[split.y[keep]])


def per_class_sample(split: Split, n: int, seed: int) -> Split:
    """``n`` images of every class of ``split``, drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for c in split.y.unique():
        members = (split.y == c).nonzero().flatten()
        if len(members) < n:
            raise ValueError(f"class {int(c)} has {len(members)} images, "
                             f"fewer than the {n} asked for")
        picked.append(members[torch.randperm(len(members),
                                             generator=generator)[:n]])
    idx = torch.cat(picked).sort().values
    return Split(split.x[idx], split.y[idx])
