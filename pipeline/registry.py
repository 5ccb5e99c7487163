"""The registry of reporting units and their areas, edited by the department in Excel.

Areas are data, not code: a district (quận, huyện) or, since the 2025 reorganisation, a
commune or ward (xã, phường) is simply a row of areas.csv. A broken registry stops the run
with a message naming the file, the row and what to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pipeline.errors import RegistryError
from pipeline.schema import ReportSchema, nfc

log = logging.getLogger(__name__)

UNIT_COLUMNS = ("code", "name", "type", "area_code", "email")
AREA_COLUMNS = ("code", "name", "kind")

# Characters Excel, Word and web forms slip into a typed code without showing them.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def normalise_code(code: object) -> str:
    """The key under which unit (and area) codes are compared, everywhere in the product.

    Rule: NFKC (full-width “ＴＨＰＴ－０１” as typed with a Vietnamese IME becomes
    “THPT-01”), invisible characters and every kind of white space removed (also inside:
    “THPT - 01”, non-breaking spaces pasted from a web page), then case folded. A whole
    number read from a cell as a float (12.0) is the code “12”. So “thpt-q01-01”,
    “ THPT-Q01-01”, “THPT - Q01 - 01” and “ＴＨＰＴ-Q01-01” all have the key “thpt-q01-01”.
    Punctuation is kept: “THPT-01” and “THPT01” stay different codes. Two registry codes
    with the same key are refused when the registry is loaded, so a key names one unit.
    """
    if code is None:
        return ""
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    text = unicodedata.normalize("NFKC", str(code)).translate(_INVISIBLE)
    return "".join(text.split()).casefold()


def email_addresses(text: str) -> set[str]:
    """The addresses of a registry `email` cell or of a typed address, casefolded.

    A unit may register several (separated by ";", "," or spaces); a typed value may carry
    a display name ("Văn thư <vt@x.vn>").
    """
    return {a.casefold() for a in re.split(r"[;,\s<>]+", text or "") if "@" in a}


def file_name_code(code: str) -> str:
    """How a unit code starts the name of its own template file (`<code>_<slug>_<year>.xlsx`).

    Characters a file name cannot safely carry become "-"; the identify stage reads the
    code back from a file name through this same function.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", code).strip("-.") or "don-vi"


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    type: str
    area_code: str
    email: str


@dataclass(frozen=True)
class CodeMatch:
    """A code looked up in the registry: the unit, and whether the code was written exactly.

    `exact` is False when the code matched only through :func:`normalise_code` (other case,
    spaces inside, full-width characters); surrounding spaces and NFC/NFD do not count, as
    they are invisible in Excel and every reader strips them anyway.
    """

    unit: Unit
    exact: bool


@dataclass(frozen=True)
class Registry:
    areas: Mapping[str, Area]
    units: Mapping[str, Unit]

    @cached_property
    def _by_key(self) -> dict[str, Unit]:
        return {normalise_code(code): unit for code, unit in self.units.items()}

    def find(self, code: object) -> Unit | None:
        """The unit whose code is `code` up to :func:`normalise_code`, or None."""
        key = normalise_code(code)
        return self._by_key.get(key) if key else None

    def match(self, code: object) -> CodeMatch | None:
        """Like :meth:`find`, also telling whether `code` was the registry's code as is."""
        unit = self.find(code)
        if unit is None:
            return None
        if isinstance(code, float) and code.is_integer():
            code = int(code)
        return CodeMatch(unit, nfc(str(code)).strip() == unit.code)

    def area_of(self, unit: Unit) -> Area:
        return self.areas[unit.area_code]

    def units_in(self, area_code: str) -> list[Unit]:
        return [u for u in self.units.values() if u.area_code == area_code]


UNIT_SHEETS = ("units", "đơn vị", "danh mục đơn vị")
AREA_SHEETS = ("areas", "địa bàn", "danh mục địa bàn")
"""Sheet names (case-insensitive) a registry workbook may give its tables."""
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
"""Excel saves "Unicode Text" as .txt; every other CSV flavour as .csv."""
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
SAVE_AS = (
    "Mở tệp bằng Excel, chọn Lưu thành (Save As) kiểu “CSV UTF-8 (Comma delimited)” rồi chạy lại."
)

_LOST_LETTER = re.compile(r"\w\?|\?\w")
"""A '?' touching a letter: what Excel writes for a letter the chosen code page lacks."""


@dataclass(frozen=True)
class _Source:
    """Where one registry table comes from: a text file, a workbook, or one sheet of it."""

    path: Path
    sheet_names: tuple[str, ...] = ()
    """Sheets to look for in a workbook (case-insensitive), in order of preference."""
    first_sheet: bool = True
    """Without a sheet of those names, read the first visible sheet (else: not found)."""

    @property
    def name(self) -> str:
        return self.path.name


ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an .xlsx (a zip) and of a legacy .xls (an OLE2 compound file)."""


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(len(OLE2_MAGIC))[: len(ZIP_MAGIC)]
    except OSError:
        return b""  # reading the file proper reports it


def _decode(raw: bytes, name: str) -> str:
    """Text of a registry file in whichever encoding Excel saved it (decision in the README).

    1. A byte-order mark decides: UTF-16 LE/BE (“Unicode Text”), UTF-8 (“CSV UTF-8”).
    2. NUL bytes without a mark: UTF-16 without its mark, by where the NULs sit.
    3. Valid UTF-8 (Excel for Mac, LibreOffice, any editor).
    4. Otherwise one byte per character: CR-only line ends are what Excel's
       “CSV (Macintosh)” writes, and that format is Mac Roman; any other line end is
       Windows' plain “CSV (Comma delimited)”, in the code page of Vietnamese Windows, 1258,
       whose tone marks come as combining characters (made NFC later, per value).
       Both code pages lack letters (Mac Roman nearly every Vietnamese one; a Windows set to
       another language, cp1252, as many): Excel writes a '?' for each, so a '?' touching a
       letter refuses the file rather than put “Tr??ng” in a report.
    """
    if raw.startswith(OLE2_MAGIC):
        raise RegistryError(
            f"{name} là tệp Excel dạng cũ (.xls), không phải tệp văn bản CSV. Mở tệp bằng "
            "Excel, lưu lại dạng .xlsx hoặc “CSV UTF-8 (Comma delimited)” rồi chạy lại."
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(raw, "utf-16", name)
    if raw.startswith(b"\xef\xbb\xbf"):
        return _strict(raw, "utf-8-sig", name)
    if b"\x00" in raw:
        odd, even = raw[1::2].count(0), raw[0::2].count(0)
        if max(odd, even) >= len(raw) // 4:
            return _strict(raw, "utf-16-le" if odd >= even else "utf-16-be", name)
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise RegistryError(
            f"{name}, dòng {line}: có ký tự không phải chữ (tệp không phải dạng văn bản). {SAVE_AS}"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mac = b"\r" in raw and b"\n" not in raw
    text = _strict(raw, "mac_roman" if mac else "cp1258", name)
    lost = _LOST_LETTER.search(text)
    if lost:
        line = _line_at(text, lost.start())
        kind = "“CSV (Macintosh)”" if mac else "“CSV” theo bảng mã của Windows"
        sample = text.splitlines()[line - 1].strip()[:80]
        raise RegistryError(
            f"{name}, dòng {line}: chữ tiếng Việt bị mất, thay bằng dấu “?” (“{sample}”): kiểu "
            f"lưu {kind} không giữ được chữ tiếng Việt. Mở bản gốc của danh mục bằng Excel, "
            "chọn Lưu thành (Save As) kiểu “CSV UTF-8 (Comma delimited)” rồi chạy lại."
        )
    return text


def _strict(raw: bytes, encoding: str, name: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1 if "16" not in encoding else None
        where = f"{name}, dòng {line}" if line else name
        raise RegistryError(f"{where}: có ký tự không đọc được. {SAVE_AS}") from exc


def _line_at(text: str, offset: int) -> int:
    """Line of the character at `offset` (never a line end), counting CR, LF and CRLF."""
    return len(text[: offset + 1].splitlines())


def _delimiter(header: str) -> str:
    """Tab (“Unicode Text”), ';' (a comma-decimal locale such as vi-VN) or ','."""
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _text_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of a text registry with the line each starts on, as an editor counts lines."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RegistryError(
            f"Không đọc được tệp danh mục {path} ({exc.strerror or type(exc).__name__}). "
            "Kiểm tra quyền đọc tệp, đóng tệp nếu đang mở ở chương trình khác, rồi chạy lại."
        ) from exc
    text = _decode(raw, path.name)
    first = next((line for line in text.splitlines() if line.strip()), "")
    # newline="": CR-only, LF and CRLF line ends alike, and line numbers that count them.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RegistryError(
            f"{path.name}, dòng {start}: dòng không đọc được ({exc}). {SAVE_AS}"
        ) from exc
    return rows


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _workbook_rows(source: _Source) -> tuple[str, list[tuple[int, list[str]]]] | None:
    """The sheet read and its rows with their Excel row numbers; None if no such sheet."""
    import openpyxl  # only a workbook registry needs it

    try:
        # From bytes: openpyxl refuses a path whose name does not end in .xlsx, and a
        # workbook renamed units.csv is still a workbook.
        wb = openpyxl.load_workbook(io.BytesIO(source.path.read_bytes()), data_only=True)
    except Exception as exc:  # any reason a workbook does not open: say it, never a traceback
        raise RegistryError(
            f"Không mở được {source.name} ({type(exc).__name__}): tệp hỏng hoặc không phải "
            "tệp Excel .xlsx. Mở tệp bằng Excel và lưu lại dạng .xlsx, hoặc dạng "
            "“CSV UTF-8 (Comma delimited)”, rồi chạy lại."
        ) from exc
    try:
        by_name = {nfc(n).strip().casefold(): n for n in wb.sheetnames}
        wanted = next((by_name[n] for n in source.sheet_names if n in by_name), None)
        if wanted is None and not source.first_sheet:
            return None
        visible = [w for w in wb.worksheets if w.sheet_state == "visible"] or wb.worksheets
        ws = wb[wanted] if wanted else visible[0]
        return ws.title, [
            (number, [_cell_text(v) for v in row])
            for number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1)
        ]
    finally:
        wb.close()


def _read_table(
    source: _Source, columns: tuple[str, ...]
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """How to name the table in a message, and its rows with their line number in the file,
    so messages point where Excel shows them (a workbook's sheet named too).

    The first non-blank row is the header; its column names match in any case and order,
    other columns are ignored. Blank lines and rows of empty cells are skipped.
    """
    suffix = source.path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES or _magic(source.path) == ZIP_MAGIC:
        found = _workbook_rows(source)
        if found is None:
            raise RegistryError(
                f"Không tìm thấy danh mục địa bàn: {source.name} không có trang tính "
                f"“{source.sheet_names[0]}” và bên cạnh không có tệp areas.csv hay areas.xlsx. "
                f"Thêm trang tính “{source.sheet_names[0]}” (cột {', '.join(AREA_COLUMNS)}) "
                "hoặc đặt tệp areas.csv cạnh tệp danh mục đơn vị."
            )
        label = f"{source.name}, trang “{found[0]}”"
        rows = found[1]
    elif suffix not in TEXT_SUFFIXES:
        raise RegistryError(
            f"Tệp danh mục {source.name}: chương trình đọc danh mục dạng .csv, .txt "
            f"(“Unicode Text”) hoặc .xlsx, không đọc dạng {suffix or 'không có đuôi'}. "
            "Mở tệp bằng Excel, lưu lại dạng .xlsx hoặc “CSV UTF-8 (Comma delimited)” rồi "
            "chạy lại."
        )
    else:
        label, rows = source.name, _text_rows(source.path)
    cleaned = [(line, [nfc(v).strip() for v in row]) for line, row in rows]
    cleaned = [(line, row) for line, row in cleaned if any(row)]
    header = [h.casefold() for h in cleaned[0][1]] if cleaned else []
    missing = [c for c in columns if c not in header]
    if missing:
        raise RegistryError(
            f"Tệp {label} thiếu cột: {', '.join(missing)}. "
            f"Dòng tiêu đề (dòng đầu tiên) phải có các cột: {', '.join(columns)}."
        )
    at = {c: header.index(c) for c in columns}
    return label, [
        (line, {c: row[i] if i < len(row) else "" for c, i in at.items()})
        for line, row in cleaned[1:]
    ]


def _locate(given: Path, stem: str) -> Path | None:
    """The registry file the user meant: `given`, or the same table in another format.

    A department that keeps units.xlsx (or saved “Unicode Text” as units.txt) need not
    pass its name: the default registry/units.csv finds it. A folder means its units file.
    """
    if given.is_dir():
        given = given / f"{stem}.csv"
    if given.is_file():
        others = [
            given.with_suffix(s)
            for s in (*TEXT_SUFFIXES, *WORKBOOK_SUFFIXES)
            if s != given.suffix.lower() and given.with_suffix(s).is_file()
        ]
        if others:
            log.warning(
                "registry: %s is used; %s beside it is ignored",
                given,
                ", ".join(o.name for o in others),
            )
        return given
    for suffix in (".csv", *WORKBOOK_SUFFIXES, ".txt", ".tsv"):
        candidate = given.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _sources(units_path: Path, areas_path: Path | None) -> tuple[_Source, _Source]:
    units = _locate(units_path, "units")
    if areas_path is not None:
        areas = _locate(areas_path, "areas")
        area_source = _Source(areas, AREA_SHEETS) if areas else None
    else:
        folder = (
            units.parent if units else (units_path if units_path.is_dir() else units_path.parent)
        )
        suffix = units.suffix if units else ".csv"
        areas = _locate(folder / f"areas{suffix}", "areas")
        area_source = _Source(areas, AREA_SHEETS) if areas else None
        if area_source is None and units and units.suffix.lower() in WORKBOOK_SUFFIXES:
            # One workbook holding both tables, as sheets “units” and “areas”.
            area_source = _Source(units, AREA_SHEETS, first_sheet=False)
    missing = []
    if units is None:
        missing.append(units_path.name if not units_path.is_dir() else "units.csv")
    if area_source is None:
        missing.append(areas_path.name if areas_path else "areas.csv")
    if units is None or area_source is None:
        folder = units_path if units_path.is_dir() else units_path.parent
        raise RegistryError(
            f"Không tìm thấy tệp danh mục {' và '.join(missing)} trong thư mục {folder} "
            "(chương trình tìm cả dạng .csv, .xlsx, .txt). Kiểm tra lại đường dẫn "
            "--registry, hoặc chép danh mục của Sở vào thư mục này."
        )
    return _Source(units, UNIT_SHEETS), area_source


def load_registry(
    units_path: Path, schema: ReportSchema, areas_path: Path | None = None
) -> Registry:
    """Load the units and areas tables (areas next to units unless given), check them together.

    Each may be a CSV in any of the forms Excel saves (see :func:`_decode`), a “Unicode
    Text” .txt, or an .xlsx workbook; one workbook may hold both as sheets “units” and
    “areas”. Codes are compared through :func:`normalise_code`.
    """
    units_source, areas_source = _sources(units_path, areas_path)
    areas: dict[str, Area] = {}
    area_lines: dict[str, tuple[str, int]] = {}
    areas_label, area_rows = _read_table(areas_source, AREA_COLUMNS)
    for line, row in area_rows:
        where = f"{areas_label}, dòng {line}"
        code = row["code"]
        if not code:
            raise RegistryError(f"{where}: thiếu mã địa bàn.")
        key = normalise_code(code)
        if key in area_lines:
            first, line_no = area_lines[key]
            same = "" if first == code else f" (“{first}”, chỉ khác chữ hoa/thường hoặc dấu cách)"
            raise RegistryError(
                f"{where}: mã địa bàn “{code}” bị trùng với dòng {line_no}{same}. "
                "Mỗi địa bàn một mã; xóa dòng trùng hoặc sửa mã."
            )
        areas[code] = Area(code, row["name"] or code, row["kind"])
        area_lines[key] = (code, line)
    area_by_key = {normalise_code(c): a for c, a in areas.items()}
    by_label = {c.label.casefold(): c.code for c in schema.unit_types}
    codes = {c.code for c in schema.unit_types}
    units: dict[str, Unit] = {}
    unit_lines: dict[str, tuple[str, int]] = {}
    units_label, unit_rows = _read_table(units_source, UNIT_COLUMNS)
    for line, row in unit_rows:
        where = f"{units_label}, dòng {line}"
        code = row["code"]
        if not code:
            raise RegistryError(f"{where}: thiếu mã đơn vị.")
        key = normalise_code(code)
        if key in unit_lines:
            first, line_no = unit_lines[key]
            same = "" if first == code else f" (“{first}”, chỉ khác chữ hoa/thường hoặc dấu cách)"
            raise RegistryError(
                f"{where}: mã đơn vị “{code}” bị trùng với dòng {line_no}{same}. "
                "Mỗi đơn vị một mã; xóa dòng trùng hoặc sửa mã."
            )
        utype = row["type"]
        utype = utype if utype in codes else by_label.get(utype.casefold(), utype)
        if utype not in codes:
            allowed = "; ".join(f"{c.code} ({c.label})" for c in schema.unit_types)
            raise RegistryError(
                f"{where}: loại đơn vị “{row['type']}” không hợp lệ. Dùng một trong: {allowed}."
            )
        area = area_by_key.get(normalise_code(row["area_code"]))
        if area is None:
            raise RegistryError(
                f"{where}: đơn vị “{code}” thuộc địa bàn “{row['area_code']}” "
                f"không có trong {areas_label}. Thêm địa bàn hoặc sửa mã địa bàn."
            )
        units[code] = Unit(code, row["name"] or code, utype, area.code, row["email"])
        unit_lines[key] = (code, line)
    if not units:
        raise RegistryError(f"Tệp {units_label} không có đơn vị nào.")
    return Registry(areas=areas, units=units)
