"""Train the book's CIFAR-10 models once and write the cached results.

    python -m cnn_tutorial.cifar --images ../shared/data/cifar10-jpeg.tar.gz

Seven runs with one protocol (:data:`RUNS`): the MLP and the CNN (the
verdict), both again on pixel-permuted images (locality), and the CNN with
BatchNorm, with augmentation and with both (real-world data). Each trains on
the training images minus a stratified validation split; the schedule's
epoch is chosen on that validation split, and the test set is evaluated
once, at the end. Finished runs are kept in ``--work-dir`` and reused when
the command is repeated with the same settings.

The book never runs this: it reads what this writes (``book/_static/cifar``
by default) through :mod:`cnn_tutorial.artifacts`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import shlex
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torchvision
from torch import nn

from . import activations, artifacts, figures
from .data import (
    CIFAR10_FOLDER,
    CIFARDataError,
    CIFARDataMissing,
    CifarSource,
    Dataset,
    Normalization,
    Split,
    cifar10_images,
    cifar10_missing_message,
    hold_out,
)
from .models import cifar_cnn, cifar_mlp
from .params import count_params
from .train import History, evaluate, fit, predict
from .transforms import crop_flip, permute_pixels, pixel_permutation

DEFAULT_OUT = artifacts.CACHE_DIR
DEFAULT_WORK = Path("data/cifar-runs")
JPEG_NOTE = ("the JPEG copy of CIFAR-10 (the original images re-encoded at "
             "quality 75 with 4:2:0 chroma subsampling, so pixel values "
             "differ slightly from the original release)")


@dataclass(frozen=True)
class Run:
    """One training run: which model, and what is done to the data."""

    model: str                 # "MLP" or "CNN"
    batch_norm: bool = False
    augment: bool = False
    permuted: bool = False

    def build(self, seed: int) -> nn.Module:
        if self.model == "MLP":
            return cifar_mlp(seed)
        return cifar_cnn(batch_norm=self.batch_norm, seed=seed)


RUNS = {
    "MLP": Run("MLP"),
    "CNN": Run("CNN"),
    "MLP, permuted pixels": Run("MLP", permuted=True),
    "CNN, permuted pixels": Run("CNN", permuted=True),
    "CNN + BatchNorm": Run("CNN", batch_norm=True),
    "CNN + augmentation": Run("CNN", augment=True),
    "CNN + BatchNorm + augmentation": Run("CNN", batch_norm=True,
                                          augment=True),
}
# Conv channels whose most-activating patches are shown (the first six:
# no hand-picking).
PATCH_CHANNELS = list(range(6))
FEATURE_MAP_IMAGES = 3
FEATURE_MAP_CHANNELS = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_tutorial.cifar",
        description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--images", type=Path,
        help="an image-folder tree train/<class>/*, test/<class>/*, "
             "unpacked or as a .tar.gz (e.g. ../shared/data/"
             "cifar10-jpeg.tar.gz)")
    source.add_argument(
        "--data-dir", type=Path,
        help=f"a folder holding {CIFAR10_FOLDER}/ (the python release)")
    parser.add_argument("--download", action="store_true",
                        help="with --data-dir: download the python release "
                             "(about 170 MB) if absent")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT,
                        help=f"where to write the cache (default: "
                             f"{DEFAULT_OUT})")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK,
                        help="where finished runs are kept for reuse "
                             f"(default: {DEFAULT_WORK})")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=("cosine", "constant"),
                        default="cosine")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of the training images held out for "
                             "validation (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda, or auto (cuda if available)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the tqdm progress bars")
    args = parser.parse_args(argv)
    if args.download and args.images:
        parser.error("--download fetches the python release: use it with "
                     "--data-dir, not --images")
    if args.images is None and args.data_dir is None:
        args.data_dir = Path("data")
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be in (0, 1), got "
                     f"{args.val_fraction}")
    return args


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def dataset_digest(source: CifarSource) -> dict[str, str]:
    """sha256 of the files that identify the data: the archive or the
    pickles, or for an unpacked tree one digest over every path and file."""
    if source.files:
        return {p.name: artifacts.sha256(p) for p in source.files}
    digest = hashlib.sha256()
    for file in sorted(source.path.glob("*/*/*")):
        digest.update(str(file.relative_to(source.path)).encode())
        digest.update(artifacts.sha256(file).encode())
    return {f"{source.path.name}/ (every path and file)": digest.hexdigest()}


@dataclass
class Prepared:
    """The standardised splits every run trains and is judged on."""

    fit: Split
    val: Split
    test: Split
    norm: Normalization
    classes: tuple[str, ...]


def prepare(images: Dataset, val_fraction: float, seed: int) -> Prepared:
    """Hold out a stratified validation split, then standardise all splits
    with the per-channel statistics of the images used for fitting."""
    n_val = round(val_fraction * len(images.train))
    n_classes = len(images.classes)
    if n_val < n_classes or len(images.train) - n_val < n_classes:
        raise CIFARDataError(
            f"{len(images.train)} training images are too few to hold out "
            f"a stratified validation split of {n_val} over {n_classes} "
            "classes")
    fit_raw, val_raw = hold_out(images.train, n_val, seed)
    norm = Normalization.of(fit_raw.x)
    return Prepared(norm.apply(fit_raw), norm.apply(val_raw),
                    norm.apply(images.test), norm, images.classes)


def permuted(data: Prepared, seed: int) -> Prepared:
    """``data`` with one fixed pixel permutation applied to every split."""
    perm = pixel_permutation(*data.fit.x.shape[2:], seed)
    fit_, val, test = (Split(permute_pixels(s.x, perm), s.y)
                       for s in (data.fit, data.val, data.test))
    return replace(data, fit=fit_, val=val, test=test)


def run_key(name: str, args: argparse.Namespace, digest: dict) -> str:
    """Everything a finished run depends on, as a string."""
    settings = {k: getattr(args, k) for k in (
        "epochs", "batch_size", "lr", "schedule", "val_fraction", "seed")}
    return json.dumps({"run": asdict(RUNS[name]), **settings,
                       "data": digest}, sort_keys=True)


def train_run(name: str, data: Prepared, args: argparse.Namespace,
              device: torch.device, digest: dict
              ) -> tuple[nn.Module, History]:
    """Train one run on ``data`` (already permuted for a permuted run), or
    load it from ``--work-dir`` if it was already trained with the same
    settings on the same data."""
    spec = RUNS[name]
    model = spec.build(args.seed)
    key = run_key(name, args, digest)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    saved = args.work_dir / f"{slug}.pt"
    if saved.is_file():
        state = torch.load(saved, weights_only=False)
        if state["key"] == key:
            model.load_state_dict(state["state_dict"])
            print(f"{name}: reusing {saved}")
            return model, History(**state["history"])
    print(f"{name}: training {count_params(model):,} parameters")
    history = fit(model, data.fit, data.val, epochs=args.epochs, lr=args.lr,
                  batch_size=args.batch_size, seed=args.seed,
                  augment=crop_flip(seed=args.seed) if spec.augment
                  else None,
                  progress=not args.no_progress, device=device,
                  schedule=args.schedule, keep_best=True,
                  train_eval_size=len(data.val))
    model.cpu()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"key": key, "state_dict": model.state_dict(),
                "history": history.as_dict()}, saved)
    return model, history


def judge(model: nn.Module, test: Split, n_classes: int) -> dict:
    """Test loss and accuracy (the one look at the test set), per-class
    accuracy and the confusion matrix."""
    loss, acc = evaluate(model, test)
    predicted = predict(model, test.x).argmax(1)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    confusion.index_put_((test.y, predicted),
                         torch.ones_like(test.y), accumulate=True)
    per_class = confusion.diag() / confusion.sum(1)
    return {"test_loss": loss, "test_acc": acc,
            "per_class_acc": per_class.tolist(),
            "confusion": confusion.tolist()}


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
    conv1, conv2 = cnn.block1[0], cnn.block2[0]
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
            titles += [f"ch {channel}"] + [""] * (len(patches) - 1)
        pictures[f"patches_{layer_name}"] = figures.image_grid(
            tiles, titles, ncols=9, tile=0.76, scale_rgb=False)
    for key, fig in pictures.items():
        fig.savefig(out_dir / artifacts.ARTEFACTS[key])


def run(args: argparse.Namespace, command: str) -> dict:
    """Train every run and write the cache; returns the metrics.
    ``command`` is recorded in the manifest as what produced the cache."""
    start = time.perf_counter()
    device = resolve_device(args.device)
    location = args.images or args.data_dir
    images, source = cifar10_images(location, download=args.download,
                                    progress=not args.no_progress)
    digest = dataset_digest(source)
    data = prepare(images, args.val_fraction, args.seed)
    decoded = time.perf_counter() - start
    results, cnn, scrambled = {}, None, None
    for name, spec in RUNS.items():
        if spec.permuted and scrambled is None:
            scrambled = permuted(data, args.seed)
        run_data = scrambled if spec.permuted else data
        model, history = train_run(name, run_data, args, device, digest)
        test = run_data.test
        results[name] = {
            "params": count_params(model),
            "train_loss": history.train_loss,
            "train_acc": history.train_acc,
            "val_loss": history.test_loss, "val_acc": history.test_acc,
            "best_epoch": history.best_epoch,
            "seconds": round(history.seconds, 1),
            **judge(model, test, len(data.classes)),
        }
        if name == "CNN":
            cnn = model
    args.out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(cnn.state_dict(), args.out_dir / artifacts.ARTEFACTS["cnn"])
    write_figures(cnn, data, args.out_dir)
    metrics = {
        "runs": results,
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
            "optimizer": "Adam", "lr": args.lr, "schedule": args.schedule,
            "epochs": args.epochs, "batch_size": args.batch_size,
            "seed": args.seed, "permutation_seed": args.seed,
            "selection": "weights of the epoch with the best validation "
                         "accuracy",
            "augmentation": "random crop with 4-pixel zero padding + "
                            "horizontal flip, drawn per image",
            "train_metrics_on": f"{len(data.val)} fixed training images",
        },
        "device": str(device), "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "decode_seconds": round(decoded, 1),
        "train_seconds": round(sum(r["seconds"] for r in results.values()),
                               1),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    (args.out_dir / artifacts.ARTEFACTS["metrics"]).write_text(
        json.dumps(metrics, indent=1) + "\n")
    artifacts.write_manifest(args.out_dir, command, digest)
    return metrics


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python -m cnn_tutorial.cifar " + shlex.join(argv)
    location = args.images or args.data_dir
    try:
        metrics = run(args, command)
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
    for name, m in metrics["runs"].items():
        print(f"{name}: {m['params']:,} parameters, epoch {m['best_epoch']} "
              f"kept, test accuracy {100 * m['test_acc']:.1f} %")
    print(f"wrote {args.out_dir}/ in {metrics['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
