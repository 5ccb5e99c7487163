"""Reading submitted workbooks: the hot path, and the only stage besides rendering on disk.

Values come from python-calamine (Rust, much faster than openpyxl); the template contract
(defined names, the hidden metadata sheet) comes from the workbook's own XML, which
calamine does not expose. Cells are found through the names and tables, never through fixed
addresses, so a unit may insert rows or move blocks. Input files are opened read-only and
never modified. Every failure becomes an issue on the file, never an exception: one broken
file must not stop the run.

Files come by e-mail from hundreds of senders, so nothing in a file is trusted:

* The folder scan (:func:`scan_inputs`) lists every entry once under a display name that
  is NFC, valid UTF-8 and unique, so every file gets exactly one line in submissions.csv.
  Sub-folders are read recursively. Symbolic links are never followed out of the input
  folder: a link to a regular file inside the folder is read under its own name (and so is
  reported as a duplicate of its target); a link to a folder, to anything outside the
  folder, or to nothing is listed as rejected (``file-symlink``). Excel/LibreOffice lock
  files (``~$x.xlsx``, ``.~lock.x.xlsx#``) and special files (pipes, devices) are listed as
  rejected without being opened: opening a pipe would block the run.
* The content decides, not the extension: a CSV, HTML or PDF renamed .xlsx, an encrypted
  workbook (an OLE container), an old .xls renamed .xlsx and an .xlsb are told apart by
  their first bytes and package parts.
* Before calamine touches a package, the declared sizes are capped (total, per member,
  compression ratio, member count); every part calamine may parse is decompressed once,
  with zipfile's checks (:class:`_Parts`), never past its declared size, and the CRC
  checked, so a member lying about its size is caught; and each sheet calamine will load is
  scanned for the cells that hold a value, because calamine allocates the whole rectangle
  from A1 to the farthest such cell (a two-cell sheet with a cell at XFD1048576 aborts the
  process, uncatchably) and an Excel table's ``ref`` is sliced the same way.
* calamine then opens, from memory, a package rebuilt from the parts so checked: it parses
  the very bytes that were checked (not the file on disk again), and does not inflate them
  a second time. The file is read from disk once, hashed and all.

Checks stay cheap, a small fraction of calamine's own parse: one pass of zlib, and two
regular-expression searches over a sheet written the usual way (:func:`_measure_sheet`).

What calamine's values do not show is read from the sheet XML during those checks:

* **Formula errors.** calamine reads a cell saved ``t="e"`` (a formula whose result is
  #DIV/0!, #N/A, #VALUE!, #REF!, #NAME?, #NUM!, #NULL!, as Excel and LibreOffice save it, or
  an error typed as a constant) as blank. Such a cell's literal is found in the XML and
  carried as ``Located.error`` (and as its value), so that parsing reports it at its cell
  (``formula-error``) and the value is not counted; in scalar cells and in list cells alike.
* **Rows typed under a table.** LibreOffice does not extend an Excel table when one types
  in the row below it (Excel does). The reader looks under each list's table within the
  table's columns, down to the last row of the sheet that holds a cell; blank rows in
  between do not stop it (a gap must not hide the rows after it). When another list's table
  follows on the same sheet, it looks only at the rows directly under the table, up to the
  first blank row, which the template always leaves above the next list's title. Cells left
  or right of the table's columns are not looked at. A row found there with anything in it:

  - in a list of free rows (initiatives, nominations) is read as a row of the list, after
    the table's rows, with a ``row-outside-table`` warning at its first filled cell;
  - under the fixed rows of the people matrix is not counted (it is not one of the groups;
    often a total row) and gets a ``cells-outside-table`` warning at its first filled cell,
    saying where such figures belong.

  Whether anything lies under a table is told by the last cell of the sheet's XML, so a
  sheet with nothing there costs no extra work.

Refusals name what the file is and what to do: a compressed folder (``.zip``, ``.rar``,
``.7z``…, or a zip of reports renamed ``.xlsx``) is ``file-archive``, with the spreadsheets
it holds and how to extract them (or to take mail through ``inbox``, which opens zip
attachments). A workbook saved as "Strict Open XML Spreadsheet" (ISO 29500 Strict
namespaces) is read: its XML parts are handed to calamine, and read here, in transitional
namespaces, with a ``strict-open-xml`` note suggesting the ordinary format next time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import functools
import hashlib
import io
import logging
import os
import posixpath
import re
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple
from xml.etree import ElementTree as ET

import python_calamine as pc

from pipeline.errors import InputFolderError
from pipeline.issues import make_issue
from pipeline.model import (
    META_KEYS,
    META_SHEET,
    FileInfo,
    Located,
    RawSubmission,
    vietnam_time,
)
from pipeline.schema import ListSpec, ReportSchema

if TYPE_CHECKING:
    from pipeline.publish import OwnOutputs

log = logging.getLogger(__name__)

XLSX_EXTENSIONS = frozenset({".xlsx", ".xlsm"})
LEGACY_EXTENSIONS = frozenset({".ods", ".xls"})
SPREADSHEET_EXTENSIONS = XLSX_EXTENSIONS | LEGACY_EXTENSIONS | {".xlsb", ".csv"}
LOCK_FILE_PREFIXES = ("~$", ".~lock.")
"""Excel's owner files (``~$name.xlsx``) and LibreOffice's (``.~lock.name.xlsx#``)."""

# A filled template is a few dozen kB (a few hundred uncompressed); far above that is a zip
# bomb or junk. The caps leave room for a sheet with a million formatted blank rows
# (about 40 MB of XML), which is read, not rejected.
MAX_FILE_BYTES = 100_000_000
MAX_UNCOMPRESSED_BYTES = 150_000_000
MAX_MEMBERS = 5_000
MAX_RATIO = 1_100
"""Deflate cannot expand more than about 1032:1; a higher declared ratio is a forged header."""
MAX_WORKBOOK_XML_BYTES = 10_000_000
"""workbook.xml and relationship parts are parsed into a tree: keep them small."""
MAX_CELLS_PER_SHEET = 2_000_000
"""Rows x columns from A1 to the farthest cell holding a value (calamine's dense range)."""
CONVERT_TIMEOUT_S = 120
"""LibreOffice converting one .ods/.xls; a hung conversion must not hang the run."""

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]{1,3})\$?(\d+)$")
_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_TABLE_HEAD = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?table\s([^>]*)>")
_ATTR = re.compile(rb'\b(name|displayName|ref)\s*=\s*"([^"]*)"')
_AREA = re.compile(r"^\$?([A-Z]{1,3})\$?([0-9]{1,9})(?::\$?([A-Z]{1,3})\$?([0-9]{1,9}))?$")
_TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
# zipfile's own layouts of the local header, the central directory entry and its end.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_INFLATABLE = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ZIP_UNUSUAL_FLAGS = 0x1 | 0x20 | 0x40
"""Encrypted, patched or strongly encrypted: left to zipfile, which refuses them."""
_STORE_MAX = 1_000_000
"""Checked parts up to this size are handed to calamine uncompressed; larger ones as found."""
_INFLATE_CHUNK = 1 << 20
_SHARED_PARTS: dict[tuple[int, bytes, int, int], bytes] = {}
"""Checked parts common to the files of one template, by (method, compressed bytes, size,
CRC): inflated and checked once per process, not once per file."""
_SHARED_ENTRIES = 256
_SHARED_MAX = 200_000


class _Rejected(Exception):
    """A whole-file problem found deep in reading: becomes the file's rejection issue."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def col_letter(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _thousands(n: int) -> str:
    """Vietnamese digit grouping: 2.000.000."""
    return f"{n:,}".replace(",", ".")


# ---------------------------------------------------------------------------------------------
# The input folder


@dataclass(frozen=True)
class InputEntry:
    """One entry of the input folder, as it will appear in submissions.csv.

    `name` is the path relative to the input folder, POSIX separators, NFC, valid UTF-8
    (undecodable bytes shown as ``\\xNN``, control characters likewise) and unique in the
    folder, so it can key every table and be written to any output. `path` is where the
    entry is on disk (the raw OS name). `skip_code` marks an entry listed but not read (a
    linked folder, a sub-folder that cannot be opened).
    """

    path: Path
    name: str
    skip_code: str = ""
    skip_message: str = ""


def display_name(rel: str) -> str:
    """A relative OS path → the name users see (see :class:`InputEntry`)."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    if os.sep != "/":
        text = text.replace(os.sep, "/")
    text = unicodedata.normalize("NFC", text)
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def scan_inputs(root: Path, own: OwnOutputs | None = None) -> list[InputEntry]:
    """Every entry under `root`, recursively, in a stable order, each under a unique name.

    With `own`, the product's own outputs are left out (the output folder, folders holding
    our manifest, our lock files): they are recorded in `own`, not listed.
    """
    root_s = os.fspath(root)
    found: list[tuple[str, str, str]] = []
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root_s, onerror=unreadable.append):
        claim = own.claim_folder(dirpath, filenames, dirpath == root_s) if own else None
        if own is not None and claim is not None:
            if claim == "told":
                rel = os.path.relpath(dirpath, root_s)
                own.skipped_folders.append(display_name(rel if rel != "." else root_s))
            dirnames[:] = []
            continue
        dirnames.sort()
        walk_into = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                # Never followed: it may point outside the folder or back into it (a loop).
                found.append(
                    (
                        full,
                        "file-symlink",
                        "Đây là liên kết (symlink) tới một thư mục, không phải tệp; "
                        "chương trình không đi theo liên kết. Chép các tệp thật vào thư mục "
                        "dữ liệu vào nếu cần đọc.",
                    )
                )
            else:
                walk_into.append(d)
        dirnames[:] = walk_into
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if own is not None and own.claims_file(full):
                continue
            found.append((full, "", ""))
    for exc in unreadable:
        where = os.fspath(exc.filename) if exc.filename else root_s
        if os.path.abspath(where) == os.path.abspath(root_s):
            raise InputFolderError(f"Không đọc được thư mục dữ liệu vào: {root}")
        found.append(
            (
                where,
                "file-locked",
                "Không mở được thư mục con này (không có quyền đọc hoặc đang bị khóa); các "
                "tệp trong đó chưa được đọc. Cấp quyền đọc rồi chạy lại.",
            )
        )
    found.sort(key=lambda x: os.fsencode(os.path.relpath(x[0], root_s)))
    entries: list[InputEntry] = []
    taken: set[str] = set()
    for full, code, message in found:
        name = display_name(os.path.relpath(full, root_s))
        if name in taken:
            # Two names that differ only in Unicode normalisation (NFC/NFD) or in bytes that
            # are not UTF-8 would collide: number the later ones so each keeps its own line.
            n = 2
            while f"{name} ({n})" in taken:
                n += 1
            name = f"{name} ({n})"
        taken.add(name)
        entries.append(InputEntry(Path(full), name, code, message))
    return entries


def discover(root: Path) -> Iterator[Path]:
    """Every file under `root`, recursively, in a stable order (see :func:`scan_inputs`)."""
    for entry in scan_inputs(root):
        if not entry.skip_code:
            yield entry.path


def locate_inputs(root: Path) -> dict[str, Path]:
    """Display name → path on disk, for writers that go back to an input file."""
    return {e.name: e.path for e in scan_inputs(root) if not e.skip_code}


def _hash_and_head(path: Path) -> tuple[str, bytes]:
    """The file's digest and its bytes, read once (up to the size cap, past which the file
    was stat-ed smaller than it now is): everything after reads them, not the disk."""
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Rejected(*_file_too_large(len(data)))
    return hashlib.sha256(data).hexdigest(), data


def _file_too_large(size: int) -> tuple[str, str]:
    return (
        "file-too-large",
        f"Tệp nặng {size // 1_000_000} MB, vượt giới hạn {MAX_FILE_BYTES // 1_000_000} MB của "
        "một biểu mẫu. Xóa hình ảnh, trang thừa rồi gửi lại.",
    )


def _mtime(st: os.stat_result) -> dt.datetime:
    """The file's modification time on the clock of mail times (Vietnam time)."""
    try:
        return vietnam_time(st.st_mtime)
    except (OverflowError, OSError, ValueError):
        return dt.datetime(1970, 1, 1)


# ---------------------------------------------------------------------------------------------
# One file


def _reject(sub: RawSubmission, code: str, message: str) -> RawSubmission:
    sub.issues.append(make_issue(code, message, file=sub.file.path))
    sub.rejected = True
    return sub


def _os_error(exc: OSError) -> tuple[str, str]:
    """The reason for a file the operating system would not let us read."""
    if isinstance(exc, FileNotFoundError):
        return (
            "file-unreadable",
            "Tệp biến mất trong lúc đọc (bị xóa, đổi tên hoặc di chuyển). Chạy lại.",
        )
    locked = isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EBUSY)
    # Windows: ERROR_SHARING_VIOLATION (32) and ERROR_LOCK_VIOLATION (33).
    if locked or getattr(exc, "winerror", None) in (32, 33):
        return (
            "file-locked",
            "Không mở được tệp: tệp đang được chương trình khác mở hoặc khóa (Excel, phần mềm "
            "diệt vi-rút, phần mềm đồng bộ), hoặc không có quyền đọc. Đóng tệp rồi chạy lại.",
        )
    why = _OS_READ_ERRORS.get(exc.errno or 0, "hệ điều hành báo lỗi khi đọc")
    code = f", lỗi hệ thống số {exc.errno}" if exc.errno else ""
    return (
        "file-unreadable",
        f"Không đọc được tệp từ ổ đĩa ({why}{code}). Chép tệp sang ổ đĩa của máy (hoặc cắm "
        "lại ổ USB, kết nối lại ổ mạng) rồi chạy lại.",
    )


_OS_READ_ERRORS: dict[int, str] = {
    number: why
    for name, why in (
        ("EIO", "ổ đĩa, ổ USB hoặc ổ mạng bị lỗi khi đọc"),
        ("ENAMETOOLONG", "tên tệp hoặc đường dẫn quá dài; đổi tên ngắn hơn"),
        ("ELOOP", "đường dẫn có liên kết vòng"),
        ("ETIMEDOUT", "ổ mạng không trả lời"),
        ("ENXIO", "ổ đĩa hoặc thiết bị không còn kết nối"),
        ("ENODEV", "ổ đĩa hoặc thiết bị không còn kết nối"),
        ("ESTALE", "ổ mạng đã ngắt kết nối"),
        ("EISDIR", "đây là thư mục, không phải tệp"),
    )
    # Not every name exists on every system (Windows lacks some).
    if (number := getattr(errno, name, None)) is not None
}


def read_entry(entry: InputEntry, root: Path, schema: ReportSchema) -> RawSubmission:
    """Read one entry of :func:`scan_inputs`; entries listed but not readable are rejected."""
    if entry.skip_code:
        sub = RawSubmission(file=FileInfo(entry.name, "", 0, dt.datetime(1970, 1, 1)))
        return _reject(sub, entry.skip_code, entry.skip_message)
    return read_submission(entry.path, root, schema, name=entry.name)


def read_submission(
    path: Path, root: Path, schema: ReportSchema, name: str | None = None
) -> RawSubmission:
    """Read one input file into raw located values; never raises for a bad file."""
    if name is None:
        name = display_name(os.path.relpath(path, root) if path.is_relative_to(root) else path.name)
    sub = RawSubmission(file=FileInfo(name, "", 0, dt.datetime(1970, 1, 1)))
    try:
        return _read_any(path, root, schema, sub)
    except _Rejected as rejected:
        return _reject(sub, rejected.code, rejected.message)
    except OSError as exc:
        log.debug("cannot read %s: %s", name, exc)
        return _reject(sub, *_os_error(exc))
    except BaseException as exc:
        # calamine reports a Rust panic as pyo3's PanicException, a BaseException; a bug
        # of ours or of a library on one strange file must cost that file, not the run.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        log.warning("unexpected error reading %s: %r", name, exc, exc_info=True)
        return _reject(
            sub,
            "file-unreadable",
            "Không đọc được nội dung tệp (tệp có cấu trúc bất thường). Mở lại bằng Excel, "
            "lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại.",
        )


def _read_any(path: Path, root: Path, schema: ReportSchema, sub: RawSubmission) -> RawSubmission:
    st = os.lstat(path)
    base = sub.file.path.rsplit("/", 1)[-1]
    sub.file = FileInfo(sub.file.path, "", st.st_size, _mtime(st))
    if stat.S_ISLNK(st.st_mode):
        st = _check_link(path, root)
        sub.file = FileInfo(sub.file.path, "", st.st_size, _mtime(st))
    if base.startswith(LOCK_FILE_PREFIXES):
        return _reject(
            sub,
            "file-temporary",
            "Tệp khóa tạm của Excel/LibreOffice (tự tạo khi một tệp đang mở), bỏ qua. "
            "Không phải báo cáo; có thể xóa.",
        )
    if not stat.S_ISREG(st.st_mode):
        # Opening a named pipe would block the run; a device could be endless.
        return _reject(
            sub,
            "file-unreadable",
            "Không phải tệp dữ liệu thông thường (ống dẫn, thiết bị…), nên không đọc. Xóa mục "
            "này khỏi thư mục dữ liệu vào; nếu cần đọc, chép tệp thật vào thay.",
        )
    if st.st_size > MAX_FILE_BYTES:
        return _reject(sub, *_file_too_large(st.st_size))
    digest, data = _hash_and_head(path)
    sub.file = dataclasses.replace(sub.file, sha256=digest)
    if sub.file.size == 0 or not data:
        return _reject(sub, "file-empty", "Tệp rỗng (0 byte). Gửi lại tệp biểu mẫu đã điền.")
    ext = path.suffix.lower()
    kind = _sniff(data[:4096])
    if ext in XLSX_EXTENSIONS:
        if kind == "zip":
            return _read_xlsx(path, sub, schema, data)
        if kind == "ole":
            if _looks_encrypted(data):
                raise _Rejected("file-encrypted", _ENCRYPTED)
            # An Excel 97-2003 workbook saved under an .xlsx name: convert it like an .xls.
            return _read_legacy(path, sub, schema, ".xls")
        if kind in _ARCHIVE_KINDS:
            raise _Rejected("file-archive", _archive_message(ext, kind, data))
        raise _Rejected(*_wrong_content(kind, ext))
    if ext in LEGACY_EXTENSIONS:
        if kind == "ole" and _looks_encrypted(data):
            raise _Rejected("file-encrypted", _ENCRYPTED)
        return _read_legacy(path, sub, schema, ext)
    if ext == ".xlsb":
        raise _Rejected("file-unsupported-format", _XLSB)
    if ext in ARCHIVE_EXTENSIONS or (kind in _ARCHIVE_KINDS and not _office_package(data)):
        raise _Rejected("file-archive", _archive_message(ext, kind, data))
    return _reject(
        sub,
        "file-unsupported-format",
        f"Định dạng “{ext or 'không có đuôi'}” không phải biểu mẫu Excel nên không đọc được"
        f"{_WHAT_EXTENSION.get(ext, '')}. Đề nghị đơn vị điền số liệu vào biểu mẫu Excel của "
        "Sở, lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại.",
    )


ARCHIVE_EXTENSIONS = frozenset({".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz"})
_ARCHIVE_KINDS = frozenset({"zip", "rar", "7z", "gzip"})
_WHAT_EXTENSION = {
    ".pdf": " (tệp PDF chỉ để xem, không lấy được số liệu)",
    ".doc": " (văn bản Word)",
    ".docx": " (văn bản Word)",
    ".jpg": " (ảnh chụp)",
    ".jpeg": " (ảnh chụp)",
    ".png": " (ảnh chụp)",
    ".heic": " (ảnh chụp)",
    ".txt": " (văn bản thuần)",
}
_ARCHIVE_NAMES_SHOWN = 5


def _archive_message(ext: str, kind: str, data: bytes) -> str:
    """What a compressed folder in the input holds, and how to get its reports read."""
    what = ext if ext in ARCHIVE_EXTENSIONS else {"zip": ".zip", "gzip": ".gz"}.get(kind, kind)
    if kind != "zip":
        return (
            f"Đây là tệp nén ({what}), không phải biểu mẫu Excel; chương trình không đọc bên "
            "trong tệp nén. Giải nén bằng phần mềm giải nén (7-Zip, WinRAR) vào thư mục dữ "
            "liệu vào rồi chạy lại."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        return (
            f"Đây là tệp nén ({what}) nhưng bị hỏng, không mở được (có thể bị cắt khi gửi "
            "thư). Đề nghị đơn vị gửi lại tệp biểu mẫu Excel đã điền."
        )
    return _zip_message(what, infos)


def _office_package(data: bytes) -> bool:
    """A Word, PowerPoint or OpenDocument file: a zip too, but a document, not a folder."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names or "mimetype" in names


def _holds_spreadsheets(infos: list[zipfile.ZipInfo]) -> bool:
    return any(
        posixpath.splitext(_member_name(i))[1].lower() in SPREADSHEET_EXTENSIONS for i in infos
    )


def _zip_message(what: str, infos: list[zipfile.ZipInfo]) -> str:
    unpack = (
        "Giải nén tệp (chuột phải > Giải nén/Extract All) vào thư mục dữ liệu vào rồi chạy "
        "lại; nếu tệp nén đến đính kèm thư, lệnh “python -m pipeline inbox” lấy tệp từ thư "
        "và tự giải nén."
    )
    infos = [i for i in infos if not i.is_dir()]
    names = [_member_name(i) for i in infos]
    reports = [n for n in names if posixpath.splitext(n)[1].lower() in SPREADSHEET_EXTENSIONS]
    if not reports:
        return (
            f"Đây là tệp nén ({what}) gồm {len(names)} tệp nhưng không có tệp bảng tính nào, "
            "nên không có báo cáo để đọc. Đề nghị đơn vị gửi tệp biểu mẫu Excel đã điền."
        )
    shown = ", ".join(f"“{n}”" for n in reports[:_ARCHIVE_NAMES_SHOWN])
    if len(reports) > _ARCHIVE_NAMES_SHOWN:
        shown += ", …"
    locked = any(i.flag_bits & 0x1 for i in infos)
    password = " Tệp nén có mật khẩu: cần hỏi đơn vị mật khẩu để giải nén." if locked else ""
    return (
        f"Đây là tệp nén ({what}), chứa {len(reports)} tệp bảng tính ({shown}); chương trình "
        f"không đọc bên trong tệp nén. {unpack}{password}"
    )


def _member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's bare name as its sender saw it (Vietnamese Windows zip tools often
    store UTF-8 names without the UTF-8 flag)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return display_name(name.rsplit("/", 1)[-1])


_ENCRYPTED = (
    "Tệp có đặt mật khẩu nên không đọc được. Gỡ mật khẩu (Tệp > Thông tin > Bảo vệ sổ làm "
    "việc > Mã hóa bằng mật khẩu, xóa mật khẩu) rồi gửi lại."
)
_XLSB = (
    "Tệp dạng Excel nhị phân (.xlsb) không được hỗ trợ. Mở tệp bằng Excel, chọn Lưu thành "
    "“Excel Workbook (.xlsx)” rồi gửi lại."
)


def _check_link(path: Path, root: Path) -> os.stat_result:
    """A symbolic link is read only if it leads to a regular file inside the input folder."""
    try:
        target = os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):
        raise _Rejected(
            "file-symlink",
            "Liên kết (symlink) trỏ tới tệp không tồn tại; không có gì để đọc.",
        ) from None
    inside = os.path.realpath(root)
    if os.path.commonpath([inside, target]) != inside:
        raise _Rejected(
            "file-symlink",
            "Liên kết (symlink) trỏ ra ngoài thư mục dữ liệu vào; vì an toàn chương trình không "
            "đọc tệp ngoài thư mục. Chép tệp thật vào thư mục dữ liệu vào nếu cần đọc.",
        )
    return os.stat(path)


def _sniff(head: bytes) -> str:
    """What the first bytes say the file is, whatever its name says."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    sample = head
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        # "Unicode Text" as Excel saves it: UTF-16.
        sample = sample[2:].replace(b"\x00", b"")
    sample = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if sample.startswith(b"<"):
        return "html"
    if _binary(sample):
        return "binary"
    first_line = sample.split(b"\n", 1)[0]
    return "csv" if any(sep in first_line for sep in (b",", b";", b"\t")) else "text"


def _binary(head: bytes) -> bool:
    sample = head[:1024]
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > len(sample) // 20


def _wrong_content(kind: str, ext: str) -> tuple[str, str]:
    if kind == "html":
        what = "trang web (HTML/XML), thường do phần mềm khác xuất ra hoặc do đổi tên tệp"
    elif kind == "csv":
        what = "bảng văn bản thuần (CSV) được đổi tên"
    elif kind == "pdf":
        what = "tệp PDF"
    else:
        return (
            "file-unreadable",
            f"Tệp mang đuôi {ext} nhưng không phải tệp Excel (nội dung hỏng hoặc là loại tệp "
            "khác). Mở lại bằng Excel, lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại.",
        )
    return (
        "file-wrong-content",
        f"Tệp mang đuôi {ext} nhưng thực chất là {what}, không phải biểu mẫu Excel. "
        "Điền số liệu vào biểu mẫu của Sở, lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại.",
    )


def _looks_encrypted(data: bytes) -> bool:
    """Encrypted OOXML files are OLE compound documents holding an EncryptedPackage stream."""
    if not data.startswith(_OLE_MAGIC):
        return False
    return "EncryptedPackage".encode("utf-16-le") in data


# ---------------------------------------------------------------------------------------------
# The package: sizes, integrity and shape, checked before calamine reads anything


@dataclass(frozen=True)
class _Contract:
    names: dict[str, tuple[str, str]]
    """Defined name → (sheet, cell)."""
    sheet_parts: dict[str, str]
    """Sheet name → zip part of its XML."""
    has_macros: bool
    has_external_links: bool


@dataclass(frozen=True)
class _SheetShape:
    rows: int
    cols: int
    """Rows and columns from A1 to the farthest cell that holds something."""
    uncached: frozenset[str]
    """Cells holding a formula but no cached value."""


class _Marks(NamedTuple):
    """What the XML of a sheet says about its cells that calamine's values do not."""

    uncached: frozenset[str]
    """Cells holding a formula but no cached value."""
    errors: Mapping[str, str]
    """Cells whose value is an Excel error (``t="e"``) → the literal, "#DIV/0!": calamine
    reads them as blank."""
    reach: int
    """No cell lies below this row (1-based): where a table ends above it, something may
    have been typed under the table."""


_NO_ERRORS: Mapping[str, str] = MappingProxyType({})
_NO_MARKS = _Marks(frozenset(), _NO_ERRORS, 0)


@dataclass(frozen=True)
class _Package:
    contract: _Contract
    sheets: dict[str, _Marks]
    """The sheets calamine may load, all checked against the cell cap, with their marks."""
    tables: dict[str, str]
    """Table name → its sheet, for the tables the schema reads, all checked."""
    table_rows: dict[str, tuple[int, int]]
    """Table name → its header row and last row (1-based), as its ``ref`` declares them."""
    verified: bytes
    """The package calamine opens, rebuilt from the parts checked here (:meth:`_Parts.repack`)."""
    strict: bool = False
    """Saved as Strict Open XML (and handed to calamine in transitional namespaces)."""
    linked: tuple[tuple[str, str], ...] = ()
    """(sheet, cell) of the formulas that refer to another workbook, on the sheets read."""


def _too_large(detail: str) -> _Rejected:
    return _Rejected(
        "file-too-large",
        f"{detail} Tệp không được mở để bảo vệ chương trình (có thể là tệp nén độc hại hoặc "
        "chứa nhiều dữ liệu thừa). Xóa các trang, dòng, cột, hình ảnh thừa rồi gửi lại.",
    )


_BROKEN = (
    "Cấu trúc tệp Excel bị hỏng. Mở lại bằng Excel, lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại."
)


def _check_members(zf: zipfile.ZipFile) -> None:
    """Declared sizes only: cheap, and enough against an honest zip bomb."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _too_large(
            f"Tệp chứa {_thousands(len(infos))} thành phần nén, vượt giới hạn "
            f"{_thousands(MAX_MEMBERS)}."
        )
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        # Two members of one name: two readers could each pick a different one.
        raise _Rejected("file-unreadable", _BROKEN)
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _too_large(
            f"Tệp giải nén ra {_thousands(total // 1_000_000)} MB, vượt giới hạn "
            f"{MAX_UNCOMPRESSED_BYTES // 1_000_000} MB của một biểu mẫu."
        )
    for i in infos:
        if i.flag_bits & 0x1:
            raise _Rejected("file-encrypted", _ENCRYPTED)
        if i.file_size > 1_000_000 and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise _too_large(
                f"Thành phần “{i.filename}” nén tới {_thousands(i.file_size // i.compress_size)}"
                " lần, vượt mọi tệp Excel thật."
            )


class _Parts:
    """The members of a package held in memory, each decompressed once.

    Read as :mod:`zipfile` reads them, with the same checks (local header, declared size, CRC)
    and the same exceptions, but without its overhead per member, which was most of the time
    of the checks; and one check stricter: a member that inflates beyond its declared size is
    refused rather than cut short. The parts read here are the parts calamine is given
    (:meth:`repack`), so what was checked is what calamine parses.
    """

    def __init__(self, zf: zipfile.ZipFile, data: bytes) -> None:
        self.zf = zf
        self.data = data
        self.members = {i.filename: i for i in zf.infolist()}
        self.kept: dict[str, bytes] = {}
        self.checked: set[str] = set()
        self.strict = False
        """A Strict Open XML package: its XML parts are handed on in transitional terms."""
        self.rewritten: set[str] = set()

    def read(
        self, info: zipfile.ZipInfo, limit: int | None = None, *, shared: bool = True
    ) -> bytes:
        """A member's bytes, checked. `shared`: a part every file made from one template
        holds byte for byte (workbook, styles, theme, tables), remembered by its compressed
        bytes across files; not a sheet of data."""
        if limit is not None and info.file_size > limit:
            raise _too_large(
                f"Thành phần “{info.filename}” dài {_thousands(info.file_size)} byte, vượt giới "
                f"hạn {_thousands(limit)} byte."
            )
        body = self.kept.get(info.filename)
        if body is None:
            body = self._inflate(info, keep=True, shared=shared)
            self.checked.add(info.filename)
            if self.strict and _is_xml_part(info.filename):
                body = self._transitional(info.filename, body)
            elif len(body) <= _STORE_MAX:
                self.kept[info.filename] = body
        return body

    def to_transitional(self) -> None:
        """Hand calamine every XML part of this Strict package in transitional namespaces."""
        self.strict = True
        for name, body in list(self.kept.items()):
            if _is_xml_part(name):
                self._transitional(name, body)

    def _transitional(self, name: str, body: bytes) -> bytes:
        # Held whatever its size: a part left as found would keep the strict namespaces.
        if b"purl.oclc.org/ooxml/" in body:
            for strict, transitional in _STRICT_NAMESPACES:
                body = body.replace(strict, transitional)
            self.rewritten.add(name)
        self.kept[name] = body
        return body

    def check(self, info: zipfile.ZipInfo) -> None:
        """Verify a member; a large one (an image) is verified in pieces, not held."""
        if info.filename in self.checked:
            return
        if info.file_size <= _STORE_MAX or (self.strict and _is_xml_part(info.filename)):
            self.read(info)
        else:
            self._inflate(info, keep=False)
            self.checked.add(info.filename)

    def _inflate(self, info: zipfile.ZipInfo, keep: bool, shared: bool = False) -> bytes:
        if info.compress_type not in _INFLATABLE or info.flag_bits & _ZIP_UNUSUAL_FLAGS:
            # Rare methods (bzip2, lzma) and flags: zipfile's own reader and its errors.
            with self.zf.open(info) as fh:
                if keep:
                    return fh.read()
                while fh.read(_INFLATE_CHUNK):
                    pass
                return b""
        data = self.data
        offset = info.header_offset
        header = data[offset : offset + _LOCAL_HEADER.size]
        if len(header) != _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("Truncated file header")
        fields = _LOCAL_HEADER.unpack(header)
        if fields[0] != b"PK\x03\x04":
            raise zipfile.BadZipFile("Bad magic number for file header")
        name_end = offset + _LOCAL_HEADER.size + fields[10]
        name = data[offset + _LOCAL_HEADER.size : name_end]
        # ASCII reads the same in either encoding, and without the cp437 codec's overhead.
        encoding = "ascii" if name.isascii() else "utf-8" if fields[3] & 0x800 else "cp437"
        if name.decode(encoding) != info.orig_filename:
            raise zipfile.BadZipFile(f"File name in directory and header differ: {name!r}")
        start = name_end + fields[11]
        compressed = data[start : start + info.compress_size]
        if info.compress_size and not compressed:
            raise EOFError
        complete = len(compressed) == info.compress_size
        limit = info.file_size
        key = None
        if shared and keep and complete and limit <= _SHARED_MAX:
            # The same compressed bytes, declared size and CRC: the same verdict and body.
            key = (info.compress_type, compressed, limit, info.CRC)
            known = _SHARED_PARTS.get(key)
            if known is not None:
                return known
        if info.compress_type == zipfile.ZIP_STORED:
            body = compressed
            size, crc, ended = len(body), zlib.crc32(body), complete
        else:
            inflater = zlib.decompressobj(-15)
            # Held: at most one byte past the declared size, enough to catch a lie. Only
            # verified: a piece at a time, so a large image is never held whole.
            step = limit + 1 if keep else _INFLATE_CHUNK
            pieces = []
            size = crc = 0
            while True:
                piece = inflater.decompress(compressed, step)
                compressed = inflater.unconsumed_tail
                size += len(piece)
                crc = zlib.crc32(piece, crc)
                if keep:
                    pieces.append(piece)
                if inflater.eof or not compressed or size > limit:
                    break
            ended = inflater.eof or (complete and not compressed)
            if ended and size <= limit:
                piece = inflater.flush()
                if piece:
                    size += len(piece)
                    crc = zlib.crc32(piece, crc)
                    pieces.append(piece)
            # Nearly always one piece: joining it would copy it.
            body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if size > limit:
            raise zipfile.BadZipFile(f"{info.filename!r} is longer than its declared size")
        if not ended and size < limit:
            raise EOFError
        if crc != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        if key is not None:
            if len(_SHARED_PARTS) >= _SHARED_ENTRIES:
                _SHARED_PARTS.clear()
            _SHARED_PARTS[key] = body
        return body

    def repack(self) -> bytes:
        """The package calamine reads: every member in the original order, the parts checked
        and held here stored uncompressed (calamine then does not inflate them a second
        time), any other member copied as found in the file, local header and all."""
        data = self.data
        local: list[bytes] = []
        central: list[bytes] = []
        offset = 0
        for info in self.zf.infolist():
            name = info.orig_filename.encode()
            body = self.kept.get(info.filename)
            crc, size = info.CRC, info.file_size
            if body is not None and info.filename in self.rewritten:
                crc, size = zlib.crc32(body), len(body)
            if body is None:
                # A sheet calamine will not be asked for, or a part too large to hold.
                start = end = info.header_offset
                header = data[start : start + _LOCAL_HEADER.size]
                if len(header) == _LOCAL_HEADER.size:
                    fields = _LOCAL_HEADER.unpack(header)
                    end += _LOCAL_HEADER.size + fields[10] + fields[11]
                entry = [data[start : end + info.compress_size]]
                method, flags, packed = info.compress_type, info.flag_bits, info.compress_size
            else:
                method, flags, packed = zipfile.ZIP_STORED, 0, len(body)
                header = _LOCAL_HEADER.pack(
                    b"PK\x03\x04", 20, 0, 0x800, method, 0, 0x21, crc, packed, packed,
                    len(name), 0,
                )  # fmt: skip
                entry = [header, name, body]
            record = _CENTRAL_HEADER.pack(
                b"PK\x01\x02", 20, 20, flags | 0x800, method, 0, 0x21, crc, packed,
                size, len(name), 0, 0, 0, 0, 0, offset,
            )  # fmt: skip
            central += (record, name)
            local += entry
            offset += sum(map(len, entry))
        count = len(central) // 2
        size = sum(map(len, central))
        # One join: each concatenation would copy the whole package again.
        tail = _END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0)
        return b"".join([*local, *central, tail])


_STRICT_NAMESPACES = (
    (
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    ),
    (
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    ),
    (
        b"http://purl.oclc.org/ooxml/drawingml/",
        b"http://schemas.openxmlformats.org/drawingml/2006/",
    ),
)
"""ISO 29500 Strict → transitional, for the parts a reader of values uses: the spreadsheet
markup, relationships (their types too: ``…/relationships/worksheet``) and drawing markup
(the theme). Excel's “Strict Open XML Spreadsheet” writes the same markup under these
namespaces; calamine finds a Strict package's sheets but not its tables, and our own reading
of the workbook finds nothing."""
_STRICT_MAIN = b"purl.oclc.org/ooxml/spreadsheetml/main"


def _is_xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels"))


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(base_dir, target))


def _rels(parts: _Parts, part: str) -> tuple[tuple[str, str, str], ...]:
    """A relationship part's (Id, Type, Target) triples."""
    info = parts.members.get(part)
    if info is None:
        return ()
    return _parse_rels(parts.read(info, MAX_WORKBOOK_XML_BYTES))


# Every file made from one template carries the same workbook.xml and relationship parts, byte
# for byte: parsed once per process, keyed by the bytes themselves (a parse error is raised
# again for each file, never cached).
@functools.lru_cache(maxsize=64)
def _parse_rels(xml: bytes) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (rel.get("Id", ""), rel.get("Type", ""), rel.get("Target", ""))
        for rel in ET.fromstring(xml).findall("rel:Relationship", _NS)
    )


@functools.lru_cache(maxsize=64)
def _parse_workbook(
    xml: bytes,
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, str]], ...]]:
    """(sheet name, relationship id) in workbook order, (defined name, (sheet, cell))."""
    wb = ET.fromstring(xml)
    sheets = tuple(
        (sheet.get("name", ""), sheet.get(f"{{{_NS['r']}}}id", ""))
        for sheet in wb.findall("m:sheets/m:sheet", _NS)
    )
    names: list[tuple[str, tuple[str, str]]] = []
    for dn in wb.findall("m:definedNames/m:definedName", _NS):
        if dn.get("localSheetId") is not None:
            continue
        m = _REF.match((dn.text or "").strip())
        if not m:
            continue
        sheet_name = (m.group(1) or "").replace("''", "'") or m.group(2)
        names.append((dn.get("name", ""), (sheet_name, f"{m.group(3)}{m.group(4)}")))
    return sheets, tuple(names)


def _read_contract(parts: _Parts) -> _Contract:
    members = parts.members
    sheets, names = _parse_workbook(parts.read(members["xl/workbook.xml"], MAX_WORKBOOK_XML_BYTES))
    rels = {
        rid: _resolve("xl", target) for rid, _, target in _rels(parts, "xl/_rels/workbook.xml.rels")
    }
    return _Contract(
        names=dict(names),
        sheet_parts={name: rels.get(rid, "") for name, rid in sheets},
        has_macros="xl/vbaProject.bin" in members,
        has_external_links=any(n.startswith("xl/externalLinks/") for n in members),
    )


_V_FILLED = re.compile(rb"<v>[^<]|<is>")

# How calamine finds cells (its xlsx reader, over quick-xml): an element whose local name is
# "c", the part of the name after its first ":", the name ending at white space (space, tab,
# CR, LF), "/" or ">"; placed by its first attribute named exactly "r" (letters, then digits,
# either case), else one column after the previous cell, in the row of the last <row r=...>
# counted on by one at each </row>. A cell with no content (<c .../>, <c ...></c>) is not
# kept. Every pattern below errs towards finding more.
_CELL_PREFIXED = re.compile(rb":c[\t\n\r />]")
"""A cell element with a namespace prefix (<x:c>). A pattern, not bytes.find: the search
then keys on the rare ":" rather than the frequent "c", several times faster."""
_PLAIN_BREAK = re.compile(rb'<(?:c(?:[\t\r\n/>]| (?!r="[A-Z][0-9]{1,4}"))|f[ >])')
"""A cell element not written ``<c r="`` + one letter + at most four digits, or a formula."""
_USUAL_BREAK = re.compile(rb'<c(?:[\t\r\n/>]| (?!r="[A-Z]{1,3}[1-9][0-9]{0,6}"))')
"""A cell element not written ``<c r="`` + an address as Excel writes it."""
_ATTRS = rb"""(?:[^>"']|"[^"]*"|'[^']*')*"""
"""A start tag's attributes: a quoted value may hold ">" or "/"."""
_USUAL_VALUED = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"' + _ATTRS + rb"(?<!/)>(?!</)")
_PREFIX = rb"(?:[^\s/>:!?][^\s/>:]*:)?"
"""Any namespace prefix; a name runs to white space, "/" or ">" (``<!`` and ``<?`` are not
elements)."""
_CELL_OR_ROW = re.compile(rb"<(" + _PREFIX + rb"(?:c|row))(?=[\s/>])(" + _ATTRS + rb")>")
_ROW_END = re.compile(rb"</" + _PREFIX + rb"row\s*>")
_ATTRIBUTE = re.compile(rb"""([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ADDRESS = re.compile(rb"([A-Za-z]*)([0-9]*)")


def _measure_sheet(sheet: str, data: bytes) -> _Marks:
    """Check a sheet against the cell cap; return its marks (:class:`_Marks`).

    Most sheets are settled by two searches. When neither finds anything, every element
    calamine reads as a cell (local name ``c``: no prefix, and a start tag ``<c`` followed
    by white space, ``/`` or ``>``) starts ``<c r="`` with one letter and at most four digits,
    and calamine places a cell by that first ``r``: every cell lies in A1:Z9999 (26 x 9,999
    cells, far under the cap). Nor is there a formula, so no cell lacks a cached value.
    :func:`_sheet_shape` would reach the same verdict; it is needed for the other sheets.
    The last such cell, the sheet written in order as every program writes it, gives the
    sheet's reach.

    Error cells are looked for only in a sheet holding ``t="e"``, as every program writes
    an error cell (the one form looked for: another spelling reads as blank, as before);
    and that only where a "#" occurs, which every error literal starts with: a single
    memchr settles a sheet saved by Excel or LibreOffice, which have none (shared strings),
    and only sheets written with character references (openpyxl's ``&#7917;``) are
    searched further.
    """
    errors = _NO_ERRORS
    if data.find(b"#") >= 0 and b't="e"' in data:
        errors = _error_cells(data)
    if _CELL_PREFIXED.search(data) is None and _PLAIN_BREAK.search(data) is None:
        return _Marks(frozenset(), errors, _last_cell_row(data))
    shape = _sheet_shape(data)
    if shape.rows * shape.cols > MAX_CELLS_PER_SHEET:
        raise _too_large(
            f"Trang “{sheet}” có dữ liệu tới ô {col_letter(shape.cols - 1)}{shape.rows} "
            f"(vùng {_thousands(shape.rows * shape.cols)} ô), vượt giới hạn "
            f"{_thousands(MAX_CELLS_PER_SHEET)} ô một trang."
        )
    return _Marks(shape.uncached, errors, shape.rows)


_QUICK_ROW = re.compile(rb"[A-Z]([0-9]{1,4})\"")


def _last_cell_row(data: bytes) -> int:
    """The row of the last cell of a plainly written sheet (every cell ``<c r="A1"``)."""
    at = data.rfind(b'<c r="')
    if at < 0:
        return 0
    m = _QUICK_ROW.match(data, at + 6)
    return int(m.group(1)) if m else MAX_CELLS_PER_SHEET


_CELL_ELEMENT = re.compile(rb"<(" + _PREFIX + rb")c\s(" + _ATTRS + rb")(?<!/)>(.*?)</\1c\s*>", re.S)
_VALUE_ELEMENT = re.compile(rb"<" + _PREFIX + rb"v\s*>([^<]*)<")


_FORMULA_ELEMENT = re.compile(rb"<" + _PREFIX + rb"f(?:\s" + _ATTRS + rb")?>([^<]*)<")
_EXTERNAL_REF = re.compile(rb"\[[0-9]+\]")
"""How a saved formula names another workbook: ``[1]Sheet1!A1``, the index of its link part."""


def _linked_cells(data: bytes) -> list[str]:
    """Cells whose formula refers to another workbook, in sheet order (read only for a
    package that has external links at all: a rare file, so no hurry here)."""
    found: list[str] = []
    for m in _CELL_ELEMENT.finditer(data):
        formula = _FORMULA_ELEMENT.search(m.group(3))
        if formula is None or not _EXTERNAL_REF.search(formula.group(1)):
            continue
        for attr in _ATTRIBUTE.finditer(m.group(2)):
            if attr.group(1) == b"r":
                where = _address(attr.group(2) or attr.group(3) or b"")
                if where is not None and where[1] > 0:
                    found.append(f"{col_letter(where[1] - 1)}{where[0]}")
                break
    return found


def _error_cells(data: bytes) -> Mapping[str, str]:
    """Cells typed ``t="e"`` (a formula's error result, or an error typed as a constant)
    → the error literal they show, "#DIV/0!", by the address calamine places them at."""
    found: dict[str, str] = {}
    for m in _CELL_ELEMENT.finditer(data):
        kind = ref = None
        for attr in _ATTRIBUTE.finditer(m.group(2)):
            name = attr.group(1)
            value = attr.group(2) if attr.group(2) is not None else attr.group(3)
            if name == b"t" and kind is None:
                kind = value
            elif name == b"r" and ref is None:
                ref = value
        if kind != b"e" or ref is None:
            continue
        where = _address(ref)
        shown = _VALUE_ELEMENT.search(m.group(3))
        if where is None or where[1] == 0 or shown is None:
            continue
        literal = shown.group(1).decode("utf-8", "replace").strip()
        if literal:
            found[f"{col_letter(where[1] - 1)}{where[0]}"] = literal
    return found


def _sheet_shape(data: bytes) -> _SheetShape:
    """How far the cells holding something reach, by regular expressions, not a parse."""
    if _CELL_PREFIXED.search(data) is None and _USUAL_BREAK.search(data) is None:
        # Every cell starts <c r="A1" (Excel, LibreOffice and openpyxl write it so): only
        # the non-empty ones count, calamine keeps no cell for <c r="A5" s="3"/>.
        cells = _USUAL_VALUED.findall(data)
        max_col = max((col_index(c.decode()) + 1 for c in {c for c, _ in cells}), default=0)
        max_row = max((int(r) for r in {r for _, r in cells}), default=0)
    else:
        max_row, max_col = _tolerant_shape(data)
    uncached: set[str] = set()
    if b"<f>" in data or b"<f " in data:
        for m in _CELL.finditer(data):
            body = m.group(3) or b""
            # openpyxl writes an empty <v></v> (or <v/>) for a formula it never computed.
            if b"<f" in body and not _V_FILLED.search(body):
                uncached.add(m.group(1).decode())
    return _SheetShape(max_row, max_col, frozenset(uncached))


def _address(ref: bytes) -> tuple[int, int] | None:
    """An ``r`` attribute as calamine reads it: (row, column), 1-based, column 0 when it has
    none; None where calamine refuses it (and so the sheet: no cell is placed)."""
    m = _ADDRESS.fullmatch(ref)
    if m is None or not m.group(2) or int(m.group(2)) == 0:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ch - 64
    # calamine's arithmetic wraps past 32 bits; counting exactly can only find more.
    return int(m.group(2)), col


def _tolerant_shape(data: bytes) -> tuple[int, int]:
    """Any markup, slowly: each cell and row element, its attributes parsed as quick-xml
    parses them. Cells without an address follow the previous one, so bound generously."""
    max_row = max_col = 0  # cells holding something, placed by their address
    any_row = any_col = rows_set = implicit = 0
    for m in _CELL_OR_ROW.finditer(data):
        attrs = m.group(2)
        ref = None
        for attr in _ATTRIBUTE.finditer(attrs):
            if attr.group(1) == b"r":
                ref = attr.group(2) if attr.group(2) is not None else attr.group(3)
                break
        where = None if ref is None else _address(ref)
        if m.group(1).endswith(b"row"):
            if where is not None:
                rows_set = max(rows_set, where[0])
            continue
        if ref is None:
            implicit += not attrs.endswith(b"/")  # calamine skips <c/>: it moves nothing
            continue
        if where is None or where[1] == 0 or attrs.endswith(b"/"):
            continue
        any_row, any_col = max(any_row, where[0]), max(any_col, where[1])
        if not data.startswith(b"</", m.end()):
            max_row, max_col = max(max_row, where[0]), max(max_col, where[1])
    if implicit:
        # An unaddressed cell lies in the row calamine counts (set by <row r=...>, plus one
        # at each </row>; the addressed cells' rows are taken too, to be safe) and one
        # column after the previous cell.
        max_row = max(max_row, any_row, rows_set) + len(_ROW_END.findall(data))
        max_col = max(max_col, any_col) + implicit
    return max_row, max_col


def _row_span(ref: str) -> tuple[int, int]:
    """The first and last row (1-based) of an area that :func:`_area` accepted."""
    m = _AREA.match(ref.strip())
    assert m is not None
    r1 = int(m.group(2))
    r2 = int(m.group(4)) if m.group(4) else r1
    return min(r1, r2), max(r1, r2)


def _area(ref: str) -> tuple[int, int]:
    m = _AREA.match(ref.strip())
    if m is None:
        raise _Rejected("file-unreadable", _BROKEN)
    c1, r1 = col_index(m.group(1)), int(m.group(2))
    c2, r2 = (col_index(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
    return abs(r2 - r1) + 1, abs(c2 - c1) + 1


def _inspect(zf: zipfile.ZipFile, data: bytes, schema: ReportSchema) -> _Package:
    """Everything calamine will parse, verified and measured first."""
    parts = _Parts(zf, data)
    members = parts.members
    if _STRICT_MAIN in parts.read(members["xl/workbook.xml"], MAX_WORKBOOK_XML_BYTES):
        parts.to_transitional()
    contract = _read_contract(parts)
    worksheet_parts = set(contract.sheet_parts.values())
    for name, info in members.items():
        if name not in worksheet_parts and not info.is_dir():
            parts.check(info)
    wanted_tables = {lst.code for lst in schema.lists}
    tables: dict[str, str] = {}
    table_rows: dict[str, tuple[int, int]] = {}
    for sheet, part in contract.sheet_parts.items():
        directory, file = posixpath.split(part)
        for _, rel_type, target in _rels(parts, f"{directory}/_rels/{file}.rels"):
            if rel_type != _TABLE_REL:
                continue
            table_info = members.get(_resolve(directory, target))
            if table_info is None:
                continue
            head = _TABLE_HEAD.search(parts.read(table_info, MAX_WORKBOOK_XML_BYTES))
            attrs = dict(_ATTR.findall(head.group(1))) if head else {}
            table_names = {
                attrs.get(b"name", b"").decode(),
                attrs.get(b"displayName", b"").decode(),
            }
            hits = table_names & wanted_tables
            if not hits:
                continue
            ref = attrs.get(b"ref", b"").decode()
            rows, cols = _area(ref)
            if rows * cols > MAX_CELLS_PER_SHEET:
                raise _too_large(
                    f"Bảng “{hits.pop()}” trên trang “{sheet}” khai báo vùng "
                    f"{ref} ({_thousands(rows * cols)} ô), vượt "
                    f"giới hạn {_thousands(MAX_CELLS_PER_SHEET)} ô."
                )
            for t in hits:
                tables[t] = sheet
                table_rows[t] = _row_span(ref)
    needed = {META_SHEET, *tables.values()}
    needed |= {sheet for sheet, _ in contract.names.values() if sheet in contract.sheet_parts}
    # A list whose table was lost is looked for on its own sheet, so that sheet is checked too.
    needed |= {schema.sheet_name(lst.sheet) for lst in schema.lists if lst.code not in tables}
    sheets: dict[str, _Marks] = {}
    linked: list[tuple[str, str]] = []
    for sheet in sorted(needed & set(contract.sheet_parts)):
        sheet_info = members.get(contract.sheet_parts[sheet])
        if sheet_info is None:
            raise _Rejected("file-unreadable", _BROKEN)
        sheet_xml = parts.read(sheet_info, shared=False)
        sheets[sheet] = _measure_sheet(sheet, sheet_xml)
        if contract.has_external_links:
            linked += [(sheet, cell) for cell in _linked_cells(sheet_xml)]
    return _Package(
        contract, sheets, tables, table_rows, parts.repack(), parts.strict, tuple(linked)
    )


def _open_package(zf: zipfile.ZipFile) -> str:
    """What kind of package this is: "xlsx", or "ods" for a renamed OpenDocument file."""
    _check_members(zf)
    members = set(zf.namelist())
    if "xl/workbook.xml" in members:
        return "xlsx"
    if "xl/workbook.bin" in members:
        raise _Rejected("file-unsupported-format", _XLSB)
    if "mimetype" in members:
        with zf.open("mimetype") as fh:
            if fh.read(200).startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
                return "ods"
    if "word/document.xml" in members or "ppt/presentation.xml" in members:
        what = "văn bản Word" if "word/document.xml" in members else "bài trình chiếu PowerPoint"
        raise _Rejected(
            "file-wrong-content",
            f"Tệp thực chất là {what}, không phải biểu mẫu Excel. Điền số liệu vào biểu mẫu "
            "Excel của Sở rồi gửi lại.",
        )
    infos = zf.infolist()
    if _holds_spreadsheets(infos):
        # A compressed folder of reports, renamed (or saved by a mail client) as .xlsx.
        raise _Rejected("file-archive", _zip_message(".zip", infos))
    raise _Rejected(
        "file-unreadable",
        "Tệp là một gói nén nhưng không phải sổ tính Excel (.xlsx), cũng không chứa tệp bảng "
        "tính nào. Đề nghị đơn vị điền số liệu vào biểu mẫu Excel của Sở, lưu dạng “Excel "
        "Workbook (.xlsx)” rồi gửi lại.",
    )


def _read_xlsx(
    path: Path, sub: RawSubmission, schema: ReportSchema, data: bytes | None = None
) -> RawSubmission:
    """Read a package from its bytes, `data` (read from `path` when not given)."""
    if data is None:
        data = path.read_bytes()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        log.debug("not a zip: %s: %s", path, exc)
        raise _Rejected(
            "file-unreadable",
            "Tệp bị hỏng hoặc không trọn vẹn (có thể bị cắt khi gửi thư), không phải tệp Excel "
            "(.xlsx) đọc được. Mở lại bằng Excel, lưu dạng “Excel Workbook (.xlsx)” rồi gửi "
            "lại.",
        ) from None
    with zf:
        try:
            if _open_package(zf) == "ods":
                return _read_legacy(path, sub, schema, ".ods")
            package = _inspect(zf, data, schema)
        except (
            KeyError,
            ET.ParseError,
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            ValueError,
        ) as exc:
            log.debug("bad package: %s: %s", path, exc)
            raise _Rejected(
                "file-unreadable",
                "Tệp bị hỏng (có thể do bị cắt hoặc lỗi khi gửi thư): một phần nội dung không "
                "giải nén được. Mở lại bằng Excel, lưu lại rồi gửi lại; nếu Excel báo lỗi, "
                "đề nghị đơn vị gửi lại tệp gốc.",
            ) from None
        except NotImplementedError:
            raise _Rejected(
                "file-unreadable",
                "Tệp được nén theo cách Excel không dùng nên không đọc được. Mở lại bằng Excel, "
                "lưu dạng “Excel Workbook (.xlsx)” rồi gửi lại.",
            ) from None
        try:
            return _read_values(package, sub, schema)
        except (pc.CalamineError, zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            log.debug("calamine failed: %s: %s", path, exc)
            raise _Rejected(
                "file-unreadable",
                "Không đọc được nội dung tệp (tệp có thể bị hỏng khi gửi). "
                "Mở lại bằng Excel, lưu lại rồi gửi lại.",
            ) from None


def _open_workbook(package: _Package) -> pc.CalamineWorkbook:
    # From memory, never from the path: calamine parses exactly the parts checked (a file
    # replaced on disk meanwhile cannot slip past), and a name that is not UTF-8 (an old
    # Windows code page), which calamine cannot open by path, needs no special case.
    return pc.CalamineWorkbook.from_filelike(io.BytesIO(package.verified), load_tables=True)


@functools.lru_cache(maxsize=4096)
def _position(cell: str) -> tuple[int, int]:
    """ "D16" → (15, 3): the same few dozen names in every file, parsed once."""
    m = re.match(r"([A-Z]+)(\d+)", cell)
    assert m
    return int(m.group(2)) - 1, col_index(m.group(1))


def _value(rows: list[list[Any]], cell: str) -> Any:
    r, c = _position(cell)
    if r < len(rows) and c < len(rows[r]):
        v = rows[r][c]
        return None if v == "" else v
    return None


_LISTED_LINKS = 5
"""How many linked cells the external-links message lists by address."""


def _read_values(package: _Package, sub: RawSubmission, schema: ReportSchema) -> RawSubmission:
    contract = package.contract
    wb = _open_workbook(package)
    sheet_names = list(wb.sheet_names)
    if META_SHEET not in sheet_names or META_SHEET not in package.sheets:
        return _reject(
            sub,
            "not-a-template",
            f"Tệp Excel này không phải biểu mẫu báo cáo của Sở: thiếu trang ẩn “{META_SHEET}” "
            "mà mọi biểu mẫu của Sở đều có (thường là bảng tự lập, hoặc số liệu đã được chép "
            "sang một tệp mới). Đề nghị đơn vị chép số liệu vào biểu mẫu Sở đã gửi cho đơn vị "
            "(dán giá trị) rồi gửi lại tệp biểu mẫu đó.",
        )
    meta_rows = wb.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
    for meta_row in meta_rows:
        if len(meta_row) >= 2 and str(meta_row[0]).strip() in META_KEYS:
            value = meta_row[1]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            key = str(meta_row[0]).strip()
            sub.meta[key] = unicodedata.normalize("NFC", str(value).strip())
    if package.strict:
        sub.issues.append(
            make_issue(
                "strict-open-xml",
                "Tệp được lưu dạng “Strict Open XML Spreadsheet”; chương trình vẫn đọc được số "
                "liệu. Lần sau chọn Lưu thành “Excel Workbook (*.xlsx)”, dạng mọi phần mềm "
                "đều mở được.",
                file=sub.file.path,
            )
        )
    if contract.has_macros:
        sub.issues.append(
            make_issue(
                "macros-ignored",
                "Tệp có macro (VBA). Macro không được chạy; chỉ đọc số liệu.",
                file=sub.file.path,
            )
        )
    if contract.has_external_links:
        first_sheet, first_cell = package.linked[0] if package.linked else ("", "")
        cells = ", ".join(f"{s}!{c}" for s, c in package.linked[:_LISTED_LINKS])
        more = len(package.linked) - _LISTED_LINKS
        at = f" (các ô {cells}{f' và {more} ô khác' if more > 0 else ''})" if package.linked else ""
        sub.issues.append(
            make_issue(
                "external-links",
                f"Tệp có công thức liên kết tới tệp khác{at}; chỉ đọc giá trị đã lưu. "
                "Nên thay công thức bằng giá trị (Dán đặc biệt > Giá trị).",
                file=sub.file.path,
                sheet=first_sheet,
                cell=first_cell,
            )
        )
    cache: dict[str, list[list[Any]]] = {}

    def sheet_rows(name: str) -> list[list[Any]]:
        if name not in cache:
            # Only sheets measured by _inspect: anything else could exhaust memory.
            if name not in package.sheets:
                raise _Rejected("file-unreadable", _BROKEN)
            cache[name] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return cache[name]

    for f in schema.fields:
        ref = contract.names.get(f.code)
        if ref is None:
            continue
        sheet, cell = ref
        if sheet not in sheet_names:
            continue
        rows = sheet_rows(sheet)
        marks = package.sheets[sheet]
        error = marks.errors.get(cell) if marks.errors else None
        sub.scalars[f.code] = Located(
            error or _value(rows, cell), sheet, cell, cell in marks.uncached, error
        )
    tables = set(wb.table_names or []) & set(package.tables)
    for lst in schema.lists:
        if lst.code not in tables or package.tables[lst.code] not in package.sheets:
            found = _find_header_row(wb, package, schema.sheet_name(lst.sheet), lst)
            if found is not None:
                sub.lists[lst.code] = _list_rows(lst, *found)
            continue
        table = wb.get_table_by_name(lst.code)
        columns = [unicodedata.normalize("NFC", str(c)).strip() for c in table.columns or []]
        missing = [f for f in lst.fields if f.code not in columns]
        first_row, first_col = table.start or (0, 0)
        if missing:
            lost = ", ".join(f"“{f.label}” (mã {f.code})" for f in missing)
            sub.issues.append(
                make_issue(
                    "structure-bad-table",
                    f"Bảng “{lst.title}” bị đổi tên hoặc xóa cột: {lost}; số liệu các cột đó "
                    "không đọc được. Đề nghị đơn vị chép số liệu sang biểu mẫu gốc của Sở "
                    "(không sửa dòng mã cột của bảng) rồi gửi lại.",
                    file=sub.file.path,
                    sheet=table.sheet,
                    # The table's top-left cell, on its header row (as the table's ref names it).
                    cell=f"{col_letter(first_col)}{first_row}",
                )
            )
        marks = package.sheets.get(table.sheet, _NO_MARKS)
        entries = _list_rows(
            lst, table.to_python(), columns, first_row, first_col, table.sheet, marks
        )
        header, last = package.table_rows[lst.code]
        if marks.reach > last:
            below = _rows_below(package, lst, sheet_rows(table.sheet), columns, first_col, marks)
            entries += _outside_table(sub, lst, below, header + 1, last, table.sheet)
        sub.lists[lst.code] = entries
    return sub


def _rows_below(
    package: _Package,
    lst: ListSpec,
    rows: list[list[Any]],
    columns: list[str],
    first_col: int,
    marks: _Marks,
) -> list[dict[str, Located]]:
    """What was typed under a list's table, within the table's columns (see the module
    docstring): down to the sheet's last row, or, when another list's table follows on the
    same sheet, down to the first blank row (the template leaves one above the next list's
    title)."""
    sheet = package.tables[lst.code]
    last = package.table_rows[lst.code][1]
    following = [
        package.table_rows[code][0]
        for code, other in package.tables.items()
        if other == sheet and code != lst.code and package.table_rows[code][0] > last
    ]
    width = len(columns)
    band = [row[first_col : first_col + width] for row in rows[last:]]
    entries = _list_rows(lst, band, columns, last, first_col, sheet, marks, whole_rows=True)
    if following:
        # Contiguous rows only: the first blank row ends what belongs to this table.
        kept = []
        expected = last + 1
        for entry in entries:
            row = _row_of(entry)
            if row != expected:
                break
            kept.append(entry)
            expected += 1
        entries = kept
    return entries


def _row_of(entry: dict[str, Located]) -> int:
    return _position(next(iter(entry.values())).cell)[0] + 1


def _outside_table(
    sub: RawSubmission,
    lst: ListSpec,
    entries: list[dict[str, Located]],
    first: int,
    last: int,
    sheet: str,
) -> list[dict[str, Located]]:
    """Rows typed under a table: read as rows of the list with a warning each, or, under the
    fixed rows of the people matrix, reported as not counted. Returns the rows to read."""
    read: list[dict[str, Located]] = []
    for entry in entries:
        row = _row_of(entry)
        typed = [k for k, loc in entry.items() if loc.value is not None or loc.formula_no_cache]
        field = typed[0] if typed else next(iter(entry))
        at = entry[field]
        span = f"{next(iter(entry.values())).cell}:{list(entry.values())[-1].cell}"
        if lst.fixed_field:
            group = lst.field(lst.fixed_field).label.lower()
            code = "cells-outside-table"
            message = (
                f"Dòng {row} ({span}) nằm dưới bảng “{lst.title}”, ngoài các dòng cố định "
                f"của bảng (dòng {first}–{last}): số liệu ở dòng này không được tính. Nếu là "
                f"số liệu của một {group}, nhập vào đúng dòng của {group} đó trong bảng; "
                "nếu là dòng cộng thì xóa đi (Sở tự cộng)."
            )
        else:
            read.append(entry)
            code = "row-outside-table"
            message = (
                f"Dòng {row} nằm dưới bảng “{lst.title}” (bảng kết thúc ở dòng {last}), "
                "ngoài vùng bảng, nhưng vẫn được đọc như một dòng của bảng. Kiểm tra lại "
                "dòng này; lần sau nhập trong bảng, hoặc kéo dãn bảng cho bao cả dòng này."
            )
        sub.issues.append(
            make_issue(
                code,
                message,
                file=sub.file.path,
                unit_code=sub.unit_code,
                sheet=sheet,
                cell=at.cell,
                field=f"{lst.code}.{field}",
                value=_shown(at),
            )
        )
    return read


def _shown(loc: Located) -> str:
    """A raw value for the issue's value column (a short form: the message says the rest)."""
    value = loc.value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _find_header_row(
    wb: pc.CalamineWorkbook, package: _Package, sheet: str, lst: ListSpec
) -> tuple[list[list[Any]], list[str], int, int, str, _Marks] | None:
    """Locate a list whose Excel table was lost (.xls has no tables; copy-paste drops them).

    The template's header row holds the field codes, so the row that contains all of them
    marks where the list starts, whatever rows the user inserted above it.
    """
    if sheet not in package.sheets:
        return None
    rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    codes = {f.code for f in lst.fields}
    for r, values in enumerate(rows):
        texts = [unicodedata.normalize("NFC", str(v)).strip() for v in values]
        if codes <= set(texts):
            first_col = min(texts.index(c) for c in codes)
            columns = texts[first_col:]
            data = [row[first_col:] for row in rows[r + 1 :]]
            return data, columns, r + 1, first_col, sheet, package.sheets[sheet]
    return None


def _list_rows(
    lst: ListSpec,
    values_rows: list[list[Any]],
    columns: list[str],
    first_row: int,
    first_col: int,
    sheet: str,
    marks: _Marks,
    *,
    whole_rows: bool = False,
) -> list[dict[str, Located]]:
    """Rows of a list as located values; blank rows are dropped.

    A row of the people matrix whose only value is its pre-filled group is blank too, unless
    `whole_rows` (rows under the table, where a typed group label is something typed).
    """
    wanted = {f.code for f in lst.fields}
    # The template's tables are pre-sized with a few hundred empty rows: work out the wanted
    # columns and their letters once per table, and skip an empty row before building it.
    picked = [
        (c, code, col_letter(first_col + c)) for c, code in enumerate(columns) if code in wanted
    ]
    uncached, errors = marks.uncached, marks.errors
    # Cells calamine reads as "" yet hold something: no row can be skipped on its values.
    marked = bool(uncached or errors)
    out_rows = []
    # Wholly empty rows dropped first, in one comprehension: nearly every row of a table is.
    candidates = (
        range(len(values_rows))
        if marked
        else [r for r, values in enumerate(values_rows) if values.count("") != len(values)]
    )
    for r in candidates:
        values = values_rows[r]
        width = len(values)
        if not marked and (
            values.count("") == width or all(c >= width or values[c] == "" for c, _, _ in picked)
        ):
            continue
        entry: dict[str, Located] = {}
        blank = True
        row_number = first_row + r + 1
        for c, code, letters in picked:
            v = values[c] if c < width else ""
            cell = f"{letters}{row_number}"
            nocache = cell in uncached
            error = errors.get(cell) if errors else None
            if error:
                v = error
            if v != "" or nocache:
                blank = False
            entry[code] = Located(None if v == "" else v, sheet, cell, nocache, error)
        # The people matrix always has its group filled in: a row is blank when every
        # other column is.
        if (
            lst.fixed_field
            and not whole_rows
            and all(
                loc.value is None and not loc.formula_no_cache
                for k, loc in entry.items()
                if k != lst.fixed_field
            )
        ):
            blank = True
        if not blank:
            out_rows.append(entry)
    return out_rows


# ---------------------------------------------------------------------------------------------
# .ods and .xls, through LibreOffice


def _read_legacy(path: Path, sub: RawSubmission, schema: ReportSchema, ext: str) -> RawSubmission:
    """.ods / .xls: convert a copy with LibreOffice, then read it like any .xlsx."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return _reject(
            sub,
            "file-unsupported-format",
            f"Tệp {ext} cần LibreOffice để chuyển đổi nhưng máy này chưa cài LibreOffice. "
            "Sở cài LibreOffice rồi chạy lại, hoặc đề nghị đơn vị lưu lại dạng “Excel "
            "Workbook (.xlsx)” và gửi lại.",
        )
    failed = f"Không chuyển đổi được tệp {ext}. Lưu lại dạng Excel (.xlsx) rồi gửi lại."
    with tempfile.TemporaryDirectory(prefix="xhht-convert-") as tmp:
        try:
            converted = convert_to_xlsx(path, ext, Path(tmp), soffice)
        except subprocess.TimeoutExpired:
            raise _Rejected(
                "file-unreadable",
                f"Chuyển đổi tệp {ext} quá {CONVERT_TIMEOUT_S} giây nên đã dừng (tệp quá lớn "
                "hoặc hỏng). Lưu lại dạng Excel (.xlsx) rồi gửi lại.",
            ) from None
        except (subprocess.SubprocessError, OSError) as exc:
            log.debug("conversion failed: %s: %s", path, exc)
            return _reject(sub, "file-unreadable", failed)
        result = _read_xlsx(converted, sub, schema)
    if not result.rejected:
        result.issues.append(
            make_issue(
                "legacy-format",
                f"Tệp {ext} đã được chuyển sang .xlsx để đọc. Lần sau lưu dạng .xlsx.",
                file=sub.file.path,
            )
        )
    return result


def convert_to_xlsx(path: Path, ext: str, workdir: Path, soffice: str) -> Path:
    """The .xlsx LibreOffice makes of the .ods/.xls at `path` (`ext` its real kind), in
    `workdir`, with a profile of its own there.

    The reader reads this copy, and the feedback copy of such a file is made from it, so the
    cells the problems name are the cells the unit sees. Raises
    :class:`subprocess.TimeoutExpired` after :data:`CONVERT_TIMEOUT_S`, and
    :class:`subprocess.SubprocessError` or :class:`OSError` when LibreOffice fails.
    """
    src = workdir / f"input{ext}"
    shutil.copyfile(path, src)
    command = [
        soffice,
        f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "xlsx",
        "--outdir",
        str(workdir),
        str(src),
    ]
    _run_with_timeout(command, CONVERT_TIMEOUT_S)
    converted = workdir / "input.xlsx"
    if not converted.exists():
        raise subprocess.SubprocessError(f"LibreOffice wrote no .xlsx for {path.name}")
    return converted


def _run_with_timeout(command: list[str], timeout: float) -> None:
    """Run a converter; on time-out kill its whole process group (soffice forks helpers)."""
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, command)
