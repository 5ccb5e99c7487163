"""Tidy CSV exports (DESIGN.md section 3) and atomic file writing.

CSV files are UTF-8 with a BOM so Excel shows the diacritics. Every output is written to a
temporary file beside its target and moved into place, so a crash or Ctrl-C never leaves a
half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError
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
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"Không tạo được tệp kết quả trong thư mục {target.parent} ({_why(exc)})."
        ) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as exc:
            raise OutputError(f"Không ghi được {target} ({_why(exc)}).") from exc
        try:
            os.replace(tmp_path, target)
        except PermissionError as exc:
            raise OutputError(
                f"Không ghi được {target}: tệp đang được mở bởi chương trình khác (Excel?). "
                "Đóng tệp rồi chạy lại; tệp cũ vẫn được giữ nguyên."
            ) from exc
        except OSError as exc:
            raise OutputError(f"Không ghi được {target} ({_why(exc)}).") from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def _why(exc: OSError) -> str:
    """A short Vietnamese cause for the usual write failures."""
    if isinstance(exc, PermissionError):
        return "không có quyền ghi hoặc tệp đang bị khóa"
    if exc.errno == errno.ENOSPC:
        return "ổ đĩa hết chỗ trống"
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


def inert(text: str) -> str:
    """Text a sender typed, made safe for CSV opened in Excel (no formula, no DDE).

    Text starting with = + - @, a tab or a carriage return gets a leading apostrophe, which
    Excel shows as text. A plain number typed as text (“-4”, “+84 912 345 678”) is left
    alone: Excel reads it as that number, nothing runs, and the apostrophe would spoil it.
    """
    if text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


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
    # The csv module directly, as pandas' to_csv itself would write these texts (minimal
    # quoting): converting every value to a text column first and handing the frame to
    # to_csv cost twice as long.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    columns = [[plain(v) for v in frame.iloc[:, i].tolist()] for i in range(frame.shape[1])]
    writer.writerows(zip(*columns, strict=True))
    write_bytes(target, buffer.getvalue().encode("utf-8-sig"))


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
