"""How a rate is shown: one rule for the workbook, the .docx draft, the charts and the reasons.

Specification (docs/dac-ta-tieu-chi.md, mục 1.4): a rate is compared with its threshold
exactly (`pipeline.evaluate.at_least`) and shown **truncated** (rounded down, toward zero) to
one decimal of a percent. 79,96% is shown 79,9%, never 80,0%, so a figure shown beside
“Không đạt” (target 80%) cannot read as reaching the target; 80,00% is shown 80%.

* Python text (the .docx, chart labels, the reasons of verdicts): :func:`pct_text`.
* Workbook cells: a number format cannot truncate (``0.0%`` rounds 0.7996 up to 80.0%), so
  a cell holds the truncated value itself: a live formula ``ROUNDDOWN(n/d,3)``
  (:func:`excel_rate`) whose cached value is :func:`shown_ratio`, or a number written as
  :func:`shown`; the number format :data:`NUMBER_FORMAT` then only displays it.
* A change between two rates (Biểu 13, the draft) is the difference of the two shown
  figures, so the reader's subtraction gives the change shown (:func:`shown_change`).
"""

from __future__ import annotations

import math
from fractions import Fraction

DECIMALS = 1
"""Decimals of a percent shown (79,9%)."""
STEPS = 10 ** (DECIMALS + 2)
"""Steps of a whole (1 = 100%): a rate is shown as a whole number of 1/1000."""
NUMBER_FORMAT = "0.0%"
"""The workbook's number format of a rate cell (it displays, it never rounds across a step)."""


def exact(rate: Fraction | float) -> Fraction:
    """The rate as an exact fraction; a float is read as the decimal it prints as (0.8 is
    80%, not 79,99999…%)."""
    return rate if isinstance(rate, Fraction) else Fraction(repr(float(rate)))


def _steps(rate: Fraction | float) -> int:
    return math.trunc(exact(rate) * STEPS)


def shown(rate: Fraction | float) -> float:
    """The value shown for `rate`: truncated to 0,1% (0.7996 → 0.799, −0.0125 → −0.012)."""
    return _steps(rate) / STEPS


def shown_ratio(num: float | None, den: float | None) -> float | None:
    """The shown value of num / den (exact division, then truncated); None if there is none."""
    if num is None or den is None or den == 0:
        return None
    return shown(Fraction(num) / Fraction(den))


def shown_change(current: Fraction | float, previous: Fraction | float) -> float:
    """The change between two rates as shown: shown(current) − shown(previous), exact."""
    return (_steps(current) - _steps(previous)) / STEPS


def _number(value: float) -> str:
    """1.234 and 12,5 (Vietnamese separators), no trailing zeros."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    text = f"{value:,.{DECIMALS}f}".rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def pct_text(rate: Fraction | float) -> str:
    """A rate as text, truncated: 0.7996 → “79,9%”, 0.8 → “80%”, 0.9546 → “95,4%”."""
    return f"{_number(_steps(rate) / 10**DECIMALS)}%"


def points_text(change: Fraction | float) -> str:
    """A change between two rates, unsigned, in percentage points: “2,3 điểm phần trăm”."""
    return f"{_number(abs(_steps(change)) / 10**DECIMALS)} điểm phần trăm"


def excel_rate(num: str, den: str) -> str:
    """The formula body of a shown rate: num / den truncated as :func:`shown` does."""
    return f"ROUNDDOWN({num}/{den},{DECIMALS + 2})"
