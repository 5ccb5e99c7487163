"""Feedback copies through openpyxl: for any package the direct path does not take.

A full load and save (about 0.1 s a copy), which is why :mod:`pipeline.feedback` imports this
module only when a copy needs it. Formulas become the values they showed, macros, links to
other workbooks and names that are not plain cell references are dropped.

Two things openpyxl would lose are put back:

* **Dropdowns Excel 2010+ keeps in the sheet's ``extLst``.** A list whose source is on
  another sheet (the template's levels, titles, digital levels) is saved by Excel as an
  ``x14:dataValidation``; openpyxl drops that extension on load. The saved copy gets the
  sender's ``x14:dataValidations`` back, sheet by sheet (see
  :func:`pipeline.feedback_package.keep_x14_validations`).
* **Nothing of an earlier feedback copy stays.** A copy the unit sends back (fixed or not)
  still carries our marks; they are cleared before marking anew (:func:`clear_earlier_marks`),
  so a fixed cell is no longer red and an unfixed one carries its note once.

Earlier marks: the rules (the cases are in tests/test_feedback_package.py)
--------------------------------------------------------------------------

1. *Our note* is a comment whose text starts with a severity label and a colon (``Lỗi: ``,
   ``Cảnh báo: ``, ``Thông tin: ``, as :func:`pipeline.feedback.note_text` writes it) and whose
   author is ours (:data:`pipeline.feedback.COMMENT_AUTHOR`) or empty: LibreOffice saves every
   comment of an .xlsx with an empty author. Our note is removed whole.
2. *A unit's comment we added to* (a problem on a cell that already had the unit's own
   comment) keeps the unit's author and text; ours follows a line that is exactly
   :data:`pipeline.feedback.NOTE_SEPARATOR`. Everything from that line on is removed; the
   unit's text stays.
3. Any other comment is the unit's own and is never touched, whatever it says.
4. The workbook is an *earlier copy* when it has the problem-list sheet or held at least one
   note of ours (rules 1-2). Only then are fills cleared: every cell of the other sheets whose
   fill is a solid :data:`pipeline.feedback.ERROR_RGB` or :data:`pipeline.feedback.WARNING_RGB`
   gets back the colour the template gives a cell of its kind: input yellow
   (:data:`pipeline.templates.FILL_INPUT`) if the cell is unlocked (the template unlocks
   exactly the cells a unit types into), pre-filled grey (:data:`pipeline.templates.FILL_LOCKED`)
   if it is locked (the only locked cells a problem can point at are the registry's
   pre-filled values and the people matrix's group labels). The template's sheets are
   protected, so a unit cannot paint a cell itself; a file that is not an earlier copy keeps
   every fill it has.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.feedback import (
    COMMENT_AUTHOR,
    ERROR_RGB,
    FEEDBACK_SHEET,
    FIXED_CREATED,
    HEADERS,
    INSTRUCTIONS,
    NOTE_SEPARATOR,
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
from pipeline.feedback_package import COMMENT_HEIGHT_PX, COMMENT_WIDTH_PX, keep_x14_validations
from pipeline.issues import Issue
from pipeline.templates import FILL_INPUT, FILL_LOCKED, template_bytes

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
    note: str = "",
) -> None:
    """Mark problem cells and add the problem list as the first sheet (`note` under the
    instructions, when given)."""
    issues = sorted_issues(issues)
    if FEEDBACK_SHEET in wb.sheetnames:
        del wb[FEEDBACK_SHEET]
    ws = wb.create_sheet(FEEDBACK_SHEET, 0)
    noted: set[tuple[str, str]] = set()
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
    if note:
        _text(ws["A3"], note)
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
            # A location, as the direct path writes it: a target would be an external
            # relationship to "#'Sheet'!D12", which Gnumeric and link checkers refuse.
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=link_location(issue))
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
            note, author, key = note_text(issue), COMMENT_AUTHOR, (issue.sheet, target.coordinate)
            existing = target.comment
            if existing is not None:
                author = existing.author
                if key in noted:
                    # An earlier problem of this list on the same cell: notes pile up.
                    note = f"{existing.text}\n{note}"
                else:
                    # The unit's own comment: kept, ours after a line we know again.
                    note = f"{existing.text}\n{NOTE_SEPARATOR}\n{note}"
            noted.add(key)
            target.comment = Comment(
                excel_text(note), author, width=COMMENT_WIDTH_PX, height=COMMENT_HEIGHT_PX
            )
    ws.freeze_panes = "A5"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.active = 0


_NOTE_PREFIXES = tuple(f"{label}: " for label in SEVERITY_LABEL.values())
_MARK_RGBS = (ERROR_RGB, WARNING_RGB)


def _ours(comment: Comment) -> bool:
    """Rule 1: a note of ours, by its text and its author (or LibreOffice's empty one)."""
    author = (comment.author or "").strip()
    return author in ("", COMMENT_AUTHOR) and (comment.text or "").startswith(_NOTE_PREFIXES)


def _our_fill(cell: Cell) -> bool:
    fill = cell.fill
    if fill is None or fill.fill_type != "solid":
        return False
    rgb = getattr(fill.fgColor, "rgb", None)
    # Alpha apart: openpyxl writes 00FFC7CE, LibreOffice FFFFC7CE.
    return isinstance(rgb, str) and rgb.upper()[-6:] in _MARK_RGBS


def _present_cells(ws: Worksheet) -> list[Cell]:
    """The cells the file holds. ``_cells`` because iter_rows would create every cell of the
    bounding box (a sheet formatted out to column XFD has millions)."""
    return list(ws._cells.values())


def clear_earlier_marks(wb: Workbook) -> int:
    """Remove an earlier feedback copy's notes and fills (rules in the module docstring).

    Returns how many notes were removed or cut back. The problem-list sheet itself is
    replaced by :func:`annotate`.
    """
    cells = [c for ws in wb.worksheets if ws.title != FEEDBACK_SHEET for c in _present_cells(ws)]
    earlier = FEEDBACK_SHEET in wb.sheetnames
    removed = 0
    for cell in cells:
        comment = cell.comment
        if comment is None:
            continue
        lines = (comment.text or "").split("\n")
        if NOTE_SEPARATOR in lines:
            kept = "\n".join(lines[: lines.index(NOTE_SEPARATOR)])
            cell.comment = (
                Comment(kept, comment.author, width=comment.width, height=comment.height)
                if kept.strip()
                else None
            )
        elif _ours(comment):
            cell.comment = None
        else:
            continue
        removed += 1
    if earlier or removed:
        for cell in cells:
            if _our_fill(cell):
                cell.fill = FILL_INPUT if cell.protection.locked is False else FILL_LOCKED
    return removed


def _visible_cell(ws: Worksheet, ref: str) -> Cell:
    """The cell at `ref`, or the top-left cell of the merged range that hides it: a hidden
    cell can hold neither a comment nor a fill (openpyxl refuses, and the copy was lost)."""
    cell = ws[ref]
    if isinstance(cell, MergedCell):
        for merged in ws.merged_cells.ranges:
            if ref in merged:
                return ws.cell(merged.min_row, merged.min_col)
    return cell


def _load(source: Path, **options: bool) -> Workbook:
    with warnings.catch_warnings():
        # "Data Validation extension is not supported and will be removed": the x14
        # dropdowns are put back by keep_x14_validations.
        warnings.filterwarnings("ignore", "Data Validation extension", UserWarning)
        return openpyxl.load_workbook(source, keep_links=False, **options)


def _neutralise_formulas(wb: Workbook, source: Path) -> int:
    """Replace every cell formula by the value it showed; return how many were replaced.

    The templates hold no cell formulas, so each one is the sender's: a =HYPERLINK, a DDE
    call or a harmless =SUM alike must not come back live in a file we hand out.
    """
    found = [
        (ws.title, cell.coordinate)
        for ws in wb.worksheets
        for cell in _present_cells(ws)
        if cell.data_type == "f"
    ]
    if not found:
        return 0
    cached = _load(source, data_only=True)
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
    note: str = "",
) -> bytes:
    """The annotated copy of `source` through a full openpyxl load and save.

    For any package: formulas become their values, macros, links to other workbooks and
    names that are not plain cell references are dropped.
    """
    # Never keep the sender's VBA: the copy is a plain .xlsx whatever came in.
    wb = _load(source, keep_vba=False)
    replaced = _neutralise_formulas(wb, source)
    _drop_active_names(wb)
    clear_earlier_marks(wb)
    if replaced:
        formulas = (
            f"Ghi chú: {replaced} ô có công thức trong tệp gửi đến đã được thay bằng giá trị "
            "(công thức không được giữ lại trong bản phản hồi)."
        )
        note = f"{note} {formulas}" if note else formulas
    annotate(wb, issues, file_label, labels, note)
    wb.properties.created = FIXED_CREATED
    return keep_x14_validations(source.read_bytes(), template_bytes(wb), FIXED_CREATED)
