import pytest

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
