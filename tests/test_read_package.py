"""The package checks before calamine, and the package calamine is then handed.

tests/test_hostile.py covers whole hostile files end to end; these pin the pieces the
reader's speed rests on: the two-search measure of a plainly written sheet, the member
reader that replaces zipfile's, and the rebuilt package calamine opens.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import python_calamine as pc

import pipeline.read as read_mod
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import template_bytes
from tests.hostile_corpus import INFO_SHEET, edit_part, sheet_part
from tests.submission_factory import school_workbook


@pytest.fixture(scope="module")
def good(schemas: Schemas, registry: Registry, settings: Settings) -> bytes:
    return template_bytes(school_workbook(schemas, registry, settings))


def _read(
    tmp_path: Path, schemas: Schemas, data: bytes, name: str = "x.xlsx"
) -> tuple[bool, list[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    sub = read_submission(path, tmp_path, schemas.report)
    return sub.rejected, [i.code for i in sub.issues]


def _add_cells(good: bytes, cells: bytes) -> bytes:
    row = b'<row r="90">' + cells + b"</row></sheetData>"
    return edit_part(good, sheet_part(good, INFO_SHEET), lambda b: b.replace(b"</sheetData>", row))


def test_template_as_written_is_measured_by_the_quick_searches(
    tmp_path: Path, schemas: Schemas, good: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(data: bytes) -> read_mod._SheetShape:
        raise AssertionError("full measure of a plainly written sheet")

    monkeypatch.setattr(read_mod, "_sheet_shape", refuse)
    assert _read(tmp_path, schemas, good) == (False, [])


@pytest.mark.parametrize(
    "cell",
    [
        b'<c r="XFD1048576" t="n"><v>1</v></c>',  # plain syntax, far beyond Z9999
        b'<c r="A2000001" t="n"><v>1</v></c>',  # one column, too many rows
        b'<c r="ZZZ9999" t="n"><v>1</v></c>',
        b'<c s="0" r="XFD1048576" t="n"><v>1</v></c>',  # address not first
        b'<x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        b' r="XFD1048576" t="n"><x:v>1</x:v></x:c>',  # namespace prefix
        # Unaddressed: one column after an empty addressed cell, in the row last set.
        b'</row><row r="1048576"><c r="XFC1"></c><c t="n"><v>1</v></c>',
    ],
)
def test_far_cell_is_rejected_before_calamine(
    tmp_path: Path, schemas: Schemas, good: bytes, cell: bytes
) -> None:
    assert _read(tmp_path, schemas, _add_cells(good, cell)) == (True, ["file-too-large"])


@pytest.mark.parametrize(
    "cell",
    [
        b'<c r="Z9999" t="n"><v>1</v></c>',  # the edge of what the quick searches prove
        b'<c r="AB9999" t="n"><v>1</v></c>',  # past it: measured in full, still small
        b'<c r="A10000" t="n"><v>1</v></c>',
        b'<c r="XFD1048576" s="1"/>',  # formatting only: calamine keeps no cell
        b'<c r="XFD1048576" s="1" t="n"></c>',
    ],
)
def test_near_or_empty_cell_is_read(
    tmp_path: Path, schemas: Schemas, good: bytes, cell: bytes
) -> None:
    rejected, codes = _read(tmp_path, schemas, _add_cells(good, cell))
    assert not rejected and "file-too-large" not in codes


def _forge(data: bytes, member: str, size: int, crc: int) -> bytes:
    """Make a member declare `size` bytes and `crc`, in both of its headers."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(member).header_offset
    struct.pack_into("<I", raw, local + 14, crc)
    struct.pack_into("<I", raw, local + 22, size)
    name = member.encode()
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + n] == name:
            struct.pack_into("<I", raw, central + 16, crc)
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


def test_member_inflating_past_its_declared_size_is_refused(
    tmp_path: Path, schemas: Schemas, good: bytes
) -> None:
    # A CRC forged for the declared prefix passes zipfile, which cuts the member short,
    # while a reader that inflates to the end sees more: refused, whatever the CRC says.
    part = sheet_part(good, INFO_SHEET)
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        body = zf.read(part)
    forged = _forge(good, part, 100, zlib.crc32(body[:100]))
    with zipfile.ZipFile(io.BytesIO(forged)) as zf:
        assert zf.read(part) == body[:100]
    assert _read(tmp_path, schemas, forged) == (True, ["file-unreadable"])


def test_members_read_as_zipfile_reads_them(good: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        parts = read_mod._Parts(zf, good)
        for info in zf.infolist():
            assert parts.read(info) == zf.read(info)


def test_calamine_reads_the_rebuilt_package_as_it_reads_the_file(
    schemas: Schemas, good: bytes
) -> None:
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        package = read_mod._inspect(zf, good, schemas.report)
    file = pc.CalamineWorkbook.from_filelike(io.BytesIO(good), load_tables=True)
    rebuilt = pc.CalamineWorkbook.from_filelike(io.BytesIO(package.verified), load_tables=True)
    assert rebuilt.sheet_names == file.sheet_names
    assert rebuilt.table_names == file.table_names
    for name in file.sheet_names:
        # Sheets never measured are copied as found, compressed, and read just the same.
        expected = file.get_sheet_by_name(name).to_python(skip_empty_area=False)
        assert rebuilt.get_sheet_by_name(name).to_python(skip_empty_area=False) == expected
    for name in file.table_names or []:
        a, b = file.get_table_by_name(name), rebuilt.get_table_by_name(name)
        assert (a.sheet, a.start, a.columns, a.to_python()) == (
            b.sheet,
            b.start,
            b.columns,
            b.to_python(),
        )


# Each of these placed a valued cell at XFD1048576 past the measure before (calamine then
# aborted the process): the measure now reads cells the way calamine does.
@pytest.mark.parametrize(
    "cell",
    [
        b'<c\tr="XFD1048576" t="n"><v>1</v></c>',
        b'<c\nr="XFD1048576" t="n"><v>1</v></c>',
        b"<c r='XFD1048576' t='n'><v>1</v></c>",
        b'<c r="XFD1048576" t="n" x="a/b"><v>1</v></c>',
        b'<c r="xfd1048576" t="n"><v>1</v></c>',
        b'<c r="XFD0000000001048576" t="n"><v>1</v></c>',
        '<ä:c xmlns:ä="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        ' r="XFD1048576" t="n"><ä:v>1</ä:v></ä:c>'.encode(),
    ],
)
def test_far_cell_in_unusual_markup_is_rejected(
    tmp_path: Path, schemas: Schemas, good: bytes, cell: bytes
) -> None:
    assert _read(tmp_path, schemas, _add_cells(good, cell)) == (True, ["file-too-large"])


def test_unaddressed_cells_are_read(tmp_path: Path, schemas: Schemas, good: bytes) -> None:
    cells = b'<c r="A90"/>' + b"<c/>" * 20_000 + b'<c t="n"><v>1</v></c>'
    rejected, codes = _read(tmp_path, schemas, _add_cells(good, cells))
    assert not rejected and "file-too-large" not in codes


def test_parts_remembered_across_files_are_still_checked(
    tmp_path: Path, schemas: Schemas, good: bytes
) -> None:
    # The styles part is the same in every file of a template, so it is inflated once per
    # process; a file whose copy differs, even in its declared CRC alone, is checked anew.
    assert _read(tmp_path, schemas, good, "a.xlsx") == (False, [])
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        info = zf.getinfo("xl/styles.xml")
    assert read_mod._SHARED_PARTS
    wrong_crc = _forge(good, "xl/styles.xml", info.file_size, info.CRC ^ 1)
    assert _read(tmp_path, schemas, wrong_crc, "b.xlsx") == (True, ["file-unreadable"])
    assert _read(tmp_path, schemas, good, "c.xlsx") == (False, [])
