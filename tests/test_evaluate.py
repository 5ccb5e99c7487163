"""The arithmetic the verdicts rest on (docs/dac-ta-tieu-chi.md, sections 1.4, 5 and 6).

Rates are compared exactly and shown rounded down; a recognition's validity and the Mức 2
timing are read from years only. The worked cases of the specification are in
tests/criteria_cases.yaml; these are the rules underneath them, over many values.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.evaluate import at_least, min_year_gap, recognition_state
from pipeline.rates import pct_text
from pipeline.schema import LearningUnitLevels, Schemas

percent = st.integers(min_value=0, max_value=100)
counts = st.integers(min_value=0, max_value=100_000)
positive = st.integers(min_value=1, max_value=100_000)


@given(num=counts, den=positive, pct=percent)
def test_at_least_is_exact(num: int, den: int, pct: int) -> None:
    """num ≥ pct% of den, as whole numbers: 7 of 100 meets 7%, though 0.07 × 100 > 7."""
    assert at_least(num, den, pct / 100) == (num * 100 >= pct * den)


@pytest.mark.parametrize(
    ("num", "den", "threshold", "expected"),
    [(7, 100, 0.07, True), (6, 100, 0.07, False), (3, 5, 0.6, True), (80, 100, 0.8, True),
     (799, 1000, 0.8, False), (29, 100, 0.29, True), (57, 100, 0.57, True)],
)  # fmt: skip
def test_at_least_at_the_threshold(num: int, den: int, threshold: float, expected: bool) -> None:
    assert at_least(num, den, threshold) is expected


def _shown(text: str) -> Fraction:
    assert text.endswith("%")
    return Fraction(text[:-1].replace(".", "").replace(",", ".")) / 100


@given(num=counts, den=positive)
def test_shown_rate_never_rounds_up(num: int, den: int) -> None:
    """A unit at 79,96% never reads “80%” next to “không đạt”."""
    rate = Fraction(num, den)
    shown = _shown(pct_text(rate))
    assert shown <= rate < shown + Fraction(1, 1000)


@pytest.mark.parametrize(
    ("rate", "text"),
    [(0.6, "60%"), (0.8, "80%"), (0.95, "95%"), (0.5, "50%"), (Fraction(799, 1000), "79,9%"),
     (Fraction(2, 3), "66,6%"), (Fraction(21, 22), "95,4%"), (Fraction(1), "100%")],
)  # fmt: skip
def test_pct_floor(rate: float | Fraction, text: str) -> None:
    assert pct_text(rate) == text


@given(months=st.integers(min_value=0, max_value=120))
def test_min_year_gap_is_the_fewest_years_that_can_be_long_enough(months: int) -> None:
    """Years A and A + g can be 12·g + 11 months apart at most (December to January)."""
    gap = min_year_gap(months)
    assert 12 * gap + 11 >= months
    assert gap == 0 or 12 * (gap - 1) + 11 < months


def test_twelve_months_need_mức_1_the_year_before() -> None:
    assert min_year_gap(12) == 1


@pytest.fixture
def spec(schemas: Schemas) -> LearningUnitLevels:
    return schemas.criteria.learning_unit_levels


@pytest.mark.parametrize(
    ("level", "recognised", "year", "state"),
    [
        ("level_1", 2026, 2026, "valid"),
        ("level_1", 2024, 2026, "valid"),  # the third and last year
        ("level_1", 2023, 2026, "lapsed"),  # from R + 3
        ("level_2", 2023, 2025, "valid"),
        ("level_2", 2022, 2025, "lapsed"),
        ("level_1", None, 2026, "unknown"),  # no year: validity unknown
        ("level_1", 2027, 2026, "unknown"),  # after the report year
        (None, 2025, 2026, "unknown"),
        ("none", None, 2026, "none"),
    ],
)
def test_recognition_state(
    spec: LearningUnitLevels, level: str | None, recognised: int | None, year: int, state: str
) -> None:
    assert spec.validity_years == 3
    assert recognition_state(level, recognised, spec, year) == state


@given(recognised=st.integers(min_value=2023, max_value=2030), year=st.integers(2023, 2035))
def test_a_recognition_counts_for_exactly_validity_years(recognised: int, year: int) -> None:
    spec = LearningUnitLevels("TT 24", 3, (), ())
    state = recognition_state("level_1", recognised, spec, year)
    if year < recognised:
        assert state == "unknown"
    else:
        assert (state == "valid") == (year - recognised < 3)
