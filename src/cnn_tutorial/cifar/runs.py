"""The CIFAR-10 runs, declared once: what each trains, how it is judged,
its name on the pages, its slug (file and glue names), its group and the
seeds it is trained with. Everything else derives from :data:`RUNS`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from ..recipe import Recipe

# PyTorch is imported only when a model is built: the command line checks
# its arguments against RUNS without it
if TYPE_CHECKING:
    import torch
    from torch import nn

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


def airbench(batch_size: int = 1024, **changes) -> Recipe:
    """airbench's recipe (Keller Jordan) for a loss averaged over a batch
    of ``batch_size``: Nesterov momentum 0.85 on the triangle schedule,
    biases at 64x the rate, label smoothing 0.2, bfloat16, and the rate
    and weight decay of its per-1024-examples hyperparameters (11.5 and
    0.0153 over 1 + 1/(1 - 0.85) kilo-steps): a rate of 1.5 per 1024
    images, and a step at the peak rate shrinks the weights by 0.002
    (airbench's 0.00200 per 1024 images, rounded)."""
    return Recipe(epochs=EPOCHS, batch_size=batch_size,
                  lr=1.5 * batch_size / 1024, optimizer="sgd-nesterov",
                  momentum=0.85, schedule="triangle",
                  weight_decay=0.002 / 1.5, label_smoothing=0.2,
                  bias_lr_scale=64, bf16=True, **changes)


RECIPES["fast"] = airbench()
# the first whitened runs' slip: weight decay about 680 times weaker than
# airbench's (1.95e-6); a search probe records what it cost
RECIPES["fast-slip"] = replace(RECIPES["fast"], weight_decay=1.95e-6)
RECIPES["fast-b256"] = airbench(256)        # four times the steps
for _name in ("fast", "fast-slip", "fast-b256"):
    RECIPES[f"{_name}-lookahead"] = replace(RECIPES[_name], lookahead=True)
# the networks, by their function in cnn_tutorial.models
MODELS = {"MLP": "cifar_mlp", "CNN": "cifar_cnn", "GapCNN": "cifar_gap_cnn",
          "Whitened": "cifar_whitened_cnn"}
# the augmentations, as arguments of transforms.crop_flip
AUGMENTATIONS: dict[str, dict] = {
    # 4-pixel zero-padded random crop + left-right flip (the standard one)
    "crop+flip": {"padding": 4},
    # airbench's: translation by up to 2 pixels, edges mirrored, + flip
    "shift+flip": {"padding": 2, "mode": "reflect"},
    # the same, each image mirrored in every other epoch (airbench's)
    "shift+altflip": {"padding": 2, "mode": "reflect", "alternate": True},
}
# images the whitening stem's filters are computed from (the first ones of
# the fitting split)
WHITENING_IMAGES = 5000
# What the cached figures show of the tutorial CNN: the first test images
# and the first conv channels, no hand-picking.
SAMPLE_PER_CLASS = 10      # cached test images: the first ones of each class
FEATURE_MAP_IMAGES = 3     # images whose feature maps are drawn
FEATURE_MAP_CHANNELS = 8   # channels drawn for each of them
PATCH_CHANNELS = list(range(6))   # channels whose top patches are drawn


@dataclass(frozen=True)
class Training:
    """What one training run does; runs that share it share the trained
    weights (e.g. a rung that only changes how the model is evaluated)."""

    model: str                   # a key of MODELS
    batch_norm: bool = False     # the 2-block CNN only (GapCNN always has it)
    augment: str = ""            # a key of AUGMENTATIONS, or none
    permuted: bool = False       # one fixed pixel permutation everywhere
    recipe: str = "adam"         # a key of RECIPES
    channels_last: bool = False  # memory layout: faster, not bit-identical
    activation: str = "gelu"     # Whitened only: "gelu" or "relu"
    whiten: bool = True          # Whitened only: False trains the 2x2 stem

    @property
    def slug(self) -> str:
        parts = [self.model.lower()]
        parts += [flag for flag, on in (("bn", self.batch_norm),
                                        ("aug", self.augment),
                                        ("perm", self.permuted)) if on]
        if self.model == "Whitened":
            parts += [p for p, on in (
                (self.augment, self.augment != "shift+flip"),
                (self.activation, self.activation != "gelu"),
                ("learned-stem", not self.whiten)) if on]
        return "-".join(parts + [self.recipe])

    def build(self, seed: int, images: torch.Tensor | None = None
              ) -> nn.Module:
        """The untrained model of ``seed``; the Whitened network computes
        its stem from ``images`` (the fitting split) when given."""
        from .. import models

        network = getattr(models, MODELS[self.model])
        if self.model == "CNN":
            return network(batch_norm=self.batch_norm, seed=seed)
        if self.model != "Whitened":
            return network(seed)
        model = network(seed, self.activation)
        if not self.whiten:
            model.stem[0].weight.requires_grad_(True)
        elif images is not None:
            model.whiten(images[:WHITENING_IMAGES])
        return model

    def augmentation(self, seed: int) -> Callable | None:
        from ..transforms import crop_flip

        if not self.augment:
            return None
        return crop_flip(seed=seed, **AUGMENTATIONS[self.augment])

    def as_key(self) -> dict:
        return {**asdict(self), "recipe": asdict(RECIPES[self.recipe])}


@dataclass(frozen=True)
class Run:
    """A row of the pages: a training, and how its model is judged."""

    name: str                    # its label on the pages
    slug: str                    # its identity: metrics.json, weights, glue
    training: Training
    groups: tuple[str, ...]
    flip_tta: bool = False       # average with the mirrored image's logits
    shift_tta: bool = False      # and with one-pixel shifts (six views)
    base: str | None = None      # the run it changes one thing of (slug)
    change: str = ""             # what that change is, on the pages
    color: str | None = None     # its colour in charts (None: a spare one)


# Convolutional networks train in the channels-last memory layout (faster
# on CPU; `make bench` measures it); the MLP has no convolution to speed up.
_CNN = Training("CNN", channels_last=True)
_CROP = "crop+flip"
_BOTH = Training("CNN", batch_norm=True, augment=_CROP, channels_last=True)
_GAP_SGD = Training("GapCNN", augment=_CROP, recipe="sgd",
                    channels_last=True)
_WHITE_LA = Training("Whitened", augment="shift+altflip",
                     recipe="fast-lookahead", channels_last=True)
_TTA = "flip test-time augmentation"
RUNS = {run.slug: run for run in (
    Run("MLP", "mlp", Training("MLP"), ("verdict",), color="#d95f02"),
    Run("CNN", "cnn", _CNN, ("verdict", "ladder", "real_world"),
        color="#1b9e77"),
    Run("MLP, permuted pixels", "mlp_perm", Training("MLP", permuted=True),
        ("locality",)),
    Run("CNN, permuted pixels", "cnn_perm",
        Training("CNN", permuted=True, channels_last=True), ("locality",)),
    Run("CNN + BatchNorm", "cnn_bn",
        Training("CNN", batch_norm=True, channels_last=True),
        ("ladder", "real_world"), base="cnn", change="BatchNorm",
        color="#7570b3"),
    Run("CNN + augmentation", "cnn_aug",
        Training("CNN", augment=_CROP, channels_last=True),
        ("ladder", "real_world"), base="cnn", change="augmentation",
        color="#e7298a"),
    Run("CNN + BatchNorm + augmentation", "cnn_bn_aug", _BOTH,
        ("ladder", "real_world"), base="cnn_bn",
        change="augmentation, on top of BatchNorm", color="#e6ab02"),
    Run("GAP CNN (conv-heavy)", "gap",
        Training("GapCNN", augment=_CROP, channels_last=True), ("ladder",),
        base="cnn_bn_aug", change="the conv-heavy network", color="#386cb0"),
    Run("GAP CNN + SGD one-cycle", "gap_sgd", _GAP_SGD, ("ladder",),
        base="gap", change="SGD, one-cycle, weight decay, label smoothing",
        color="#666666"),
    Run("GAP CNN + SGD one-cycle + flip TTA", "gap_sgd_tta", _GAP_SGD,
        ("ladder",), flip_tta=True, base="gap_sgd", change=_TTA),
    Run("Whitened CNN, airbench recipe", "white", _WHITE_LA, ("ladder",),
        base="gap_sgd", change="the whitened network and airbench's recipe",
        color="#e41a1c"),
    Run("Whitened CNN + flip TTA", "white_tta", _WHITE_LA, ("ladder",),
        flip_tta=True, base="white", change=_TTA),
    Run("Whitened CNN + 6-view TTA", "white_tta6", _WHITE_LA, ("ladder",),
        flip_tta=True, shift_tta=True, base="white_tta",
        change="four one-pixel-shifted views (six in all)"),
)}
TOP_RUN = "white_tta6"        # the ladder's best rung

# Choices for the new rungs, made on the validation split with seed 0:
# each probe changes one or more things of the rung it names and is
# otherwise trained like it.
SEARCH = {
    "white": (
        replace(_WHITE_LA, augment="shift+flip"),      # random flips
        replace(_WHITE_LA, recipe="fast-b256-lookahead"),  # batches of 256
        replace(_WHITE_LA, augment="shift+flip",       # and batches of 256
                recipe="fast-b256-lookahead"),
        # the first probes, made with the slipped weight decay:
        replace(_WHITE_LA, augment="shift+flip", recipe="fast-slip-lookahead"),
        replace(_WHITE_LA, augment="shift+flip",       # no lookahead
                recipe="fast-slip"),
        replace(_WHITE_LA, augment="shift+flip",       # a learned stem
                recipe="fast-slip-lookahead", whiten=False),
    ),
}


def group(name: str) -> list[Run]:
    """The runs of one group, in declaration order."""
    return [run for run in RUNS.values() if name in run.groups]


def steps() -> list[Run]:
    """The runs that change one thing of another (their ``base``)."""
    return [run for run in RUNS.values() if run.base]


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
