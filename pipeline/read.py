"""Reading submitted workbooks: the hot path, and the only stage besides rendering on disk.

Values come from python-calamine (Rust, much faster than openpyxl); the template contract
(defined names, the hidden metadata sheet) comes from the workbook's own XML, which
calamine does not expose. Cells are found through the names and tables, never through fixed
addresses, so a unit may insert rows or move blocks. Input files are opened read-only and
never modified. Every failure becomes an issue on the file, never an exception: one broken
file must not stop the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import python_calamine as pc

from pipeline.issues import make_issue
from pipeline.model import META_KEYS, META_SHEET, FileInfo, Located, RawSubmission
from pipeline.schema import ReportSchema

log = logging.getLogger(__name__)

XLSX_EXTENSIONS = frozenset({".xlsx", ".xlsm"})
LEGACY_EXTENSIONS = frozenset({".ods", ".xls"})
SPREADSHEET_EXTENSIONS = XLSX_EXTENSIONS | LEGACY_EXTENSIONS | {".xlsb", ".csv"}
# A filled template is a few hundred kB at most; far above that is a zip bomb or junk.
MAX_UNCOMPRESSED_BYTES = 50_000_000
MAX_CELLS_PER_SHEET = 2_000_000

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]{1,3})\$?(\d+)$")
_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


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


def file_info(path: Path, root: Path) -> FileInfo:
    """Hash and stat a file without modifying it (read in chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    stat = path.stat()
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    return FileInfo(
        path=unicodedata.normalize("NFC", rel),
        sha256=digest.hexdigest(),
        size=stat.st_size,
        mtime=dt.datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0),
    )


def discover(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, recursively, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


@dataclass(frozen=True)
class _Contract:
    names: dict[str, tuple[str, str]]
    """Defined name → (sheet, cell)."""
    sheet_parts: dict[str, str]
    """Sheet name → zip part of its XML."""
    has_macros: bool
    has_external_links: bool


def _read_contract(zf: zipfile.ZipFile) -> _Contract:
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    rels: dict[str, str] = {}
    try:
        rel_root = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        for rel in rel_root.findall("rel:Relationship", _NS):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rels[rel.get("Id", "")] = target
    except KeyError:
        pass
    sheet_parts: dict[str, str] = {}
    for sheet in wb.findall("m:sheets/m:sheet", _NS):
        rid = sheet.get(f"{{{_NS['r']}}}id", "")
        sheet_parts[sheet.get("name", "")] = rels.get(rid, "")
    names: dict[str, tuple[str, str]] = {}
    for dn in wb.findall("m:definedNames/m:definedName", _NS):
        if dn.get("localSheetId") is not None:
            continue
        m = _REF.match((dn.text or "").strip())
        if not m:
            continue
        sheet_name = (m.group(1) or "").replace("''", "'") or m.group(2)
        names[dn.get("name", "")] = (sheet_name, f"{m.group(3)}{m.group(4)}")
    members = zf.namelist()
    return _Contract(
        names=names,
        sheet_parts=sheet_parts,
        has_macros="xl/vbaProject.bin" in members,
        has_external_links=any(n.startswith("xl/externalLinks/") for n in members),
    )


def _uncached_formulas(zf: zipfile.ZipFile, part: str) -> set[str]:
    """Cells holding a formula but no cached value (never calculated by a spreadsheet)."""
    try:
        data = zf.read(part)
    except KeyError:
        return set()
    if b"<f" not in data:
        return set()
    out = set()
    for m in _CELL.finditer(data):
        body = m.group(3) or b""
        if b"<f" in body and b"<v" not in body:
            out.add(m.group(1).decode())
    return out


def _value(rows: list[list[Any]], cell: str) -> Any:
    m = re.match(r"([A-Z]+)(\d+)", cell)
    assert m
    r, c = int(m.group(2)) - 1, col_index(m.group(1))
    if r < len(rows) and c < len(rows[r]):
        v = rows[r][c]
        return None if v == "" else v
    return None


def _reject(sub: RawSubmission, code: str, message: str) -> RawSubmission:
    sub.issues.append(make_issue(code, message, file=sub.file.path))
    sub.rejected = True
    return sub


def read_submission(path: Path, root: Path, schema: ReportSchema) -> RawSubmission:
    """Read one input file into raw located values; never raises for a bad file."""
    info = file_info(path, root)
    sub = RawSubmission(file=info)
    ext = path.suffix.lower()
    if info.size == 0:
        return _reject(sub, "file-empty", "Tệp rỗng (0 byte). Gửi lại tệp biểu mẫu đã điền.")
    if ext in LEGACY_EXTENSIONS:
        return _read_legacy(path, sub, schema)
    if ext not in XLSX_EXTENSIONS:
        return _reject(
            sub,
            "file-unsupported-format",
            f"Định dạng “{ext or 'không có đuôi'}” không đọc được. "
            "Điền vào biểu mẫu của Sở và lưu dạng Excel (.xlsx).",
        )
    return _read_xlsx(path, sub, schema)


def _read_xlsx(path: Path, sub: RawSubmission, schema: ReportSchema) -> RawSubmission:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        if _looks_encrypted(path):
            return _reject(
                sub,
                "file-encrypted",
                "Tệp có đặt mật khẩu nên không đọc được. Gỡ mật khẩu (Tệp > Thông tin > "
                "Bảo vệ sổ làm việc) rồi gửi lại.",
            )
        log.debug("not a zip: %s: %s", path, exc)
        return _reject(
            sub,
            "file-unreadable",
            "Tệp bị hỏng hoặc không phải tệp Excel (.xlsx). Mở lại bằng Excel, lưu dạng "
            "“Excel Workbook (.xlsx)” rồi gửi lại.",
        )
    with zf:
        total = sum(i.file_size for i in zf.infolist())
        if total > MAX_UNCOMPRESSED_BYTES:
            return _reject(
                sub,
                "file-too-large",
                f"Tệp giải nén ra {total // 1_000_000} MB, vượt giới hạn "
                f"{MAX_UNCOMPRESSED_BYTES // 1_000_000} MB của một biểu mẫu. "
                "Xóa các trang, dòng thừa rồi gửi lại.",
            )
        try:
            contract = _read_contract(zf)
        except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError, EOFError) as exc:
            log.debug("bad workbook xml: %s: %s", path, exc)
            return _reject(
                sub,
                "file-unreadable",
                "Cấu trúc tệp Excel bị hỏng. Mở lại bằng Excel, lưu dạng .xlsx rồi gửi lại.",
            )
        try:
            return _read_values(path, zf, contract, sub, schema)
        except (pc.CalamineError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            log.debug("calamine failed: %s: %s", path, exc)
            return _reject(
                sub,
                "file-unreadable",
                "Không đọc được nội dung tệp (tệp có thể bị hỏng khi gửi). "
                "Mở lại bằng Excel, lưu lại rồi gửi lại.",
            )


def _read_values(
    path: Path, zf: zipfile.ZipFile, contract: _Contract, sub: RawSubmission, schema: ReportSchema
) -> RawSubmission:
    wb = pc.CalamineWorkbook.from_path(str(path), load_tables=True)
    sheet_names = list(wb.sheet_names)
    if META_SHEET not in sheet_names:
        return _reject(
            sub,
            "not-a-template",
            "Không phải biểu mẫu báo cáo của Sở (không có trang thông tin biểu mẫu). "
            "Tải biểu mẫu của Sở, điền số liệu vào đó rồi gửi lại.",
        )
    meta_rows = wb.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
    for row in meta_rows:
        if len(row) >= 2 and str(row[0]).strip() in META_KEYS:
            value = row[1]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            sub.meta[str(row[0]).strip()] = unicodedata.normalize("NFC", str(value).strip())
    if contract.has_macros:
        sub.issues.append(
            make_issue(
                "macros-ignored",
                "Tệp có macro (VBA). Macro không được chạy; chỉ đọc số liệu.",
                file=sub.file.path,
            )
        )
    if contract.has_external_links:
        sub.issues.append(
            make_issue(
                "external-links",
                "Tệp có công thức liên kết tới tệp khác; chỉ đọc giá trị đã lưu. "
                "Nên thay công thức bằng giá trị (Dán đặc biệt > Giá trị).",
                file=sub.file.path,
            )
        )
    cache: dict[str, list[list[Any]]] = {}
    uncached: dict[str, set[str]] = {}

    def sheet_rows(name: str) -> list[list[Any]]:
        if name not in cache:
            sheet = wb.get_sheet_by_name(name)
            if sheet.height * max(sheet.width, 1) > MAX_CELLS_PER_SHEET:
                raise ValueError(f"sheet {name} too large")
            cache[name] = sheet.to_python(skip_empty_area=False)
            part = contract.sheet_parts.get(name, "")
            uncached[name] = _uncached_formulas(zf, part) if part else set()
        return cache[name]

    for f in schema.fields:
        ref = contract.names.get(f.code)
        if ref is None:
            continue
        sheet, cell = ref
        if sheet not in sheet_names:
            continue
        rows = sheet_rows(sheet)
        sub.scalars[f.code] = Located(
            _value(rows, cell), sheet, cell, formula_no_cache=cell in uncached[sheet]
        )
    tables = set(wb.table_names or [])
    for lst in schema.lists:
        if lst.code not in tables:
            continue
        table = wb.get_table_by_name(lst.code)
        columns = [unicodedata.normalize("NFC", str(c)).strip() for c in table.columns or []]
        missing = [f.code for f in lst.fields if f.code not in columns]
        if missing:
            sub.issues.append(
                make_issue(
                    "structure-bad-table",
                    f"Bảng “{lst.title}” bị đổi tên hoặc xóa cột: {', '.join(missing)}. "
                    "Dùng lại biểu mẫu gốc của Sở.",
                    file=sub.file.path,
                    sheet=table.sheet,
                )
            )
        first_row, first_col = table.start or (0, 0)
        sheet_uncached = uncached.get(table.sheet)
        if sheet_uncached is None:
            sheet_rows(table.sheet)
            sheet_uncached = uncached[table.sheet]
        wanted = {f.code for f in lst.fields}
        out_rows = []
        for r, values in enumerate(table.to_python()):
            entry: dict[str, Located] = {}
            blank = True
            for c, code in enumerate(columns):
                if code not in wanted:
                    continue
                v = values[c] if c < len(values) else ""
                cell = f"{col_letter(first_col + c)}{first_row + r + 1}"
                nocache = cell in sheet_uncached
                if v != "" or nocache:
                    blank = False
                entry[code] = Located(None if v == "" else v, table.sheet, cell, nocache)
            # The people matrix always has its group filled in: a row is blank when every
            # other column is.
            if lst.fixed_field and all(
                loc.value is None for k, loc in entry.items() if k != lst.fixed_field
            ):
                blank = True
            if not blank:
                out_rows.append(entry)
        sub.lists[lst.code] = out_rows
    return sub


def _looks_encrypted(path: Path) -> bool:
    """Encrypted OOXML files are OLE compound documents holding an EncryptedPackage stream."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return False
    data = path.read_bytes()
    return "EncryptedPackage".encode("utf-16-le") in data


def _read_legacy(path: Path, sub: RawSubmission, schema: ReportSchema) -> RawSubmission:
    """.ods / .xls: convert a copy with LibreOffice, then read it like any .xlsx."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return _reject(
            sub,
            "file-unsupported-format",
            f"Tệp {path.suffix} cần LibreOffice để chuyển đổi nhưng máy chưa cài. "
            "Đề nghị đơn vị lưu lại dạng Excel (.xlsx) và gửi lại.",
        )
    with tempfile.TemporaryDirectory(prefix="xhht-convert-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / f"input{path.suffix.lower()}"
        shutil.copyfile(path, src)
        try:
            subprocess.run(
                [
                    soffice,
                    f"-env:UserInstallation=file://{tmpdir / 'profile'}",
                    "--headless",
                    "--convert-to",
                    "xlsx",
                    "--outdir",
                    str(tmpdir),
                    str(src),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            log.debug("conversion failed: %s: %s", path, exc)
            return _reject(
                sub,
                "file-unreadable",
                f"Không chuyển đổi được tệp {path.suffix}. Lưu lại dạng Excel (.xlsx) rồi gửi lại.",
            )
        converted = tmpdir / "input.xlsx"
        if not converted.exists():
            return _reject(
                sub,
                "file-unreadable",
                f"Không chuyển đổi được tệp {path.suffix}. Lưu lại dạng Excel (.xlsx) rồi gửi lại.",
            )
        result = _read_xlsx(converted, sub, schema)
    if not result.rejected:
        result.issues.append(
            make_issue(
                "legacy-format",
                f"Tệp {path.suffix} đã được chuyển sang .xlsx để đọc. Lần sau lưu dạng .xlsx.",
                file=sub.file.path,
            )
        )
    return result
