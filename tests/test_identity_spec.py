"""The worked cases of docs/dac-ta-nhan-dien.md, one test case per row, under the same ids.

Who sent a file (N), which copy wins (C), when it was submitted (T) and how each unit shows
in tracking (D). Every file is made the way a unit makes it: the department's per-unit or
blank template, filled through its named cells, saved by openpyxl (and, for the cases where
the office suite matters, re-saved by LibreOffice); mails go through the real ``inbox``,
consolidation through the CLI where the case is about what the user runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl.workbook.workbook import Workbook

from pipeline.cli import main
from pipeline.collect import read_all
from pipeline.history import Previous
from pipeline.identify import IdentityIndex, identify
from pipeline.inbox import INBOX_LOG_NAME, load_mail_info, run_inbox
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.samples import fill_template
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes, template_filename, unit_file_name
from tests.conftest import RUN_DATE
from tests.hostile_corpus import (
    add_content_type,
    add_workbook_rel,
    edit_part,
    with_external_link,
)
from tests.libreoffice import convert_all
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
)
from tests.test_inbox import make_mail, sample

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "dac-ta-nhan-dien.md"
A, B, C = "THPT-Q01-01", "THPT-Q01-02", "THPT-Q01-03"
PERSONAL = "lan@example.vn"
"""A reporter's own address: registered for no unit, so no evidence."""
ICT = dt.timezone(dt.timedelta(hours=7))
YEAR = 2026


@dataclasses.dataclass
class Ctx:
    schemas: Schemas
    registry: Registry
    settings: Settings
    folder: Path


@pytest.fixture
def ctx(schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path) -> Ctx:
    folder = tmp_path / "nhan"
    folder.mkdir()
    return Ctx(schemas, registry, settings, folder)


def per_unit(ctx: Ctx, code: str, registry: Registry | None = None, **values: Any) -> Workbook:
    """The department's per-unit template of `code`, filled by a unit with `values`.

    No nominations: several units of one case proposing the same person would each get a
    duplicate-nominee warning, beside the point here.
    """
    registry = registry or ctx.registry
    unit = registry.units[code]
    typed = dict(CLEAN_SCHOOL, reporter_email=unit.email)
    typed.update(values)
    lists = {"people": CLEAN_PEOPLE, "initiatives": CLEAN_INITIATIVES, "nominations": []}
    return school_workbook(ctx.schemas, registry, ctx.settings, code, typed, lists)


def blank(ctx: Ctx, registry: Registry | None = None, **values: Any) -> Workbook:
    """The department's blank school template, the identity typed by the unit (`values`)."""
    registry = registry or ctx.registry
    wb = build_template(ctx.schemas.report, "school", YEAR, ctx.settings, registry)
    typed = dict(
        CLEAN_SCHOOL, unit_type="Trường THPT", area_name="Quận Trung Tâm", reporter_email=PERSONAL
    )
    typed.update(values)
    lists = {
        "people": CLEAN_PEOPLE,
        "initiatives": CLEAN_INITIATIVES,
        "nominations": CLEAN_NOMINATIONS,
    }
    return fill_template(wb, typed, lists)


def own_name(ctx: Ctx, code: str) -> str:
    return unit_file_name(ctx.registry.units[code], YEAR)


def blank_name(ctx: Ctx) -> str:
    return template_filename(ctx.schemas.report, "school", YEAR, None)


def at(path: Path, when: dt.datetime) -> Path:
    """Set a file's modification time; a time without a zone is Vietnam time, as the reader
    reports it whatever the machine's time zone."""
    stamp = (when if when.tzinfo is not None else when.replace(tzinfo=ICT)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def run(
    ctx: Ctx,
    registry: Registry | None = None,
    senders: dict[str, str] | None = None,
    today: dt.date | None = RUN_DATE,
) -> RunResult:
    """Consolidate every file of the case's folder, as `consolidate` does after reading."""
    raws = [
        read_submission(p, ctx.folder, ctx.schemas.report)
        for p in sorted(ctx.folder.rglob("*"))
        if p.is_file()
    ]
    return consolidate(
        raws,
        YEAR,
        ctx.schemas,
        registry or ctx.registry,
        ctx.settings,
        mail_senders=senders or {},
        today=today,
    )


def by_file(result: RunResult) -> pd.DataFrame:
    return result.submissions.set_index("file")


def track(result: RunResult) -> pd.DataFrame:
    return result.tracking.set_index("unit_code")


# --------------------------------------------------------------------------- 1. identity


def shared_mailbox(registry: Registry) -> Registry:
    """A and B registered with one shared mailbox (a school group's clerk)."""
    units = dict(registry.units)
    for code in (A, B):
        units[code] = dataclasses.replace(units[code], email="vanthu.q01@gddt.mau.gov.vn")
    return dataclasses.replace(registry, units=units)


def namesakes(registry: Registry) -> Registry:
    """B bears A's name too: two schools of the same name in two areas, a common case."""
    units = dict(registry.units)
    units[B] = dataclasses.replace(units[B], name=units[A].name, area_code="Q02")
    return dataclasses.replace(registry, units=units)


@dataclasses.dataclass(frozen=True)
class IdCase:
    id: str
    make: Callable[[Ctx], tuple[Workbook, str, str]]
    """→ (workbook, file name, sender address or "")."""
    credited: str | None
    """The unit the file is credited to; None: rejected as an identity conflict."""
    evidence: dict[str, str]
    """Evidence kind → the unit it names (kinds naming no unit are left out)."""
    warnings: frozenset[str] = frozenset()
    registry: Callable[[Registry], Registry] = lambda r: r


def _n01(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A), own_name(c, A), c.registry.units[A].email


def _n02(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A), own_name(c, A).replace(".xlsx", " (1).xlsx"), ""


def _n03(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A, reporter_email=PERSONAL), "Bao cao XHHT 2026.xlsx", ""


def _n04(c: Ctx) -> tuple[Workbook, str, str]:
    return blank(c, unit_code=A, unit_name="Trường THPT Lê Quý Đôn"), blank_name(c), ""


def _n05(c: Ctx) -> tuple[Workbook, str, str]:
    return blank(c, unit_code=" thpt-q01-01 ", unit_name="trường thpt  lê quý đôn"), "n05.xlsx", ""


def _n06(c: Ctx) -> tuple[Workbook, str, str]:
    return blank(c, unit_code=A, unit_name="THPT Lê Quý Đôn"), blank_name(c), ""


def _n07(c: Ctx) -> tuple[Workbook, str, str]:
    shared = shared_mailbox(c.registry)
    return per_unit(c, A, shared), own_name(c, A), "vanthu.q01@gddt.mau.gov.vn"


def _n08(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A), own_name(c, A), "hieutruong.canhan@gmail.com"


def _n09(c: Ctx) -> tuple[Workbook, str, str]:
    b = c.registry.units[B]
    return per_unit(c, A, reporter_email=b.email, campaign_events=3), own_name(c, B), ""


def _n10(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A, reporter_email=PERSONAL), own_name(c, A), c.registry.units[B].email


def _n11(c: Ctx) -> tuple[Workbook, str, str]:
    return per_unit(c, A, unit_code=B, reporter_email=PERSONAL), own_name(c, A), ""


def _n12(c: Ctx) -> tuple[Workbook, str, str]:
    return blank(c, unit_code=B, unit_name="Trường THPT Lê Quý Đôn"), blank_name(c), ""


def _n13(c: Ctx) -> tuple[Workbook, str, str]:
    wb = blank(
        c,
        namesakes(c.registry),
        unit_code=B,
        unit_name="Trường THPT Lê Quý Đôn",
        area_name="Quận Bến Sông",
    )
    return wb, blank_name(c), ""


def _n15(c: Ctx) -> tuple[Workbook, str, str]:
    wb = blank(
        c,
        unit_code=None,
        unit_name="Trường THPT Lê Quý Đôn",
        reporter_email=c.registry.units[B].email,
    )
    return wb, blank_name(c), ""


ALL_A = {"meta": A, "unit_code": A, "unit_name": A}
IDENTITY_CASES = [
    IdCase("N01", _n01, A, {**ALL_A, "file_name": A, "reporter_email": A, "mail_sender": A}),
    IdCase("N02", _n02, A, {**ALL_A, "file_name": A, "reporter_email": A}),
    IdCase("N03", _n03, A, ALL_A),
    IdCase("N04", _n04, A, {"unit_code": A, "unit_name": A}),
    IdCase("N05", _n05, A, {"unit_code": A, "unit_name": A}, frozenset({"unit-code-normalised"})),
    IdCase("N06", _n06, A, {"unit_code": A}, frozenset({"prefill-changed"})),
    IdCase("N07", _n07, A, {**ALL_A, "file_name": A}, registry=shared_mailbox),
    IdCase(
        "N08",
        _n08,
        A,
        {**ALL_A, "file_name": A, "reporter_email": A},
        frozenset({"sender-not-registered"}),
    ),
    IdCase("N09", _n09, None, {**ALL_A, "file_name": B, "reporter_email": B}),
    IdCase("N10", _n10, None, {**ALL_A, "file_name": A, "mail_sender": B}),
    IdCase("N11", _n11, None, {"meta": A, "unit_code": B, "unit_name": A, "file_name": A}),
    IdCase("N12", _n12, None, {"unit_code": B, "unit_name": A}),
    IdCase("N13", _n13, B, {"unit_code": B}, registry=namesakes),
    IdCase("N15", _n15, None, {"unit_name": A, "reporter_email": B}),
]
LISTED_UNDER = {"N09": A, "N10": A, "N11": A, "N12": B, "N15": A}
"""The unit_code of a conflict's issue and submissions row: the code the file claims (hidden
code, else the code cell), else the first unit its evidence names (N15: no code typed)."""


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=[c.id for c in IDENTITY_CASES])
def test_identity_case(ctx: Ctx, case: IdCase) -> None:
    registry = case.registry(ctx.registry)
    wb, name, sender = case.make(ctx)
    path = save(wb, ctx.folder / name)
    raw = read_submission(path, ctx.folder, ctx.schemas.report)
    ident = identify(
        raw, registry, ctx.schemas.report, YEAR, sender=sender, index=IdentityIndex(registry)
    )
    assert {e.kind: e.unit_code for e in ident.evidence if e.unit_code} == case.evidence

    result = run(ctx, registry, {name: sender} if sender else None)
    row = by_file(result).loc[name]
    codes = {i.code for i in result.issues}
    if case.credited is not None:
        assert result.kept == {case.credited: name}
        assert row["unit_code"] == case.credited
        assert codes == set(case.warnings)
        assert row["status"] == ("accepted_with_warnings" if case.warnings else "accepted")
        assert track(result).loc[case.credited, "status"] == "on_time"
        return
    # A conflict: one error, the file counted for no unit, every unit named with its name.
    assert result.kept == {}
    assert [i.code for i in result.issues] == ["identity-conflict"]
    issue = result.issues[0]
    assert (row["status"], row["reason_code"], row["reason"]) == (
        "rejected",
        "identity-conflict",
        issue.message,
    )
    for code in (A, B):
        assert f"{code} ({registry.units[code].name})" in issue.message
    assert f"{issue.sheet}!{issue.cell}" == cell_of(wb, "unit_code")
    assert set(issue.value.split(", ")) == {A, B}
    assert issue.unit_code == row["unit_code"] == LISTED_UNDER[case.id]
    # What each piece of evidence says is quoted after the unit it names.
    a_part, b_part = (
        issue.message.split(f"{A} (", 1)[1].split(f"{B} (")[0],
        issue.message.split(f"{B} (", 1)[1].split(f"{A} (")[0],
    )
    quoted = {
        "meta": "mã đơn vị ẩn",
        "unit_code": "ô “Mã đơn vị”",
        "unit_name": "ô “Tên đơn vị”",
        "file_name": "tên tệp",
        "reporter_email": "ô “Thư điện tử”",
        "mail_sender": "thư gửi từ địa chỉ",
    }
    for kind, unit in case.evidence.items():
        assert quoted[kind] in (a_part if unit == A else b_part), (kind, issue.message)
    status = track(result)["status"]
    assert status[A] == status[B] == "rejected"


def test_N14_a_conflicting_file_never_supersedes(ctx: Ctx) -> None:
    genuine = save(
        per_unit(ctx, A, report_date=dt.datetime(2026, 11, 25)), ctx.folder / own_name(ctx, A)
    )
    wb, name, _ = _n09(ctx)
    fill_template(wb, {"report_date": dt.datetime(2026, 11, 30)}, {})
    save(wb, ctx.folder / name)
    result = run(ctx)
    assert result.kept == {A: genuine.name}
    rows = by_file(result)
    assert rows.loc[genuine.name, "status"] == "accepted"
    assert (rows.loc[name, "status"], rows.loc[name, "reason_code"]) == (
        "rejected",
        "identity-conflict",
    )
    tracking = track(result)
    assert tracking.loc[A, "status"] == "on_time" and tracking.loc[A, "file"] == genuine.name
    assert tracking.loc[B, "status"] == "rejected"
    assert tracking.loc[B, "reason_code"] == "identity-conflict"
    # The borrowed file's figure (3) is nowhere in A's consolidated values.
    assert result.units.loc[A, "campaign_events"] == CLEAN_SCHOOL["campaign_events"]


def test_conflicts_survive_a_libreoffice_save(ctx: Ctx, tmp_path: Path) -> None:
    """N09, N12 and N04 made with openpyxl, then opened and saved by LibreOffice Calc."""
    made = tmp_path / "made"
    n09, n09_name, _ = _n09(ctx)
    sources = [
        save(n09, made / n09_name),
        save(_n12(ctx)[0], made / "n12.xlsx"),
        save(_n04(ctx)[0], made / "n04.xlsx"),
    ]
    convert_all(sources, "xlsx", ctx.folder)
    result = run(ctx)
    rows = by_file(result)
    assert result.kept == {A: "n04.xlsx"}
    assert rows.loc[n09_name, "reason_code"] == "identity-conflict"
    assert rows.loc["n12.xlsx", "reason_code"] == "identity-conflict"


# --------------------------------------------------------------------------- 2. which copy wins


def copy_of_a(
    ctx: Ctx, name: str, report_date: dt.datetime, events: int, mtime: dt.datetime
) -> Path:
    """A's own template filled once more: a copy of its report, with its own file time."""
    wb = per_unit(ctx, A, report_date=report_date, campaign_events=events)
    return at(save(wb, ctx.folder / name), mtime)


def events_change(result: RunResult) -> tuple[str, str, str, str]:
    """The change log's row for the one figure the copies differ in: old → new."""
    rows = result.changes[result.changes["field"] == "campaign_events"]
    assert len(rows) == 1, result.changes
    row = rows.iloc[0]
    return row["old_file"], row["new_file"], str(row["old_value"]), str(row["new_value"])


NOV = dt.datetime(2026, 11, 25)
DEC1_8 = dt.datetime(2026, 12, 1, 8)
DEC1_10 = dt.datetime(2026, 12, 1, 10)


def test_C01_the_later_report_date_wins_whatever_the_names(ctx: Ctx) -> None:
    copy_of_a(ctx, "a.xlsx", dt.datetime(2026, 11, 28), 6, DEC1_8)
    copy_of_a(ctx, "b.xlsx", dt.datetime(2026, 11, 20), 2, DEC1_8)
    result = run(ctx)
    assert result.kept == {A: "a.xlsx"}
    assert events_change(result) == ("b.xlsx", "a.xlsx", "2", "6")
    reason = by_file(result).loc["b.xlsx", "reason"]
    assert "Ngày báo cáo 28/11/2026, muộn hơn ngày 20/11/2026" in reason


@pytest.mark.parametrize(
    ("plain_time", "copy_time", "kept"),
    [
        pytest.param(DEC1_8, DEC1_10, "copy", id="C02"),
        pytest.param(DEC1_10, DEC1_8, "plain", id="C03"),
    ],
)
def test_same_report_date_the_later_file_time_wins(
    ctx: Ctx, plain_time: dt.datetime, copy_time: dt.datetime, kept: str
) -> None:
    """The mail client saved the second copy as "… (1).xlsx"; its name decides nothing."""
    plain = own_name(ctx, A)
    copy = plain.replace(".xlsx", " (1).xlsx")
    older, newer = (plain, copy) if kept == "copy" else (copy, plain)
    copy_of_a(ctx, older, NOV, 2, min(plain_time, copy_time))
    copy_of_a(ctx, newer, NOV, 6, max(plain_time, copy_time))
    result = run(ctx)
    assert result.kept == {A: newer}
    assert events_change(result) == (older, newer, "2", "6")
    reason = by_file(result).loc[older, "reason"]
    assert "cùng ngày báo cáo, gửi sau: sửa tệp" in reason
    assert not any(i.code == "resubmission-tie" for i in result.issues)


def test_C07_a_future_report_date_is_not_believed(ctx: Ctx, schemas: Schemas) -> None:
    plain = own_name(ctx, A)
    copy = plain.replace(".xlsx", " (1).xlsx")
    copy_of_a(ctx, plain, dt.datetime(2026, 11, 28), 2, DEC1_8)
    typo = per_unit(ctx, A, report_date=dt.datetime(2026, 12, 12), campaign_events=6)
    at(save(typo, ctx.folder / copy), DEC1_10)
    result = run(ctx, today=dt.date(2026, 12, 2))
    assert result.kept == {A: plain}
    [warning] = [i for i in result.issues if i.code == "report-date-future"]
    assert (warning.file, warning.severity) == (copy, "warning")
    assert f"{warning.sheet}!{warning.cell}" == cell_of(typo, "report_date")
    assert warning.value == "12/12/2026" and "02/12/2026" in warning.message
    assert by_file(result).loc[copy, "report_date"] == dt.date(2026, 12, 12)
    assert "bản này không có ngày báo cáo dùng được" in by_file(result).loc[copy, "reason"]


@pytest.mark.parametrize(
    ("typed", "mtime", "status"),
    [
        pytest.param(dt.datetime(2062, 11, 25), dt.datetime(2026, 12, 4, 9), "on_time", id="C08"),
        pytest.param(dt.datetime(2025, 11, 20), dt.datetime(2026, 12, 8, 9), "late", id="C09"),
    ],
)
def test_a_report_date_outside_the_year_is_not_believed(
    ctx: Ctx, typed: dt.datetime, mtime: dt.datetime, status: str
) -> None:
    wb = per_unit(ctx, A, report_date=typed)
    at(save(wb, ctx.folder / own_name(ctx, A)), mtime)
    result = run(ctx)
    [warning] = [i for i in result.issues if i.code == "report-date-outside-window"]
    assert f"{warning.sheet}!{warning.cell}" == cell_of(wb, "report_date")
    assert "01/01/2026 - 31/03/2027" in warning.message
    row = track(result).loc[A]
    assert (row["status"], row["submitted_at"], row["submitted_at_source"]) == (
        status,
        mtime,
        "file_mtime",
    )


def test_C10_identical_copies_are_read_once(ctx: Ctx) -> None:
    first = copy_of_a(ctx, own_name(ctx, A), NOV, 6, DEC1_8)
    shutil.copyfile(first, ctx.folder / "ban-sao.xlsx")
    result = run(ctx)
    assert result.kept == {A: first.name}
    row = by_file(result).loc["ban-sao.xlsx"]
    assert (row["status"], row["reason_code"]) == ("superseded", "file-duplicate")
    [duplicate] = [i for i in result.issues if i.code == "file-duplicate"]
    assert (duplicate.file, duplicate.unit_code) == ("ban-sao.xlsx", A)


# --------------------------------------------------------------------------- mail: C04-C06, T


def _eml(
    folder: Path, name: str, sender: str, files: list[tuple[str, bytes]], received: dt.datetime
) -> None:
    n = int(re.sub(r"\D", "", name) or 0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(
        make_mail(sender, "Báo cáo XHHT", files, sent=received, received=received, n=n)
    )


def _bytes(ctx: Ctx, code: str, events: int) -> bytes:
    return template_bytes(per_unit(ctx, code, report_date=NOV, campaign_events=events))


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_C04_C05_C06_copies_by_mail_and_by_hand(ctx: Ctx, tmp_path: Path) -> None:
    """Through the real `inbox` into submissions/2026, then `consolidate --input submissions`."""
    mails, dest, out = tmp_path / "thu", tmp_path / "submissions", tmp_path / "output"
    units = ctx.registry.units
    name_a, name_b, name_c = (own_name(ctx, code) for code in (A, B, C))
    when = lambda day, hour: dt.datetime(2026, 12, day, hour, tzinfo=ICT)  # noqa: E731
    # C04: A's copy by mail, received 09:00 on 2 December ...
    _eml(mails, "01.eml", units[A].email, [(name_a, _bytes(ctx, A, 6))], when(2, 9))
    # C05: two mails of B, the one received later processed first (saved under the plain name).
    _eml(mails, "02.eml", units[B].email, [(name_b, _bytes(ctx, B, 6))], when(3, 14))
    _eml(mails, "03.eml", units[B].email, [(name_b, _bytes(ctx, B, 2))], when(3, 8))
    # C06: two attachments of one mail of C.
    tie_copy = name_c.replace(".xlsx", " (1).xlsx")
    _eml(
        mails,
        "04.eml",
        units[C].email,
        [(name_c, _bytes(ctx, C, 6)), (tie_copy, _bytes(ctx, C, 2))],
        when(3, 10),
    )
    runner = CliRunner()
    res = runner.invoke(main, ["inbox", str(mails), "--dest", str(dest)])
    assert res.exit_code == 0, res.output
    year = dest / "2026"
    assert (year / name_b.replace(".xlsx", " (2).xlsx")).is_file()
    # ... and a copy saved by hand, modified at 17:00 on 1 December.
    hand = name_a.replace(".xlsx", " (1).xlsx")
    (year / hand).write_bytes(_bytes(ctx, A, 2))
    at(year / hand, dt.datetime(2026, 12, 1, 17))
    argv = ["consolidate", "--year", "2026", "--input", str(dest), "--output", str(out), "-q"]
    res = runner.invoke(main, [*argv, "--workers", "1"])
    assert res.exit_code == 0, res.output
    subs = _csv(out / "2026" / "submissions.csv").set_index("file")
    assert f"2026/{INBOX_LOG_NAME}" not in subs.index
    status = subs["status"].to_dict()
    assert status[f"2026/{name_a}"] == "accepted"  # C04
    assert status[f"2026/{hand}"] == "superseded"
    assert status[f"2026/{name_b}"] == "accepted"  # C05
    assert status[f"2026/{name_b.replace('.xlsx', ' (2).xlsx')}"] == "superseded"
    assert status[f"2026/{name_c}"] == "accepted_with_warnings"  # C06
    assert subs.loc[f"2026/{tie_copy}", "status"] == "superseded"
    assert subs.loc[f"2026/{tie_copy}", "reason_code"] == "resubmission-tie"
    assert subs.loc[f"2026/{name_a}", "submitted_at_source"] == "mail_received"
    assert subs.loc[f"2026/{hand}", "submitted_at_source"] == "report_date"
    issues = _csv(out / "2026" / "issues.csv")
    tied = issues[issues["code"] == "resubmission-tie"]
    assert set(tied["file"]) == {f"2026/{name_c}", f"2026/{tie_copy}"}
    assert set(tied["severity"]) == {"warning"}
    changes = _csv(out / "2026" / "resubmission_changes.csv")
    events = changes[changes["field"] == "campaign_events"].set_index("unit_code")
    assert events.loc[A, ["old_file", "new_file", "old_value", "new_value"]].tolist() == [
        f"2026/{hand}",
        f"2026/{name_a}",
        "2",
        "6",
    ]
    assert events.loc[B, ["old_value", "new_value"]].tolist() == ["2", "6"]


def test_T01_T02_T04_mail_times_under_the_input(tmp_path: Path) -> None:
    """`inbox --dest submissions`, then `consolidate --input submissions` (the year's parent)."""
    mails, dest, out = tmp_path / "thu", tmp_path / "submissions", tmp_path / "output"
    utc = dt.UTC
    h01, h03, q05 = sample("PGD-H01"), sample("PGD-H03"), sample("PGD-Q05")
    mails.mkdir()
    (mails / "1.eml").write_bytes(  # T01: 18:30 UTC on 5 December is 01:30 on the 6th
        make_mail(
            "pgd.h01@gddt.mau.gov.vn",
            "BC",
            [h01],
            sent=dt.datetime(2025, 12, 5, 18, 20, tzinfo=utc),
            received=dt.datetime(2025, 12, 5, 18, 30, tzinfo=utc),
            n=1,
        )
    )
    (mails / "2.eml").write_bytes(  # T02: no Received header
        make_mail(
            "pgd.h03@gddt.mau.gov.vn",
            "BC",
            [h03],
            sent=dt.datetime(2025, 12, 6, 8, tzinfo=ICT),
            n=2,
        )
    )
    (mails / "3.eml").write_bytes(  # T04: typed an early report date, mailed on 8 December
        make_mail(
            "pgd.q05@gddt.mau.gov.vn",
            "BC",
            [q05],
            sent=dt.datetime(2025, 12, 8, 9, tzinfo=ICT),
            received=dt.datetime(2025, 12, 8, 9, 5, tzinfo=ICT),
            n=3,
        )
    )
    runner = CliRunner()
    res = runner.invoke(main, ["inbox", str(mails), "--dest", str(dest)])
    assert res.exit_code == 0, res.output
    argv = ["consolidate", "--year", "2025", "--input", str(dest), "--output", str(out), "-q"]
    res = runner.invoke(main, [*argv, "--workers", "1"])
    assert res.exit_code == 0, res.output
    subs = _csv(out / "2025" / "submissions.csv").set_index("file")
    assert sorted(subs.index) == sorted(f"2025/{n}" for n, _ in (h01, h03, q05))
    tracking = _csv(out / "2025" / "data" / "tracking.csv").set_index("unit_code")
    got = tracking.loc[
        ["PGD-H01", "PGD-H03", "PGD-Q05"], ["status", "submitted_at", "submitted_at_source"]
    ]
    assert got.values.tolist() == [
        ["late", "2025-12-06T01:30:00", "mail_received"],
        ["late", "2025-12-06T08:00:00", "mail_sent"],
        ["late", "2025-12-08T09:05:00", "mail_received"],
    ]
    assert subs.loc[f"2025/{q05[0]}", "report_date"] < "2025-12-05"
    # Biểu 09 says where each time came from, in Vietnamese.
    book = next((out / "2025").glob("bao-cao-tong-hop-*.xlsx"))
    ws = openpyxl.load_workbook(book, read_only=True)["Biểu 09"]
    texts = {c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)}
    assert {"Nguồn ngày gửi", "Ngày Sở nhận thư", "Ngày đơn vị gửi thư"} <= texts
    assert "chỉ có tệp bị từ chối 0" in res.output


def test_T03_a_file_saved_by_hand_counts_from_its_report_date(ctx: Ctx) -> None:
    wb = per_unit(ctx, A, report_date=dt.datetime(2026, 12, 4))
    at(save(wb, ctx.folder / own_name(ctx, A)), dt.datetime(2026, 12, 9))
    row = track(run(ctx)).loc[A]
    assert (row["status"], row["submitted_at"], row["submitted_at_source"]) == (
        "on_time",
        dt.datetime(2026, 12, 4),
        "report_date",
    )


# --------------------------------------------------------------------------- the machine's clock


MACHINE_ZONES = [
    pytest.param("ICT-7", id="vietnam"),
    pytest.param("UTC0", id="utc"),
    # POSIX rules, not a tz database name: the test needs no tzdata on the machine.
    pytest.param("EST5EDT,M3.2.0,M11.1.0", id="new-york"),
]


@pytest.fixture
def machine_zone() -> Iterator[Callable[[str], None]]:
    """Set the time zone of this process (TZ and time.tzset), restored afterwards."""
    before = os.environ.get("TZ")

    def set_zone(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    try:
        yield set_zone
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize("zone", MACHINE_ZONES)
def test_C11_T05_the_machine_time_zone_changes_no_verdict(
    ctx: Ctx, tmp_path: Path, machine_zone: Callable[[str], None], zone: str
) -> None:
    """Mail times are Vietnam time; file times must be read on the same clock, or on a
    machine set to UTC a file time is seven hours early against every mail and the deadline.
    """
    machine_zone(zone)
    mails, dest = tmp_path / "thu", tmp_path / "submissions"
    name_a, name_b = own_name(ctx, A), own_name(ctx, B)
    # C11: A's copy by mail, received 09:00 on 2 December (Vietnam time) ...
    _eml(
        mails,
        "01.eml",
        ctx.registry.units[A].email,
        [(name_a, _bytes(ctx, A, 2))],
        dt.datetime(2026, 12, 2, 9, tzinfo=ICT),
    )
    run_inbox([mails], dest, ctx.schemas.report)
    year = dest / "2026"
    # ... and a corrected copy saved by hand at 10:00 Vietnam time (03:00 UTC).
    hand = name_a.replace(".xlsx", " (1).xlsx")
    (year / hand).write_bytes(_bytes(ctx, A, 6))
    at(year / hand, dt.datetime(2026, 12, 2, 3, tzinfo=dt.UTC))
    # T05: B's file saved by hand, report date left blank, modified at 03:00 on 6 December
    # Vietnam time (20:00 on the 5th UTC, 15:00 on the 5th in New York).
    save(per_unit(ctx, B, report_date=None), year / name_b)
    at(year / name_b, dt.datetime(2026, 12, 5, 20, tzinfo=dt.UTC))
    raws = read_all(year, ctx.schemas, workers=1)
    mail = load_mail_info(year)
    result = consolidate(
        raws,
        YEAR,
        ctx.schemas,
        ctx.registry,
        ctx.settings,
        mail_times=mail.times,
        mail_senders=mail.senders,
        mail_sources=mail.sources,
        today=RUN_DATE,
    )
    assert result.kept[A] == hand  # C11: the later copy, by one clock
    assert events_change(result) == (name_a, hand, "2", "6")
    assert "gửi sau: sửa tệp 10:00:00 02/12/2026" in by_file(result).loc[name_a, "reason"]
    assert "nhận thư 09:00:00 02/12/2026" in by_file(result).loc[name_a, "reason"]
    row = track(result).loc[B]  # T05
    assert (row["status"], row["submitted_at"], row["submitted_at_source"]) == (
        "late",
        dt.datetime(2026, 12, 6, 3),
        "file_mtime",
    )


# --------------------------------------------------------------------------- 4. tracking


def test_D01_D02_a_unit_whose_only_file_was_rejected(ctx: Ctx) -> None:
    last_year = school_workbook(ctx.schemas, ctx.registry, ctx.settings, unit_code=A, year=2025)
    save(last_year, ctx.folder / unit_file_name(ctx.registry.units[A], 2025))
    result = run(ctx)
    row = track(result).loc[A]
    assert (row["status"], row["reason_code"]) == ("rejected", "wrong-year")
    assert row["reason"] == by_file(result).iloc[0]["reason"] and "2025" in row["reason"]
    area = result.reporting_rate.set_index("area_code").loc["Q01"]
    expected = len(ctx.registry.units_in("Q01"))
    assert (area["rejected"], area["missing"], area["on_time"]) == (1, expected - 1, 0)
    assert area["rate"] == 0.0
    # D02: the year's own file as well: A reported.
    save(per_unit(ctx, A), ctx.folder / own_name(ctx, A))
    result = run(ctx)
    assert track(result).loc[A, "status"] == "on_time"
    assert result.reporting_rate.set_index("area_code").loc["Q01", "rate"] == 1 / expected


def test_D03_a_conflict_shows_at_both_units(ctx: Ctx) -> None:
    wb, name, _ = _n09(ctx)
    save(wb, ctx.folder / name)
    tracking = track(run(ctx))
    for code in (A, B):
        assert tracking.loc[code, ["status", "reason_code", "file"]].tolist() == [
            "rejected",
            "identity-conflict",
            name,
        ]


def test_D04_D05_a_plain_workbook_from_a_units_address(ctx: Ctx) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["STT", "Nội dung", "Số lượng"])
    ws.append([1, "Số buổi tuyên truyền", 5])
    wb.save(ctx.folder / "bang-tu-lap.xlsx")
    result = run(ctx, senders={"bang-tu-lap.xlsx": ctx.registry.units[A].email})
    tracking = track(result)
    assert tracking.loc[A, ["status", "reason_code"]].tolist() == ["rejected", "not-a-template"]
    assert tracking.loc[B, ["status", "reason", "file"]].tolist() == ["missing", "", ""]  # D05


# --------------------------------------------------------------------------- 1. report year


def test_Y01_a_template_of_another_year_is_one_wrong_year_error(ctx: Ctx) -> None:
    last_year = school_workbook(ctx.schemas, ctx.registry, ctx.settings, unit_code=A, year=2025)
    save(last_year, ctx.folder / unit_file_name(ctx.registry.units[A], 2025))
    result = run(ctx)
    assert [i.code for i in result.issues] == ["wrong-year"]
    assert "2025" in result.issues[0].message and "2026" in result.issues[0].message
    assert result.kept == {}


def test_Y02_last_years_figures_in_this_years_template_are_not_counted(ctx: Ctx) -> None:
    wb = per_unit(ctx, A, report_year=2025, campaign_events=3)
    save(wb, ctx.folder / own_name(ctx, A))
    result = run(ctx)
    assert result.kept == {}
    [issue] = result.issues
    assert (issue.code, issue.severity, issue.unit_code) == ("report-year-mismatch", "error", A)
    assert f"{issue.sheet}!{issue.cell}" == cell_of(wb, "report_year")
    assert (issue.field, issue.value) == ("report_year", "2025")
    assert "2025" in issue.message and "2026" in issue.message
    row = by_file(result).loc[own_name(ctx, A)]
    assert (row["status"], row["reason_code"]) == ("rejected", "report-year-mismatch")
    assert track(result).loc[A, ["status", "reason_code"]].tolist() == [
        "rejected",
        "report-year-mismatch",
    ]
    assert A not in result.units.index


def test_Y03_the_year_typed_as_text_is_the_year(ctx: Ctx) -> None:
    save(per_unit(ctx, A, report_year="2026"), ctx.folder / own_name(ctx, A))
    result = run(ctx)
    assert result.kept == {A: own_name(ctx, A)}
    assert result.issues == []


def test_Y04_the_corrected_copy_is_consolidated(ctx: Ctx) -> None:
    wrong = own_name(ctx, A)
    fixed = wrong.replace(".xlsx", " (1).xlsx")
    at(save(per_unit(ctx, A, report_date=NOV, report_year=2025), ctx.folder / wrong), DEC1_8)
    copy_of_a(ctx, fixed, NOV, 6, DEC1_10)
    result = run(ctx)
    assert result.kept == {A: fixed}
    assert by_file(result).loc[wrong, "reason_code"] == "report-year-mismatch"
    assert result.units.loc[A, "campaign_events"] == 6


# --------------------------------------------------------------------------- 1. reporter


LAST_YEAR = {"reporter_name": "Nguyễn Thị Lan", "reporter_email": "lan.nt@gmail.com"}


def last_year_of_a(reporter: dict[str, str]) -> Previous:
    values = pd.DataFrame(
        [(2025, A, fld, value) for fld, value in reporter.items()],
        columns=["year", "unit_code", "field", "value"],
    )
    aggregates = pd.DataFrame(columns=["level", "key", "field", "value"])
    return Previous(2025, values, aggregates)


@pytest.mark.parametrize(
    ("name", "email", "warned"),
    [
        pytest.param("Trần Văn Bình", "binh.tv@gmail.com", True, id="P01"),
        pytest.param("Trần Văn Bình", "thpt.lequydon@gddt.mau.gov.vn", False, id="P02"),
        pytest.param("nguyễn thị  lan", "lan.moi@gmail.com", False, id="P03"),
        pytest.param("Trần Văn Bình", "LAN.NT@gmail.com", False, id="P04"),
    ],
)
def test_a_reporter_new_to_the_unit_is_a_warning(
    ctx: Ctx, name: str, email: str, warned: bool
) -> None:
    wb = per_unit(ctx, A, reporter_name=name, reporter_email=email)
    save(wb, ctx.folder / own_name(ctx, A))
    raws = [read_submission(ctx.folder / own_name(ctx, A), ctx.folder, ctx.schemas.report)]
    previous = last_year_of_a(LAST_YEAR)
    result = consolidate(
        raws, YEAR, ctx.schemas, ctx.registry, ctx.settings, previous=previous, today=RUN_DATE
    )
    assert result.kept == {A: own_name(ctx, A)}
    found = [i for i in result.issues if i.code == "reporter-changed"]
    if not warned:
        assert found == []
        return
    [issue] = found
    assert (issue.severity, issue.unit_code, issue.value) == ("warning", A, name)
    assert f"{issue.sheet}!{issue.cell}" == cell_of(wb, "reporter_name")
    for said in (name, "Nguyễn Thị Lan", ctx.registry.units[A].email, "2025"):
        assert said in issue.message
    assert by_file(result).loc[own_name(ctx, A), "status"] == "accepted_with_warnings"


def test_P05_no_report_last_year_nothing_to_compare(ctx: Ctx) -> None:
    wb = per_unit(ctx, A, reporter_name="Trần Văn Bình", reporter_email="binh.tv@gmail.com")
    save(wb, ctx.folder / own_name(ctx, A))
    raws = [read_submission(ctx.folder / own_name(ctx, A), ctx.folder, ctx.schemas.report)]
    other = last_year_of_a({}).values
    other.loc[0] = [2025, B, "reporter_name", "Lê Văn Cường"]
    previous = Previous(2025, other, last_year_of_a({}).aggregates)
    result = consolidate(
        raws, YEAR, ctx.schemas, ctx.registry, ctx.settings, previous=previous, today=RUN_DATE
    )
    assert not [i for i in result.issues if i.code == "reporter-changed"]


# --------------------------------------------------------------------------- 1. read issues


def _with_macro_and_link(data: bytes, sheet_index: int, cell: str) -> bytes:
    """A package with a VBA project and the given cell a formula into another workbook."""
    data = with_external_link(
        data,
        "file:///C:/bao-cao-truong-ban.xlsx",
        extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"Attribute VB_Name" * 8},
    )
    data = add_content_type(data, "xl/vbaProject.bin", "application/vnd.ms-office.vbaProject")
    data = add_workbook_rel(
        data,
        "rIdVba",
        "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
        "vbaProject.bin",
    )
    pattern = re.compile(rb'(<c r="' + cell.encode() + rb'"[^>]*>)(<v>)')

    def link_cell(xml: bytes) -> bytes:
        linked, n = pattern.subn(rb"\1<f>[1]Sheet1!A1</f>\2", xml)
        assert n == 1
        return linked

    return edit_part(data, f"xl/worksheets/sheet{sheet_index}.xml", link_cell)


@pytest.mark.parametrize(
    ("case", "name", "credited"),
    [pytest.param("R01", None, A, id="R01"), pytest.param("R02", B, None, id="R02")],
)
def test_read_issues_name_the_unit_and_the_cell(
    ctx: Ctx, case: str, name: str | None, credited: str | None
) -> None:
    wb = per_unit(ctx, A)
    sheet, cell = cell_of(wb, "campaign_events").split("!")
    data = _with_macro_and_link(template_bytes(wb), wb.sheetnames.index(sheet) + 1, cell)
    file = own_name(ctx, name or A).replace(".xlsx", ".xlsm")
    (ctx.folder / file).write_bytes(data)
    result = run(ctx)
    assert result.kept == ({credited: file} if credited else {})
    found = {i.code: i for i in result.issues}
    assert found["macros-ignored"].unit_code == A
    assert (found["macros-ignored"].sheet, found["macros-ignored"].cell) == ("", "")
    link = found["external-links"]
    assert (link.unit_code, link.sheet, link.cell) == (A, sheet, cell)
    assert f"{sheet}!{cell}" in link.message
    if credited is None:
        assert by_file(result).loc[file, "reason_code"] == "identity-conflict"


# --------------------------------------------------------------------------- 3. mail log


def _mail_a(ctx: Ctx, tmp_path: Path) -> tuple[Path, str]:
    """A's report by mail, received 08/12/2026 (late), saved by `inbox` to submissions/2026."""
    mails, dest = tmp_path / "thu", tmp_path / "submissions"
    name = own_name(ctx, A)
    _eml(
        mails,
        "01.eml",
        ctx.registry.units[A].email,
        [(name, _bytes(ctx, A, 6))],
        dt.datetime(2026, 12, 8, 9, tzinfo=ICT),
    )
    run_inbox([mails], dest, ctx.schemas.report)
    return dest, name


def _consolidated(dest: Path, out: Path) -> pd.DataFrame:
    argv = ["consolidate", "--year", "2026", "--input", str(dest), "--output", str(out), "-q"]
    res = CliRunner().invoke(main, [*argv, "--workers", "1"])
    assert res.exit_code == 0, res.output
    return _csv(out / "2026" / "submissions.csv").set_index("file")


def test_T06_a_moved_attachment_keeps_its_mail_time(ctx: Ctx, tmp_path: Path) -> None:
    dest, name = _mail_a(ctx, tmp_path)
    (dest / "2026" / "da-xem").mkdir()
    (dest / "2026" / name).rename(dest / "2026" / "da-xem" / name)
    subs = _consolidated(dest, tmp_path / "out")
    row = subs.loc[f"2026/da-xem/{name}"]
    assert (row["submitted_at"], row["submitted_at_source"]) == (
        "2026-12-08T09:00:00",
        "mail_received",
    )


def test_T07_a_renamed_attachment_keeps_its_mail_time(ctx: Ctx, tmp_path: Path) -> None:
    dest, name = _mail_a(ctx, tmp_path)
    year = dest / "2026"
    (year / name).rename(year / "Bao cao A.xlsx")
    # Another copy (other figures) now bears the old name, saved by hand on 1 December: the
    # mail's time went with the renamed file.
    at(save(per_unit(ctx, A, report_date=NOV, campaign_events=2), year / name), DEC1_8)
    subs = _consolidated(dest, tmp_path / "out")
    moved = subs.loc["2026/Bao cao A.xlsx"]
    assert (moved["submitted_at"], moved["submitted_at_source"]) == (
        "2026-12-08T09:00:00",
        "mail_received",
    )
    assert subs.loc[f"2026/{name}", "submitted_at_source"] == "report_date"
    assert subs.loc["2026/Bao cao A.xlsx", "status"] == "accepted"


def test_T08_a_log_written_before_the_sha256_column(ctx: Ctx, tmp_path: Path) -> None:
    dest, name = _mail_a(ctx, tmp_path)
    log = dest / "2026" / INBOX_LOG_NAME
    old = _csv(log).drop(columns=["sha256"])
    log.write_text(old.to_csv(index=False), encoding="utf-8-sig")
    assert "sha256" not in log.read_text(encoding="utf-8-sig").splitlines()[0]
    row = _consolidated(dest, tmp_path / "out").loc[f"2026/{name}"]
    assert (row["submitted_at"], row["submitted_at_source"]) == (
        "2026-12-08T09:00:00",
        "mail_received",
    )


def test_T09_a_mail_time_after_the_run_date_is_not_used(ctx: Ctx) -> None:
    plain = own_name(ctx, A)
    copy = plain.replace(".xlsx", " (1).xlsx")
    copy_of_a(ctx, plain, NOV, 2, DEC1_8)
    copy_of_a(ctx, copy, NOV, 6, DEC1_8)
    raws = [read_submission(ctx.folder / n, ctx.folder, ctx.schemas.report) for n in (plain, copy)]
    result = consolidate(
        raws,
        YEAR,
        ctx.schemas,
        ctx.registry,
        ctx.settings,
        mail_times={plain: dt.datetime(2026, 12, 2, 9), copy: dt.datetime(2027, 1, 5, 10)},
        today=RUN_DATE,
    )
    assert result.kept == {A: plain}
    [warning] = [i for i in result.issues if i.code == "mail-time-future"]
    assert (warning.file, warning.severity, warning.unit_code) == (copy, "warning", A)
    assert "10:00:00 05/01/2027" in warning.message and "20/12/2026" in warning.message
    row = by_file(result).loc[copy]
    assert row["submitted_at_source"] == "report_date"


# --------------------------------------------------------------------------- the specification


SPEC_CASE = re.compile(r"^\| ([NCTDYPR]\d\d) \|", re.MULTILINE)
COVERED = {c.id for c in IDENTITY_CASES} | {
    "N14",
    *(f"C{n:02d}" for n in range(1, 12)),
    "T01",
    "T02",
    "T03",
    "T04",
    "T05",
    *(f"D{n:02d}" for n in range(1, 6)),
    *(f"Y{n:02d}" for n in range(1, 5)),
    *(f"P{n:02d}" for n in range(1, 6)),
    "R01",
    "R02",
    "T06",
    "T07",
    "T08",
    "T09",
}
"""The worked cases these tests run, by the specification's ids."""


def test_the_specification_is_these_tests() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", text)
    ids = SPEC_CASE.findall(text)
    assert len(ids) == len(set(ids)), "a case id is used twice"
    assert set(ids) == COVERED
