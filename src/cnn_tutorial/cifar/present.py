"""What the pages show of the cached CIFAR-10 results: every number they
print, declared once in a registry (a glue name and a function of the
cache), and the tables, charts and figures.

:func:`numbers` gives every registered number, formatted; one that needs
data the cache lacks (no cache at all, or no transfer runs) is an em dash,
so the pages still build under :func:`cache_report`'s warning. Accuracies
are means over the seeds; curves and confusions are seed 0's.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import mean

import torch
from IPython.display import Image, Markdown
from matplotlib.figure import Figure

from .. import figures, widgets
from ..activations import filter_bank, filter_change, filters
from ..data import CIFAR10_CLASSES
from ..display import (
    NOT_MEASURED,
    count_word,
    fmt_int,
    fmt_pct,
    fmt_sci,
    markdown_table,
    points,
    points_range,
    round_up,
)
from ..recipe import Recipe
from . import report
from .cache import (
    ARTEFACTS,
    CifarCache,
    load_cnn,
    load_model,
    load_test_sample,
    load_test_sample_raw,
    normalization,
)
from .runs import (
    PATCH_CHANNELS,
    RECIPES,
    RUNS,
    SEARCH,
    TOP_RUN,
    TRANSFER,
    group,
    steps,
    weights_slug,
)


@dataclass(frozen=True)
class Number:
    """A number the pages print: how to compute its text from the cache,
    and what it needs ("cache", "transfer", or "nothing")."""

    text: Callable[[CifarCache], str]
    needs: str = "cache"


REGISTRY: dict[str, Number] = {}


def number(name: str, needs: str = "cache"):
    """Register the decorated function of the cache as the glue ``name``."""
    def register(text: Callable[[CifarCache], str]):
        if name in REGISTRY:
            raise ValueError(f"glue name {name!r} is registered twice")
        REGISTRY[name] = Number(text, needs)
        return text
    return register


def available(cache: CifarCache, needs: str) -> bool:
    if needs == "nothing":
        return True
    if needs == "transfer":
        return cache.ok and bool(cache.metrics.get("transfer"))
    return cache.ok


def numbers(cache: CifarCache) -> dict[str, str]:
    """Every registered number's text, by glue name."""
    return {name: entry.text(cache) if available(cache, entry.needs)
            else NOT_MEASURED for name, entry in REGISTRY.items()}


def fmt_spread(s: report.Spread) -> str:
    """'71.3 %' for one seed, '71.3 % (70.9–71.6)' for several: the mean
    over the seeds and their range."""
    if s.n == 1:
        return fmt_pct(s.mean)
    return f"{fmt_pct(s.mean)} ({100 * s.low:.1f}–{100 * s.high:.1f})"


# --- per run

def _acc(slug: str) -> Callable[[CifarCache], str]:
    return lambda c: fmt_pct(report.spread(c, slug).mean)


def _params(slug: str) -> Callable[[CifarCache], str]:
    return lambda c: fmt_int(c.metrics["runs"][slug]["params"])


def _kept_epoch(slug: str) -> Callable[[CifarCache], str]:
    return lambda c: str(report.seed0(c, slug)["best_epoch"])


def _train_val_gap(slug: str) -> Callable[[CifarCache], str]:
    return lambda c: points(mean(map(report.last_epoch_gap,
                                     report.seed_results(c, slug))), 0)


def _step(run) -> Callable[[CifarCache], str]:
    return lambda c: points_range(report.differences(c, run.slug, run.base))


# the per-run numbers the prose quotes (the tables show the rest)
PER_RUN = {
    "acc": (_acc, ("mlp", "cnn", "mlp_perm", "cnn_perm", "cnn_bn",
                   "cnn_bn_aug", "gap", "gap_sgd", "gap_sgd_tta", "white",
                   "white_tta", "white_tta6")),
    "params": (_params, ("mlp", "cnn", "gap", "white")),
    "epoch": (_kept_epoch, ("mlp",)),
    "gap": (_train_val_gap, ("cnn", "cnn_aug")),
}
for _field, (_text, _slugs) in PER_RUN.items():
    for _slug in _slugs:
        number(f"cifar_{_slug}_{_field}")(_text(_slug))
number("cifar_step_gap")(_step(RUNS["gap"]))
# chapter 5's self-check: the tutorial CNN's own changes beside that step
for _slug in ("cnn_bn", "cnn_aug"):
    number(f"cifar_step_{_slug}")(_step(RUNS[_slug]))


# --- protocol and settings

number("cifar_patch_channels", "nothing")(
    lambda c: f"{PATCH_CHANNELS[0]} to {PATCH_CHANNELS[-1]}")
for _slug, _reported in report.REPORTED.items():
    number(f"reported_{_slug}_acc", "nothing")(
        lambda c, r=_reported: fmt_pct(r["test_acc"], 0))


def _recipe_value(key: str, field: str, fmt=lambda v: f"{v:g}"):
    return lambda c: fmt(report.recipe(c, key)[field])


number("cifar_epochs")(_recipe_value("adam", "epochs", str))
number("cifar_lr")(_recipe_value("adam", "lr"))
number("cifar_batch")(_recipe_value("adam", "batch_size", str))
number("cifar_sgd_lr")(_recipe_value("sgd", "lr"))
number("cifar_sgd_wd")(_recipe_value("sgd", "weight_decay"))
number("cifar_sgd_smoothing")(_recipe_value("sgd", "label_smoothing"))
number("cifar_fast_batch")(_recipe_value("fast", "batch_size", str))
number("cifar_fast_lr")(_recipe_value("fast", "lr"))
number("cifar_fast_momentum")(_recipe_value("fast", "momentum"))
number("cifar_fast_wd")(_recipe_value("fast", "weight_decay", fmt_sci))
number("cifar_fast_smoothing")(_recipe_value("fast", "label_smoothing"))
number("cifar_fast_bias_scale")(_recipe_value("fast", "bias_lr_scale"))
for _field in ("fit_size", "val_size", "test_size"):
    number(f"cifar_{_field}")(
        lambda c, f=_field: fmt_int(c.metrics["data"][f]))


@number("cifar_seeds")
def _seeds(cache: CifarCache) -> str:
    n = len(report.values(cache, "cnn"))
    return f"{count_word(n)} seed{'s' * (n > 1)}"


# --- chapter 1: the verdict, overfitting, locality

def _seed0_value(slug: str, key: str, index: int = -1):
    return lambda c: fmt_pct(report.seed0(c, slug)[key][index])


number("cifar_cnn_last_train")(_seed0_value("cnn", "train_acc"))
number("cifar_cnn_last_val")(_seed0_value("cnn", "val_acc"))
number("cifar_mlp_last_train")(_seed0_value("mlp", "train_acc"))
number("cifar_mlp_last_val")(_seed0_value("mlp", "val_acc"))
number("cifar_cnn_loss_epoch")(
    lambda c: str(report.lowest_loss_epoch(report.seed0(c, "cnn"))))
number("cifar_mlp_loss_epoch")(
    lambda c: str(report.lowest_loss_epoch(report.seed0(c, "mlp"))))
number("cifar_mlp_loss_epoch_latest")(lambda c: str(max(
    map(report.lowest_loss_epoch, report.seed_results(c, "mlp")))))
number("cifar_mlp_kept_after")(lambda c: str(min(
    m["best_epoch"] - report.lowest_loss_epoch(m)
    for m in report.seed_results(c, "mlp"))))
number("cifar_size_ratio")(lambda c: f"{c.metrics['runs']['mlp']['params'] / c.metrics['runs']['cnn']['params']:.0f}")  # noqa: E501


def _mean_difference(a: str, b: str) -> Callable[[CifarCache], str]:
    return lambda c: points(report.spread(c, a).mean,
                            report.spread(c, b).mean)


number("cifar_perm_mlp_change")(_mean_difference("mlp_perm", "mlp"))
number("cifar_perm_cnn_drop")(_mean_difference("cnn", "cnn_perm"))
number("cifar_perm_mlp_max")(lambda c: round_up(100 * max(map(abs, (
    report.differences(c, "mlp_perm", "mlp")))), 1))


@number("cifar_cnn_wins_classes")
def _cnn_wins(cache: CifarCache) -> str:
    cnn, mlp = report.seed0(cache, "cnn"), report.seed0(cache, "mlp")
    n = sum(c > m for c, m in zip(cnn["per_class_acc"], mlp["per_class_acc"]))
    return "all" if n == 10 else f"{n} of the"


@number("cifar_top_confusion")
def _top_confusion(cache: CifarCache) -> str:
    """The largest off-diagonal cell, e.g. 'a cat taken for a dog (171 of
    the 1 000 cat test images)'."""
    confusion = report.seed0(cache, "cnn")["confusion"]
    n, true, pred = report.top_confusion(confusion)

    def a(name: str) -> str:
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"

    return (f"{a(CIFAR10_CLASSES[true])} taken for "
            f"{a(CIFAR10_CLASSES[pred])} ({fmt_int(n)} of the "
            f"{fmt_int(sum(confusion[true]))} {CIFAR10_CLASSES[true]} test "
            "images)")


# --- chapters 4 and 5: conv1, BatchNorm, the ladder

def _cifar_conv1(cache: CifarCache):
    """conv1's filters of the cached CNN at initialisation (rebuilt from
    the run's seed) and after training (the cached weights)."""
    from ..models import cifar_cnn

    return filters(cifar_cnn(seed=0).conv1), filters(load_cnn(cache).conv1)


number("cifar_conv1_cosine")(
    lambda c: f"{filter_change(*_cifar_conv1(c)).cosine.median():.2f}")
number("cifar_conv1_scale")(
    lambda c: f"{filter_change(*_cifar_conv1(c)).scale.median():.1f}")


def _cifar_bank(cache: CifarCache, trained: bool):
    """How conv1's filters span the 27-dimensional colour patches."""
    return filter_bank(_cifar_conv1(cache)[int(trained)])


number("cifar_bank_rank")(lambda c: "{0.rank} of {0.dimension}".format(
    _cifar_bank(c, trained=False)))
number("cifar_bank_rank_after")(
    lambda c: str(_cifar_bank(c, trained=True).rank))
for _glue, _trained in (("", False), ("_after", True)):
    number(f"cifar_bank_condition{_glue}")(
        lambda c, t=_trained: f"{_cifar_bank(c, t).condition:.1f}")


number("cifar_bn_eval_acc")(lambda c: fmt_pct(report.seed0(c, "cnn_bn")[
    "test_acc"]))
for _glue, _key in (("ordered", "128 in order"), ("shuffled", "128 shuffled"),
                    ("small", "8 shuffled")):
    number(f"cifar_bn_forgot_{_glue}")(lambda c, k=_key: fmt_pct(
        report.seed0(c, "cnn_bn")["train_mode_acc"][k]))
number("cifar_gap_macs_ratio")(lambda c: f"{report.macs_ratio(c):.1f}")
number("cifar_gap_more_params")(lambda c: fmt_pct(
    c.metrics["runs"]["gap"]["params"]
    / c.metrics["runs"]["cnn_bn_aug"]["params"] - 1, 0))
number("cifar_top_macs_ratio")(
    lambda c: f"{report.macs_ratio(c, TOP_RUN, 'gap'):.1f}")
number("cifar_top_minutes")(lambda c: f"{report.minutes(c, TOP_RUN).low:.1f}")
number("cifar_top_over_g")(_mean_difference(TOP_RUN, "gap_sgd_tta"))
@number("cifar_white_val_span")
def _white_val_span(cache: CifarCache) -> str:
    """How far apart rung h's seeds are on the validation images (the
    kept epoch's accuracy), in points."""
    kept = [s["val_acc"][s["best_epoch"] - 1]
            for s in report.seed_results(cache, "white")]
    return f"{100 * (max(kept) - min(kept)):.1f}"
number("cifar_top_acc_low")(
    lambda c: fmt_pct(report.spread(c, TOP_RUN).low))


def _probe_acc(slug: str, **change) -> Callable[[CifarCache], str]:
    """The validation accuracy of run ``slug``'s search probe that made
    exactly ``change``."""
    def value(cache: CifarCache) -> str:
        for probe in cache.metrics["search"][slug]["probes"]:
            if probe["change"] == change:
                return fmt_pct(probe["val_acc"])
        raise KeyError(f"no probe of {slug} changed {change}")
    return value


number("cifar_search_random_flips")(_probe_acc("white", augment="shift+flip"))
number("cifar_search_b256")(_probe_acc(
    "white", augment="shift+flip", recipe="fast-b256-lookahead"))
number("cifar_search_b256_alternating")(_probe_acc(
    "white", recipe="fast-b256-lookahead"))
number("cifar_search_slip")(_probe_acc(
    "white", augment="shift+flip", recipe="fast-slip-lookahead"))
number("cifar_slip_wd")(_recipe_value("fast-slip", "weight_decay", fmt_sci))


@number("cifar_search_base")
def _search_base(cache: CifarCache) -> str:
    return "; ".join(fmt_pct(cache.metrics["search"][slug]["base"]["val_acc"])
                     for slug in SEARCH)


CHANGES = {   # how a probe's change reads on the page
    ("activation", "relu"): "ReLU instead of GELU",
    ("whiten", False): "a learned stem instead of the whitening one",
    ("augment", "crop+flip"): "the 4-pixel zero-padded crop instead of the "
                              "2-pixel mirrored shift",
    ("augment", "shift+flip"): "random flips instead of alternating ones",
}


def _recipe_change(before: Recipe, after: Recipe) -> list[str]:
    """What differs between two recipes, as the page says it."""
    said = []
    if before.weight_decay != after.weight_decay:
        said.append(f"weight decay {fmt_sci(after.weight_decay)} instead of "
                    f"{fmt_sci(before.weight_decay)}")
    if before.batch_size != after.batch_size:
        said.append(f"batches of {after.batch_size} instead of "
                    f"{before.batch_size} (rate {after.lr:g})")
    if before.lookahead and not after.lookahead:
        said.append("without lookahead")
    return said or [f"the recipe {after}"]


def describe(change: dict, slug: str) -> str:
    """A probe's change from run ``slug``'s training, as the page says
    it."""
    said = []
    for key, value in change.items():
        if key == "recipe":
            said += _recipe_change(
                RECIPES[RUNS[slug].training.recipe], RECIPES[value])
        else:
            said.append(CHANGES.get((key, value), f"{key} = {value}"))
    return ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 \
        else said[0]


# --- transfer

def _transfer(key: str):
    return number(f"transfer_{key}", "transfer")


_transfer("source")(lambda c: ", ".join(c.metrics["transfer"][
    "source_classes"]))
_transfer("target")(lambda c: ", ".join(c.metrics["transfer"][
    "target_classes"]))
_transfer("source_acc")(lambda c: fmt_spread(report.Spread.of(
    [s["source_test_acc"] for s in c.metrics["transfer"]["seeds"]])))
_transfer("seeds")(lambda c: f"{count_word(len(c.metrics['transfer']['seeds']))} seed{'s' * (len(c.metrics['transfer']['seeds']) > 1)}")  # noqa: E501
_transfer("lr")(lambda c: f"{_first_recipe(c)['lr']:g}")
_transfer("batch")(lambda c: str(_first_recipe(c)["batch_size"]))
# the backbone's training images: the source classes' share of the
# (stratified) fitting split
_transfer("source_images")(lambda c: fmt_int(round(
    c.metrics["data"]["fit_size"] * len(c.metrics["transfer"][
        "source_classes"]) / len(c.metrics["classes"]))))
_transfer("test_images")(lambda c: fmt_int(round(
    c.metrics["data"]["test_size"] * len(c.metrics["transfer"][
        "target_classes"]) / len(c.metrics["classes"]))))


def _first_recipe(cache: CifarCache) -> dict:
    t = cache.metrics["transfer"]
    return t["recipe"][str(t["labels_per_class"][0])]


def _method_key(method: str) -> str:
    return method.split()[0].replace("-", "_")


for _n in TRANSFER.labels_per_class:
    _transfer(f"{_n}_epochs")(
        lambda c, n=_n: str(c.metrics["transfer"]["recipe"][str(n)]["epochs"]))
    _transfer(f"{_n}_steps")(lambda c, n=_n: fmt_int(
        c.metrics["transfer"]["recipe"][str(n)]["epochs"]
        * -(-n * len(c.metrics["transfer"]["target_classes"])
            // c.metrics["transfer"]["recipe"][str(n)]["batch_size"])))
    _transfer(f"{_n}_epoch_steps")(lambda c, n=_n: fmt_int(
        -(-n * len(c.metrics["transfer"]["target_classes"])
          // c.metrics["transfer"]["recipe"][str(n)]["batch_size"])))
    _transfer(f"{_n}_fine_gain")(lambda c, n=_n: points_range(
        report.transfer_gain(c, n, "fine-tune everything", "from scratch")))
    _transfer(f"{_n}_frozen_gain")(lambda c, n=_n: points_range(
        report.transfer_gain(c, n, "frozen backbone, new head",
                             "from scratch")))
# the two transfer accuracies the prose quotes (the table shows all)
for _n, _method in ((TRANSFER.labels_per_class[0], "fine-tune everything"),
                    (TRANSFER.labels_per_class[-1], "from scratch")):
    _transfer(f"{_n}_{_method_key(_method)}")(
        lambda c, n=_n, m=_method: fmt_pct(report.Spread.of(
            report.transfer(c)[n, m]).mean))
for _key, _method in (("from", "from scratch"),
                      ("frozen", "frozen backbone, new head")):
    _transfer(f"{_key}_more_labels")(lambda c, m=_method: points_range(
        [b - a for a, b in zip(
            report.transfer(c)[TRANSFER.labels_per_class[0], m],
            report.transfer(c)[TRANSFER.labels_per_class[-1], m])]))


# --- attribution (chapter 6)

# The methods whose maps the prose says lose their resemblance to the
# trained model's when the model is randomised (tests check every seed).
ROBUST = ("gradient", "occlusion", "Grad-CAM")


def _attribution_settings() -> dict[str, str]:
    import inspect

    import torch

    from .. import attribution
    from ..activations import layers_until, receptive_field
    from ..models import cifar_cnn

    cnn = cifar_cnn()
    field = receptive_field(layers_until(cnn, cnn.conv2))
    seen = {}                       # conv2's map side, from a forward pass
    hook = cnn.conv2.register_forward_hook(
        lambda _m, _i, out: seen.update(side=out.shape[-1]))
    with torch.no_grad():
        cnn(torch.zeros(1, 3, 32, 32))
    hook.remove()
    conv2_side = seen["side"]
    patch = attribution.OCCLUSION_PATCH
    jitter = inspect.signature(attribution.visualise).parameters["jitter"]
    return {"attr_rf": f"{field.size} × {field.size}",
            "attr_ig_steps": str(attribution.COMPLETENESS_STEPS),
            "attr_ig_map_steps": str(attribution.IG_STEPS),
            "attr_sg_samples": str(attribution.SMOOTHGRAD_SAMPLES),
            "attr_sg_noise": fmt_pct(attribution.SMOOTHGRAD_NOISE, 0),
            "attr_patch": f"{patch} × {patch}",
            "attr_stride": str(attribution.OCCLUSION_STRIDE),
            "attr_conv2_side": f"{conv2_side} × {conv2_side}",
            "attr_blur": f"{attribution.BLUR_SIGMA:g}",
            "attr_share": fmt_pct(attribution.DELETION_SHARE, 0),
            "attr_jitter": str(jitter.default)}


for _name in _attribution_settings():
    number(_name, "nothing")(lambda c, n=_name: _attribution_settings()[n])


number("attr_ig_median")(lambda c: fmt_pct(report.completeness(c)[0], 2))
number("attr_ig_within")(lambda c: fmt_pct(report.completeness(c)[1], 0))
# a bound the prose states ("|rho| <= ..."): rounded up, so that it holds
# for the unrounded values of every seed
number("attr_rho_small")(
    lambda c: round_up(report.randomised_rho_max(c, ROBUST), 2))


@number("attr_seeds")
def _attr_seeds(cache: CifarCache) -> str:
    seeds = [str(s["seed"]) for s in cache.metrics["attribution"]["seeds"]]
    if len(seeds) == 1:
        return "seed " + seeds[0]
    return "seeds " + ", ".join(seeds[:-1]) + " and " + seeds[-1]


# --- tables, charts, figures

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


def _absent(what: str) -> Markdown:
    return Markdown(f"*The {what} is not available in this build: the "
                    "CIFAR-10 cache is absent (see the warning above).*")


def explorer_labels(cache: CifarCache) -> tuple[str, str]:
    """The labels of the explorer's switch: the 2-block CNN and the
    ladder's top rung, each with seed 0's measured test accuracy (seed 0's
    weights are the ones cached). The top rung is run as trained, without
    test-time augmentation, so its label gives that accuracy (of its rung
    without TTA) and says so."""
    plain = RUNS[weights_slug(RUNS[TOP_RUN])]      # the training's own rung
    if plain.flip_tta or plain.shift_tta:
        raise ValueError(f"{plain.slug}: the explorer runs the top network "
                         "as trained, but this rung uses test-time "
                         "augmentation")
    cnn = report.seed0(cache, "cnn")["test_acc"]
    top = report.seed0(cache, plain.slug)["test_acc"]
    return (f"the chapter's 2-block CNN: {fmt_pct(cnn)} test accuracy",
            f"the ladder's top rung, {plain.name.split(',')[0]}: "
            f"{fmt_pct(top)} test accuracy, run as trained (no test-time "
            "augmentation)")


def cifar_explorer(cache: CifarCache, folder=widgets.WIDGETS_DIR
                   ) -> widgets.Widget | Markdown:
    """The CIFAR-10 explorer on the cached CNN and the first test images of
    each class, with a switch to the ladder's top rung (writes the files
    it loads into ``folder``)."""
    if not cache.ok:
        return Markdown("*The CIFAR-10 explorer needs the cache (see the "
                        "warning above).*")
    saved = load_test_sample_raw(cache)
    images, labels = widgets.cifar_samples(saved["x"], saved["y"])
    cnn_label, top_label = explorer_labels(cache)
    top = widgets.ExplorerNetwork(load_model(cache, TOP_RUN), top_label,
                                  widgets.CIFAR_TOP_WEIGHTS)
    return widgets.cifar_explorer(load_cnn(cache), images, labels,
                                  cache.metrics["classes"],
                                  normalization(cache), folder,
                                  label=cnn_label, others=[top])


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


def ladder_table(cache: CifarCache) -> Markdown:
    """The CIFAR-10 ladder: each rung's parameters, multiply-adds per test
    image (test-time augmentation runs the network on every view), test
    accuracy (mean and range over the seeds) and minutes of training (the
    fastest seed's: the others shared the machine at times, which only
    slows a run down)."""
    if not cache.ok:
        return Markdown(NOT_MEASURED)
    rows = []
    for row in report.ladder(cache):
        run = row.run
        views = (6 if run.shift_tta else 2) if run.flip_tta else 1
        minutes = ("as above" if run.flip_tta else f"{row.minutes.low:.1f}")
        rows.append([row.rung, run.name, fmt_int(row.params),
                     fmt_int(row.macs * views), fmt_spread(row.test_acc),
                     minutes])
    return markdown_table(
        ["rung", "model", "parameters", "multiply-adds per image",
         "test accuracy", "minutes per run (fastest seed)"], rows)


def gains_table(cache: CifarCache) -> Markdown:
    """Each ladder change against the rung it modifies, seed by seed, in
    points of test accuracy (the smallest and largest difference)."""
    ladder = [r.slug for r in group("ladder")]
    letter = report.rung_letter
    rows = [[run.change, f"{letter(run.slug)} − {letter(run.base)}",
             NOT_MEASURED if not cache.ok else points_range(
                 report.differences(cache, run.slug, run.base))]
            for run in steps() if run.slug in ladder]
    return markdown_table(["change", "rungs", "gain in points"], rows)


def search_table(cache: CifarCache) -> Markdown:
    """The choices tried on the validation split (seed 0) beside the
    chosen rung."""
    if not cache.ok or not cache.metrics.get("search"):
        return Markdown(NOT_MEASURED)
    rows = []
    for slug, search in cache.metrics["search"].items():
        rows.append([f"{RUNS[slug].name} (chosen)",
                     fmt_pct(search["base"]["val_acc"]),
                     f"{search['base']['seconds'] / 60:.1f}"])
        rows += [[describe(p["change"], slug), fmt_pct(p["val_acc"]),
                  f"{p['seconds'] / 60:.1f}"] for p in search["probes"]]
    return markdown_table(["network and recipe", "validation accuracy "
                           "(seed 0)", "minutes (seed 0)"], rows)


def transfer_table(cache: CifarCache) -> Markdown:
    """Transfer learning: test accuracy on the five target classes (mean
    and range over the seeds) per number of labels and method."""
    if not available(cache, "transfer"):
        return Markdown(NOT_MEASURED)
    t, results = cache.metrics["transfer"], report.transfer(cache)
    n_target = len(t["target_classes"])
    return markdown_table(
        ["labelled images per class (in all)", *t["methods"]],
        [[f"{n} ({fmt_int(n * n_target)})",
          *(fmt_spread(report.Spread.of(results[n, m]))
            for m in t["methods"])] for n in t["labels_per_class"]])


def real_world_table(cache: CifarCache) -> Markdown:
    """The CNN with and without BatchNorm and augmentation: parameters,
    kept epoch, validation and test accuracy."""
    def cells(slug: str) -> list[str]:
        if not cache.ok:
            return [NOT_MEASURED] * 4
        result = report.seed0(cache, slug)
        return [fmt_int(cache.metrics["runs"][slug]["params"]),
                str(result["best_epoch"]),
                fmt_pct(result["val_acc"][result["best_epoch"] - 1]),
                fmt_spread(report.spread(cache, slug))]

    return markdown_table(
        ["model", "parameters", "kept epoch", "validation accuracy",
         "test accuracy"],
        [[run.name, *cells(run.slug)] for run in group("real_world")])


def colors() -> dict[str, str]:
    """Each run's chart colour, by its name on the pages."""
    return {run.name: run.color for run in RUNS.values() if run.color}


CHARTS = ("curves", "per_class", "permutation", "real_world", "confusion",
          "ladder", "ladder_seeds")


def cifar_chart(cache: CifarCache, kind: str) -> Figure | Markdown:
    """A chart drawn from the cached CIFAR-10 metrics: ``curves`` (MLP and
    CNN), ``per_class``, ``permutation``, ``real_world`` (the CNN with
    BatchNorm and augmentation), ``confusion`` (the CNN), ``ladder`` (the
    trained rungs' curves) or ``ladder_seeds`` (every rung's test accuracy,
    one dot per seed); a line saying it is not available when the cache is
    absent."""
    if kind not in CHARTS:
        raise ValueError(f"kind must be one of {CHARTS}, got {kind!r}")
    if not cache.ok:
        return _absent(f"{kind} chart")
    verdict = group("verdict")

    def curves(runs) -> Figure:
        return figures.plot_learning_curves(
            {run.name: report.seed0(cache, run.slug) for run in runs},
            held_out="val", colors=colors())

    if kind == "curves":
        return curves(verdict)
    if kind == "per_class":
        return figures.plot_per_class(
            {run.name: report.seed0(cache, run.slug)["per_class_acc"]
             for run in verdict}, CIFAR10_CLASSES)
    if kind == "permutation":
        return figures.plot_accuracy_bars(
            {run.name: {"original pixels": report.spread(cache,
                                                         run.slug).mean,
                        "permuted pixels": report.spread(
                            cache, f"{run.slug}_perm").mean}
             for run in verdict}, "CIFAR-10: original vs permuted pixels")
    if kind == "real_world":
        return curves(group("real_world"))
    if kind == "ladder":
        return curves([run for run in group("ladder") if not run.flip_tta])
    if kind == "ladder_seeds":
        return figures.plot_seed_dots(
            [(f"{row.rung}  {row.run.name}",
              report.values(cache, row.run.slug)) for row in
             report.ladder(cache)], "test accuracy (%)")
    return figures.plot_confusion_counts(
        report.seed0(cache, "cnn")["confusion"], CIFAR10_CLASSES)


def overview(cache: CifarCache, label: str = "cat") -> Figure | Markdown:
    """The intro's picture: the first cached test image of class ``label``
    that the cached CNN classifies correctly, four of its conv1 maps (the
    first channels, after the ReLU), its occlusion map and the
    probabilities."""
    if not cache.ok:
        return _absent("overview picture")
    from ..attribution import occlusion

    cnn = load_cnn(cache)
    test, _ = load_test_sample(cache)
    raw = load_test_sample_raw(cache)
    classes = cache.metrics["classes"]
    if label not in classes:
        raise ValueError(f"label must be one of {classes}, got {label!r}")
    with torch.no_grad():
        probabilities = cnn(test.x).softmax(1)
    right = ((test.y == classes.index(label))
             & (probabilities.argmax(1) == test.y)).nonzero().flatten()
    if len(right) == 0:
        return _absent(f"overview picture (no {label} classified right)")
    i = int(right[0])
    x = test.x[i:i + 1]
    with torch.no_grad():
        maps = cnn.block1[:2](x)[0, :4]
    heat = occlusion(cnn, x, test.y[i:i + 1])[0]
    return figures.plot_overview(
        raw["x"][i].permute(1, 2, 0), maps, heat, probabilities[i], classes,
        f"a test {label}")


def cifar_filters(cache: CifarCache) -> Figure | Markdown:
    """The cached CNN's 32 conv1 filters as RGB tiles, at initialisation
    (top two rows) and trained (bottom two), each scaled to its own
    range."""
    if not cache.ok:
        return show(cache, "cnn")
    before, after = _cifar_conv1(cache)
    return figures.image_grid(
        [*before, *after], ncols=16, tile=0.43,
        titles=figures.row_titles(["initial", "trained"], len(before)))
