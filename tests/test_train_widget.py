"""Training in the page (cnn_tutorial.train_widget, numerics_train.js):
the files the widget loads, and the JavaScript backward pass and
optimisers against PyTorch's autograd and torch.optim under `node --test`
(float64 on both sides)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT

from cnn_tutorial import models, train_widget
from cnn_tutorial.experiments import DIGITS_RECIPE
from cnn_tutorial.export import read_weights
from cnn_tutorial.train import Recipe, batch_indices, train_epoch

JS_TEST = ROOT / "tests/js/numerics_train.test.js"
STEPS = 20


def torch_steps(model, x, y, batches, optimizer) -> None:
    """PyTorch's training loop (train.train_epoch) on explicit batches."""
    train_epoch(model, ((x[i], y[i]) for i in batches), optimizer)


def step_batches(n: int, batch_size: int, steps: int,
                 seed: int = 0) -> list[torch.Tensor]:
    """The first ``steps`` batches train.fit would draw, epoch after
    epoch."""
    generator = torch.Generator().manual_seed(seed)
    batches: list[torch.Tensor] = []
    while len(batches) < steps:
        batches += batch_indices(n, batch_size, generator)
    return batches[:steps]


def _runs() -> dict:
    """Per optimiser: the page's configuration, PyTorch's optimiser on a
    model, and the batch size."""
    sgd_plain = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                 "nesterov": False, "weightDecay": 1e-3}
    nesterov = Recipe(lr=0.05, batch_size=32, optimizer="sgd-nesterov")
    return {
        "adam (the digits recipe)": (
            train_widget.optimizer_config(DIGITS_RECIPE),
            lambda m: DIGITS_RECIPE.build(m, STEPS)[0],
            DIGITS_RECIPE.batch_size),
        "sgd nesterov": (train_widget.optimizer_config(nesterov),
                         lambda m: nesterov.build(m, STEPS)[0], 32),
        "sgd momentum, weight decay": (
            sgd_plain,
            lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9,
                                      weight_decay=1e-3), 32),
    }


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory, digits) -> Path:
    folder = tmp_path_factory.mktemp("train-fixtures")
    files = train_widget.write_trainer_files(models.digits_cnn(seed=0),
                                             digits, folder)
    x, y = digits.train.x.double(), digits.train.y
    net = models.digits_cnn(seed=0).double()
    indices = step_batches(len(y), 32, 1, seed=5)[0]
    loss = F.cross_entropy(net(x[indices]), y[indices])
    loss.backward()
    grads = {k: p.grad.flatten().tolist() for k, p in net.named_parameters()}
    runs = {}
    for name, (config, build, batch_size) in _runs().items():
        model = models.digits_cnn(seed=0).double()
        batches = step_batches(len(y), batch_size, STEPS)
        torch_steps(model, x, y, batches, build(model))
        runs[name] = {"config": config,
                      "batches": [b.tolist() for b in batches],
                      "params": {k: v.flatten().tolist()
                                 for k, v in model.state_dict().items()}}
    (folder / "train.json").write_text(json.dumps({
        "weights": Path(files["weights"]).name,
        "data": Path(files["data"]).name, "counts": files["counts"],
        "train_labels": y[:50].tolist(),
        "train_pixels_3": np.rint(digits.train.x[3].numpy() * 16)
        .astype(int).ravel().tolist(),
        "gradient": {"indices": indices.tolist(), "loss": loss.item(),
                     "grads": grads},
        "runs": runs}))
    return folder


@pytest.mark.slow
def test_node_training_matches_pytorch(fixtures):
    """numerics_train.js: gradients of a batch, and 20 steps of Adam (the
    digits recipe), SGD-Nesterov and SGD with momentum and weight decay,
    against PyTorch under `node --test`."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed (apt-get install nodejs)")
        pytest.skip("node is not installed (apt-get install nodejs)")
    result = subprocess.run(
        [node, "--test", str(JS_TEST)], capture_output=True, text=True,
        env={**os.environ, "CNN_TRAIN_FIXTURES": str(fixtures)}, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout
    assert "# pass 7" in result.stdout


def test_trainer_files(tmp_path, digits):
    config = train_widget.write_trainer_files(models.digits_cnn(seed=0),
                                              digits, tmp_path)
    header, tensors = read_weights(tmp_path / train_widget.INITIAL_WEIGHTS)
    for name, value in models.digits_cnn(seed=0).state_dict().items():
        assert torch.equal(tensors[name].float(), value)
    raw = (tmp_path / train_widget.DIGITS_DATA).read_bytes()
    n_train, n_test = len(digits.train), len(digits.test)
    assert config["counts"] == {"train": n_train, "test": n_test}
    assert len(raw) == (n_train + n_test) * 65
    pixels = np.frombuffer(raw, np.uint8)[:n_train * 64].reshape(-1, 8, 8)
    np.testing.assert_array_equal(pixels / 16, digits.train.x[:, 0].numpy())
    labels = np.frombuffer(raw, np.uint8)[-n_test:]
    np.testing.assert_array_equal(labels, digits.test.y.numpy())


def test_recipe_config_is_the_recipes_and_torchs():
    config = train_widget.recipe_config(DIGITS_RECIPE)
    assert config == {"optimizer": "adam", "lr": DIGITS_RECIPE.lr,
                      "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.0,
                      "batchSize": DIGITS_RECIPE.batch_size,
                      "epochs": DIGITS_RECIPE.epochs}
    for unsupported in ({"schedule": "cosine"}, {"lookahead": True},
                        {"bias_lr_scale": 64.0}):
        with pytest.raises(ValueError, match="one constant learning rate"):
            train_widget.recipe_config(Recipe(**unsupported))


def test_batch_indices_are_the_batches_fit_draws(digits):
    generator = torch.Generator().manual_seed(0)
    batches = batch_indices(10, 4, generator)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
