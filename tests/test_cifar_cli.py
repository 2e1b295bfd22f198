"""`python -m cnn_tutorial.cifar` with the inputs a reader can produce:
every mistake stops with a message naming it and exit code 2, before any
training (and a mistyped argument before PyTorch is even imported)."""
import shutil
import subprocess
import sys
import tarfile

import pytest
from conftest import ROOT, write_fake_image_tree

from cnn_tutorial.cifar import cli, pipeline


def refuse_training(monkeypatch):
    """Fail the test if any training starts."""
    monkeypatch.setattr(pipeline.Trainer, "train", lambda *a, **k: pytest.fail(
        "training started on input that cannot work"))


def exits_with(argv, capsys, monkeypatch) -> str:
    """Run the command line; assert exit code 2; return what it printed
    on stderr."""
    refuse_training(monkeypatch)
    try:
        code = cli.main(argv)
    except SystemExit as stop:         # argparse's own errors
        code = stop.code
    assert code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not a gzip file at all\n" * 9],
                         ids=["empty", "not gzip"])
def test_an_archive_that_is_not_one_is_named(tmp_path, capsys, monkeypatch,
                                             content):
    archive = tmp_path / "cifar.tar.gz"
    archive.write_bytes(content)
    err = exits_with(["--images", str(archive), "--out-dir",
                      str(tmp_path / "out")], capsys, monkeypatch)
    assert f"{archive} is not a readable .tar.gz archive" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_archive_without_a_train_folder_says_so(tmp_path, capsys,
                                                   monkeypatch):
    tree = write_fake_image_tree(tmp_path, train_per_class=1,
                                 test_per_class=1)
    shutil.rmtree(tree / "train")
    archive = tmp_path / "test-only.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="cifar10-jpeg")
    err = exits_with(["--images", str(archive)], capsys, monkeypatch)
    assert f"{archive} has no train/ folder of class folders" in err
    assert "missing" not in err


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "-1"], "argument --seeds: -1 is not a seed"),
    (["--seeds", "0", "x"], "argument --seeds: 'x' is not an integer"),
    (["--seeds", "0", "0"], "--seeds lists a value twice: 0 0"),
    (["--epochs", "0"], "argument --epochs: 0 is not a number of epochs"),
    (["--transfer-labels", "0"], "0 is not a number of labels"),
    (["--transfer-steps", "-5"], "-5 is not a number of steps"),
    (["--epochs", "2", "--transfer-steps", "9"],
     "give --epochs or --transfer-steps, not both"),
    (["--runs", "resnet"], "invalid choice: 'resnet'"),
    (["--runs", "cnn", "--figures-only"], "cannot go with --runs"),
    (["--images", "x.tar.gz", "--download"], "use it with --data-dir"),
    (["--val-fraction", "1"], "--val-fraction must be in (0, 1)"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bad_arguments_are_refused_with_their_name(argv, message, capsys,
                                                   monkeypatch):
    assert message in exits_with(argv, capsys, monkeypatch)


def test_a_bad_argument_stops_before_pytorch_is_imported(tmp_path):
    """The real command, with Python reporting every module it imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnn_tutorial.cifar",
         "--seeds", "-1"], capture_output=True, text=True, timeout=120,
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT / "src")})
    assert result.returncode == 2
    assert "-1 is not a seed" in result.stderr
    imported = [line.rsplit("|", 1)[-1].strip()
                for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "cnn_tutorial.cifar.runs" in imported
    assert not [m for m in imported if m.split(".")[0] == "torch"]


def test_too_few_images_for_the_schedules_are_refused_up_front(
        tmp_path, capsys, monkeypatch):
    """20 images per class (18 to fit on), one epoch: the one-cycle runs
    would have 2 steps, and the transfer runs ask for 50 and 500 images
    of classes that have 18 -- all said at once, with the numbers."""
    tree = write_fake_image_tree(tmp_path, train_per_class=20,
                                 test_per_class=1)
    err = exits_with(["--images", str(tree), "--epochs", "1",
                      "--out-dir", str(tmp_path / "out"), "--no-progress"],
                     capsys, monkeypatch)
    assert "cannot support these runs; nothing was trained" in err
    assert ("gapcnn-aug-sgd: 1 epoch(s) of 180 images in batches of 128 "
            "are 2 steps, and a one-cycle schedule needs at least 8") in err
    assert "transfer backbone: 1 epoch(s) of 90 images" in err
    for n in (50, 500):
        assert (f"transfer with {n} labels per class: a target class has "
                "only 18 training images") in err
    assert not (tmp_path / "out").exists()


def test_epochs_reach_the_transfer_recipes(tmp_path, capsys, monkeypatch):
    """With --epochs 2, 5 labels per class train 2 epochs of 25 images:
    2 steps, which the one-cycle schedule cannot take (without --epochs
    they would be the transfer's fixed number of steps)."""
    tree = write_fake_image_tree(tmp_path, train_per_class=20,
                                 test_per_class=1)
    err = exits_with(["--images", str(tree), "--epochs", "2",
                      "--transfer-labels", "5", "--no-progress",
                      "--out-dir", str(tmp_path / "out")],
                     capsys, monkeypatch)
    assert ("transfer with 5 labels per class: 2 epoch(s) of 25 images in "
            "batches of 64 are 2 steps") in err


def test_figures_only_needs_an_existing_cache(tmp_path, capsys,
                                              monkeypatch):
    tree = write_fake_image_tree(tmp_path, train_per_class=1,
                                 test_per_class=1)
    err = exits_with(["--images", str(tree), "--figures-only", "--out-dir",
                      str(tmp_path / "none")], capsys, monkeypatch)
    assert "--figures-only updates an existing cache" in err
