"""How to train, declared without PyTorch (so that a command line can
check a recipe before importing it): epochs, batch size, optimiser,
learning-rate schedule and loss. :mod:`cnn_tutorial.train` runs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

OPTIMIZERS = ("adam", "sgd-nesterov")
SCHEDULES = ("constant", "cosine", "one-cycle", "triangle")
# OneCycleLR's phases need a few steps each
ONE_CYCLE_MIN_STEPS = 8
# airbench's schedule: from 0.2 x lr up to lr over the first 23 % of the
# steps, then down to 0.07 x lr, both in a straight line
TRIANGLE = {"start": 0.2, "peak_at": 0.23, "end": 0.07}


@dataclass(frozen=True)
class Recipe:
    """How to train: epochs, batch size, optimiser, learning-rate schedule
    and loss. ``Recipe()`` is Adam at a constant 1e-3 with plain
    cross-entropy; ``schedule="cosine"`` decays the rate to 0 along a cosine,
    ``"one-cycle"`` ramps it up for the first quarter of the steps and then
    down to 0 in a straight line, ``"triangle"`` is :data:`TRIANGLE`.
    ``bias_lr_scale`` multiplies the learning rate of every bias (and
    divides their weight decay); ``lookahead`` averages the weights
    (:class:`train.Lookahead`); ``bf16`` runs the forward pass under bfloat16
    autocast (faster on recent CPUs; the weights stay float32)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    momentum: float = 0.9            # sgd-nesterov only
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    bias_lr_scale: float = 1.0
    lookahead: bool = False
    bf16: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1, got "
                             f"{self.epochs}, {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got "
                             f"{self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got "
                             f"{self.schedule!r}")

    def steps(self, n_images: int) -> int:
        """How many steps this recipe takes on ``n_images`` images."""
        return self.epochs * ((n_images - 1) // self.batch_size + 1)

    def too_few_steps(self, n_images: int) -> str:
        """Why this recipe cannot train on ``n_images`` images, or ""."""
        steps = self.steps(n_images)
        if self.schedule != "one-cycle" or steps >= ONE_CYCLE_MIN_STEPS:
            return ""
        return (f"{self.epochs} epoch(s) of {n_images} images in batches of "
                f"{self.batch_size} are {steps} steps, and a one-cycle "
                f"schedule needs at least {ONE_CYCLE_MIN_STEPS}")

    def build(self, model: nn.Module, steps: int):
        """The optimiser and the per-step scheduler (or None) for
        ``steps`` steps of training ``model``."""
        import torch

        from .train import Lookahead, Steps

        params = self._param_groups(model)
        if self.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=self.lr,
                                         weight_decay=self.weight_decay)
        else:
            optimizer = torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, nesterov=True,
                weight_decay=self.weight_decay)
        scheduler = self._scheduler(optimizer, steps)
        if self.lookahead:
            return optimizer, Steps([scheduler, Lookahead(model, steps)])
        return optimizer, scheduler

    def _param_groups(self, model: nn.Module) -> list[dict]:
        biases = [p for name, p in model.named_parameters()
                  if name.endswith("bias") and p.requires_grad]
        others = [p for name, p in model.named_parameters()
                  if not name.endswith("bias") and p.requires_grad]
        if self.bias_lr_scale == 1.0:
            return [{"params": biases + others}]
        return [{"params": biases, "lr": self.lr * self.bias_lr_scale,
                 "weight_decay": self.weight_decay / self.bias_lr_scale},
                {"params": others}]

    def _scheduler(self, optimizer: torch.optim.Optimizer, steps: int):
        import torch

        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, steps)
        if self.schedule == "one-cycle":
            if steps < ONE_CYCLE_MIN_STEPS:
                raise ValueError(
                    f"a one-cycle schedule needs at least "
                    f"{ONE_CYCLE_MIN_STEPS} steps, got {steps}")
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=steps, pct_start=0.25,
                anneal_strategy="linear", cycle_momentum=False)
        if self.schedule == "triangle":
            return torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: triangle(step / steps))
        return None


def triangle(t: float) -> float:
    """The factor :data:`TRIANGLE` applies to the learning rate at
    fraction ``t`` of training."""
    start, peak, end = TRIANGLE["start"], TRIANGLE["peak_at"], TRIANGLE["end"]
    if t < peak:
        return start + (1 - start) * t / peak
    return 1 + (end - 1) * (t - peak) / (1 - peak)
