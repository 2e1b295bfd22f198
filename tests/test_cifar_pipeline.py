"""`python -m cnn_tutorial.cifar` end to end on a tiny CIFAR-10 image
archive, and the book's reading of what it writes."""
import json
import subprocess
import sys

import pytest
import torch
from conftest import write_fake_image_tree

from cnn_tutorial import artifacts, cifar, data, models, params

ARGS = ["--epochs", "2", "--batch-size", "50", "--no-progress",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_fake_image_tree(tmp_path_factory.mktemp("data"),
                                 archive=True)


@pytest.fixture(scope="module")
def cache(archive, tmp_path_factory):
    """The script's cache and its stdout, from one run (module-scoped)."""
    work = tmp_path_factory.mktemp("run")
    out = work / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "cnn_tutorial.cifar", "--images",
         str(archive), "--out-dir", str(out), "--work-dir",
         str(work / "runs"), *ARGS],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def metrics(cache):
    return json.loads((cache / "metrics.json").read_text())


def test_script_writes_every_artefact_and_a_verifying_manifest(cache,
                                                               archive):
    for name in [*artifacts.ARTEFACTS.values(), artifacts.MANIFEST]:
        assert (cache / name).is_file(), name
    manifest = json.loads((cache / artifacts.MANIFEST).read_text())
    assert manifest["command"] == (
        f"python -m cnn_tutorial.cifar --images {archive} --out-dir {cache} "
        f"--work-dir {cache.parent / 'runs'} " + " ".join(ARGS))
    assert manifest["dataset"] == {archive.name: artifacts.sha256(archive)}
    opened = artifacts.open_cache(cache)
    assert opened.ok, opened.problems


def test_metrics_record_every_run_and_the_protocol(metrics, archive):
    assert list(metrics["runs"]) == list(cifar.RUNS)
    for run in metrics["runs"].values():
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert len(run[key]) == 2
        assert run["best_epoch"] == 1 + max(range(2),
                                            key=run["val_acc"].__getitem__)
        assert len(run["per_class_acc"]) == 10
        assert sum(map(sum, run["confusion"])) == 30
        correct = sum(run["confusion"][c][c] for c in range(10))
        assert run["test_acc"] == pytest.approx(correct / 30)
    # the runs train the tutorial's models, permuted pixels or not
    for name, model in models.cifar_models().items():
        size = params.count_params(model)
        assert metrics["runs"][name]["params"] == size, name
        assert metrics["runs"][f"{name}, permuted pixels"]["params"] == size
    d = metrics["data"]
    assert (d["source"], d["fit_size"], d["val_size"], d["test_size"]) == (
        "image-archive", 90, 10, 30)
    assert d["sha256"] == {archive.name: artifacts.sha256(archive)}
    assert "JPEG copy" in d["note"] and "quality 75" in d["note"]
    t = metrics["training"]
    assert (t["epochs"], t["seed"], t["schedule"]) == (2, 0, "cosine")
    for key in ("torch", "torchvision", "device", "wall_seconds",
                "train_seconds"):
        assert key in metrics


def test_normalisation_comes_from_the_fitting_images(metrics, archive):
    images, _ = data.cifar10_images(archive)
    fit, _ = data.hold_out(images.train, 10, seed=0)
    norm = data.Normalization.of(fit.x)
    recorded = metrics["data"]["normalization"]
    assert recorded["mean"] == pytest.approx(list(norm.mean))
    assert recorded["std"] == pytest.approx(list(norm.std))


def test_the_cached_weights_are_the_cnn_that_was_judged(cache, metrics,
                                                        archive):
    cnn = artifacts.load_cnn(artifacts.open_cache(cache))
    images, _ = data.cifar10_images(archive)
    fit, _ = data.hold_out(images.train, 10, seed=0)
    test = data.Normalization.of(fit.x).apply(images.test)
    predicted = cnn(test.x).argmax(1)
    accuracy = (predicted == test.y).float().mean().item()
    assert accuracy == pytest.approx(metrics["runs"]["CNN"]["test_acc"])


def test_a_repeated_run_reuses_finished_runs(archive, cache, metrics,
                                             capsys):
    out = cache.parent / "again"
    code = cifar.main(["--images", str(archive), "--out-dir", str(out),
                       "--work-dir", str(cache.parent / "runs"), *ARGS])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("reusing") == len(cifar.RUNS)
    again = json.loads((out / "metrics.json").read_text())
    for name, run in metrics["runs"].items():
        assert again["runs"][name]["test_acc"] == run["test_acc"]
        assert again["runs"][name]["seconds"] == run["seconds"]
    # different settings train afresh instead of reusing
    key = cifar.run_key("CNN", cifar.parse_args(["--epochs", "3"]), {})
    assert key != cifar.run_key("CNN", cifar.parse_args([]), {})


def test_altered_or_missing_artefacts_are_reported(cache, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cache, copy)
    (copy / "samples.png").write_bytes(b"tampered")
    (copy / "predictions.png").unlink()
    problems = artifacts.open_cache(copy).problems
    assert any("samples.png was altered" in p for p in problems)
    assert any("predictions.png is missing" in p for p in problems)


def test_verdict_measured_vs_reported(cache, metrics, tmp_path):
    measured = artifacts.verdict(artifacts.open_cache(cache))
    assert [row.name for row in measured] == ["MLP", "CNN"]
    for row in measured:
        run = metrics["runs"][row.name]
        assert (row.params, row.test_acc) == (run["params"], run["test_acc"])
    # what the tutorial reports (the one place these figures are checked)
    assert [(r.reported_params, r.reported_acc) for r in measured] == [
        (1_700_000, 0.52), (300_000, 0.70)]
    absent = artifacts.verdict(artifacts.open_cache(tmp_path / "none"))
    assert [(r.params, r.test_acc) for r in absent] == [(None, None)] * 2


def test_missing_data_exits_with_both_ways_to_get_it(tmp_path, capsys):
    code = cifar.main(["--images", str(tmp_path / "data"), "--out-dir",
                       str(tmp_path / "out")])     # raising would fail here
    err = capsys.readouterr().err
    assert code == 2
    assert "--images ../shared/data/cifar10-jpeg.tar.gz" in err
    assert "--download" in err
    assert str(tmp_path / "data") in err
    assert not (tmp_path / "out").exists()


def test_bad_data_stops_before_training(tmp_path, capsys, monkeypatch):
    """A test split lacking a class (here: 40 images in CIFAR-10's pickle
    format, test labels 0-4 only) stops with a message, not an IndexError
    after training."""
    from conftest import skip_md5_check, write_fake_cifar

    skip_md5_check(monkeypatch)
    root = write_fake_cifar(tmp_path / "c", per_batch=8, n_test=5)
    monkeypatch.setattr(cifar, "train_run", lambda *a: pytest.fail(
        "training started on unusable data"))
    code = cifar.main(["--data-dir", str(root), "--out-dir",
                       str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "no images of class" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_too_few_images_for_a_validation_split(tmp_path, capsys):
    tree = write_fake_image_tree(tmp_path, train_per_class=1,
                                 test_per_class=1)
    code = cifar.main(["--images", str(tree), "--out-dir",
                       str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "too few to hold out" in capsys.readouterr().err


def test_corrupted_python_release_is_reported(tmp_path, capsys):
    from conftest import write_fake_cifar
    root = write_fake_cifar(tmp_path / "c")           # md5 check not bypassed
    code = cifar.main(["--data-dir", str(root), "--out-dir",
                       str(tmp_path / "out")])
    assert code == 2
    assert "corrupted" in capsys.readouterr().err


def test_download_without_network_exits_with_instructions(tmp_path, capsys,
                                                          monkeypatch):
    import urllib.error

    import torchvision.datasets.cifar

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.cifar,
                        "download_and_extract_archive", offline)
    code = cifar.main(["--data-dir", str(tmp_path / "d"), "--download",
                       "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not download CIFAR-10" in err and "--images" in err


def test_download_goes_with_data_dir_only(capsys):
    with pytest.raises(SystemExit):
        cifar.parse_args(["--images", "x.tar.gz", "--download"])
    assert "use it with --data-dir" in capsys.readouterr().err


def test_cifar_models_are_seeded():
    a, b = models.cifar_cnn(seed=0), models.cifar_cnn(seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(),
                                                 b.parameters()))
    assert not torch.equal(models.cifar_cnn(seed=1).conv1.weight,
                           a.conv1.weight)
