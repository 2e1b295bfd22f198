"""What the pages use to show things: numbers, Markdown tables, and the
cached CIFAR-10 results, as IPython output (matplotlib figures render
through the PNG formatter that ``figures.use_book_style`` registers)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import mean

from IPython.display import Image, Markdown
from matplotlib.figure import Figure

from . import figures, widgets
from .activations import filter_change, filters
from .cifar import report
from .cifar.cache import (
    ARTEFACTS,
    CifarCache,
    load_cnn,
    load_test_sample_raw,
    normalization,
)
from .cifar.runs import RUNS, group
from .data import CIFAR10_CLASSES

NOT_MEASURED = "\u2014"


def fmt_int(n: int | float) -> str:
    """33280 -> '33 280' (a thin no-break space groups the thousands)."""
    return f"{int(round(n)):,}".replace(",", "\u202f")


def fmt_number(x: float) -> str:
    """-8.0 -> '−8' (shortest form, a true minus sign)."""
    return f"{x:g}".replace("-", "\u2212")


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


def layer_table(model, input_shape: tuple[int, ...]) -> Markdown:
    """Every layer of ``model`` for one input of ``input_shape`` [C, H, W]:
    type, output shape, parameters and multiply-adds, with the totals."""
    from .params import layer_table as rows_of

    rows = rows_of(model, (1, *input_shape))
    return markdown_table(
        ["layer", "type", "output shape", "parameters", "multiply-adds"],
        [*([r.name, r.kind, "×".join(map(str, r.output_shape[1:])),
            fmt_int(r.params), fmt_int(r.macs)] for r in rows),
         ["**total**", "", "", f"**{fmt_int(sum(r.params for r in rows))}**",
          f"**{fmt_int(sum(r.macs for r in rows))}**"]])


def cache_report(cache: CifarCache) -> Markdown:
    """One line of provenance for the measured CIFAR-10 results, or a
    warning that they are absent (and why) and only the tutorial's
    reported figures are shown."""
    if cache.ok:
        d = cache.metrics["data"]
        return Markdown(
            f"*Measured on {d['note']}: {report.recipe(cache)['epochs']} "
            "epochs per model, weights of the epoch with the best accuracy "
            f"on {fmt_int(d['val_size'])} held-out training images. How "
            "these numbers were made: see the note at the end of the "
            "chapter.*")
    problems = "\n".join(f"- {p}" for p in cache.problems)
    return Markdown(
        ":::{warning}\nThe cached CIFAR-10 results are not available, so "
        "this page shows **only the figures the original tutorial reports, "
        f"not numbers measured here**.\n\n{problems}\n\nTo produce them, run "
        "`make cifar` (see the README, \"Regenerating the CIFAR-10 "
        "results\") and rebuild the book.\n:::")


def attribution_table(cache: CifarCache) -> Markdown:
    """The sanity checks of every attribution method on the cached CNN:
    rank correlation with the maps of the model randomised from the top
    (after the first layer, after all of them) and the deletion check,
    means over the seeds."""
    if not cache.ok:
        return Markdown(NOT_MEASURED)
    checks = report.attribution_checks(cache)
    return markdown_table(
        ["method", "ρ, top layer randomised", "ρ, all layers randomised",
         "drop in the true class's probability: top 10 % of pixels",
         "random 10 %"],
        [[name, f"{c.rho_first:.2f}", f"{c.rho_all:.2f}",
          f"{c.deletion_top:.2f}", f"{c.deletion_random:.2f}"]
         for name, c in checks.items()])


# The methods whose maps the prose says lose their resemblance to the
# trained model's when the model is randomised (tests check every seed).
ROBUST = ("gradient", "occlusion", "Grad-CAM")
# methods whose top pixels cost about what random ones do (chapter 3b)
WEAK = ("gradient", "SmoothGrad")


def attribution_numbers(cache: CifarCache) -> dict[str, str]:
    """The attribution page's glued numbers, from the cached checks."""
    from . import attribution
    from .activations import layers_until, receptive_field
    from .models import cifar_cnn

    cnn = cifar_cnn()
    field = receptive_field(layers_until(cnn, cnn.conv2))
    numbers = {"attr_rf": f"{field.size} × {field.size}",
               "attr_ig_steps": str(attribution.COMPLETENESS_STEPS),
               "attr_ig_map_steps": str(attribution.IG_STEPS),
               "attr_sg_samples": str(attribution.SMOOTHGRAD_SAMPLES),
               "attr_sg_noise": f"{attribution.SMOOTHGRAD_NOISE:g}"}
    names = ["attr_images", "attr_seeds", "attr_rho_small", "attr_mean_prob",
             "attr_rho_gradient", "attr_rho_smoothgrad", "attr_rho_ig",
             "attr_del_ig", "attr_del_occlusion", "attr_del_random",
             "attr_ig_median", "attr_ig_within", "attr_del_near"]
    if not cache.ok:
        return {**numbers, **dict.fromkeys(names, NOT_MEASURED)}
    a = cache.metrics["attribution"]
    checks = report.attribution_checks(cache)
    seeds = [str(s["seed"]) for s in a["seeds"]]
    median, within = report.completeness(cache)
    numbers.update({
        "attr_images": fmt_int(a["images"]),
        "attr_seeds": "seed " + seeds[0] if len(seeds) == 1 else
        "seeds " + ", ".join(seeds[:-1]) + " and " + seeds[-1],
        # the largest |rho| of any seed: "|rho| <= ..." holds for each
        "attr_rho_small": _round_up(report.randomised_rho_max(cache, ROBUST),
                                    2),
        "attr_rho_gradient": f"{checks['gradient'].rho_all:.2f}",
        "attr_rho_smoothgrad": f"{checks['SmoothGrad'].rho_all:.2f}",
        "attr_rho_ig": f"{checks['integrated gradients'].rho_all:.2f}",
        "attr_del_ig":
            f"{checks['integrated gradients'].deletion_top:.2f}",
        "attr_del_occlusion": f"{checks['occlusion'].deletion_top:.2f}",
        "attr_del_random": f"{checks['occlusion'].deletion_random:.2f}",
        "attr_mean_prob":
            f"{mean(s['true_class_prob'] for s in a['seeds']):.2f}",
        "attr_ig_median": fmt_pct(median, 2),
        "attr_ig_within": fmt_pct(within, 0),
        # rounded up, so that "within" stays true
        "attr_del_near": _round_up(report.deletion_gap(cache, WEAK), 2),
    })
    return numbers


def provenance(cache: CifarCache) -> Markdown:
    """Where the CIFAR-10 numbers come from: the command, the data, the
    seeds, the machine and the check against the manifest."""
    if not cache.ok:
        return Markdown("The CIFAR-10 cache is not available in this build "
                        "(see the warning in the CIFAR-10 section).")
    m = cache.metrics
    d, seeds = m["data"], sorted({s["seed"] for r in m["runs"].values()
                                  for s in report.seed_results_of(r)})
    digest = ", ".join(f"`{name}` (sha256 `{value[:12]}…`)"
                       for name, value in d["sha256"].items())
    return Markdown(
        f"The CIFAR-10 numbers and figures were produced by `{cache.command}`"
        f" from {digest}, {d['note']}, with random seed"
        f"{'s' if len(seeds) > 1 else ''} "
        f"{', '.join(map(str, seeds))}, on {m['threads']} CPU threads "
        f"({m['device']}) with torch {m['torch'].split('+')[0]} and Python "
        f"{m['python']}. The cache (`book/_static/cifar/`) holds its "
        "metrics, the weights of the models shown and a manifest with the "
        "sha256 of every file; this page checked each file against it when "
        "it was built." + (
            " Numbers quoted as means are over the seeds, with their range "
            "in brackets; figures and curves are seed 0's."
            if len(seeds) > 1 else ""))


def show(cache: CifarCache, key: str) -> Image | Markdown:
    """The cached figure ``key`` as an image, or a line saying it is not
    there (never a stand-in figure)."""
    if cache.ok:
        return Image(filename=str(cache.path(key)))
    return Markdown(f"*`{ARTEFACTS[key]}` is not available in this build: "
                    "the CIFAR-10 cache is absent (see the warning above).*")


def cifar_explorer(cache: CifarCache, folder=widgets.WIDGETS_DIR
                   ) -> widgets.Widget | Markdown:
    """The CIFAR-10 explorer on the cached CNN and the first test images of
    each class (writes the files it loads into ``folder``)."""
    if not cache.ok:
        return Markdown("*The CIFAR-10 explorer needs the cache (see the "
                        "warning above).*")
    saved = load_test_sample_raw(cache)
    images, labels = widgets.cifar_samples(saved["x"], saved["y"])
    return widgets.cifar_explorer(load_cnn(cache), images, labels,
                                  cache.metrics["classes"],
                                  normalization(cache), folder)


def verdict_table(cache: CifarCache) -> Markdown:
    """The CIFAR-10 verdict: reported by the tutorial beside measured."""
    return markdown_table(
        ["model", "parameters (reported by the tutorial)",
         "test accuracy (reported)", "parameters (measured here)",
         "test accuracy (measured here)"],
        [[r.name, f"~{fmt_int(r.reported_params)}",
          f"~{fmt_pct(r.reported_acc, 0)}",
          NOT_MEASURED if r.params is None else fmt_int(r.params),
          NOT_MEASURED if r.test_acc is None else fmt_spread(r.test_acc)]
         for r in report.verdict(cache)])


def fmt_spread(s: report.Spread) -> str:
    """'71.3 %' for one seed, '71.3 % (70.9–71.6)' for several: the mean
    over the seeds and their range."""
    if s.n == 1:
        return fmt_pct(s.mean)
    return (f"{fmt_pct(s.mean)} ({100 * s.low:.1f}–"
            f"{100 * s.high:.1f})")


def _points(a: float, b: float) -> str:
    """The difference a - b of two accuracies, in percentage points, of
    the values as printed (rounded to 0.1 %), so the text's arithmetic
    checks out."""
    return f"{round(100 * a, 1) - round(100 * b, 1):.1f}".replace(
        "-", "\u2212")


# each change of the ladder against the rung it modifies (chapter 3)
LADDER_STEPS = {
    "cifar_step_bn": ("CNN + BatchNorm", "CNN"),
    "cifar_step_aug": ("CNN + augmentation", "CNN"),
    "cifar_step_both_bn": ("CNN + BatchNorm + augmentation",
                           "CNN + BatchNorm"),
    "cifar_step_gap": ("GAP CNN (conv-heavy)",
                       "CNN + BatchNorm + augmentation"),
    "cifar_step_sgd": ("GAP CNN + SGD one-cycle", "GAP CNN (conv-heavy)"),
    "cifar_step_tta": ("GAP CNN + SGD one-cycle + flip TTA",
                       "GAP CNN + SGD one-cycle"),
}


def points_range(differences: Sequence[float]) -> str:
    """Seed-by-seed differences of two accuracies in points: '+1.4' for
    one seed, '+0.9 to +1.8' for several (signed, lowest first)."""
    values = sorted(round(100 * d, 1) for d in differences)

    def signed(v: float) -> str:
        return f"{v:+.1f}".replace("-", "\u2212")

    if values[0] == values[-1]:
        return signed(values[0])
    return f"{signed(values[0])} to {signed(values[-1])}"


def _round_up(x: float, digits: int) -> str:
    """``x`` rounded up to ``digits`` decimals, so that a bound the text
    states ("at most ...") holds for the unrounded value."""
    scale = 10 ** digits
    return f"{math.ceil(x * scale - 1e-9) / scale:.{digits}f}"


def _count(n: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(
        n, str(n))


def cifar_numbers(cache: CifarCache) -> dict[str, str]:
    """Every measured CIFAR-10 number the pages print, formatted, by glue
    name; each is an em dash when the cache is absent, so the pages still
    build (under the warning of :func:`cache_report`). Accuracies are means
    over the seeds; curves and confusions are seed 0's."""
    names = [f"cifar_{run.slug}_{key}" for run in RUNS.values()
             for key in ("acc", "epoch", "params", "gap")]
    names += ["cifar_bn_eval_acc", "cifar_bn_forgot_ordered",
              "cifar_bn_forgot_shuffled", "cifar_bn_forgot_small",
              "cifar_gap_macs_ratio", "cifar_gap_more_params",
              "cifar_sgd_lr", "cifar_sgd_wd", "cifar_sgd_smoothing"]
    names += ["cifar_conv1_cosine", "cifar_conv1_scale", "cifar_epochs",
              "cifar_lr", "cifar_batch",
              "cifar_fit_size", "cifar_val_size",
              "cifar_test_size", "cifar_cnn_last_train",
              "cifar_cnn_last_val", "cifar_perm_mlp_change",
              "cifar_mlp_loss_epoch", "cifar_mlp_last_train",
              "cifar_mlp_last_val",
              "cifar_top_confusion", "cifar_cnn_loss_epoch",
              "cifar_bn_vs_both",
              "cifar_perm_cnn_drop", "cifar_cnn_wins_classes",
              "cifar_size_ratio"]
    names += [*LADDER_STEPS, "cifar_seeds", "cifar_mlp_loss_epoch_latest",
              "cifar_mlp_kept_after", "cifar_perm_mlp_max"]
    from .cifar.runs import FEATURE_MAP_CHANNELS, PATCH_CHANNELS

    fixed = {  # what the cached figures show, from the script's settings
        "cifar_map_channels": f"0 to {FEATURE_MAP_CHANNELS - 1}",
        "cifar_patch_channels": f"{PATCH_CHANNELS[0]} to "
                                f"{PATCH_CHANNELS[-1]}",
        **{f"reported_{r.name.lower()}_acc": fmt_pct(r.reported_acc, 0)
           for r in report.verdict(cache)}}
    if not cache.ok:
        return {**dict.fromkeys(names, NOT_MEASURED), **fixed}
    runs, d = cache.metrics["runs"], cache.metrics["data"]
    numbers = {}
    for name in RUNS:
        slug = RUNS[name].slug
        numbers[f"cifar_{slug}_acc"] = fmt_pct(report.spread(cache,
                                                             name).mean)
        numbers[f"cifar_{slug}_epoch"] = str(report.seed0(cache, name)[
            "best_epoch"])
        numbers[f"cifar_{slug}_params"] = fmt_int(runs[name]["params"])
        numbers[f"cifar_{slug}_gap"] = _points(mean(
            map(report.last_epoch_gap, report.seed_results(cache, name))), 0)
    bn = report.seed0(cache, "CNN + BatchNorm")
    forgot = bn["train_mode_acc"]
    numbers["cifar_bn_eval_acc"] = fmt_pct(bn["test_acc"])
    numbers["cifar_bn_forgot_ordered"] = fmt_pct(forgot["128 in order"])
    numbers["cifar_bn_forgot_shuffled"] = fmt_pct(forgot["128 shuffled"])
    numbers["cifar_bn_forgot_small"] = fmt_pct(forgot["8 shuffled"])
    mlp, cnn = report.seed0(cache, "MLP"), report.seed0(cache, "CNN")
    change = filter_change(*_cifar_conv1(cache))
    adam = report.recipe(cache, "adam")

    def mean_difference(a: str, b: str) -> str:
        return _points(report.spread(cache, a).mean,
                       report.spread(cache, b).mean)

    for key, (a, b) in LADDER_STEPS.items():
        numbers[key] = points_range(report.differences(cache, a, b))
    numbers["cifar_perm_mlp_max"] = _round_up(100 * max(map(abs, (
        report.differences(cache, "MLP, permuted pixels", "MLP")))), 1)
    mlps = report.seed_results(cache, "MLP")
    numbers["cifar_mlp_loss_epoch_latest"] = str(max(
        map(report.lowest_loss_epoch, mlps)))
    numbers["cifar_mlp_kept_after"] = str(min(
        m["best_epoch"] - report.lowest_loss_epoch(m) for m in mlps))
    n_seeds = len(report.values(cache, "CNN"))
    numbers["cifar_seeds"] = f"{_count(n_seeds)} seed{'s' * (n_seeds > 1)}"
    numbers.update({
        "cifar_conv1_cosine": f"{change.cosine.median():.2f}",
        "cifar_conv1_scale": f"{change.scale.median():.1f}",
        "cifar_epochs": str(adam["epochs"]),
        "cifar_lr": f"{adam['lr']:g}",
        "cifar_batch": str(adam["batch_size"]),
        "cifar_fit_size": fmt_int(d["fit_size"]),
        "cifar_val_size": fmt_int(d["val_size"]),
        "cifar_test_size": fmt_int(d["test_size"]),
        "cifar_cnn_last_train": fmt_pct(cnn["train_acc"][-1]),
        "cifar_cnn_last_val": fmt_pct(cnn["val_acc"][-1]),
        "cifar_mlp_last_train": fmt_pct(mlp["train_acc"][-1]),
        "cifar_mlp_last_val": fmt_pct(mlp["val_acc"][-1]),
        "cifar_perm_mlp_change": mean_difference("MLP, permuted pixels",
                                                 "MLP"),
        "cifar_perm_cnn_drop": mean_difference("CNN",
                                               "CNN, permuted pixels"),
        "cifar_cnn_wins_classes": _of_ten(sum(
            c > p for c, p in zip(cnn["per_class_acc"],
                                  mlp["per_class_acc"]))),
        "cifar_bn_vs_both": mean_difference(
            "CNN + BatchNorm + augmentation", "CNN + BatchNorm"),
        "cifar_gap_macs_ratio": f"{report.macs_ratio(cache):.1f}",
        "cifar_gap_more_params": fmt_pct(
            runs["GAP CNN (conv-heavy)"]["params"]
            / runs["CNN + BatchNorm + augmentation"]["params"] - 1, 0),
        "cifar_sgd_lr": f"{report.recipe(cache, 'sgd')['lr']:g}",
        "cifar_sgd_wd": f"{report.recipe(cache, 'sgd')['weight_decay']:g}",
        "cifar_sgd_smoothing":
            f"{report.recipe(cache, 'sgd')['label_smoothing']:g}",
        "cifar_size_ratio":
            f"{runs['MLP']['params'] / runs['CNN']['params']:.0f}",
        "cifar_top_confusion": _top_confusion(cnn["confusion"]),
        "cifar_cnn_loss_epoch": str(report.lowest_loss_epoch(cnn)),
        "cifar_mlp_loss_epoch": str(report.lowest_loss_epoch(mlp)),
    })
    assert set(numbers) == set(names), set(names) ^ set(numbers)
    return {**numbers, **fixed}


def _of_ten(n: int) -> str:
    """'all' for 10 of 10, else 'n of the' (as in 'n of the ten')."""
    return "all" if n == 10 else f"{n} of the"


def _top_confusion(confusion: list[list[int]]) -> str:
    """The largest off-diagonal cell, e.g. 'a cat taken for a dog (171 of
    the 1 000 cat test images)'."""
    n, true, pred = report.top_confusion(confusion)

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
              "confusion", "ladder")
    if kind not in charts:
        raise ValueError(f"kind must be one of {charts}, got {kind!r}")
    if not cache.ok:
        return Markdown(f"*The {kind} chart is not available in this build: "
                        "the CIFAR-10 cache is absent (see the warning "
                        "above).*")
    verdict_runs = [r.name for r in group("verdict")]
    if kind == "curves":
        return figures.plot_learning_curves(
            {name: report.seed0(cache, name) for name in verdict_runs},
            held_out="val")
    if kind == "per_class":
        return figures.plot_per_class(
            {name: report.seed0(cache, name)["per_class_acc"]
             for name in verdict_runs}, CIFAR10_CLASSES)
    if kind == "permutation":
        return figures.plot_accuracy_bars(
            {name: {"original pixels": report.spread(cache, name).mean,
                    "permuted pixels": report.spread(
                        cache, f"{name}, permuted pixels").mean}
             for name in verdict_runs},
            "CIFAR-10: original vs permuted pixels")
    if kind == "real_world":
        return figures.plot_learning_curves(
            {name: report.seed0(cache, name) for name in REAL_WORLD_RUNS},
            held_out="val")
    if kind == "ladder":
        return figures.plot_learning_curves(
            {run.name: report.seed0(cache, run.name)
             for run in group("ladder") if not run.flip_tta},
            held_out="val")
    return figures.plot_confusion_counts(
        report.seed0(cache, "CNN")["confusion"], CIFAR10_CLASSES)


REAL_WORLD_RUNS = ("CNN", "CNN + BatchNorm", "CNN + augmentation",
                   "CNN + BatchNorm + augmentation")


def ladder_table(cache: CifarCache) -> Markdown:
    """The CIFAR-10 ladder: each rung's parameters, multiply-adds per test
    image (flip test-time augmentation runs the network twice), test
    accuracy (mean and range over the seeds) and minutes of training (the
    fastest seed's: the others shared the machine at times, which only
    slows a run down)."""
    if not cache.ok:
        return Markdown(NOT_MEASURED)
    rows = []
    for row, run in zip(report.ladder(cache), group("ladder")):
        macs = row.macs * (2 if run.flip_tta else 1)
        minutes = ("as above" if run.flip_tta else
                   f"{row.minutes.low:.0f}")
        rows.append([row.rung, row.name, fmt_int(row.params),
                     fmt_int(macs), fmt_spread(row.test_acc), minutes])
    return markdown_table(
        ["rung", "model", "parameters", "multiply-adds per image",
         "test accuracy", "minutes per run (fastest seed)"], rows)


def transfer_table(cache: CifarCache) -> Markdown:
    """Transfer learning: test accuracy on the five target classes (mean
    and range over the seeds) per number of labels and method."""
    if not cache.ok or not cache.metrics.get("transfer"):
        return Markdown(NOT_MEASURED)
    t, results = cache.metrics["transfer"], report.transfer(cache)
    n_target = len(t["target_classes"])
    return markdown_table(
        ["labelled images per class (in all)", *t["methods"]],
        [[f"{n} ({fmt_int(n * n_target)})",
          *(fmt_spread(report.Spread.of(results[n, m]))
            for m in t["methods"])] for n in t["labels_per_class"]])


def transfer_numbers(cache: CifarCache) -> dict[str, str]:
    """The transfer experiment's settings and results, by glue name (em
    dashes when the cache has no transfer runs)."""
    from .cifar.runs import TRANSFER

    if not cache.ok or not cache.metrics.get("transfer"):
        names = ["transfer_source", "transfer_target", "transfer_source_acc",
                 "transfer_seeds", "transfer_lr", "transfer_batch",
                 "transfer_from_more_labels", "transfer_frozen_more_labels",
                 "transfer_test_images"]
        for n in TRANSFER.labels_per_class:
            names += [f"transfer_{n}_{key}" for key in (
                "epochs", "steps", "from", "frozen", "fine_tune",
                "fine_gain", "frozen_gain")]
        return dict.fromkeys(names, NOT_MEASURED)
    t = cache.metrics["transfer"]
    results = report.transfer(cache)
    out = {
        "transfer_source": ", ".join(t["source_classes"]),
        "transfer_target": ", ".join(t["target_classes"]),
        "transfer_source_acc": fmt_spread(report.Spread.of(
            [s["source_test_acc"] for s in t["seeds"]])),
        "transfer_seeds": f"{_count(len(t['seeds']))} seed"
                          f"{'s' * (len(t['seeds']) > 1)}",
    }
    for n in t["labels_per_class"]:
        recipe = t["recipe"][str(n)]
        out[f"transfer_{n}_epochs"] = str(recipe["epochs"])
        out[f"transfer_{n}_steps"] = fmt_int(
            recipe["epochs"] * -(-n * len(t["target_classes"])
                                 // recipe["batch_size"]))
        for method in t["methods"]:
            key = method.split()[0].replace("-", "_")
            out[f"transfer_{n}_{key}"] = fmt_pct(
                report.Spread.of(results[n, method]).mean)
        out[f"transfer_{n}_fine_gain"] = points_range(report.transfer_gain(
            cache, n, "fine-tune everything", "from scratch"))
        out[f"transfer_{n}_frozen_gain"] = points_range(report.transfer_gain(
            cache, n, "frozen backbone, new head", "from scratch"))
    few, many = t["labels_per_class"][0], t["labels_per_class"][-1]
    for key, method in (("from", "from scratch"),
                        ("frozen", "frozen backbone, new head")):
        out[f"transfer_{key}_more_labels"] = points_range(
            [b - a for a, b in zip(results[few, method],
                                   results[many, method])])
    d = cache.metrics["data"]
    out["transfer_test_images"] = fmt_int(round(
        d["test_size"] * len(t["target_classes"]) / len(cache.metrics[
            "classes"])))
    first = t["recipe"][str(t["labels_per_class"][0])]
    out["transfer_lr"] = f"{first['lr']:g}"
    out["transfer_batch"] = str(first["batch_size"])
    return out


def real_world_table(cache: CifarCache) -> Markdown:
    """The CNN with and without BatchNorm and augmentation: parameters,
    kept epoch, validation and test accuracy."""
    def cell(name: str, key: str) -> str:
        if not cache.ok:
            return NOT_MEASURED
        result = report.seed0(cache, name)
        if key == "params":
            return fmt_int(cache.metrics["runs"][name]["params"])
        if key == "val_acc":
            return fmt_pct(result[key][result["best_epoch"] - 1])
        if key == "test_acc":
            return fmt_spread(report.spread(cache, name))
        return str(result[key])

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

    return (filters(cifar_cnn(seed=0).conv1),
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
        titles=figures.row_titles(["initial", "trained"], n))
