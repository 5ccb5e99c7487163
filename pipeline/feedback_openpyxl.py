"""Feedback copies through openpyxl: for any package the direct path does not take.

A full load and save (about 0.1 s a copy), which is why :mod:`pipeline.feedback` imports this
module only when a copy needs it. Formulas become the values they showed, macros, links to
other workbooks and names that are not plain cell references are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.feedback import (
    COMMENT_AUTHOR,
    ERROR_RGB,
    FEEDBACK_SHEET,
    FIXED_CREATED,
    HEADERS,
    INSTRUCTIONS,
    SEVERITY_LABEL,
    TAB_COLOR,
    WARNING_RGB,
    WIDTHS,
    excel_text,
    issue_columns,
    link_location,
    note_text,
    plain_name,
    row_height,
    sheet_title,
    sorted_issues,
    where_text,
)
from pipeline.feedback_package import COMMENT_HEIGHT_PX, COMMENT_WIDTH_PX
from pipeline.issues import Issue
from pipeline.templates import template_bytes

ERROR_FILL = PatternFill("solid", fgColor=ERROR_RGB)
WARNING_FILL = PatternFill("solid", fgColor=WARNING_RGB)


def _text(cell: object, value: str) -> None:
    """Write sender-derived text as text: openpyxl would turn a leading '=' into a formula."""
    cell.value = excel_text(value)  # type: ignore[attr-defined]
    cell.data_type = "s"  # type: ignore[attr-defined]


def annotate(
    wb: Workbook,
    issues: Iterable[Issue],
    file_label: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Mark problem cells and add the problem list as the first sheet."""
    issues = sorted_issues(issues)
    if FEEDBACK_SHEET in wb.sheetnames:
        del wb[FEEDBACK_SHEET]
    ws = wb.create_sheet(FEEDBACK_SHEET, 0)
    ws.sheet_properties.tabColor = TAB_COLOR
    bold = Font(name="Times New Roman", bold=True, size=12)
    normal = Font(name="Times New Roman", size=11)
    link_font = Font(name="Times New Roman", size=11, color="0563C1", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    _text(ws["A1"], sheet_title(file_label))
    ws["A1"].font = Font(name="Times New Roman", bold=True, size=14)
    _text(ws["A2"], INSTRUCTIONS)
    ws["A2"].alignment = wrap
    ws.merge_cells("A2:F2")
    ws.row_dimensions[2].height = 45
    for col, title in enumerate(HEADERS, start=1):
        c = ws.cell(row=4, column=col, value=title)
        c.font = bold
    for width, letter in zip(WIDTHS, "ABCDEF", strict=True):
        ws.column_dimensions[letter].width = width
    for n, issue in enumerate(issues, start=1):
        r = 4 + n
        for col, value in ((1, n), (2, SEVERITY_LABEL[issue.severity])):
            c = ws.cell(row=r, column=col, value=value)
            c.font = normal
            c.alignment = top
        cell = ws.cell(row=r, column=3)
        _text(cell, where_text(issue))
        cell.alignment = top
        if issue.cell and issue.sheet in wb.sheetnames:
            cell.hyperlink = f"#{link_location(issue)}"
            cell.font = link_font
        else:
            cell.font = normal
        columns = issue_columns(issue, labels)
        for col, value, _width in columns:
            c = ws.cell(row=r, column=col)
            _text(c, value)
            c.font = normal
            c.alignment = wrap
        ws.row_dimensions[r].height = row_height((v, w) for _c, v, w in columns)
        if issue.cell and issue.sheet in wb.sheetnames:
            target = _visible_cell(wb[issue.sheet], issue.cell)
            target.fill = ERROR_FILL if issue.severity == "error" else WARNING_FILL
            note = note_text(issue)
            if target.comment is not None:
                note = f"{target.comment.text}\n{note}"
            target.comment = Comment(
                excel_text(note), COMMENT_AUTHOR, width=COMMENT_WIDTH_PX, height=COMMENT_HEIGHT_PX
            )
    ws.freeze_panes = "A5"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.active = 0


def _visible_cell(ws: Worksheet, ref: str) -> Cell:
    """The cell at `ref`, or the top-left cell of the merged range that hides it: a hidden
    cell can hold neither a comment nor a fill (openpyxl refuses, and the copy was lost)."""
    cell = ws[ref]
    if isinstance(cell, MergedCell):
        for merged in ws.merged_cells.ranges:
            if ref in merged:
                return ws.cell(merged.min_row, merged.min_col)
    return cell


def _neutralise_formulas(wb: Workbook, source: Path) -> int:
    """Replace every cell formula by the value it showed; return how many were replaced.

    The templates hold no cell formulas, so each one is the sender's: a =HYPERLINK, a DDE
    call or a harmless =SUM alike must not come back live in a file we hand out.
    """
    found = [
        (ws.title, cell.coordinate)
        for ws in wb.worksheets
        # _cells holds only the cells present in the file: iter_rows would create every
        # cell of the bounding box (a sheet formatted out to column XFD has millions).
        for cell in list(ws._cells.values())
        if cell.data_type == "f"
    ]
    if not found:
        return 0
    cached = openpyxl.load_workbook(source, data_only=True, keep_links=False)
    for sheet, coord in found:
        cell = wb[sheet][coord]
        value: Any = cached[sheet][coord].value
        if isinstance(value, str) or cached[sheet][coord].data_type == "e":
            _text(cell, str(value))
        else:
            cell.value = value
    return len(found)


def _drop_active_names(wb: Workbook) -> None:
    """Keep only defined names that are plain cell references, as the template's are."""
    for name in list(wb.defined_names):
        value = str(wb.defined_names[name].value or "")
        if not plain_name(value):
            del wb.defined_names[name]
    for ws in wb.worksheets:
        for name in list(ws.defined_names):
            if not plain_name(str(ws.defined_names[name].value or "")):
                del ws.defined_names[name]


def openpyxl_feedback(
    source: Path,
    issues: list[Issue],
    file_label: str,
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """The annotated copy of `source` through a full openpyxl load and save.

    For any package: formulas become their values, macros, links to other workbooks and
    names that are not plain cell references are dropped.
    """
    # Never keep the sender's VBA: the copy is a plain .xlsx whatever came in.
    wb = openpyxl.load_workbook(source, keep_vba=False, keep_links=False)
    replaced = _neutralise_formulas(wb, source)
    _drop_active_names(wb)
    annotate(wb, issues, file_label, labels)
    if replaced:
        ws = wb[FEEDBACK_SHEET]
        _text(
            ws["A3"],
            f"Ghi chú: {replaced} ô có công thức trong tệp gửi đến đã được thay bằng giá trị "
            "(công thức không được giữ lại trong bản phản hồi).",
        )
    wb.properties.created = FIXED_CREATED
    return template_bytes(wb)
