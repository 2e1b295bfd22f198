"""Numbers and tables as the book prints them."""
from __future__ import annotations

from collections.abc import Sequence

from IPython.display import Markdown


def fmt_int(n: int | float) -> str:
    """33280 -> '33 280' (a thin no-break space groups the thousands)."""
    return f"{int(round(n)):,}".replace(",", "\u202f")


def fmt_pct(fraction: float, digits: int = 1) -> str:
    """0.9867 -> '98.7 %'."""
    return f"{100 * fraction:.{digits}f}\u202f%"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> Markdown:
    """A Markdown table that a book cell renders as a real HTML table."""
    if any(len(row) != len(headers) for row in rows):
        raise ValueError("every row needs one value per header")
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
        *("| " + " | ".join(str(v) for v in row) + " |" for row in rows),
    ]
    return Markdown("\n".join(lines))
