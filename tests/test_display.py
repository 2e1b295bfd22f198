import pytest

from cnn_tutorial.display import fmt_int, fmt_pct, markdown_table


def test_number_formats():
    assert fmt_int(33280) == "33\u202f280"
    assert fmt_int(77070848) == "77\u202f070\u202f848"
    assert fmt_pct(0.98666) == "98.7\u202f%"
    assert fmt_pct(0.52, 0) == "52\u202f%"


def test_markdown_table():
    text = markdown_table(["a", "b"], [[1, 2], [3, 4]]).data
    assert text.splitlines() == ["| a | b |", "| --- | --- |", "| 1 | 2 |",
                                 "| 3 | 4 |"]
    with pytest.raises(ValueError):
        markdown_table(["a"], [[1, 2]])
