"""Feedback workbooks: the unit's own file back, with every problem marked where it is.

The unit fixes that very file and sends it again, so the copy keeps its template structure
(defined names, tables, hidden metadata); openpyxl preserves those. A first sheet lists the
problems in Vietnamese with a link to each cell; each problem cell is filled red and carries
a comment. The input file itself is never touched: we load it read-only into memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.workbook import Workbook

from pipeline.export import write_bytes
from pipeline.issues import Issue
from pipeline.run import RunResult
from pipeline.templates import template_bytes

log = logging.getLogger(__name__)

FEEDBACK_SHEET = "Lỗi cần sửa"
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
SEVERITY_LABEL = {"error": "Lỗi", "warning": "Cảnh báo", "info": "Thông tin"}
FIXED_CREATED = dt.datetime(2020, 1, 1)


def _text(cell: object, value: str) -> None:
    """Write sender-derived text as text: openpyxl would turn a leading '=' into a formula."""
    cell.value = value  # type: ignore[attr-defined]
    cell.data_type = "s"  # type: ignore[attr-defined]


def annotate(wb: Workbook, issues: Iterable[Issue], file_label: str) -> None:
    """Mark problem cells and add the problem list as the first sheet."""
    issues = sorted(issues, key=lambda i: (i.severity != "error", i.sheet, i.cell, i.code))
    if FEEDBACK_SHEET in wb.sheetnames:
        del wb[FEEDBACK_SHEET]
    ws = wb.create_sheet(FEEDBACK_SHEET, 0)
    ws.sheet_properties.tabColor = "C00000"
    bold = Font(name="Times New Roman", bold=True, size=12)
    normal = Font(name="Times New Roman", size=11)
    link_font = Font(name="Times New Roman", size=11, color="0563C1", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")
    _text(ws["A1"], f"CÁC VẤN ĐỀ CẦN SỬA TRONG TỆP {file_label}")
    ws["A1"].font = Font(name="Times New Roman", bold=True, size=14)
    _text(
        ws["A2"],
        "Sửa các ô được tô đỏ (lỗi: bắt buộc sửa) và tô vàng (cảnh báo: kiểm tra lại) "
        "ngay trong tệp này, xóa trang này nếu muốn, lưu lại rồi gửi lại cho Sở. "
        "Bấm vào địa chỉ ô để đi tới ô đó.",
    )
    ws["A2"].alignment = wrap
    ws.merge_cells("A2:F2")
    ws.row_dimensions[2].height = 45
    headers = ["STT", "Mức độ", "Ô", "Chỉ tiêu", "Giá trị đã nhập", "Cần làm"]
    for col, title in enumerate(headers, start=1):
        c = ws.cell(row=4, column=col, value=title)
        c.font = bold
    for width, letter in zip((6, 11, 24, 28, 22, 80), "ABCDEF", strict=True):
        ws.column_dimensions[letter].width = width
    for n, issue in enumerate(issues, start=1):
        r = 4 + n
        ws.cell(row=r, column=1, value=n).font = normal
        ws.cell(row=r, column=2, value=SEVERITY_LABEL[issue.severity]).font = normal
        where = f"{issue.sheet}!{issue.cell}" if issue.cell else "(cả tệp)"
        cell = ws.cell(row=r, column=3)
        _text(cell, where)
        if issue.cell and issue.sheet in wb.sheetnames:
            cell.hyperlink = f"#'{issue.sheet}'!{issue.cell}"
            cell.font = link_font
        else:
            cell.font = normal
        for col, value in ((4, issue.field), (5, issue.value), (6, issue.message)):
            c = ws.cell(row=r, column=col)
            _text(c, value)
            c.font = normal
            c.alignment = wrap
        if issue.cell and issue.sheet in wb.sheetnames:
            target = wb[issue.sheet][issue.cell]
            target.fill = ERROR_FILL if issue.severity == "error" else WARNING_FILL
            note = f"{SEVERITY_LABEL[issue.severity]}: {issue.message}"
            if target.comment is not None:
                note = f"{target.comment.text}\n{note}"
            target.comment = Comment(note, "Sở GDĐT", width=320, height=120)
    ws.freeze_panes = "A5"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.active = 0


def write_feedback(source: Path, issues: list[Issue], target: Path, file_label: str) -> Path:
    """Write the annotated copy of `source` to `target` (atomically)."""
    keep_vba = source.suffix.lower() == ".xlsm"
    wb = openpyxl.load_workbook(source, keep_vba=keep_vba, keep_links=False)
    annotate(wb, issues, file_label)
    wb.properties.created = FIXED_CREATED
    write_bytes(target, template_bytes(wb))
    return target


def write_feedback_all(result: RunResult, input_dir: Path, out_dir: Path) -> list[Path]:
    """One feedback workbook per kept submission that has problems."""
    by_file: dict[str, list[Issue]] = {}
    for issue in result.issues:
        by_file.setdefault(issue.file, []).append(issue)
    written = []
    for file in sorted(result.kept.values()):
        problems = [i for i in by_file.get(file, []) if i.severity in ("error", "warning")]
        if not problems:
            continue
        source = input_dir / file
        if source.suffix.lower() not in (".xlsx", ".xlsm"):
            continue
        target = out_dir / "feedback" / file
        try:
            written.append(write_feedback(source, problems, target, Path(file).name))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("không tạo được tệp phản hồi cho %s: %s", file, exc)
    return written
