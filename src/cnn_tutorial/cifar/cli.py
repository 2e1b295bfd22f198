"""Train the book's CIFAR-10 runs once and write the cached results.

    python -m cnn_tutorial.cifar --images ../shared/data/cifar10-jpeg.tar.gz

The command line of :mod:`.pipeline`. Every argument is checked here,
before PyTorch is imported: a mistyped call stops at once with a message
and exit code 2. What the data decides (enough images for each schedule
and for the transfer experiment) is checked after decoding, before any
training.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import cache
from .names import CIFAR10_FOLDER, SHARED_ARCHIVE
from .runs import RUNS, SEEDS, TRANSFER

DEFAULT_WORK = Path("data/cifar-runs")


def at_least(low: int, what: str):
    """An argparse type: an integer >= ``low``; the error names ``what``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(
                f"{value} is not {what} (an integer >= {low})")
        return value
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_tutorial.cifar",
        description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--images", type=Path,
        help="an image-folder tree train/<class>/*, test/<class>/*, "
             f"unpacked or as a .tar.gz (e.g. {SHARED_ARCHIVE})")
    source.add_argument(
        "--data-dir", type=Path,
        help=f"a folder holding {CIFAR10_FOLDER}/ (the python release)")
    parser.add_argument("--download", action="store_true",
                        help="with --data-dir: download the python release "
                             "(about 170 MB) if absent")
    parser.add_argument("--out-dir", type=Path, default=cache.CACHE_DIR,
                        help=f"where to write the cache (default: "
                             f"{cache.CACHE_DIR})")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK,
                        help="where finished trainings are kept for reuse "
                             f"(default: {DEFAULT_WORK})")
    parser.add_argument("--seeds", type=at_least(0, "a seed"), nargs="+",
                        default=list(SEEDS),
                        help="training seeds (default: %(default)s)")
    parser.add_argument("--runs", nargs="+", metavar="SLUG",
                        choices=[run.slug for run in RUNS.values()],
                        help="train only these runs (and their search) and "
                             "update their entries in an existing cache; "
                             "the others, the transfer experiment and the "
                             "figures are kept as they are")
    parser.add_argument("--figures-only", action="store_true",
                        help="train nothing: re-render the cached figures "
                             "from the cached CNN's weights and the test "
                             "images, and rewrite the manifest")
    parser.add_argument("--epochs", type=at_least(1, "a number of epochs"),
                        help="override every recipe's epochs, the transfer "
                             "runs' included (quick checks only; the book's "
                             "runs use the recipes')")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of the training images held out for "
                             "validation (default: 0.1)")
    parser.add_argument("--no-transfer", action="store_true",
                        help="skip the transfer-learning experiment")
    parser.add_argument("--transfer-labels", nargs="+",
                        type=at_least(1, "a number of labels"),
                        default=list(TRANSFER.labels_per_class),
                        help="labels per target class in the transfer "
                             "experiment (default: %(default)s)")
    parser.add_argument("--transfer-steps",
                        type=at_least(1, "a number of steps"),
                        help="training steps of every transfer run "
                             f"(default: {TRANSFER.steps}; with --epochs, "
                             "that many epochs instead)")
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
    for option in ("seeds", "transfer_labels"):
        values = getattr(args, option)
        if len(set(values)) < len(values):
            parser.error(f"--{option.replace('_', '-')} lists a value "
                         f"twice: {' '.join(map(str, values))}")
    if args.epochs is not None and args.transfer_steps is not None:
        parser.error("--epochs sets the transfer runs' length too: give "
                     "--epochs or --transfer-steps, not both")
    if args.transfer_steps is None:
        args.transfer_steps = TRANSFER.steps
    if args.figures_only and args.runs:
        parser.error("--figures-only trains nothing: it cannot go with "
                     "--runs")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python -m cnn_tutorial.cifar " + shlex.join(argv)
    from . import pipeline  # PyTorch, only for a call that makes sense

    return pipeline.main(args, command)
