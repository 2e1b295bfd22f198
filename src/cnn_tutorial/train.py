"""A small, seeded training loop that returns its history."""
from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data import Split


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch so a rerun prints the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class History:
    """Per-epoch losses and accuracies, plus the wall time of training.

    ``test_*`` are measured on the split :func:`fit` evaluates every epoch
    (the CIFAR-10 run passes its validation split there); ``best_epoch``
    (1-based) is the epoch whose weights ``fit(keep_best=True)`` kept.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1]

    def as_dict(self) -> dict[str, list[float] | float]:
        return dict(vars(self))


@torch.no_grad()
def predict(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """Logits for ``x``, computed in eval mode in batches."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([
        model(x[i:i + batch_size].to(device)).cpu()
        for i in range(0, len(x), batch_size)
    ])


def evaluate(model: nn.Module, split: Split) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of ``model`` on ``split``."""
    logits = predict(model, split.x)
    loss = nn.functional.cross_entropy(logits, split.y).item()
    acc = (logits.argmax(1) == split.y).float().mean().item()
    return loss, acc


def misclassified(
    model: nn.Module, split: Split
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices into ``split``, predicted labels) of the wrong predictions."""
    predicted = predict(model, split.x).argmax(1)
    wrong = (predicted != split.y).nonzero().flatten()
    return wrong, predicted[wrong]


def fit(
    model: nn.Module,
    train: Split,
    test: Split,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    augment=None,
    progress: bool = False,
    device: str | torch.device = "cpu",
    schedule: str = "constant",
    keep_best: bool = False,
    train_eval_size: int | None = None,
) -> History:
    """Train ``model`` with Adam and cross-entropy; evaluate every epoch.

    ``augment``, if given, maps a batch of images to an augmented batch.
    ``progress`` shows a tqdm bar (off by default: book cells stay clean).
    ``schedule="cosine"`` decays the learning rate from ``lr`` to 0 along a
    cosine over all steps. ``keep_best`` ends with the weights of the epoch
    with the best accuracy on ``test`` (pass a validation split then).
    ``train_eval_size`` measures the training metrics on that many fixed
    training images instead of all of them.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}"
        )
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if schedule not in ("constant", "cosine"):
        raise ValueError(
            f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    set_seed(seed)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(train) - 1) // batch_size + 1)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
                 if schedule == "cosine" else None)
    generator = torch.Generator().manual_seed(seed)
    train_eval = train
    if train_eval_size is not None and train_eval_size < len(train):
        sample = torch.randperm(len(train), generator=torch.Generator()
                                .manual_seed(seed))[:train_eval_size]
        train_eval = Split(train.x[sample], train.y[sample])
    history = History()
    best_state = None
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * ((len(train) - 1) // batch_size + 1))
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        for i in range(0, len(train), batch_size):
            idx = order[i:i + batch_size]
            x, y = train.x[idx], train.y[idx]
            if augment is not None:
                x = augment(x)
            x, y = x.to(device), y.to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
        for split, losses, accs in (
            (train_eval, history.train_loss, history.train_acc),
            (test, history.test_loss, history.test_acc),
        ):
            loss_value, acc = evaluate(model, split)
            losses.append(loss_value)
            accs.append(acc)
        if keep_best and history.test_acc[-1] > max(history.test_acc[:-1],
                                                    default=-1.0):
            history.best_epoch = len(history.test_acc)
            best_state = copy.deepcopy(model.state_dict())
        if bar is not None:
            bar.set_postfix(test_acc=f"{history.test_acc[-1]:.3f}")
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history
