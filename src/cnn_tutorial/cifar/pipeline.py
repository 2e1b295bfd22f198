"""Train the book's CIFAR-10 runs once and write the cached results (the
command line, checked first, is :mod:`.cli`).

Every run of :data:`runs.RUNS` is trained with each seed of
:data:`runs.SEEDS` on the training images minus a stratified validation
split; the epoch whose weights are kept is chosen on that validation split,
and the test set is evaluated once, at the end. Then the transfer
experiment (:data:`runs.TRANSFER`). Finished trainings are kept in
``--work-dir`` and reused when the command is repeated with the same
settings, so a stopped run resumes where it stopped.

The book never runs this: it reads what this writes (``book/_static/cifar``
by default) through :mod:`cnn_tutorial.cifar.cache`.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torchvision
from torch import nn

from .. import activations, attribution, figures
from ..data import (
    CIFAR10_FOLDER,
    CIFARDataError,
    CIFARDataMissing,
    Split,
    cifar10_images,
    cifar10_missing_message,
)
from ..models import cifar_gap_cnn
from ..params import count_macs, count_params
from ..train import (
    History,
    Recipe,
    accuracy_in_train_mode,
    evaluate,
    fit,
    predict,
)
from . import cache
from .data import (
    Prepared,
    classes_subset,
    dataset_digest,
    per_class_sample,
    permuted,
    prepare,
)
from .runs import (
    FEATURE_MAP_CHANNELS,
    FEATURE_MAP_IMAGES,
    PATCH_CHANNELS,
    RECIPES,
    RUNS,
    SAMPLE_PER_CLASS,
    SEARCH,
    TRANSFER,
    Run,
    Training,
    trainings,
    weights_slug,
)

JPEG_NOTE = ("the JPEG copy of CIFAR-10 (the original images re-encoded at "
             "quality 75 with 4:2:0 chroma subsampling, so pixel values "
             "differ slightly from the original release)")


def first_of_each_class(labels: torch.Tensor, per_class: int
                        ) -> torch.Tensor:
    """Indices of the first ``per_class`` images of every class, class by
    class."""
    return torch.cat([(labels == c).nonzero()[:per_class, 0]
                      for c in range(int(labels.max()) + 1)])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    """Trains (or reloads from ``--work-dir``) one model per training and
    seed, on the prepared data."""

    def __init__(self, data: Prepared, args: argparse.Namespace,
                 digest: dict) -> None:
        self.data, self.args, self.digest = data, args, digest
        self.device = resolve_device(args.device)
        self._permuted: Prepared | None = None

    def recipe(self, recipe: Recipe) -> Recipe:
        if self.args.epochs is None:
            return recipe
        return replace(recipe, epochs=self.args.epochs)

    def transfer_recipe(self, n_images: int) -> Recipe:
        """The transfer runs' recipe for ``n_images`` labelled images."""
        return self.recipe(TRANSFER.recipe(n_images,
                                           self.args.transfer_steps))

    def check(self, needed: list[Training], transfer: bool) -> None:
        """Refuse, before any training and with the numbers, what the data
        cannot support: a schedule with too few steps, or fewer training
        images of a target class than the transfer runs ask for."""
        problems = []
        for training in needed:
            why = self.recipe(RECIPES[training.recipe]).too_few_steps(
                len(self.data.fit))
            if why:
                problems.append(f"{training.slug}: {why}")
        if transfer:
            t, fit_y = TRANSFER, self.data.fit.y
            n_source = int(torch.isin(fit_y, torch.tensor(t.source)).sum())
            why = self.recipe(RECIPES[t.pretraining.recipe]).too_few_steps(
                n_source)
            if why:
                problems.append(f"transfer backbone: {why}")
            counts = fit_y.bincount(minlength=len(self.data.classes))
            fewest = min(int(counts[c]) for c in t.target)
            for n in self.args.transfer_labels:
                if n > fewest:
                    problems.append(
                        f"transfer with {n} labels per class: a target "
                        f"class has only {fewest} training images")
                    continue
                why = self.transfer_recipe(n * len(t.target)).too_few_steps(
                    n * len(t.target))
                if why:
                    problems.append(f"transfer with {n} labels per class: "
                                    f"{why}")
        if problems:
            raise CIFARDataError(
                f"the data ({len(self.data.fit)} images to fit on) cannot "
                "support these runs; nothing was trained:\n  - "
                + "\n  - ".join(problems)
                + "\nUse more images, more --epochs, smaller "
                "--transfer-labels or --no-transfer.")

    def data_for(self, training: Training) -> Prepared:
        if not training.permuted:
            return self.data
        if self._permuted is None:
            self._permuted = permuted(self.data)
        return self._permuted

    def train(self, name: str, slug: str, model: nn.Module, fit_: Split,
              val: Split, recipe: Recipe, seed: int, augment, key: dict,
              channels_last: bool = False, keep_best: bool = True
              ) -> tuple[nn.Module, History]:
        """Train ``model``, or load it if ``slug`` was trained with the same
        ``key`` (everything the result depends on) before. ``keep_best``:
        keep the epoch with the best accuracy on ``val``, else the last."""
        key = json.dumps({**key, "recipe": asdict(recipe), "seed": seed,
                          "val_fraction": self.args.val_fraction,
                          "data": self.digest}, sort_keys=True)
        saved = self.args.work_dir / f"{slug}-seed{seed}.pt"
        if saved.is_file():
            state = torch.load(saved, weights_only=False)
            if state["key"] == key:
                model.load_state_dict(state["state_dict"])
                print(f"{name}, seed {seed}: reusing {saved}", flush=True)
                return model.eval(), History(**state["history"])
        print(f"{name}, seed {seed}: training {count_params(model):,} "
              "parameters", flush=True)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        history = fit(model, fit_, val, recipe, seed=seed, augment=augment,
                      keep_best=keep_best, train_eval_size=len(val),
                      progress=not self.args.no_progress, device=self.device)
        model = model.cpu().to(memory_format=torch.contiguous_format)
        self.args.work_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"key": key, "state_dict": model.state_dict(),
                    "history": history.as_dict()}, saved)
        return model.eval(), history

    def run(self, training: Training, seed: int
            ) -> tuple[nn.Module, History]:
        """Train (or reload) one ladder training; the model comes back with
        its weights rounded to float16, as the cache stores them, so every
        number measured from it holds for the committed weights."""
        data = self.data_for(training)
        model, history = self.train(
            training.slug, training.slug, training.build(seed, data.fit.x),
            data.fit, data.val, self.recipe(RECIPES[training.recipe]), seed,
            training.augmentation(seed), training.as_key(),
            training.channels_last)
        return cache.round_to_stored(model), history


def judge(model: nn.Module, test: Split, n_classes: int,
          flip: bool = False, shift: bool = False) -> dict:
    """Test loss and accuracy (the one look at the test set), per-class
    accuracy and the confusion matrix, from one pass over the test set."""
    logits = predict(model, test.x, flip=flip, shift=shift)
    loss = nn.functional.cross_entropy(logits, test.y).item()
    predicted = logits.argmax(1)
    acc = (predicted == test.y).float().mean().item()
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    confusion.index_put_((test.y, predicted),
                         torch.ones_like(test.y), accumulate=True)
    per_class = confusion.diag() / confusion.sum(1)
    return {"test_loss": loss, "test_acc": acc,
            "per_class_acc": per_class.tolist(),
            "confusion": confusion.tolist()}


def forgot_eval(model: nn.Module, test: Split) -> dict[str, float]:
    """Test accuracy as if ``model.eval()`` had been forgotten: batches of
    128 in the test set's order (this copy stores it class by class), and
    batches of 128 and of 8 after one fixed shuffle."""
    order = torch.randperm(len(test), generator=torch.Generator()
                           .manual_seed(0))
    shuffled = Split(test.x[order], test.y[order])
    return {"128 in order": accuracy_in_train_mode(model, test, 128),
            "128 shuffled": accuracy_in_train_mode(model, shuffled, 128),
            "8 shuffled": accuracy_in_train_mode(model, shuffled, 8)}


def seed_result(run: Run, seed: int, model: nn.Module, history: History,
                test: Split, n_classes: int) -> dict:
    forgot = (forgot_eval(model, test)
              if run.training.batch_norm and not run.flip_tta else {})
    return {"seed": seed, **({"train_mode_acc": forgot} if forgot else {}),
            "train_loss": history.train_loss, "train_acc": history.train_acc,
            "val_loss": history.test_loss, "val_acc": history.test_acc,
            "best_epoch": history.best_epoch,
            "seconds": round(history.seconds, 1),
            **judge(model, test, n_classes, flip=run.flip_tta,
                    shift=run.shift_tta)}


def train_transfer(trainer: Trainer, seed: int) -> dict:
    """Pretrain on the source classes, then learn the target classes from
    few labels three ways; returns test accuracies by labels and method."""
    t, data = TRANSFER, trainer.data
    pre = t.pretraining
    source = [classes_subset(s, list(t.source)) for s in (data.fit, data.val)]
    backbone, _ = trainer.train(
        "transfer backbone", f"transfer-{pre.slug}",
        cifar_gap_cnn(seed, n_classes=len(t.source)),
        *source, trainer.recipe(RECIPES[pre.recipe]), seed,
        pre.augmentation(seed),
        {**pre.as_key(), "classes": t.source}, pre.channels_last)
    target_fit, target_val, target_test = (
        classes_subset(s, list(t.target))
        for s in (data.fit, data.val, data.test))
    # with a few labels there is no validation split to choose an epoch on:
    # every method trains its fixed schedule and keeps the last epoch; a
    # small monitoring sample only draws the curves
    monitor = per_class_sample(target_val, min(
        t.monitor_per_class, int(target_val.y.bincount().min())), 0)
    results: dict = {}
    for n in trainer.args.transfer_labels:
        labelled = per_class_sample(target_fit, n, seed)
        recipe = trainer.transfer_recipe(len(labelled))
        key = {"pretraining": pre.as_key(), "source": t.source,
               "target": t.target, "labels_per_class": n,
               "monitor_per_class": t.monitor_per_class, "keep": "last"}
        accs = {}
        for method in t.methods:
            if method == "from scratch":
                model = cifar_gap_cnn(seed, n_classes=len(t.target))
            else:
                torch.manual_seed(seed)
                model = copy.deepcopy(backbone)
                model.head[-1] = nn.Linear(model.head[-1].in_features,
                                           len(t.target))
            if method == "frozen backbone, new head":
                # the backbone is fixed: compute its features once and
                # train only the new linear head on them
                feats = [Split(predict(nn.Sequential(model.features,
                                                     *model.head[:-1]), s.x),
                               s.y) for s in (labelled, monitor)]
                head, _ = trainer.train(
                    f"{method}, {n} labels", f"transfer-frozen-{n}",
                    model.head[-1], *feats, recipe, seed, None,
                    {**key, "method": method}, keep_best=False)
                model.head[-1] = head
            else:
                model, _ = trainer.train(
                    f"{method}, {n} labels",
                    f"transfer-{method.split()[0]}-{n}", model, labelled,
                    monitor, recipe, seed, pre.augmentation(seed),
                    {**key, "method": method},
                    channels_last=True, keep_best=False)
            accs[method] = evaluate(model, target_test)[1]
        results[str(n)] = accs
    return {"backbone": backbone, "test_acc": results,
            "source_test_acc": evaluate(backbone, classes_subset(
                data.test, list(t.source)))[1]}


def run_entry(spec: Run, trainer: Trainer, trained: dict,
              seeds: list[int]) -> dict:
    """A run's entry in ``metrics.json``: its size, and every seed's
    curves and test results."""
    model = trained[spec.training, seeds[0]][0]
    data = trainer.data_for(spec.training)
    return {
        "name": spec.name, "slug": spec.slug, "groups": list(spec.groups),
        "params": count_params(model),
        "macs": count_macs(model, tuple(data.test.x.shape[1:])),
        "epochs": trainer.recipe(RECIPES[spec.training.recipe]).epochs,
        "flip_tta": spec.flip_tta, "shift_tta": spec.shift_tta,
        "seeds": [seed_result(spec, seed, *trained[spec.training, seed],
                              data.test, len(trainer.data.classes))
                  for seed in seeds],
    }


def search_results(trainer: Trainer, slug: str, trained: dict) -> dict:
    """Train the probes of :data:`runs.SEARCH` for run ``slug`` with seed 0
    and record what each changed and its validation accuracy (the kept
    epoch's) beside the run's own."""
    base = RUNS[slug].training

    def record(history: History) -> dict:
        best = history.best_epoch or len(history.test_acc)
        return {"val_acc": history.test_acc[best - 1], "best_epoch": best,
                "seconds": round(history.seconds, 1)}

    probes = []
    for probe in SEARCH[slug]:
        changed = {k: v for k, v in asdict(probe).items()
                   if asdict(base)[k] != v}
        probes.append({"change": changed,
                       **record(trainer.run(probe, 0)[1])})
    base_result = trained.get((base, 0)) or trainer.run(base, 0)
    return {"seed": 0, "split": "validation",
            "base": record(base_result[1]), "probes": probes}


def save_ladder_weights(specs, trained: dict, args: argparse.Namespace
                        ) -> None:
    """Save seed 0's weights of the ladder rungs among ``specs`` as
    ``weights/<slug>.pt`` (rungs that share a training share one file)."""
    seed = args.seeds[0]
    for spec in specs:
        if "ladder" not in spec.groups or weights_slug(spec) != spec.slug:
            continue
        cache.save_weights(trained[spec.training, seed][0],
                           args.out_dir / cache.weights_file(spec.slug))


def existing_metrics(out_dir: Path, option: str) -> dict:
    """The metrics of the cache in ``out_dir``, which ``option`` updates;
    a message if there is none."""
    path = out_dir / cache.ARTEFACTS["metrics"]
    if not path.is_file():
        raise CIFARDataError(
            f"{option} updates an existing cache, and {path} does not "
            f"exist: run without {option} first")
    return json.loads(path.read_text())


def same_data(source, metrics: dict, args: argparse.Namespace,
              option: str) -> dict:
    """The digest of ``source``, which must be the data the cache was made
    from."""
    digest = dataset_digest(source)
    if digest != metrics["data"]["sha256"]:
        raise CIFARDataError(
            f"the cache in {args.out_dir} was made from other data "
            f"({metrics['data']['sha256']}), not {source.path} ({digest}): "
            f"regenerate it whole, without {option}")
    return digest


def rewrite_manifest(out_dir: Path, command: str, digest: dict) -> None:
    """Rewrite the manifest of the files present, appending ``command`` to
    the one recorded (unless it was the last one already)."""
    before = json.loads((out_dir / cache.MANIFEST).read_text())["command"]
    command = before if before.endswith(command) else f"{before} && {command}"
    cache.write_manifest(out_dir, command, digest)


def figures_only(args: argparse.Namespace, command: str) -> dict:
    """Re-render every cached figure from the cached CNN's weights and the
    test images (only they are decoded) and rewrite the manifest; nothing
    is trained. Files of an older cache are moved to their current names
    first (:func:`cache.adopt_legacy_names`)."""
    start = time.perf_counter()
    metrics = existing_metrics(args.out_dir, "--figures-only")
    moved = cache.adopt_legacy_names(args.out_dir)
    images, source = cifar10_images(args.images or args.data_dir,
                                    download=args.download,
                                    progress=not args.no_progress,
                                    splits=("test",))
    digest = same_data(source, metrics, args, "--figures-only")
    norm = cache.normalization(cache.CifarCache(args.out_dir,
                                                metrics=metrics))
    data = Prepared(images.train, images.train, norm.apply(images.test),
                    norm, images.classes)
    cnn_run = next(r for r in RUNS.values() if r.slug == "cnn")
    cnn = cache.read_weights(cnn_run.training.build(0),
                             args.out_dir / cache.ARTEFACTS["cnn"])
    write_figures(cnn, data, args.out_dir)
    rewrite_manifest(args.out_dir, command, digest)
    return {"moved": moved,
            "wall_seconds": round(time.perf_counter() - start, 1)}


def run_selected(args: argparse.Namespace, command: str) -> dict:
    """Train the runs ``args.runs`` (every seed, and their search) and
    update their entries, weights and the manifest of the existing cache
    in ``args.out_dir``; everything else in it is kept."""
    start = time.perf_counter()
    metrics = existing_metrics(args.out_dir, "--runs")
    cache.adopt_legacy_names(args.out_dir)
    images, source = cifar10_images(args.images or args.data_dir,
                                    download=args.download,
                                    progress=not args.no_progress)
    digest = same_data(source, metrics, args, "--runs")
    trainer = Trainer(prepare(images, args.val_fraction), args, digest)
    specs = [run for run in RUNS.values() if run.slug in args.runs]
    needed = list(dict.fromkeys(spec.training for spec in specs))
    trainer.check(needed + [probe for slug in args.runs
                            for probe in SEARCH.get(slug, ())],
                  transfer=False)
    trained = {(training, seed): trainer.run(training, seed)
               for seed in args.seeds for training in needed}
    for slug in SEARCH:
        if slug in args.runs:
            metrics.setdefault("search", {})[slug] = search_results(
                trainer, slug, trained)
    for spec in specs:
        metrics["runs"][spec.slug] = run_entry(spec, trainer, trained,
                                               args.seeds)
    order = list(RUNS)
    metrics["runs"] = dict(sorted(metrics["runs"].items(),
                                  key=lambda item: order.index(item[0])))
    metrics["training"]["recipes"] = {k: asdict(trainer.recipe(r))
                                      for k, r in RECIPES.items()}
    save_ladder_weights(specs, trained, args)
    (args.out_dir / cache.ARTEFACTS["metrics"]).write_text(
        json.dumps(metrics, indent=1) + "\n")
    rewrite_manifest(args.out_dir, command, digest)
    metrics["wall_seconds"] = round(time.perf_counter() - start, 1)
    return metrics


def write_figures(cnn: nn.Module, data: Prepared, out_dir: Path) -> None:
    """Render every cached picture of test images from the trained CNN."""
    figures.use_book_style()
    test, classes, undo = data.test, list(data.classes), data.norm.undo
    first_of_class = [int((test.y == c).nonzero()[0])
                      for c in range(len(classes))]
    # two test images per class (the test set may be ordered by class)
    two_per_class = [int(i) for c in range(len(classes))
                     for i in (test.y == c).nonzero()[:2, 0]]
    predicted = predict(cnn, test.x[two_per_class]).argmax(1)
    conv1, conv2 = cnn.conv1, cnn.conv2
    shown = test.x[first_of_class[:FEATURE_MAP_IMAGES]]
    maps = activations.feature_maps(cnn, shown, {"conv1": conv1,
                                                 "conv2": conv2})
    channels = range(FEATURE_MAP_CHANNELS)
    pictures = {
        "samples": figures.image_grid(
            undo(test.x[first_of_class]), classes, ncols=5, tile=1.38,
            scale_rgb=False),
        "predictions": figures.image_grid(
            undo(test.x[two_per_class]),
            [classes[int(p)] if p == t else
             f"{classes[int(p)]}\n(true: {classes[int(t)]})"
             for p, t in zip(predicted, test.y[two_per_class])],
            ncols=5, tile=1.38, scale_rgb=False),
    }
    for layer in ("conv1", "conv2"):
        tiles, titles, signed = [], [], []
        for i in range(len(shown)):
            tiles += [undo(shown[i]), *maps[layer][i, :len(channels)]]
            titles += [classes[int(test.y[first_of_class[i]])],
                       *(f"ch {c}" for c in channels)]
            signed += [False] + [True] * len(channels)
        pictures[f"maps_{layer}"] = figures.image_grid(
            tiles, titles, ncols=len(channels) + 1, tile=0.76,
            signed=signed, scale_rgb=False)
    for layer_name, layer in (("conv1", conv1), ("conv2", conv2)):
        top = activations.top_patches(cnn, layer, test.x, PATCH_CHANNELS)
        tiles, titles = [], []
        for channel, (patches, _) in top.items():
            tiles += list(undo(patches))
            titles += figures.row_titles([f"ch {channel}"], len(patches))
        pictures[f"patches_{layer_name}"] = figures.image_grid(
            tiles, titles, ncols=9, tile=0.76, scale_rgb=False)
    visualised = {
        "features_conv2": attribution.visualise(
            attribution.channel_objective(cnn, conv2), conv2.out_channels),
        "features_classes": attribution.visualise(
            attribution.class_objective(cnn), len(classes)),
    }
    # each conv2 image, cropped to the centre unit's receptive field
    field = activations.receptive_field(activations.layers_until(cnn, conv2))
    first, last = field.window(test.x.shape[-1] // 4)   # conv2's centre
    first, last = max(first, 0), min(last, test.x.shape[-1])
    pictures["features_conv2"] = figures.image_grid(
        undo(visualised["features_conv2"])[..., first:last, first:last],
        [f"ch {c}" for c in range(conv2.out_channels)], ncols=11,
        tile=0.62, scale_rgb=False)
    pictures["features_classes"] = figures.image_grid(
        undo(visualised["features_classes"]), classes, ncols=5, tile=1.38,
        scale_rgb=False)
    for key, fig in pictures.items():
        fig.savefig(out_dir / cache.ARTEFACTS[key])


def training_order(seeds: list[int]) -> list[tuple[Training, int]]:
    """Every (training, seed), seed by seed; within a seed the GAP network
    first, whose results take longest to come by."""
    return [(t, seed) for seed in seeds
            for t in sorted(trainings(), key=lambda t: t.model != "GapCNN")]


def run(args: argparse.Namespace, command: str) -> dict:
    """Train every run and write the cache; returns the metrics.
    ``command`` is recorded in the manifest as what produced the cache."""
    start = time.perf_counter()
    location = args.images or args.data_dir
    images, source = cifar10_images(location, download=args.download,
                                    progress=not args.no_progress)
    sample = first_of_each_class(images.test.y, SAMPLE_PER_CLASS)
    digest = dataset_digest(source)
    data = prepare(images, args.val_fraction)
    decoded = time.perf_counter() - start
    trainer = Trainer(data, args, digest)
    probes = [probe for found in SEARCH.values() for probe in found]
    trainer.check(trainings() + probes, transfer=not args.no_transfer)
    trained = {(t, seed): trainer.run(t, seed)
               for t, seed in training_order(args.seeds)}
    transfer = ({} if args.no_transfer else
                {seed: train_transfer(trainer, seed) for seed in args.seeds})
    results = {slug: run_entry(spec, trainer, trained, args.seeds)
               for slug, spec in RUNS.items()}
    search = {slug: search_results(trainer, slug, trained) for slug in SEARCH}
    cnn_training = RUNS["cnn"].training
    checks = [{"seed": seed, **attribution.sanity_checks(
        trained[cnn_training, seed][0], data.test.x[sample],
        data.test.y[sample])} for seed in args.seeds]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"x": images.test.x[sample], "y": images.test.y[sample],
                "index": sample}, args.out_dir / cache.ARTEFACTS[
                    "test_sample"])
    cnn = trained[RUNS["cnn"].training, args.seeds[0]][0]
    save_ladder_weights(RUNS.values(), trained, args)
    if transfer:
        cache.save_weights(transfer[args.seeds[0]]["backbone"],
                           args.out_dir / cache.weights_file("transfer"))
    write_figures(cnn, data, args.out_dir)
    metrics = {
        "runs": results,
        "search": search,
        "transfer": {
            "source_classes": [data.classes[c] for c in TRANSFER.source],
            "target_classes": [data.classes[c] for c in TRANSFER.target],
            "labels_per_class": list(args.transfer_labels),
            "methods": list(TRANSFER.methods),
            "recipe": {str(n): asdict(trainer.transfer_recipe(
                n * len(TRANSFER.target))) for n in args.transfer_labels},
            "seeds": [{"seed": seed, "source_test_acc": r["source_test_acc"],
                       "test_acc": r["test_acc"]}
                      for seed, r in transfer.items()],
        } if transfer else None,
        "attribution": {"model": "CNN", "images": len(sample),
                        "seeds": checks},
        "classes": list(data.classes),
        "data": {
            "source": source.kind, "path": str(location),
            "sha256": digest,
            "note": JPEG_NOTE if source.kind != "python-release" else
            "the original python release of CIFAR-10",
            "fit_size": len(data.fit), "val_size": len(data.val),
            "test_size": len(data.test),
            "normalization": asdict(data.norm),
            "normalization_from": "the images used for fitting",
        },
        "training": {
            "recipes": {k: asdict(trainer.recipe(r))
                        for k, r in RECIPES.items()},
            "seeds": list(args.seeds), "permutation_seed": 0,
            "selection": "weights of the epoch with the best validation "
                         "accuracy",
            "augmentation": "random crop with 4-pixel zero padding + "
                            "horizontal flip, drawn per image",
            "train_metrics_on": f"{len(data.val)} fixed training images",
            "weights": "rounded to float16 after training, as stored; "
                       "every ladder number is measured on the rounded "
                       "model",
        },
        "device": str(trainer.device), "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "decode_seconds": round(decoded, 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    (args.out_dir / cache.ARTEFACTS["metrics"]).write_text(
        json.dumps(metrics, indent=1) + "\n")
    cache.write_manifest(args.out_dir, command, digest)
    return metrics


def main(args: argparse.Namespace, command: str) -> int:
    """Run the checked command line ``args`` (:func:`cli.parse_args`);
    bad data stops with a message and exit code 2, before any training."""
    location = args.images or args.data_dir
    task = (figures_only if args.figures_only else
            run_selected if args.runs else run)
    try:
        metrics = task(args, command)
    except (CIFARDataMissing, CIFARDataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if not args.download:
            raise
        print(f"error: could not download CIFAR-10 ({err}).\n"
              f"{cifar10_missing_message(location)}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # torchvision's md5 check failed
        if "corrupted" not in str(err):
            raise
        print(f"error: {err}\nDelete {location / CIFAR10_FOLDER} and "
              f"fetch it again.\n{cifar10_missing_message(location)}",
              file=sys.stderr)
        return 2
    if args.figures_only:
        for move in metrics["moved"]:
            print(f"moved {move}")
        print(f"re-rendered the figures and the manifest of {args.out_dir}/ "
              f"in {metrics['wall_seconds']} s")
        return 0
    for slug, m in metrics["runs"].items():
        if args.runs and slug not in args.runs:
            continue
        accs = ", ".join(f"{100 * s['test_acc']:.1f}" for s in m["seeds"])
        print(f"{m['name']}: {m['params']:,} parameters, test accuracy "
              f"{accs} %")
    print(f"wrote {args.out_dir}/ in {metrics['wall_seconds']} s")
    return 0
