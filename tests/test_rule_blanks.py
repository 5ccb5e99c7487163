"""A blank cell is "unknown", not a value: a rule reading one never fires.

Specification (schemas/report.yaml, header of ``rules``): a rule whose ``check`` or ``when``
names a blank cell concludes nothing; a ``required`` rule fires only when every cell of its
``when`` has a value and the condition truly holds. Walked over every rule of the schema:
for each rule a report breaking it (the rule fires), then the same report with each cell the
rule reads left blank in turn (the rule is silent). A new rule without a breaking case here
fails :func:`test_every_rule_has_a_breaking_case`.

Submissions are built in memory as the reader returns them (tests/report_data.py); the
end-to-end case from a per-unit template is in tests/test_validate.py.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.schema import DEFAULT_SCHEMA_DIR, Field, Rule, Schemas, expr_names, load_schemas
from pipeline.validate import validate
from tests.report_data import raw
from tests.submission_factory import CLEAN_INITIATIVES, CLEAN_PEOPLE, CLEAN_SCHOOL

REPORT = load_schemas(DEFAULT_SCHEMA_DIR).report
YEAR = 2026
UNIT = {
    "school": ("THPT-Q01-01", "xhht-truong"),
    "area_office": ("PGD-Q01", "xhht-phong"),
}

Data = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]
"""Scalars, people rows, initiative rows, as typed."""


def _clean(variant: str) -> Data:
    unit, _ = UNIT[variant]
    scalars = dict(
        CLEAN_SCHOOL,
        unit_code=unit,
        unit_name="Đơn vị mẫu",
        unit_type="Trường THPT",
        area_name="Quận Trung Tâm",
        report_year=YEAR,
    )
    if variant == "area_office":
        scalars.update(
            documents_advised=3,
            inspections=5,
            institutions_total=40,
            institutions_registered=30,
            institutions_recognised=20,
        )
    people = [
        {"group": row["group_label"], **{k: v for k, v in row.items() if k != "group_label"}}
        for row in copy.deepcopy(CLEAN_PEOPLE)
    ]
    return scalars, people, copy.deepcopy(CLEAN_INITIATIVES)


def _set(**values: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        data[0].update(values)

    return apply


def _initiative(**values: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        data[2][0].update(values)

    return apply


BREAKING: dict[str, Callable[[Data], None]] = {
    "missing-steering-decision": _set(steering_committee="Có", steering_committee_decision=None),
    "missing-plan-number": _set(annual_plan="Có", annual_plan_number=None),
    "missing-recognition-decision": _set(ldu_recognised_level="Mức 1", ldu_decision=None),
    "missing-recognition-year": _set(ldu_recognised_level="Mức 1", ldu_recognised_year=None),
    "recognised-without-registration": _set(ldu_recognised_level="Mức 1", ldu_registered="Không"),
    "recognition-year-after-report": _set(ldu_recognised_year=2027, ldu_level1_year=2025),
    "initiative-year-after-report": _initiative(year=2027),
    "missing-initiative-decision": _initiative(level="Cấp cơ sở", decision=None),
}
"""How a report breaks each hand-written rule (part-of rules are broken from their relation)."""


def _variant(rule: Rule) -> str:
    if rule.list is None and not all(REPORT.field_map[n].in_variant("school") for n in rule.fields):
        return "area_office"
    return "school"


def _broken(rule: Rule) -> Data:
    data = _clean(_variant(rule))
    rel = rule.relation
    if rel is None:
        BREAKING[rule.code](data)
        return data
    source = data[1][0] if rel.list else data[0]
    for n in rel.via:
        source[n] = None
    source[rel.part] = sum(source[w] for w in rel.whole) + 1
    return data


def _reads(rule: Rule) -> list[str]:
    """The cells a rule's check and when read (``@name``: a scalar, for a list rule)."""
    text = f"{rule.check or ''} {rule.when or ''}"
    names = expr_names(text)
    return names + [f"@{n}" for n in re.findall(r"@([a-z_][a-z0-9_]*)", text)]


def _blank(rule: Rule, data: Data, name: str) -> None:
    if name.startswith("@") or rule.list is None:
        data[0][name.lstrip("@")] = None
    elif rule.list == "people":
        data[1][0][name] = None
    else:
        data[2][0][name] = None


def _codes_of(schemas: Schemas, cases: list[tuple[str, Data]]) -> dict[str, list[str]]:
    """Issue codes of each variant's report, all validated in one pass (as a run does)."""
    subs, variant_of = [], {}
    for i, (variant, (scalars, people, initiatives)) in enumerate(cases):
        unit, template = UNIT[variant]
        path = f"{i:03d}.xlsx"
        lists = {"people": people, "initiatives": initiatives}
        subs.append(raw(schemas, path, unit, template, scalars, lists))
        variant_of[path] = variant
    _, issues = validate(subs, schemas.report, variant_of)
    codes: dict[str, list[str]] = {path: [] for path in variant_of}
    for issue in issues:
        codes[issue.file].append(issue.code)
    return codes


def _codes(schemas: Schemas, rule: Rule, data: Data) -> list[str]:
    return _codes_of(schemas, [(_variant(rule), data)])["000.xlsx"]


CASES = [(r, None) for r in REPORT.rules] + [(r, n) for r in REPORT.rules for n in _reads(r)]


@pytest.fixture(scope="module")
def walked(schemas: Schemas) -> dict[str, list[str]]:
    cases = []
    for rule, blank in CASES:
        data = _broken(rule)
        if blank is not None:
            _blank(rule, data, blank)
        cases.append((_variant(rule), data))
    return _codes_of(schemas, cases)


def test_every_rule_has_a_breaking_case() -> None:
    hand = {r.code for r in REPORT.rules if r.relation is None}
    assert hand == set(BREAKING)


@pytest.mark.parametrize(
    ("rule", "blank"),
    CASES,
    ids=[f"{r.code}-{n or 'broken'}" for r, n in CASES],
)
def test_rule_fires_only_on_known_cells(
    walked: dict[str, list[str]], rule: Rule, blank: str | None
) -> None:
    codes = walked[f"{CASES.index((rule, blank)):03d}.xlsx"]
    if blank is None:
        assert rule.code in codes
    else:
        assert rule.code not in codes


def test_blank_recognised_level_gives_only_its_own_message(schemas: Schemas) -> None:
    """The issue's case: a blank level, no decision, no year, not registered. Before: three
    false messages (decision, year, registration) besides the blank required cell."""
    rule = next(r for r in REPORT.rules if r.code == "missing-recognition-decision")
    data = _clean("school")
    data[0].update(
        ldu_recognised_level=None,
        ldu_decision=None,
        ldu_recognised_year=None,
        ldu_registered="Không",
    )
    assert _codes(schemas, rule, data) == ["required-missing"]


def test_required_rule_fires_when_its_condition_truly_holds(schemas: Schemas) -> None:
    rule = next(r for r in REPORT.rules if r.code == "missing-recognition-decision")
    data = _clean("school")
    data[0].update(ldu_recognised_level="Mức 2", ldu_decision=None)
    assert "missing-recognition-decision" in _codes(schemas, rule, data)
    data[0].update(ldu_recognised_level="Chưa đạt")
    assert "missing-recognition-decision" not in _codes(schemas, rule, data)


# A cell already reported as an error is "unknown" to the rules too (schemas/report.yaml,
# header of ``rules``): one message per wrong cell, never a second one from a rule reading it.


def _field(rule: Rule, name: str) -> Field:
    if name.startswith("@") or rule.list is None:
        return REPORT.field_map[name.lstrip("@")]
    return next(f for f in REPORT.list_map[rule.list].fields if f.code == name)


def _wrong(f: Field) -> Any:
    """A value the field's own check reports as an error: above its maximum when it has one
    (a number the rule could still compare), else a word where a number or a choice goes."""
    if f.max is not None:
        return int(f.max) + 5
    return "không rõ"


def _error_cells(rule: Rule) -> list[str]:
    """The cells a rule reads, and its required cell, that a value can make an error."""
    names = _reads(rule) + ([rule.required] if rule.required else [])
    return [n for n in dict.fromkeys(names) if _field(rule, n).type != "text"]


ERROR_CASES = [(r, n) for r in REPORT.rules for n in _error_cells(r)]


def _set_cell(rule: Rule, data: Data, name: str, value: Any) -> None:
    if name.startswith("@") or rule.list is None:
        data[0][name.lstrip("@")] = value
    elif rule.list == "people":
        data[1][0][name] = value
    else:
        data[2][0][name] = value


@pytest.fixture(scope="module")
def walked_errors(schemas: Schemas) -> dict[str, list[str]]:
    cases = []
    for rule, name in ERROR_CASES:
        data = _broken(rule)
        _set_cell(rule, data, name, _wrong(_field(rule, name)))
        cases.append((_variant(rule), data))
    return _codes_of(schemas, cases)


@pytest.mark.parametrize(
    ("rule", "name"), ERROR_CASES, ids=[f"{r.code}-{n}-error" for r, n in ERROR_CASES]
)
def test_rule_is_silent_on_a_cell_already_in_error(
    walked_errors: dict[str, list[str]], rule: Rule, name: str
) -> None:
    codes = walked_errors[f"{ERROR_CASES.index((rule, name)):03d}.xlsx"]
    assert rule.code not in codes
    assert set(codes) & {"above-maximum", "invalid-number", "invalid-choice", "invalid-yes-no"}


def test_a_year_above_its_maximum_gets_one_message(schemas: Schemas) -> None:
    """The QA case: recognised in 2035 (typed for 2025) was "above the maximum" and "after the
    report year" at once; the first says what is wrong with the cell, the second repeats it."""
    rule = next(r for r in REPORT.rules if r.code == "recognition-year-after-report")
    data = _clean("school")
    data[0].update(ldu_recognised_year=2035)
    assert _codes(schemas, rule, data) == ["above-maximum"]


def test_a_required_cell_in_error_is_not_called_missing(schemas: Schemas) -> None:
    """Recognised at Mức 1, year typed "năm ngoái": the cell is not a number (one error);
    "recognised but no year given" would tell the unit something false."""
    rule = next(r for r in REPORT.rules if r.code == "missing-recognition-year")
    data = _clean("school")
    data[0].update(ldu_recognised_level="Mức 1", ldu_recognised_year="năm ngoái")
    assert _codes(schemas, rule, data) == ["invalid-number"]
