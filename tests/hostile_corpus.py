"""Hostile and broken input files, generated in code (nothing downloaded).

Each case writes one or more entries into an input folder and says what submissions.csv
must report for each: ``{display name: (status, reason code)}``. The same cases feed the
parametrised tests (one folder per case) and the whole-folder run (every case in one folder,
each on its own registry unit so that no two good files supersede each other).

Good files are filled templates (tests.submission_factory), changed afterwards the way a
user or a broken mailer would: through openpyxl, or by rewriting parts of the package XML
where openpyxl would repair what we want broken. Run as a script to write the corpus:

    .venv/bin/python -m tests.hostile_corpus /tmp/hostile
"""

from __future__ import annotations

import io
import os
import re
import struct
import sys
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.cell import range_boundaries
from openpyxl.workbook.workbook import Workbook

from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import template_bytes
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    school_workbook,
)

Expected = dict[str, tuple[str, str]]
"""Display name → (status, reason code)."""

PAYLOADS = (
    '=HYPERLINK("http://x","bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
)
"""Text a sender typed that a spreadsheet would run if it were written as a formula."""
MARKERS = ("HYPERLINK", "cmd|", "calc", "http://x", "@SUM")
"""Fragments of the payloads: no formula in any output may contain one."""

INFO_SHEET = "Thông tin chung"
INITIATIVES_SHEET = "Sáng kiến"
NOMINATIONS_SHEET = "Đề nghị khen thưởng"


@dataclass
class Context:
    """What building a case needs, and a supply of distinct school units."""

    schemas: Schemas
    registry: Registry
    settings: Settings
    outside: Path
    """A folder outside the input folder, for links that point out of it."""
    units: Iterator[str] = field(init=False)
    locked: list[Path] = field(default_factory=list)
    """Files a test must make unreadable (chmod 000, or a patched open when run as root)."""
    cache: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes = sorted(c for c, u in self.registry.units.items() if u.type == "high_school")
        self.units = iter(codes)

    def unit(self) -> str:
        return next(self.units)

    def workbook(
        self,
        unit: str,
        values: dict[str, Any] | None = None,
        lists: dict[str, list[dict[str, Any]]] | None = None,
    ) -> Workbook:
        # One nominee per unit: the same name from two units is a (cross-unit) warning.
        nominee = dict(CLEAN_NOMINATIONS[0], nominee_name=f"Trần Thị Đề Nghị {unit}")
        full = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": [nominee]}
        full.update(lists or {})
        wb = school_workbook(self.schemas, self.registry, self.settings, unit, values, full)
        # fill_template types list cells with openpyxl's default, which makes any text
        # starting with "=" a formula; a unit typing it gets text, as scalar cells do.
        for ws in wb.worksheets:
            for cell in list(ws._cells.values()):
                if cell.data_type == "f" and isinstance(cell.value, str):
                    cell.data_type = "s"
        return wb

    def good(self, unit: str | None = None) -> tuple[str, bytes]:
        """A clean filled template of a fresh unit, as bytes."""
        code = unit or self.unit()
        if code not in self.cache:
            self.cache[code] = template_bytes(self.workbook(code))
        return code, self.cache[code]


Builder = Callable[[Path, Context], Expected]


# ---------------------------------------------------------------------------------------------
# Package surgery


def rezip(
    data: bytes,
    edit: Callable[[str, bytes], bytes | None] = lambda name, part: part,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """Rewrite a package part by part; `edit` returns None to drop a part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            part = edit(info.filename, zin.read(info))
            if part is not None:
                zout.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
        for name, part in (extra or {}).items():
            zout.writestr(name, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def sheet_part(data: bytes, sheet: str) -> str:
    """The zip part holding `sheet` (via workbook.xml and its relationships)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        wb = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    m = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="(rId\d+)"', wb)
    assert m, sheet
    target = re.search(rf'Id="{m.group(1)}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'Target="([^"]+)"[^>]*Id="{m.group(1)}"', rels
    )
    assert target
    return "xl/" + target.group(1).lstrip("/").removeprefix("xl/")


def edit_part(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    return rezip(data, lambda name, body: change(body) if name == part else body)


def add_content_type(data: bytes, part: str, content_type: str) -> bytes:
    override = f'<Override PartName="/{part}" ContentType="{content_type}"/>'.encode()
    return edit_part(
        data, "[Content_Types].xml", lambda b: b.replace(b"</Types>", override + b"</Types>")
    )


def add_workbook_rel(data: bytes, rel_id: str, rel_type: str, target: str) -> bytes:
    rel = f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"/>'.encode()
    return edit_part(
        data,
        "xl/_rels/workbook.xml.rels",
        lambda b: b.replace(b"</Relationships>", rel + b"</Relationships>"),
    )


def set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Make a member claim an uncompressed size it does not have (a forged header)."""
    raw = bytearray(data)
    name = member.encode()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(member).header_offset
    struct.pack_into("<I", raw, local + 22, size)
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + n] == name:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


_TO_STRICT = (
    (
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    ),
    (
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
    ),
    (
        b"http://schemas.openxmlformats.org/drawingml/2006/main",
        b"http://purl.oclc.org/ooxml/drawingml/main",
    ),
)


def strict(data: bytes, report_date_cell: str) -> bytes:
    """A package as Excel's "Strict Open XML Spreadsheet" writes it: every part under the
    ISO 29500 Strict namespaces, the workbook marked conformance="strict", and dates as ISO
    8601 values (``t="d"``), which Strict uses instead of serial numbers."""
    sheet, cell = report_date_cell.split("!")
    date_part = sheet_part(data, sheet)

    def edit(name: str, body: bytes) -> bytes:
        if name == date_part:
            iso = CLEAN_SCHOOL["report_date"].strftime("%Y-%m-%dT%H:%M:%S").encode()
            body, n = re.subn(
                rb'<c r="' + cell.encode() + rb'"([^>]*?) t="n"([^>]*)><v>[^<]*</v></c>',
                rb'<c r="' + cell.encode() + rb'"\1 t="d"\2><v>' + iso + rb"</v></c>",
                body,
            )
            assert n == 1
        if name.endswith((".xml", ".rels")):
            for old, new in _TO_STRICT:
                body = body.replace(old, new)
        if name == "xl/workbook.xml":
            body = body.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
        return body

    return rezip(data, edit)


def with_error_cell(data: bytes, sheet: str, cell: str, body: str) -> bytes:
    """Replace a cell by an error cell as Excel writes it, ``<c r=".." t="e">body</c>``."""
    part = sheet_part(data, sheet)

    def change(xml: bytes) -> bytes:
        pattern = rb'<c r="' + cell.encode() + rb'"[^>]*?(?:/>|>.*?</c>)'
        element = f'<c r="{cell}" t="e">{body}</c>'.encode()
        new, n = re.subn(pattern, element, xml, count=1, flags=re.S)
        assert n == 1, cell
        return new

    return edit_part(data, part, change)


def write(folder: Path, name: str, data: bytes) -> str:
    """Write a file (name may hold sub-folders) and return its display name."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return unicodedata.normalize("NFC", name)


# ---------------------------------------------------------------------------------------------
# Cases: files that are not workbooks


def zero_byte(folder: Path, ctx: Context) -> Expected:
    return {write(folder, "rong.xlsx", b""): ("rejected", "file-empty")}


def truncated_zip(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    return {write(folder, "bi-cat.xlsx", good[: len(good) // 2]): ("rejected", "file-unreadable")}


def corrupt_zip(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    raw = bytearray(good)
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        info = zf.getinfo(sheet_part(good, INFO_SHEET))
    start = info.header_offset + 30 + len(info.filename.encode()) + 200
    for k in range(start, start + 64):
        raw[k] ^= 0x5A
    return {write(folder, "hong-du-lieu.xlsx", bytes(raw)): ("rejected", "file-unreadable")}


def forged_size(folder: Path, ctx: Context) -> Expected:
    """A member declaring fewer bytes than it inflates to: calamine must never see it."""
    _, good = ctx.good()
    forged = set_declared_size(good, sheet_part(good, INFO_SHEET), 100)
    return {write(folder, "khai-sai-kich-thuoc.xlsx", forged): ("rejected", "file-unreadable")}


def csv_renamed(folder: Path, ctx: Context) -> Expected:
    text = "STT,Nội dung,Số lượng\n1,Số hoạt động tuyên truyền,5\n"
    return {write(folder, "bang-csv.xlsx", text.encode()): ("rejected", "file-wrong-content")}


def html_renamed(folder: Path, ctx: Context) -> Expected:
    page = "<html><head><meta charset='utf-8'></head><body><table><tr><td>Số liệu</td></tr>"
    page += "</table></body></html>"
    return {write(folder, "xuat-tu-web.xlsx", page.encode()): ("rejected", "file-wrong-content")}


def pdf_renamed(folder: Path, ctx: Context) -> Expected:
    data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    return {write(folder, "ban-in.xlsx", data): ("rejected", "file-wrong-content")}


def docx_renamed(folder: Path, ctx: Context) -> Expected:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return {write(folder, "van-ban.xlsx", out.getvalue()): ("rejected", "file-wrong-content")}


def encrypted(folder: Path, ctx: Context) -> Expected:
    """What Excel writes for a password-protected workbook: an OLE compound file holding
    EncryptionInfo and EncryptedPackage streams (header and directory names only)."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHH", header, 24, 0x3E, 3, 0xFFFE)
    directory = b""
    for name in ("Root Entry", "EncryptionInfo", "EncryptedPackage"):
        encoded = (name + "\0").encode("utf-16-le")
        directory += encoded.ljust(64, b"\0") + struct.pack("<H", len(encoded)) + bytes(62)
    data = bytes(header) + directory.ljust(512, b"\0") + os.urandom(2048)
    return {write(folder, "co-mat-khau.xlsx", data): ("rejected", "file-encrypted")}


def xlsb(folder: Path, ctx: Context) -> Expected:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
    return {
        write(folder, "nhi-phan.xlsb", out.getvalue()): ("rejected", "file-unsupported-format"),
        write(folder, "nhi-phan-doi-ten.xlsx", out.getvalue()): (
            "rejected",
            "file-unsupported-format",
        ),
    }


def other_formats(folder: Path, ctx: Context) -> Expected:
    return {
        write(folder, "anh-chup.jpg", b"\xff\xd8\xff\xe0" + bytes(64)): (
            "rejected",
            "file-unsupported-format",
        ),
        write(folder, "ghi-chu.txt", "Gửi Sở báo cáo".encode()): (
            "rejected",
            "file-unsupported-format",
        ),
    }


def not_a_template(folder: Path, ctx: Context) -> Expected:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "Bảng kê tự làm"
    ws["A2"] = "=cmd|' /C calc'!A0"
    return {write(folder, "tu-lam.xlsx", template_bytes(wb)): ("rejected", "not-a-template")}


# ---------------------------------------------------------------------------------------------
# Cases: zip bombs and huge sheets


def zip_bomb(folder: Path, ctx: Context) -> Expected:
    """A real template plus a member of 160 MB of zeros (160 kB compressed)."""
    _, good = ctx.good()
    out = io.BytesIO(good)
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as zf,
        zf.open("xl/media/x.bin", "w") as fh,
    ):
        block = bytes(1 << 20)
        for _ in range(160):
            fh.write(block)
    return {write(folder, "bom-nen.xlsx", out.getvalue()): ("rejected", "file-too-large")}


def cell_bomb(folder: Path, ctx: Context) -> Expected:
    """Two cells, one at XFD1048576: calamine would allocate 17 billion cells."""
    _, good = ctx.good()
    far = b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
    data = edit_part(good, sheet_part(good, INFO_SHEET), lambda b: b.replace(b"</sheetData>", far))
    return {write(folder, "o-xa.xlsx", data): ("rejected", "file-too-large")}


def table_bomb(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()

    def grow(name: str, part: bytes) -> bytes:
        if name.startswith("xl/tables/") and b'name="people"' in part:
            return re.sub(rb'ref="[A-Z]+\d+:[A-Z]+\d+"', b'ref="B5:XFD1048576"', part)
        return part

    return {write(folder, "bang-khong-lo.xlsx", rezip(good, grow)): ("rejected", "file-too-large")}


def blank_rows(folder: Path, ctx: Context) -> Expected:
    """A million formatted blank rows after the data (40 MB of XML): read, not rejected."""
    _, good = ctx.good()
    rows = b"".join(b'<row r="%d" s="1" customFormat="1"/>' % r for r in range(100, 1_048_577))

    def change(body: bytes) -> bytes:
        body = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:E1048576"/>', body)
        return body.replace(b"</sheetData>", rows + b"</sheetData>")

    data = edit_part(good, sheet_part(good, INFO_SHEET), change)
    return {write(folder, "dong-trong.xlsx", data): ("accepted", "")}


def blank_columns(folder: Path, ctx: Context) -> Expected:
    """Formatting out to column XFD on every row: empty cells, a huge used range."""
    _, good = ctx.good()

    def change(body: bytes) -> bytes:
        body = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD63"/>', body)
        body = re.sub(
            rb'(<row r="(\d+)"[^>]*>)(.*?)</row>',
            lambda m: (
                m.group(1)
                + m.group(3)
                + b"".join(b'<c r="%s%s" s="1"/>' % (c, m.group(2)) for c in (b"XFA", b"XFD"))
                + b"</row>"
            ),
            body,
            flags=re.S,
        )
        return body.replace(b"</cols>", b'<col min="6" max="16384" width="9" style="1"/></cols>')

    data = edit_part(good, sheet_part(good, INFO_SHEET), change)
    return {write(folder, "cot-trong.xlsx", data): ("accepted", "")}


# ---------------------------------------------------------------------------------------------
# Cases: what users do to a template


def _rename_sheet(data: bytes, old: str, new: str) -> bytes:
    """Rename a sheet the way Excel does: the names that point at it follow."""
    esc_old, esc_new = old.replace("'", "''"), new.replace("'", "''")

    def change(name: str, body: bytes) -> bytes:
        if name != "xl/workbook.xml":
            return body
        text = body.decode()
        text = text.replace(f'name="{old}"', f'name="{_xml(new)}"')
        text = text.replace(f"'{_xml(esc_old)}'!", f"'{_xml(esc_new)}'!")
        return text.encode()

    return rezip(data, change)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def sheets_renamed(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    data = _rename_sheet(good, INFO_SHEET, "TT chung (trường's)")
    data = _rename_sheet(data, INITIATIVES_SHEET, "SK")
    return {write(folder, "doi-ten-trang.xlsx", data): ("accepted", "")}


def sheets_reordered(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()

    def change(name: str, body: bytes) -> bytes:
        if name != "xl/workbook.xml":
            return body
        sheets = re.findall(rb"<sheet [^>]*/>", body)
        order = [sheets[i] for i in (4, 2, 0, 6, 3, 1, 5)]
        new = re.sub(rb"(<sheets>).*(</sheets>)", lambda m: m.group(1) + b"".join(order)
                     + m.group(2), body, flags=re.S)  # fmt: skip
        # Excel renumbers sheet-scoped names with the sheets.
        position = {sheets.index(s): order.index(s) for s in sheets}
        return re.sub(
            rb'localSheetId="(\d+)"',
            lambda m: b'localSheetId="%d"' % position[int(m.group(1))],
            new,
        )

    return {write(folder, "dao-thu-tu-trang.xlsx", rezip(good, change)): ("accepted", "")}


def _delete_sheet(data: bytes, sheet: str) -> bytes:
    part = sheet_part(data, sheet)

    def change(name: str, body: bytes) -> bytes | None:
        if name == part:
            return None
        if name == "xl/workbook.xml":
            text = body.decode()
            text = re.sub(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*/>', "", text)
            # Excel turns references to a deleted sheet into #REF!.
            text = re.sub(rf"'{re.escape(sheet)}'!", "#REF!", text)
            return text.encode()
        return body

    return rezip(data, change)


def sheet_deleted(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    data = _delete_sheet(good, NOMINATIONS_SHEET)
    return {
        write(folder, "xoa-trang.xlsx", data): ("accepted_with_warnings", "structure-missing-table")
    }


def meta_deleted(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    data = _delete_sheet(good, "_meta")
    return {write(folder, "xoa-trang-an.xlsx", data): ("rejected", "not-a-template")}


def names_broken(folder: Path, ctx: Context) -> Expected:
    """Copy-paste between workbooks: some names now point at #REF! or another workbook."""
    _, good = ctx.good()

    broken = {
        "reporter_title": f"'{INFO_SHEET}'!#REF!",
        "head_of_unit": "#REF!",
        "news_items": "[1]Sheet1!$D$20",
    }

    def change(name: str, body: bytes) -> bytes:
        if name != "xl/workbook.xml":
            return body
        text = body.decode()
        for code, ref in broken.items():
            start = f'<definedName name="{code}">'
            text = re.sub(rf"{re.escape(start)}[^<]*", (start + ref).replace("\\", "\\\\"), text)
        return text.encode()

    data = rezip(good, change)
    return {
        write(folder, "hong-ten-o.xlsx", data): ("accepted_with_warnings", "structure-missing-name")
    }


def insert_table_row(wb: Workbook, table: str, before_offset: int) -> int:
    """Insert a sheet row inside a table as Excel does; return the new row's number."""
    for ws in wb.worksheets:
        if table in ws.tables:
            t = ws.tables[table]
            _, min_row, max_col, max_row = range_boundaries(t.ref)
            at = min_row + before_offset
            ws.insert_rows(at)
            t.ref = (
                f"{t.ref.split(':')[0]}:{openpyxl.utils.get_column_letter(max_col)}{max_row + 1}"
            )
            if t.autoFilter is not None:
                t.autoFilter.ref = t.ref
            return at
    raise KeyError(table)


def row_inserted(folder: Path, ctx: Context) -> Expected:
    code = ctx.unit()
    wb = ctx.workbook(code)
    ws = wb[INITIATIVES_SHEET]
    at = insert_table_row(wb, "initiatives", 1)  # between the header and the first entry
    header_row = at - 1
    header = [c.value for c in ws[header_row]]
    for fld, value in {
        "title": "Sáng kiến chèn giữa bảng",
        "domain": "Thư viện",
        "authors": "Ngô Văn Nam",
        "level": "Cấp cơ sở",
        "year": 2026,
        "decision": "16/QĐ-THPT",
    }.items():
        ws.cell(row=at, column=header.index(fld) + 1).value = value
    return {write(folder, "chen-dong.xlsx", template_bytes(wb)): ("accepted", "")}


def extra_sheets(folder: Path, ctx: Context) -> Expected:
    code = ctx.unit()
    wb = ctx.workbook(code)
    notes = wb.create_sheet("Ghi chú riêng", 0)
    notes["A1"] = "Bảng nháp của đơn vị"
    notes["B2"] = "=SUM(1,2)"
    wb.create_sheet("Sheet1")["C3"] = 42
    wb.create_sheet("_meta (2)")["A1"] = "template_id"
    return {write(folder, "them-trang.xlsx", template_bytes(wb)): ("accepted", "")}


def macros(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    data = rezip(good, extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"Attribute VB_Name" * 8})
    data = add_content_type(data, "xl/vbaProject.bin", "application/vnd.ms-office.vbaProject")
    data = add_workbook_rel(
        data,
        "rIdVba",
        "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
        "vbaProject.bin",
    )
    data = edit_part(
        data,
        "[Content_Types].xml",
        lambda b: b.replace(
            b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        ),
    )
    return {write(folder, "co-macro.xlsm", data): ("accepted", "macros-ignored")}


def with_external_link(data: bytes, target: str, extra: dict[str, bytes] | None = None) -> bytes:
    """The package `data` with a link to the workbook `target` (as Excel saves one), and any
    `extra` parts; the cells that use the link are the caller's to write."""
    link = (
        b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships" r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames>'
        b"</externalBook></externalLink>"
    )
    rels = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/externalLinkPath" Target="' + target.encode() + b'" '
        b'TargetMode="External"/></Relationships>'
    )
    data = rezip(
        data,
        extra={
            "xl/externalLinks/externalLink1.xml": link,
            "xl/externalLinks/_rels/externalLink1.xml.rels": rels,
            **(extra or {}),
        },
    )
    data = add_content_type(
        data,
        "xl/externalLinks/externalLink1.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
    )
    return add_workbook_rel(
        data,
        "rIdExt1",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink",
        "externalLinks/externalLink1.xml",
    )


def external_links(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    data = with_external_link(good, "file:///C:/bao-cao-nam-truoc.xlsx")
    return {
        write(folder, "lien-ket-ngoai.xlsx", data): ("accepted_with_warnings", "external-links")
    }


def injection(folder: Path, ctx: Context) -> Expected:
    """Formula and DDE text typed into every kind of text cell, plus a real formula."""
    code = ctx.unit()
    values = dict(CLEAN_SCHOOL)
    text_fields = ("results_summary", "difficulties", "proposals", "reporter_title",
                   "steering_committee_decision", "annual_plan_number", "head_of_unit")  # fmt: skip
    for fld, payload in zip(text_fields, PAYLOADS, strict=True):
        values[fld] = payload
    values["campaign_events"] = "mười hai"  # an error, so a feedback copy is written
    initiatives = [dict(CLEAN_INITIATIVES[0], title=PAYLOADS[1], authors=PAYLOADS[0])]
    nominations = [
        dict(
            CLEAN_NOMINATIONS[0],
            nominee_name="Lê Văn Tiêm",
            achievements=PAYLOADS[0],
            position=PAYLOADS[4],
        )
    ]
    wb = ctx.workbook(code, values, {"initiatives": initiatives, "nominations": nominations})
    # A real formula in a cell of the unit's own (not typed as text): the feedback copy must
    # not carry it back live.
    dest = next(iter(wb.defined_names["reporter_name"].destinations))
    wb[dest[0]][dest[1].replace("$", "")].value = '=HYPERLINK("http://x","bấm vào đây")'
    return {write(folder, "=cmd|' calc'!A0.xlsx", template_bytes(wb)): (
        "accepted_with_warnings", "formula-no-cache")}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Cases: the folder itself


def locked(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    name = write(folder, "dang-mo.xlsx", good)
    ctx.locked.append(folder / name)
    return {name: ("rejected", "file-locked")}


def duplicate(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    first, second = "ban-sao.xlsx", "ban-sao - Copy.xlsx"
    write(folder, first, good)
    write(folder, second, good)
    # The copy sorting first is kept (resolve_resubmissions orders by path).
    kept, dup = sorted([first, second])
    return {kept: ("accepted", ""), dup: ("superseded", "file-duplicate")}


def name_nfd(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    name = unicodedata.normalize("NFD", "Báo cáo trường Nguyễn Huệ.xlsx")
    return {write(folder, name, good): ("accepted", "")}


def name_spaces(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    return {write(folder, " báo  cáo   (bản cuối) .xlsx", good): ("accepted", "")}


def name_long(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    stem = "Báo cáo phong trào thi đua xây dựng xã hội học tập của trường trung học phổ thông "
    name = (stem * 3)[:200].rstrip()
    while len(name.encode()) > 245:
        name = name[:-1]
    return {write(folder, name + ".xlsx", good): ("accepted", "")}


def name_not_utf8(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    raw = os.path.join(os.fsencode(folder), b"b\xe1o-c\xe1o-cp1258.xlsx")
    with open(raw, "wb") as fh:
        fh.write(good)
    return {"b\\xe1o-c\\xe1o-cp1258.xlsx": ("accepted", "")}


def sub_folder(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    (folder / "thư mục trống").mkdir(parents=True, exist_ok=True)
    return {write(folder, "thư mục con/báo cáo.xlsx", good): ("accepted", "")}


def symlinks(folder: Path, ctx: Context) -> Expected:
    _, good = ctx.good()
    target = write(folder, "goc.xlsx", good)
    ctx.outside.mkdir(parents=True, exist_ok=True)
    _, other = ctx.good()
    (ctx.outside / "ngoai.xlsx").write_bytes(other)
    os.symlink("goc.xlsx", folder / "z-lien-ket-trong.xlsx")
    os.symlink(ctx.outside / "ngoai.xlsx", folder / "lien-ket-ngoai-thu-muc.xlsx")
    os.symlink(folder / "khong-ton-tai.xlsx", folder / "lien-ket-hong.xlsx")
    os.symlink(ctx.outside, folder / "lien-ket-thu-muc")
    return {
        target: ("accepted", ""),
        "z-lien-ket-trong.xlsx": ("superseded", "file-duplicate"),
        "lien-ket-ngoai-thu-muc.xlsx": ("rejected", "file-symlink"),
        "lien-ket-hong.xlsx": ("rejected", "file-symlink"),
        "lien-ket-thu-muc": ("rejected", "file-symlink"),
    }


def lock_files(folder: Path, ctx: Context) -> Expected:
    owner = b"\x0bNguyen Van A" + bytes(150)
    return {
        write(folder, "~$bao-cao.xlsx", owner): ("rejected", "file-temporary"),
        write(folder, ".~lock.bao-cao.xlsx#", b"Nguyen Van A,may-tinh,01.12.2026 08:00;"): (
            "rejected",
            "file-temporary",
        ),
    }


def fifo(folder: Path, ctx: Context) -> Expected:
    os.mkfifo(folder / "ong-dan.xlsx")
    return {"ong-dan.xlsx": ("rejected", "file-unreadable")}


# ---------------------------------------------------------------------------------------------
# Cases: what calamine's values do not show


def archives(folder: Path, ctx: Context) -> Expected:
    folder_zip = io.BytesIO()
    with zipfile.ZipFile(folder_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Trường A.xlsx", ctx.good()[1])
        zf.writestr("Trường B.xlsx", ctx.good()[1])
    return {
        write(folder, "bao-cao-cum-truong.zip", folder_zip.getvalue()): (
            "rejected",
            "file-archive",
        ),
        write(folder, "bao-cao.rar", b"Rar!\x1a\x07\x01\x00" + bytes(64)): (
            "rejected",
            "file-archive",
        ),
    }


def strict_open_xml(folder: Path, ctx: Context) -> Expected:
    wb = ctx.workbook(ctx.unit())
    data = strict(template_bytes(wb), cell_of(wb, "report_date"))
    return {write(folder, "strict.xlsx", data): ("accepted", "strict-open-xml")}


def typed_outside(folder: Path, ctx: Context) -> Expected:
    wb = ctx.workbook(ctx.unit())
    ws = wb[INITIATIVES_SHEET]
    first_col, header, last_col, last_row = range_boundaries(ws.tables["initiatives"].ref)
    column = {ws.cell(header, c).value: c for c in range(first_col, last_col + 1)}
    typed = {"title": "Sáng kiến nhập dưới bảng", "level": "Cấp cơ sở", "decision": "21/QĐ"}
    for code, value in typed.items():
        ws.cell(last_row + 1, column[code], value)
    return {
        write(folder, "duoi-bang.xlsx", template_bytes(wb)): (
            "accepted_with_warnings",
            "row-outside-table",
        )
    }


def formula_errors(folder: Path, ctx: Context) -> Expected:
    wb = ctx.workbook(ctx.unit())
    sheet, cell = cell_of(wb, "campaign_events").split("!")
    data = with_error_cell(template_bytes(wb), sheet, cell, "<f>1/0</f><v>#DIV/0!</v>")
    return {write(folder, "loi-cong-thuc.xlsx", data): ("accepted_with_warnings", "formula-error")}


CASES: dict[str, Builder] = {
    "zero-byte": zero_byte,
    "truncated-zip": truncated_zip,
    "corrupt-zip": corrupt_zip,
    "forged-size": forged_size,
    "csv-renamed": csv_renamed,
    "html-renamed": html_renamed,
    "pdf-renamed": pdf_renamed,
    "docx-renamed": docx_renamed,
    "encrypted": encrypted,
    "xlsb": xlsb,
    "other-formats": other_formats,
    "not-a-template": not_a_template,
    "zip-bomb": zip_bomb,
    "cell-bomb": cell_bomb,
    "table-bomb": table_bomb,
    "blank-rows": blank_rows,
    "blank-columns": blank_columns,
    "sheets-renamed": sheets_renamed,
    "sheets-reordered": sheets_reordered,
    "sheet-deleted": sheet_deleted,
    "meta-deleted": meta_deleted,
    "names-broken": names_broken,
    "row-inserted": row_inserted,
    "extra-sheets": extra_sheets,
    "macros": macros,
    "external-links": external_links,
    "injection": injection,
    "locked": locked,
    "duplicate": duplicate,
    "name-nfd": name_nfd,
    "name-spaces": name_spaces,
    "name-long": name_long,
    "name-not-utf8": name_not_utf8,
    "sub-folder": sub_folder,
    "symlinks": symlinks,
    "lock-files": lock_files,
    "fifo": fifo,
    "archives": archives,
    "strict-open-xml": strict_open_xml,
    "typed-outside": typed_outside,
    "formula-errors": formula_errors,
}


def build_all(folder: Path, ctx: Context) -> Expected:
    """Every case in one folder (the whole-folder run)."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: Expected = {}
    for build in CASES.values():
        expected.update(build(folder, ctx))
    return expected


def main(argv: list[str]) -> None:
    from pipeline.registry import load_registry
    from pipeline.schema import DEFAULT_SCHEMA_DIR, load_schemas
    from pipeline.settings import DEFAULT_SETTINGS, load_settings

    root = Path(__file__).resolve().parent.parent
    folder = Path(argv[0]) if argv else Path("hostile")
    schemas = load_schemas(DEFAULT_SCHEMA_DIR)
    ctx = Context(
        schemas,
        load_registry(root / "registry" / "units.csv", schemas.report),
        load_settings(DEFAULT_SETTINGS),
        outside=folder.parent / f"{folder.name}-ngoai",
    )
    expected = build_all(folder, ctx)
    for path in ctx.locked:
        path.chmod(0)  # unreadable for anyone but root
    for name, (status, code) in sorted(expected.items()):
        print(f"{status:24} {code:26} {name!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
