"""The feedback copy made by editing a plain package directly shows what openpyxl's shows.

pipeline.feedback has two ways to write the copy: a full openpyxl load and save (any file)
and a direct edit of the sender's package (pipeline.feedback_package, plain files only, a
few milliseconds). Each fixture here is written both ways and the two workbooks compared
through openpyxl, as a user's spreadsheet program would see them: sheets and their order,
values, fills, comments, links, merged cells, sizes, names, validations and tables.

Tests marked ``libreoffice`` need LibreOffice (``soffice``) and are skipped without it.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook

from pipeline import feedback, feedback_openpyxl, feedback_package
from pipeline.issues import Issue
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import template_bytes
from tests.libreoffice import convert, soffice
from tests.submission_factory import cell_of, school_workbook

GENERAL = "Thông tin chung"
PEOPLE = "Con người"
INITIATIVES = "Sáng kiến"


def _issue(
    code: str, severity: str, sheet: str, cell: str, message: str, value: str = "", field: str = ""
) -> Issue:
    return Issue(
        code=code,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        file="don-vi.xlsx",
        unit_code="THPT-Q01-01",
        sheet=sheet,
        cell=cell,
        field=field,
        value=value,
    )


def _scalar(wb: Workbook, code: str) -> tuple[str, str]:
    sheet, cell = cell_of(wb, code).split("!")
    return sheet, cell


ISSUE_CASES: dict[str, Callable[[Workbook], list[Issue]]] = {
    "error-and-warning": lambda wb: [
        _issue(
            "invalid-number", "error", *_scalar(wb, "campaign_events"),
            "Nhập một số, không kèm chữ.", "mười hai", "campaign_events",
        ),
        _issue(
            "invalid-email", "warning", *_scalar(wb, "reporter_email"),
            "Kiểm tra lại địa chỉ thư.", "lan@", "reporter_email",
        ),
    ],
    "absent-cells": lambda wb: [
        # Column F of the general sheet has no <c>, row 3 no <row>, row 300 is past the end.
        _issue("required-missing", "error", GENERAL, "F23", "Ô trống.", ""),
        _issue("required-missing", "warning", GENERAL, "D3", "Ô trống.", ""),
        _issue("required-missing", "error", INITIATIVES, "B300", "Ô trống.", ""),
    ],
    "list-sheet-row": lambda wb: [
        _issue(
            "above-maximum", "error", PEOPLE, "E6",
            "Số được công nhận lớn hơn số đăng ký.", "5", "people.recognised",
        ),
    ],
    "two-issues-one-cell": lambda wb: [
        _issue("invalid-number", "warning", *_scalar(wb, "news_items"), "Số lạ.", "14", ""),
        _issue("below-minimum", "error", *_scalar(wb, "news_items"), "Nhỏ hơn 0.", "14", ""),
        _issue("ambiguous-number", "warning", *_scalar(wb, "news_items"), "Hai cách.", "14", ""),
    ],
    "whole-file": lambda wb: [
        _issue("prefill-changed", "warning", "", "", "Tên đơn vị đã bị sửa.", "x"),
        _issue("invalid-number", "error", *_scalar(wb, "campaign_events"), "Số.", "=1+1"),
    ],
    "missing-sheet": lambda wb: [
        _issue("invalid-number", "error", "Trang đã xóa", "D5", "Trang không còn.", "1"),
        _issue("invalid-number", "error", GENERAL, "", "Không có ô.", "2"),
    ],
    "many-issues": lambda wb: [
        _issue(
            "invalid-value", "error" if r % 3 else "warning", INITIATIVES, f"{col}{r}",
            f"Sai ở {col}{r}.", str(r),
        )
        for r in range(6, 206, 2)
        for col in "BDG"
    ],
    "awkward-text": lambda wb: [
        _issue(
            "invalid-value", "error", *_scalar(wb, "proposals"),
            "  Có khoảng trắng đầu,\ttab\x01 và ký tự điều khiển  ",
            "=cmd|' /C calc'!A0", "proposals",
        ),
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def filled(schemas: Schemas, registry: Registry, settings: Settings) -> bytes:
    return template_bytes(school_workbook(schemas, registry, settings))


@pytest.fixture(scope="module")
def resaved(filled: bytes, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The filled template opened and saved again by LibreOffice (shared strings and all)."""
    soffice()
    work = tmp_path_factory.mktemp("lo-resave")
    source = work / "src" / "don-vi.xlsx"
    source.parent.mkdir()
    source.write_bytes(filled)
    return convert(source, "xlsx", work / "out").read_bytes()


def _both(package: bytes, issues: list[Issue], tmp_path: Path) -> tuple[Path, Path]:
    """The fast-path copy (through write_feedback) and the openpyxl copy of `package`."""
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(package)
    assert (
        feedback_package.ineligible(package, feedback.plain_name, feedback.FEEDBACK_SHEET) is None
    )
    fast = feedback.write_feedback(source, issues, tmp_path / "fast.xlsx", "don-vi.xlsx")
    # The direct path made it, not a silent fall-back to openpyxl.
    direct = feedback_package.build(
        package,
        feedback.plain_name,
        lambda names: feedback.listing(issues, "don-vi.xlsx", names),
    )
    assert fast.read_bytes() == direct
    slow = tmp_path / "slow.xlsx"
    slow.write_bytes(feedback_openpyxl.openpyxl_feedback(source, issues, "don-vi.xlsx"))
    return fast, slow


def _style(cell: Any) -> tuple[Any, ...]:
    """How a cell looks; an unset attribute means its default (LibreOffice spells them out)."""
    f, a = cell.font, cell.alignment
    return (
        f.name, bool(f.b), f.sz, f.color.rgb if f.color is not None else None, f.u,
        bool(a.wrap_text), a.vertical or "bottom", a.horizontal or "general",
        cell.number_format, cell.protection.locked in (None, True),
        cell.border.left.style, cell.border.top.style,
    )  # fmt: skip


def _view(path: Path, problem_cells: list[tuple[str, str]]) -> dict[str, Any]:
    """What a user sees of a feedback copy, as comparable data."""
    wb = openpyxl.load_workbook(path)
    view: dict[str, Any] = {
        "sheets": [(ws.title, ws.sheet_state) for ws in wb.worksheets],
        "active": wb.active.title if wb.active is not None else None,
        "names": sorted((n, d.value) for n, d in wb.defined_names.items()),
    }
    for ws in wb.worksheets:
        cells = list(ws._cells.values())
        view[ws.title] = {
            "values": {c.coordinate: c.value for c in cells if c.value is not None},
            "comments": {
                c.coordinate: (c.comment.text, c.comment.author) for c in cells if c.comment
            },
            "links": {
                c.coordinate: c.hyperlink.location or (c.hyperlink.target or "").lstrip("#")
                for c in cells
                if c.hyperlink is not None
            },
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "freeze": ws.freeze_panes,
            "local names": sorted((n, d.value) for n, d in ws.defined_names.items()),
            "print titles": ws.print_title_rows,
            "validations": len(ws.data_validations.dataValidation),
            "tables": sorted((t.name, t.ref) for t in ws.tables.values()),
            "protected": ws.protection.sheet,
        }
    listing = wb[feedback.FEEDBACK_SHEET]
    view["listing"] = {
        "widths": {k: d.width for k, d in listing.column_dimensions.items()},
        "heights": {k: d.height for k, d in listing.row_dimensions.items() if d.height},
        "styles": {c.coordinate: _style(c) for c in listing._cells.values()},
        "tab": listing.sheet_properties.tabColor.rgb,
        "fit": listing.sheet_properties.pageSetUpPr.fitToPage,
        "page": (
            listing.page_setup.orientation,
            listing.page_setup.paperSize,
            listing.page_setup.fitToWidth,
            listing.page_setup.fitToHeight,
        ),
    }
    view["problem cells"] = {
        (sheet, ref): (
            wb[sheet][ref].fill.patternType,
            wb[sheet][ref].fill.fgColor.rgb,
            _style(wb[sheet][ref]),
        )
        for sheet, ref in problem_cells
        if sheet in wb.sheetnames
    }
    return view


def _problem_cells(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(i.sheet, i.cell) for i in issues if i.cell]


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_direct_copy_shows_what_openpyxl_shows(
    case: str,
    filled: bytes,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
) -> None:
    issues = ISSUE_CASES[case](school_workbook(schemas, registry, settings))
    fast, slow = _both(filled, issues, tmp_path)
    cells = _problem_cells(issues)
    assert _view(fast, cells) == _view(slow, cells)


@pytest.mark.libreoffice
@pytest.mark.parametrize("case", ["error-and-warning", "two-issues-one-cell", "absent-cells"])
def test_direct_copy_of_a_libreoffice_file(
    case: str,
    resaved: bytes,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
) -> None:
    with zipfile.ZipFile(io.BytesIO(resaved)) as zf:
        assert "xl/sharedStrings.xml" in zf.namelist()
    issues = ISSUE_CASES[case](school_workbook(schemas, registry, settings))
    fast, slow = _both(resaved, issues, tmp_path)
    cells = _problem_cells(issues)
    assert _view(fast, cells) == _view(slow, cells)


def test_problem_cells_are_marked_and_the_list_comes_first(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """The comparison above could pass with both paths wrong: check the copy itself."""
    issues = ISSUE_CASES["two-issues-one-cell"](school_workbook(schemas, registry, settings))
    fast, _ = _both(filled, issues, tmp_path)
    wb = openpyxl.load_workbook(fast)
    assert wb.sheetnames[0] == feedback.FEEDBACK_SHEET and wb.active.title == wb.sheetnames[0]
    sheet, ref = issues[0].sheet, issues[0].cell
    cell = wb[sheet][ref]
    # Errors are listed first, so the last of the cell's problems (a warning) gives the colour.
    assert cell.fill.fgColor.rgb.endswith(feedback.WARNING_RGB)
    assert cell.comment.text == "Lỗi: Nhỏ hơn 0.\nCảnh báo: Hai cách.\nCảnh báo: Số lạ."
    assert cell.comment.author == "Sở GDĐT"
    listing = wb[feedback.FEEDBACK_SHEET]
    assert [listing.cell(r, 2).value for r in (5, 6, 7)] == ["Lỗi", "Cảnh báo", "Cảnh báo"]
    assert listing["C5"].hyperlink.location == f"'{sheet}'!{ref}"
    with zipfile.ZipFile(fast) as zf:
        parts = zf.namelist()
        sheet_xml = {n: zf.read(n) for n in parts if n.startswith("xl/worksheets/sheet")}
    assert any(n.endswith(".vml") for n in parts) and any("comments" in n for n in parts)
    # Only the tab of the list is selected: two selected tabs would group the sheets.
    assert sum(b"tabSelected" in data for data in sheet_xml.values()) == 1


def test_text_stays_text(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    issues = ISSUE_CASES["awkward-text"](school_workbook(schemas, registry, settings))
    fast, _ = _both(filled, issues, tmp_path)
    wb = openpyxl.load_workbook(fast)
    listing = wb[feedback.FEEDBACK_SHEET]
    assert listing["E5"].value == "=cmd|' /C calc'!A0" and listing["E5"].data_type == "s"
    assert "\ufffd" in listing["F5"].value and listing["F5"].value.startswith("  ")
    with zipfile.ZipFile(fast) as zf:
        assert not any(b"<f>" in zf.read(n) for n in zf.namelist() if n.endswith(".xml"))


# --------------------------------------------------------------------------- not eligible


def _with_parts(package: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    change(parts)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


MACRO_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"
XLSX_TYPE = feedback_package.CT_XLSX.encode()


def _vba(parts: dict[str, bytes]) -> None:
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 not really"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(XLSX_TYPE, MACRO_TYPE)


def _macro_type(parts: dict[str, bytes]) -> None:
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(XLSX_TYPE, MACRO_TYPE)


def _external_link(parts: dict[str, bytes]) -> None:
    parts["xl/externalLinks/externalLink1.xml"] = (
        b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    )
    rels = parts["xl/_rels/workbook.xml.rels"]
    link = (
        b'<Relationship Id="rIdX" Target="externalLinks/externalLink1.xml" Type="'
        b'http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink"/>'
    )
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        b"</Relationships>", link + b"</Relationships>"
    )


def _stray_r_id(parts: dict[str, bytes]) -> None:
    """A table part whose r:id names no relationship of its sheet."""
    sheet = next(n for n in parts if n.startswith("xl/worksheets/_rels/"))
    sheet = sheet.replace("_rels/", "").removesuffix(".rels")
    parts[sheet] = re.sub(rb'(<tablePart [^>]*r:id=")[^"]*"', rb'\1rId77"', parts[sheet])
    assert b"rId77" in parts[sheet]


def _on_wb(change: Callable[[Workbook], None]) -> Callable[[bytes], bytes]:
    def apply(package: bytes) -> bytes:
        wb = openpyxl.load_workbook(io.BytesIO(package))
        change(wb)
        return template_bytes(wb)

    return apply


def _formula(wb: Workbook) -> None:
    wb[GENERAL]["F23"] = "=1+1"


def _chart(wb: Workbook) -> None:
    ws = wb[PEOPLE]
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=3, min_row=6, max_row=9))
    ws.add_chart(chart, "J2")


def _comment(wb: Workbook) -> None:
    wb[GENERAL]["E23"].comment = Comment("Ghi chú của đơn vị", "Đơn vị")


def _active_name(wb: Workbook) -> None:
    wb.defined_names["tong"] = DefinedName("tong", attr_text=f"SUM('{GENERAL}'!$D$23:$D$25)")


def _feedback_sheet(wb: Workbook) -> None:
    wb.create_sheet(feedback.FEEDBACK_SHEET, 0)["A1"] = "bản phản hồi cũ"


def _web_link(wb: Workbook) -> None:
    wb[GENERAL]["E23"].hyperlink = "https://example.com/x"


INELIGIBLE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "vba": (lambda p: _with_parts(p, _vba), "xl/vbaProject.bin"),
    "macro-enabled": (lambda p: _with_parts(p, _macro_type), "kiểu nội dung chính"),
    "external-link": (lambda p: _with_parts(p, _external_link), "externalLink1.xml"),
    "formula": (_on_wb(_formula), "có công thức"),
    "drawing": (_on_wb(_chart), "xl/drawings/"),
    "comments": (_on_wb(_comment), "xl/comments"),
    "active-name": (_on_wb(_active_name), "tên tong"),
    "feedback-sheet": (_on_wb(_feedback_sheet), feedback.FEEDBACK_SHEET),
    "web-link": (_on_wb(_web_link), "hyperlink"),
}


@pytest.mark.parametrize("case", sorted(INELIGIBLE))
def test_anything_not_plain_goes_through_openpyxl(
    case: str,
    filled: bytes,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make, reason = INELIGIBLE[case]
    package = make(filled)
    why = feedback_package.ineligible(package, feedback.plain_name, feedback.FEEDBACK_SHEET)
    assert why is not None and reason in why, why
    issues = ISSUE_CASES["error-and-warning"](school_workbook(schemas, registry, settings))
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(package)
    with caplog.at_level("DEBUG", logger="pipeline.feedback"):
        out = feedback.write_feedback(source, issues, tmp_path / "out.xlsx", "don-vi.xlsx")
    assert "qua openpyxl" in caplog.text
    assert out.read_bytes() == feedback_openpyxl.openpyxl_feedback(source, issues, "don-vi.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames.count(feedback.FEEDBACK_SHEET) == 1
    assert wb.sheetnames[0] == feedback.FEEDBACK_SHEET
    sheet, ref = issues[0].sheet, issues[0].cell
    assert wb[sheet][ref].fill.fgColor.rgb.endswith(feedback.ERROR_RGB)
    with zipfile.ZipFile(out) as zf:
        assert not any(n.startswith(("xl/vbaProject", "xl/externalLinks")) for n in zf.namelist())
    assert all(c.data_type != "f" for ws in wb.worksheets for c in ws._cells.values())


def test_a_relationship_id_that_is_not_a_table_is_not_plain(filled: bytes) -> None:
    # openpyxl cannot open this one either; only the reason is checked.
    package = _with_parts(filled, _stray_r_id)
    why = feedback_package.ineligible(package, feedback.plain_name, feedback.FEEDBACK_SHEET)
    assert why is not None and "r:id không trỏ tới bảng" in why


def test_a_problem_under_a_merged_range_is_left_to_openpyxl(filled: bytes) -> None:
    """openpyxl cannot comment a cell hidden by a merge; the direct path does not try either."""
    with zipfile.ZipFile(io.BytesIO(filled)) as zf:
        sheet2 = zf.read("xl/worksheets/sheet2.xml").decode()
    merged = re.search(r'<mergeCell ref="([A-Z]+\d+):([A-Z]+\d+)"', sheet2)
    assert merged is not None
    hidden = re.sub(r"^A", "B", merged.group(1))
    issues = [_issue("invalid-number", "error", GENERAL, hidden, "Số.", "x")]
    with pytest.raises(feedback_package.NotEligible, match="gộp"):
        feedback_package.build(
            filled, feedback.plain_name, lambda names: feedback.listing(issues, "x.xlsx", names)
        )


def test_a_problem_under_a_merged_range_marks_the_merge(filled: bytes, tmp_path: Path) -> None:
    """The copy is still written (it used to be lost): the visible top-left cell is marked."""
    with zipfile.ZipFile(io.BytesIO(filled)) as zf:
        sheet2 = zf.read("xl/worksheets/sheet2.xml").decode()
    merged = re.search(r'<mergeCell ref="(A)(\d+):([A-Z]+)\d+"', sheet2)
    assert merged is not None and merged.group(3) != "A"
    top_left, hidden = f"A{merged.group(2)}", f"B{merged.group(2)}"
    issues = [_issue("invalid-number", "error", GENERAL, hidden, "Số.", "x")]
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    out = feedback.write_feedback(source, issues, tmp_path / "out.xlsx", "don-vi.xlsx")
    cell = openpyxl.load_workbook(out)[GENERAL][top_left]
    assert cell.comment is not None and cell.comment.text == "Lỗi: Số."
    assert cell.fill.fgColor.rgb.endswith(feedback.ERROR_RGB)


def test_an_odd_cell_reference_goes_through_openpyxl(filled: bytes, tmp_path: Path) -> None:
    issues = [_issue("invalid-number", "error", GENERAL, "d23", "Số.", "x")]
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    out = feedback.write_feedback(source, issues, tmp_path / "out.xlsx", "don-vi.xlsx")
    assert out.read_bytes() == feedback_openpyxl.openpyxl_feedback(source, issues, "don-vi.xlsx")


# --------------------------------------------------------------------------- use


@pytest.mark.libreoffice
def test_libreoffice_opens_the_direct_copy(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    issues = ISSUE_CASES["error-and-warning"](school_workbook(schemas, registry, settings))
    fast, _ = _both(filled, issues, tmp_path)
    pdf = convert(fast, "pdf", tmp_path / "pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    # Saved again by LibreOffice: the list is still first and the notes and fills survived,
    # so LibreOffice understood the comments, their VML shapes and the new cell formats.
    again = openpyxl.load_workbook(convert(fast, "xlsx", tmp_path / "xlsx"))
    assert again.sheetnames[0] == feedback.FEEDBACK_SHEET
    sheet, ref = issues[0].sheet, issues[0].cell
    assert again[sheet][ref].comment is not None
    assert again[sheet][ref].comment.text.startswith("Lỗi: ")
    assert again[sheet][ref].fill.fgColor.rgb.endswith(feedback.ERROR_RGB)


def test_a_unit_can_send_the_direct_copy_back(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    issues = ISSUE_CASES["absent-cells"](school_workbook(schemas, registry, settings))
    issues += ISSUE_CASES["error-and-warning"](school_workbook(schemas, registry, settings))
    fast, _ = _both(filled, issues, tmp_path)
    original = read_submission(tmp_path / "don-vi.xlsx", tmp_path, schemas.report)
    again = read_submission(fast, tmp_path, schemas.report)
    assert not again.rejected
    assert again.meta == original.meta
    assert again.scalars == original.scalars
    assert again.lists == original.lists
    assert again.sheet_names == original.sheet_names
    assert [i.code for i in again.issues] == [i.code for i in original.issues]


def test_the_direct_copy_is_byte_reproducible(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    issues = ISSUE_CASES["two-issues-one-cell"](school_workbook(schemas, registry, settings))
    issues += ISSUE_CASES["absent-cells"](school_workbook(schemas, registry, settings))
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    one = feedback.write_feedback(source, issues, tmp_path / "1.xlsx", "don-vi.xlsx").read_bytes()
    two = feedback.write_feedback(source, issues, tmp_path / "2.xlsx", "don-vi.xlsx").read_bytes()
    assert one == two
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2020, 1, 1, 0, 0, 0)}
        core = zf.read("docProps/core.xml").decode()
    # The sender's created date stays; the modified date is pinned like every output's.
    assert re.search(r"modified[^>]*>2020-01-01T00:00:00Z<", core)
    assert re.search(r"created[^>]*>2026-", core)
