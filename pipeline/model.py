"""Data passed between the stages, and the template contract they share.

The template contract (DESIGN.md section 3), fixed so other tools can rely on it:

* every scalar input cell is a workbook-scoped Excel defined name equal to its field code;
* every list is an Excel table named after its list code, whose header row holds the field
  codes (the Vietnamese labels sit in the row above the table);
* a hidden sheet named :data:`META_SHEET` holds key/value pairs in columns A:B, with the keys
  of :data:`META_KEYS`.

Stages: read (disk) → identify → parse/validate → evaluate → aggregate → render (disk).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.issues import Issue

META_SHEET = "_meta"
META_KEYS = ("template_id", "template_version", "schema_id", "report_year", "unit_code")
INSTRUCTIONS_SHEET = "Hướng dẫn"
INBOX_LOG_NAME = "_inbox_log.csv"
"""The mail log `inbox` keeps in each year's input folder; it is not a submission."""
INBOX_LOG_HEADER = frozenset({"file", "sender", "sent_at", "received_at"})
"""Columns every mail log starts with (pipeline.inbox.LOG_COLUMNS holds them all)."""
VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7))
"""The one clock of every submission time: Vietnam time (UTC+7, no daylight saving), the time
zone of the deadline. Mail times, file modification times and the run date are all read on
it and kept without a zone, so they compare whatever time zone the machine is set to."""


def vietnam_time(timestamp: float) -> dt.datetime:
    """Seconds since 1970 (a file's modification time) as Vietnam time, without a zone.

    Not :meth:`datetime.fromtimestamp` without a zone: that is the machine's local time, a
    few hours off the mail times on a laptop set to another zone (or a server set to UTC).
    """
    return dt.datetime.fromtimestamp(timestamp, VIETNAM_TZ).replace(tzinfo=None, microsecond=0)


def is_mail_log(path: Path) -> bool:
    """A mail log `inbox` wrote, at any depth: its name and its header (a namesake is not).

    A log is the department's record of the mails, not a submission; a file that only
    bears the name is listed like any other input.
    """
    if path.name != INBOX_LOG_NAME:
        return False
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return set(header) >= INBOX_LOG_HEADER


class Located(NamedTuple):
    """A raw cell value as read from the file, with where it came from.

    `value` is what the spreadsheet holds: str, int, float, bool, datetime/date or None.
    `formula_no_cache` marks a formula cell whose cached value is missing (a file written
    by a program and never opened in Excel), which must be reported, not read as blank.
    `error` holds an Excel error literal such as "#DIV/0!" when the cell shows one (saved
    ``t="e"``: a formula's error result, or an error typed as a constant); `value` then holds
    the same literal, as the cell shows it, so that the cell is never taken for blank.

    A named tuple rather than a dataclass: a 10,000-file run holds about a million of them,
    and every one crosses from a reading worker to the main process; tuples pickle in half
    the time and take half the memory.
    """

    value: Any
    sheet: str
    cell: str
    formula_no_cache: bool = False
    error: str | None = None

    @property
    def address(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.sheet else self.cell


@dataclass(frozen=True)
class FileInfo:
    """One input file as found on disk; `path` is relative to the input folder (POSIX).

    `mtime` is Vietnam time without a zone (:func:`vietnam_time`), as mail times are.
    """

    path: str
    sha256: str
    size: int
    mtime: dt.datetime


@dataclass
class RawSubmission:
    """What reading one file produced. `rejected` files carry the reason in `issues`."""

    file: FileInfo
    meta: dict[str, str] = field(default_factory=dict)
    scalars: dict[str, Located] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Located]]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    rejected: bool = False
    sheet_names: dict[str, str] = field(default_factory=dict)
    """Schema sheet code → the sheet name actually found in the file (users rename sheets)."""

    @property
    def unit_code(self) -> str:
        return self.meta.get("unit_code", "")
