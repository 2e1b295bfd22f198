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
ARTEFACTS = {
    "samples": "samples.png",
    "predictions": "predictions.png",
    "maps_conv1": "feature_maps_conv1.png",
    "maps_conv2": "feature_maps_conv2.png",
    "patches_conv1": "top_patches_conv1.png",
    "patches_conv2": "top_patches_conv2.png",
    "cnn": "cnn_cifar10.pt",
    "metrics": "metrics.json",
}
MANIFEST = "manifest.json"
# The runs of the cached CIFAR-10 experiment (``cifar.RUNS``), by the short
# names the pages glue their numbers under, and the groups the pages show.
RUN_SLUGS = {
    "MLP": "mlp",
    "CNN": "cnn",
    "MLP, permuted pixels": "mlp_perm",
    "CNN, permuted pixels": "cnn_perm",
    "CNN + BatchNorm": "cnn_bn",
    "CNN + augmentation": "cnn_aug",
    "CNN + BatchNorm + augmentation": "cnn_bn_aug",
}
VERDICT_RUNS = ("MLP", "CNN")
PERMUTED_RUNS = {"MLP": "MLP, permuted pixels",
                 "CNN": "CNN, permuted pixels"}
REAL_WORLD_RUNS = ("CNN", "CNN + BatchNorm", "CNN + augmentation",
                   "CNN + BatchNorm + augmentation")

# What the tutorial reports for CIFAR-10, always shown labelled as
# reported, beside the measured numbers.
REPORTED = {
    "MLP": {"test_acc": 0.52, "params": 1_700_000},
    "CNN": {"test_acc": 0.70, "params": 300_000},
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
                      for name in ARTEFACTS.values()},
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
    for name in ARTEFACTS.values():
        expected = manifest.get("artefacts", {}).get(name)
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


@dataclass(frozen=True)
class VerdictRow:
    """One model of the CIFAR-10 verdict: what the tutorial reports beside
    what the cached run measured (``None`` when there is no cache)."""

    name: str
    reported_params: int
    reported_acc: float
    params: int | None
    test_acc: float | None


def verdict(cache: CifarCache) -> list[VerdictRow]:
    """The tutorial's reported MLP and CNN figures, each beside the
    measured ones from a verified cache."""
    runs = cache.metrics.get("runs", {}) if cache.ok else {}
    return [VerdictRow(name, r["params"], r["test_acc"],
                       runs.get(name, {}).get("params"),
                       runs.get(name, {}).get("test_acc"))
            for name, r in REPORTED.items()]


def load_cnn(cache: CifarCache):
    """The trained CIFAR-10 CNN exactly as the cached figures came from it
    (``models.cifar_cnn`` with the cached ``state_dict``), in eval mode."""
    import torch

    from .models import cifar_cnn

    if not cache.ok:
        raise FileNotFoundError(
            "the CIFAR-10 cache is not usable: " + "; ".join(cache.problems))
    model = cifar_cnn()
    model.load_state_dict(torch.load(cache.path("cnn"), weights_only=True))
    return model.eval()
