"""A small, seeded training loop that returns its history."""
from __future__ import annotations

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
    """Per-epoch losses and accuracies, plus the wall time of training."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0

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
) -> History:
    """Train ``model`` with Adam and cross-entropy; evaluate every epoch.

    ``augment``, if given, maps a batch of images to an augmented batch.
    ``progress`` shows a tqdm bar (off by default: book cells stay clean).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}"
        )
    if len(train) == 0:
        raise ValueError("the training split is empty")
    set_seed(seed)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = History()
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
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
        for split, losses, accs in (
            (train, history.train_loss, history.train_acc),
            (test, history.test_loss, history.test_acc),
        ):
            loss_value, acc = evaluate(model, split)
            losses.append(loss_value)
            accs.append(acc)
        if bar is not None:
            bar.set_postfix(test_acc=f"{history.test_acc[-1]:.3f}")
    if bar is not None:
        bar.close()
    history.seconds = time.perf_counter() - start
    return history
