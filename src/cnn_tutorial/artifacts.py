"""The cached CIFAR-10 artefacts: what they are, writing their manifest,
and reading them back for the book with every file's sha256 checked."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

ARTEFACTS = {
    "samples": "samples.png",
    "curves": "learning_curves.png",
    "confusion": "confusion_cnn.png",
    "filters": "conv1_filters.png",
    "feature_maps": "feature_maps.png",
    "predictions": "predictions.png",
    "metrics": "metrics.json",
}
MANIFEST = "manifest.json"

# What the tutorial reports for CIFAR-10. Shown only, and labelled as
# reported, when the measured cache is absent.
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
                   dataset_files: list[Path]) -> Path:
    """Record the sha256 of every artefact and dataset file, and the
    command that produced them, in ``out_dir/manifest.json``."""
    out_dir = Path(out_dir)
    manifest = {
        "command": command,
        "artefacts": {name: sha256(out_dir / name)
                      for name in ARTEFACTS.values()},
        "dataset": {p.name: sha256(p) for p in sorted(dataset_files)},
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


def open_cache(folder: str | Path) -> CifarCache:
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


def verdict(cache: CifarCache) -> tuple[str, list[tuple[str, int, float]]]:
    """(source label, rows of (model, parameters, test accuracy)).

    Measured numbers from a verified cache; otherwise the tutorial's
    reported figures, with a label saying so.
    """
    if cache.ok:
        models = cache.metrics["models"]
        rows = [(name, m["params"], m["test_acc"][-1])
                for name, m in models.items()]
        return "measured (cached CIFAR-10 run)", rows
    rows = [(name, r["params"], r["test_acc"]) for name, r in
            REPORTED.items()]
    return "reported by the tutorial (not measured here)", rows


def cache_report(cache: CifarCache):
    """A Markdown admonition saying whether the page shows measured results
    (and from which command) or the tutorial's reported figures."""
    from IPython.display import Markdown

    if cache.ok:
        m = cache.metrics
        return Markdown(
            ":::{note}\nMeasured CIFAR-10 results, read from the cache and "
            f"verified against its manifest: {m['epochs']} epochs on "
            f"{m['device']}, seed {m['seed']}, torch {m['torch']}, made by "
            f"`{cache.command}`.\n:::")
    problems = "\n".join(f"- {p}" for p in cache.problems)
    return Markdown(
        ":::{warning}\nThe cached CIFAR-10 results are not available, so "
        "this page shows **the figures the tutorial reports, not numbers "
        f"measured here**.\n\n{problems}\n\nTo produce them, run "
        "`python -m cnn_tutorial.cifar --download` (see the README, "
        "\"Regenerating the CIFAR-10 figures\") and rebuild the book.\n:::")


def show(cache: CifarCache, key: str):
    """The cached figure ``key`` as an image, or a line saying it is not
    there (never a stand-in figure)."""
    from IPython.display import Image, Markdown

    if cache.ok:
        return Image(filename=str(cache.path(key)))
    return Markdown(f"*`{ARTEFACTS[key]}` is not available in this build: "
                    "the CIFAR-10 cache is absent (see the warning above).*")
