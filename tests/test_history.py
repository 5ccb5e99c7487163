"""Year over year: thresholds, loading last year's exports, Biểu 13 of the report."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline import report as rp
from pipeline.export import write_tables
from pipeline.history import (
    Previous,
    Thresholds,
    compare_aggregates,
    compared_fields,
    jump,
    load_previous,
    number_text,
)
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import YEAR, submissions

T = Thresholds(3, 10)


@pytest.mark.parametrize(
    ("previous", "current", "flag"),
    [
        (100, 120, ""),
        (10, 30, "tăng gấp 3 lần"),
        (100, 350, "tăng gấp 3,5 lần"),
        (2, 6, ""),  # small counts move a lot
        (12, 0, "giảm về 0"),
        (5, 0, ""),
        (300, 90, "giảm còn 1/3,3"),
        (0, 9, ""),
        (0, 30, "tăng từ 0"),
    ],
)
def test_jump(previous: float, current: float, flag: str) -> None:
    assert jump(previous, current, T) == flag


def test_thresholds_come_from_criteria(schemas: Schemas) -> None:
    assert Thresholds.from_schemas(schemas) == Thresholds(3.0, 10.0)


def test_years_are_not_compared(schemas: Schemas) -> None:
    codes = {f.code for f in compared_fields(schemas)}
    assert "campaign_events" in codes and "funds_mobilised" in codes
    assert not codes & {"report_year", "ldu_recognised_year", "ldu_level1_year"}


def test_number_text() -> None:
    assert number_text(12_500_000) == "12.500.000"
    assert number_text(2.5) == "2,5"


def test_compare_aggregates() -> None:
    prev = pd.DataFrame(
        {"level": ["city"] * 2, "key": ["X"] * 2, "field": ["a", "b"], "value": [10.0, 0.0]}
    )
    cur = pd.DataFrame(
        {"level": ["city"] * 2, "key": ["X"] * 2, "field": ["a", "c"], "value": [15.0, 1.0]}
    )
    both = compare_aggregates(cur, prev, "city").set_index("field")
    assert both.loc["a", "change"] == 5 and both.loc["a", "pct_change"] == 0.5
    assert pd.isna(both.loc["b", "current"]) and pd.isna(both.loc["c", "previous"])


@pytest.fixture(scope="module")
def two_years(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RunResult, Path]:
    """The report test data as last year (exports on disk), then again with one jump."""
    out = tmp_path_factory.mktemp("output")
    # The same submissions stand in for last year: only the folder of the exports matters.
    last = consolidate(submissions(schemas), YEAR, schemas, registry, settings)
    write_tables(last, out / str(YEAR - 1))
    values = pd.read_csv(out / str(YEAR - 1) / "data" / "values.csv", encoding="utf-8-sig")
    unit = str(values["unit_code"].iloc[0])
    mask = (values["unit_code"] == unit) & (values["field"] == "campaign_participants")
    values.loc[mask, "value"] = "5000000"
    values.to_csv(out / str(YEAR - 1) / "data" / "values.csv", index=False, encoding="utf-8-sig")
    previous = load_previous(out, YEAR)
    assert isinstance(previous, Previous) and previous.year == YEAR - 1
    result = consolidate(submissions(schemas), YEAR, schemas, registry, settings, previous=previous)
    return result, out


def test_load_previous_missing(tmp_path: Path) -> None:
    assert load_previous(tmp_path, 2026) is None


def test_unit_jump_is_a_warning_at_its_cell(two_years: tuple[RunResult, Path]) -> None:
    result, _ = two_years
    jumps = [i for i in result.issues if i.code == "implausible-change"]
    assert len(jumps) >= 1
    issue = next(i for i in jumps if i.field == "campaign_participants")
    assert issue.severity == "warning" and issue.cell and issue.sheet
    assert "5.000.000" in issue.message and f"năm {YEAR - 1}" in issue.message
    yoy = result.extra["year_over_year"]
    assert isinstance(yoy, pd.DataFrame) and yoy["implausible"].any()


def test_report_shows_the_year_before(two_years: tuple[RunResult, Path]) -> None:
    result, _ = two_years
    wb = openpyxl.load_workbook(io.BytesIO(rp.build_workbook(result)))
    assert wb.sheetnames[-1] == "Biểu 13"
    rows = [r for r in wb["Biểu 13"].iter_rows(values_only=True) if any(r)]
    header = next(r for r in rows if r[0] == "STT")
    assert header[2:6] == (
        f"Năm {YEAR - 1}",
        f"Năm {YEAR}",
        "Tăng (+), giảm (-)",
        "Tỷ lệ tăng, giảm",
    )
    units_row = next(r for r in rows if r[1] == "Số đơn vị")
    assert units_row[2] == units_row[3] and units_row[4] == 0
    assert any(r[0] and str(r[0]).startswith("III.") and str(r[0]).endswith(": 1") for r in rows)
    cover = [c for r in wb["Bìa"].iter_rows(values_only=True) for c in r if c]
    assert "Biểu 13. So sánh với năm trước" in cover


def test_no_year_before_no_form_13(
    schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    result = consolidate(submissions(schemas), YEAR, schemas, registry, settings)
    wb = openpyxl.load_workbook(io.BytesIO(rp.build_workbook(result)))
    assert "Biểu 13" not in wb.sheetnames
