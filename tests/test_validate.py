"""Each kind of mistake in a filled template gives exactly its issue code at its cell."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.export import values_frame
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.submission_factory import (
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
)


def run_one(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    values: dict[str, Any] | None = None,
    lists: dict[str, list[dict[str, Any]]] | None = None,
) -> tuple[RunResult, Any]:
    wb = school_workbook(schemas, registry, settings, values=values, lists=lists)
    path = save(wb, tmp_path / "in" / "bao-cao.xlsx")
    raw = read_submission(path, tmp_path / "in", schemas.report)
    return consolidate([raw], 2026, schemas, registry, settings), wb


def test_clean_file_has_no_issue(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    result, _ = run_one(tmp_path, schemas, registry, settings)
    assert result.issues == []
    assert result.submissions["status"].tolist() == ["accepted"]


def test_values_csv_holds_what_was_typed(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    typed = dict(
        CLEAN_SCHOOL,
        campaign_participants="1.250",
        funds_mobilised="12.500.000 đồng",
        steering_committee="x",
        lifelong_learning_week="không",
        report_date="25/11/2026",
        head_of_unit="Nguye\u0302\u0303n Thi\u0323 Thu\u0301y",  # NFD, as macOS saves it
    )
    result, _ = run_one(tmp_path, schemas, registry, settings, values=typed)
    values = values_frame(result).set_index("field")["value"]
    assert values["campaign_participants"] == 1250
    assert values["funds_mobilised"] == 12_500_000
    assert bool(values["steering_committee"]) is True
    assert bool(values["lifelong_learning_week"]) is False
    assert str(values["report_date"])[:10] == "2026-11-25"
    assert values["head_of_unit"] == "Nguyễn Thị Thúy"
    assert values["digital_level"] == "basic"
    assert values["unit_code"] == "THPT-Q01-01"


SCALAR_CASES: list[tuple[str, str, Any, str]] = [
    ("text-in-number", "campaign_events", "mười hai", "invalid-number"),
    ("negative", "news_items", -4, "below-minimum"),
    ("fraction-in-integer", "campaign_events", 12.5, "not-whole-number"),
    ("required-blank", "reporter_name", None, "required-missing"),
    ("bad-yes-no", "steering_committee", "có lẽ", "invalid-yes-no"),
    ("bad-choice", "ldu_self_level", "Mức 9", "invalid-choice"),
    ("impossible-date", "report_date", "31/02/2026", "invalid-date"),
    ("bad-email", "reporter_email", "lan at example", "invalid-email"),
    ("ambiguous-comma", "campaign_participants", "1,234", "ambiguous-number"),
    ("year-after-report", "ldu_recognised_year", 2027, "recognition-year-after-report"),
    ("decision-missing", "ldu_decision", None, "missing-recognition-decision"),
    ("disabled-gt-supported", "supported_disabled", 50, "disabled-gt-supported"),
    ("claim-above-support", "ldu_self_level", "Mức 2", "claimed-level-unsupported"),
    ("wrong-area", "area_name", "Quận Không Có", "wrong-area"),
    ("beyond-64-bit", "campaign_participants", 3.148461519008816e21, "above-maximum"),
]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [c[1:] for c in SCALAR_CASES],
    ids=[c[0] for c in SCALAR_CASES],
)
def test_scalar_mistake(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    field: str,
    value: Any,
    code: str,
) -> None:
    values = dict(CLEAN_SCHOOL)
    values[field] = value
    result, wb = run_one(tmp_path, schemas, registry, settings, values=values)
    found = [(i.code, f"{i.sheet}!{i.cell}") for i in result.issues]
    assert found == [(code, cell_of(wb, field))]
    assert all(i.message and i.file == "bao-cao.xlsx" for i in result.issues)


def _people_cell(result: RunResult, group: int, column: str) -> str:
    loc = result.data.locate("bao-cao.xlsx", column, "people", group)
    assert loc is not None
    return loc.address


LIST_CASES: list[tuple[str, str, int, str, Any, str]] = [
    ("recognised-gt-registered", "people", 2, "recognised", 79, "recognised-gt-registered"),
    ("registered-gt-total", "people", 3, "registered", 11, "registered-gt-total"),
    ("text-in-list-number", "people", 1, "total", "bốn", "invalid-number"),
    ("bad-list-choice", "initiatives", 1, "level", "Cấp xã hội", "invalid-choice"),
    ("list-year-after-report", "initiatives", 1, "year", 2027, "initiative-year-after-report"),
    # Found by the fuzz test: a count too large for a 64-bit column crashed the whole run.
    ("beyond-64-bit-in-list", "people", 2, "total", 3.148461519008816e21, "above-maximum"),
]


@pytest.mark.parametrize(
    ("list_code", "row", "field", "value", "code"),
    [c[1:] for c in LIST_CASES],
    ids=[c[0] for c in LIST_CASES],
)
def test_list_mistake(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    list_code: str,
    row: int,
    field: str,
    value: Any,
    code: str,
) -> None:
    from tests.submission_factory import CLEAN_INITIATIVES, CLEAN_NOMINATIONS

    lists = {
        "people": copy.deepcopy(CLEAN_PEOPLE),
        "initiatives": copy.deepcopy(CLEAN_INITIATIVES),
        "nominations": copy.deepcopy(CLEAN_NOMINATIONS),
    }
    lists[list_code][row - 1][field] = value
    result, _ = run_one(tmp_path, schemas, registry, settings, lists=lists)
    loc = result.data.locate("bao-cao.xlsx", field, list_code, row)
    assert loc is not None
    found = [(i.code, f"{i.sheet}!{i.cell}") for i in result.issues]
    assert (code, loc.address) in found
    # A recognised count error also removes that unit from meeting "Đơn vị học tập" checks,
    # which is a consequence, not a second report of the same cell.
    assert [f for f in found if f[1] == loc.address] == [(code, loc.address)]


def test_error_value_is_excluded_warning_kept(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    values = dict(CLEAN_SCHOOL, news_items=-4, campaign_participants="1,234")
    result, _ = run_one(tmp_path, schemas, registry, settings, values=values)
    row = result.data.scalars.loc["bao-cao.xlsx"]
    assert pd.isna(row["news_items"])
    assert row["campaign_participants"] == 1234
    assert result.submissions["status"].tolist() == ["accepted_with_warnings"]


def test_duplicate_nominee_within_file(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    from tests.submission_factory import CLEAN_INITIATIVES, CLEAN_NOMINATIONS

    noms = copy.deepcopy(CLEAN_NOMINATIONS) * 2
    lists = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": noms}
    result, _ = run_one(tmp_path, schemas, registry, settings, lists=lists)
    assert [i.code for i in result.issues] == ["duplicate-nominee-in-file"] * 2


def test_blank_recognised_level_is_one_message_at_its_cell(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """A unit leaves “Mức được công nhận” blank (no decision, no year, not registered).

    Before: besides the blank required cell, three rules read the blank level as “not
    ‘Chưa đạt’” and asked for a decision number, a year and a registration. A blank is
    unknown: only the blank required cell is reported.
    """
    values = dict(
        CLEAN_SCHOOL,
        ldu_recognised_level=None,
        ldu_decision=None,
        ldu_recognised_year=None,
        ldu_level1_year=None,
        ldu_self_level=None,
        ldu_registered="Không",
    )
    result, wb = run_one(tmp_path, schemas, registry, settings, values=values)
    found = [(i.code, f"{i.sheet}!{i.cell}") for i in result.issues]
    assert found == [("required-missing", cell_of(wb, "ldu_recognised_level"))]
