import pytest

from cnn_tutorial import display
from cnn_tutorial.display import fmt_int, fmt_pct, markdown_table


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
    text = display.cache_report(no_cache).data
    assert text.startswith(":::{warning}")
    assert "**only the figures the original tutorial reports" in text
    assert "samples.png was altered after it was generated" in text
    assert "metrics.json is missing" in text
    assert "make cifar" in text


def test_without_the_cache_every_number_is_a_dash(no_cache, tmp_path):
    from conftest import ROOT

    from cnn_tutorial.cifar.cache import CACHE_DIR, open_cache

    numbers = display.cifar_numbers(no_cache)
    measured = display.cifar_numbers(open_cache(ROOT / CACHE_DIR))
    assert set(numbers) == set(measured)       # every glue name, both ways
    for name, text in numbers.items():
        if name.startswith("reported_"):
            assert text == measured[name] and text.endswith("%")
        elif name in ("cifar_map_channels", "cifar_patch_channels"):
            assert text == measured[name]       # the script's settings
        else:
            assert text == display.NOT_MEASURED, name


def test_without_the_cache_the_verdict_shows_reported_figures_only(no_cache):
    rows = display.verdict_table(no_cache).data.splitlines()[2:]
    assert rows == [
        f"| MLP | ~1\u202f700\u202f000 | ~52\u202f% | {display.NOT_MEASURED} "
        f"| {display.NOT_MEASURED} |",
        f"| CNN | ~300\u202f000 | ~70\u202f% | {display.NOT_MEASURED} "
        f"| {display.NOT_MEASURED} |"]


def test_without_the_cache_figures_and_charts_are_named_not_faked(no_cache):
    for shown in (display.show(no_cache, "samples"),
                  display.cifar_chart(no_cache, "curves"),
                  display.cifar_filters(no_cache),
                  display.real_world_table(no_cache)):
        assert "<img" not in shown.data and "png" not in type(shown).__name__
    assert "not available in this build" in display.show(
        no_cache, "samples").data
    assert display.NOT_MEASURED in display.real_world_table(no_cache).data


def test_numbers_use_a_true_minus():
    assert display.fmt_number(-8.0) == "\u22128"
    assert display.fmt_number(2.5) == "2.5"
