import pytest

from cnn_tutorial import display
from cnn_tutorial.cifar import present
from cnn_tutorial.display import NOT_MEASURED, fmt_int, fmt_pct, markdown_table


def test_number_formats():
    assert fmt_int(999) == "999"
    assert fmt_int(1000) == "1\u202f000"
    assert fmt_int(1234567) == "1\u202f234\u202f567"
    assert fmt_int(35913.6) == "35\u202f914"       # rounds, not truncates
    assert fmt_pct(0.98666) == "98.7\u202f%"
    assert fmt_pct(0.52, 0) == "52\u202f%"


def test_markdown_table():
    text = markdown_table(["a", "b"], [[1, 2], [3, 4]]).data
    assert text.splitlines() == ["| a | b |", "| --- | --- |", "| 1 | 2 |",
                                 "| 3 | 4 |"]
    with pytest.raises(ValueError):
        markdown_table(["a"], [[1, 2]])


# --- without the CIFAR-10 cache: the pages still build and say so ---------

@pytest.fixture
def no_cache(tmp_path):
    from cnn_tutorial.cifar.cache import open_cache

    folder = tmp_path / "cifar"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        '{"command": "x", "artefacts": {"samples.png": "0"}, "dataset": {}}')
    (folder / "samples.png").write_bytes(b"altered")
    return open_cache(folder)


def test_without_the_cache_the_page_warns_and_names_the_problem(no_cache):
    text = present.cache_report(no_cache).data
    assert text.startswith(":::{warning}")
    assert "**only the figures the original tutorial reports" in text
    assert "samples.png was altered after it was generated" in text
    assert "metrics.json is missing" in text
    assert "make cifar" in text


def test_without_the_cache_every_number_is_a_dash(no_cache):
    from conftest import ROOT

    from cnn_tutorial.cifar.cache import CACHE_DIR, open_cache

    numbers = present.numbers(no_cache)
    measured = present.numbers(open_cache(ROOT / CACHE_DIR))
    assert set(numbers) == set(measured) == set(present.REGISTRY)
    settings = {name for name, entry in present.REGISTRY.items()
                if entry.needs == "nothing"}
    # the tutorial's figures and the script's settings, cache or not
    assert {n for n in settings if n.startswith("reported_")} == {
        "reported_mlp_acc", "reported_cnn_acc"}
    for name, text in numbers.items():
        if name in settings:
            assert text == measured[name], name
        else:
            assert text == NOT_MEASURED, name
    assert numbers["reported_cnn_acc"] == "70\u202f%"
    assert all(text != NOT_MEASURED for text in measured.values())


def test_a_cache_without_transfer_runs_dashes_only_the_transfer(tmp_path):
    import json
    import shutil

    from conftest import ROOT

    from cnn_tutorial.cifar import cache as cifar_cache

    copy = tmp_path / "cifar"
    shutil.copytree(ROOT / cifar_cache.CACHE_DIR, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["transfer"] = None
    (copy / "metrics.json").write_text(json.dumps(metrics))
    manifest = json.loads((copy / "manifest.json").read_text())
    cifar_cache.write_manifest(copy, manifest["command"],
                               manifest["dataset"])
    numbers = present.numbers(cifar_cache.open_cache(copy))
    for name, text in numbers.items():
        assert (text == NOT_MEASURED) == name.startswith("transfer_"), name
    assert present.transfer_table(cifar_cache.open_cache(copy)).data == \
        NOT_MEASURED


def test_every_registered_number_is_on_a_page_and_every_cached_one_known():
    """The registry and the pages agree: no registered number goes unused,
    and a page never refers to a CIFAR-10 number nobody registered or
    glued (the pages glue a few of their own, from live cells)."""
    import re

    from conftest import CHAPTER_FILES, ROOT

    texts = [(ROOT / f"{page}.md").read_text() for page in CHAPTER_FILES]
    referenced = {name for text in texts for name in re.findall(
        r"\{glue(?::\w+)?\}`([\w]+)`", text)}
    glued_by_pages = {name for text in texts
                      for name in re.findall(r'glue\("(\w+)"', text)}
    assert set(present.REGISTRY) - referenced == set()
    cached = {n for n in referenced
              if n.startswith(("cifar_", "transfer_", "attr_", "reported_"))}
    assert cached - set(present.REGISTRY) - glued_by_pages == set()


def test_without_the_cache_the_verdict_shows_reported_figures_only(no_cache):
    rows = present.verdict_table(no_cache).data.splitlines()[2:]
    assert rows == [
        f"| MLP | ~1\u202f700\u202f000 | ~52\u202f% | {NOT_MEASURED} "
        f"| {NOT_MEASURED} |",
        f"| CNN | ~300\u202f000 | ~70\u202f% | {NOT_MEASURED} "
        f"| {NOT_MEASURED} |"]


def test_without_the_cache_figures_and_charts_are_named_not_faked(no_cache):
    for shown in (present.show(no_cache, "samples"),
                  *(present.cifar_chart(no_cache, kind)
                    for kind in present.CHARTS),
                  present.cifar_filters(no_cache),
                  present.real_world_table(no_cache),
                  present.ladder_table(no_cache),
                  present.search_table(no_cache)):
        assert "<img" not in shown.data and "png" not in type(shown).__name__
    assert "not available in this build" in present.show(
        no_cache, "samples").data
    assert NOT_MEASURED in present.real_world_table(no_cache).data
    assert NOT_MEASURED in present.gains_table(no_cache).data


def test_tiny_numbers_in_scientific_notation():
    assert display.fmt_sci(1.95e-6) == "1.95 × 10⁻⁶"
    assert display.fmt_sci(0.0005) == "5 × 10⁻⁴"
    assert display.fmt_sci(0.05) == "0.05"
    assert display.fmt_sci(0.002 / 1.5) == "0.00133"     # 3 digits too
    assert display.fmt_sci(-2.5e7) == "\u22122.5 × 10⁷"


def test_numbers_use_a_true_minus():
    assert display.fmt_number(-8.0) == "\u22128"
    assert display.fmt_number(2.5) == "2.5"


def test_layer_tables_show_the_activation_bytes_per_layer():
    from cnn_tutorial import models
    from cnn_tutorial.display import layer_table, walkthrough_table

    lines = layer_table(models.digits_cnn(seed=0), (1, 8, 8)).data
    header, _, first, *_, total = lines.splitlines()
    assert header.endswith("| multiply-adds | activation bytes |")
    assert first == "| block1.0 | Conv2d | 32×8×8 | 320 | 18\u202f432 | " \
        "8\u202f192 |"                              # 32*8*8 float32 values
    assert total.endswith("| **330\u202f368** |  |")
    lenet = walkthrough_table(models.lenet5(), (1, 32, 32)).data
    assert "| C1 | ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28 | 6×28×28 | 6×28×28 | 156 " \
        "| 117\u202f600 | 18\u202f816 |" in lenet
