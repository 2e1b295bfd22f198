"""scripts/bench.py on tiny settings: structure, budgets and exit code."""
import json

import pytest
from conftest import load_script

bench = load_script("bench")


@pytest.mark.slow
def test_quick_run_writes_results_and_judges_budgets(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = bench.main(["--quick", "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"machine", "training", "conv", "cifar_epoch_s",
                            "budgets"}
    assert set(results["training"]) == {"MLP", "CNN"}
    conv = results["conv"]
    assert conv["ratio"] == pytest.approx(conv["numpy_ms"] / conv["torch_ms"])
    assert set(results["cifar_epoch_s"]) == set(bench.CIFAR_SETUPS)
    assert all(s > 0 for s in results["cifar_epoch_s"].values())
    names = [b["name"] for b in results["budgets"]]
    assert names == ["digits CNN test accuracy", "digits CNN training time",
                     "numpy conv2d / torch conv2d",
                     "CIFAR-10 epoch, GAP CNN channels-last",
                     "CIFAR-10 epoch, whitened CNN as trained"]
    assert code == (0 if all(b["passed"] for b in results["budgets"]) else 1)
    printed = capsys.readouterr().out.splitlines()
    for b in results["budgets"]:
        line = next(row for row in printed if b["name"] in row)
        assert line.endswith("PASS" if b["passed"] else "FAIL"), line


def test_budget_direction():
    """A time under its budget passes, over it fails; an accuracy the
    other way round; a value exactly at the limit passes."""
    assert bench.Budget("acc", 0.99, 0.98, "", True).passed
    assert bench.Budget("acc", 0.98, 0.98, "", True).passed
    assert not bench.Budget("acc", 0.97, 0.98, "", True).passed
    assert bench.Budget("time", 10, 20, "s").passed
    assert bench.Budget("time", 20, 20, "s").passed
    assert not bench.Budget("time", 21, 20, "s").passed
    assert bench.Budget("time", 10, 20, "s").row().endswith("PASS")
    assert bench.Budget("time", 21, 20, "s").row().endswith("FAIL")


def test_book_budgets_appear_when_the_book_was_measured():
    results = {"training": {"CNN": {"test_acc": 0.99, "train_s": 3}},
               "conv": {"ratio": 2.0},
               "book": {"clean_build_s": 100, "cached_build_s": 5,
                        "notebook_execution_s": {"a": 40.0, "b": 25.0}}}
    checks = bench.budgets(results)
    assert checks[0].value == 65.0
    assert [c.passed for c in checks] == [False, False, True, True, True,
                                          True]


@pytest.mark.slow
def test_widget_budgets_judge_the_measured_widgets(trained_cnn):
    results = {"training": {"CNN": {"test_acc": 0.99, "train_s": 3}},
               "conv": {"ratio": 2.0},
               "widgets": {"execution_s": 2.5, "javascript_kib": 27.0}}
    checks = {c.name: c.passed for c in bench.budgets(results)}
    assert checks["widgets: added execution"] is False
    assert checks["widgets: JavaScript (unminified)"] is True
    results["widgets"] |= {"cifar_forward_ms": 25.0,
                           "cifar_weights_kb": 566}
    checks = {c.name: c.passed for c in bench.budgets(results)}
    assert checks["CIFAR explorer: one forward pass"] is False
    assert checks["CIFAR explorer: weights file"] is True
    measured = bench.bench_widgets(trained_cnn.model)
    assert measured["digits_weights_kb"] > 4 * 35_914 / 1000   # float32
    assert 2 * 282_250 / 1000 < measured["cifar_weights_kb"] < 700
    assert measured["cifar_samples_kb"] == round(30 * 3 * 32 * 32 / 1000)
    assert 0 < measured["cifar_forward_ms"] < measured["cifar_occlusion_s"] \
        * 1000
    assert measured["javascript_kib"] > 30        # the five scripts exist
    printed = "\n".join(bench.widget_lines(measured))
    assert f"one forward pass {measured['cifar_forward_ms']} ms" in printed


def test_trainer_budget_needs_the_accuracy_and_the_time():
    """In-page training passes only if it reached 95 % within 60 s."""
    def verdict(seconds, acc):
        results = {"training": {"CNN": {"test_acc": 0.99, "train_s": 3}},
                   "conv": {"ratio": 2.0},
                   "trainer": {"seconds": seconds, "test_acc": acc}}
        return [b for b in bench.budgets(results)
                if b.name.startswith("in-page training")][0].passed
    assert verdict(38.9, 0.953)
    assert not verdict(61, 0.96)
    assert not verdict(20, 0.94)       # stopped short of 95 %
