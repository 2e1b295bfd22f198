"""The numbers the pages print about CIFAR-10, computed from the cached
``metrics.json`` (formatting is :mod:`cnn_tutorial.display`'s job).

Every run was trained with several seeds; a number on a page is the mean
over them, shown with its range, and a comparison the prose makes must hold
for every seed (:func:`always`). Curves, confusion matrices and figures
come from seed 0, the seed whose weights are cached.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from .cache import REPORTED, CifarCache
from .runs import RUNS, Run, group


@dataclass(frozen=True)
class Spread:
    """Mean, lowest and highest of one number over the seeds."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(mean(values), min(values), max(values), len(values))


def seed_results(cache: CifarCache, slug: str) -> list[dict]:
    """Per-seed results of run ``slug``, seed 0 first."""
    return seed_results_of(cache.metrics["runs"][slug])


def seed_results_of(run: dict) -> list[dict]:
    """Per-seed results of one run's metrics, seed 0 first."""
    return sorted(run["seeds"], key=lambda s: s["seed"])


def seed0(cache: CifarCache, slug: str) -> dict:
    """Seed 0's results (curves, confusion) of run ``slug``."""
    return seed_results(cache, slug)[0]


def values(cache: CifarCache, slug: str, key: str = "test_acc"
           ) -> list[float]:
    """``key`` of run ``slug`` for every seed."""
    return [s[key] for s in seed_results(cache, slug)]


def spread(cache: CifarCache, slug: str, key: str = "test_acc") -> Spread:
    return Spread.of(values(cache, slug, key))


def last_epoch_gap(result: dict) -> float:
    """Training minus validation accuracy at the last epoch."""
    return result["train_acc"][-1] - result["val_acc"][-1]


def lowest_loss_epoch(result: dict) -> int:
    """The (1-based) epoch with the lowest validation loss."""
    return 1 + result["val_loss"].index(min(result["val_loss"]))


def differences(cache: CifarCache, a: str, b: str,
                key: str = "test_acc") -> list[float]:
    """Run ``a`` minus run ``b`` (slugs), seed by seed."""
    return [x - y for x, y in zip(values(cache, a, key),
                                  values(cache, b, key))]


def always(cache: CifarCache, a: str, b: str, margin: float = 0.0) -> bool:
    """Whether run ``a`` beats run ``b`` by more than ``margin`` with every
    seed."""
    return min(differences(cache, a, b)) > margin


@dataclass(frozen=True)
class VerdictRow:
    """One model of the CIFAR-10 verdict: what the tutorial reports beside
    what the cached runs measured (``None`` when there is no cache)."""

    name: str
    reported_params: int
    reported_acc: float
    params: int | None
    test_acc: Spread | None


def verdict(cache: CifarCache) -> list[VerdictRow]:
    """The tutorial's reported MLP and CNN figures, each beside the
    measured ones from a verified cache."""
    return [VerdictRow(RUNS[slug].name, r["params"], r["test_acc"],
                       cache.metrics["runs"][slug]["params"]
                       if cache.ok else None,
                       spread(cache, slug) if cache.ok else None)
            for slug, r in REPORTED.items()]


@dataclass(frozen=True)
class LadderRow:
    """One rung of the CIFAR-10 ladder."""

    rung: str
    run: Run
    params: int
    macs: int
    epochs: int
    test_acc: Spread
    minutes: Spread


def ladder(cache: CifarCache) -> list[LadderRow]:
    """The ladder's rungs in order, each with its measured numbers."""
    rows = []
    for letter, run in zip(RUNG_LETTERS, group("ladder")):
        m = cache.metrics["runs"][run.slug]
        rows.append(LadderRow(
            letter, run, m["params"], m["macs"], m["epochs"],
            spread(cache, run.slug), minutes(cache, run.slug)))
    return rows


def minutes(cache: CifarCache, slug: str) -> Spread:
    """Minutes of training of run ``slug``, over the seeds."""
    return Spread.of([s / 60 for s in values(cache, slug, "seconds")])


RUNG_LETTERS = "abcdefghijklmnop"


def rung_letter(slug: str) -> str:
    """The ladder letter of run ``slug`` (a, b, ...)."""
    return RUNG_LETTERS[[r.slug for r in group("ladder")].index(slug)]


def macs_ratio(cache: CifarCache, a: str = "gap", b: str = "cnn") -> float:
    """Multiply-adds per image of run ``a`` over those of run ``b``."""
    runs = cache.metrics["runs"]
    return runs[a]["macs"] / runs[b]["macs"]


def recipe(cache: CifarCache, key: str = "adam") -> dict:
    """The training recipe ``key`` as the runs used it."""
    return cache.metrics["training"]["recipes"][key]


def transfer(cache: CifarCache) -> dict[tuple[int, str], list[float]]:
    """Transfer learning's test accuracies on the target classes, per
    (labels per class, method), one value per seed (seed order)."""
    t = cache.metrics["transfer"]
    if not t:
        raise ValueError("the cache holds no transfer runs (made with "
                         "--no-transfer)")
    seeds = sorted(t["seeds"], key=lambda s: s["seed"])
    return {(n, method): [s["test_acc"][str(n)][method] for s in seeds]
            for n in t["labels_per_class"] for method in t["methods"]}


def transfer_gain(cache: CifarCache, n: int, a: str, b: str) -> list[float]:
    """Method ``a`` minus method ``b`` with ``n`` labels per class, seed by
    seed."""
    results = transfer(cache)
    return [x - y for x, y in zip(results[n, a], results[n, b])]


def top_confusion(confusion: list[list[int]]) -> tuple[int, int, int]:
    """(count, true class, predicted class) of the largest off-diagonal
    cell."""
    return max((n, t, p) for t, row in enumerate(confusion)
               for p, n in enumerate(row) if t != p)


@dataclass(frozen=True)
class AttributionCheck:
    """One method's sanity checks, means over the seeds."""

    rho_first: float          # rank correlation, top layer randomised
    rho_all: float            # ... all layers randomised
    deletion_top: float       # probability lost, most-attributed pixels
    deletion_random: float    # ... random pixels


def attribution_checks(cache: CifarCache) -> dict[str, AttributionCheck]:
    """Per attribution method, its sanity checks over the seeds."""
    seeds = cache.metrics["attribution"]["seeds"]
    methods = seeds[0]["methods"]
    out = {}
    for name in methods:
        per = [s["methods"][name] for s in seeds]
        out[name] = AttributionCheck(
            mean(p["randomisation"][0] for p in per),
            mean(p["randomisation"][-1] for p in per),
            mean(p["deletion"]["top"] for p in per),
            mean(p["deletion"]["random"] for p in per))
    return out


def randomised_rho_max(cache: CifarCache, methods) -> float:
    """The largest |rho| of ``methods`` with every layer randomised, over
    the seeds: how much resemblance they ever kept."""
    return max(abs(s["methods"][m]["randomisation"][-1])
               for s in cache.metrics["attribution"]["seeds"] for m in methods)


def completeness(cache: CifarCache) -> tuple[float, float]:
    """Integrated gradients' completeness error over all seeds' images:
    (median relative error, share of images within 1 %)."""
    errors = sorted(e for s in cache.metrics["attribution"]["seeds"]
                    for e in s["ig_relative_error"])
    return (errors[len(errors) // 2],
            sum(e <= 0.01 for e in errors) / len(errors))


assert all(slug in RUNS for slug in REPORTED)
