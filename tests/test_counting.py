"""What is counted and summed into the city's figures: docs/dac-ta-tieu-chi.md, section 8.

Every case is a file made the way a unit makes it (its per-unit template filled with
openpyxl), consolidated through the real steps; the figures are read back from the unit
frame, the aggregates, the report workbook (Biểu 01) and the draft report (.docx).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import docx
import pytest
from openpyxl import load_workbook

from pipeline.charts import citizens_chart
from pipeline.narrative import build_narrative
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.report import build_workbook
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.hostile_corpus import insert_table_row
from tests.libreoffice import convert, soffice
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    save,
    school_workbook,
    table_cell,
)

YEAR = 2026


def _run(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    lists: dict[str, list[dict[str, Any]]],
) -> tuple[RunResult, Any]:
    full = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []}
    full.update(lists)
    wb = school_workbook(schemas, registry, settings, lists=full)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    raw = read_submission(path, tmp_path / "in", schemas.report)
    return consolidate([raw], YEAR, schemas, registry, settings), wb


def _section(ws: Any, heading: str) -> dict[str, Any]:
    """Label → count of the table under the heading starting with `heading` (its total row is
    a SUM of these lines)."""
    rows = [[v for v in r if v is not None] for r in ws.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r and str(r[0]).startswith(heading))
    out: dict[str, Any] = {}
    for r in rows[start + 2 :]:
        if len(r) != 3 or not isinstance(r[0], int):
            assert r and r[0] == "Tổng cộng" and str(r[1]).startswith("=SUM("), r
            return out
        out[str(r[1])] = r[2]
    raise AssertionError(heading)


def _docx_text(result: RunResult) -> str:
    doc = docx.Document(io.BytesIO(build_narrative(result)))
    return "\n".join(p.text for p in doc.paragraphs)


# --------------------------------------------------------------------------- 8.1 initiatives

INITIATIVE = CLEAN_INITIATIVES[0]


def test_an_initiative_with_a_blank_level_is_not_recognised(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case sang-kien-trong-cap: Cấp cơ sở, “Chưa công nhận” and a blank level. Before, the
    blank level was counted as recognised (2 of 3) and Biểu 01 IV added up to 2, not 3."""
    initiatives = [
        dict(INITIATIVE),
        dict(INITIATIVE, title="Tủ sách lớp học", level="Chưa công nhận", decision=None),
        dict(INITIATIVE, title="Góc học tập số", level=None),
    ]
    result, wb = _run(tmp_path, schemas, registry, settings, {"initiatives": initiatives})
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.units.loc[unit, "initiatives_count"] == 3
    assert result.units.loc[unit, "initiatives_effective"] == 1
    city = result.aggregates[result.aggregates["level"] == "city"].set_index("field")["value"]
    assert city["initiatives_effective"] == 1
    [issue] = [i for i in result.issues if i.code == "required-missing"]
    assert f"{issue.sheet}!{issue.cell}" == table_cell(wb, "initiatives", 3, "level")
    assert "không được tính là sáng kiến được công nhận" in issue.message
    assert "“Chưa công nhận”" in issue.message

    book = load_workbook(io.BytesIO(build_workbook(result)))
    ws = book["Biểu 01"]
    headline = {
        str(r[1]): r[2]
        for r in ws.iter_rows(values_only=True)
        if isinstance(r[0], int) and isinstance(r[1], str)
    }
    assert headline["Số sáng kiến, giải pháp"] == 3
    assert headline["Số sáng kiến được công nhận"] == 1
    levels = _section(ws, "IV.")
    assert levels["Cấp cơ sở"] == 1
    assert levels["Chưa công nhận"] == 1
    assert levels["Chưa ghi hoặc ghi sai “Cấp công nhận”"] == 1
    # The total line sums the lines: 3, the initiatives reported.
    assert sum(levels.values()) == 3

    text = _docx_text(result)
    assert "trong đó 1 sáng kiến đã được công nhận" in text
    assert "1 sáng kiến chưa ghi hoặc ghi sai cấp công nhận" in text


def test_initiatives_all_with_a_level_have_no_unassigned_line(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case sang-kien-du-cap: no blank level, no “Chưa ghi” line in Biểu 01 IV nor the draft."""
    initiatives = [
        dict(INITIATIVE),
        dict(INITIATIVE, title="Tủ sách lớp học", level="Cấp thành phố"),
    ]
    result, _ = _run(tmp_path, schemas, registry, settings, {"initiatives": initiatives})
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.units.loc[unit, "initiatives_effective"] == 2
    ws = load_workbook(io.BytesIO(build_workbook(result)))["Biểu 01"]
    levels = _section(ws, "IV.")
    assert levels["Cấp cơ sở"] == 1 and levels["Cấp thành phố"] == 1 and sum(levels.values()) == 2
    assert not any(k.startswith("Chưa ghi") for k in levels)
    assert "chưa ghi hoặc ghi sai cấp công nhận" not in _docx_text(result)


def test_nominations_by_form_add_up(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    """The same line for nominations: a nomination with a blank form is in no form."""
    nominations = [dict(CLEAN_NOMINATIONS[0]), dict(CLEAN_NOMINATIONS[0], proposed_form=None)]
    nominations[1]["nominee_name"] = "Lê Văn Nam"
    result, _ = _run(tmp_path, schemas, registry, settings, {"nominations": nominations})
    ws = load_workbook(io.BytesIO(build_workbook(result)))["Biểu 01"]
    forms = _section(ws, "V.")
    assert sum(forms.values()) == 2


# --------------------------------------------------------------------------- 8.2 inserted rows


def _with_inserted_row(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    row: dict[str, Any] | None,
) -> tuple[RunResult, str]:
    """The clean school report with `row` inserted between the teachers' and the staff's
    rows, as Excel inserts a row in a table; returns the run and the new row's group cell."""
    wb = school_workbook(schemas, registry, settings, lists={
        "people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []
    })  # fmt: skip
    group_cell = ""
    if row is not None:
        ws = next(ws for ws in wb.worksheets if "people" in ws.tables)
        at = insert_table_row(wb, "people", 3)
        header = [c.value for c in ws[at - 3]]
        for fld, value in row.items():
            ws.cell(row=at, column=header.index(fld) + 1).value = value
        group_cell = f"{ws.title}!{ws.cell(row=at, column=header.index('group') + 1).coordinate}"
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    raw = read_submission(path, tmp_path / "in", schemas.report)
    return consolidate([raw], YEAR, schemas, registry, settings), group_cell


INSERTED = {
    "dong-them-nhom-lap": {"group": "Giáo viên", "total": 10, "registered": 10, "recognised": 9},
    "dong-them-dong-cong": {"group": None, "total": 94, "registered": 92, "recognised": 89},
    "dong-them-chu-khac": {
        "group": "Cộng CB, GV, NV", "total": 94, "registered": 92, "recognised": 89
    },
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(INSERTED))
def test_a_row_inserted_in_the_people_matrix_is_not_summed(
    case: str, tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Before: a row inserted with a group's name was added to that group (teachers 90,
    members 104); a blank or unknown group was only an error on its group cell."""
    result, group_cell = _with_inserted_row(tmp_path, schemas, registry, settings, INSERTED[case])
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.units.loc[unit, "members_total"] == 94
    assert result.units.loc[unit, "members_recognised"] == 89
    measures = result.measures.loc[unit]
    assert measures["people.teachers.total"] == 80
    assert measures["people.staff.total"] == 10
    city = result.aggregates[result.aggregates["level"] == "city"].set_index("field")["value"]
    assert city["people.teachers.total"] == 80
    assert city["members_total"] == 94
    found = [i for i in result.issues if f"{i.sheet}!{i.cell}" == group_cell]
    assert [i.code for i in found] == ["inserted-row"]
    [issue] = found
    assert issue.severity == "warning"
    assert issue.message.startswith("Dòng thêm vào bảng của trang “Con người” (dòng ")
    assert "không được tính; " in issue.message
    assert "nhập vào đúng dòng của nhóm đó" in issue.message
    # The c1 verdict is on the four fixed rows: 89 of 94.
    rates = result.learning_unit.set_index("unit_code")["member_rate"]
    assert rates[unit] == pytest.approx(89 / 94)


def test_no_inserted_row_no_warning(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case khong-dong-them: the four fixed rows only."""
    result, _ = _with_inserted_row(tmp_path, schemas, registry, settings, None)
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.units.loc[unit, "members_total"] == 94
    assert not [i for i in result.issues if i.code == "inserted-row"]


# --------------------------------------------------------------------------- 8.4 rate bases


def _two_schools(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings, blank: bool
) -> RunResult:
    units = [u for u in registry.units.values() if u.type != "area_office"][:2]
    raws = []
    for k, u in enumerate(units):
        people = [dict(r) for r in CLEAN_PEOPLE]
        if blank and k == 1:
            people[1]["recognised"] = None
        lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
        wb = school_workbook(schemas, registry, settings, u.code, lists=lists)
        path = save(wb, tmp_path / "in" / f"{u.code}.xlsx")
        raws.append(read_submission(path, tmp_path / "in", schemas.report))
    return consolidate(raws, YEAR, schemas, registry, settings)


def _remarks(result: RunResult) -> list[str]:
    ws = load_workbook(io.BytesIO(build_workbook(result)))["Biểu 01"]
    return [
        str(r[0])
        for r in ws.iter_rows(values_only=True)
        if isinstance(r[0], str) and r[0].startswith("Tỷ lệ “")
    ]


def test_a_rate_over_fewer_units_than_its_counts_shows_its_base(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case ty-le-thieu-mot-so. Before: 76 recognised over 160 teachers shown beside a rate
    of 95% (76/80), with nothing saying the rate is over one school only."""
    result = _two_schools(tmp_path, schemas, registry, settings, blank=True)
    teachers = [t for t in _remarks(result) if "của nhóm Giáo viên" in t]
    assert teachers == [
        "Tỷ lệ “Được công nhận ‘Công dân học tập’” của nhóm Giáo viên là 95% = 76/80, tính "
        "trên 1 đơn vị có đủ hai số (cột “Được công nhận ‘Công dân học tập’” ghi 76, cột "
        "“Tổng số” ghi 160: cộng cả các đơn vị chỉ có một trong hai số)."
    ]
    assert not [t for t in _remarks(result) if "nhóm Nhân viên" in t]
    text = _docx_text(result)
    assert "giáo viên 76 người (95%, tính trên 76/80 người ở các đơn vị có đủ hai số)" in text


def test_a_rate_over_the_shown_counts_has_no_remark(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case ty-le-du-hai-so: 152/160 shown, 95% is their quotient, nothing to add."""
    result = _two_schools(tmp_path, schemas, registry, settings, blank=False)
    assert _remarks(result) == []
    assert "giáo viên 152 người (95%)" in _docx_text(result)


# --------------------------------------------------------------------------- 8.5 chart, wording


def _staff_languages(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    values: tuple[int | None, int | None],
) -> RunResult:
    units = [u for u in registry.units.values() if u.type != "area_office"][:2]
    raws = []
    for u, value in zip(units, values, strict=True):
        people = [dict(r) for r in CLEAN_PEOPLE]
        people[2]["foreign_language"] = value
        lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
        wb = school_workbook(schemas, registry, settings, u.code, lists=lists)
        path = save(wb, tmp_path / "in" / f"{u.code}.xlsx")
        raws.append(read_submission(path, tmp_path / "in", schemas.report))
    return consolidate(raws, YEAR, schemas, registry, settings)


def _languages_line(result: RunResult) -> str:
    return next(
        line
        for line in _docx_text(result).splitlines()
        if line.startswith("- Có chứng chỉ ngoại ngữ: ")
    )


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ((0, 0), "nhân viên chưa có người nào;"),
        (
            (0, None),
            "nhân viên chưa có người nào ở các đơn vị có số liệu (1 đơn vị chưa có số liệu);",
        ),
        ((None, None), "nhân viên chưa có số liệu;"),
    ],
    ids=["khong-nguoi-da-bao", "khong-nguoi-thieu-so", "trong-het"],
)
def test_no_one_only_when_zero_was_reported(
    values: tuple[int | None, int | None],
    said: str,
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    """Before: blank for everyone left the group out, and 0 beside a blank read as no one."""
    result = _staff_languages(tmp_path, schemas, registry, settings, values)
    assert said in _languages_line(result)


def test_the_members_target_is_drawn_over_members_only(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """QĐ 677's target is a rate of cán bộ, giáo viên, nhân viên: no line over the learners'
    bar, and no target in the chart table's learners row (Biểu 10)."""
    result = _staff_languages(tmp_path, schemas, registry, settings, (1, 1))
    spec = citizens_chart(result)
    assert spec.target is not None
    by_group = dict(zip(spec.categories, spec.target.values, strict=True))
    assert by_group == {
        "Cán bộ quản lý": 0.8,
        "Giáo viên": 0.8,
        "Nhân viên": 0.8,
        "Học sinh, học viên": None,
    }
    ws = load_workbook(io.BytesIO(build_workbook(result)))["Biểu 10"]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if r and r[0] in by_group}
    assert rows["Giáo viên"][2] == 0.8
    assert rows["Học sinh, học viên"][2] is None


def test_an_inserted_row_saved_by_libreoffice_is_not_summed(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Case dong-them-nhom-lap, the file then opened and saved by LibreOffice Calc (as a unit
    filling in LibreOffice sends it): the same figures, the same warning."""
    exe = soffice()
    wb = school_workbook(schemas, registry, settings, lists={
        "people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []
    })  # fmt: skip
    ws = next(ws for ws in wb.worksheets if "people" in ws.tables)
    at = insert_table_row(wb, "people", 3)
    header = [c.value for c in ws[at - 3]]
    for fld, value in INSERTED["dong-them-nhom-lap"].items():
        ws.cell(row=at, column=header.index(fld) + 1).value = value
    source = save(wb, tmp_path / "excel" / "bao-cao.xlsx")
    saved = convert(source, "xlsx", tmp_path / "in", exe=exe)
    raw = read_submission(saved, tmp_path / "in", schemas.report)
    result = consolidate([raw], YEAR, schemas, registry, settings)
    unit = result.data.unit_of[saved.name]
    assert result.units.loc[unit, "members_total"] == 94
    assert result.measures.loc[unit, "people.teachers.total"] == 80
    [issue] = [i for i in result.issues if i.code == "inserted-row"]
    assert (issue.sheet, issue.cell) == (ws.title, f"B{at}")
