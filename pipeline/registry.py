"""The registry of reporting units and their areas, edited by the department in Excel.

Areas are data, not code: a district (quận, huyện) or, since the 2025 reorganisation, a
commune or ward (xã, phường) is simply a row of areas.csv. A broken registry stops the run
with a message naming the file, the row and what to fix.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pipeline.errors import RegistryError
from pipeline.schema import ReportSchema, nfc

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


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows with their line number in the file, so messages point where Excel shows them."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise RegistryError(f"Không tìm thấy tệp danh mục {path}.") from exc
    # Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the Windows code page.
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1258 decodes nearly anything
        raise RegistryError(f"Tệp {path.name} không đọc được; lưu lại dạng “CSV UTF-8”.")
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [nfc(h or "").strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise RegistryError(
            f"Tệp {path.name} thiếu cột: {', '.join(missing)}. "
            f"Dòng tiêu đề phải có các cột: {', '.join(columns)}."
        )
    rows = []
    for row in reader:
        # Blank lines and rows of empty cells are skipped, so count lines from the reader,
        # not by enumerating the rows kept.
        clean = {nfc(k or "").strip(): nfc(v or "").strip() for k, v in row.items() if k}
        if any(clean.values()):
            rows.append((reader.line_num, clean))
    return rows


def load_registry(
    units_path: Path, schema: ReportSchema, areas_path: Path | None = None
) -> Registry:
    """Load units.csv and areas.csv (next to it unless given) and check them together."""
    areas_path = areas_path or units_path.with_name("areas.csv")
    areas: dict[str, Area] = {}
    area_lines: dict[str, int] = {}
    for line, row in _read_csv(areas_path, AREA_COLUMNS):
        code = row["code"]
        if not code:
            raise RegistryError(f"{areas_path.name}, dòng {line}: thiếu mã địa bàn.")
        if code in areas:
            raise RegistryError(
                f"{areas_path.name}, dòng {line}: mã địa bàn “{code}” bị trùng "
                f"với dòng {area_lines[code]}."
            )
        areas[code] = Area(code, row["name"] or code, row["kind"])
        area_lines[code] = line
    by_label = {c.label.casefold(): c.code for c in schema.unit_types}
    codes = {c.code for c in schema.unit_types}
    units: dict[str, Unit] = {}
    unit_lines: dict[str, tuple[str, int]] = {}
    for line, row in _read_csv(units_path, UNIT_COLUMNS):
        where = f"{units_path.name}, dòng {line}"
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
        if row["area_code"] not in areas:
            raise RegistryError(
                f"{where}: đơn vị “{code}” thuộc địa bàn “{row['area_code']}” "
                f"không có trong {areas_path.name}. Thêm địa bàn hoặc sửa mã địa bàn."
            )
        units[code] = Unit(code, row["name"] or code, utype, row["area_code"], row["email"])
        unit_lines[key] = (code, line)
    if not units:
        raise RegistryError(f"Tệp {units_path.name} không có đơn vị nào.")
    return Registry(areas=areas, units=units)
