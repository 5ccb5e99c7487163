"""The Excel templates: the contract the reader relies on, validation, protection, output."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import unicodedata
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries

from pipeline.cli import main
from pipeline.errors import SchemaError
from pipeline.model import INSTRUCTIONS_SHEET, META_KEYS, META_SHEET
from pipeline.registry import Registry, Unit
from pipeline.schema import Field, ReportSchema
from pipeline.settings import Settings
from pipeline.templates import (
    LISTS_SHEET,
    YES_NO_LABELS,
    Comparison,
    build_template,
    parse_comparison,
    slugify,
    template_bytes,
    unit_file_name,
    write_all,
    write_template,
)

YEAR = 2026
VARIANTS = ("area_office", "school")


@pytest.fixture(scope="module")
def blank_dir(
    tmp_path_factory: pytest.TempPathFactory,
    report_schema: ReportSchema,
    settings: Settings,
    registry: Registry,
) -> Path:
    out = tmp_path_factory.mktemp("blank")
    write_all(report_schema, YEAR, settings, registry, out)
    return out


@pytest.fixture(scope="module")
def blank(blank_dir: Path, report_schema: ReportSchema) -> dict[str, Workbook]:
    """Each variant's blank template, read back from the written file."""
    return {
        v.code: load_workbook(blank_dir / f"{v.file_stem}-{YEAR}.xlsx")
        for v in report_schema.variants
    }


@pytest.fixture(scope="module")
def school_unit(registry: Registry, report_schema: ReportSchema) -> Unit:
    school_types = report_schema.variant("school").unit_types
    return next(u for u in registry.units.values() if u.type in school_types)


@pytest.fixture(scope="module")
def per_unit(
    tmp_path_factory: pytest.TempPathFactory,
    report_schema: ReportSchema,
    settings: Settings,
    registry: Registry,
    school_unit: Unit,
) -> Workbook:
    out = tmp_path_factory.mktemp("unit")
    [written] = write_all(
        report_schema, YEAR, settings, registry, out, unit_codes=[school_unit.code]
    )
    return load_workbook(written.path)


def _cell(wb: Workbook, code: str) -> tuple[str, str]:
    [(sheet, ref)] = list(wb.defined_names[code].destinations)
    return sheet, ref.replace("$", "")


def _validation_at(ws: Any, coord: str) -> Any:
    col, row = coordinate_from_string(coord)
    key = (row, column_index_from_string(col))
    found = [dv for dv in ws.data_validations.dataValidation if key in _cells(dv)]
    assert len(found) <= 1, f"{coord}: {len(found)} validations"
    return found[0] if found else None


def _cells(dv: Any) -> set[tuple[int, int]]:
    cells = set()
    for rng in dv.sqref.ranges:
        min_col, min_row, max_col, max_row = range_boundaries(rng.coord)
        cells |= {(r, c) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)}
    return cells


def _list_values(wb: Workbook, formula: str) -> list[str]:
    m = re.fullmatch(r"'?([^'!]+)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", formula)
    assert m, formula
    sheet, col, first, _, last = m.groups()
    return [str(row[0].value) for row in wb[sheet][f"{col}{first}:{col}{last}"]]


def _expected_dv_type(f: Field) -> str:
    return {
        "integer": "whole",
        "decimal": "decimal",
        "money": "decimal",
        "percent": "decimal",
        "date": "date",
        "yes_no": "list",
        "choice": "list",
        "text": "custom" if f.pattern == "email" else "textLength",
    }[f.type]


def _check_dv(wb: Workbook, schema: ReportSchema, f: Field, dv: Any) -> None:
    assert dv is not None, f.code
    assert dv.type == _expected_dv_type(f) or (f.prefill is not None and dv.type == "list"), f.code
    assert dv.showErrorMessage and dv.errorStyle in (None, "stop"), f.code
    assert dv.error and dv.errorTitle and dv.prompt and dv.promptTitle, f.code
    assert len(dv.promptTitle) <= 32 and len(dv.errorTitle) <= 32
    assert len(dv.prompt) <= 255 and len(dv.error) <= 255
    if f.type == "integer":
        assert dv.formula1 == str(int(f.min if f.min is not None else 0))
    if f.type == "yes_no":
        assert dv.formula1 == '"' + ",".join(YES_NO_LABELS) + '"'
    if f.type == "choice":
        labels = [c.label for c in schema.choices[f.choices or ""]]
        assert _list_values(wb, dv.formula1) == labels


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_scalar_field_has_a_defined_name_on_its_sheet(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    wb = blank[variant]
    sheet_of = {f.code: s.sheet for s in report_schema.sections for f in s.fields}
    fields = report_schema.fields_for(variant)
    for f in fields:
        sheet, coord = _cell(wb, f.code)
        assert sheet == report_schema.sheet_name(sheet_of[f.code])
        assert re.fullmatch(r"[A-Z]+\d+", coord)
    workbook_names = {n for n in wb.defined_names if not n.startswith("_xlnm")}
    assert workbook_names == {f.code for f in fields}
    places = [_cell(wb, f.code) for f in fields]
    assert len(set(places)) == len(places)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sheets_in_schema_order_after_instructions(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    wb = blank[variant]
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert visible == [INSTRUCTIONS_SHEET, *(s.name for s in report_schema.sheets)]
    assert wb[LISTS_SHEET].sheet_state == "hidden"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_list_is_a_table_with_field_code_headers(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    wb = blank[variant]
    for lst in report_schema.lists:
        ws = wb[report_schema.sheet_name(lst.sheet)]
        table = ws.tables[lst.code]
        assert table.displayName == lst.code == table.name
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        header = [ws.cell(min_row, c).value for c in range(min_col, max_col + 1)]
        codes = [f.code for f in lst.fields if f.in_variant(variant)]
        assert header == codes
        assert [c.name for c in table.tableColumns] == codes
        rows = max_row - min_row
        if lst.fixed_field:
            assert rows == len(report_schema.choices[lst.fixed_choices or ""])
        else:
            assert rows >= lst.rows


def test_people_matrix_has_one_locked_row_per_group(
    blank: dict[str, Workbook], report_schema: ReportSchema
) -> None:
    fixed = [lst for lst in report_schema.lists if lst.fixed_field]
    assert fixed, "the schema has a fixed-row list"
    for variant, wb in blank.items():
        for lst in fixed:
            ws = wb[report_schema.sheet_name(lst.sheet)]
            min_col, min_row, max_col, max_row = range_boundaries(ws.tables[lst.code].ref)
            codes = [ws.cell(min_row, c).value for c in range(min_col, max_col + 1)]
            group_col = min_col + codes.index(lst.fixed_field)
            groups = [ws.cell(r, group_col) for r in range(min_row + 1, max_row + 1)]
            labels = [c.label for c in report_schema.choices[lst.fixed_choices or ""]]
            assert [c.value for c in groups] == labels, variant
            assert all(c.protection.locked for c in groups)
            other = [
                ws.cell(r, c)
                for r in range(min_row + 1, max_row + 1)
                for c in range(min_col, max_col + 1)
                if c != group_col
            ]
            assert not any(c.protection.locked for c in other)


@pytest.mark.parametrize("variant", VARIANTS)
def test_meta_sheet_is_hidden_with_every_key(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    ws = blank[variant][META_SHEET]
    assert ws.sheet_state == "hidden"
    meta = {row[0]: row[1] for row in ws.iter_rows(min_col=1, max_col=2, values_only=True)}
    assert set(META_KEYS) <= set(meta)
    v = report_schema.variant(variant)
    assert meta["template_id"] == v.template_id
    assert meta["template_version"] == report_schema.version
    assert meta["schema_id"] == report_schema.id
    assert meta["report_year"] == str(YEAR)
    assert meta["unit_code"] in (None, "")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_input_cell_has_a_validation_of_its_type(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    wb = blank[variant]
    for f in report_schema.fields_for(variant):
        sheet, coord = _cell(wb, f.code)
        cell = wb[sheet][coord]
        if cell.protection.locked:
            assert f.prefill is not None, f"{f.code} is locked but not pre-filled"
            continue
        _check_dv(wb, report_schema, f, _validation_at(wb[sheet], coord))


@pytest.mark.parametrize("variant", VARIANTS)
def test_list_columns_are_validated_over_all_rows(
    blank: dict[str, Workbook], report_schema: ReportSchema, variant: str
) -> None:
    wb = blank[variant]
    for lst in report_schema.lists:
        ws = wb[report_schema.sheet_name(lst.sheet)]
        min_col, min_row, max_col, max_row = range_boundaries(ws.tables[lst.code].ref)
        fields = [f for f in lst.fields if f.in_variant(variant)]
        for col, f in zip(range(min_col, max_col + 1), fields, strict=True):
            if f.code == lst.fixed_field:
                continue
            letter = get_column_letter(col)
            dv = _validation_at(ws, f"{letter}{min_row + 1}")
            _check_dv(wb, report_schema, f, dv)
            assert {(r, col) for r in range(min_row + 1, max_row + 1)} <= _cells(dv)


def test_blank_unit_code_offers_the_registry_codes(
    blank: dict[str, Workbook], report_schema: ReportSchema, registry: Registry
) -> None:
    for variant, wb in blank.items():
        sheet, coord = _cell(wb, "unit_code")
        dv = _validation_at(wb[sheet], coord)
        assert dv is not None and dv.type == "list"
        types = report_schema.variant(variant).unit_types
        expected = sorted(u.code for u in registry.units.values() if u.type in types)
        assert _list_values(wb, dv.formula1) == expected


def test_parse_comparison() -> None:
    assert parse_comparison("recognised <= registered") == Comparison(
        ("recognised",), "<=", ("registered",)
    )
    assert parse_comparison("a <= b + c") == Comparison(("a",), "<=", ("b", "c"))
    assert parse_comparison("year <= @report_year") == Comparison(
        ("year",), "<=", ("@report_year",)
    )
    assert parse_comparison("ldu_registered == True") is None
    assert parse_comparison("a <= 2 * b") is None


def _formulas(ws: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            out.setdefault(str(cf.sqref), []).extend(rule.formula)
    return out


def test_people_rules_turn_cells_red(
    blank: dict[str, Workbook], report_schema: ReportSchema
) -> None:
    rules = [r for r in report_schema.rules if r.list == "people" and r.check]
    assert rules
    for wb in blank.values():
        lst = report_schema.list_map["people"]
        ws = wb[report_schema.sheet_name(lst.sheet)]
        min_col, min_row, max_col, max_row = range_boundaries(ws.tables["people"].ref)
        letters = {
            ws.cell(min_row, c).value: ws.cell(min_row, c).column_letter
            for c in range(min_col, max_col + 1)
        }
        formulas = _formulas(ws)
        for rule in rules:
            cmp = parse_comparison(rule.check or "")
            assert cmp is not None
            [left], [right] = cmp.left, cmp.right
            a, b, r = letters[left], letters[right], min_row + 1
            expected = f"AND(ISNUMBER(${a}{r}),ISNUMBER(${b}{r}),${a}{r}>${b}{r})"
            assert expected in formulas[f"{a}{r}:{a}{max_row}"], rule.code
            assert expected in formulas[f"{b}{r}:{b}{max_row}"], rule.code


def test_scalar_rules_turn_cells_red(
    blank: dict[str, Workbook], report_schema: ReportSchema
) -> None:
    wb = blank["area_office"]
    sheet, disabled = _cell(wb, "supported_disabled")
    _, learners = _cell(wb, "supported_learners")
    _, staff = _cell(wb, "supported_staff")
    formulas = _formulas(wb[sheet])
    d, le, st = (f"${c[0]}${c[1:]}" for c in (disabled, learners, staff))
    assert f"AND(ISNUMBER({d}),ISNUMBER({le}),ISNUMBER({st}),{d}>{le}+{st})" in formulas[disabled]
    # Rules whose fields a variant lacks are left out of that variant.
    school = blank["school"]
    sheet, _ = _cell(school, "report_year")
    assert not any("institutions" in f for fs in _formulas(school[sheet]).values() for f in fs)


# --------------------------------------------------------------------------- prefill, protection


def test_blank_leaves_unit_fields_open_and_fixes_the_year(blank: dict[str, Workbook]) -> None:
    for wb in blank.values():
        sheet, coord = _cell(wb, "unit_code")
        assert wb[sheet][coord].value is None
        assert not wb[sheet][coord].protection.locked
        sheet, coord = _cell(wb, "report_year")
        assert wb[sheet][coord].value == YEAR
        assert wb[sheet][coord].protection.locked


def test_per_unit_prefills_and_locks_unit_fields(
    per_unit: Workbook, school_unit: Unit, registry: Registry, report_schema: ReportSchema
) -> None:
    expected = {
        "unit_code": school_unit.code,
        "unit_name": school_unit.name,
        "unit_type_label": report_schema.unit_type_label(school_unit.type),
        "area_name": registry.area_of(school_unit).name,
        "year": YEAR,
    }
    prefilled = [f for f in report_schema.fields_for("school") if f.prefill]
    assert prefilled
    for f in prefilled:
        sheet, coord = _cell(per_unit, f.code)
        cell = per_unit[sheet][coord]
        assert cell.value == expected[f.prefill or ""], f.code
        assert cell.protection.locked
        assert cell.fill.fgColor.rgb.endswith("D9D9D9")
    meta = {r[0]: r[1] for r in per_unit[META_SHEET].iter_rows(max_col=2, values_only=True)}
    assert meta["unit_code"] == school_unit.code


def test_fast_per_unit_file_matches_build_template(
    per_unit: Workbook,
    report_schema: ReportSchema,
    settings: Settings,
    registry: Registry,
    school_unit: Unit,
) -> None:
    """The token-stamped file holds what building the unit's workbook directly gives."""
    direct = load_workbook(
        io.BytesIO(
            template_bytes(
                build_template(report_schema, "school", YEAR, settings, registry, school_unit)
            )
        )
    )
    assert direct.sheetnames == per_unit.sheetnames
    for ws in direct.worksheets:
        other = per_unit[ws.title]
        assert [[c.value for c in row] for row in ws.iter_rows()] == [
            [c.value for c in row] for row in other.iter_rows()
        ], ws.title


def test_sheets_protected_without_password_input_cells_unlocked(
    blank: dict[str, Workbook], report_schema: ReportSchema
) -> None:
    for variant, wb in blank.items():
        for ws in wb.worksheets:
            p = ws.protection
            assert p.sheet, ws.title
            assert not p.password and not p.hashValue
            assert p.formatColumns is False and p.formatRows is False
            assert p.sort is False and p.autoFilter is False
        assert wb.security is not None and wb.security.lockStructure
        assert not wb.security.workbookPassword
        for f in report_schema.fields_for(variant):
            sheet, coord = _cell(wb, f.code)
            row = int(re.sub(r"\D", "", coord))
            label = wb[sheet].cell(row, 2)
            assert label.protection.locked
            if f.prefill is None:
                cell = wb[sheet][coord]
                assert not cell.protection.locked
                assert cell.fill.fgColor.rgb.endswith("FFF2CC"), f.code


def test_times_new_roman_everywhere(blank_dir: Path) -> None:
    for path in blank_dir.glob("*.xlsx"):
        with zipfile.ZipFile(path) as zf:
            styles = zf.read("xl/styles.xml").decode()
        fonts = re.search(r"<fonts[^>]*>(.*?)</fonts>", styles, re.S)
        assert fonts
        names = re.findall(r'<name val="([^"]+)"', fonts.group(1))
        assert names and set(names) == {"Times New Roman"}
        assert "<scheme" not in fonts.group(1)


def test_print_setup(blank: dict[str, Workbook], report_schema: ReportSchema) -> None:
    for wb in blank.values():
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                continue
            ps = ws.page_setup
            assert int(ps.paperSize) == int(ws.PAPERSIZE_A4)
            assert ws.sheet_properties.pageSetUpPr.fitToPage
            assert int(ps.fitToWidth) == 1 and int(ps.fitToHeight) == 0
            has_list = bool(ws.tables)
            assert ps.orientation == ("landscape" if has_list else "portrait"), ws.title
            if has_list:
                assert ws.freeze_panes


def test_user_text_is_nfc(blank: dict[str, Workbook]) -> None:
    for wb in blank.values():
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    if isinstance(v, str):
                        assert unicodedata.is_normalized("NFC", v)
        for ws in wb.worksheets:
            for dv in ws.data_validations.dataValidation:
                for text in (dv.prompt, dv.error):
                    assert unicodedata.is_normalized("NFC", text or "")


def test_instructions_give_deadline_and_address(
    blank: dict[str, Workbook], settings: Settings
) -> None:
    for wb in blank.values():
        text = "\n".join(
            str(v) for row in wb[INSTRUCTIONS_SHEET].iter_rows(values_only=True) for v in row if v
        )
        assert settings.deadline(YEAR).strftime("%d/%m/%Y") in text
        assert settings.submission_email in text


# --------------------------------------------------------------------------- output


def test_same_inputs_give_same_bytes(
    report_schema: ReportSchema,
    settings: Settings,
    registry: Registry,
    school_unit: Unit,
    tmp_path: Path,
) -> None:
    one = template_bytes(build_template(report_schema, "school", YEAR, settings, registry))
    time.sleep(1.1)  # zip entries and document dates would otherwise differ by a second
    two = template_bytes(build_template(report_schema, "school", YEAR, settings, registry))
    assert one == two
    a = write_template(
        report_schema, "school", YEAR, settings, registry, school_unit, path=tmp_path
    )
    b = tmp_path / "b.xlsx"
    write_template(report_schema, "school", YEAR, settings, registry, school_unit, path=b)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(YEAR, 1, 1, 0, 0, 0)}
        core = zf.read("docProps/core.xml").decode()
    assert core.count(f"{YEAR}-01-01T00:00:00Z") == 2
    assert "Sở GDĐT" in core


def test_code_that_reads_as_a_cell_address_is_refused(
    report_schema: ReportSchema, settings: Settings, registry: Registry
) -> None:
    first, *rest = report_schema.sections
    bad = replace(first, fields=(*first.fields, replace(first.fields[-1], code="ab12")))
    schema = replace(report_schema, sections=(bad, *rest))
    with pytest.raises(SchemaError, match="ab12"):
        build_template(schema, "school", YEAR, settings, registry)


def test_file_names(registry: Registry) -> None:
    assert slugify("Trường THPT Lê Quý Đôn") == "truong-thpt-le-quy-don"
    assert slugify("Phòng Giáo dục và Đào tạo huyện Đức Hòa") == (
        "phong-giao-duc-va-dao-tao-huyen-duc-hoa"
    )
    assert slugify("") == "don-vi"
    unit = Unit("THPT-Q01-01", "Trường THPT Lê Quý Đôn", "high_school", "Q01", "")
    assert unit_file_name(unit, YEAR) == "THPT-Q01-01_truong-thpt-le-quy-don_2026.xlsx"
    odd = replace(unit, code="A/B 1")
    assert unit_file_name(odd, YEAR).startswith("A-B-1_")


def test_per_unit_is_fast_for_many_units(
    report_schema: ReportSchema, settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    """Guard against per-unit rebuilds: 200 units must take a small part of a minute."""
    base = next(iter(registry.units.values()))
    units = {f"U{i:04d}": replace(base, code=f"U{i:04d}", name=f"Đơn vị {i}") for i in range(200)}
    big = Registry(areas=registry.areas, units=units)
    started = time.perf_counter()
    written = write_all(report_schema, YEAR, settings, big, tmp_path, per_unit=True)
    elapsed = time.perf_counter() - started
    assert len(written) == 200
    assert elapsed < 20, f"{elapsed:.1f} s for 200 units"


# --------------------------------------------------------------------------- CLI


def test_cli_writes_blank_templates(tmp_path: Path, report_schema: ReportSchema) -> None:
    result = CliRunner().invoke(main, ["templates", "--year", "2026", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{v.file_stem}-2026.xlsx" for v in report_schema.variants)
    assert "Đã tạo 2 biểu mẫu trống" in result.output


def test_cli_per_unit_with_filter(tmp_path: Path, registry: Registry) -> None:
    codes = sorted(registry.units)[:3]
    result = CliRunner().invoke(
        main,
        ["templates", "--output", str(tmp_path), "--per-unit", "--units", ",".join(codes[:2]),
         "--units", codes[2]],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(unit_file_name(registry.units[c], 2026) for c in codes)
    assert "Đã tạo 3 biểu mẫu điền sẵn" in result.output


def test_cli_unknown_unit_is_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["templates", "--output", str(tmp_path), "--units", "XYZ"])
    assert result.exit_code == 2
    assert "XYZ" in result.output
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- LibreOffice


def _soffice(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    assert exe
    return subprocess.run(
        [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


needs_soffice = pytest.mark.skipif(
    not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice missing"
)


@pytest.mark.libreoffice
@needs_soffice
def test_libreoffice_prints_each_blank_template(blank_dir: Path, tmp_path: Path) -> None:
    files = sorted(blank_dir.glob("*.xlsx"))
    out = tmp_path / "pdf"
    proc = _soffice(
        ["--convert-to", "pdf", "--outdir", str(out), *map(str, files)], tmp_path / "profile"
    )
    assert proc.returncode == 0, proc.stderr
    for f in files:
        pdf = out / f.with_suffix(".pdf").name
        assert pdf.exists() and pdf.stat().st_size > 10_000, proc.stdout + proc.stderr


@pytest.mark.libreoffice
@needs_soffice
def test_validation_and_names_survive_libreoffice(
    blank_dir: Path, tmp_path: Path, report_schema: ReportSchema
) -> None:
    """Open and save in LibreOffice (as a unit using it would): the contract is still there."""
    src = blank_dir / f"{report_schema.variant('school').file_stem}-{YEAR}.xlsx"
    out = tmp_path / "lo"
    proc = _soffice(["--convert-to", "xlsx", "--outdir", str(out), str(src)], tmp_path / "p")
    assert proc.returncode == 0, proc.stderr
    wb = load_workbook(out / src.name)
    for f in report_schema.fields_for("school"):
        sheet, coord = _cell(wb, f.code)
        if f.prefill is None:
            dv = _validation_at(wb[sheet], coord)
            assert dv is not None, f.code
    meta = {r[0]: r[1] for r in wb[META_SHEET].iter_rows(max_col=2, values_only=True)}
    assert meta["template_id"] == report_schema.variant("school").template_id
    assert wb[META_SHEET].sheet_state == "hidden"
    for lst in report_schema.lists:
        table = wb[report_schema.sheet_name(lst.sheet)].tables[lst.code]
        assert [c.name for c in table.tableColumns] == [f.code for f in lst.fields]
