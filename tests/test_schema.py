"""The shipped schemas (schemas/report.yaml, schemas/criteria.yaml) and their loader.

Two halves: the real files cover what DESIGN.md section 2 says a unit reports and the
criteria/targets of the plan; broken copies of the real files are refused with a
Vietnamese SchemaError that names the file and the offending key.
"""

from __future__ import annotations

import copy
import re
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.errors import SchemaError
from pipeline.schema import (
    CriteriaSchema,
    ReportSchema,
    Target,
    load_criteria,
    load_report_schema,
    load_schemas,
)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHOOL_TYPES = ("high_school", "multi_level_school", "affiliated_unit")
ALL_TYPES = ("area_office", *SCHOOL_TYPES)
VARIANTS = ("area_office", "school")

# Letters only Vietnamese uses (besides plain ASCII): enough to tell a Vietnamese message.
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)


def assert_vietnamese(message: str) -> None:
    """A message the department reads: Vietnamese words, NFC, naming a file (“tệp”)."""
    assert VIETNAMESE_LETTERS.search(message), message
    assert unicodedata.is_normalized("NFC", message), message
    assert "tệp" in message.lower(), message


# --------------------------------------------------------------------------- shipped files


@pytest.fixture(scope="module")
def report() -> ReportSchema:
    return load_report_schema(SCHEMA_DIR / "report.yaml")


@pytest.fixture(scope="module")
def criteria(report: ReportSchema) -> CriteriaSchema:
    return load_criteria(SCHEMA_DIR / "criteria.yaml", report)


def test_shipped_schemas_load() -> None:
    schemas = load_schemas(SCHEMA_DIR)
    assert schemas.report.id
    assert schemas.report.version
    assert schemas.criteria.version
    assert schemas.report.path.name == "report.yaml"
    assert schemas.criteria.path.name == "criteria.yaml"
    assert "{year}" in schemas.report.title


def test_variants_cover_every_unit_type(report: ReportSchema) -> None:
    assert {v.code for v in report.variants} == set(VARIANTS)
    assert report.variant("area_office").unit_types == ("area_office",)
    assert set(report.variant("school").unit_types) == set(SCHOOL_TYPES)
    for unit_type in ALL_TYPES:
        expected = "area_office" if unit_type == "area_office" else "school"
        assert report.variant_for_unit_type(unit_type).code == expected
    ids = [v.template_id for v in report.variants]
    assert len(set(ids)) == len(ids)
    for v in report.variants:
        assert report.variant_for_template_id(v.template_id) == v
    assert report.variant_for_template_id("khong-co") is None


# Scalar fields of DESIGN.md section 2, by section, that both variants carry.
COMMON_FIELDS: dict[str, tuple[str, ...]] = {
    "unit_info": (
        "unit_code", "unit_name", "unit_type", "area_name", "report_year", "reporter_name",
        "reporter_title", "reporter_phone", "reporter_email", "head_of_unit", "report_date",
    ),
    "organisation": (
        "steering_committee", "steering_committee_decision", "annual_plan", "annual_plan_number",
    ),
    "awareness": (
        "campaign_events", "campaign_participants", "news_items", "lifelong_learning_week",
    ),
    "learning_unit": (
        "ldu_registered", "ldu_self_level", "ldu_recognised_level", "ldu_decision",
        "ldu_recognised_year", "ind_plan", "ind_conditions", "ind_members_learning",
        "ind_effectiveness", "emulation_title", "digital_level",
    ),
    "digital_resources": (
        "own_repository", "res_elearning", "res_videos", "res_question_banks", "res_other",
        "res_shared",
    ),
    "support": (
        "supported_learners", "supported_staff", "supported_disabled", "scholarships",
        "funds_mobilised",
    ),
    "beyond_school": ("cultural_activities", "learning_families", "international_activities"),
    "rewards": ("awards_collective", "awards_individual"),
    "assessment": ("results_summary", "difficulties", "proposals"),
}  # fmt: skip

# Fields only area offices report (DESIGN.md section 2: "area offices also: ...").
AREA_OFFICE_ONLY: dict[str, tuple[str, ...]] = {
    "organisation": ("documents_advised", "inspections"),
    "learning_unit": ("institutions_total", "institutions_registered", "institutions_recognised"),
}


def test_section_codes(report: ReportSchema) -> None:
    assert [s.code for s in report.sections] == list(COMMON_FIELDS)
    sheet_codes = {s.code for s in report.sheets}
    for s in report.sections:
        assert s.title and s.sheet in sheet_codes


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("section", list(COMMON_FIELDS))
def test_every_field_group_in_both_variants(
    report: ReportSchema, variant: str, section: str
) -> None:
    fields = {f.code: f for f in report.fields_for(variant)}
    for code in COMMON_FIELDS[section]:
        assert code in fields, f"{code} thiếu trong bản {variant}"
        assert fields[code].section == section
    for code in AREA_OFFICE_ONLY.get(section, ()):
        assert (code in fields) == (variant == "area_office"), code


def test_area_office_only_fields(report: ReportSchema) -> None:
    only = {c for codes in AREA_OFFICE_ONLY.values() for c in codes}
    restricted = {f.code for f in report.fields if f.variants}
    assert restricted == only
    for code in only:
        assert report.field_map[code].variants == ("area_office",)
        assert report.field_map[code].in_variant("area_office")
        assert not report.field_map[code].in_variant("school")
    area = {f.code for f in report.fields_for("area_office")}
    school = {f.code for f in report.fields_for("school")}
    assert area - school == only
    assert school <= area


def test_field_types(report: ReportSchema) -> None:
    f = report.field_map
    assert f["report_year"].type == "integer"
    assert f["report_date"].type == "date"
    assert f["funds_mobilised"].type == "money"
    for code in ("steering_committee", "annual_plan", "lifelong_learning_week", "ldu_registered"):
        assert f[code].type == "yes_no"
    for code in ("ldu_self_level", "ldu_recognised_level"):
        assert f[code].choices == "ldu_level"
    for code in ("ind_plan", "ind_conditions", "ind_members_learning", "ind_effectiveness"):
        assert f[code].choices == "pass_fail"
    assert f["emulation_title"].choices == "emulation_title"
    assert f["digital_level"].choices == "digital_level"
    for code in ("unit_code", "unit_name", "unit_type", "area_name", "report_year"):
        assert f[code].prefill and f[code].required
    for fld in report.fields:
        if fld.is_numeric and fld.section not in ("unit_info", "learning_unit"):
            assert fld.min == 0, fld.code


def test_choice_lists(report: ReportSchema) -> None:
    codes = {name: [c.code for c in items] for name, items in report.choices.items()}
    assert codes["ldu_level"] == ["none", "level_1", "level_2"]
    assert codes["initiative_level"] == ["not_recognised", "unit", "area", "city", "national"]
    assert codes["emulation_title"] == ["none", "advanced", "excellent"]
    assert codes["digital_level"][0] == "below"
    assert {"basic", "fair"} <= set(codes["digital_level"])
    assert set(codes["nominee_kind"]) == {"collective", "individual", "household"}
    assert codes["award_form"] == ["director_certificate", "city_merit", "pm_merit"]
    assert codes["people_group"] == ["managers", "teachers", "staff", "learners"]
    # rank orders the levels so criteria can compare "at least".
    for name in ("ldu_level", "initiative_level", "emulation_title", "digital_level"):
        ranks = [c.rank for c in report.choices[name]]
        assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks), name
    assert report.choice_label("ldu_level", "level_1") == "Mức 1"
    assert report.choice_label("ldu_level", "khong-co") == "khong-co"
    assert report.unit_type_label("high_school") == "Trường THPT"


def test_lists(report: ReportSchema) -> None:
    assert [lst.code for lst in report.lists] == ["people", "initiatives", "nominations"]
    people = report.list_map["people"]
    assert [f.code for f in people.fields] == [
        "group", "total", "registered", "recognised", "digital_competent", "foreign_language",
        "online_learning",
    ]  # fmt: skip
    assert people.fixed_field == "group" and people.fixed_choices == "people_group"
    initiatives = report.list_map["initiatives"]
    assert [f.code for f in initiatives.fields] == [
        "title", "domain", "authors", "level", "year", "decision",
    ]  # fmt: skip
    assert initiatives.field("level").choices == "initiative_level"
    nominations = report.list_map["nominations"]
    assert [f.code for f in nominations.fields] == [
        "nominee_kind", "nominee_name", "position", "proposed_form", "achievements",
    ]  # fmt: skip
    assert nominations.field("proposed_form").choices == "award_form"
    with pytest.raises(KeyError):
        nominations.field("khong_co")
    sheets = {s.code for s in report.sheets}
    assert {lst.sheet for lst in report.lists} <= sheets
    listed = [(lst, f.code) for lst, f in report.iter_all_fields() if lst is not None]
    assert len(listed) == sum(len(lst.fields) for lst in report.lists)


def test_codes_ascii_labels_vietnamese_nfc(report: ReportSchema) -> None:
    for _, f in report.iter_all_fields():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.code), f.code
        assert f.label and unicodedata.is_normalized("NFC", f.label), f.code
    for s in report.sections:
        assert VIETNAMESE_LETTERS.search(s.title), s.code
    for r in report.rules:
        assert VIETNAMESE_LETTERS.search(r.message), r.code
    for sheet in report.sheets:
        assert len(sheet.name) <= 31
        assert report.sheet_name(sheet.code) == sheet.name


# --------------------------------------------------------------------------- criteria


CRITERIA_APPLIES_TO = {
    "a1": ("area_office",),
    "a2": ("area_office",),
    "a3": ("area_office",),
    "a4": ("area_office",),
    "a5": ("area_office",),
    "b1": SCHOOL_TYPES,
    "b2": SCHOOL_TYPES,
    "b3": SCHOOL_TYPES,
    "c1": ALL_TYPES,
    "c2": ALL_TYPES,
}


def test_every_criterion_with_applies_to(criteria: CriteriaSchema) -> None:
    found = {c.code: c for c in criteria.criteria}
    assert list(found) == list(CRITERIA_APPLIES_TO)
    for code, types in CRITERIA_APPLIES_TO.items():
        assert set(found[code].applies_to) == set(types), code
        assert (found[code].expr or found[code].rate) and found[code].source, code
        assert VIETNAMESE_LETTERS.search(found[code].label), code


def test_params(criteria: CriteriaSchema) -> None:
    # DESIGN.md: "many initiatives" is a setting, default 1.
    assert criteria.params["many_initiatives"].value == 1
    # c1's rate is the QĐ 677 target in force, not a param of its own (one figure per year).
    assert "cdht_member_target" not in criteria.params
    c1 = next(c for c in criteria.criteria if c.code == "c1")
    assert c1.rate is not None and c1.rate.target == "cdht_members"
    # A choice param holds a level code and compares by its rank.
    level = criteria.params["min_initiative_level"]
    assert (level.choice, level.choices, level.value) == ("unit", "initiative_level", 1)
    assert criteria.params["min_initiative_level_area_office"].choice == "area"
    for p in criteria.params.values():
        assert p.label and p.source, p.code


def test_learning_unit_levels(criteria: CriteriaSchema) -> None:
    lul = criteria.learning_unit_levels
    assert "24/2023" in lul.source
    assert lul.validity_years == 3
    assert len(lul.indicators) == 4
    level_1, level_2 = lul.levels
    assert (level_1.code, level_1.min_member_rate, level_1.min_learner_rate) == (
        "level_1", 0.90, 0.95
    )  # fmt: skip
    assert (level_1.min_emulation_title, level_1.min_digital_level) == ("advanced", "basic")
    assert (level_2.code, level_2.min_member_rate, level_2.min_learner_rate) == (
        "level_2", 0.95, 0.97
    )  # fmt: skip
    assert (level_2.min_emulation_title, level_2.min_digital_level) == ("excellent", "fair")
    assert level_2.min_months_after_level_1 == 12


def test_targets(criteria: CriteriaSchema) -> None:
    targets = {t.code: t for t in criteria.targets}
    cdht = targets["cdht_members"]
    assert dict(cdht.milestones) == {2025: 0.6, 2030: 0.8}
    assert (cdht.numerator, cdht.denominator) == ("members_recognised", "members_total")
    assert "677" in cdht.source
    ldu = targets["ldu_units"]
    assert dict(ldu.milestones) == {2025: 0.8}
    assert "387" in ldu.source
    derived = {d.code for d in criteria.derived}
    for t in targets.values():
        assert {t.numerator, t.denominator} <= derived


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2023, (2025, 0.6)),
        (2024, (2025, 0.6)),
        (2025, (2025, 0.6)),
        (2026, (2030, 0.8)),
        (2030, (2030, 0.8)),
        (2031, None),
    ],
)
def test_milestone_for(year: int, expected: tuple[int, float] | None) -> None:
    target = Target("t", "nhãn", "a", "b", {2030: 0.8, 2025: 0.6}, "")
    assert target.milestone_for(year) == expected


def test_milestone_for_shipped_targets(criteria: CriteriaSchema) -> None:
    targets = {t.code: t for t in criteria.targets}
    assert targets["cdht_members"].milestone_for(2026) == (2030, 0.8)
    assert targets["ldu_units"].milestone_for(2025) == (2025, 0.8)
    assert targets["ldu_units"].milestone_for(2026) is None


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2023, (2025, 0.6)),
        (2025, (2025, 0.6)),
        (2026, (2030, 0.8)),
        (2030, (2030, 0.8)),
        # Past the last milestone it still holds ("80% by 2030" is the bar in 2031).
        (2031, (2030, 0.8)),
    ],
)
def test_target_in_force(year: int, expected: tuple[int, float]) -> None:
    target = Target("t", "nhãn", "a", "b", {2030: 0.8, 2025: 0.6}, "")
    assert target.in_force(year) == expected


# --------------------------------------------------------------------------- broken files

Mutator = Callable[[dict[str, Any], dict[str, Any]], Any]


def _real(name: str) -> dict[str, Any]:
    data = yaml.safe_load((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _dump(data: Any, path: Path) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _section(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(s for s in report["sections"] if s["code"] == code)


def _field(report: dict[str, Any], section: str, code: str) -> dict[str, Any]:
    return next(f for f in _section(report, section)["fields"] if f["code"] == code)


def _list(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(lst for lst in report["lists"] if lst["code"] == code)


def _list_field(report: dict[str, Any], list_code: str, code: str) -> dict[str, Any]:
    return next(f for f in _list(report, list_code)["fields"] if f["code"] == code)


def _rule(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in report["rules"] if r["code"] == code)


def _criterion(criteria: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in criteria["criteria"] if c["code"] == code)


def _derived(criteria: dict[str, Any], code: str) -> dict[str, Any]:
    return next(d for d in criteria["derived"] if d["code"] == code)


def _target(criteria: dict[str, Any], code: str) -> dict[str, Any]:
    return next(t for t in criteria["targets"] if t["code"] == code)


def _set(d: dict[str, Any], key: str, value: Any) -> None:
    d[key] = value


def _dup_field(r: dict[str, Any], c: dict[str, Any]) -> None:
    _field(r, "awareness", "news_items")["code"] = "campaign_events"


def _dup_field_across_sections(r: dict[str, Any], c: dict[str, Any]) -> None:
    _section(r, "support")["fields"].append(copy.deepcopy(_field(r, "awareness", "news_items")))


def _dup_list_column(r: dict[str, Any], c: dict[str, Any]) -> None:
    fields = _list(r, "initiatives")["fields"]
    fields.append(copy.deepcopy(fields[0]))


def _dup_rule(r: dict[str, Any], c: dict[str, Any]) -> None:
    # A hand-written rule may not take the code of a part-of relation either.
    _rule(r, "missing-plan-number")["code"] = "recognised-gt-registered"


def _no_label(r: dict[str, Any], c: dict[str, Any]) -> None:
    del _field(r, "awareness", "campaign_events")["label"]


def _no_list_label(r: dict[str, Any], c: dict[str, Any]) -> None:
    del _list(r, "nominations")["fields"][1]["label"]


def _no_criterion_label(r: dict[str, Any], c: dict[str, Any]) -> None:
    del _criterion(c, "a1")["label"]


# (id, mutate(report, criteria), file named, substrings the message must contain)
BROKEN: list[tuple[str, Mutator, str, tuple[str, ...]]] = [
    (
        "unknown-field-type",
        lambda r, c: _set(_field(r, "awareness", "campaign_events"), "type", "number"),
        "report.yaml",
        ("sections[awareness].fields[0][campaign_events].type", "“number”"),
    ),
    (
        "duplicate-field-code",
        _dup_field,
        "report.yaml",
        ("sections[awareness].fields[2].code", "“campaign_events”", "trùng"),
    ),
    (
        "duplicate-field-code-across-sections",
        _dup_field_across_sections,
        "report.yaml",
        ("sections[support]", "“news_items”", "trùng", "sections[awareness]"),
    ),
    (
        "duplicate-list-column",
        _dup_list_column,
        "report.yaml",
        ("lists[initiatives].fields", "“title”", "trùng"),
    ),
    (
        "duplicate-rule-code",
        _dup_rule,
        "report.yaml",
        ("“rules”", "“recognised-gt-registered”", "trùng"),
    ),
    (
        "rule-names-missing-field",
        lambda r, c: _set(
            _rule(r, "recognition-year-after-report"), "check", "ldu_recognised_year <= nam_bc"
        ),
        "report.yaml",
        ("rules[recognition-year-after-report]", "“nam_bc”"),
    ),
    (
        "list-rule-names-missing-column",
        lambda r, c: _set(_rule(r, "initiative-year-after-report"), "check", "nam <= @report_year"),
        "report.yaml",
        ("rules[initiative-year-after-report]", "“nam”"),
    ),
    (
        "rule-names-missing-scalar",
        lambda r, c: _set(_rule(r, "initiative-year-after-report"), "check", "year <= @nam_bc"),
        "report.yaml",
        ("rules[initiative-year-after-report]", "“@nam_bc”"),
    ),
    (
        "criterion-expr-names-missing-field",
        lambda r, c: _set(_criterion(c, "b1"), "expr", "campaign_eventz >= @min_campaign_events"),
        "criteria.yaml",
        ("criteria[b1].expr", "“campaign_eventz”"),
    ),
    (
        "criterion-expr-names-missing-param",
        lambda r, c: _set(_criterion(c, "b2"), "expr", "initiatives_effective >= @nhieu"),
        "criteria.yaml",
        ("criteria[b2].expr", "“@nhieu”", "params"),
    ),
    (
        "choice-param-unknown-level",
        lambda r, c: _set(c["params"]["min_initiative_level"], "choice", "school"),
        "criteria.yaml",
        ("params.min_initiative_level.choice", "“school”", "unit"),
    ),
    (
        "level-filter-with-number-param",
        lambda r, c: _set(
            _derived(c, "initiatives_recognised")["level_at_least"], "param", "many_initiatives"
        ),
        "criteria.yaml",
        ("derived[initiatives_recognised].level_at_least.param", "initiative_level"),
    ),
    (
        "year-filter-on-text-column",
        lambda r, c: _set(_derived(c, "initiatives_recognised")["year_within"], "field", "title"),
        "criteria.yaml",
        ("derived[initiatives_recognised].year_within.field", "“title”"),
    ),
    (
        "recognition-unknown-level",
        lambda r, c: _set(_derived(c, "ldu_recognised")["recognition"], "levels", ["level_3"]),
        "criteria.yaml",
        ("derived[ldu_recognised].recognition.levels", "“level_3”"),
    ),
    (
        "rate-with-param-and-target",
        lambda r, c: _set(_criterion(c, "c1")["rate"], "at_least", "min_contributors"),
        "criteria.yaml",
        ("criteria[c1].rate", "at_least", "target"),
    ),
    (
        "rate-unknown-target",
        lambda r, c: _set(_criterion(c, "c1")["rate"], "target", "cdht"),
        "criteria.yaml",
        ("criteria[c1].rate.target", "“cdht”"),
    ),
    (
        "validity-zero",
        lambda r, c: _set(c["learning_unit_levels"], "validity_years", 0),
        "criteria.yaml",
        ("learning_unit_levels.validity_years",),
    ),
    (
        "unknown-choice-list",
        lambda r, c: _set(_field(r, "learning_unit", "ldu_self_level"), "choices", "ldu_levels"),
        "report.yaml",
        ("sections[learning_unit].fields[1][ldu_self_level].choices", "“ldu_levels”"),
    ),
    (
        "choice-list-given-as-list",
        lambda r, c: _set(_field(r, "learning_unit", "ldu_self_level"), "choices", ["a", "b"]),
        "report.yaml",
        ("[ldu_self_level].choices",),
    ),
    (
        "report-top-level-not-mapping",
        lambda r, c: ("report", r["sections"]),
        "report.yaml",
        ("cấp ngoài cùng",),
    ),
    (
        "criteria-top-level-not-mapping",
        lambda r, c: ("criteria", "chỉ một dòng chữ"),
        "criteria.yaml",
        ("cấp ngoài cùng",),
    ),
    (
        "sheet-name-too-long",
        lambda r, c: _set(r["sheets"][0], "name", "Thông tin chung của đơn vị báo cáo"),
        "report.yaml",
        ("sheets[0].name", "31"),
    ),
    (
        "sheet-name-bad-character",
        lambda r, c: _set(r["sheets"][1], "name", "Con người/Nhân sự"),
        "report.yaml",
        ("sheets[1].name",),
    ),
    (
        "percent-milestone-above-1",
        lambda r, c: _set(_target(c, "cdht_members")["milestones"], 2025, 60),
        "criteria.yaml",
        ("targets[cdht_members].milestones.2025", "0 đến 1"),
    ),
    (
        "missing-label",
        _no_label,
        "report.yaml",
        ("sections[awareness].fields[0][campaign_events].label", "thiếu"),
    ),
    (
        "missing-list-column-label",
        _no_list_label,
        "report.yaml",
        ("lists[nominations].fields[1][nominee_name].label", "thiếu"),
    ),
    (
        "missing-criterion-label",
        _no_criterion_label,
        "criteria.yaml",
        ("criteria[a1].label", "thiếu"),
    ),
    (
        "required-not-boolean",
        lambda r, c: _set(_field(r, "awareness", "campaign_events"), "required", "không"),
        "report.yaml",
        ("[campaign_events].required", "“không”"),
    ),
    (
        "bad-rule-code",
        lambda r, c: _set(_rule(r, "missing-plan-number"), "code", "Missing_Plan_Number"),
        "report.yaml",
        ("rules[", ".code", "“Missing_Plan_Number”", "“-”"),
    ),
    (
        "part-of-unknown-column",
        lambda r, c: _set(_list_field(r, "people", "recognised"), "part_of", "enrolled"),
        "report.yaml",
        ("lists[people].fields[recognised].part_of", "“enrolled”", "“people”"),
    ),
    (
        "part-of-a-list-column-from-a-scalar",
        lambda r, c: _set(_field(r, "support", "supported_disabled"), "part_of", "total"),
        "report.yaml",
        ("[supported_disabled].part_of", "“total”"),
    ),
    (
        "part-of-a-text-field",
        lambda r, c: _set(_field(r, "support", "supported_disabled"), "part_of", "reporter_name"),
        "report.yaml",
        ("[supported_disabled].part_of", "“reporter_name”", "dạng số"),
    ),
    (
        "part-of-on-a-text-field",
        lambda r, c: _set(_field(r, "unit_info", "reporter_title"), "part_of", "news_items"),
        "report.yaml",
        ("[reporter_title].part_of", "dạng số"),
    ),
    (
        "part-of-itself",
        lambda r, c: _set(_list_field(r, "people", "total"), "part_of", "total"),
        "report.yaml",
        ("lists[people].fields[total].part_of", "chính nó"),
    ),
    (
        "part-of-cycle",
        lambda r, c: _set(_list_field(r, "people", "total"), "part_of", "recognised"),
        "report.yaml",
        ("lists[people].fields[", "vòng lặp"),
    ),
    (
        "part-of-not-a-sum",
        lambda r, c: _set(_list_field(r, "people", "registered"), "part_of", "2 * total"),
        "report.yaml",
        ("[registered].part_of", "“2 * total”", "a + b"),
    ),
    (
        "part-of-bad-code",
        lambda r, c: _set(_list_field(r, "people", "registered")["part_of"], "code", "Reg_GT"),
        "report.yaml",
        ("[registered].part_of.code", "“Reg_GT”"),
    ),
    (
        "part-of-bad-severity",
        lambda r, c: _set(_list_field(r, "people", "registered")["part_of"], "severity", "fatal"),
        "report.yaml",
        ("[registered].part_of.severity", "error hoặc warning"),
    ),
    (
        "part-of-unknown-key",
        lambda r, c: _set(_list_field(r, "people", "registered")["part_of"], "tong", "total"),
        "report.yaml",
        ("[registered].part_of.tong", "không được hỗ trợ"),
    ),
    (
        "part-of-code-taken",
        lambda r, c: _set(
            _list_field(r, "people", "online_learning")["part_of"], "code", "digital-gt-total"
        ),
        "report.yaml",
        ("“rules”", "“digital-gt-total”", "trùng"),
    ),
    (
        "part-of-and-not-part-of",
        lambda r, c: _set(_list_field(r, "people", "registered"), "not_part_of", "Khác."),
        "report.yaml",
        ("[registered].not_part_of", "part_of"),
    ),
    (
        "summable-text-field",
        lambda r, c: _set(_field(r, "unit_info", "reporter_name"), "summable", True),
        "report.yaml",
        ("[reporter_name].summable", "dạng số", "text"),
    ),
    (
        "summable-not-boolean",
        lambda r, c: _set(_field(r, "awareness", "news_items"), "summable", "có"),
        "report.yaml",
        ("[news_items].summable", "“có”"),
    ),
]


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    for name in ("report.yaml", "criteria.yaml"):
        shutil.copy(SCHEMA_DIR / name, tmp_path / name)
    return tmp_path


def test_dumped_copy_of_real_schemas_loads(schema_dir: Path) -> None:
    """The broken cases below fail because of their mutation, not because of the dump."""
    _dump(_real("report.yaml"), schema_dir / "report.yaml")
    _dump(_real("criteria.yaml"), schema_dir / "criteria.yaml")
    assert load_schemas(schema_dir) == load_schemas(SCHEMA_DIR)


@pytest.mark.parametrize(
    ("mutate", "filename", "expected"),
    [pytest.param(m, f, e, id=i) for i, m, f, e in BROKEN],
)
def test_broken_schema(
    schema_dir: Path, mutate: Mutator, filename: str, expected: tuple[str, ...]
) -> None:
    report, criteria = _real("report.yaml"), _real("criteria.yaml")
    replaced = mutate(report, criteria)
    if isinstance(replaced, tuple):  # the whole document replaced
        which, data = replaced
        if which == "report":
            report = data
        else:
            criteria = data
    _dump(report, schema_dir / "report.yaml")
    _dump(criteria, schema_dir / "criteria.yaml")
    with pytest.raises(SchemaError) as info:
        load_schemas(schema_dir)
    message = str(info.value)
    assert filename in message
    for part in expected:
        assert part in message
    assert_vietnamese(message)


def test_bad_yaml_syntax_gives_line(schema_dir: Path) -> None:
    lines = (SCHEMA_DIR / "report.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("id:"))
    lines.insert(at + 1, "  sai: cú pháp\n")  # indented under a plain scalar
    (schema_dir / "report.yaml").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schemas(schema_dir)
    message = str(info.value)
    assert "report.yaml" in message
    assert f"dòng {at + 2}" in message
    assert_vietnamese(message)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as info:
        load_schemas(tmp_path)
    assert "report.yaml" in str(info.value)
    assert_vietnamese(str(info.value))


def test_not_utf8(schema_dir: Path) -> None:
    text = (SCHEMA_DIR / "criteria.yaml").read_text(encoding="utf-8")
    (schema_dir / "criteria.yaml").write_bytes(text.encode("utf-16"))
    with pytest.raises(SchemaError) as info:
        load_schemas(schema_dir)
    assert "criteria.yaml" in str(info.value)
    assert_vietnamese(str(info.value))


def test_nfd_labels_are_normalised(schema_dir: Path) -> None:
    """Files saved on macOS arrive decomposed; labels must still compare equal."""
    text = (SCHEMA_DIR / "report.yaml").read_text(encoding="utf-8")
    (schema_dir / "report.yaml").write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    loaded = load_report_schema(schema_dir / "report.yaml")
    assert loaded.field_map["campaign_events"].label == (
        load_report_schema(SCHEMA_DIR / "report.yaml").field_map["campaign_events"].label
    )
