"""The cached CIFAR-10 artefacts: what they are, writing their manifest,
and reading them back for the book with every file's sha256 checked."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

# Where the book keeps the cache, relative to the repository root, and as
# the pages see it (they execute inside book/).
CACHE_DIR = Path("book/_static/cifar")
PAGE_CACHE_DIR = CACHE_DIR.relative_to("book")
# Seed 0's weights of every ladder rung (rungs that share a training share
# one file) and of the transfer backbone, as weights/<slug>.pt, float16
# (half the size; accuracy checked by the tests).
WEIGHTS_DIR = "weights"


def weights_file(slug: str) -> str:
    """Path, inside the cache, of the float16 weights of run ``slug``."""
    return f"{WEIGHTS_DIR}/{slug}.pt"


ARTEFACTS = {
    "samples": "samples.png",
    "predictions": "predictions.png",
    "maps_conv1": "feature_maps_conv1.png",
    "maps_conv2": "feature_maps_conv2.png",
    "patches_conv1": "top_patches_conv1.png",
    "patches_conv2": "top_patches_conv2.png",
    "cnn": weights_file("cnn"),    # the tutorial CNN, opened up by ch. 3
    "metrics": "metrics.json",
    "test_sample": "test_sample.pt",
    "features_conv2": "features_conv2.png",
    "features_classes": "features_classes.png",
}
# Files of older caches under their new names (see adopt_legacy_names).
LEGACY_NAMES = {"cnn_cifar10.pt": ARTEFACTS["cnn"]}


def round_to_stored(model):
    """Round ``model``'s floating tensors to float16 in place, as
    :func:`save_weights` stores them: the pages and the browser explorer
    run exactly the model that was measured. Returns ``model``."""
    import torch

    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return model


def save_weights(model, path: Path) -> None:
    """Save ``model``'s state_dict with floating tensors as float16."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v
                for k, v in model.state_dict().items()}, path)


def artefact_files(folder: Path) -> list[str]:
    """Every artefact the manifest lists: the fixed ones and the weights."""
    weights = sorted(str(p.relative_to(folder))
                     for p in (folder / WEIGHTS_DIR).glob("*.pt"))
    return list(dict.fromkeys([*ARTEFACTS.values(), *weights]))


def adopt_legacy_names(folder: Path) -> list[str]:
    """Move the files of an older cache in ``folder`` to their current
    names (:data:`LEGACY_NAMES`); returns what was moved, as "old -> new".
    The manifest must be rewritten afterwards."""
    moved = []
    for old, new in LEGACY_NAMES.items():
        if (folder / old).is_file() and not (folder / new).exists():
            (folder / new).parent.mkdir(parents=True, exist_ok=True)
            (folder / old).rename(folder / new)
            moved.append(f"{old} -> {new}")
    return moved
MANIFEST = "manifest.json"
# What the tutorial reports for CIFAR-10, always shown labelled as
# reported, beside the measured numbers.
REPORTED = {     # by run slug
    "mlp": {"test_acc": 0.52, "params": 1_700_000},
    "cnn": {"test_acc": 0.70, "params": 300_000},
}


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(out_dir: Path, command: str,
                   dataset: dict[str, str]) -> Path:
    """Record the sha256 of every artefact, of the dataset (``dataset``:
    name -> sha256) and the command that produced them, in
    ``out_dir/manifest.json``."""
    out_dir = Path(out_dir)
    manifest = {
        "command": command,
        "artefacts": {name: sha256(out_dir / name)
                      for name in artefact_files(out_dir)},
        "dataset": dataset,
    }
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


@dataclass
class CifarCache:
    """The cache as the book sees it: usable, or the reasons it is not."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    command: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def path(self, key: str) -> Path:
        """Path of the artefact ``key`` (one of :data:`ARTEFACTS`)."""
        return self.folder / ARTEFACTS[key]


def open_cache(folder: str | Path = PAGE_CACHE_DIR) -> CifarCache:
    """Check ``folder`` against its manifest and load the metrics.

    Never raises for a missing or altered cache: the problems are listed
    so the page can say exactly what is wrong.
    """
    cache = CifarCache(Path(folder))
    manifest_path = cache.folder / MANIFEST
    if not manifest_path.is_file():
        cache.problems.append(
            f"no {MANIFEST} in {cache.folder}: the CIFAR-10 artefacts have "
            "not been generated yet")
        return cache
    manifest = json.loads(manifest_path.read_text())
    cache.command = manifest.get("command", "")
    listed = manifest.get("artefacts", {})
    for name in sorted({*ARTEFACTS.values(), *listed}):
        expected = listed.get(name)
        path = cache.folder / name
        if not path.is_file():
            cache.problems.append(f"{name} is missing")
        elif expected is None:
            cache.problems.append(f"{name} is not listed in the manifest")
        elif sha256(path) != expected:
            cache.problems.append(
                f"{name} was altered after it was generated (sha256 differs "
                "from the manifest)")
    if cache.ok:
        cache.metrics = json.loads(cache.path("metrics").read_text())
    return cache


def load_model(cache: CifarCache, run: str, seed: int = 0):
    """The trained model of ``run`` (a slug or name of :data:`runs.RUNS`,
    or ``"transfer"`` for the transfer backbone) from the cache, in eval
    mode. "cnn" is the tutorial's 2-block CNN, the model chapter 4 opens
    up."""
    import torch

    from .runs import RUNS, TRANSFER, weights_slug

    if not cache.ok:
        raise FileNotFoundError(
            "the CIFAR-10 cache is not usable: " + "; ".join(cache.problems))
    spec = next((r for r in RUNS.values() if run in (r.slug, r.name)), None)
    if run == "transfer":
        model = TRANSFER.pretraining.build(0)
        model.head[-1] = torch.nn.Linear(model.head[-1].in_features,
                                         len(TRANSFER.source))
        path = cache.folder / weights_file("transfer")
    elif spec is None:
        raise KeyError(f"no run {run!r}; the runs are "
                       f"{[r.slug for r in RUNS.values()]}")
    else:
        model = spec.training.build(0)
        path = cache.folder / weights_file(weights_slug(spec))
    if seed != 0 or not path.is_file():
        raise FileNotFoundError(
            f"the cache holds no weights for {run!r}, seed {seed}: only "
            "seed 0 of the CNN, the ladder rungs and the transfer backbone "
            "are committed")
    return read_weights(model, path)


def read_weights(model, path: Path):
    """``model`` with the float16 weights saved at ``path`` (as float32),
    in eval mode."""
    import torch

    state = torch.load(path, weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in state.items()})
    return model.eval()


def load_test_sample(cache: CifarCache):
    """The cached test images (the first ones of each class), standardised
    as the models saw them: a ``data.Split``, plus their indices in the
    test set."""
    from ..data import Split

    saved = load_test_sample_raw(cache)
    return (normalization(cache).apply(Split(saved["x"], saved["y"])),
            saved["index"])


def load_test_sample_raw(cache: CifarCache) -> dict:
    """The cached test images as stored: ``x`` (uint8 [N, 3, 32, 32]),
    ``y`` (labels) and ``index`` (their positions in the test set)."""
    import torch

    if not cache.ok:
        raise FileNotFoundError(
            "the CIFAR-10 cache is not usable: " + "; ".join(cache.problems))
    return torch.load(cache.path("test_sample"), weights_only=True)


def normalization(cache: CifarCache):
    """The standardisation the cached models were trained with (a
    ``data.Normalization``)."""
    from ..data import Normalization

    return Normalization(**{k: tuple(v) for k, v in
                            cache.metrics["data"]["normalization"].items()})


def load_cnn(cache: CifarCache):
    """The tutorial's trained CIFAR-10 CNN, exactly as the cached figures
    came from it, in eval mode."""
    return load_model(cache, "cnn")
