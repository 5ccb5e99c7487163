"""Every subset within its total: the part-of relations of schemas/report.yaml.

Specification (these cases are the tests):

* A count declared ``part_of`` another (or of a sum of others) may not exceed it. Every
  declared pair, and every pair implied by two declarations (recognised ⊂ registered ⊂
  total gives recognised ≤ total), is a validation rule with a stable code (today's codes
  kept; a new pair's code is ``<part>-gt-<whole>``), reported as an error at the part's
  cell with both labels and both values in the message, and a red mark in the template
  on the part's and the whole's cells.
* A pair implied through a blank field is still checked (recognised 9 > total 4 with
  registered blank is ``recognised-gt-total``); when the declared pair already reported the
  part's cell, the implied one does not report it again.
* A part filled while every whole it could be checked against is blank (or wrong) is left
  out and said (``parts-without-whole``, docs/dac-ta-tieu-chi.md 8.3): walked for every
  relation, so a new relation cannot be left unchecked.
* Every numeric column of a list with a ``total`` column is declared a part or says why
  not (``not_part_of``): a new subset column cannot be left unchecked.
* Only summable fields are summed; every count (an integer with a unit) is summable, a
  year never is.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import Workbook
from openpyxl.utils.cell import range_boundaries

from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import (
    DEFAULT_SCHEMA_DIR,
    Relation,
    ReportSchema,
    Schemas,
    load_schemas,
    relation_code,
)
from pipeline.settings import Settings
from pipeline.templates import build_template
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
)

YEAR = 2026
REPORT = load_schemas(DEFAULT_SCHEMA_DIR).report
RELATIONS = REPORT.relations
CLEAN_AREA_OFFICE: dict[str, Any] = dict(
    CLEAN_SCHOOL,
    documents_advised=3,
    inspections=5,
    institutions_total=40,
    institutions_registered=30,
    institutions_recognised=20,
)
TODAYS_CODES = {
    "recognised-gt-registered",
    "registered-gt-total",
    "digital-gt-total",
    "foreign-language-gt-total",
    "online-gt-total",
    "disabled-gt-supported",
    "registered-institutions-gt-total",
    "recognised-institutions-gt-registered",
}
"""Codes users and issues.csv consumers know: kept."""


def _quoted(label: str) -> str:
    return "“" + label.replace("“", "‘").replace("”", "’") + "”"


def _variant(rel: Relation) -> str:
    if rel.list is None and not all(
        REPORT.field_map[n].in_variant("school") for n in (rel.part, *rel.whole)
    ):
        return "area_office"
    return "school"


# --------------------------------------------------------------------------- the schema walk


def test_relations_found_in_the_schema() -> None:
    pairs = {(r.list, r.part, r.whole, r.via) for r in RELATIONS}
    assert pairs == {
        ("people", "registered", ("total",), ()),
        ("people", "recognised", ("registered",), ()),
        ("people", "digital_competent", ("total",), ()),
        ("people", "foreign_language", ("total",), ()),
        ("people", "online_learning", ("total",), ()),
        ("people", "recognised", ("total",), ("registered",)),
        (None, "institutions_registered", ("institutions_total",), ()),
        (None, "institutions_recognised", ("institutions_registered",), ()),
        (
            None,
            "institutions_recognised",
            ("institutions_total",),
            ("institutions_registered",),
        ),
        (None, "supported_disabled", ("supported_learners", "supported_staff"), ()),
    }
    codes = {r.code for r in RELATIONS}
    assert codes >= TODAYS_CODES
    assert {"recognised-gt-total", "institutions-recognised-gt-institutions-total"} <= codes
    for r in RELATIONS:
        if r.code not in TODAYS_CODES:
            assert r.code == relation_code(r.part, r.whole)
        # Impossible figures: the part is excluded until the unit corrects it.
        assert r.severity == "error", r.code


def test_every_relation_is_a_rule() -> None:
    by_code = {r.code: r for r in REPORT.rules}
    assert len(by_code) == len(REPORT.rules)
    for rel in RELATIONS:
        rule = by_code[rel.code]
        assert rule.relation == rel
        assert rule.check == f"{rel.part} <= {' + '.join(rel.whole)}"
        assert rule.severity == rel.severity and rule.list == rel.list
    # No hand-written rule repeats a relation.
    hand = [r for r in REPORT.rules if r.relation is None]
    assert not any(r.check and "<=" in r.check and "report_year" not in r.check for r in hand)


def test_every_column_of_a_list_with_a_total_is_a_part_or_says_why_not(
    report_schema: ReportSchema,
) -> None:
    checked = 0
    for lst in report_schema.lists:
        codes = {f.code for f in lst.fields}
        if "total" not in codes:
            continue
        for f in lst.fields:
            if not f.is_numeric or f.code == "total":
                continue
            checked += 1
            assert f.part_of or f.not_part_of, (
                f"{lst.code}.{f.code}: khai báo part_of (là một phần của cột nào) hoặc ghi lý "
                "do ở not_part_of"
            )
    assert checked >= 5


def test_reasons_are_recorded_for_counts_a_specialist_would_ask_about(
    report_schema: ReportSchema,
) -> None:
    """Counts that look like parts but are not: each says why, in Vietnamese."""
    for code in (
        "res_shared",
        "news_items",
        "campaign_participants",
        "supported_learners",
        "supported_staff",
        "scholarships",
        "learning_families",
        "awards_individual",
    ):
        f = report_schema.field_map[code]
        assert not f.part_of and len(f.not_part_of) > 30, code


def test_counts_are_summable_and_years_are_not(report_schema: ReportSchema) -> None:
    for lst, f in report_schema.iter_all_fields():
        where = f"{lst}.{f.code}" if lst else f.code
        if f.code == "year" or f.code.endswith("_year"):
            assert not f.summable, where
        elif f.type == "integer" and f.unit:
            assert f.summable, where
        if f.summable:
            assert f.is_numeric, where
    assert report_schema.field_map["funds_mobilised"].summable


# --------------------------------------------------------------------------- template marks


@pytest.fixture(scope="module")
def blank(report_schema: ReportSchema, settings: Settings, registry: Registry) -> dict[str, Any]:
    return {
        v.code: build_template(report_schema, v.code, YEAR, settings, registry, None)
        for v in report_schema.variants
    }


def _formulas(ws: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            out.setdefault(str(cf.sqref), []).extend(rule.formula)
    return out


def _table_columns(wb: Workbook, list_code: str) -> tuple[Any, dict[str, str], int, int]:
    for ws in wb.worksheets:
        table = ws.tables.get(list_code)
        if table is not None:
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            letters = {
                ws.cell(min_row, c).value: ws.cell(min_row, c).column_letter
                for c in range(min_col, max_col + 1)
            }
            return ws, letters, min_row + 1, max_row
    raise KeyError(list_code)


@pytest.mark.parametrize("rel", RELATIONS, ids=[r.code for r in RELATIONS])
def test_every_relation_turns_its_cells_red(rel: Relation, blank: dict[str, Workbook]) -> None:
    names = (rel.part, *rel.whole)
    shown = 0
    for variant, wb in blank.items():
        if rel.list is None:
            if not all(REPORT.field_map[n].in_variant(variant) for n in names):
                continue
            places = {n: cell_of(wb, n).split("!") for n in names}
            sheet = places[rel.part][0]
            assert {p[0] for p in places.values()} == {sheet}
            ref = {n: "$" + p[1][0] + "$" + p[1][1:] for n, p in places.items()}
            ranges = {n: p[1] for n, p in places.items()}
            ws = wb[sheet]
        else:
            ws, letters, first, last = _table_columns(wb, rel.list)
            ref = {n: f"${letters[n]}{first}" for n in names}
            ranges = {n: f"{letters[n]}{first}:{letters[n]}{last}" for n in names}
        checks = ",".join(f"ISNUMBER({ref[n]})" for n in names)
        whole = "+".join(ref[n] for n in rel.whole)
        expected = f"AND({checks},{ref[rel.part]}>{whole})"
        formulas = _formulas(ws)
        for n in names:
            assert expected in formulas.get(ranges[n], []), (variant, n)
        shown += 1
    assert shown, rel.code


# --------------------------------------------------------------------------- violating files


def _violation(rel: Relation) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """A clean report where only `rel` is broken: its part one more than its whole, every
    field in between left blank. Returns scalars, people rows and the broken row (1-based)."""
    values = dict(CLEAN_AREA_OFFICE if _variant(rel) == "area_office" else CLEAN_SCHOOL)
    people = copy.deepcopy(CLEAN_PEOPLE)
    if rel.list is None:
        for n in rel.via:
            values[n] = None
        values[rel.part] = sum(values[w] for w in rel.whole) + 1
        return values, people, 0
    row = people[0]
    for n in rel.via:
        row[n] = None
    row[rel.part] = sum(row[w] for w in rel.whole) + 1
    return values, people, 1


@pytest.fixture(scope="module")
def violations(
    tmp_path_factory: pytest.TempPathFactory,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> tuple[RunResult, dict[str, tuple[str, Workbook, int]]]:
    """One file per relation, each from its own unit's per-unit template, in one run."""
    folder = tmp_path_factory.mktemp("relations") / "in"
    pools = {
        "area_office": [u for u in registry.units.values() if u.type == "area_office"],
        "school": [u for u in registry.units.values() if u.type != "area_office"],
    }
    made: dict[str, tuple[str, Workbook, int]] = {}
    raws = []
    for rel in RELATIONS:
        unit = pools[_variant(rel)].pop(0)
        values, people, row = _violation(rel)
        # No nominations: the same nominee in every file would be a duplicate-nominee each.
        lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
        wb = school_workbook(schemas, registry, settings, unit.code, values, lists)
        name = f"{unit.code}_{rel.code}.xlsx"
        raws.append(read_submission(save(wb, folder / name), folder, schemas.report))
        made[rel.code] = (name, wb, row)
    return consolidate(raws, YEAR, schemas, registry, settings), made


@pytest.mark.parametrize("rel", RELATIONS, ids=[r.code for r in RELATIONS])
def test_a_file_breaking_a_relation_gets_its_code_at_the_part(
    rel: Relation, violations: tuple[RunResult, dict[str, tuple[str, Workbook, int]]]
) -> None:
    result, made = violations
    name, wb, row = made[rel.code]
    if rel.list is None:
        cell = cell_of(wb, rel.part)
    else:
        ws, letters, first, _ = _table_columns(wb, rel.list)
        cell = f"{ws.title}!{letters[rel.part]}{first + row - 1}"
    relation_codes = {r.code for r in RELATIONS}
    found = [
        (i.code, f"{i.sheet}!{i.cell}")
        for i in result.issues
        if i.file == name and i.code in relation_codes
    ]
    assert found == [(rel.code, cell)]
    issue = next(i for i in result.issues if i.file == name and i.code == rel.code)
    assert issue.severity == "error"
    fields = REPORT.list_map[rel.list].fields if rel.list else REPORT.fields
    labels = {f.code: f.label for f in fields}
    values, people, _ = _violation(rel)
    source = people[0] if rel.list else values
    whole = sum(source[w] for w in rel.whole)
    assert _quoted(labels[rel.part]) in issue.message
    assert f"({source[rel.part]})" in issue.message and f"({whole})" in issue.message
    for w in rel.whole:
        assert _quoted(labels[w]) in issue.message
    if rel.list == "people":
        assert issue.message.startswith("Nhóm “Cán bộ quản lý”: ")
    # The part is excluded until the unit corrects it; its whole still counts.
    unit = result.data.unit_of[name]
    measures = result.measures.loc[unit]
    if rel.list is None:
        assert pd.isna(measures[rel.part])
        for w in rel.whole:
            assert measures[w] == values[w]
    else:
        assert pd.isna(measures[f"people.managers.{rel.part}"])
        assert measures["people.managers.total"] == people[0]["total"]


def test_registered_blank_recognised_above_total_is_caught(
    violations: tuple[RunResult, dict[str, tuple[str, Workbook, int]]],
) -> None:
    """The issue's own case: registered left blank, 5 of 4 managers recognised. Before, nothing
    was said and the 5 reached the sums and the managers' rate."""
    result, made = violations
    name, _, _ = made["recognised-gt-total"]
    [issue] = [i for i in result.issues if i.file == name]
    assert issue.code == "recognised-gt-total"
    assert issue.value == "5"
    assert issue.message == (
        "Nhóm “Cán bộ quản lý”: “Được công nhận ‘Công dân học tập’” (5) lớn hơn “Tổng số” (4). "
        "Số thứ nhất là một phần của số thứ hai nên không thể lớn hơn; kiểm tra lại hai ô này."
    )


def test_one_message_per_wrong_cell(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """recognised 6 > registered 3 and > total 4: the declared pair speaks, once."""
    people = copy.deepcopy(CLEAN_PEOPLE)
    people[0].update(total=4, registered=3, recognised=6)
    lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": CLEAN_NOMINATIONS}
    wb = school_workbook(schemas, registry, settings, lists=lists)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path / "in", schemas.report)], YEAR, schemas, registry, settings
    )
    assert [i.code for i in result.issues] == ["recognised-gt-registered"]


def test_parts_of_a_row_whose_total_is_wrong_are_left_out(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Managers' total typed in words: the total is an error, and the row's parts cannot be
    checked against it. Before: 4 recognised managers over no managers gave a member rate
    above 100% (Biểu 05) and recognised counts with no total in the sums."""
    people = copy.deepcopy(CLEAN_PEOPLE)
    people[0]["total"] = "bốn"
    lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
    wb = school_workbook(schemas, registry, settings, lists=lists)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path / "in", schemas.report)], YEAR, schemas, registry, settings
    )
    ws, letters, first, _ = _table_columns(wb, "people")
    found = [(i.code, f"{i.sheet}!{i.cell}") for i in result.issues]
    assert found == [
        ("invalid-number", f"{ws.title}!{letters['total']}{first}"),
        ("parts-without-whole", f"{ws.title}!{letters['registered']}{first}"),
    ]
    issue = result.issues[1]
    assert issue.severity == "error"
    assert issue.message == (
        "Nhóm “Cán bộ quản lý”: “Tổng số” trống hoặc có lỗi nên không kiểm tra được các số là "
        "một phần của nó: “Đăng ký ‘Công dân học tập’” (4), “Được công nhận ‘Công dân học tập’” "
        "(4), “Đạt chuẩn năng lực số” (4), “Có chứng chỉ ngoại ngữ” (2), “Tham gia học tập, bồi "
        "dưỡng trực tuyến” (4). Các số này không được tính vào tổng hợp và tỷ lệ; điền đúng "
        "“Tổng số” rồi gửi lại."
    )
    unit = result.data.unit_of["bao-cao.xlsx"]
    measures = result.measures.loc[unit]
    assert pd.isna(measures["people.managers.total"])
    assert pd.isna(measures["people.managers.recognised"])
    # Members: teachers 76/80 and staff 9/10 only.
    assert result.units.loc[unit, "members_recognised"] == 85
    assert result.units.loc[unit, "members_total"] == 90
    # docs/dac-ta-tieu-chi.md 1.2: with the managers' figures left out, the unit's member rate
    # is no figure for a verdict (not 85/90 over part of its staff, nor 225%): c1 and the
    # TT 24 level wait for the correction, and the reason names the managers' row.
    rates = result.learning_unit.set_index("unit_code")["member_rate"]
    assert pd.isna(rates[unit])
    c1 = result.criteria[
        (result.criteria["unit_code"] == unit) & (result.criteria["criterion"] == "c1")
    ]
    assert list(c1["status"]) == ["chưa đủ số liệu"]
    assert "của nhóm Cán bộ quản lý" in str(c1["reason"].iloc[0])


# --------------------------------------------------------------------------- parts without whole


def _wholes_of(rel: Relation) -> set[str]:
    """Every field any whole of `rel.part` is made of (declared or implied)."""
    return {w for r in RELATIONS if (r.list, r.part) == (rel.list, rel.part) for w in r.whole}


def _orphan(rel: Relation) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A clean report where `rel.part` is filled (non-zero) and every whole it could be
    checked against is blank."""
    values = dict(CLEAN_AREA_OFFICE if _variant(rel) == "area_office" else CLEAN_SCHOOL)
    people = copy.deepcopy(CLEAN_PEOPLE)
    source = people[0] if rel.list else values
    for w in _wholes_of(rel):
        source[w] = None
    assert source[rel.part], rel.code
    return values, people


@pytest.fixture(scope="module")
def orphans(
    tmp_path_factory: pytest.TempPathFactory,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> tuple[RunResult, dict[str, tuple[str, Workbook]]]:
    """One file per relation, its part filled and its wholes blank, in one run."""
    folder = tmp_path_factory.mktemp("orphans") / "in"
    pools = {
        "area_office": [u for u in registry.units.values() if u.type == "area_office"],
        "school": [u for u in registry.units.values() if u.type != "area_office"],
    }
    made: dict[str, tuple[str, Workbook]] = {}
    raws = []
    for rel in RELATIONS:
        unit = pools[_variant(rel)].pop(0)
        values, people = _orphan(rel)
        lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
        wb = school_workbook(schemas, registry, settings, unit.code, values, lists)
        name = f"{unit.code}_{rel.code}.xlsx"
        raws.append(read_submission(save(wb, folder / name), folder, schemas.report))
        made[rel.code] = (name, wb)
    return consolidate(raws, YEAR, schemas, registry, settings), made


@pytest.mark.parametrize("rel", RELATIONS, ids=[r.code for r in RELATIONS])
def test_every_part_without_its_whole_is_left_out_and_said(
    rel: Relation, orphans: tuple[RunResult, dict[str, tuple[str, Workbook]]]
) -> None:
    """docs/dac-ta-tieu-chi.md 8.3, for every relation of the schema (a new one is walked
    too): the part filled, every whole it could be checked against blank. Before, only the
    people matrix's parts of its “Tổng số” were left out; institutions recognised with no
    registered, or disabled people with no supported ones, were summed into the city's
    totals unchecked."""
    result, made = orphans
    name, wb = made[rel.code]
    values, people = _orphan(rel)
    source = people[0] if rel.list else values
    fields = REPORT.list_map[rel.list].fields if rel.list else REPORT.fields
    labels = {f.code: f.label for f in fields}
    said = [i for i in result.issues if i.file == name and i.code == "parts-without-whole"]
    mention = f"{_quoted(labels[rel.part])} ({source[rel.part]})"
    [issue] = [i for i in said if mention in i.message]
    assert issue.severity == "error"
    assert "không được tính vào tổng hợp và tỷ lệ" in issue.message
    # It names the blank whole to fill.
    head = issue.message.split(" trống hoặc có lỗi")[0]
    assert any(_quoted(labels[w]) in head for w in _wholes_of(rel))
    if rel.list is None:
        assert f"{issue.sheet}!{issue.cell}" == cell_of(wb, issue.field)
    unit = result.data.unit_of[name]
    key = rel.part if rel.list is None else f"people.managers.{rel.part}"
    assert pd.isna(result.measures.loc[unit, key])
    # Left out, not blank: a verdict over it waits for the correction.
    assert (name, rel.list or "", 1 if rel.list else 0, rel.part) in result.data.excluded


def test_a_part_checked_through_a_blank_middle_is_kept(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """recognised 4 with registered blank and total 4: checked against the total (the
    implied relation), so it counts; nothing to say about it."""
    people = copy.deepcopy(CLEAN_PEOPLE)
    people[0]["registered"] = None
    lists = {"people": people, "initiatives": CLEAN_INITIATIVES, "nominations": []}
    wb = school_workbook(schemas, registry, settings, lists=lists)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path / "in", schemas.report)], YEAR, schemas, registry, settings
    )
    assert not [i for i in result.issues if i.code == "parts-without-whole"]
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.measures.loc[unit, "people.managers.recognised"] == 4


def test_a_zero_part_needs_no_whole(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """0 disabled people with both supported counts blank: 0 exceeds no count, kept."""
    values = dict(CLEAN_SCHOOL, supported_learners=None, supported_staff=None, supported_disabled=0)
    lists = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []}
    wb = school_workbook(schemas, registry, settings, values=values, lists=lists)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path / "in", schemas.report)], YEAR, schemas, registry, settings
    )
    assert not [i for i in result.issues if i.code == "parts-without-whole"]
    unit = result.data.unit_of["bao-cao.xlsx"]
    assert result.measures.loc[unit, "supported_disabled"] == 0


def test_a_sum_whole_with_one_blank_field_checks_what_it_can(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Disabled 1 of 12 supported learners, staff blank: 1 ≤ 12 ≤ 12 + staff, kept. Disabled
    13 of 12 learners, staff blank: might fit with the staff, cannot be checked, left out."""
    for disabled, kept in ((1, True), (13, False)):
        values = dict(CLEAN_SCHOOL, supported_staff=None, supported_disabled=disabled)
        lists = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []}
        wb = school_workbook(schemas, registry, settings, values=values, lists=lists)
        folder = tmp_path / str(disabled) / "in"
        path = save(wb, folder / "bao-cao.xlsx")
        result = consolidate(
            [read_submission(path, folder, schemas.report)], YEAR, schemas, registry, settings
        )
        said = [i.field for i in result.issues if i.code == "parts-without-whole"]
        unit = result.data.unit_of["bao-cao.xlsx"]
        if kept:
            assert said == []
            assert result.measures.loc[unit, "supported_disabled"] == disabled
        else:
            assert said == ["supported_disabled"]
            assert pd.isna(result.measures.loc[unit, "supported_disabled"])
