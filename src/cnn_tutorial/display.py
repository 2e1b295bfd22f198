"""Generic formatting for the pages: numbers, differences in points,
Markdown tables and layer tables, as IPython output. The cached CIFAR-10
results are shown by :mod:`cnn_tutorial.cifar.present`."""
from __future__ import annotations

import math
from collections.abc import Sequence

from IPython.display import Markdown

NOT_MEASURED = "\u2014"


def fmt_int(n: int | float) -> str:
    """33280 -> '33 280' (a thin no-break space groups the thousands)."""
    return f"{int(round(n)):,}".replace(",", "\u202f")


def fmt_number(x: float) -> str:
    """-8.0 -> '−8' (shortest form, a true minus sign)."""
    return f"{x:g}".replace("-", "\u2212")


def fmt_sci(x: float, digits: int = 3) -> str:
    """1.95e-06 -> '1.95 × 10⁻⁶'; numbers from 0.001 to 10 000 plainly,
    both to ``digits`` significant digits."""
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return fmt_number(float(f"{x:.{digits}g}"))
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    superscript = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return (f"{fmt_number(float(mantissa))} × "
            f"10{str(int(exponent)).translate(superscript)}")


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


def layer_table(model, input_shape: tuple[int, ...]) -> Markdown:
    """Every layer of ``model`` for one input of ``input_shape`` [C, H, W]:
    type, output shape, parameters, multiply-adds and the bytes of its
    output (activations) per image, with the totals."""
    from .params import layer_table as rows_of

    rows = rows_of(model, (1, *input_shape))
    return markdown_table(
        ["layer", "type", "output shape", *COST_HEADERS],
        [*([r.name, r.kind, "×".join(map(str, r.output_shape[1:])),
            *_costs(r)] for r in rows),
         ["**total**", "", "", *_cost_totals(rows)]])


COST_HEADERS = ("parameters", "multiply-adds", "activation bytes")


def _costs(row) -> list[str]:
    return [fmt_int(row.params), fmt_int(row.macs),
            fmt_int(row.activation_bytes)]


def _cost_totals(rows) -> list[str]:
    """Totals of parameters and multiply-adds; none for the bytes (a
    Flatten's output is a view of its input: the sum would overcount)."""
    return [*(f"**{fmt_int(sum(getattr(r, key) for r in rows))}**"
              for key in ("params", "macs")), ""]


def walkthrough_table(model, input_shape: tuple[int, ...]) -> Markdown:
    """A sequential ``model`` layer by layer for one input of
    ``input_shape``: the output-size formula's arithmetic, the shape it
    predicts, the shape a forward pass gives, and the costs, with totals."""
    from .params import walkthrough

    rows = walkthrough(model, input_shape)
    return markdown_table(
        ["layer", "by the formula", "predicted", "forward pass",
         *COST_HEADERS],
        [*([w.layer.name, w.formula, "×".join(map(str, w.predicted_shape)),
            "×".join(map(str, w.layer.output_shape[1:])),
            *_costs(w.layer)] for w in rows),
         ["**total**", "", "", "", *_cost_totals([w.layer for w in rows])]])


def points(a: float, b: float) -> str:
    """The difference a - b of two accuracies, in percentage points, of
    the values as printed (rounded to 0.1 %), so the text's arithmetic
    checks out."""
    return f"{round(100 * a, 1) - round(100 * b, 1):.1f}".replace(
        "-", "\u2212")


def points_range(differences: Sequence[float]) -> str:
    """Seed-by-seed differences of two accuracies in points: '+1.4' for
    one seed, '+0.9 to +1.8' for several (signed, lowest first)."""
    values = sorted(round(100 * d, 1) for d in differences)

    def signed(v: float) -> str:
        return f"{v:+.1f}".replace("-", "\u2212")

    if values[0] == values[-1]:
        return signed(values[0])
    return f"{signed(values[0])} to {signed(values[-1])}"


def round_up(x: float, digits: int) -> str:
    """``x`` rounded up to ``digits`` decimals, so that a bound the text
    states ("at most ...") holds for the unrounded value."""
    scale = 10 ** digits
    return f"{math.ceil(x * scale - 1e-9) / scale:.{digits}f}"


def count_word(n: int) -> str:
    """3 -> 'three' (one to five in words, then digits)."""
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(
        n, str(n))
