""""Train it yourself" (chapter 4): the digits CNN trained in the reader's
browser, and the data it trains on.

The page trains with ``numerics_train.js`` in a Web Worker
(``trainer_worker.js``, drawn by ``trainer.js``), starting from the initial
weights written here, so ``models.digits_cnn(seed=0)`` in a page cell and the
widget start from the same numbers; the optimiser's settings are the
recipe's, with ``torch.optim``'s defaults for the rest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import figures
from .data import Dataset
from .export import export_weights
from .train import History, Recipe
from .widgets import DIGIT_SCALE, WIDGETS_DIR, Widget, _ramp, _widget

INITIAL_WEIGHTS = "digits_cnn_init.bin"
DIGITS_DATA = "digits_data.bin"   # uint8: train, test pixels (0-16), labels
FIT_SEED = 0                      # the page's own shuffle (not torch's)
# "Teach it your handwriting": fine-tuning steps, replayed training digits
# per step, and Adam's learning rate (below the recipe's: the network is
# already trained)
TEACH = {"steps": 20, "replay": 32, "lr": 1e-3}


def optimizer_config(recipe: Recipe) -> dict:
    """The recipe's optimiser as ``numerics_train.js`` builds it, with
    the defaults ``Recipe.build`` leaves to ``torch.optim``."""
    probe = [torch.zeros(1, requires_grad=True)]
    if recipe.optimizer == "adam":
        defaults = torch.optim.Adam(probe, lr=recipe.lr).defaults
        return {"optimizer": "adam", "lr": recipe.lr,
                "betas": list(defaults["betas"]), "eps": defaults["eps"],
                "weightDecay": recipe.weight_decay}
    return {"optimizer": "sgd", "lr": recipe.lr,
            "momentum": recipe.momentum, "nesterov": True,
            "weightDecay": recipe.weight_decay}


def recipe_config(recipe: Recipe) -> dict:
    """Everything the page needs to train by ``recipe``; refuses what it
    cannot do (learning-rate schedules, label smoothing, a separate bias
    rate, lookahead)."""
    if recipe.schedule != "constant" or recipe.label_smoothing or \
            recipe.bias_lr_scale != 1 or recipe.lookahead:
        raise ValueError("the page trains at one constant learning rate "
                         "with plain cross-entropy; got schedule "
                         f"{recipe.schedule!r}, label smoothing "
                         f"{recipe.label_smoothing}, bias rate x"
                         f"{recipe.bias_lr_scale}, lookahead "
                         f"{recipe.lookahead}")
    return {**optimizer_config(recipe), "batchSize": recipe.batch_size,
            "epochs": recipe.epochs}


def digits_bytes(digits: Dataset) -> bytes:
    """The digits as the page reads them: training then test pixels (0-16,
    uint8, image by image, row by row), then training and test labels."""
    def pixels(x: torch.Tensor) -> np.ndarray:
        counts = np.rint(x.numpy() * DIGIT_SCALE)
        if x.shape[1:] != (1, 8, 8) or counts.min() < 0 or \
                counts.max() > DIGIT_SCALE:
            raise ValueError("digits must be [N, 1, 8, 8] in [0, 1]")
        return counts.astype(np.uint8).ravel()

    parts = [pixels(digits.train.x), pixels(digits.test.x),
             digits.train.y.numpy().astype(np.uint8),
             digits.test.y.numpy().astype(np.uint8)]
    return b"".join(p.tobytes() for p in parts)


def write_trainer_files(initial: nn.Module, digits: Dataset,
                        folder: str | Path = WIDGETS_DIR) -> dict:
    """Write the initial weights (float32: exactly ``initial``'s) and the
    digits into ``folder``; returns the file part of the widget's
    configuration."""
    folder = Path(folder)
    export_weights(initial, folder / INITIAL_WEIGHTS, input_shape=(1, 8, 8),
                   scale=DIGIT_SCALE, classes=list(digits.classes),
                   dtype="float32")
    (folder / DIGITS_DATA).write_bytes(digits_bytes(digits))
    return {"weights": f"{WIDGETS_DIR.name}/{INITIAL_WEIGHTS}",
            "data": f"{WIDGETS_DIR.name}/{DIGITS_DATA}",
            "counts": {"train": len(digits.train),
                       "test": len(digits.test)}}


def teach_config(digits: Dataset, recipe: Recipe,
                 folder: str | Path = WIDGETS_DIR) -> dict:
    """What the digit pad's "teach it your handwriting" panel needs: the
    digits to replay (written into ``folder``) and the fine-tuning
    settings; pass it to ``widgets.digit_pad(..., teach=...)``."""
    folder = Path(folder)
    (folder / DIGITS_DATA).write_bytes(digits_bytes(digits))
    return {"data": f"{WIDGETS_DIR.name}/{DIGITS_DATA}",
            "counts": {"train": len(digits.train), "test": len(digits.test)},
            "recipe": recipe_config(recipe), "seed": FIT_SEED, **TEACH}


def trainer(initial: nn.Module, digits: Dataset, recipe: Recipe,
            history: History, folder: str | Path = WIDGETS_DIR) -> Widget:
    """The "train it yourself" widget: ``initial`` (the untrained digits
    CNN) trained in the page by ``recipe``; its static figure is
    ``history``, the same training run in PyTorch."""
    config = {
        **write_trainer_files(initial, digits, folder),
        "input": [1, 8, 8],
        "recipe": recipe_config(recipe),
        "seed": FIT_SEED,
        "colors": {"signed": _ramp(figures.SIGNED_CMAP),
                   "line": figures.MODEL_COLORS["CNN"]},
    }
    fallback = figures.plot_learning_curves({"CNN": history})
    return _widget(
        "trainer", config, fallback,
        alt="Learning curves of the digits CNN trained by PyTorch at build "
            "time: loss and accuracy per epoch.",
        note="Static view (the training run of the cell above): training "
             "in the page needs JavaScript, Web Workers and the site "
             "served over HTTP.")
