"""The unit registry (registry/units.csv + areas.csv) as the department edits it in Excel.

The sample registry loads; a registry of communes and wards (the tier after 1 July 2025)
loads and behaves the same, so the tier is data, not code; broken registries stop the run
with a Vietnamese RegistryError naming the file and the line; the ways Excel saves CSV
(BOM, ';' delimiter, CRLF, the Windows Vietnamese code page 1258) all load.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.errors import RegistryError
from pipeline.read import read_submission
from pipeline.registry import Area, CodeMatch, Registry, Unit, load_registry, normalise_code
from pipeline.run import consolidate
from pipeline.samples import fill_template
from pipeline.schema import ReportSchema, Schemas, load_report_schema
from pipeline.settings import Settings
from pipeline.templates import build_template
from tests.libreoffice import convert
from tests.submission_factory import (
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
    set_meta,
)

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_DIR = ROOT / "registry"
SCHOOL_TYPES = {"high_school", "multi_level_school", "affiliated_unit"}
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)

AREAS_HEADER = "code,name,kind\n"
UNITS_HEADER = "code,name,type,area_code,email\n"


@pytest.fixture(scope="module")
def schema() -> ReportSchema:
    return load_report_schema(ROOT / "schemas" / "report.yaml")


@pytest.fixture(scope="module")
def sample(schema: ReportSchema) -> Registry:
    return load_registry(REGISTRY_DIR / "units.csv", schema)


def write(folder: Path, units: str, areas: str, encoding: str = "utf-8") -> Path:
    (folder / "areas.csv").write_bytes(areas.encode(encoding))
    (folder / "units.csv").write_bytes(units.encode(encoding))
    return folder / "units.csv"


def check_invariants(registry: Registry, schema: ReportSchema) -> None:
    """What the rest of the pipeline relies on, whatever the tier of the areas."""
    offices = Counter(u.area_code for u in registry.units.values() if u.type == "area_office")
    for code in registry.areas:
        assert offices[code] == 1, f"địa bàn {code} có {offices[code]} phòng"
    for unit in registry.units.values():
        area = registry.area_of(unit)
        assert unit in registry.units_in(area.code)
        assert schema.variant_for_unit_type(unit.type).code == (
            "area_office" if unit.type == "area_office" else "school"
        )
        for text in (unit.code, unit.name, unit.type, unit.area_code, unit.email):
            assert text == text.strip() and unicodedata.is_normalized("NFC", text)
    assert sum(len(registry.units_in(a)) for a in registry.areas) == len(registry.units)


def assert_vietnamese(message: str) -> None:
    assert VIETNAMESE_LETTERS.search(message), message
    assert unicodedata.is_normalized("NFC", message), message


# --------------------------------------------------------------------------- sample data


def test_sample_registry(sample: Registry, schema: ReportSchema) -> None:
    assert 12 <= len(sample.areas) <= 20  # about 15 districts in the sample city
    schools = [u for u in sample.units.values() if u.type in SCHOOL_TYPES]
    assert len(schools) >= 100
    assert {u.type for u in schools} == SCHOOL_TYPES
    check_invariants(sample, schema)
    for unit in sample.units.values():
        assert "@" in unit.email, unit.code
    kinds = {a.kind for a in sample.areas.values()}
    assert kinds <= {"quận", "huyện", "thị xã", "thành phố"}


def test_sample_keeps_names_with_commas(sample: Registry) -> None:
    assert any("," in u.name for u in sample.units.values())


def test_areas_path_can_be_given(sample: Registry, schema: ReportSchema, tmp_path: Path) -> None:
    units = tmp_path / "don-vi.csv"
    units.write_bytes((REGISTRY_DIR / "units.csv").read_bytes())
    loaded = load_registry(units, schema, areas_path=REGISTRY_DIR / "areas.csv")
    assert loaded == sample


# --------------------------------------------------------------------------- communes and wards

WARD_AREAS = (
    AREAS_HEADER
    + "P01,Phường Bến Nghé,phường\n"
    + "P02,Phường Sài Gòn,phường\n"
    + "X01,Xã Bình Chánh,xã\n"
    + "X02,Xã Cần Giờ,xã\n"
    + "DK1,Đặc khu Côn Đảo,đặc khu\n"
)
WARD_UNITS = (
    UNITS_HEADER
    + "VHXH-P01,Phòng Văn hóa - Xã hội phường Bến Nghé,area_office,P01,vhxh.p01@mau.gov.vn\n"
    + "VHXH-P02,Phòng Văn hóa - Xã hội phường Sài Gòn,area_office,P02,vhxh.p02@mau.gov.vn\n"
    + "VHXH-X01,Phòng Văn hóa - Xã hội xã Bình Chánh,area_office,X01,vhxh.x01@mau.gov.vn\n"
    + "VHXH-X02,Phòng Văn hóa - Xã hội xã Cần Giờ,area_office,X02,vhxh.x02@mau.gov.vn\n"
    + "VHXH-DK1,Phòng Văn hóa - Xã hội đặc khu Côn Đảo,area_office,DK1,vhxh.dk1@mau.gov.vn\n"
    + "THPT-01,Trường THPT Trưng Vương,high_school,P01,thpt01@mau.gov.vn\n"
    + "THPT-02,Trường THPT Bùi Thị Xuân,high_school,P01,thpt02@mau.gov.vn\n"
    + "THPT-03,Trường THPT Bình Chánh,high_school,X01,thpt03@mau.gov.vn\n"
    + "THPT-04,Trường THPT Cần Thạnh,high_school,X02,thpt04@mau.gov.vn\n"
    + 'PT-01,"Trường TH, THCS và THPT Côn Đảo",multi_level_school,DK1,pt01@mau.gov.vn\n'
    + "TT-01,Trung tâm Giáo dục thường xuyên thành phố,affiliated_unit,P02,tt01@mau.gov.vn\n"
)


def test_commune_and_ward_registry(schema: ReportSchema, tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, WARD_UNITS, WARD_AREAS), schema)
    assert {a.kind for a in registry.areas.values()} == {"phường", "xã", "đặc khu"}
    assert len(registry.areas) == 5
    assert len(registry.units) == 11
    check_invariants(registry, schema)
    office = registry.units["VHXH-P01"]
    assert office.name == "Phòng Văn hóa - Xã hội phường Bến Nghé"
    assert office.type == "area_office"
    assert registry.area_of(office).name == "Phường Bến Nghé"
    assert registry.area_of(office).kind == "phường"
    assert {u.code for u in registry.units_in("P01")} == {"VHXH-P01", "THPT-01", "THPT-02"}
    assert registry.units["PT-01"].name == "Trường TH, THCS và THPT Côn Đảo"


def test_same_shape_as_district_registry(
    sample: Registry, schema: ReportSchema, tmp_path: Path
) -> None:
    """Rename every district of the sample to a ward: nothing but the names changes."""
    areas = (REGISTRY_DIR / "areas.csv").read_text(encoding="utf-8-sig")
    areas = re.sub(r",(quận|huyện|thị xã)$", ",phường", areas, flags=re.M)
    areas = re.sub(r",(Quận|Huyện|Thị xã) ", ",Phường ", areas)
    units = (REGISTRY_DIR / "units.csv").read_text(encoding="utf-8-sig")
    units = re.sub(
        r"Phòng Giáo dục và Đào tạo (quận|huyện|thị xã) ", "Phòng Văn hóa - Xã hội phường ", units
    )
    wards = load_registry(write(tmp_path, units, areas), schema)
    assert {a.kind for a in wards.areas.values()} == {"phường"}
    assert set(wards.units) == set(sample.units)
    assert set(wards.areas) == set(sample.areas)
    for code, unit in wards.units.items():
        assert (unit.type, unit.area_code, unit.email) == (
            sample.units[code].type,
            sample.units[code].area_code,
            sample.units[code].email,
        )
        if unit.type == "area_office":
            assert unit.name.startswith("Phòng Văn hóa - Xã hội phường ")
    check_invariants(wards, schema)


# --------------------------------------------------------------------------- broken registries

GOOD_AREAS = AREAS_HEADER + "Q01,Quận Một,quận\nH01,Huyện Hai,huyện\n"
GOOD_UNITS = (
    UNITS_HEADER
    + "PGD-Q01,Phòng GDĐT quận Một,area_office,Q01,a@x.vn\n"
    + "PGD-H01,Phòng GDĐT huyện Hai,area_office,H01,b@x.vn\n"
    + "THPT-01,Trường THPT Một,high_school,Q01,c@x.vn\n"
)

# (id, units.csv, areas.csv, file named, substrings of the message)
BROKEN: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    (
        "duplicate-unit-code",
        GOOD_UNITS + "THPT-01,Trường THPT Một bis,high_school,H01,d@x.vn\n",
        GOOD_AREAS,
        "units.csv",
        ("dòng 5", "“THPT-01”", "trùng", "dòng 4"),
    ),
    (
        "unknown-type",
        GOOD_UNITS + "THPT-02,Trường Chuyên,truong_chuyen,H01,d@x.vn\n",
        GOOD_AREAS,
        "units.csv",
        ("dòng 5", "“truong_chuyen”", "high_school", "Trường THPT"),
    ),
    (
        "unit-area-missing",
        GOOD_UNITS + "THPT-02,Trường THPT Hai,high_school,X99,d@x.vn\n",
        GOOD_AREAS,
        "units.csv",
        ("dòng 5", "“THPT-02”", "“X99”", "areas.csv"),
    ),
    (
        "missing-unit-code",
        GOOD_UNITS + ",Trường THPT Hai,high_school,H01,d@x.vn\n",
        GOOD_AREAS,
        "units.csv",
        ("dòng 5", "thiếu mã đơn vị"),
    ),
    (
        "units-missing-column",
        GOOD_UNITS.replace(",email", "").replace(",a@x.vn", "").replace(",b@x.vn", ""),
        GOOD_AREAS,
        "units.csv",
        ("thiếu cột", "email", "dòng tiêu đề"),
    ),
    (
        "areas-missing-column",
        GOOD_UNITS,
        GOOD_AREAS.replace(",kind", "").replace(",quận", "").replace(",huyện", ""),
        "areas.csv",
        ("thiếu cột", "kind", "dòng tiêu đề"),
    ),
    (
        "duplicate-area-code",
        GOOD_UNITS,
        GOOD_AREAS + "Q01,Quận Một (trùng),quận\n",
        "areas.csv",
        ("dòng 4", "“Q01”", "trùng", "dòng 2"),
    ),
    (
        "missing-area-code",
        GOOD_UNITS,
        GOOD_AREAS + ",Xã Ba,xã\n",
        "areas.csv",
        ("dòng 4", "thiếu mã địa bàn"),
    ),
    (
        "no-units",
        UNITS_HEADER,
        GOOD_AREAS,
        "units.csv",
        ("không có đơn vị nào",),
    ),
    (
        # Excel leaves blank lines and rows of empty cells; the line is still the file's line.
        "line-number-after-blank-rows",
        GOOD_UNITS + "\n,,,,\n" + "THPT-01,Trường THPT Một bis,high_school,H01,d@x.vn\n",
        GOOD_AREAS,
        "units.csv",
        ("dòng 7", "“THPT-01”", "dòng 4"),
    ),
]


def test_good_fixture_loads(schema: ReportSchema, tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD_UNITS, GOOD_AREAS), schema)
    assert set(registry.units) == {"PGD-Q01", "PGD-H01", "THPT-01"}
    check_invariants(registry, schema)


@pytest.mark.parametrize(
    ("units", "areas", "filename", "expected"),
    [pytest.param(u, a, f, e, id=i) for i, u, a, f, e in BROKEN],
)
def test_broken_registry(
    schema: ReportSchema,
    tmp_path: Path,
    units: str,
    areas: str,
    filename: str,
    expected: tuple[str, ...],
) -> None:
    with pytest.raises(RegistryError) as info:
        load_registry(write(tmp_path, units, areas), schema)
    message = str(info.value)
    assert filename in message
    for part in expected:
        assert part.lower() in message.lower(), (part, message)
    assert_vietnamese(message)


def test_missing_file(schema: ReportSchema, tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "units.csv", schema)
    assert "areas.csv" in str(info.value)
    assert_vietnamese(str(info.value))


# --------------------------------------------------------------------------- as people type it


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Trường THPT", "high_school"),
        ("trường thpt", "high_school"),
        ("  Trường phổ thông nhiều cấp học ", "multi_level_school"),
        (unicodedata.normalize("NFD", "Đơn vị trực thuộc Sở"), "affiliated_unit"),
        ("Phòng GDĐT / Phòng VH-XH", "area_office"),
        ("high_school", "high_school"),
    ],
)
def test_type_as_vietnamese_label(
    schema: ReportSchema, tmp_path: Path, written: str, code: str
) -> None:
    units = GOOD_UNITS + f'THPT-02,Trường mới,"{written}",H01,d@x.vn\n'
    registry = load_registry(write(tmp_path, units, GOOD_AREAS), schema)
    assert registry.units["THPT-02"].type == code


def test_excel_semicolon_csv_with_bom(schema: ReportSchema, tmp_path: Path) -> None:
    """Excel with a Vietnamese/European list separator saves "CSV UTF-8" with ';', BOM, CRLF."""
    units = (
        "code;name;type;area_code;email\r\n"
        "PGD-Q01;Phòng GDĐT quận Một;area_office;Q01;a@x.vn\r\n"
        "PGD-H01;Phòng GDĐT huyện Hai;Phòng GDĐT / Phòng VH-XH;H01;b@x.vn\r\n"
        "PT-01;Trường TH, THCS và THPT Một;Trường phổ thông nhiều cấp học;Q01;c@x.vn\r\n"
        ";;;;\r\n"
    )
    areas = "code;name;kind\r\nQ01;Quận Một;quận\r\nH01;Huyện Hai;huyện\r\n"
    registry = load_registry(write(tmp_path, "\ufeff" + units, "\ufeff" + areas), schema)
    assert set(registry.units) == {"PGD-Q01", "PGD-H01", "PT-01"}
    assert set(registry.areas) == {"Q01", "H01"}
    assert registry.units["PT-01"].name == "Trường TH, THCS và THPT Một"
    assert registry.units["PT-01"].type == "multi_level_school"
    assert registry.areas["Q01"].kind == "quận"
    check_invariants(registry, schema)


def to_cp1258(text: str) -> bytes:
    """Encode as Excel does on Vietnamese Windows: code page 1258, tone marks as combining
    characters after a base letter that may carry a circumflex, breve or horn."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
        out += base.encode("cp1258")
        out += "".join(p for p in parts if p in tones).encode("cp1258")
    return bytes(out)


def test_cp1258_encoded_registry(sample: Registry, schema: ReportSchema, tmp_path: Path) -> None:
    """Excel's plain "CSV" on Vietnamese Windows is cp1258: the same registry must come out."""
    for name in ("units.csv", "areas.csv"):
        text = (REGISTRY_DIR / name).read_text(encoding="utf-8-sig")
        encoded = to_cp1258(text)
        with pytest.raises(UnicodeDecodeError):
            encoded.decode("utf-8")
        (tmp_path / name).write_bytes(encoded)
    registry = load_registry(tmp_path / "units.csv", schema)
    assert registry == sample
    assert registry.units["PGD-H01"].name == "Phòng Giáo dục và Đào tạo huyện An Phước"


def test_cp1258_with_vietnamese_type_labels(schema: ReportSchema, tmp_path: Path) -> None:
    units = (
        UNITS_HEADER
        + "PGD-X01,Phòng Văn hóa - Xã hội xã Đức Hòa,Phòng GDĐT / Phòng VH-XH,X01,a@x.vn\n"
        + "TT-01,Trung tâm GDTX Đức Hòa,Đơn vị trực thuộc Sở,X01,b@x.vn\n"
    )
    areas = AREAS_HEADER + "X01,Xã Đức Hòa,xã\n"
    (tmp_path / "units.csv").write_bytes(to_cp1258(units))
    (tmp_path / "areas.csv").write_bytes(to_cp1258(areas))
    registry = load_registry(tmp_path / "units.csv", schema)
    assert registry.units["TT-01"].type == "affiliated_unit"
    assert registry.units["PGD-X01"].name == "Phòng Văn hóa - Xã hội xã Đức Hòa"
    assert registry.areas["X01"].kind == "xã"


# --------------------------------------------------------------------------- unit codes


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("THPT-Q01-01", "thpt-q01-01"),
        ("thpt-q01-01", "thpt-q01-01"),
        ("  THPT-Q01-01\u00a0", "thpt-q01-01"),
        ("THPT - Q01 - 01", "thpt-q01-01"),
        ("ＴＨＰＴ－Ｑ０１－０１", "thpt-q01-01"),  # full-width, as a Vietnamese IME types it
        ("THPT-\u200bQ01-01", "thpt-q01-01"),  # zero-width space pasted from a web page
        ("THPT01", "thpt01"),  # punctuation is kept: a different code
        (12.0, "12"),  # a numeric code read from a cell as a float
        (12, "12"),
        (None, ""),
        ("", ""),
    ],
)
def test_normalise_code(typed: object, key: str) -> None:
    assert normalise_code(typed) == key


def test_find_and_match(schema: ReportSchema, tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD_UNITS, GOOD_AREAS), schema)
    unit = registry.units["THPT-01"]
    assert registry.find("thpt-01") is unit
    assert registry.find(" THPT - 01 ") is unit
    assert registry.find("THPT01") is None and registry.find("") is None
    assert registry.match("THPT-01") == CodeMatch(unit, exact=True)
    assert registry.match(" THPT-01 ") == CodeMatch(unit, exact=True)  # invisible in Excel
    assert registry.match("thpt-01") == CodeMatch(unit, exact=False)
    assert registry.match("THPT - 01") == CodeMatch(unit, exact=False)
    assert registry.match("X") is None


def test_lower_case_registry_finds_upper_case_codes(schema: ReportSchema, tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD_UNITS.lower(), GOOD_AREAS.lower()), schema)
    assert set(registry.units) == {"pgd-q01", "pgd-h01", "thpt-01"}
    found = registry.match("THPT-01")
    assert found is not None and found.unit.code == "thpt-01" and not found.exact


def test_codes_equal_after_normalising_are_duplicates(schema: ReportSchema, tmp_path: Path) -> None:
    units = GOOD_UNITS + "thpt - 01,Trường THPT Một bis,high_school,H01,d@x.vn\n"
    with pytest.raises(RegistryError) as info:
        load_registry(write(tmp_path, units, GOOD_AREAS), schema)
    message = str(info.value)
    for part in ("units.csv", "dòng 5", "“thpt - 01”", "dòng 4", "“THPT-01”", "chữ hoa/thường"):
        assert part in message, (part, message)
    assert_vietnamese(message)


# --------------------------------------------------------------------------- codes in files


def _lower_case_registry(folder: Path, schema: ReportSchema) -> Registry:
    """The sample registry after someone retyped the unit codes in lower case in Excel."""
    text = (REGISTRY_DIR / "units.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    lowered = [lines[0]] + [line.split(",", 1)[0].lower() + "," + line.split(",", 1)[1]
                            for line in lines[1:]]  # fmt: skip
    (folder / "units.csv").write_text("".join(lowered), encoding="utf-8-sig")
    (folder / "areas.csv").write_bytes((REGISTRY_DIR / "areas.csv").read_bytes())
    return load_registry(folder / "units.csv", schema)


def test_per_unit_file_against_lower_case_registry(
    schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """Before: every file was rejected as unknown-unit. After: credited, one warning."""
    wb = school_workbook(schemas, registry, settings, "THPT-Q01-01")
    path = save(wb, tmp_path / "in" / "THPT-Q01-01.xlsx")
    lower = _lower_case_registry(tmp_path, schemas.report)
    sub = read_submission(path, tmp_path / "in", schemas.report)
    result = consolidate([sub], 2026, schemas, lower, settings)
    row = result.submissions.iloc[0]
    assert (row["status"], row["unit_code"], row["reason_code"]) == (
        "accepted_with_warnings",
        "thpt-q01-01",
        "unit-code-normalised",
    )
    assert result.kept == {"thpt-q01-01": "THPT-Q01-01.xlsx"}
    (issue,) = [i for i in result.issues if i.code == "unit-code-normalised"]
    assert issue.severity == "warning"
    assert f"{issue.sheet}!{issue.cell}" == cell_of(wb, "unit_code")
    assert (issue.field, issue.value, issue.unit_code) == (
        "unit_code",
        "THPT-Q01-01",
        "thpt-q01-01",
    )
    assert "“THPT-Q01-01”" in issue.message and "“thpt-q01-01”" in issue.message
    assert_vietnamese(issue.message)
    assert not [i for i in result.issues if i.code == "unknown-unit"]


@pytest.mark.parametrize(
    ("typed", "warned"),
    [("thpt-q01-01", True), ("THPT - Q01 - 01", True), (" THPT-Q01-01 ", False)],
)
def test_code_typed_in_blank_template(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
    typed: str,
    warned: bool,
) -> None:
    """A blank template (no code in its metadata): the unit types its code as it likes."""
    wb = build_template(schemas.report, "school", 2026, settings, registry)
    fill_template(wb, {**CLEAN_SCHOOL, "unit_code": typed, "unit_name": "Trường THPT Mẫu"}, {
        "people": CLEAN_PEOPLE})  # fmt: skip
    path = save(wb, tmp_path / "blank.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path, schemas.report)], 2026, schemas, registry, settings
    )
    assert result.kept == {"THPT-Q01-01": "blank.xlsx"}
    found = [i for i in result.issues if i.code == "unit-code-normalised"]
    assert bool(found) is warned
    if warned:
        assert f"{found[0].sheet}!{found[0].cell}" == cell_of(wb, "unit_code")


# --------------------------------------------------------------------------- as Excel saves it
#
# Each writer below produces the bytes Excel writes for one "Save As" type, from the rows of
# the sample registry: the encoding, the byte-order mark, the separator and the line end.


def sample_rows(name: str) -> list[list[str]]:
    text = (REGISTRY_DIR / name).read_text(encoding="utf-8-sig")
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def as_text(rows: list[list[str]], delimiter: str, newline: str) -> str:
    """Excel's quoting: a field is quoted only when it holds the separator, a quote or a
    line break (what csv.QUOTE_MINIMAL does)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


def unicode_text(rows: list[list[str]]) -> bytes:
    """“Unicode Text (*.txt)”: UTF-16 LE with its BOM, tab-separated, CRLF."""
    return b"\xff\xfe" + as_text(rows, "\t", "\r\n").encode("utf-16-le")


def csv_utf8(rows: list[list[str]], delimiter: str = ",") -> bytes:
    """“CSV UTF-8 (Comma delimited)”: BOM, CRLF; ';' where the list separator is ';'."""
    return b"\xef\xbb\xbf" + as_text(rows, delimiter, "\r\n").encode("utf-8")


def csv_windows(rows: list[list[str]], delimiter: str = ",") -> bytes:
    """“CSV (Comma delimited)” on Vietnamese Windows: code page 1258, CRLF."""
    return to_cp1258(as_text(rows, delimiter, "\r\n"))


def csv_mac(rows: list[list[str]]) -> bytes:
    """“CSV (Macintosh)”: Mac Roman, CR-only line ends; a letter Mac Roman lacks is a '?'."""
    return as_text(rows, ",", "\r").encode("mac_roman", errors="replace")


def utf8_cr_only(rows: list[list[str]]) -> bytes:
    """UTF-8 without BOM and CR-only line ends (old Mac editors, Excel 2011 for Mac)."""
    return as_text(rows, ",", "\r").encode("utf-8")


TEXT_FORMATS = [
    ("unicode-text", ".txt", unicode_text),
    ("unicode-text-renamed-csv", ".csv", unicode_text),
    ("csv-utf8", ".csv", csv_utf8),
    ("csv-utf8-semicolon", ".csv", lambda rows: csv_utf8(rows, ";")),
    ("csv-cp1258", ".csv", csv_windows),
    ("csv-cp1258-semicolon", ".csv", lambda rows: csv_windows(rows, ";")),
    ("utf8-cr-only", ".csv", utf8_cr_only),
]


@pytest.mark.parametrize(
    ("suffix", "encode"), [f[1:] for f in TEXT_FORMATS], ids=[f[0] for f in TEXT_FORMATS]
)
def test_sample_registry_in_each_text_format(
    sample: Registry,
    schema: ReportSchema,
    tmp_path: Path,
    suffix: str,
    encode: Callable[[list[list[str]]], bytes],
) -> None:
    for name in ("units", "areas"):
        (tmp_path / f"{name}{suffix}").write_bytes(encode(sample_rows(f"{name}.csv")))
    # The default path registry/units.csv finds units.txt when that is what Excel wrote.
    registry = load_registry(tmp_path / "units.csv", schema)
    assert registry == sample
    assert registry.units["PTNCH-01"].name == "Trường TH, THCS và THPT Thực Nghiệm"
    check_invariants(registry, schema)


MAC_AREAS = [["code", "name", "kind"], ["P01", "Tân Phú", "phường"]]
MAC_UNITS = [
    ["code", "name", "type", "area_code", "email"],
    ["PGD-P01", "Phòng GD Tân Phú", "area_office", "P01", "a@x.vn"],
    ["THPT-01", "THPT Lê Lai, Tân Phú", "high_school", "P01", "b@x.vn"],
]


def test_mac_roman_registry(schema: ReportSchema, tmp_path: Path) -> None:
    """Names within what Mac Roman holds (â, ê, ò, ú, ư is not) come out as typed."""
    areas = [["code", "name", "kind"], ["P01", "Tân Phú", "khu"]]
    (tmp_path / "areas.csv").write_bytes(csv_mac(areas))
    (tmp_path / "units.csv").write_bytes(csv_mac(MAC_UNITS))
    raw = (tmp_path / "units.csv").read_bytes()
    assert b"\n" not in raw and b"\r" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    # The same bytes as cp1258 read “Phòng” wrong (0x98 is “˜” there): the line ends decide.
    assert "Phòng" not in raw.decode("cp1258", errors="replace")
    registry = load_registry(tmp_path / "units.csv", schema)
    assert registry.units["PGD-P01"].name == "Phòng GD Tân Phú"
    assert registry.units["THPT-01"].name == "THPT Lê Lai, Tân Phú"
    assert registry.areas["P01"] == Area("P01", "Tân Phú", "khu")


# (id, areas bytes, units bytes, file named, parts of the message)
REFUSED: list[tuple[str, bytes, bytes, str, tuple[str, ...]]] = [
    (
        # Excel writes '?' for each Vietnamese letter Mac Roman lacks: “Qu?n M?t”.
        "mac-roman-lost-letters",
        csv_mac(sample_rows("areas.csv")),
        csv_mac(sample_rows("units.csv")),
        "areas.csv",
        ("dòng 2", "“?”", "CSV (Macintosh)", "CSV UTF-8"),
    ),
    (
        "mac-roman-lost-letters-later-line",
        csv_mac([*MAC_AREAS[:1], ["P01", "Tan Phu", "phuong"]]),
        csv_mac([*MAC_UNITS, ["THPT-02", "Trường THPT Hai", "high_school", "P01", "c@x.vn"]]),
        "units.csv",
        ("dòng 4", "Tr?", "CSV (Macintosh)", "CSV UTF-8"),
    ),
    (
        # Plain “CSV” on a Windows set to a western language: code page 1252.
        "windows-western-code-page",
        as_text(sample_rows("areas.csv"), ",", "\r\n").encode("cp1252", errors="replace"),
        csv_utf8(sample_rows("units.csv")),
        "areas.csv",
        ("dòng 2", "“?”", "bảng mã của Windows", "CSV UTF-8"),
    ),
    (
        "legacy-xls-named-csv",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
        csv_utf8(sample_rows("units.csv")),
        "areas.csv",
        (".xls", ".xlsx", "CSV UTF-8"),
    ),
    (
        "binary-bytes-inside",
        b"code,name,kind\nQ01,Qu\x00\x01n,qu\n",
        csv_utf8(sample_rows("units.csv")),
        "areas.csv",
        ("dòng 2", "không phải dạng văn bản", "CSV UTF-8"),
    ),
    (
        "cp1258-undefined-byte",
        b"code,name,kind\r\nQ01,Qu\x81n,qu\r\n",
        csv_utf8(sample_rows("units.csv")),
        "areas.csv",
        ("dòng 2", "không đọc được", "CSV UTF-8"),
    ),
    (
        "unicode-text-wrong-header",
        unicode_text([["ma", "ten", "loai"], ["Q01", "Quận Một", "quận"]]),
        csv_utf8(sample_rows("units.csv")),
        "areas.csv",
        ("thiếu cột", "code", "kind"),
    ),
    (
        "unicode-text-duplicate",
        unicode_text(sample_rows("areas.csv")),
        unicode_text([*sample_rows("units.csv"), sample_rows("units.csv")[3]]),
        "units.csv",
        (f"dòng {len(sample_rows('units.csv')) + 1}", "trùng", "dòng 4"),
    ),
]


@pytest.mark.parametrize(
    ("areas", "units", "filename", "expected"),
    [pytest.param(a, u, f, e, id=i) for i, a, u, f, e in REFUSED],
)
def test_refused_with_a_sentence(
    schema: ReportSchema,
    tmp_path: Path,
    areas: bytes,
    units: bytes,
    filename: str,
    expected: tuple[str, ...],
) -> None:
    (tmp_path / "areas.csv").write_bytes(areas)
    (tmp_path / "units.csv").write_bytes(units)
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "units.csv", schema)
    message = str(info.value)
    assert filename in message
    for part in expected:
        assert part in message, (part, message)
    assert_vietnamese(message)
    assert "\x00" not in message and "Traceback" not in message


# --------------------------------------------------------------------------- as a workbook


def registry_workbook(sheets: dict[str, list[list[str]]]) -> Any:
    """A registry typed in Excel: one sheet per table, header on row 1."""
    wb = openpyxl.Workbook()
    default = wb.active
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.remove(default)
    return wb


def test_two_workbooks_beside_each_other(
    sample: Registry, schema: ReportSchema, tmp_path: Path
) -> None:
    for name in ("units", "areas"):
        registry_workbook({"Sheet1": sample_rows(f"{name}.csv")}).save(tmp_path / f"{name}.xlsx")
    assert load_registry(tmp_path / "units.xlsx", schema) == sample
    assert load_registry(tmp_path / "units.csv", schema) == sample  # the default path finds it
    assert load_registry(tmp_path, schema) == sample  # so does the folder


def test_one_workbook_with_both_sheets_also_resaved_by_libreoffice(
    sample: Registry, schema: ReportSchema, tmp_path: Path
) -> None:
    """Sheets “areas” first and “units” second, as a specialist might order them; then the
    same workbook opened and saved by LibreOffice Calc."""
    book = tmp_path / "made" / "danh-muc.xlsx"
    book.parent.mkdir()
    registry_workbook({"areas": sample_rows("areas.csv"), "Units": sample_rows("units.csv")}).save(
        book
    )
    assert load_registry(book, schema) == sample
    resaved = convert(book, "xlsx", tmp_path / "lo")
    assert resaved.read_bytes() != book.read_bytes()
    assert load_registry(resaved, schema) == sample


def test_workbook_cells_as_excel_types_them(schema: ReportSchema, tmp_path: Path) -> None:
    """Numbers typed as codes, a title row above the header, an empty column, hyperlinked
    emails: the registry reads as the specialist sees it."""
    wb = openpyxl.Workbook()
    areas = wb.active
    assert areas is not None
    areas.title = "areas"
    areas.append(["code", "name", "kind"])
    areas.append([1, "Quận Một", "quận"])
    units = wb.create_sheet("units")
    units.append([])
    units.append(["Code", "Name", "Type", "Area_code", "Email", "Ghi chú"])
    units.append([101, "Trường THPT Một", "Trường THPT", 1.0, "c@x.vn", "mới"])
    units.append([None, None, None, None, None])
    units.append(["PGD-1", "Phòng GDĐT quận Một", "area_office", "1", "a@x.vn"])
    units["E5"].hyperlink = "mailto:a@x.vn"
    wb.save(tmp_path / "units.xlsx")
    registry = load_registry(tmp_path / "units.xlsx", schema)
    assert registry.units["101"] == Unit("101", "Trường THPT Một", "high_school", "1", "c@x.vn")
    assert registry.units["PGD-1"].email == "a@x.vn"
    assert set(registry.areas) == {"1"}


def test_workbook_refusals(schema: ReportSchema, tmp_path: Path) -> None:
    registry_workbook({"units": sample_rows("units.csv")}).save(tmp_path / "units.xlsx")
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "units.xlsx", schema)
    message = str(info.value)
    for part in ("units.xlsx", "“areas”", "areas.csv"):
        assert part in message, message
    assert_vietnamese(message)

    rows = sample_rows("units.csv")
    registry_workbook({"units": [*rows, rows[2]], "areas": sample_rows("areas.csv")}).save(
        tmp_path / "both.xlsx"
    )
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "both.xlsx", schema)
    assert f"both.xlsx, trang “units”, dòng {len(rows) + 1}" in str(info.value)
    assert "dòng 3" in str(info.value)

    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "broken.xlsx", schema, areas_path=tmp_path / "both.xlsx")
    assert "broken.xlsx" in str(info.value) and "Traceback" not in str(info.value)
    assert_vietnamese(str(info.value))

    (tmp_path / "units.ods").write_bytes(b"PK\x03\x04")
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "units.ods", schema, areas_path=tmp_path / "both.xlsx")
    assert "units.ods" in str(info.value) and ".ods" in str(info.value)


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    ("command", "areas", "named"),
    [
        (["consolidate", "--year", "2026"], csv_mac(sample_rows("areas.csv")), "areas.csv, dòng 2"),
        (["validate", "IN", "--year", "2026"], b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "areas.csv"),
        (["templates", "--year", "2026"], b"code;ten\r\nQ01;x\r\n", "areas.csv"),
    ],
    ids=["consolidate", "validate", "templates"],
)
def test_cli_refuses_a_registry_with_a_sentence(
    tmp_path: Path, command: list[str], areas: bytes, named: str
) -> None:
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / "areas.csv").write_bytes(areas)
    (tmp_path / "reg" / "units.csv").write_bytes(csv_utf8(sample_rows("units.csv")))
    (tmp_path / "in").mkdir()
    args = [str(tmp_path / "in") if a == "IN" else a for a in command]
    result = CliRunner().invoke(
        main,
        [
            *args,
            "--output",
            str(tmp_path / "out"),
            "--registry",
            str(tmp_path / "reg" / "units.csv"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.output.startswith("Lỗi: ") and named in result.output
    assert_vietnamese(result.output)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.xlsx"))


def test_cli_with_unicode_text_and_lower_case_codes(
    schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """The registry saved as “Unicode Text” with codes retyped in lower case; the unit
    sends its per-unit file (upper-case code inside): read, credited, one warning."""
    reg = tmp_path / "reg"
    reg.mkdir()
    rows = sample_rows("units.csv")
    lowered = [rows[0], *[[r[0].lower(), *r[1:]] for r in rows[1:]]]
    (reg / "units.txt").write_bytes(unicode_text(lowered))
    (reg / "areas.txt").write_bytes(unicode_text(sample_rows("areas.csv")))
    save(school_workbook(schemas, registry, settings), tmp_path / "in" / "THPT-Q01-01.xlsx")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["consolidate", "--year", "2026", "--input", str(tmp_path / "in"), "--output", str(out),
         "--registry", str(reg / "units.csv"), "-q", "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (out / "2026" / "submissions.csv").open(encoding="utf-8-sig") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["unit_code"], row["status"], row["reason_code"]) == (
        "thpt-q01-01",
        "accepted_with_warnings",
        "unit-code-normalised",
    )
    made = CliRunner().invoke(
        main,
        ["templates", "--year", "2026", "--units", "THPT-Q01-01", "--output", str(tmp_path / "t"),
         "--registry", str(reg / "units.txt")],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "t").glob("*.xlsx"))) == 1


# --------------------------------------------------------------------------- any name, any format

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
NAME_CHARS = VIETNAMESE + VIETNAMESE.upper() + "0123456789 ,;\"'-()./"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(
        st.text(NAME_CHARS, min_size=1, max_size=40).filter(lambda t: t.strip()),
        min_size=1,
        max_size=5,
    ),
    fmt=st.sampled_from(["unicode-text", "csv-utf8", "csv-utf8-semicolon", "csv-cp1258"]),
)
def test_any_unit_name_round_trips(
    schema: ReportSchema, tmp_path: Path, names: list[str], fmt: str
) -> None:
    """Whatever a specialist types as a name (commas, quotes, ';', any Vietnamese letter),
    Excel's way of saving it reads back as the same name, in NFC."""
    encode = {name: enc for name, _, enc in TEXT_FORMATS}[fmt]
    units = [["code", "name", "type", "area_code", "email"]] + [
        [f"THPT-{i:02d}", name, "high_school", "Q01", f"u{i}@x.vn"] for i, name in enumerate(names)
    ]
    (tmp_path / "areas.csv").write_bytes(
        encode([["code", "name", "kind"], ["Q01", "Quận Một", "quận"]])
    )
    (tmp_path / "units.csv").write_bytes(encode(units))
    registry = load_registry(tmp_path / "units.csv", schema)
    assert [registry.units[f"THPT-{i:02d}"].name for i in range(len(names))] == [
        unicodedata.normalize("NFC", n).strip() for n in names
    ]


@pytest.mark.parametrize(("meta", "warned"), [(" THPT-Q01-01 ", False), ("thpt-q01-01", True)])
def test_code_in_hidden_metadata(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path: Path,
    meta: str,
    warned: bool,
) -> None:
    """A per-unit file whose hidden code was retyped: credited under the registry's code."""
    wb = school_workbook(schemas, registry, settings)
    set_meta(wb, "unit_code", meta)
    path = save(wb, tmp_path / "f.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path, schemas.report)], 2026, schemas, registry, settings
    )
    assert result.kept == {"THPT-Q01-01": "f.xlsx"}
    assert result.submissions["unit_code"].tolist() == ["THPT-Q01-01"]
    assert any(i.code == "unit-code-normalised" for i in result.issues) is warned
