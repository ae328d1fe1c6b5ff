"""Quartiles of decimal amounts, computed exactly so every member gets the same figures.

Hyndman and Fan type 7 (R's default, numpy's default, ``statistics.quantiles(method=
"inclusive")``): sorted values ``x_0..x_{n-1}``, ``h = (n-1)p``,
``q = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])`` -- the same method as a
ballot's numeric result (docs/ballots.md section 7). Amounts have at most 4 decimals and
``h`` is a multiple of 1/4, so every figure is an exact decimal; it is printed without
trailing zeros. No floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

__all__ = ["Quartiles", "decimal_text", "quantile", "quartiles"]


def quantile(ordered: list[Fraction], p: Fraction) -> Fraction:
    """Type-7 quantile ``p`` of a non-empty, sorted list."""
    if not ordered:
        raise ValueError("no values")
    h = (len(ordered) - 1) * p
    low = int(h)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (h - low) * (ordered[low + 1] - ordered[low])


def decimal_text(value: Fraction) -> str:
    """An exact decimal string: ``450``, ``52.5``, ``0.0625`` (denominators here divide 10^6)."""
    number = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(number) != value:
        raise ValueError("not an exact decimal")
    text = format(number.normalize(), "f")
    return text


@dataclass(frozen=True)
class Quartiles:
    """Count and type-7 quartiles, as exact decimal strings."""

    count: int
    q1: str
    median: str
    q3: str


def quartiles(amounts: list[str]) -> Quartiles:
    """Quartiles of decimal strings (already checked); order of the input does not matter."""
    ordered = sorted(Fraction(Decimal(a)) for a in amounts)
    return Quartiles(
        len(ordered),
        decimal_text(quantile(ordered, Fraction(1, 4))),
        decimal_text(quantile(ordered, Fraction(1, 2))),
        decimal_text(quantile(ordered, Fraction(3, 4))),
    )
