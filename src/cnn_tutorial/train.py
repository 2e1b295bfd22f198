"""A small, seeded training loop that returns its history.

The loop a student reads is :func:`train_epoch` (forward, loss, backward,
step) and :func:`evaluate`; :func:`fit` repeats them for a :class:`Recipe`
and records what happened.
"""
from __future__ import annotations

import copy
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data import Split
from .recipe import Recipe
from .transforms import Augment

# PyTorch splits its sums across threads, differently for each thread count,
# and training magnifies the last-bit differences: with 1 or 4 threads seed
# 0's digits numbers are not the book's (built with 2, the build machine's
# default). Every run uses this many, whatever the machine's cores: the
# CIFAR-10 runs too, which a machine with more cores then trains no faster.
THREADS = 2


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch, and fix PyTorch's thread count
    (:data:`THREADS`), so a rerun prints the same numbers whatever the
    machine's number of cores."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)


class Steps:
    """Several per-step schedules stepped together (Nones are skipped)."""

    def __init__(self, parts: list) -> None:
        self.parts = [p for p in parts if p is not None]

    def step(self) -> None:
        for part in self.parts:
            part.step()


class Lookahead:
    """airbench's weight averaging: every ``every`` steps an average of
    the weights moves toward the current ones and the weights are reset to
    it; the average forgets faster early on (its decay grows as the cube of
    the training fraction), and after the last step the weights are the
    average's. BatchNorm statistics are averaged too."""

    def __init__(self, model: nn.Module, total_steps: int,
                 every: int = 5, decay: float = 0.95 ** 5) -> None:
        self.current = [t for t in model.state_dict().values()
                        if t.is_floating_point()]
        self.average = [t.detach().clone() for t in self.current]
        self.total, self.every, self.decay = total_steps, every, decay
        self.steps = 0

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        if self.steps % self.every and self.steps != self.total:
            return
        decay = (1.0 if self.steps == self.total else
                 self.decay * (self.steps / self.total) ** 3)
        for average, current in zip(self.average, self.current):
            average.lerp_(current, 1 - decay)
            current.copy_(average)


@dataclass
class History:
    """Per-epoch losses and accuracies, plus the wall time of training.

    ``test_*`` are measured on the split :func:`fit` evaluates every epoch
    (the CIFAR-10 runs pass their validation split there); ``best_epoch``
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
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024,
            flip: bool = False, shift: bool = False) -> torch.Tensor:
    """Logits for ``x``, computed in eval mode in batches. Test-time
    augmentation: ``flip=True`` averages them with the logits of the
    left-right mirrored images; ``shift=True`` (with ``flip``) gives those
    half the weight and the images moved one pixel up-left and one
    down-right (edges reflected), each also mirrored, the other half --
    airbench's six views."""
    if shift and not flip:
        raise ValueError("shift=True is the six-view average: pass flip=True")
    model.eval()
    device = next(model.parameters()).device

    def views(batch: torch.Tensor) -> torch.Tensor:
        logits = model(batch)
        return (logits + model(batch.flip(-1))) / 2 if flip else logits

    out = []
    for i in range(0, len(x), batch_size):
        batch = x[i:i + batch_size].to(device)
        logits = views(batch)
        if shift:
            h, w = batch.shape[-2:]
            padded = nn.functional.pad(batch, (1, 1, 1, 1), mode="reflect")
            moved = (views(padded[..., :h, :w])
                     + views(padded[..., 2:, 2:])) / 2
            logits = (logits + moved) / 2
        out.append(logits.cpu())
    return torch.cat(out)


def evaluate(model: nn.Module, split: Split, flip: bool = False,
             shift: bool = False) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of ``model`` on ``split``, with
    :func:`predict`'s test-time augmentation if asked."""
    logits = predict(model, split.x, flip=flip, shift=shift)
    loss = nn.functional.cross_entropy(logits, split.y).item()
    acc = (logits.argmax(1) == split.y).float().mean().item()
    return loss, acc


@torch.no_grad()
def accuracy_in_train_mode(model: nn.Module, split: Split,
                           batch_size: int) -> float:
    """Accuracy of ``model`` as if ``model.eval()`` had been forgotten:
    every BatchNorm normalises each batch of ``batch_size`` test images
    with that batch's own statistics (on a copy, whose running statistics
    the batches then update)."""
    twin = copy.deepcopy(model).train()
    correct = sum(int((twin(split.x[i:i + batch_size]).argmax(1)
                       == split.y[i:i + batch_size]).sum())
                  for i in range(0, len(split), batch_size))
    return correct / len(split)


@torch.no_grad()
def running_stats_shift(model: nn.Module, x: torch.Tensor) -> float:
    """How far one forward pass of ``x``, in the mode ``model`` is in,
    moves its BatchNorm running means and variances (the largest absolute
    change; the pass keeps the change). 0 in eval mode; in training mode
    they move even when every parameter is frozen (``requires_grad``
    off): freezing stops gradient steps, not BatchNorm's averaging."""
    layers = [m for m in model.modules() if isinstance(
        m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]
    if not layers:
        raise ValueError("the model has no BatchNorm layer")

    def stats() -> list[torch.Tensor]:
        return [torch.cat([m.running_mean, m.running_var]).clone()
                for m in layers]

    before = stats()
    model(x)
    return max((after - b).abs().max().item()
               for after, b in zip(stats(), before))


def misclassified(
    model: nn.Module, split: Split
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices into ``split``, predicted labels) of the wrong predictions."""
    predicted = predict(model, split.x).argmax(1)
    wrong = (predicted != split.y).nonzero().flatten()
    return wrong, predicted[wrong]


def batch_indices(n: int, batch_size: int,
                  generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's batches: indices 0..n-1 in a fresh random order, cut
    into batches of ``batch_size`` (the last may be smaller)."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def shuffled_batches(
    split: Split, batch_size: int, generator: torch.Generator,
    augment: Augment | None = None,
    device: str | torch.device = "cpu",
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (images, labels) batches in a fresh random order,
    augmented if ``augment`` is given."""
    for idx in batch_indices(len(split), batch_size, generator):
        x, y = split.x[idx], split.y[idx]
        if augment is not None:
            x = augment(x, idx)
        yield x.to(device), y.to(device)


@contextmanager
def bfloat16_forward(model: nn.Module, enabled: bool = True
                     ) -> Iterator[None]:
    """Inside the block, ``model``'s forward passes run under bfloat16
    autocast and return float32; the loss, the backward pass and the
    optimiser step stay outside autocast (wrapping them too made the
    whitened network's training diverge)."""
    if not enabled:
        yield
        return
    contexts = []

    def enter(module, args):
        contexts.append(torch.autocast("cpu", torch.bfloat16))
        contexts[-1].__enter__()

    def leave(module, args, output):
        contexts.pop().__exit__(None, None, None)
        return output.float()

    hooks = [model.register_forward_pre_hook(enter),
             model.register_forward_hook(leave)]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def train_epoch(model: nn.Module,
                batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                optimizer: torch.optim.Optimizer,
                scheduler=None, label_smoothing: float = 0.0) -> None:
    """One pass over the training batches: forward, loss, backward, step."""
    model.train()                      # BatchNorm uses batch statistics
    for x, y in batches:
        logits = model(x)              # forward
        loss = nn.functional.cross_entropy(
            logits, y, label_smoothing=label_smoothing)
        optimizer.zero_grad()          # forget the last step's gradients
        loss.backward()                # d loss / d every parameter
        optimizer.step()               # move the parameters downhill
        if scheduler is not None:
            scheduler.step()           # next learning rate


def fit(
    model: nn.Module,
    train: Split,
    test: Split,
    recipe: Recipe = Recipe(),
    *,
    seed: int = 0,
    augment: Augment | None = None,
    keep_best: bool = False,
    train_eval_size: int | None = None,
    progress: bool = False,
    device: str | torch.device = "cpu",
    every_epoch: bool = True,
) -> History:
    """Train ``model`` on ``train`` with ``recipe``; evaluate on ``test``
    after every epoch.

    ``augment`` maps a batch of images and their indices in ``train`` to
    an augmented batch.
    ``keep_best`` ends with the weights of the epoch with the best accuracy
    on ``test`` (pass a validation split then). ``train_eval_size`` measures
    the training metrics on that many fixed training images instead of all
    of them. ``progress`` shows a tqdm bar (off: book cells stay clean).
    ``every_epoch=False`` measures only after the last epoch (each list of
    the history holds that one value): the same weights, about a quarter
    less time for a digits training, for runs whose curves nobody draws.
    """
    if len(train) == 0:
        raise ValueError("the training split is empty")
    if keep_best and not every_epoch:
        raise ValueError("keep_best needs every epoch's accuracy: pass "
                         "every_epoch=True")
    set_seed(seed)
    model.to(device)
    steps_per_epoch = (len(train) - 1) // recipe.batch_size + 1
    optimizer, scheduler = recipe.build(model, recipe.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    train_eval = train
    if train_eval_size is not None and train_eval_size < len(train):
        sample = torch.randperm(len(train), generator=torch.Generator()
                                .manual_seed(seed))[:train_eval_size]
        train_eval = Split(train.x[sample], train.y[sample])
    history, best_state = History(), None
    start = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        batches = shuffled_batches(train, recipe.batch_size, generator,
                                   augment, device)
        if progress:
            from tqdm.auto import tqdm
            batches = tqdm(batches, total=steps_per_epoch,
                           desc=f"epoch {epoch}/{recipe.epochs}")
        with bfloat16_forward(model, enabled=recipe.bf16):
            train_epoch(model, batches, optimizer, scheduler,
                        recipe.label_smoothing)
        if not every_epoch and epoch < recipe.epochs:
            continue
        for split, losses, accs in (
            (train_eval, history.train_loss, history.train_acc),
            (test, history.test_loss, history.test_acc),
        ):
            loss_value, acc = evaluate(model, split)
            losses.append(loss_value)
            accs.append(acc)
        if keep_best and acc > max(history.test_acc[:-1], default=-1.0):
            history.best_epoch = epoch
            best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history
