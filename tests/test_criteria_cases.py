"""The worked cases of docs/dac-ta-tieu-chi.md, run through the real stages.

Each case of tests/criteria_cases.yaml is one unit sending one report: its cells as the unit
typed them go through parsing, validation (errors excluded), the unit frame and the
evaluation exactly as in ``consolidate``; the verdicts, reasons, TT 24 levels and warnings
are compared with what the specification says. The specification's tables are checked
against the same file row by row, so the document and the tests cannot drift apart.

End-to-end cases from per-unit templates (openpyxl and LibreOffice) are in
tests/test_criteria_files.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pipeline.evaluate import NOT_APPLICABLE, VERDICTS, verdict
from pipeline.issues import Issue
from pipeline.model import RawSubmission
from pipeline.registry import Registry, Unit
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import raw

ROOT = Path(__file__).resolve().parent.parent
CASES_FILE = ROOT / "tests" / "criteria_cases.yaml"
SPEC = ROOT / "docs" / "dac-ta-tieu-chi.md"
SPEC_DATA: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = SPEC_DATA["cases"]
LEVEL_KEYS = ("level_1", "level_2")
PYTHON_NOTATION = re.compile(r"<NA>|\bnan\b|\bNone\b|\bTrue\b|\bFalse\b|\bNaT\b|[\[\]{}]|\d\.0\b")

COMMON = {
    "reporter_name": "Trần Thị Bình",
    "reporter_title": "Phó Hiệu trưởng",
    "reporter_phone": "0912 345 678",
    "reporter_email": "binh@example.edu.vn",
    "head_of_unit": "Lê Văn Cường",
    "steering_committee": "Có",
    "steering_committee_decision": "12/QĐ-BCĐ",
    "annual_plan": "Có",
    "annual_plan_number": "34/KH",
    "lifelong_learning_week": "Có",
}


def case_values(case: dict[str, Any]) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
    """(unit code, year, scalar cells, list rows) of a case: its base with its changes."""
    base = SPEC_DATA["bases"][case["base"]]
    unit, year = case.get("unit", base["unit"]), case.get("year", base["year"])
    values = {**COMMON, **base["values"], **case.get("values", {})}
    people = {**base["people"], **case.get("people", {})}
    lists = {
        "people": [{"group": group, **row} for group, row in people.items() if row is not None],
        "initiatives": copy.deepcopy(case.get("initiatives", base["initiatives"])),
        "nominations": copy.deepcopy(case.get("nominations", [])),
    }
    return unit, year, values, lists


def submission(
    schemas: Schemas, registry: Registry, case: dict[str, Any], unit_code: str | None = None
) -> tuple[RawSubmission, int]:
    """The case as the reader would hand it over, sent by `unit_code` (default: its own)."""
    own, year, values, lists = case_values(case)
    unit = registry.units[unit_code or own]
    variant = schemas.report.variant_for_unit_type(unit.type)
    scalars = {
        "unit_code": unit.code,
        "unit_name": unit.name,
        "unit_type": schemas.report.unit_type_label(unit.type),
        "area_name": registry.areas[unit.area_code].name,
        "report_year": year,
        "report_date": dt.datetime(year, 11, 25),
        **values,
    }
    sub = raw(schemas, f"{unit.code}.xlsx", unit.code, variant.template_id, scalars, lists, year)
    return sub, year


@dataclass(frozen=True)
class Outcome:
    """A case's unit in the run that evaluated it."""

    unit: str
    result: RunResult

    @property
    def criteria(self) -> pd.DataFrame:
        return self.result.criteria[self.result.criteria["unit_code"] == self.unit]

    @property
    def issues(self) -> list[Issue]:
        return [i for i in self.result.issues if i.unit_code == self.unit]


def run_cases(
    schemas: Schemas, registry: Registry, settings: Settings, cases: list[dict[str, Any]]
) -> dict[str, Outcome]:
    """Every case in one run per report year, each sent by a unit of its own.

    The units are made for the test (same type and area as the case's unit): a run costs
    about half a second whatever its size, and a unit's verdicts depend on its file only.
    """
    units = dict(registry.units)
    sent: dict[int, list[tuple[str, RawSubmission]]] = {}
    for i, case in enumerate(cases):
        like = registry.units[case_values(case)[0]]
        code = f"TH-{i + 1:03d}"
        units[code] = Unit(
            code,
            f"{like.name} (trường hợp {case['id']})",
            like.type,
            like.area_code,
            f"th{i + 1:03d}@example.vn",
        )
    test_registry = Registry(registry.areas, units)
    for i, case in enumerate(cases):
        sub, year = submission(schemas, test_registry, case, f"TH-{i + 1:03d}")
        sent.setdefault(year, []).append((case["id"], sub))
    out = {}
    for year, subs in sent.items():
        result = consolidate([s for _, s in subs], year, schemas, test_registry, settings)
        out.update({cid: Outcome(sub.unit_code, result) for cid, sub in subs})
    return out


@pytest.fixture(scope="module")
def outcomes(schemas: Schemas, registry: Registry, settings: Settings) -> dict[str, Outcome]:
    return run_cases(schemas, registry, settings, CASES)


def expected_verdicts(case: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    out = {}
    for code, want in case.get("expect", {}).items():
        if isinstance(want, str):
            out[code] = (want, [])
        else:
            out[code] = (want["verdict"], list(want.get("reason", [])))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case["id"]]
    subs = outcome.result.submissions
    status = subs.loc[subs["unit_code"] == outcome.unit, "status"]
    assert list(status) != ["rejected"], subs
    check_outcome(case, outcome)


def check_outcome(case: dict[str, Any], outcome: Outcome) -> None:
    """Compare one unit's verdicts, levels and warnings with what the case expects."""
    crit = outcome.criteria
    for code, (want, fragments) in expected_verdicts(case).items():
        assert want in VERDICTS, f"{case['id']}: unknown verdict {want}"
        got = verdict(crit, outcome.unit, code)
        rows = crit[crit["criterion"] == code]
        reason = str(rows["reason"].iloc[0]) if len(rows) else ""
        assert got == want, f"{case['id']} {code}: {got} ({reason})"
        for fragment in fragments:
            assert fragment in reason, f"{case['id']} {code}: “{fragment}” not in “{reason}”"
        if got != NOT_APPLICABLE:
            assert reason.endswith("."), reason
            assert not PYTHON_NOTATION.search(reason), reason
    levels = case.get("levels")
    if levels:
        ldu = outcome.result.learning_unit.set_index("unit_code").loc[outcome.unit]
        for key in LEVEL_KEYS:
            if key in levels:
                assert ldu[f"verdict_{key}"] == levels[key], (
                    f"{case['id']} {key}: {ldu[f'verdict_{key}']} ({ldu['reason']})"
                )
        if "supported" in levels:
            assert ldu["supported_level"] == levels["supported"], ldu["reason"]
        for fragment in levels.get("reason", []):
            assert fragment in str(ldu["reason"]), f"“{fragment}” not in “{ldu['reason']}”"
    codes = {i.code: i for i in outcome.issues}
    for code, fragments in (case.get("issues") or {}).items():
        assert code in codes, f"{case['id']}: no {code} among {sorted(codes)}"
        for fragment in fragments:
            assert fragment in codes[code].message, codes[code].message
        assert not PYTHON_NOTATION.search(codes[code].message), codes[code].message
    for code in case.get("no_issues", []):
        assert code not in codes, f"{case['id']}: unexpected {codes[code]}"


def test_every_criterion_and_level_has_cases(schemas: Schemas) -> None:
    """At, below, above, missing and not-applicable: each criterion has them all."""
    seen: dict[str, set[str]] = {}
    for case in CASES:
        for code, (want, _) in expected_verdicts(case).items():
            seen.setdefault(code, set()).add(want)
        for key in LEVEL_KEYS:
            if key in case.get("levels", {}):
                seen.setdefault(key, set()).add(case["levels"][key])
    for c in schemas.criteria.criteria:
        assert {"đạt", "không đạt", "chưa đủ số liệu"} <= seen.get(c.code, set()), c.code
        if len(c.applies_to) < len(schemas.report.unit_types):
            assert NOT_APPLICABLE in seen[c.code], c.code
    assert {"đạt", "không đạt", "chưa đủ số liệu"} <= seen["level_1"]
    assert {"đạt", "không đạt"} <= seen["level_2"]


def test_case_ids_are_unique() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- the document


def spec_rows(section: str) -> list[list[str]]:
    """The case table of one section of docs/dac-ta-tieu-chi.md (`<!-- cases: a1 -->`)."""
    text = SPEC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- cases: {re.escape(section)} -->\n(.*?)\n\n", text + "\n\n", re.S)
    assert m, f"docs/dac-ta-tieu-chi.md has no case table for {section}"
    lines = [ln for ln in m.group(1).splitlines() if ln.startswith("|")][2:]
    return [[cell.strip() for cell in ln.strip().strip("|").split("|")] for ln in lines]


def table_rows(section: str) -> list[list[str]]:
    """What the document's table must say for `section`, from tests/criteria_cases.yaml."""
    rows = []
    for case in CASES:
        if section in LEVEL_KEYS:
            want = case.get("levels", {}).get(section)
            # The reason is about the first level not reached: shown on that level's row.
            fragments = case["levels"].get("reason", []) if want and want != "đạt" else []
        else:
            hit = expected_verdicts(case).get(section)
            want, fragments = hit if hit else (None, [])
        if want is None:
            continue
        year = case.get("year", SPEC_DATA["bases"][case["base"]]["year"])
        reason = " … ".join(f"“{f}”" for f in fragments)
        rows.append([f"`{case['id']}`", str(year), case["desc"], want, reason])
    return rows


SECTIONS = [*(c for c in ("a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", "c1", "c2")), *LEVEL_KEYS]


@pytest.mark.parametrize("section", SECTIONS)
def test_spec_tables_are_the_cases(section: str) -> None:
    assert spec_rows(section) == table_rows(section)


def render_table(section: str) -> str:
    """One case table as the document holds it, after its `<!-- cases: … -->` marker."""
    out = [
        f"<!-- cases: {section} -->",
        "| Trường hợp | Năm | Tình huống | Kết quả | Lý do phải nêu |",
        "|---|---|---|---|---|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in table_rows(section)]
    return "\n".join(out)


def refresh_spec() -> None:  # pragma: no cover - a developer's helper
    """Rewrite the document's case tables from the cases file, after editing the cases.

    ``.venv/bin/python -c "from tests.test_criteria_cases import refresh_spec; refresh_spec()"``
    """
    text = SPEC.read_text(encoding="utf-8")
    for section in SECTIONS:
        marker = f"<!-- cases: {section} -->"
        text = re.sub(
            rf"{re.escape(marker)}\n(?:\|.*\n)*", lambda _m, s=section: render_table(s) + "\n", text
        )
    SPEC.write_text(text, encoding="utf-8")
