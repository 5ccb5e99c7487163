"""Criteria end to end: per-unit templates filled as units fill them, through `consolidate`.

The worked cases of docs/dac-ta-tieu-chi.md run in memory (tests/test_criteria_cases.py);
here a few of them go the whole way: a per-unit template filled and saved by openpyxl, the
same files re-saved by LibreOffice, `python -m pipeline consolidate` on the folder, then
criteria.csv, issues.csv (at the real cells), Biểu 01, Biểu 05 and the .docx draft. It also
checks the one rule for the target of the year: criterion c1, Biểu 01 and the draft state
the same QĐ 677 target for 2025 (60%) and for 2026 (80%).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.narrative import narrative_path
from pipeline.registry import Registry
from pipeline.report import workbook_path
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert_all
from tests.submission_factory import (
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
    table_cell,
)

ROOT = Path(__file__).resolve().parent.parent

LAPSED_SCHOOL = "THPT-H01-01"
BLANK_STAFF_SCHOOL = "THPT-H01-02"
AREA_OFFICE = "PGD-H01"

AREA_VALUES: dict[str, Any] = {
    **{k: v for k, v in CLEAN_SCHOOL.items() if k != "reporter_title"},
    "reporter_title": "Phó Trưởng phòng",
    "documents_advised": 2,
    "inspections": 10,
    "institutions_total": 0,
    "institutions_registered": 0,
    "institutions_recognised": 0,
    "ldu_recognised_year": 2024,
    "ldu_level1_year": 2024,
}
AREA_PEOPLE = [
    {"group_label": "Cán bộ quản lý", "total": 4, "registered": 4, "recognised": 4},
    {"group_label": "Nhân viên", "total": 18, "registered": 18, "recognised": 17},
]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _people(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in CLEAN_PEOPLE:
        out.append({**row, **changes.get(str(row["group_label"]), {})})
    return out


def _files(
    schemas: Schemas, registry: Registry, settings: Settings, folder: Path, year: int
) -> dict[str, dict[str, str]]:
    """Three per-unit files; returns, per unit, the cells the checks look at."""
    date = {"report_date": dt.datetime(year, 11, 25)}
    cells: dict[str, dict[str, str]] = {}
    # A school recognised Mức 1 in 2023 (lapsed from 2026) whose only initiative has a level
    # that is not in the list ("Cấp tỉnh"): b3 fails with a warning, b2 waits for a fix.
    wb = school_workbook(
        schemas,
        registry,
        settings,
        LAPSED_SCHOOL,
        {**CLEAN_SCHOOL, **date, "ldu_recognised_year": 2023, "ldu_level1_year": 2023},
        {
            "people": CLEAN_PEOPLE,
            "initiatives": [
                {
                    "title": "Câu lạc bộ đọc sách",
                    "authors": "Lê Thị Hoa",
                    "level": "Cấp tỉnh",
                    "year": year,
                    "decision": "15/QĐ-THPT",
                },
            ],
            "nominations": [],
        },
        year=year,
    )
    cells[LAPSED_SCHOOL] = {
        "ldu_recognised_year": cell_of(wb, "ldu_recognised_year"),
        "initiative_level": table_cell(wb, "initiatives", 1, "level"),
    }
    save(wb, folder / f"{LAPSED_SCHOOL}.xlsx")
    # A school whose staff row leaves "recognised" blank: c1 cannot be computed.
    wb = school_workbook(
        schemas,
        registry,
        settings,
        BLANK_STAFF_SCHOOL,
        {**CLEAN_SCHOOL, **date, "reporter_email": "binh@example.vn"},
        {"people": _people(**{"Nhân viên": {"recognised": None}}), "initiatives": []},
        year=year,
    )
    # The matrix's fixed rows follow choices.people_group: staff is the third.
    sheet, ref = table_cell(wb, "people", 3, "group").split("!")
    assert wb[sheet][ref].value == "Nhân viên"
    cells[BLANK_STAFF_SCHOOL] = {"staff_recognised": table_cell(wb, "people", 3, "recognised")}
    save(wb, folder / f"{BLANK_STAFF_SCHOOL}.xlsx")
    # An area office with no institutions in its area (a4: 0/0) and a recognition of 2024.
    wb = school_workbook(
        schemas,
        registry,
        settings,
        AREA_OFFICE,
        {**AREA_VALUES, **date},
        {
            "people": AREA_PEOPLE,
            "initiatives": [
                {
                    "title": "Sổ tay “Đơn vị học tập”",
                    "authors": "Nguyễn Văn An",
                    "level": "Cấp huyện",
                    "year": year,
                    "decision": "20/QĐ-UBND",
                },
            ],
            "nominations": [],
        },
        year=year,
    )
    save(wb, folder / f"{AREA_OFFICE}.xlsx")
    return cells


def _consolidate(folder: Path, out: Path, year: int) -> Path:
    result = CliRunner().invoke(
        main,
        [
            "consolidate",
            "--input",
            str(folder),
            "--year",
            str(year),
            "--output",
            str(out),
            "-q",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    return out / str(year)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> dict[str, tuple[Path, dict[str, dict[str, str]]]]:
    """2026 saved by openpyxl, the same files re-saved by LibreOffice, and 2025."""
    base = tmp_path_factory.mktemp("criteria-files")
    out: dict[str, tuple[Path, dict[str, dict[str, str]]]] = {}
    folder = base / "openpyxl-2026"
    folder.mkdir()
    cells = _files(schemas, registry, settings, folder, 2026)
    out["openpyxl"] = (_consolidate(folder, base / "out-openpyxl", 2026), cells)
    converted = convert_all(sorted(folder.glob("*.xlsx")), "xlsx", base / "libreoffice-2026")
    assert len(converted) == 3
    out["libreoffice"] = (_consolidate(base / "libreoffice-2026", base / "out-lo", 2026), cells)
    folder = base / "openpyxl-2025"
    folder.mkdir()
    out["2025"] = (_consolidate_2025(schemas, registry, settings, folder, base), {})
    return out


def _consolidate_2025(
    schemas: Schemas, registry: Registry, settings: Settings, folder: Path, base: Path
) -> Path:
    _files(schemas, registry, settings, folder, 2025)
    return _consolidate(folder, base / "out-2025", 2025)


def _verdicts(out: Path) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (r["unit_code"], r["criterion"]): (r["status"], r["reason"])
        for r in _rows(out / "data" / "criteria.csv")
    }


@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_verdicts_from_files(
    runs: dict[str, tuple[Path, dict[str, dict[str, str]]]], saved_by: str
) -> None:
    out, cells = runs[saved_by]
    v = _verdicts(out)
    # docs/dac-ta-tieu-chi.md: a5-nam-cuoi, a4-mau-so-0, b3-het-hieu-luc, b2-cap-loi,
    # c1-nhom-trong, and "không áp dụng" (no row) across unit types.
    assert v[(AREA_OFFICE, "a5")][0] == "đạt"
    assert "còn hiệu lực đến hết năm 2026" in v[(AREA_OFFICE, "a5")][1]
    assert v[(AREA_OFFICE, "a4")][0] == "chưa đủ số liệu"
    assert "bằng 0, không tính được tỷ lệ" in v[(AREA_OFFICE, "a4")][1]
    assert v[(AREA_OFFICE, "a3")][0] == "đạt"
    assert v[(LAPSED_SCHOOL, "b3")][0] == "không đạt"
    assert "hết hiệu lực trong năm 2026" in v[(LAPSED_SCHOOL, "b3")][1]
    assert v[(LAPSED_SCHOOL, "b2")][0] == "chưa đủ số liệu"
    assert cells[LAPSED_SCHOOL]["initiative_level"] in v[(LAPSED_SCHOOL, "b2")][1]
    assert v[(BLANK_STAFF_SCHOOL, "c1")][0] == "chưa đủ số liệu"
    assert cells[BLANK_STAFF_SCHOOL]["staff_recognised"] in v[(BLANK_STAFF_SCHOOL, "c1")][1]
    assert v[(BLANK_STAFF_SCHOOL, "b3")][0] == "đạt"
    assert (AREA_OFFICE, "b1") not in v and (LAPSED_SCHOOL, "a1") not in v


@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_lapsed_recognition_is_warned_at_its_cell(
    runs: dict[str, tuple[Path, dict[str, dict[str, str]]]], saved_by: str
) -> None:
    out, cells = runs[saved_by]
    lapsed = [r for r in _rows(out / "issues.csv") if r["code"] == "recognition-lapsed"]
    assert [r["unit_code"] for r in lapsed] == [LAPSED_SCHOOL]
    (issue,) = lapsed
    assert issue["severity"] == "warning"
    assert f"{issue['sheet']}!{issue['cell']}" == cells[LAPSED_SCHOOL]["ldu_recognised_year"]
    assert issue["value"] == "2023"
    assert "hết hiệu lực trong năm 2026" in issue["message"]
    assert "đánh giá, công nhận lại" in issue["message"]


def test_lapsed_recognition_counts_nowhere(
    runs: dict[str, tuple[Path, dict[str, dict[str, str]]]],
) -> None:
    out, _ = runs["openpyxl"]
    aggs = {
        r["field"]: float(r["value"])
        for r in _rows(out / "data" / "aggregates.csv")
        if r["level"] == "city"
    }
    # Two recognitions still valid (the area office's of 2024, the second school's of 2025)
    # out of three units: the lapsed one of 2023 is not in the QĐ 387 numerator.
    assert aggs["ldu_recognised"] == 2
    assert aggs["ldu_recognised_level_1"] == 2
    assert aggs["target.ldu_units"] == pytest.approx(2 / 3)
    ws = openpyxl.load_workbook(workbook_path(out, 2026))["Biểu 05"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert "Mức 1 (hết hiệu lực trong năm 2026)" in texts
    # "Số đơn vị theo mức": the recognised column counts Mức 1 twice, not three times
    # (the cached value of its COUNTIF; LibreOffice recomputes the same, see test_report).
    header = next(r for r in ws.iter_rows() if any(c.value == "Mức được công nhận" for c in r))
    col = next(c.column for c in header if c.value == "Mức được công nhận")
    cached = openpyxl.load_workbook(workbook_path(out, 2026), data_only=True)["Biểu 05"]
    level_rows = [r[0].row for r in ws.iter_rows() if any(c.value == "Mức 1" for c in r[:4])]
    formula_row = next(r for r in level_rows if str(ws.cell(r, col).value).startswith("=COUNTIF"))
    assert cached.cell(formula_row, col).value == 2
    document = docx.Document(str(narrative_path(out, 2026)))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "Có 2 đơn vị được công nhận “Đơn vị học tập” còn hiệu lực (2 đơn vị Mức 1;" in body
    assert (
        "Có 1 đơn vị ghi được công nhận “Đơn vị học tập” từ năm 2023 trở về trước; công nhận "
        "có giá trị 3 năm kể từ quyết định nên đã hết hiệu lực"
    ) in body


@pytest.mark.parametrize(
    ("run", "year", "rate", "by"), [("2025", 2025, 0.6, 2025), ("openpyxl", 2026, 0.8, 2030)]
)
def test_target_of_the_year_is_the_same_in_c1_form_01_and_the_draft(
    runs: dict[str, tuple[Path, dict[str, dict[str, str]]]],
    run: str,
    year: int,
    rate: float,
    by: int,
) -> None:
    out, _ = runs[run]
    pct = f"{int(rate * 100)}%"
    # c1, for every unit it applies to.
    c1 = [r for r in _rows(out / "data" / "criteria.csv") if r["criterion"] == "c1"]
    assert c1
    for r in c1:
        assert f"tỷ lệ từ {pct} trở lên (chỉ tiêu đến năm {by};" in r["reason"], r["reason"]
    # Biểu 01, section I: the row of the QĐ 677 target.
    ws = openpyxl.load_workbook(workbook_path(out, year))["Biểu 01"]
    header = next(r for r in ws.iter_rows() if any(c.value == "Chỉ tiêu phấn đấu" for c in r))
    col = {c.value: c.column for c in header if c.value}
    row = next(
        r[0].row
        for r in ws.iter_rows(min_row=header[0].row + 1)
        if any(str(c.value).startswith("Tỷ lệ cán bộ, giáo viên, nhân viên") for c in r)
    )
    assert ws.cell(row, col["Chỉ tiêu phấn đấu"]).value == pytest.approx(rate)
    assert ws.cell(row, col["Đến năm"]).value == by
    cover = [str(c.value) for r in ws.parent["Bìa"].iter_rows() for c in r if c.value]
    assert any(f"(chỉ tiêu {pct} đến năm {by})" in t for t in cover), cover
    # The draft report.
    document = docx.Document(str(narrative_path(out, year)))
    body = "\n".join(p.text for p in document.paragraphs)
    assert f"chỉ tiêu {pct} đến năm {by}" in body


def test_no_stray_files(runs: dict[str, tuple[Path, dict[str, dict[str, str]]]]) -> None:
    """Each run consolidated exactly the three files made for it."""
    for out, _ in runs.values():
        statuses = [r["status"] for r in _rows(out / "submissions.csv")]
        assert len(statuses) == 3 and "rejected" not in statuses, statuses
