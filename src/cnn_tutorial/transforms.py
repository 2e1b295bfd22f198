"""Image manipulations the experiments use: pixel permutation, shifts and
training-time augmentation (chapters 1 and 3)."""
from __future__ import annotations

from collections.abc import Callable

import torch

# an augmentation maps a batch of images (and, optionally, their indices in
# the training split) to an augmented batch
Augment = Callable[..., torch.Tensor]


def _check_batch(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"expected a batch of images [N, C, H, W], got {tuple(x.shape)}"
        )


def pixel_permutation(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """One fixed random ordering of the ``height * width`` pixel positions."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(height * width, generator=generator)


def permute_pixels(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Scramble every image's pixels with the same permutation ``perm``.

    Channels stay aligned: pixel (i, j) moves to the same place in each.
    """
    _check_batch(x)
    n, c, h, w = x.shape
    if sorted(perm.tolist()) != list(range(h * w)):
        raise ValueError(
            f"perm must be a permutation of {h * w} pixel positions"
        )
    return x.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)


def shift_images(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate images by (dy, dx) pixels (down, right), filling with 0."""
    _check_batch(x)
    h, w = x.shape[2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(
            f"shift ({dy}, {dx}) moves the whole {h}x{w} image out of view"
        )
    out = torch.zeros_like(x)
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[:, :, dst_r, dst_c] = x[:, :, src_r, src_c]
    return out


def shifts_of(distance: int) -> list[tuple[int, int]]:
    """The four axis-aligned shifts (dy, dx) of ``distance`` pixels."""
    if distance == 0:
        return [(0, 0)]
    return [(distance, 0), (-distance, 0), (0, distance), (0, -distance)]


def augmentation(
    max_shift: float = 0.25, degrees: float = 10.0, seed: int = 0,
    group: int = 4,
) -> Augment:
    """A ``torchvision.transforms.v2`` random shift + rotation for batches.

    ``max_shift`` is a fraction of the image side (0.25 of 8 px = 2 px).
    A v2 transform draws one random transform per call, so the batch is
    split into groups of ``group`` images, each with its own draw (batches
    are shuffled, so groups change every epoch). ``group=1`` gives every
    image its own draw. The draws are the transform's own; the groups are
    then transformed together (:func:`affine_in_groups`), which gives
    exactly the images one call per group gives, four to six times faster.
    """
    from torchvision.transforms import v2

    if group < 1:
        raise ValueError(f"group must be >= 1, got {group}")
    transform = v2.RandomAffine(
        degrees=degrees, translate=(max_shift, max_shift)
    )
    generator = torch.Generator().manual_seed(seed)

    def augment(x: torch.Tensor, indices: torch.Tensor | None = None
                ) -> torch.Tensor:
        _check_batch(x)
        # v2 transforms draw from torch's global RNG: fork it so training
        # stays reproducible and independent of the augmentation draws.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(
                2**31, (1,), generator=generator)))
            draws = [transform.make_params([chunk])
                     for chunk in x.split(group)]
        return affine_in_groups(x, draws, group)

    return augment


def affine_in_groups(x: torch.Tensor, draws: list[dict],
                     group: int) -> torch.Tensor:
    """Each group of ``group`` images of ``x`` moved by its draw of
    ``v2.RandomAffine`` (its ``make_params``), with nearest-neighbour
    sampling and zeros outside, as ``v2.functional.affine`` does it for one
    group: torchvision's inverse matrix and grid sampling, and its
    sampling-grid arithmetic (``_affine_grid``, which takes one matrix)
    done for every group's matrix at once -- the same floats. ``x`` is a
    float batch, as the training splits are."""
    from torchvision.transforms.v2.functional._geometry import (
        _apply_grid_transform,
        _get_inverse_affine_matrix,
    )

    if not x.is_floating_point():
        raise ValueError(f"expected float images, got {x.dtype}")
    n, _, h, w = x.shape
    like = {"dtype": x.dtype, "device": x.device}
    theta = torch.tensor([
        _get_inverse_affine_matrix([0.0, 0.0], d["angle"],
                                   [float(t) for t in d["translate"]],
                                   d["scale"], list(d["shear"]))
        for d in draws], **like).reshape(-1, 2, 3)
    base = torch.empty(1, h, w, 3, **like)           # pixel centres, 1
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, w,
                                      device=x.device))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, h,
                                      device=x.device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div_(torch.tensor([0.5 * w, 0.5 * h],
                                                     **like))
    grids = (base.view(1, h * w, 3).expand(len(draws), -1, -1).bmm(scaled)
             .view(-1, h, w, 2).repeat_interleave(group, dim=0)[:n])
    return _apply_grid_transform(x, grids, "nearest", fill=0)


def crop_flip(padding: int = 4, seed: int = 0, mode: str = "constant",
              alternate: bool = False) -> Augment:
    """CIFAR-10's standard augmentation, drawn per image: pad by
    ``padding`` zeros (the mean colour of standardised images), crop back to
    the original size at a random offset, and flip left-right with
    probability 1/2 -- ``v2.RandomCrop(size, padding)`` followed by
    ``v2.RandomHorizontalFlip()``, done for the whole batch at once by
    indexing (a per-image torchvision call costs ~13 s per CIFAR-10 epoch).
    ``mode="reflect"`` pads by mirroring the edge instead (airbench's
    translation). ``alternate=True`` flips as airbench does: each image is
    flipped at random the first time it is seen, and mirrored from then on
    every other time, so every epoch shows the other half; it needs each
    image's index in the training split (``augment(x, indices)``).
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if mode not in ("constant", "reflect"):
        raise ValueError(f"mode must be 'constant' or 'reflect', got {mode!r}")
    generator = torch.Generator().manual_seed(seed)
    first_flip = torch.zeros(0, dtype=torch.bool)   # per image index
    times_seen = torch.zeros(0, dtype=torch.long)

    def alternating_flip(indices: torch.Tensor | None, n: int) -> torch.Tensor:
        nonlocal first_flip, times_seen
        if indices is None or len(indices) != n:
            raise ValueError("alternating flips need the index of each of "
                             f"the {n} images in the batch, got "
                             f"{None if indices is None else len(indices)}")
        new = int(indices.max()) + 1 - len(times_seen)
        if new > 0:
            first_flip = torch.cat(
                [first_flip, torch.rand(new, generator=generator) < 0.5])
            times_seen = torch.cat(
                [times_seen, torch.zeros(new, dtype=torch.long)])
        flip = first_flip[indices] ^ (times_seen[indices] % 2 == 1)
        times_seen[indices] += 1
        return flip

    def augment(x: torch.Tensor, indices: torch.Tensor | None = None
                ) -> torch.Tensor:
        _check_batch(x)
        n, c, h, w = x.shape
        padded = torch.nn.functional.pad(x, (padding,) * 4, mode=mode)
        top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        flip = (alternating_flip(indices, n) if alternate else
                torch.rand(n, generator=generator) < 0.5)
        rows = top[:, None] + torch.arange(h)
        cols = left[:, None] + torch.arange(w)
        cols = torch.where(flip[:, None], cols.flip(1), cols)
        return padded[torch.arange(n)[:, None, None, None],
                      torch.arange(c)[None, :, None, None],
                      rows[:, None, :, None], cols[:, None, None, :]]

    return augment
