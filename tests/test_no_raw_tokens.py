"""No Python notation in anything a department user reads.

A run over files made the way units make them (per-unit templates, filled and saved by
openpyxl) with blanks and errors of every kind; then issues.csv, the reasons of
submissions.csv, the workbook's strings (shared and inline) and comments, the feedback
copies' comments and the .docx are scanned for ``<NA>``, ``nan``, ``None``, ``NaT``,
``True``/``False``, a ``Timestamp(…)`` or an ISO date (``2026-11-25``: users read
25/11/2026).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import html
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from docx import Document

from pipeline.cli import main
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    save,
    school_workbook,
)

RAW = re.compile(
    r"<NA>|\bnan\b|\bNaN\b|\bNone\b|\bNaT\b|\bTrue\b|\bFalse\b|Timestamp\(|datetime\.|"
    r"\bdtype\b|\b\d{4}-\d{2}-\d{2}\b|\[\'|\{\'"
)
TEXT = re.compile(r"<t[^>]*>([^<]*)</t>")


def _cases() -> list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """(scalars, people, initiatives) of each unit's file."""
    people = copy.deepcopy(CLEAN_PEOPLE)
    blank_people = copy.deepcopy(CLEAN_PEOPLE)
    blank_people[0].update(registered=None, recognised=9)  # recognised > total, registered blank
    blank_people[1].update(total="tám mươi")  # its parts cannot be checked
    blank_people[2].update(total=None)
    blank_people[3].update(digital_competent=12.5, foreign_language=-1)
    initiatives = copy.deepcopy(CLEAN_INITIATIVES)
    odd_initiatives = [
        {"title": "Thư viện số", "level": None, "year": 2027, "decision": None},
        {"title": None, "level": "Cấp huyện", "year": "năm ngoái", "decision": None},
    ]
    return [
        (
            dict(
                CLEAN_SCHOOL,
                ldu_recognised_level=None,
                ldu_decision=None,
                ldu_recognised_year=None,
                ldu_registered="Không",
                steering_committee=True,
                annual_plan=None,
                report_date="31/02/2026",
            ),
            people,
            initiatives,
        ),
        (
            dict(
                CLEAN_SCHOOL,
                campaign_events=dt.datetime(2026, 11, 25),
                news_items="mười bốn",
                supported_disabled=50,
                ldu_recognised_level="Mức 2",
                ldu_decision=None,
                ldu_recognised_year=2027,
                emulation_title="Giỏi",
                lifelong_learning_week=False,
                reporter_name=None,
                funds_mobilised=3.148461519008816e21,
            ),
            blank_people,
            odd_initiatives,
        ),
        (
            dict(
                CLEAN_SCHOOL,
                report_date=dt.datetime(2026, 11, 25, 14, 30),
                campaign_participants="1,234",
                steering_committee="Có",
                steering_committee_decision=None,
                reporter_email="lan at example",
                ldu_self_level="Mức 2",
            ),
            people,
            [],
        ),
    ]


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> Path:
    root = tmp_path_factory.mktemp("tokens")
    inputs = root / "in"
    units = [u for u in registry.units.values() if u.type != "area_office"]
    for unit, (values, people, initiatives) in zip(units, _cases(), strict=False):
        lists = {"people": people, "initiatives": initiatives, "nominations": []}
        wb = school_workbook(schemas, registry, settings, unit.code, values, lists)
        save(wb, inputs / f"{unit.code}.xlsx")
    result = CliRunner().invoke(
        main,
        [
            "consolidate",
            "--year",
            "2026",
            "--input",
            str(inputs),
            "--output",
            str(root / "out"),
            "--workers",
            "1",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return root / "out" / "2026"


def _bad(texts: list[str]) -> list[str]:
    return [t for t in texts if RAW.search(t)]


def _xml_texts(book: Path, parts: re.Pattern[str]) -> list[str]:
    with zipfile.ZipFile(book) as z:
        return [
            html.unescape(m)
            for name in z.namelist()
            if parts.search(name)
            for m in TEXT.findall(z.read(name).decode("utf-8"))
        ]


def test_the_run_has_the_problems_it_was_made_with(run: Path) -> None:
    with (run / "issues.csv").open(encoding="utf-8-sig", newline="") as fh:
        codes = {r["code"] for r in csv.DictReader(fh)}
    assert {
        "required-missing",
        "invalid-number",
        "recognised-gt-total",
        "parts-without-whole",
        "disabled-gt-supported",
        "invalid-choice",
        "invalid-date",
    } <= codes


def test_issues_csv(run: Path) -> None:
    with (run / "issues.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    assert _bad([f"{k}={v}" for r in rows for k, v in r.items()]) == []


def test_submission_reasons(run: Path) -> None:
    with (run / "submissions.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert _bad([r["reason"] for r in rows]) == []


def test_workbook_strings_and_comments(run: Path) -> None:
    [book] = run.glob("bao-cao-tong-hop-*.xlsx")
    texts = _xml_texts(book, re.compile(r"sharedStrings|worksheets/sheet|comments"))
    assert len(texts) > 100
    assert _bad(texts) == []


def test_feedback_comments(run: Path) -> None:
    copies = sorted((run / "feedback").glob("*.xlsx"))
    assert len(copies) == 3
    for path in copies:
        texts = _xml_texts(path, re.compile(r"comments|sharedStrings"))
        assert texts, path.name
        assert _bad(texts) == [], path.name


def test_draft_report(run: Path) -> None:
    [draft] = run.glob("du-thao-bao-cao-*.docx")
    doc = Document(io.BytesIO(draft.read_bytes()))
    texts = [p.text for p in doc.paragraphs]
    texts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert _bad(texts) == []


def test_messages_show_values_as_users_read_them(run: Path) -> None:
    """A year is 2027 (not 2.027, as it was), a date 25/11/2026, a sum of counts 13."""
    with (run / "issues.csv").open(encoding="utf-8-sig", newline="") as fh:
        listed = list(csv.DictReader(fh))
    rows = {r["code"]: r for r in listed}
    assert rows["recognition-year-after-report"]["message"] == (
        "Năm công nhận (2027) sau năm báo cáo (2026)."
    )
    assert rows["recognition-year-after-report"]["value"] == "2027"
    dated = [r for r in listed if r["field"] == "campaign_events"]
    assert [r["value"] for r in dated] == ["25/11/2026"]
    assert "(13)" in rows["disabled-gt-supported"]["message"]
