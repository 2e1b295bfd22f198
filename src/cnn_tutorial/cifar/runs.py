"""The CIFAR-10 runs, declared once: what each trains, how it is judged,
its name on the pages, its slug (file and glue names), its group and the
seeds it is trained with. Everything else derives from :data:`RUNS`."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from ..models import cifar_cnn, cifar_gap_cnn, cifar_mlp
from ..train import Recipe

SEEDS = (0, 1, 2)
EPOCHS = 15
RECIPES = {
    # the tutorial's recipe: Adam, cosine decay to 0
    "adam": Recipe(epochs=EPOCHS, batch_size=128, lr=1e-3,
                   schedule="cosine"),
    # the ladder's better optimiser and schedule
    "sgd": Recipe(epochs=EPOCHS, batch_size=128, lr=0.1,
                  optimizer="sgd-nesterov", schedule="one-cycle",
                  weight_decay=5e-4, label_smoothing=0.1),
}
MODELS = {"MLP": cifar_mlp, "CNN": cifar_cnn, "GapCNN": cifar_gap_cnn}


@dataclass(frozen=True)
class Training:
    """What one training run does; runs that share it share the trained
    weights (e.g. a rung that only changes how the model is evaluated)."""

    model: str                   # a key of MODELS
    batch_norm: bool = False     # the 2-block CNN only (GapCNN always has it)
    augment: bool = False        # random crop (4-pixel padding) + flip
    permuted: bool = False       # one fixed pixel permutation everywhere
    recipe: str = "adam"         # a key of RECIPES
    channels_last: bool = False  # memory layout: faster, not bit-identical

    @property
    def slug(self) -> str:
        parts = [self.model.lower()]
        parts += [flag for flag, on in (("bn", self.batch_norm),
                                        ("aug", self.augment),
                                        ("perm", self.permuted)) if on]
        return "-".join(parts + [self.recipe])

    def build(self, seed: int) -> nn.Module:
        if self.model == "CNN":
            return cifar_cnn(batch_norm=self.batch_norm, seed=seed)
        return MODELS[self.model](seed)

    def as_key(self) -> dict:
        return {**asdict(self), "recipe": asdict(RECIPES[self.recipe])}


@dataclass(frozen=True)
class Run:
    """A row of the pages: a training, and how its model is judged."""

    name: str                    # as in metrics.json and on the pages
    slug: str                    # glue names: cifar_<slug>_...
    training: Training
    groups: tuple[str, ...]
    flip_tta: bool = False       # average with the mirrored image's logits


# Convolutional networks train in the channels-last memory layout (faster
# on CPU; `make bench` measures it); the MLP has no convolution to speed up.
_CNN = Training("CNN", channels_last=True)
_BOTH = Training("CNN", batch_norm=True, augment=True, channels_last=True)
_GAP_SGD = Training("GapCNN", augment=True, recipe="sgd", channels_last=True)
RUNS = {run.name: run for run in (
    Run("MLP", "mlp", Training("MLP"), ("verdict",)),
    Run("CNN", "cnn", _CNN, ("verdict", "ladder")),
    Run("MLP, permuted pixels", "mlp_perm", Training("MLP", permuted=True),
        ("locality",)),
    Run("CNN, permuted pixels", "cnn_perm",
        Training("CNN", permuted=True, channels_last=True), ("locality",)),
    Run("CNN + BatchNorm", "cnn_bn",
        Training("CNN", batch_norm=True, channels_last=True), ("ladder",)),
    Run("CNN + augmentation", "cnn_aug",
        Training("CNN", augment=True, channels_last=True), ("ladder",)),
    Run("CNN + BatchNorm + augmentation", "cnn_bn_aug", _BOTH, ("ladder",)),
    Run("GAP CNN (conv-heavy)", "gap",
        Training("GapCNN", augment=True, channels_last=True), ("ladder",)),
    Run("GAP CNN + SGD one-cycle", "gap_sgd", _GAP_SGD, ("ladder",)),
    Run("GAP CNN + SGD one-cycle + flip TTA", "gap_sgd_tta", _GAP_SGD,
        ("ladder",), flip_tta=True),
)}


def group(name: str) -> list[Run]:
    """The runs of one group, in declaration order."""
    return [run for run in RUNS.values() if name in run.groups]


def weights_slug(run: Run) -> str:
    """The slug the weights of ``run`` are saved under: that of the first
    run with the same training (rungs that only change evaluation share)."""
    return next(r.slug for r in RUNS.values() if r.training == run.training)


def trainings() -> list[Training]:
    """Every distinct training, in declaration order."""
    return list(dict.fromkeys(run.training for run in RUNS.values()))


@dataclass(frozen=True)
class Transfer:
    """Transfer learning, measured: pretrain the ladder's best network on
    ``source`` classes, then learn ``target`` classes from few labels."""

    source: tuple[int, ...] = (0, 1, 2, 3, 4)   # airplane .. deer
    target: tuple[int, ...] = (5, 6, 7, 8, 9)   # dog .. truck
    labels_per_class: tuple[int, ...] = (50, 500)
    methods: tuple[str, ...] = ("from scratch", "frozen backbone, new head",
                                "fine-tune everything")
    pretraining: Training = _GAP_SGD
    # one recipe for every method, not tuned per method; steps, not epochs,
    # are fixed so that 50 and 500 labels per class get the same updates
    steps: int = 400
    batch_size: int = 64
    lr: float = 0.05
    monitor_per_class: int = 50      # validation images drawn for curves

    def recipe(self, n_images: int, steps: int | None = None) -> Recipe:
        """The recipe for ``n_images`` labelled images: about ``steps``
        (default :attr:`steps`) updates, whatever the number of images."""
        per_epoch = (n_images - 1) // self.batch_size + 1
        steps = self.steps if steps is None else steps
        return Recipe(epochs=max(1, round(steps / per_epoch)),
                      batch_size=self.batch_size, lr=self.lr,
                      optimizer="sgd-nesterov", schedule="one-cycle",
                      weight_decay=5e-4)


TRANSFER = Transfer()
