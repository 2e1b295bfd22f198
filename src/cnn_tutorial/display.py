"""What the pages use to show things: numbers, Markdown tables, and the
cached CIFAR-10 results. The only module that builds IPython output."""
from __future__ import annotations

from collections.abc import Sequence

from IPython.display import Image, Markdown
from matplotlib.figure import Figure

from . import figures
from .activations import filter_change, filters
from .artifacts import (
    ARTEFACTS,
    PERMUTED_RUNS,
    REAL_WORLD_RUNS,
    RUN_SLUGS,
    VERDICT_RUNS,
    CifarCache,
    load_cnn,
    verdict,
)
from .data import CIFAR10_CLASSES

NOT_MEASURED = "\u2014"


def fmt_int(n: int | float) -> str:
    """33280 -> '33 280' (a thin no-break space groups the thousands)."""
    return f"{int(round(n)):,}".replace(",", "\u202f")


def fmt_pct(fraction: float, digits: int = 1) -> str:
    """0.9867 -> '98.7 %'."""
    return f"{100 * fraction:.{digits}f}\u202f%"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> Markdown:
    """A Markdown table that a book cell renders as a real HTML table."""
    if any(len(row) != len(headers) for row in rows):
        raise ValueError("every row needs one value per header")
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
        *("| " + " | ".join(str(v) for v in row) + " |" for row in rows),
    ]
    return Markdown("\n".join(lines))


def fmt_optional_pct(fraction: float | None, digits: int = 1) -> str:
    """A percentage, or an em dash for a number that was not measured."""
    return NOT_MEASURED if fraction is None else fmt_pct(fraction, digits)


def cache_report(cache: CifarCache) -> Markdown:
    """One line of provenance for the measured CIFAR-10 results, or a
    warning that they are absent (and why) and only the tutorial's
    reported figures are shown."""
    if cache.ok:
        m = cache.metrics
        d, t = m["data"], m["training"]
        minutes = round(m["train_seconds"] / 60)
        return Markdown(
            f"*Measured here on {d['note']}, by `{cache.command}`: "
            f"{t['epochs']} epochs per model, weights of the epoch with "
            f"the best accuracy on {fmt_int(d['val_size'])} held-out "
            f"training images; {minutes} min of training on {m['threads']} "
            f"CPU threads with torch {m['torch']}. Read from "
            "`book/_static/cifar/`, checked against its manifest.*")
    problems = "\n".join(f"- {p}" for p in cache.problems)
    return Markdown(
        ":::{warning}\nThe cached CIFAR-10 results are not available, so "
        "this page shows **only the figures the original tutorial reports, "
        f"not numbers measured here**.\n\n{problems}\n\nTo produce them, run "
        "`make cifar` (see the README, \"Regenerating the CIFAR-10 "
        "results\") and rebuild the book.\n:::")


def show(cache: CifarCache, key: str) -> Image | Markdown:
    """The cached figure ``key`` as an image, or a line saying it is not
    there (never a stand-in figure)."""
    if cache.ok:
        return Image(filename=str(cache.path(key)))
    return Markdown(f"*`{ARTEFACTS[key]}` is not available in this build: "
                    "the CIFAR-10 cache is absent (see the warning above).*")


def verdict_table(cache: CifarCache) -> Markdown:
    """The CIFAR-10 verdict: reported by the tutorial beside measured."""
    return markdown_table(
        ["model", "parameters (reported by the tutorial)",
         "test accuracy (reported)", "parameters (measured here)",
         "test accuracy (measured here)"],
        [[r.name, f"~{fmt_int(r.reported_params)}",
          f"~{fmt_pct(r.reported_acc, 0)}",
          NOT_MEASURED if r.params is None else fmt_int(r.params),
          fmt_optional_pct(r.test_acc)] for r in verdict(cache)])


def _points(a: float, b: float) -> str:
    """The difference a - b of two accuracies, in percentage points."""
    return f"{100 * (a - b):.1f}".replace("-", "\u2212")


def cifar_numbers(cache: CifarCache) -> dict[str, str]:
    """Every measured CIFAR-10 number the pages print, formatted, by glue
    name; each is an em dash when the cache is absent, so the pages still
    build (under the warning of :func:`cache_report`)."""
    names = [f"cifar_{slug}_{key}" for slug in RUN_SLUGS.values()
             for key in ("acc", "epoch", "params", "gap")]
    names += ["cifar_conv1_cosine", "cifar_conv1_scale", "cifar_epochs",
              "cifar_lr", "cifar_batch",
              "cifar_fit_size", "cifar_val_size",
              "cifar_test_size", "cifar_minutes", "cifar_cnn_last_train",
              "cifar_cnn_last_val", "cifar_perm_mlp_change",
              "cifar_top_confusion", "cifar_cnn_loss_epoch",
              "cifar_bn_vs_both",
              "cifar_perm_cnn_drop", "cifar_cnn_wins_classes",
              "cifar_size_ratio"]
    reported = {f"reported_{r.name.lower()}_acc": fmt_pct(r.reported_acc, 0)
                for r in verdict(cache)}
    if not cache.ok:
        return {**dict.fromkeys(names, NOT_MEASURED), **reported}
    m = cache.metrics
    runs, d = m["runs"], m["data"]
    numbers = {}
    for name, slug in RUN_SLUGS.items():
        numbers[f"cifar_{slug}_acc"] = fmt_pct(runs[name]["test_acc"])
        numbers[f"cifar_{slug}_epoch"] = str(runs[name]["best_epoch"])
        numbers[f"cifar_{slug}_params"] = fmt_int(runs[name]["params"])
        numbers[f"cifar_{slug}_gap"] = _points(runs[name]["train_acc"][-1],
                                               runs[name]["val_acc"][-1])
    mlp, cnn = runs["MLP"], runs["CNN"]
    perm = {k: runs[v] for k, v in PERMUTED_RUNS.items()}
    change = filter_change(*_cifar_conv1(cache))
    numbers.update({
        "cifar_conv1_cosine": f"{change.cosine.median():.2f}",
        "cifar_conv1_scale": f"{change.scale.median():.1f}",
        "cifar_epochs": str(m["training"]["epochs"]),
        "cifar_lr": f"{m['training']['lr']:g}",
        "cifar_batch": str(m["training"]["batch_size"]),
        "cifar_fit_size": fmt_int(d["fit_size"]),
        "cifar_val_size": fmt_int(d["val_size"]),
        "cifar_test_size": fmt_int(d["test_size"]),
        "cifar_minutes": str(round(m["train_seconds"] / 60)),
        "cifar_cnn_last_train": fmt_pct(cnn["train_acc"][-1]),
        "cifar_cnn_last_val": fmt_pct(cnn["val_acc"][-1]),
        "cifar_perm_mlp_change": _points(perm["MLP"]["test_acc"],
                                         mlp["test_acc"]),
        "cifar_perm_cnn_drop": _points(cnn["test_acc"],
                                       perm["CNN"]["test_acc"]),
        "cifar_cnn_wins_classes": _of_ten(sum(
            c > p for c, p in zip(cnn["per_class_acc"],
                                  mlp["per_class_acc"]))),
        "cifar_bn_vs_both": _points(
            runs["CNN + BatchNorm + augmentation"]["test_acc"],
            runs["CNN + BatchNorm"]["test_acc"]),
        "cifar_size_ratio": f"{mlp['params'] / cnn['params']:.0f}",
        "cifar_top_confusion": _top_confusion(cnn["confusion"]),
        "cifar_cnn_loss_epoch": str(
            1 + cnn["val_loss"].index(min(cnn["val_loss"]))),
    })
    assert set(numbers) == set(names)
    return {**numbers, **reported}


def _of_ten(n: int) -> str:
    """'all' for 10 of 10, else 'n of the' (as in 'n of the ten')."""
    return "all" if n == 10 else f"{n} of the"


def _top_confusion(confusion: list[list[int]]) -> str:
    """The largest off-diagonal cell, e.g. 'a cat taken for a dog (171 of
    the 1 000 cat test images)'."""
    cells = [(n, t, p) for t, row in enumerate(confusion)
             for p, n in enumerate(row) if t != p]
    n, true, pred = max(cells)

    def a(name: str) -> str:
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"

    return (f"{a(CIFAR10_CLASSES[true])} taken for "
            f"{a(CIFAR10_CLASSES[pred])} ({fmt_int(n)} of the "
            f"{fmt_int(sum(confusion[true]))} {CIFAR10_CLASSES[true]} test "
            "images)")


def cifar_chart(cache: CifarCache, kind: str) -> Figure | Markdown:
    """A chart drawn from the cached CIFAR-10 metrics: ``curves`` (MLP and
    CNN), ``per_class``, ``permutation``, ``real_world`` (the CNN with
    BatchNorm and augmentation) or ``confusion`` (the CNN); a line saying
    it is not available when the cache is absent."""
    charts = ("curves", "per_class", "permutation", "real_world",
              "confusion")
    if kind not in charts:
        raise ValueError(f"kind must be one of {charts}, got {kind!r}")
    if not cache.ok:
        return Markdown(f"*The {kind} chart is not available in this build: "
                        "the CIFAR-10 cache is absent (see the warning "
                        "above).*")
    runs = cache.metrics["runs"]
    if kind == "curves":
        return figures.plot_learning_curves(
            {name: runs[name] for name in VERDICT_RUNS}, held_out="val")
    if kind == "per_class":
        return figures.plot_per_class(
            {name: runs[name]["per_class_acc"] for name in VERDICT_RUNS},
            CIFAR10_CLASSES)
    if kind == "permutation":
        return figures.plot_accuracy_bars(
            {name: {"original pixels": runs[name]["test_acc"],
                    "permuted pixels": runs[permuted]["test_acc"]}
             for name, permuted in PERMUTED_RUNS.items()},
            "CIFAR-10: original vs permuted pixels")
    if kind == "real_world":
        return figures.plot_learning_curves(
            {name: runs[name] for name in REAL_WORLD_RUNS}, held_out="val")
    return figures.plot_confusion_counts(runs["CNN"]["confusion"],
                                         CIFAR10_CLASSES)


def real_world_table(cache: CifarCache) -> Markdown:
    """The CNN with and without BatchNorm and augmentation: parameters,
    kept epoch, validation and test accuracy."""
    runs = cache.metrics.get("runs", {}) if cache.ok else {}

    def cell(name: str, key: str) -> str:
        value = runs.get(name, {}).get(key)
        if value is None:
            return NOT_MEASURED
        if key == "params":
            return fmt_int(value)
        if key == "val_acc":
            return fmt_pct(value[runs[name]["best_epoch"] - 1])
        return fmt_pct(value) if key == "test_acc" else str(value)

    return markdown_table(
        ["model", "parameters", "kept epoch", "validation accuracy",
         "test accuracy"],
        [[name, *(cell(name, key) for key in (
            "params", "best_epoch", "val_acc", "test_acc"))]
         for name in REAL_WORLD_RUNS])


def _cifar_conv1(cache: CifarCache):
    """conv1's filters of the cached CNN at initialisation (rebuilt from
    the run's seed) and after training (the cached weights)."""
    from .models import cifar_cnn

    seed = cache.metrics["training"]["seed"]
    return (filters(cifar_cnn(seed=seed).conv1),
            filters(load_cnn(cache).conv1))


def cifar_filters(cache: CifarCache) -> Figure | Markdown:
    """The cached CNN's 32 conv1 filters as RGB tiles, at initialisation
    (top two rows) and trained (bottom two), each scaled to its own
    range."""
    if not cache.ok:
        return show(cache, "cnn")
    before, after = _cifar_conv1(cache)
    n = len(before)
    return figures.image_grid(
        [*before, *after], ncols=16, tile=0.43,
        titles=["initial"] + [""] * (n - 1) + ["trained"] + [""] * (n - 1))
