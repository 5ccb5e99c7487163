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
import warnings
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
from tests.excel_forms import excel2016_validations, validations
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


def _dropdowns(package: bytes) -> dict[str, set[tuple[str, str, str]]]:
    """Each sheet's validations in either form, as (type, formula, cells): Excel shows a
    list the same way whether it is saved in <dataValidations> or in the x14 extension."""
    return {
        sheet: {(kind, formula.replace("'", ""), cells) for _form, kind, formula, cells in found}
        for sheet, found in validations(package).items()
    }


def _view(path: Path, problem_cells: list[tuple[str, str]]) -> dict[str, Any]:
    """What a user sees of a feedback copy, as comparable data."""
    with warnings.catch_warnings():
        # The x14 dropdowns openpyxl cannot load are compared through _dropdowns.
        warnings.filterwarnings("ignore", "Data Validation extension", UserWarning)
        wb = openpyxl.load_workbook(path)
    dropdowns = _dropdowns(path.read_bytes())
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
            # As written: an internal location, never a target (a relationship).
            "links": {
                c.coordinate: (c.hyperlink.location, c.hyperlink.target)
                for c in cells
                if c.hyperlink is not None
            },
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "freeze": ws.freeze_panes,
            "local names": sorted((n, d.value) for n, d in ws.defined_names.items()),
            "print titles": ws.print_title_rows,
            "validations": dropdowns[ws.title],
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


@pytest.mark.parametrize("form", ["openpyxl", "excel-2016"])
@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_direct_copy_shows_what_openpyxl_shows(
    case: str,
    form: str,
    request: pytest.FixtureRequest,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The template as openpyxl writes it, and as Excel 2016 saves it (its cross-sheet
    dropdowns in the x14 extension, which openpyxl drops on load and the copy puts back)."""
    package: bytes = request.getfixturevalue("filled" if form == "openpyxl" else "excel2016")
    issues = ISSUE_CASES[case](school_workbook(schemas, registry, settings))
    fast, slow = _both(package, issues, tmp_path)
    cells = _problem_cells(issues)
    assert _view(fast, cells) == _view(slow, cells)
    # Still x14, sheet by sheet, as the unit's Excel wrote them (the view compares lists).
    source = _x14(package)
    assert {s: v for s, v in _x14(slow.read_bytes()).items() if s in source} == source


def test_a_note_under_the_instructions_on_both_paths(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """The line a converted .ods/.xls carries (A3), the same on both paths."""
    issues = ISSUE_CASES["two-issues-one-cell"](school_workbook(schemas, registry, settings))
    note = feedback.converted_note(".ods")
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    fast = feedback.write_feedback(source, issues, tmp_path / "fast.xlsx", "x.ods", note=note)
    assert fast.read_bytes() == feedback_package.build(
        filled,
        feedback.plain_name,
        lambda names: feedback.listing(issues, "x.ods", names, note=note),
    )
    slow = tmp_path / "slow.xlsx"
    slow.write_bytes(feedback_openpyxl.openpyxl_feedback(source, issues, "x.ods", note=note))
    cells = _problem_cells(issues)
    view = _view(fast, cells)
    assert view == _view(slow, cells)
    assert view[feedback.FEEDBACK_SHEET]["values"]["A3"] == note
    # Row 3 holds the note alone; each problem's own note stays on its cell.
    row3 = [ref for ref in view[feedback.FEEDBACK_SHEET]["values"] if ref[1:] == "3"]
    assert row3 == ["A3"]


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


# --------------------------------------------------------------------------- Excel's dropdowns


@pytest.fixture(scope="module")
def excel2016(filled: bytes) -> bytes:
    """The filled template as Excel 2016 saves it: sheet-crossing lists in x14 form."""
    return excel2016_validations(filled)


def _x14(package: bytes) -> dict[str, set[tuple[str, str, str, str]]]:
    return {
        sheet: {v for v in found if v[0] == "x14"} for sheet, found in validations(package).items()
    }


def test_the_excel_2016_form_has_the_template_dropdowns(filled: bytes, excel2016: bytes) -> None:
    """The fixture itself: the same dropdowns as the template, the cross-sheet ones as x14."""
    assert _dropdowns(excel2016) == _dropdowns(filled)
    moved = _x14(excel2016)
    assert moved[GENERAL] and moved[INITIATIVES]
    # The yes/no lists are literal ("Có,Không"): Excel keeps them in <dataValidations>.
    assert all("!" in formula for found in moved.values() for _f, _t, formula, _c in found)
    assert any('"Có,Không"' in v[2] for v in validations(excel2016)[GENERAL] if v[0] == "main")


def test_dropdowns_that_need_another_workbook_are_not_kept(
    excel2016: bytes, tmp_path: Path
) -> None:
    """openpyxl drops the links to other workbooks: a list from one would point at nothing."""

    def elsewhere(parts: dict[str, bytes]) -> None:
        for name, data in parts.items():
            if name.startswith("xl/worksheets/sheet") and b"<xm:f>" in data:
                parts[name] = data.replace(b"<xm:f>", b"<xm:f>[1]", 1)
                return

    package = _with_parts(excel2016, elsewhere)
    before = sum(len(v) for v in _x14(package).values())
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(package)
    issues = [_issue("invalid-number", "error", GENERAL, "D23", "Số.", "x")]
    copy = feedback_openpyxl.openpyxl_feedback(source, issues, "don-vi.xlsx")
    kept = [v for found in _x14(copy).values() for v in found]
    assert len(kept) == before - 1
    assert not any("[" in formula for _f, _t, formula, _c in kept)


@pytest.mark.libreoffice
def test_libreoffice_shows_the_dropdowns_of_the_openpyxl_copy(
    excel2016: bytes, tmp_path: Path
) -> None:
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(excel2016)
    issues = [_issue("invalid-number", "error", GENERAL, "D23", "Số.", "x")]
    copy = tmp_path / "copy" / "phan-hoi.xlsx"
    copy.parent.mkdir()
    copy.write_bytes(feedback_openpyxl.openpyxl_feedback(source, issues, "don-vi.xlsx"))
    again = _dropdowns(convert(copy, "xlsx", tmp_path / "lo").read_bytes())
    for sheet, found in _dropdowns(excel2016).items():
        lists = {v for v in found if v[0] == "list"}
        assert lists <= again[sheet], sheet


def test_links_to_problem_cells_are_locations_on_both_paths(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    issues = ISSUE_CASES["error-and-warning"](school_workbook(schemas, registry, settings))
    for copy in _both(filled, issues, tmp_path):
        with zipfile.ZipFile(copy) as zf:
            rels = b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".rels"))
            listing = zf.read(_sheet_part(zf, feedback.FEEDBACK_SHEET))
        assert b"TargetMode" not in rels and b"hyperlink" not in rels, copy.name
        locations = re.findall(rb'<hyperlink ref="C\d+" location="([^"]+)"', listing)
        assert len(locations) == len(issues), copy.name


def _sheet_part(zf: zipfile.ZipFile, name: str) -> str:
    """The worksheet part of sheet `name` (through workbook.xml and its relationships)."""
    from tests.excel_forms import _sheets

    parts = {n: zf.read(n) for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")}
    return _sheets(parts)[name]


# --------------------------------------------------------------------------- copies sent back


def _fill(path: Path, sheet: str, ref: str) -> tuple[str | None, str | None]:
    cell = openpyxl.load_workbook(path)[sheet][ref]
    return cell.fill.fill_type, cell.fill.fgColor.rgb


def _comments(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    wb = openpyxl.load_workbook(path)
    return {
        (ws.title, c.coordinate): (c.comment.text, c.comment.author)
        for ws in wb.worksheets
        for c in ws._cells.values()
        if c.comment is not None
    }


def _resend(copy: Path, issues: list[Issue], tmp_path: Path, name: str) -> Path:
    """The unit sends `copy` back; the department writes its feedback copy again."""
    source = tmp_path / f"{name}-gui-lai.xlsx"
    source.write_bytes(copy.read_bytes())
    return feedback.write_feedback(source, issues, tmp_path / f"{name}.xlsx", "don-vi.xlsx")


@pytest.fixture
def first_round(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> tuple[list[Issue], Path]:
    """The first feedback copy: two problems, one of them on two cells' worth of notes."""
    wb = school_workbook(schemas, registry, settings)
    issues = ISSUE_CASES["error-and-warning"](wb) + ISSUE_CASES["two-issues-one-cell"](wb)
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    return issues, feedback.write_feedback(source, issues, tmp_path / "lan-1.xlsx", "don-vi.xlsx")


def test_a_copy_sent_back_unchanged_carries_each_note_once(
    first_round: tuple[list[Issue], Path], tmp_path: Path
) -> None:
    """Same problems again: the second copy shows exactly what the first one showed."""
    issues, first = first_round
    second = _resend(first, issues, tmp_path, "lan-2")
    cells = _problem_cells(issues)
    assert _view(second, cells) == _view(first, cells)
    third = _resend(second, issues, tmp_path, "lan-3")
    assert _view(third, cells) == _view(first, cells)
    notes = _comments(third)
    assert len(notes) == len(set(cells))
    assert all(text.count(": ") == text.count("\n") + 1 for text, _ in notes.values())


def test_a_fixed_cell_comes_back_as_the_template_shows_it(
    first_round: tuple[list[Issue], Path], filled: bytes, tmp_path: Path
) -> None:
    """The unit fixed the e-mail: no note, no orange, the template's input yellow again."""
    issues, first = first_round
    fixed = next(i for i in issues if i.code == "invalid-email")
    left = [i for i in issues if i is not fixed]
    second = _resend(first, left, tmp_path, "lan-2")
    assert (fixed.sheet, fixed.cell) not in _comments(second)
    original = tmp_path / "goc.xlsx"
    original.write_bytes(filled)
    assert _fill(second, fixed.sheet, fixed.cell) == _fill(original, fixed.sheet, fixed.cell)
    assert _fill(original, fixed.sheet, fixed.cell) == ("solid", "00FFF2CC")
    # And the whole copy is the one the original file with only those problems would get.
    fresh = tmp_path / "moi"
    fresh.mkdir()
    _, expected = _both(filled, left, fresh)
    cells = _problem_cells(issues)
    assert _view(second, cells) == _view(expected, cells)


def test_a_fixed_pre_filled_cell_gets_its_grey_back(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """A locked cell (the registry's unit name) was marked: cleared, it is grey again."""
    sheet, ref = _scalar(school_workbook(schemas, registry, settings), "unit_name")
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(filled)
    issue = _issue("prefill-changed", "warning", sheet, ref, "Tên đơn vị đã bị sửa.", "x")
    first = feedback.write_feedback(source, [issue], tmp_path / "lan-1.xlsx", "don-vi.xlsx")
    assert _fill(first, sheet, ref) == ("solid", "00" + feedback.WARNING_RGB)
    second = _resend(first, [], tmp_path, "lan-2")
    assert _fill(second, sheet, ref) == _fill(source, sheet, ref) == ("solid", "00D9D9D9")
    assert (sheet, ref) not in _comments(second)


@pytest.mark.libreoffice
def test_a_copy_saved_by_libreoffice_is_cleared_too(
    first_round: tuple[list[Issue], Path], tmp_path: Path
) -> None:
    """LibreOffice saves our notes without their author: they are still known as ours."""
    issues, first = first_round
    resaved = convert(first, "xlsx", tmp_path / "lo")
    assert {author for _, author in _comments(resaved).values()} <= {"", " "}
    fixed = next(i for i in issues if i.code == "invalid-email")
    left = [i for i in issues if i is not fixed]
    second = _resend(resaved, left, tmp_path, "lan-2")
    notes = _comments(second)
    assert (fixed.sheet, fixed.cell) not in notes
    assert _fill(second, fixed.sheet, fixed.cell)[1][-6:] == "FFF2CC"
    assert sorted(notes) == sorted(set(_problem_cells(left)))
    assert all(author == feedback.COMMENT_AUTHOR for _, author in notes.values())
    number = next(i for i in left if i.code == "invalid-number")
    assert notes[number.sheet, number.cell][0] == f"Lỗi: {number.message}"


def test_the_units_own_comments_and_fills_are_kept(
    filled: bytes, schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """Rule 3: a unit's comment stays as it is; ours goes after the separator, once."""
    wb = school_workbook(schemas, registry, settings)
    issues = ISSUE_CASES["error-and-warning"](wb)
    number = next(i for i in issues if i.code == "invalid-number")
    wb[number.sheet][number.cell].comment = Comment("Số liệu theo kế hoạch 12/KH.", "Cô Lan")
    wb[GENERAL]["D24"].comment = Comment("Lỗi: đơn vị tự ghi chú.", "Cô Lan")
    # Not an earlier copy: the unit's own light-red cell is its own (rule 4).
    wb[GENERAL]["E24"].fill = feedback_openpyxl.ERROR_FILL
    source = tmp_path / "don-vi.xlsx"
    source.write_bytes(template_bytes(wb))
    first = feedback.write_feedback(source, issues, tmp_path / "lan-1.xlsx", "don-vi.xlsx")
    expected = (
        f"Số liệu theo kế hoạch 12/KH.\n{feedback.NOTE_SEPARATOR}\nLỗi: {number.message}",
        "Cô Lan",
    )
    notes = _comments(first)
    assert notes[number.sheet, number.cell] == expected
    assert notes[GENERAL, "D24"] == ("Lỗi: đơn vị tự ghi chú.", "Cô Lan")
    assert _fill(first, GENERAL, "E24") == ("solid", "00" + feedback.ERROR_RGB)
    second = _resend(first, issues, tmp_path, "lan-2")
    assert _comments(second) == notes
    # Fixed: the unit's comment alone, as the unit wrote it.
    third = _resend(second, [i for i in issues if i is not number], tmp_path, "lan-3")
    assert _comments(third)[number.sheet, number.cell] == ("Số liệu theo kế hoạch 12/KH.", "Cô Lan")
    assert _comments(third)[GENERAL, "D24"] == ("Lỗi: đơn vị tự ghi chú.", "Cô Lan")
