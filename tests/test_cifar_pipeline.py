"""`python -m cnn_tutorial.cifar` end to end on a tiny CIFAR-10 image
archive, and the book's reading of what it writes. The end-to-end run
(every training, seed, check and figure) is in the slow tier; its error
paths are fast."""
import json
import subprocess
import sys

import pytest
import torch
from conftest import write_fake_image_tree
from torch.utils.flop_counter import FlopCounterMode

from cnn_tutorial import data, models, params
from cnn_tutorial.cifar import cache as cifar_cache
from cnn_tutorial.cifar import cli, pipeline, report
from cnn_tutorial.cifar.runs import (
    RUNS,
    SEARCH,
    TRANSFER,
    group,
    trainings,
    weights_slug,
)
from cnn_tutorial.train import evaluate

SEEDS = ["0", "1"]
ARGS = ["--epochs", "3", "--seeds", *SEEDS, "--transfer-labels", "26", "40",
        "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_fake_image_tree(tmp_path_factory.mktemp("data"),
                                 train_per_class=60, test_per_class=1,
                                 archive=True)


@pytest.fixture(scope="module")
def cache(archive, tmp_path_factory):
    """The script's cache folder, from one run (module-scoped)."""
    work = tmp_path_factory.mktemp("run")
    out = work / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "cnn_tutorial.cifar", "--images",
         str(archive), "--out-dir", str(out), "--work-dir",
         str(work / "runs"), *ARGS],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def metrics(cache):
    return json.loads((cache / "metrics.json").read_text())


@pytest.fixture(scope="module")
def test_split(archive):
    """The tiny archive's test images, standardised as the runs saw them."""
    images, _ = data.cifar10_images(archive)
    fit, _ = data.hold_out(images.train, 60, seed=0)
    return data.Normalization.of(fit.x).apply(images.test)


@pytest.mark.slow
def test_script_writes_every_artefact_and_a_verifying_manifest(cache,
                                                               archive):
    for name in [*cifar_cache.ARTEFACTS.values(), cifar_cache.MANIFEST]:
        assert (cache / name).is_file(), name
    manifest = json.loads((cache / cifar_cache.MANIFEST).read_text())
    assert manifest["command"] == (
        f"python -m cnn_tutorial.cifar --images {archive} --out-dir {cache} "
        f"--work-dir {cache.parent / 'runs'} " + " ".join(ARGS))
    assert manifest["dataset"] == {archive.name:
                                   cifar_cache.sha256(archive)}
    weights = {f"weights/{run.slug}.pt" for run in group("ladder")[1:]
               if weights_slug(run) == run.slug}
    assert weights | {"weights/transfer.pt"} <= set(manifest["artefacts"])
    opened = cifar_cache.open_cache(cache)
    assert opened.ok, opened.problems


@pytest.mark.slow
def test_metrics_record_every_run_and_seed(metrics, archive):
    assert list(metrics["runs"]) == list(RUNS)
    for name, run in metrics["runs"].items():
        assert [s["seed"] for s in run["seeds"]] == [0, 1]
        for result in run["seeds"]:
            for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
                assert len(result[key]) == 3
            assert result["best_epoch"] == 1 + max(
                range(3), key=result["val_acc"].__getitem__)
            assert sum(map(sum, result["confusion"])) == 10
            correct = sum(result["confusion"][c][c] for c in range(10))
            assert result["test_acc"] == pytest.approx(correct / 10)
        model = RUNS[name].training.build(0)
        assert run["params"] == params.count_params(model), name
        counter = FlopCounterMode(display=False)
        with counter:
            model.eval()(torch.zeros(1, 3, 32, 32))
        assert run["macs"] == counter.get_total_flops() // 2, name
    d = metrics["data"]
    assert (d["source"], d["fit_size"], d["val_size"], d["test_size"]) == (
        "image-archive", 540, 60, 10)
    assert d["sha256"] == {archive.name: cifar_cache.sha256(archive)}
    assert "JPEG copy" in d["note"] and "quality 75" in d["note"]
    assert metrics["training"]["recipes"]["adam"]["epochs"] == 3
    for key in ("torch", "torchvision", "device", "wall_seconds"):
        assert key in metrics


@pytest.mark.slow
def test_a_rung_that_only_changes_evaluation_shares_its_training(metrics):
    tta = next(r for r in RUNS.values() if r.flip_tta)
    plain = next(r for r in RUNS.values()
                 if r.training == tta.training and not r.flip_tta)
    runs = metrics["runs"]
    assert [s["val_acc"] for s in runs[tta.slug]["seeds"]] == [
        s["val_acc"] for s in runs[plain.slug]["seeds"]]


@pytest.mark.slow
def test_transfer_records_every_method_and_label_count(metrics):
    t = metrics["transfer"]
    assert t["labels_per_class"] == [26, 40]
    assert t["methods"] == list(TRANSFER.methods)
    assert [s["seed"] for s in t["seeds"]] == [0, 1]
    for result in t["seeds"]:
        assert set(result["test_acc"]) == {"26", "40"}
        for accs in result["test_acc"].values():
            assert set(accs) == set(TRANSFER.methods)
            assert all(0 <= a <= 1 for a in accs.values())
    assert t["recipe"]["26"]["epochs"] == 3      # --epochs reaches them


@pytest.mark.slow
def test_normalisation_comes_from_the_fitting_images(metrics, archive):
    images, _ = data.cifar10_images(archive)
    fit, _ = data.hold_out(images.train, 60, seed=0)
    norm = data.Normalization.of(fit.x)
    recorded = metrics["data"]["normalization"]
    assert recorded["mean"] == pytest.approx(list(norm.mean))
    assert recorded["std"] == pytest.approx(list(norm.std))


@pytest.mark.slow
def test_every_cached_model_loads_and_is_the_one_judged(cache, metrics,
                                                        test_split):
    """``load_model`` gives seed 0 of every ladder rung exactly as it was
    judged: the models are rounded to float16, as stored, before they are
    measured."""
    opened = cifar_cache.open_cache(cache)
    for run in group("ladder"):
        model = cifar_cache.load_model(opened, run.slug)
        assert not model.training
        assert all(t.half().float().equal(t) for t in
                   model.state_dict().values() if t.is_floating_point())
        _, acc = evaluate(model, test_split, flip=run.flip_tta,
                          shift=run.shift_tta)
        assert acc == report.seed0(opened, run.slug)["test_acc"], run
    backbone = cifar_cache.load_model(opened, "transfer")
    assert backbone.head[-1].out_features == len(TRANSFER.source)
    with pytest.raises(KeyError, match="no run 'ResNet'"):
        cifar_cache.load_model(opened, "ResNet")
    with pytest.raises(FileNotFoundError, match="seed 1"):
        cifar_cache.load_model(opened, "cnn", seed=1)
    with pytest.raises(FileNotFoundError, match="'mlp'"):
        cifar_cache.load_model(opened, "mlp")


@pytest.mark.slow
def test_a_repeated_run_reuses_finished_runs(archive, cache, metrics,
                                             capsys, monkeypatch):
    """Repeated for seed 0 alone (enough to show the reuse, and half the
    figures to redo). The attribution checks, which are recomputed and are
    not what this test is about, return the first run's (the first run
    computed them; test_attribution checks them against the library)."""
    seed0 = next(s for s in metrics["attribution"]["seeds"]
                 if s["seed"] == 0)
    monkeypatch.setattr(
        pipeline.attribution, "sanity_checks",
        lambda model, x, y: {k: v for k, v in seed0.items() if k != "seed"})
    out = cache.parent / "again"
    args = [*ARGS[:ARGS.index("--seeds") + 1], "0",
            *ARGS[ARGS.index("--seeds") + 1 + len(SEEDS):]]
    code = cli.main(["--images", str(archive), "--out-dir", str(out),
                          "--work-dir", str(cache.parent / "runs"), *args])
    assert code == 0
    printed = capsys.readouterr().out
    transfer_runs = 1 + 2 * len(TRANSFER.methods)
    probes = sum(map(len, SEARCH.values()))
    assert printed.count("reusing") == (len(trainings()) + probes
                                        + transfer_runs)
    assert ": training " not in printed
    again = json.loads((out / "metrics.json").read_text())
    for name, run in metrics["runs"].items():
        assert again["runs"][name]["seeds"] == [
            s for s in run["seeds"] if s["seed"] == 0], name
    assert again["transfer"]["seeds"] == [
        s for s in metrics["transfer"]["seeds"] if s["seed"] == 0]


@pytest.mark.slow
def test_the_search_records_each_probe_on_the_validation_split(metrics):
    for slug, probes in SEARCH.items():
        search = metrics["search"][slug]
        assert (search["seed"], search["split"]) == (0, "validation")
        run = metrics["runs"][slug]
        seed0 = run["seeds"][0]
        assert search["base"]["val_acc"] == seed0["val_acc"][
            seed0["best_epoch"] - 1]
        assert [p["change"] for p in search["probes"]] == [
            {k: v for k, v in vars(probe).items()
             if getattr(RUNS[slug].training, k) != v}
            for probe in probes]
        assert all(0 <= p["val_acc"] <= 1 for p in search["probes"])


@pytest.mark.slow
def test_one_run_is_retrained_alone_and_the_rest_kept(archive, cache,
                                                       metrics, tmp_path):
    import shutil

    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    args = ["--images", str(archive), "--out-dir", str(copy), "--work-dir",
            str(cache.parent / "runs"), *ARGS]
    args[args.index("--epochs") + 1] = "2"
    assert cli.main([*args, "--runs", "cnn"]) == 0
    again = json.loads((copy / "metrics.json").read_text())
    assert list(again["runs"]) == list(metrics["runs"])
    for name, run in again["runs"].items():
        if name == "cnn":
            assert run["epochs"] == 2
            assert all(len(s["val_acc"]) == 2 for s in run["seeds"])
        else:
            assert run == metrics["runs"][name], name
    assert again["transfer"] == metrics["transfer"]
    opened = cifar_cache.open_cache(copy)
    assert opened.ok, opened.problems
    assert opened.command.endswith("--runs cnn")
    # the retrained CNN's weights are new, every other file is as it was
    changed = {name for name in cifar_cache.artefact_files(copy)
               if (copy / name).read_bytes() != (cache / name).read_bytes()}
    assert changed == {"weights/cnn.pt", "metrics.json"}


@pytest.mark.slow
def test_a_run_with_a_search_retrains_on_other_seeds(archive, cache,
                                                     tmp_path):
    """--runs with seeds that leave out seed 0 still records the search,
    whose probes and base are seed 0's (reused from the first run)."""
    import shutil

    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    slug = next(iter(SEARCH))
    args = ["--images", str(archive), "--out-dir", str(copy), "--work-dir",
            str(cache.parent / "runs"), *ARGS]
    args[args.index("--seeds") + 1:args.index("--seeds") + 3] = ["1"]
    assert cli.main([*args, "--runs", slug]) == 0
    again = json.loads((copy / "metrics.json").read_text())
    assert [s["seed"] for s in again["runs"][slug]["seeds"]] == [1]
    assert again["search"][slug]["base"]["val_acc"] == pytest.approx(
        json.loads((cache / "metrics.json").read_text())["search"][slug][
            "base"]["val_acc"])


@pytest.mark.slow
def test_figures_only_redraws_every_figure_from_the_cached_weights(
        archive, cache, tmp_path, capsys, monkeypatch):
    """Nothing is trained; every figure comes out byte for byte as the
    training run drew it; a cache of the older layout (the CNN's weights
    in cnn_cifar10.pt) is moved to weights/cnn.pt and verifies again."""
    import shutil

    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    pictures = [name for name in cifar_cache.ARTEFACTS.values()
                if name.endswith(".png")]
    for name in pictures:
        (copy / name).unlink()
    (copy / "weights/cnn.pt").rename(copy / "cnn_cifar10.pt")
    monkeypatch.setattr(pipeline.Trainer, "train", lambda *a, **k:
                        pytest.fail("--figures-only trained"))
    assert cli.main(["--images", str(archive), "--out-dir", str(copy),
                     "--figures-only", "--no-progress"]) == 0
    assert "moved cnn_cifar10.pt -> weights/cnn.pt" in capsys.readouterr().out
    for name in pictures:
        assert (copy / name).read_bytes() == (cache / name).read_bytes(), name
    assert not (copy / "cnn_cifar10.pt").exists()
    opened = cifar_cache.open_cache(copy)
    assert opened.ok, opened.problems
    assert opened.command.endswith(" && python -m cnn_tutorial.cifar "
                                   f"--images {archive} --out-dir {copy} "
                                   "--figures-only --no-progress")


@pytest.mark.slow
def test_altered_or_missing_artefacts_are_reported(cache, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cache, copy)
    (copy / "samples.png").write_bytes(b"tampered")
    (copy / "predictions.png").unlink()
    (copy / "weights/gap.pt").write_bytes(b"tampered")
    problems = cifar_cache.open_cache(copy).problems
    assert any("samples.png was altered" in p for p in problems)
    assert any("predictions.png is missing" in p for p in problems)
    assert any("weights/gap.pt was altered" in p for p in problems)


@pytest.mark.slow
def test_verdict_measured_vs_reported(cache, metrics, tmp_path):
    measured = report.verdict(cifar_cache.open_cache(cache))
    assert [row.name for row in measured] == ["MLP", "CNN"]
    for row in measured:
        run = metrics["runs"][row.name.lower()]
        accs = [s["test_acc"] for s in run["seeds"]]
        assert row.params == run["params"]
        assert (row.test_acc.low, row.test_acc.high) == (min(accs),
                                                         max(accs))
    # what the tutorial reports (the one place these figures are checked)
    assert [(r.reported_params, r.reported_acc) for r in measured] == [
        (1_700_000, 0.52), (300_000, 0.70)]
    absent = report.verdict(cifar_cache.open_cache(tmp_path / "none"))
    assert [(r.params, r.test_acc) for r in absent] == [(None, None)] * 2


def test_missing_data_exits_with_both_ways_to_get_it(tmp_path, capsys):
    code = cli.main(["--images", str(tmp_path / "data"), "--out-dir",
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
    monkeypatch.setattr(pipeline.Trainer, "run", lambda *a: pytest.fail(
        "training started on unusable data"))
    code = cli.main(["--data-dir", str(root), "--out-dir",
                       str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "no images of class" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_too_few_images_for_a_validation_split(tmp_path, capsys):
    tree = write_fake_image_tree(tmp_path, train_per_class=1,
                                 test_per_class=1)
    code = cli.main(["--images", str(tree), "--out-dir",
                       str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "too few to hold out" in capsys.readouterr().err


def test_corrupted_python_release_is_reported(tmp_path, capsys):
    from conftest import write_fake_cifar
    root = write_fake_cifar(tmp_path / "c")           # md5 check not bypassed
    code = cli.main(["--data-dir", str(root), "--out-dir",
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
    code = cli.main(["--data-dir", str(tmp_path / "d"), "--download",
                       "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not download CIFAR-10" in err and "--images" in err


def test_cifar_models_are_seeded():
    a, b = models.cifar_cnn(seed=0), models.cifar_cnn(seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(),
                                                 b.parameters()))
    assert not torch.equal(models.cifar_cnn(seed=1).conv1.weight,
                           a.conv1.weight)
    g, h = models.cifar_gap_cnn(seed=0), models.cifar_gap_cnn(seed=0)
    assert all(torch.equal(p, q) for p, q in zip(g.parameters(),
                                                 h.parameters()))
