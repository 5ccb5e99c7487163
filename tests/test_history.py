"""Year over year: thresholds, loading last year's exports, Biểu 13 of the report."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.workbook.workbook import Workbook

from pipeline import report as rp
from pipeline.export import write_tables
from pipeline.history import (
    Previous,
    Thresholds,
    _before,
    change_label,
    compare_aggregates,
    compared_fields,
    jump,
    load_previous,
    number_text,
)
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import YEAR, submissions
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    save,
    school_workbook,
    table_cell,
)

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


# --------------------------------------------------------------------------- every sheet


def _unit_year(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    folder: Path,
    year: int,
    teachers_total: int,
    initiatives: int,
) -> Workbook:
    """The unit's per-unit template of `year`, filled and saved as the unit sends it."""
    people_rows = [dict(r) for r in CLEAN_PEOPLE]
    people_rows[1].update(total=teachers_total)  # Giáo viên
    values = dict(CLEAN_SCHOOL, report_date=dt.datetime(year, 11, 25))
    rows = [dict(CLEAN_INITIATIVES[0], title=f"Sáng kiến {i + 1}") for i in range(initiatives)]
    wb = school_workbook(
        schemas, registry, settings, values=values, year=year,
        lists={"people": people_rows, "initiatives": rows, "nominations": CLEAN_NOMINATIONS},
    )  # fmt: skip
    save(wb, folder / str(year) / "THPT-Q01-01.xlsx")
    return wb


@pytest.fixture(scope="module")
def people_jump(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RunResult, Workbook]:
    """2025: 80 teachers, 12 initiatives. 2026: 400 teachers (a typo ×5), no initiative."""
    root = tmp_path_factory.mktemp("two-years")
    inbox, out = root / "in", root / "out"
    _unit_year(schemas, registry, settings, inbox, 2025, 80, 12)
    wb = _unit_year(schemas, registry, settings, inbox, 2026, 400, 0)
    for year in (2025, 2026):
        folder = inbox / str(year)
        raws = [read_submission(p, folder, schemas.report) for p in sorted(folder.iterdir())]
        previous = load_previous(out, year)
        assert (previous is None) == (year == 2025)
        result = consolidate(raws, year, schemas, registry, settings, previous=previous)
        write_tables(result, out / str(year))
    return result, wb


def test_people_total_jump_warns_at_the_cell_of_this_year(
    people_jump: tuple[RunResult, Workbook],
) -> None:
    result, wb = people_jump
    (issue,) = [i for i in result.issues if i.code == "implausible-change"]
    assert issue.severity == "warning" and issue.unit_code == "THPT-Q01-01"
    assert issue.file == "THPT-Q01-01.xlsx"
    assert f"{issue.sheet}!{issue.cell}" == table_cell(wb, "people", 2, "total")
    assert (issue.field, issue.value) == ("people.total", "400")
    assert issue.message.startswith(
        "“Giáo viên: tổng số” năm 2026 là 400, năm 2025 là 80 (tăng gấp 5 lần)."
    )


def test_year_over_year_csv_covers_people_and_lists(
    people_jump: tuple[RunResult, Workbook],
) -> None:
    result, _ = people_jump
    yoy = result.extra["year_over_year"]
    assert isinstance(yoy, pd.DataFrame)
    rows = yoy.set_index("field")
    teachers = rows.loc["people.teachers.total"]
    assert (teachers["previous"], teachers["current"], teachers["change"]) == (80, 400, 320)
    assert teachers["pct_change"] == 4 and bool(teachers["implausible"])
    # Every cell of the matrix is compared; only the jump is flagged.
    people = [f for f in rows.index if f.startswith("people.")]
    assert len(people) == 4 * 6
    assert [f for f in rows.index if bool(rows.loc[f, "implausible"])] == ["people.teachers.total"]
    # 12 initiatives to none: shown, not flagged (a list's length depends on the year).
    count = rows.loc["initiatives.count"]
    assert (count["previous"], count["current"], bool(count["implausible"])) == (12, 0, False)
    assert rows.loc["nominations.count", "previous"] == 1


def test_form_13_names_the_people_cell_in_vietnamese(
    people_jump: tuple[RunResult, Workbook],
) -> None:
    result, _ = people_jump
    wb = openpyxl.load_workbook(io.BytesIO(rp.build_workbook(result)))
    labels = [str(r[1]) for r in wb["Biểu 13"].iter_rows(values_only=True) if r[1]]
    assert any(label.endswith("(THPT-Q01-01): giáo viên: tổng số") for label in labels), labels
    assert not any("people." in label for label in labels)


def test_codes_compared_whatever_their_case(schemas: Schemas) -> None:
    """Last year's exports written under a registry in upper case, this year's in lower."""
    values = pd.DataFrame(
        {"year": ["2025"], "unit_code": ["THPT-01"], "field": ["news_items"], "value": ["40"]}
    )
    people = pd.DataFrame({"unit_code": ["THPT-01"], "group": ["teachers"], "total": ["80"]})
    previous = Previous(2025, values, pd.DataFrame(), {"people": people})
    before = _before(previous, schemas.report)
    assert before[("thpt-01", "news_items")] == 40
    assert before[("thpt-01", "people.teachers.total")] == 80
    # No initiatives export at all (an older version): nothing known. An export without a
    # row of the unit: it listed none.
    assert ("thpt-01", "initiatives.count") not in before
    empty = pd.DataFrame(columns=["unit_code", "title"])
    previous = Previous(2025, values, pd.DataFrame(), {"people": people, "initiatives": empty})
    assert _before(previous, schemas.report)[("thpt-01", "initiatives.count")] == 0


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("campaign_events", "Số hoạt động, sự kiện tuyên truyền"),
        ("people.teachers.total", "Giáo viên: tổng số"),
        ("people.learners.recognised", "Học sinh, học viên: được công nhận “Công dân học tập”"),
        ("initiatives.count", "Sáng kiến, giải pháp thực hiện phong trào thi đua: số dòng"),
    ],
)
def test_change_label(schemas: Schemas, key: str, label: str) -> None:
    assert change_label(key, schemas.report) == label
