"""`python -m cnn_tutorial.cifar` end to end on a tiny CIFAR-format
dataset, and the book's reading of what it writes."""
import json
import subprocess
import sys

import pytest

from cnn_tutorial import artifacts, cifar


@pytest.fixture
def cache(fake_cifar, tmp_path):
    out = tmp_path / "cache"
    code = cifar.main(["--data-dir", str(fake_cifar), "--out-dir", str(out),
                       "--epochs", "2", "--batch-size", "50",
                       "--no-progress", "--device", "cpu"])
    assert code == 0
    return out


def test_script_writes_every_artefact_and_a_verifying_manifest(cache, fake_cifar):
    for name in [*artifacts.ARTEFACTS.values(), artifacts.MANIFEST]:
        assert (cache / name).is_file(), name
    for name in artifacts.ARTEFACTS.values():
        if name.endswith(".png"):
            assert (cache / name).read_bytes()[:4] == b"\x89PNG"
    manifest = json.loads((cache / artifacts.MANIFEST).read_text())
    assert manifest["command"].startswith("python -m cnn_tutorial.cifar "
                                          f"--data-dir {fake_cifar}")
    assert "--epochs 2" in manifest["command"]
    assert set(manifest["dataset"]) == {
        "batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6))}
    assert manifest["dataset"]["test_batch"] == artifacts.sha256(
        fake_cifar / "cifar-10-batches-py" / "test_batch")
    opened = artifacts.open_cache(cache)
    assert opened.ok, opened.problems


def test_metrics_structure(cache):
    m = json.loads((cache / "metrics.json").read_text())
    assert set(m["models"]) == {"MLP", "CNN"}
    for model in m["models"].values():
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert len(model[key]) == 2
            assert all(isinstance(v, float) for v in model[key])
    assert 1_650_000 < m["models"]["MLP"]["params"] < 1_750_000
    assert m["models"]["CNN"]["params"] <= 300_000
    assert (m["seed"], m["epochs"], m["device"]) == (0, 2, "cpu")
    assert m["train_size"] == 100 and m["test_size"] == 30
    for key in ("torch", "torchvision", "wall_seconds"):
        assert key in m


def test_altered_or_missing_artefacts_are_reported(cache):
    (cache / "conv1_filters.png").write_bytes(b"tampered")
    (cache / "predictions.png").unlink()
    problems = artifacts.open_cache(cache).problems
    assert any("conv1_filters.png was altered" in p for p in problems)
    assert any("predictions.png is missing" in p for p in problems)


def test_verdict_measured_vs_reported(cache, tmp_path):
    source, rows = artifacts.verdict(artifacts.open_cache(cache))
    assert source.startswith("measured")
    m = json.loads((cache / "metrics.json").read_text())
    assert rows[0] == ("MLP", m["models"]["MLP"]["params"],
                       m["models"]["MLP"]["test_acc"][-1])
    absent = artifacts.open_cache(tmp_path / "empty")
    assert not absent.ok and "not been generated" in absent.problems[0]
    source, rows = artifacts.verdict(absent)
    assert "reported" in source and "not measured" in source
    assert rows == [("MLP", 1_700_000, 0.52), ("CNN", 300_000, 0.70)]


def test_page_helpers(cache, tmp_path):
    ok = artifacts.open_cache(cache)
    assert "Measured CIFAR-10 results" in artifacts.cache_report(ok).data
    assert artifacts.show(ok, "filters").data[:4] == b"\x89PNG"
    absent = artifacts.open_cache(tmp_path / "none")
    report = artifacts.cache_report(absent).data
    assert report.startswith(":::{warning}") and "not numbers measured" in report
    assert "not available in this build" in artifacts.show(absent, "filters").data


def test_missing_data_exits_with_instructions(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cnn_tutorial.cifar", "--data-dir",
         str(tmp_path / "data"), "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cifar-10-batches-py" in result.stderr
    assert "--download" in result.stderr
    assert str(tmp_path / "data") in result.stderr
    assert not (tmp_path / "out").exists()


def test_corrupted_data_is_reported(tmp_path, capsys):
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
    assert "could not download CIFAR-10" in err and "cifar-10-batches-py" in err
