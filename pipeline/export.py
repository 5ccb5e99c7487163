"""Tidy CSV exports (DESIGN.md section 3) and atomic file writing.

CSV files are UTF-8 with a BOM so Excel shows the diacritics. Every output is written to a
temporary file beside its target and moved into place, so a crash or Ctrl-C never leaves a
half-written file where a good one was (and a whole run's outputs are swapped in together by
:mod:`pipeline.publish`). Files are created with the user's umask, like any file they save,
so colleagues sharing the machine or the network folder can open the report.

A sender's text never becomes a formula in Excel, whatever the locale. Excel splits a CSV on
',' where the decimal mark is a point, on ';' where it is a comma (vi-VN among them), and a
tab-separated file on tabs; a quote protects a field only where it opens a cell in that
reading. So every piece of a text that any of these readings could make a cell is neutral:
the text's start, and the start of what follows each ',' ';' tab or line break in it, gets an
apostrophe before = + - @ (:func:`inert`, :func:`csv_field`); and a field holding any of
those separators is quoted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError, StorageError
from pipeline.publish import STORAGE_ERRNOS
from pipeline.run import RunResult

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces `target` in one rename.

    The temporary file sits beside the target (same file system, so the rename is atomic)
    and starts with a dot, so listings of the outputs skip it. Its name is cut short: the
    target's own name may already be near the file-system limit of 255 bytes.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_temporary(target)
    except OSError as exc:
        raise _error(exc, f"Không tạo được tệp kết quả trong thư mục {target.parent}") from exc
    try:
        try:
            yield tmp_path
        except OSError as exc:
            raise _error(exc, f"Không ghi được {target}") from exc
        try:
            os.replace(tmp_path, target)
        except PermissionError as exc:
            raise OutputError(
                f"Không ghi được {target}: tệp đang được mở bởi chương trình khác (Excel?). "
                "Đóng tệp rồi chạy lại; tệp cũ vẫn được giữ nguyên."
            ) from exc
        except OSError as exc:
            raise _error(exc, f"Không ghi được {target}") from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def create_new(path: Path) -> int:
    """Create `path` for writing and return its descriptor; FileExistsError if it exists.

    Never replaces a file (O_EXCL). The mode is filtered by the user's umask, as for any
    file they save: 0644 with the usual umask 022, 0664 where a group shares the folder
    (umask 002), unlike tempfile.mkstemp's 0600 or a fixed mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o666)


def _new_temporary(target: Path) -> Path:
    """Create an empty, new temporary file beside `target`, with the user's umask.

    Not tempfile.mkstemp: it makes every file 0600, so nobody but the user who ran the
    program could open the report; the mode given here is filtered by the umask, as for
    any file the user saves.
    """
    prefix = f".{target.name[:40]}."
    for _ in range(100):
        tmp = target.parent / f"{prefix}{secrets.token_hex(4)}.tmp"
        try:
            fd = create_new(tmp)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", os.fspath(target.parent))


def _error(exc: OSError, what: str) -> OutputError:
    """`what` failed because of `exc`: a storage refusal stops the run (StorageError)."""
    message = f"{what} ({_why(exc)})."
    if exc.errno in STORAGE_ERRNOS:
        return StorageError(message, exc.errno or 0)
    return OutputError(message)


def _why(exc: OSError) -> str:
    """A short Vietnamese cause for the usual write failures."""
    if exc.errno == errno.EROFS:
        return "ổ đĩa chỉ cho phép đọc"
    if isinstance(exc, PermissionError):
        return "không có quyền ghi hoặc tệp đang bị khóa"
    if exc.errno == errno.ENOSPC:
        return "ổ đĩa hết chỗ trống"
    if exc.errno == getattr(errno, "EDQUOT", -1):
        return "đã dùng hết dung lượng được cấp"
    if exc.errno == errno.ENAMETOOLONG:
        return "tên tệp quá dài"
    return f"lỗi hệ thống số {exc.errno}" if exc.errno else "lỗi hệ thống"


def write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` atomically: readers see the old file or the whole new one."""
    with atomic_path(target) as tmp, tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        # On disk before the rename, so a power cut cannot leave an empty file in its place.
        os.fsync(fh.fileno())


_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .,]*%?")
SEPARATORS = ",;\t\r\n"
"""Where Excel may start a new cell: the separators of every locale, and line breaks."""
_NEEDS_CARE = re.compile(r'[,;\t\r\n"]')
# After a separator: the blanks and quotes Excel may skip before a formula character. A piece
# that already starts with apostrophes before one gets another too, so that taking one away
# (plain_text) gives back exactly the text: the neutralisation can be undone.
_PIECE = re.compile(r'([,;\t\r\n][ "]*)(?=\'*[=+\-@])')
_PIECE_MARKED = re.compile(r'([,;\t\r\n][ "]*)\'(?=\'*[=+\-@])')
_START = re.compile(r"'*[=+\-@\t\r]")
_START_MARKED = re.compile(r"'+[=+\-@\t\r]")


def inert(text: str) -> str:
    """Text a sender typed, made safe for CSV opened in Excel (no formula, no DDE).

    Text starting with = + - @, a tab or a carriage return gets a leading apostrophe, which
    Excel shows as text. A plain number typed as text (“-4”, “+84 912 345 678”) is left
    alone: Excel reads it as that number, nothing runs, and the apostrophe would spoil it.
    The pieces after separators inside the text are :func:`csv_field`'s work.
    """
    if _START.match(text) and not _PLAIN_NUMBER.fullmatch(text):
        # Also before apostrophes already there ("'=1"): plain_text takes exactly one away.
        return "'" + text
    return text


def plain_text(field: str) -> str:
    """The text a field of :func:`write_csv` was made from: the inverse of :func:`inert`
    and :func:`csv_field`, for a field as a CSV reader returns it (quotes already undone).

    One apostrophe is taken away at the start and after each separator wherever the writer
    put one: before apostrophes that run up to = + - @ (a tab or a carriage return at the
    start). A plain number such as “-4” was written as it is; the first field of a line got
    the same apostrophe for it, which this takes away as well. For every text t,
    ``plain_text(csv_field(inert(t))) == t`` once the CSV quoting is undone.
    """
    if "'" not in field:
        return field
    if _START_MARKED.match(field):
        field = field[1:]
    return _PIECE_MARKED.sub(r"\1", field)


def csv_field(text: str) -> str:
    """A CSV field for `text` (already :func:`inert`), safe however Excel splits the line.

    Each piece after a ',' ';' tab or line break that starts with = + - @ (after blanks or
    quotes) gets an apostrophe, as the text's own start did; a field holding a separator or
    a quote is quoted, its quotes doubled. “Nhiều thành tích;=1+1” is written
    ``"Nhiều thành tích;'=1+1"``: one cell where Excel splits on ',', and where it splits
    on ';' the second piece is the text “'=1+1”, not a formula. Unlike the text's start, a
    piece that is a plain number gets one too: where it is not a cell of its own it runs on
    to the next separator of that reading, or ends with the field's closing quote (“-1"”).
    """
    if not _NEEDS_CARE.search(text):
        return text
    text = _PIECE.sub(r"\1'", text)
    return '"' + text.replace('"', '""') + '"'


def plain(value: Any) -> str:
    """A parsed value in the contract's plain notation."""
    # The two commonest cases first: this runs for every cell of every export.
    kind = type(value)
    if kind is str:
        return inert(value)
    if kind is int:
        return str(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and pd.isna(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
        if isinstance(value, bool):
            return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, "f").rstrip("0")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return inert(str(value))


def write_csv(frame: pd.DataFrame, target: Path) -> None:
    """`frame` as CSV: a header row, then one line per row, fields as :func:`csv_field`.

    Column by column: a column none of whose texts holds a separator or a quote (most of
    them: codes, numbers, dates) is written as it is, found by one search of the joined
    column, so the per-field work is only done where a sender's text needs it.
    """
    columns = [[plain(v) for v in frame.iloc[:, i].tolist()] for i in range(frame.shape[1])]
    if len(columns) > 1:
        # A line's first field starts a cell in every reading, and where Excel splits on ';'
        # that cell runs on past the ',': a text “-4” there is no longer a plain number.
        firsts = frame.iloc[:, 0].tolist()
        columns[0] = [
            "'" + v if type(x) is str and v.startswith(FORMULA_PREFIXES) else v
            for v, x in zip(columns[0], firsts, strict=True)
        ]
    for i, column in enumerate(columns):
        if _NEEDS_CARE.search("\x00".join(column)):
            columns[i] = [csv_field(v) for v in column]
    if len(columns) == 1:
        # A line holding one empty field would be an empty line, which readers skip.
        columns[0] = [v or '""' for v in columns[0]]
    header = ",".join(csv_field(str(c)) for c in frame.columns)
    lines = [header, *map(",".join, zip(*columns, strict=True))] if columns else [header]
    text = "\n".join(lines) + "\n"
    write_bytes(target, text.encode("utf-8-sig"))


def values_frame(result: RunResult) -> pd.DataFrame:
    """values.csv: one row per accepted unit and scalar field that has a value."""
    report = result.schemas.report
    scalars = result.data.scalars
    codes = sorted(result.kept)
    at = scalars.index.get_indexer([result.kept[c] for c in codes])
    # Column by column: looking up a row of this mixed-type frame per unit costs seconds at
    # ten thousand units.
    columns = {f.code: scalars[f.code].to_numpy(dtype=object)[at] for f in report.fields}
    fields: dict[str, tuple[str, ...]] = {}
    rows = []
    for i, code in enumerate(codes):
        variant = result.data.variant_of[result.kept[code]]
        if variant not in fields:
            fields[variant] = tuple(f.code for f in report.fields_for(variant))
        for fld in fields[variant]:
            value = columns[fld][i]
            if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                continue
            rows.append((result.year, code, fld, value))
    return pd.DataFrame(rows, columns=["year", "unit_code", "field", "value"])


def list_frame(result: RunResult, list_code: str) -> pd.DataFrame:
    lst = result.schemas.report.list_map[list_code]
    frame = result.data.lists[list_code]
    kept = {f: c for c, f in result.kept.items()}
    frame = frame[frame["file"].isin(kept)].copy()
    frame.insert(0, "unit_code", frame["file"].map(kept))
    frame = frame.sort_values(["unit_code", "row"], kind="stable")
    return frame[["unit_code", *[f.code for f in lst.fields]]].reset_index(drop=True)


def write_tables(result: RunResult, out_dir: Path) -> list[Path]:
    """Write submissions.csv, issues.csv, changes and the data/ exports; return the paths."""
    written = []
    data_dir = out_dir / "data"
    targets = {
        out_dir / "submissions.csv": result.submissions,
        out_dir / "issues.csv": result.issues_table,
        out_dir / "resubmission_changes.csv": result.changes,
        data_dir / "values.csv": values_frame(result),
        data_dir / "aggregates.csv": result.aggregates,
        data_dir / "criteria.csv": result.criteria,
        data_dir / "tracking.csv": result.tracking,
    }
    for lst in result.schemas.report.lists:
        targets[data_dir / f"{lst.code}.csv"] = list_frame(result, lst.code)
    for path, frame in targets.items():
        write_csv(frame, path)
        written.append(path)
    return written
