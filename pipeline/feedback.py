"""Feedback workbooks: the unit's own file back, with every problem marked where it is.

The unit fixes that very file and sends it again, so the copy keeps its template structure
(defined names, tables, hidden metadata). A plain package (the template filled in Excel or
LibreOffice) is edited directly by :mod:`pipeline.feedback_package`, keeping the sender's
parts as they are; anything else goes through openpyxl, which preserves them. A first sheet
lists the problems in Vietnamese with a link to each cell; each problem cell is filled red and
carries a comment. The input file itself is never touched: we load it read-only into memory.

The copy carries nothing active from the sender: formulas the unit put in cells are replaced
by the values they showed (the templates have none of their own), macros are dropped and a
macro-enabled .xlsm comes back as .xlsx, links to other workbooks are dropped, and every
text we write is written as text. An .ods or .xls is converted by LibreOffice as the reader
converts it and its copy is that .xlsx, annotated, with a line telling the unit to send this
.xlsx back. One file that cannot be annotated costs its feedback copy (a warning on the
command line says which file and why, and what to send the unit instead), never the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from pipeline.errors import OutputError, StorageError
from pipeline.export import write_bytes
from pipeline.feedback_package import (
    Listing,
    ListingRow,
    Mark,
    NotEligible,
    build,
    drop_unused_second_formulas,
)
from pipeline.issues import Issue
from pipeline.read import LEGACY_EXTENSIONS, XLSX_EXTENSIONS, convert_to_xlsx, locate_inputs
from pipeline.run import RunResult
from pipeline.schema import ReportSchema
from pipeline.workers import process_pool, worker_count, worker_deaths

log = logging.getLogger(__name__)

FEEDBACK_SHEET = "Lỗi cần sửa"
ERROR_RGB = "FFC7CE"
# Orange, not yellow: the template already uses light yellow for every input cell.
WARNING_RGB = "F8CBAD"
TAB_COLOR = "C00000"
COMMENT_AUTHOR = "Sở GDĐT"
NOTE_SEPARATOR = f"--- Ghi chú của {COMMENT_AUTHOR} ---"
"""The line that parts a unit's own comment from the notes we add to it (see
:mod:`pipeline.feedback_openpyxl`, "Earlier marks")."""
INSTRUCTIONS = (
    "Sửa các ô được tô đỏ (lỗi: bắt buộc sửa) và tô cam (cảnh báo: kiểm tra lại) "
    "ngay trong tệp này, xóa trang này nếu muốn, lưu lại rồi gửi lại cho Sở. "
    "Bấm vào địa chỉ ô để đi tới ô đó."
)
HEADERS = ("STT", "Mức độ", "Ô", "Chỉ tiêu", "Giá trị đã nhập", "Cần làm")
WIDTHS = (6.0, 11.0, 24.0, 28.0, 22.0, 80.0)
SEVERITY_LABEL = {"error": "Lỗi", "warning": "Cảnh báo", "info": "Thông tin"}
FIXED_CREATED = dt.datetime(2020, 1, 1)
MAX_SOURCE_BYTES = 20_000_000
"""Uncompressed size above which no feedback copy is made: openpyxl holds every cell and
row of a workbook in memory (a sheet of a million formatted rows would take gigabytes)."""
MAX_CELL_TEXT = 32_767
"""Excel's limit on the text of one cell; longer text makes Excel call the file corrupt."""
FEEDBACK_EXTENSIONS = XLSX_EXTENSIONS | LEGACY_EXTENSIONS
"""Submissions that get a feedback copy: .xlsx/.xlsm as they are, .ods/.xls converted."""
POOL_FROM = 16
"""From this many copies on, a process pool writes them."""
MAX_NAME_BYTES = 200
"""File names stay under the usual 255-byte limit, with room for the writer's temp suffix."""
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""The control characters an .xlsx cannot hold (openpyxl's own list: importing openpyxl
only for it would cost every run its import, though most copies never need openpyxl)."""


def excel_text(value: str) -> str:
    """Text that Excel accepts: no control characters, not longer than a cell holds."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)[:MAX_CELL_TEXT]


def field_labels(schema: ReportSchema) -> dict[str, str]:
    """What the unit sees in the template for each field code an issue can name."""
    labels = {f.code: f.label for f in schema.fields}
    for lst in schema.lists:
        for f in lst.fields:
            labels[f"{lst.code}.{f.code}"] = f"{schema.sheet_name(lst.sheet)}: {f.label}"
    return labels


def row_height(texts: Iterable[tuple[str, float]]) -> float:
    """LibreOffice does not grow wrapped rows of an .xlsx on opening: size them here."""
    lines = max((math.ceil(len(t) / max(width - 2, 1)) for t, width in texts), default=1)
    return 15.0 * max(lines, 1)


def sorted_issues(issues: Iterable[Issue]) -> list[Issue]:
    """The problem list's order: errors first, then by place and code."""
    return sorted(issues, key=lambda i: (i.severity != "error", i.sheet, i.cell, i.code))


def sheet_title(file_label: str) -> str:
    return f"CÁC VẤN ĐỀ CẦN SỬA TRONG TỆP {file_label}"


def where_text(issue: Issue) -> str:
    return f"{issue.sheet}!{issue.cell}" if issue.cell else "(cả tệp)"


def link_location(issue: Issue) -> str:
    """The link target of an issue's cell, without the leading '#'."""
    quoted = issue.sheet.replace("'", "''")
    return f"'{quoted}'!{issue.cell}"


def issue_columns(
    issue: Issue, labels: Mapping[str, str] | None
) -> tuple[tuple[int, str, float], ...]:
    """Columns D-F of an issue's line: (column, text, width used to size the row)."""
    label = (labels or {}).get(issue.field, issue.field)
    return ((4, label, 28.0), (5, issue.value, 22.0), (6, issue.message, 80.0))


def note_text(issue: Issue) -> str:
    return f"{SEVERITY_LABEL[issue.severity]}: {issue.message}"


def listing(
    issues: Iterable[Issue],
    file_label: str,
    sheetnames: Collection[str],
    labels: Mapping[str, str] | None = None,
    note: str = "",
) -> Listing:
    """What :func:`pipeline.feedback_openpyxl.annotate` draws, as data, for the direct path
    (:func:`pipeline.feedback_package.build`).

    `sheetnames` are the sender's sheets: a problem on a sheet that is not there gets
    neither a link nor a mark, as in annotate.
    """
    rows = []
    fills: dict[tuple[str, str], str] = {}
    notes: dict[tuple[str, str], str] = {}
    for n, issue in enumerate(sorted_issues(issues), start=1):
        marked = bool(issue.cell) and issue.sheet in sheetnames
        columns = issue_columns(issue, labels)
        rows.append(
            ListingRow(
                number=n,
                severity=SEVERITY_LABEL[issue.severity],
                where=excel_text(where_text(issue)),
                link=link_location(issue) if marked else None,
                label=excel_text(columns[0][1]),
                value=excel_text(columns[1][1]),
                message=excel_text(columns[2][1]),
                height=row_height((v, w) for _c, v, w in columns),
            )
        )
        if marked:
            key = (issue.sheet, issue.cell)
            # The last problem's colour wins and notes pile up, as annotate does them.
            fills[key] = ERROR_RGB if issue.severity == "error" else WARNING_RGB
            text = note_text(issue)
            notes[key] = excel_text(f"{notes[key]}\n{text}" if key in notes else text)
    return Listing(
        sheet_name=FEEDBACK_SHEET,
        title=excel_text(sheet_title(file_label)),
        instructions=INSTRUCTIONS,
        headers=HEADERS,
        widths=WIDTHS,
        rows=tuple(rows),
        marks=tuple(
            Mark(sheet, cell, fills[sheet, cell], notes[sheet, cell]) for sheet, cell in notes
        ),
        author=COMMENT_AUTHOR,
        tab_color=TAB_COLOR,
        when=FIXED_CREATED,
        note=excel_text(note),
    )


_CELL_AREA = (
    r"\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?|\$?\d+:\$?\d+|\$?[A-Z]{1,3}:\$?[A-Z]{1,3}"
)
_PLAIN_REF = re.compile(rf"^(?:'(?:[^']|'')+'|[^'!\[\]|(),=\"]+)!(?:{_CELL_AREA})$")
"""A sheet and one cell, range, rows or columns: no function, no other workbook, no DDE."""


def plain_name(value: str) -> bool:
    """Whether a defined name's value is a plain cell reference (kept in the copy)."""
    return bool(_PLAIN_REF.match(value))


def write_feedback(
    source: Path,
    issues: list[Issue],
    target: Path,
    file_label: str,
    labels: Mapping[str, str] | None = None,
    note: str = "",
) -> Path:
    """Write the annotated copy of `source` to `target` (atomically).

    A plain package (the template filled in Excel or LibreOffice, nothing active in it) is
    edited directly, a few milliseconds; anything else goes through openpyxl, which drops or
    replaces what must not come back live. Both show the unit the same thing; `note`, when
    given, is a line under the instructions.
    """
    package = source.read_bytes()

    def make_listing(sheetnames: list[str]) -> Listing:
        if any(i.sheet == FEEDBACK_SHEET for i in issues):
            # annotate would mark its own new sheet; too odd to copy, let openpyxl do it.
            raise NotEligible(f"có vấn đề ghi trên trang “{FEEDBACK_SHEET}”")
        return listing(issues, file_label, sheetnames, labels, note)

    try:
        data = build(package, plain_name, make_listing)
    except NotEligible as exc:
        from pipeline.feedback_openpyxl import openpyxl_feedback

        log.debug("tệp phản hồi %s: qua openpyxl (%s)", file_label, exc)
        data = openpyxl_feedback(source, issues, file_label, labels, note)
    except Exception as exc:
        # A package that passed the checks and still surprised the direct path (a number
        # that is not one, say): openpyxl copes with more, and the copy is not lost.
        from pipeline.feedback_openpyxl import openpyxl_feedback

        log.debug("tệp phản hồi %s: sửa trực tiếp thất bại (%r), qua openpyxl", file_label, exc)
        data = openpyxl_feedback(source, issues, file_label, labels, note)
    else:
        log.debug("tệp phản hồi %s: sửa trực tiếp gói", file_label)
    write_bytes(target, data)
    return target


def feedback_name(file: str) -> str:
    """The feedback copy's relative path: the input's, as .xlsx, each part a safe length."""
    parts = [p for p in file.split("/") if p not in ("", ".", "..")] or ["tep"]
    stem, dot, ext = parts[-1].rpartition(".")
    if not dot or ext.lower() not in ("xlsx", "xlsm"):
        stem, ext = parts[-1], "xlsx"
    parts[-1] = f"{stem}.xlsx"
    out = []
    for part in parts:
        if len(part.encode()) > MAX_NAME_BYTES:
            digest = hashlib.sha256(part.encode()).hexdigest()[:8]
            suffix = ".xlsx" if part is parts[-1] else ""
            head = part.encode()[: MAX_NAME_BYTES - 20].decode("utf-8", "ignore")
            part = f"{head}~{digest}{suffix}"
        out.append(part)
    return "/".join(out)


def _source_size(source: Path) -> int:
    with zipfile.ZipFile(source) as zf:
        return sum(i.file_size for i in zf.infolist())


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def legacy_kind(source: Path) -> str | None:
    """ ".ods" or ".xls" when `source` is one (whatever its name says, as the reader tells
    them apart), None for an .xlsx package."""
    suffix = source.suffix.lower()
    if suffix in LEGACY_EXTENSIONS:
        return suffix
    with source.open("rb") as fh:
        head = fh.read(len(_OLE_MAGIC))
    if head == _OLE_MAGIC:
        return ".xls"
    try:
        with zipfile.ZipFile(source) as zf:
            if "mimetype" in zf.namelist() and zf.read("mimetype").startswith(_ODS_MIMETYPE):
                return ".ods"
    except zipfile.BadZipFile:
        pass
    return None


def converted_note(kind: str) -> str:
    """The line a feedback copy made from a converted .ods/.xls carries under the
    instructions: the unit is to fix and send this .xlsx, not its old file."""
    return (
        f"Tệp đơn vị gửi là tệp {kind}; đây là bản đã chuyển sang Excel (.xlsx). "
        "Sửa ngay trong tệp .xlsx này và gửi lại tệp này."
    )


FeedbackTask = tuple[str, Path, list[Issue], Path, dict[str, str]]
"""One feedback copy to write: display name, source, its problems, target, field labels."""


def _write_task(task: FeedbackTask, note: str = "") -> Path | None:
    file, source, problems, target, labels = task
    if _source_size(source) > MAX_SOURCE_BYTES:
        log.warning("không tạo tệp phản hồi cho %s: tệp quá lớn", file)
        return None
    return write_feedback(source, problems, target, Path(file).name, labels, note)


def _legacy_task(task: FeedbackTask, kind: str) -> Path | None:
    """The feedback copy of an .ods/.xls: made from the .xlsx LibreOffice converts it to,
    as the reader converted it (so the cells the problems name are those of that copy)."""
    file, source = task[0], task[1]
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        log.warning(
            "không tạo tệp phản hồi cho %s: tệp %s cần LibreOffice để chuyển sang .xlsx mà "
            "máy này chưa cài; cài LibreOffice rồi chạy lại, hoặc gửi đơn vị danh sách lỗi "
            "trong issues.csv",
            file,
            kind,
        )
        return None
    with tempfile.TemporaryDirectory(prefix="xhht-feedback-") as tmp:
        try:
            converted = convert_to_xlsx(source, kind, Path(tmp), soffice)
        except (subprocess.SubprocessError, OSError) as exc:
            log.debug("conversion for feedback failed: %s: %r", file, exc)
            log.warning(
                "không tạo tệp phản hồi cho %s: LibreOffice không chuyển được tệp %s sang "
                ".xlsx; gửi đơn vị danh sách lỗi trong issues.csv",
                file,
                kind,
            )
            return None
        converted.write_bytes(drop_unused_second_formulas(converted.read_bytes(), FIXED_CREATED))
        return _write_task((*task[:1], converted, *task[2:]), converted_note(kind))


def feedback_task(task: FeedbackTask) -> Path | None:
    """Write one feedback copy; a failure costs only that file (logged), but a full or
    read-only disk, which stops the run (StorageError)."""
    file, source = task[0], task[1]
    try:
        kind = legacy_kind(source)
        if kind is not None:
            return _legacy_task(task, kind)
        return _write_task(task)
    except StorageError:
        # The disk is full or read-only: every other output would fail the same way, so the
        # run stops (and keeps the last good results) rather than go on without copies.
        raise
    except OutputError as exc:
        log.warning("không tạo được tệp phản hồi cho %s: %s", file, exc)
    except Exception as exc:
        # openpyxl meets every oddity a sender's file can hold; one file's feedback
        # copy is not worth the run.
        log.debug("feedback copy failed: %s: %r", file, exc)
        log.warning(
            "không tạo được tệp phản hồi cho %s: tệp có cấu trúc lạ mà chương trình không "
            "sao chép được; gửi đơn vị danh sách lỗi trong issues.csv (chạy lại với -v để "
            "xem chi tiết)",
            file,
        )
    return None


def feedback_tasks(result: RunResult, input_dir: Path, out_dir: Path) -> list[FeedbackTask]:
    """The feedback copies a run calls for: one per kept submission with problems (an
    .ods/.xls one as .xlsx, see :func:`feedback_task`).

    Clears last run's copies first: a rerun must not leave them behind for units that have
    since fixed their file.
    """
    by_file: dict[str, list[Issue]] = {}
    for issue in result.issues:
        by_file.setdefault(issue.file, []).append(issue)
    on_disk = locate_inputs(input_dir) if result.kept else {}
    labels = field_labels(result.schemas.report)
    shutil.rmtree(out_dir / "feedback", ignore_errors=True)
    tasks = []
    for file in sorted(result.kept.values()):
        problems = [i for i in by_file.get(file, []) if i.severity in ("error", "warning")]
        if not problems:
            continue
        # Display names are NFC and readable; the file on disk may be NFD or not UTF-8.
        source = on_disk.get(file, input_dir / file)
        if source.suffix.lower() not in FEEDBACK_EXTENSIONS:
            continue
        tasks.append((file, source, problems, out_dir / "feedback" / feedback_name(file), labels))
    return tasks


def write_feedback_all(
    result: RunResult, input_dir: Path, out_dir: Path, workers: int | None = None
) -> list[Path]:
    """One feedback workbook per kept submission that has problems.

    A plain copy takes about 15 ms, one through openpyxl about 0.1 s; many copies are written
    by a process pool. Every copy depends only on its own inputs, so the bytes are the same
    whatever the number of workers. (``consolidate`` writes them with its other outputs, in
    :func:`pipeline.render.write_outputs`.)
    """
    tasks = feedback_tasks(result, input_dir, out_dir)
    workers = worker_count(workers)
    if workers <= 1 or len(tasks) < POOL_FROM:
        results = [feedback_task(t) for t in tasks]
    else:
        died = worker_deaths("ghi tệp phản hồi", "Một số tệp phản hồi có thể chưa được ghi.")
        with died, process_pool(workers) as pool:
            results = list(pool.map(feedback_task, tasks, chunksize=4))
    return [p for p in results if p is not None]
