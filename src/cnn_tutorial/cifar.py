"""Train the MLP and the CNN on CIFAR-10 and write the book's cached
figures, metrics and manifest.

    python -m cnn_tutorial.cifar --data-dir data --download

The book never runs this: it reads what this writes (``book/_static/cifar``
by default) through :mod:`cnn_tutorial.artifacts`.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
import torchvision

from . import activations, artifacts, figures
from .data import (
    CIFAR10_FILES, CIFAR10_FOLDER, CIFARDataMissing, cifar10,
    cifar10_missing_message, denormalize_cifar,
)
from .models import cifar_models
from .params import count_params
from .train import fit, predict

DEFAULT_OUT = Path("book/_static/cifar")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_tutorial.cifar", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="folder holding cifar-10-batches-py/ "
                             "(default: ./data)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT,
                        help=f"where to write the cache (default: "
                             f"{DEFAULT_OUT})")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda, or auto (cuda if available)")
    parser.add_argument("--download", action="store_true",
                        help="download CIFAR-10 (about 170 MB) if absent")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the tqdm progress bars")
    return parser.parse_args(argv)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def write_figures(models, data, out_dir: Path, histories) -> None:
    """Render every cached PNG from the trained models."""
    test = data.test
    classes = list(data.classes)
    first_of_class = [int((test.y == c).nonzero()[0]) for c in range(10)]
    shown = denormalize_cifar(test.x[first_of_class])
    cnn = models["CNN"]
    preds = {name: predict(m, test.x).argmax(1) for name, m in models.items()}
    sample = test.x[:16]
    conv1 = activations.filters(cnn.conv1)
    maps = activations.feature_maps(cnn, test.x[:1], {"conv1": cnn.conv1})
    pictures = {
        "samples": figures.image_grid(shown, classes, ncols=10, tile=1.0,
                                      scale_rgb=False,
                                      suptitle="CIFAR-10: one test image "
                                               "per class"),
        "curves": figures.plot_learning_curves(histories),
        "confusion": figures.plot_confusion(test.y, preds["CNN"], classes),
        "filters": figures.image_grid(conv1, ncols=8, suptitle=(
            "CNN conv1: 32 filters of 3x3x3 as RGB tiles (scaled per tile)")),
        "feature_maps": figures.image_grid(
            maps["conv1"][0], ncols=8, signed=True, suptitle=(
                f"conv1 feature maps of one test image "
                f"({classes[int(test.y[0])]})")),
        "predictions": figures.image_grid(
            denormalize_cifar(sample),
            [f"{classes[int(p)]}\n(true: {classes[int(t)]})"
             for p, t in zip(preds["CNN"][:16], test.y[:16])],
            ncols=8, tile=1.3, scale_rgb=False,
            suptitle="CNN predictions on test images"),
    }
    for key, fig in pictures.items():
        fig.savefig(out_dir / artifacts.ARTEFACTS[key])


def run(args: argparse.Namespace, command: str) -> dict:
    """Train both models and write the cache; returns the metrics.
    ``command`` is recorded in the manifest as what produced the cache."""
    start = time.perf_counter()
    device = resolve_device(args.device)
    data = cifar10(args.data_dir, download=args.download)
    models = cifar_models(args.seed)
    histories = {
        name: fit(model, data.train, data.test, epochs=args.epochs,
                  lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                  progress=not args.no_progress, device=device)
        for name, model in models.items()
    }
    for model in models.values():
        model.cpu()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_figures(models, data, args.out_dir, histories)
    metrics = {
        "models": {
            name: {"params": count_params(models[name]),
                   **histories[name].as_dict()}
            for name in models
        },
        "seed": args.seed, "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr,
        "device": str(device), "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "train_size": len(data.train), "test_size": len(data.test),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    (args.out_dir / artifacts.ARTEFACTS["metrics"]).write_text(
        json.dumps(metrics, indent=2) + "\n")
    artifacts.write_manifest(
        args.out_dir, command,
        [args.data_dir / CIFAR10_FOLDER / f for f in CIFAR10_FILES])
    return metrics


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python -m cnn_tutorial.cifar " + shlex.join(argv)
    try:
        metrics = run(args, command)
    except CIFARDataMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if not args.download:
            raise
        print(f"error: could not download CIFAR-10 ({err}).\n"
              f"{cifar10_missing_message(args.data_dir)}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # torchvision's md5 check failed
        if "corrupted" not in str(err):
            raise
        print(f"error: {err}\nDelete {args.data_dir / CIFAR10_FOLDER} and "
              f"fetch it again.\n{cifar10_missing_message(args.data_dir)}",
              file=sys.stderr)
        return 2
    for name, m in metrics["models"].items():
        print(f"{name}: {m['params']:,} parameters, "
              f"test accuracy {100 * m['test_acc'][-1]:.1f} %")
    print(f"wrote {args.out_dir}/ in {metrics['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
