"""What a unit's file holds that calamine's values do not show, in files made as units make
them: formula errors (``t="e"``, saved by LibreOffice and as Excel writes them), rows typed
under a list's table, a workbook saved as Strict Open XML, and compressed folders dropped
into the input folder (pipeline/read.py, module docstring).

The LibreOffice-saved files are built once for the module and converted in one soffice
call: a per-unit template filled by openpyxl, edited the way a unit edits it, re-saved by
LibreOffice (which computes the formulas and caches their results).
"""

from __future__ import annotations

import errno
import io
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook

import pipeline.read as read_mod
from pipeline.cli import main
from pipeline.model import RawSubmission
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import DEFAULT_SCHEMA_DIR, Schemas, load_schemas
from pipeline.settings import Settings
from pipeline.templates import template_bytes
from tests.conftest import ROOT
from tests.hostile_corpus import strict, with_error_cell
from tests.libreoffice import convert_all
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    school_workbook,
)

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")


# ---------------------------------------------------------------------------------------------
# Where things are in a template, found through its names and tables (never fixed addresses)


def table_cell(wb: Workbook, table: str, field: str, row: int) -> str:
    """'Sheet!D7': the cell of `field` in data row `row` (1-based) of an Excel table."""
    sheet, header, columns, _ = _table(wb, table)
    return f"{sheet}!{get_column_letter(columns[field])}{header + row}"


def below_table(wb: Workbook, table: str, field: str, offset: int) -> str:
    """'Sheet!B206': the cell of `field`'s column `offset` rows under the table's last row."""
    sheet, _, columns, last = _table(wb, table)
    return f"{sheet}!{get_column_letter(columns[field])}{last + offset}"


def _table(wb: Workbook, name: str) -> tuple[str, int, dict[str, int], int]:
    for ws in wb.worksheets:
        if name in ws.tables:
            first, last = ws.tables[name].ref.split(":")
            head_col = column_index_from_string(re.sub(r"\d", "", first))
            end_col = column_index_from_string(re.sub(r"\d", "", last))
            header = int(re.sub(r"\D", "", first))
            columns = {str(ws.cell(header, c).value): c for c in range(head_col, end_col + 1)}
            return ws.title, header, columns, int(re.sub(r"\D", "", last))
    raise KeyError(name)


def put(wb: Workbook, where: str, value: Any) -> None:
    sheet, cell = where.split("!")
    wb[sheet][cell] = value


def people_row(label: str) -> int:
    return next(i for i, r in enumerate(CLEAN_PEOPLE, start=1) if r["group_label"] == label)


class _At(dict[str, tuple[str, str, str]]):
    pass


def found(result: RunResult | RawSubmission, code: str | None = None) -> _At:
    """'Sheet!Cell' → (code, value, message) of the issue located at each cell (of `code`,
    or, when not given, of the reading's own codes: a cell may also break a rule)."""
    own = {"formula-error", "formula-no-cache", "row-outside-table", "cells-outside-table"}
    at = _At()
    for i in result.issues:
        if i.cell and (i.code == code if code else i.code in own):
            at[f"{i.sheet}!{i.cell}"] = (i.code, i.value, i.message)
    return at


# ---------------------------------------------------------------------------------------------
# The LibreOffice-saved files, made once


# What LibreOffice caches for each formula (its own results: it has no #NUM! for SQRT(-1)
# nor a #NULL! for a disjoint intersection, which the Excel-written cases below cover).
LO_ERRORS: list[tuple[str, str, str, str]] = [
    # (where, formula, cached literal, words of the message saying what it means)
    ("campaign_events", "=1/0", "#DIV/0!", "chia cho 0"),
    ("news_items", "=NA()", "#N/A", "không tìm thấy giá trị"),
    ("res_videos", '="a"+1', "#VALUE!", "sai loại dữ liệu"),
    ("people.total.Giáo viên", "=KHONGCO()", "#NAME?", "tên hàm"),
    ("initiatives.year.1", "=#REF!+1", "#REF!", "đã bị xóa"),
]


@dataclass
class Made:
    wb: Workbook
    path: Path


def _address(wb: Workbook, where: str) -> str:
    if where.count(".") == 2:
        table, field, row = where.split(".")
        index = people_row(row) if table == "people" else int(row)
        return table_cell(wb, table, field, index)
    return cell_of(wb, where)


@pytest.fixture(scope="module")
def lo_made(
    tmp_path_factory: pytest.TempPathFactory,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> dict[str, Made]:
    if SOFFICE is None:
        pytest.skip("LibreOffice is not installed")
    base = tmp_path_factory.mktemp("lo")
    books: dict[str, Workbook] = {}

    errors = school_workbook(schemas, registry, settings)
    for where, formula, _, _ in LO_ERRORS:
        put(errors, _address(errors, where), formula)
    books["loi-cong-thuc"] = errors

    # Typed under the tables after taking the sheet protection off (it has no password):
    # LibreOffice keeps the tables' ranges as they were.
    below = school_workbook(schemas, registry, settings)
    put(below, below_table(below, "initiatives", "title", 1), "Tủ sách lớp học")
    put(below, below_table(below, "initiatives", "level", 1), "Cấp cơ sở")
    put(below, below_table(below, "initiatives", "year", 1), 2026)
    put(below, below_table(below, "initiatives", "decision", 1), "20/QĐ-THPT")
    # One blank row, then another: a gap must not hide what follows it.
    put(below, below_table(below, "initiatives", "title", 3), "Ngày hội đọc sách")
    put(below, below_table(below, "initiatives", "level", 3), "Cấp thành phố")
    put(below, below_table(below, "nominations", "nominee_kind", 1), "Cá nhân")
    put(below, below_table(below, "nominations", "nominee_name", 1), "Lê Văn Nam")
    put(below, below_table(below, "nominations", "proposed_form", 1), "Giấy khen của Giám đốc Sở")
    # A total row under the people matrix, as many units add one.
    put(below, below_table(below, "people", "group", 1), "Tổng cộng")
    put(below, below_table(below, "people", "total", 1), "=SUM(C6:C9)")
    put(below, below_table(below, "people", "registered", 1), 1082)
    books["ngoai-bang"] = below

    src = base / "src"
    src.mkdir()
    sources = []
    for name, wb in books.items():
        path = src / f"{name}.xlsx"
        path.write_bytes(template_bytes(wb))
        sources.append(path)
    out = base / "lo"
    converted = convert_all(sources, "xlsx:Calc MS Excel 2007 XML", out, exe=SOFFICE)
    return {name: Made(books[name], path) for name, path in zip(books, converted, strict=True)}


def _run(path: Path, schemas: Schemas, registry: Registry, settings: Settings) -> RunResult:
    raw = read_submission(path, path.parent, schemas.report)
    assert not raw.rejected, raw.issues
    return consolidate([raw], 2026, schemas, registry, settings)


# ---------------------------------------------------------------------------------------------
# 14.4 Formula results that are errors


@pytest.mark.libreoffice
@needs_libreoffice
@pytest.mark.parametrize(("where", "formula", "literal", "meaning"), LO_ERRORS)
def test_formula_error_saved_by_libreoffice_is_reported_at_its_cell(
    lo_made: dict[str, Made],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    where: str,
    formula: str,
    literal: str,
    meaning: str,
) -> None:
    made = lo_made["loi-cong-thuc"]
    result = _run(made.path, schemas, registry, settings)
    address = _address(made.wb, where)
    code, value, message = found(result)[address]
    assert (code, value) == ("formula-error", literal)
    assert f"“{literal}”" in message and meaning in message
    assert "Thay công thức bằng số liệu" in message and "không được tính" in message
    # Not counted: the value is blank in the data, and the file says it must be corrected.
    if "." in where:
        table, fld, _ = where.split(".")
        frame = result.data.lists[table]
        cell = address.split("!")[1]
        row = next(
            r for (f, t, r, c), loc in result.data.cells.items()
            if t == table and c == fld and loc.cell == cell
        )  # fmt: skip
        assert frame.loc[frame["row"] == row, fld].isna().all()
    else:
        assert result.data.scalars[where].isna().all()
    assert result.submissions["status"].tolist() == ["accepted_with_warnings"]


def test_formula_error_in_a_file_never_opened_is_still_no_cache(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    # The same formula written by openpyxl and never computed has no result at all.
    wb = school_workbook(schemas, registry, settings)
    put(wb, cell_of(wb, "campaign_events"), "=1/0")
    path = tmp_path / "chua-mo.xlsx"
    path.write_bytes(template_bytes(wb))
    result = _run(path, schemas, registry, settings)
    assert found(result)[cell_of(wb, "campaign_events")][0] == "formula-no-cache"


# As Excel writes an error result (and an error typed as a constant): <c t="e">.
EXCEL_ERRORS: list[tuple[str, str, str]] = [
    ("campaign_events", "<f>1/0</f><v>#DIV/0!</v>", "#DIV/0!"),
    ("news_items", "<v>#N/A</v>", "#N/A"),  # typed as a constant, no formula
    ("people.recognised.Nhân viên", "<f>SQRT(-1)</f><v>#NUM!</v>", "#NUM!"),
    ("people.online_learning.Giáo viên", "<f>SUM(A1:A2 B1:B2)</f><v>#NULL!</v>", "#NULL!"),
    ("initiatives.decision.1", "<f>VLOOKUP(1,A1:B2,2,0)</f><v>#N/A</v>", "#N/A"),
    ("nominations.nominee_name.1", "<f>Sheet9!A1</f><v>#REF!</v>", "#REF!"),
]


@pytest.mark.parametrize(("where", "xml", "literal"), EXCEL_ERRORS)
def test_formula_error_as_excel_writes_it(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    where: str,
    xml: str,
    literal: str,
) -> None:
    wb = school_workbook(schemas, registry, settings)
    address = _address(wb, where)
    sheet, cell = address.split("!")
    path = tmp_path / "excel.xlsx"
    path.write_bytes(with_error_cell(template_bytes(wb), sheet, cell, xml))
    raw = read_submission(path, tmp_path, schemas.report)
    located = (
        raw.scalars[where]
        if "." not in where
        else next(
            loc for row in raw.lists[where.split(".")[0]] for loc in row.values()
            if loc.cell == cell
        )
    )  # fmt: skip
    assert (located.error, located.value) == (literal, literal)
    result = consolidate([raw], 2026, schemas, registry, settings)
    code, value, message = found(result)[address]
    assert (code, value) == ("formula-error", literal)
    assert f"“{literal}”" in message


# ---------------------------------------------------------------------------------------------
# 14.6 Nothing typed outside the table is lost silently


@pytest.mark.libreoffice
@needs_libreoffice
def test_rows_typed_under_a_list_table_are_read_with_a_warning(
    lo_made: dict[str, Made], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    made = lo_made["ngoai-bang"]
    result = _run(made.path, schemas, registry, settings)
    at = found(result)
    first = below_table(made.wb, "initiatives", "title", 1)
    third = below_table(made.wb, "initiatives", "title", 3)
    nominee = below_table(made.wb, "nominations", "nominee_kind", 1)
    assert at[first][:2] == ("row-outside-table", "Tủ sách lớp học")
    assert at[third][:2] == ("row-outside-table", "Ngày hội đọc sách")
    assert at[nominee][:2] == ("row-outside-table", "Cá nhân")
    last = int(first.split("!")[1][1:]) - 1
    assert f"bảng kết thúc ở dòng {last}" in at[first][2]
    assert "vẫn được đọc" in at[first][2]
    initiatives = result.data.lists["initiatives"]
    assert initiatives["title"].tolist() == [
        CLEAN_INITIATIVES[0]["title"],
        "Tủ sách lớp học",
        "Ngày hội đọc sách",
    ]
    level = {c.label: c.code for c in schemas.report.choices["initiative_level"]}
    assert initiatives["level"].tolist() == [
        level["Cấp cơ sở"],
        level["Cấp cơ sở"],
        level["Cấp thành phố"],
    ]
    assert initiatives["year"].tolist()[1] == 2026
    nominations = result.data.lists["nominations"]
    assert nominations["nominee_name"].tolist() == [
        CLEAN_NOMINATIONS[0]["nominee_name"],
        "Lê Văn Nam",
    ]
    # Read, but never silently: the file is not called "Hợp lệ".
    assert result.submissions["status"].tolist() == ["accepted_with_warnings"]


@pytest.mark.libreoffice
@needs_libreoffice
def test_a_row_under_the_people_matrix_is_reported_and_not_counted(
    lo_made: dict[str, Made], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    made = lo_made["ngoai-bang"]
    result = _run(made.path, schemas, registry, settings)
    where = below_table(made.wb, "people", "group", 1)
    code, value, message = found(result)[where]
    assert (code, value) == ("cells-outside-table", "Tổng cộng")
    assert "không được tính" in message and "đúng dòng" in message
    people = result.data.lists["people"]
    assert len(people) == len(CLEAN_PEOPLE)
    # The total row is not a fifth group: the figures are the four groups' own.
    assert int(people["total"].sum()) == sum(r["total"] for r in CLEAN_PEOPLE)
    assert int(people["registered"].sum()) == sum(r["registered"] for r in CLEAN_PEOPLE)
    # And nothing else: the total row's other cells raise no second issue.
    outside = [i for i in result.issues if i.code == "cells-outside-table"]
    assert len(outside) == 1


def test_a_sheet_with_nothing_under_its_tables_costs_no_extra_read(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("looked under a table with nothing under it")

    monkeypatch.setattr(read_mod, "_rows_below", refuse)
    path = tmp_path / "sach.xlsx"
    path.write_bytes(template_bytes(school_workbook(schemas, registry, settings)))
    raw = read_submission(path, tmp_path, schemas.report)
    assert not raw.rejected and raw.issues == []


def test_typed_under_the_table_without_libreoffice(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    # The same reading for a file saved by any program (here openpyxl), far below the table.
    wb = school_workbook(schemas, registry, settings)
    put(wb, below_table(wb, "initiatives", "title", 40), "Cuối trang")
    put(wb, below_table(wb, "initiatives", "level", 40), "Cấp cơ sở")
    path = tmp_path / "xa.xlsx"
    path.write_bytes(template_bytes(wb))
    raw = read_submission(path, tmp_path, schemas.report)
    titles = [row["title"].value for row in raw.lists["initiatives"]]
    assert titles == [CLEAN_INITIATIVES[0]["title"], "Cuối trang"]
    assert [(i.code, f"{i.sheet}!{i.cell}") for i in raw.issues] == [
        ("row-outside-table", below_table(wb, "initiatives", "title", 40))
    ]


def test_cells_left_of_the_table_columns_are_not_rows(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    # Column A holds the row numbers (STT) beside the table: a number typed there alone is
    # not an initiative.
    wb = school_workbook(schemas, registry, settings)
    sheet, cell = below_table(wb, "initiatives", "title", 1).split("!")
    wb[sheet][f"A{cell[1:]}"] = 201
    path = tmp_path / "stt.xlsx"
    path.write_bytes(template_bytes(wb))
    raw = read_submission(path, tmp_path, schemas.report)
    assert len(raw.lists["initiatives"]) == len(CLEAN_INITIATIVES)
    assert raw.issues == []


# ---------------------------------------------------------------------------------------------
# 15.5 A Strict Open XML workbook is read


def test_strict_open_xml_workbook_is_read(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    wb = school_workbook(schemas, registry, settings)
    good = template_bytes(wb)
    data = strict(good, cell_of(wb, "report_date"))
    assert b"purl.oclc.org" in zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml")
    path = tmp_path / "strict.xlsx"
    path.write_bytes(data)
    raw = read_submission(path, tmp_path, schemas.report)
    assert not raw.rejected
    assert [i.code for i in raw.issues] == ["strict-open-xml"]
    assert "Excel Workbook (*.xlsx)" in raw.issues[0].message
    result = consolidate([raw], 2026, schemas, registry, settings)
    assert result.submissions["status"].tolist() == ["accepted"]
    row = result.data.scalars.loc["strict.xlsx"]
    for fld in ("campaign_events", "head_of_unit", "funds_mobilised", "steering_committee"):
        expected = {"Có": True}.get(CLEAN_SCHOOL[fld], CLEAN_SCHOOL[fld])
        assert row[fld] == expected, fld
    assert row["report_date"] == CLEAN_SCHOOL["report_date"].date()
    assert {k: len(v) for k, v in result.data.lists.items()} == {
        "people": len(CLEAN_PEOPLE),
        "initiatives": len(CLEAN_INITIATIVES),
        "nominations": len(CLEAN_NOMINATIONS),
    }
    # Read just as its transitional twin.
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "strict.xlsx").write_bytes(good)
    plain = consolidate(
        [read_submission(twin / "strict.xlsx", twin, schemas.report)],
        2026,
        schemas,
        registry,
        settings,
    )
    assert plain.data.scalars.equals(result.data.scalars)


def test_strict_workbook_with_problems_goes_through_consolidate(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    # A Strict file with a wrong figure: the run completes and the file has its line.
    wb = school_workbook(schemas, registry, settings, values={**CLEAN_SCHOOL, "news_items": "x"})
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "strict.xlsx").write_bytes(strict(template_bytes(wb), cell_of(wb, "report_date")))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        [
            "consolidate",
            "--input", str(inbox),
            "--output", str(out),
            "--registry", str(ROOT / "registry" / "units.csv"),
            "-q",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = (out / "2026" / "submissions.csv").read_text(encoding="utf-8-sig")
    assert "strict.xlsx" in lines and "accepted_with_warnings" in lines
    issues = (out / "2026" / "issues.csv").read_text(encoding="utf-8-sig")
    assert "invalid-number" in issues


# ---------------------------------------------------------------------------------------------
# 15.5 A compressed folder in the input folder


def _zip(members: dict[str, bytes], utf8_flag: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    data = bytearray(out.getvalue())
    if not utf8_flag:
        # As Vietnamese Windows zip tools write names: UTF-8 bytes without the UTF-8 flag.
        for magic, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = data.find(magic)
            while start != -1:
                flags = int.from_bytes(data[start + at : start + at + 2], "little")
                data[start + at : start + at + 2] = (flags & ~0x800).to_bytes(2, "little")
                start = data.find(magic, start + 4)
    return bytes(data)


ARCHIVES: list[tuple[str, Any, str, list[str]]] = [
    (
        "bao-cao-cac-truong.zip",
        lambda good: _zip({"Trường A.xlsx": good, "thu-muc/Trường B.xlsx": good}),
        "file-archive",
        ["tệp nén (.zip)", "2 tệp bảng tính", "“Trường A.xlsx”", "“Trường B.xlsx”", "Giải nén",
         "python -m pipeline inbox"],
    ),
    (
        "windows.zip",
        lambda good: _zip({"Báo cáo.xlsx": good}, utf8_flag=False),
        "file-archive",
        ["1 tệp bảng tính", "“Báo cáo.xlsx”"],
    ),
    (
        "cong-van.zip",
        lambda good: _zip({"cong-van.pdf": b"%PDF-1.4"}),
        "file-archive",
        ["không có tệp bảng tính nào"],
    ),
    ("hong.zip", lambda good: b"PK\x03\x04" + bytes(40), "file-archive", ["bị hỏng"]),
    ("bao-cao.rar", lambda good: b"Rar!\x1a\x07\x01\x00" + bytes(40), "file-archive",
     ["tệp nén (.rar)", "7-Zip"]),
    ("bao-cao.7z", lambda good: b"7z\xbc\xaf\x27\x1c" + bytes(40), "file-archive",
     ["tệp nén (.7z)"]),
    # A zip of reports renamed .xlsx (or so named by a mail client).
    (
        "goi-bao-cao.xlsx",
        lambda good: _zip({"Trường A.xlsx": good}),
        "file-archive",
        ["“Trường A.xlsx”", "Giải nén"],
    ),
    # A Word document is a zip too, but not a folder.
    (
        "bao-cao.docx",
        lambda good: _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
        "file-unsupported-format",
        ["văn bản Word", "Excel Workbook (.xlsx)"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "build", "code", "phrases"), ARCHIVES, ids=[a[0] for a in ARCHIVES]
)
def test_archive_is_refused_saying_what_it_is_and_how_to_extract(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    name: str,
    build: Any,
    code: str,
    phrases: list[str],
) -> None:
    good = template_bytes(school_workbook(schemas, registry, settings))
    path = tmp_path / name
    path.write_bytes(build(good))
    raw = read_submission(path, tmp_path, schemas.report)
    assert raw.rejected
    assert [i.code for i in raw.issues] == [code]
    for phrase in phrases:
        assert phrase in raw.issues[0].message, phrase
    result = consolidate([raw], 2026, schemas, registry, settings)
    row = result.submissions.iloc[0]
    assert (row["status"], row["reason"]) == ("rejected", raw.issues[0].message)


# ---------------------------------------------------------------------------------------------
# 15.5 Other refusals say what happened and what to do


@pytest.mark.parametrize(
    ("err", "phrase"),
    [
        (errno.EIO, "ổ đĩa, ổ USB hoặc ổ mạng bị lỗi khi đọc"),
        (errno.ENAMETOOLONG, "tên tệp hoặc đường dẫn quá dài"),
        (errno.ESTALE, "ổ mạng đã ngắt kết nối"),
        (errno.EXDEV, "hệ điều hành báo lỗi khi đọc"),
    ],
)
def test_a_disk_error_says_what_it_is(
    tmp_path: Path, schemas: Schemas, monkeypatch: pytest.MonkeyPatch, err: int, phrase: str
) -> None:
    def fail(path: Path) -> tuple[str, bytes]:
        raise OSError(err, "simulated")

    monkeypatch.setattr(read_mod, "_hash_and_head", fail)
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"PK")
    raw = read_submission(path, tmp_path, schemas.report)
    message = raw.issues[0].message
    assert raw.issues[0].code == "file-unreadable"
    assert phrase in message and f"lỗi hệ thống số {err}" in message and "chạy lại" in message


def test_not_a_template_says_why_and_what_to_do(tmp_path: Path, schemas: Schemas) -> None:
    wb = Workbook()
    wb.active["A1"] = "Bảng kê tự làm"
    path = tmp_path / "tu-lam.xlsx"
    path.write_bytes(template_bytes(wb))
    raw = read_submission(path, tmp_path, schemas.report)
    message = raw.issues[0].message
    assert raw.issues[0].code == "not-a-template"
    assert "“_meta”" in message and "chép số liệu vào biểu mẫu Sở đã gửi" in message


def test_a_table_with_lost_columns_names_them_by_label(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    wb = school_workbook(schemas, registry, settings)
    sheet, header, columns, _ = _table(wb, "initiatives")
    wb[sheet].cell(header, columns["domain"]).value = "linh_vuc"
    path = tmp_path / "cot.xlsx"
    path.write_bytes(template_bytes(wb))
    raw = read_submission(path, tmp_path, schemas.report)
    bad = [i for i in raw.issues if i.code == "structure-bad-table"]
    assert len(bad) == 1
    assert "“Lĩnh vực” (mã domain)" in bad[0].message
    # At the table's header row (docs/dac-ta-nhan-dien.md, "Vấn đề phát hiện khi đọc tệp").
    first = wb[sheet].tables["initiatives"].ref.split(":")[0]
    assert (bad[0].sheet, bad[0].cell) == (sheet, first)


def test_under_a_table_followed_by_another_list_only_the_rows_touching_it_are_read(
    tmp_path: Path, registry: Registry, settings: Settings
) -> None:
    # A department may put two lists on one sheet (a schema edit): the rows under the first
    # table then stop at the blank row the template leaves above the second list's title,
    # so the second list's title, labels and rows are never read as rows of the first.
    folder = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMA_DIR, folder)
    yaml = folder / "report.yaml"
    text = yaml.read_text(encoding="utf-8")
    marker = 'sheet: nominations\n    source: "Kế hoạch, mục III.2b"'
    assert marker in text
    yaml.write_text(text.replace(marker, marker.replace("nominations", "initiatives", 1)), "utf-8")
    shared = load_schemas(folder)
    assert shared.report.lists[2].sheet == "initiatives"
    wb = school_workbook(shared, registry, settings)
    assert _table(wb, "initiatives")[0] == _table(wb, "nominations")[0]
    put(wb, below_table(wb, "initiatives", "title", 1), "Ngay dưới bảng")
    put(wb, below_table(wb, "initiatives", "level", 1), "Cấp cơ sở")
    path = tmp_path / "chung-trang.xlsx"
    path.write_bytes(template_bytes(wb))
    raw = read_submission(path, tmp_path, shared.report)
    assert [row["title"].value for row in raw.lists["initiatives"]] == [
        CLEAN_INITIATIVES[0]["title"],
        "Ngay dưới bảng",
    ]
    assert [row["nominee_name"].value for row in raw.lists["nominations"]] == [
        CLEAN_NOMINATIONS[0]["nominee_name"]
    ]
    assert [(i.code, f"{i.sheet}!{i.cell}") for i in raw.issues] == [
        ("row-outside-table", below_table(wb, "initiatives", "title", 1))
    ]
