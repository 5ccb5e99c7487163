"""The bundled samples show the December cycle the way it happens, whatever day it runs.

What a specialist expects of a run on the samples at any date in December of their year:

1. no report date a unit typed is after the run date, nor outside the year's window: units
   date their reports on the day they sign them, in the second half of November;
2. some units are late, and the same ones whichever December day after the last mail the run
   is made on: their lateness comes from the mail log (the time the department's server
   received the mail), never from the run date or the time the files were checked out. A
   run made before some mails arrived cannot have seen them: their times are warned about
   (``mail-time-future``, docs/dac-ta-nhan-dien.md T09) and not used;
3. the folder is what ``inbox`` makes of the mail: every mailed file has its row in
   ``_inbox_log.csv`` with its SHA-256, the other attachments (a signed PDF) a row and no
   file; only last year's template was saved by hand;
4. the committed files are what ``python -m pipeline samples`` makes (the samples follow the
   templates when they change).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline.collect import read_all
from pipeline.inbox import INBOX_LOG_NAME, SAVED, SKIPPED, load_log_rows, load_mail_info
from pipeline.model import RawSubmission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.samples import generate, write_samples
from pipeline.schema import Schemas
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
YEARS = (2023, 2024, 2025, 2026)
DECEMBER_DAYS = (13, 20, 31)
"""Days after the samples' last mail (12 December of each year)."""


@pytest.fixture(scope="module")
def raws(schemas: Schemas) -> dict[int, list[RawSubmission]]:
    return {y: read_all(ROOT / "samples" / str(y), schemas, workers=1) for y in YEARS}


def run_on(
    year: int,
    day: dt.date,
    raws: dict[int, list[RawSubmission]],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> RunResult:
    """`consolidate` on the samples of `year` as the CLI runs it on `day`."""
    mail = load_mail_info(ROOT / "samples" / str(year))
    return consolidate(
        raws[year],
        year,
        schemas,
        registry,
        settings,
        mail_times=mail.times,
        mail_senders=mail.senders,
        mail_sources=mail.sources,
        today=day,
    )


@pytest.mark.parametrize("year", YEARS)
def test_report_dates_are_signed_in_november(
    year: int,
    raws: dict[int, list[RawSubmission]],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    result = run_on(year, dt.date(year, 12, 1), raws, schemas, registry, settings)
    codes = {i.code for i in result.issues}
    assert not codes & {"report-date-future", "report-date-outside-window"}
    dates = result.submissions["report_date"].dropna()
    assert len(dates) >= 100
    assert dates.min() >= dt.date(year, 11, 1) and dates.max() <= dt.date(year, 11, 30)


@pytest.mark.parametrize("year", YEARS)
def test_the_same_units_are_late_on_any_december_day(
    year: int,
    raws: dict[int, list[RawSubmission]],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    deadline = settings.deadline(year)
    columns = ["unit_code", "status", "reason_code", "submitted_at", "submitted_at_source"]
    seen = [
        run_on(year, dt.date(year, 12, d), raws, schemas, registry, settings).tracking[columns]
        for d in DECEMBER_DAYS
    ]
    for other in seen[1:]:
        pd.testing.assert_frame_equal(other, seen[0])
    tracking = seen[0]
    late = tracking[tracking["status"] == "late"]
    assert 3 <= len(late) <= 25  # about one unit in eight (chance decides which)
    assert (late["submitted_at"].dt.date > deadline).all()
    assert set(late["submitted_at_source"]) == {"mail_received"}
    on_time = tracking[tracking["status"] == "on_time"]
    assert (on_time["submitted_at"].dt.date <= deadline).all()
    # Every file that counts came by mail: no figure rests on a checkout's file time.
    counted = tracking[tracking["status"].isin(["on_time", "late", "rejected"])]
    assert set(counted["submitted_at_source"]) == {"mail_received"}
    # The unit that mailed its own table instead of the template is "only rejected".
    rejected = tracking[tracking["status"] == "rejected"]
    assert rejected["reason_code"].tolist() == ["not-a-template"]


@pytest.mark.parametrize("year", YEARS)
def test_a_run_before_the_last_mails_does_not_use_their_times(
    year: int,
    raws: dict[int, list[RawSubmission]],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    day = dt.date(year, 12, 1)
    mail = load_mail_info(ROOT / "samples" / str(year))
    later = {path for path, when in mail.times.items() if when.date() > day}
    assert later
    result = run_on(year, day, raws, schemas, registry, settings)
    warned = {i.file for i in result.issues if i.code == "mail-time-future"}
    assert warned == later & set(result.submissions["file"])
    rows = result.submissions.set_index("file").loc[sorted(warned)]
    assert "mail_received" not in set(rows["submitted_at_source"])


def test_make_consolidate_runs_the_samples_after_their_last_mail(tmp_path: Path) -> None:
    """`make consolidate` on the bundled samples (the README's first command) shows what a
    run after the last sample mail shows, whatever today is: before, on 2 December it warned
    mail-time-future on 20 files and found no unit late, unlike the README and the guide."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    year = YEARS[-1]
    # As a user runs it: not with the date the tests pin for the runs they make themselves.
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run(
        ["make", "-s", "consolidate", f"OUTPUT={tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    mail = load_mail_info(ROOT / "samples" / str(year))
    assert max(mail.times.values()).date() < dt.date(year, 12, 15)  # SAMPLE_RUN_DATE
    with open(tmp_path / str(year) / "issues.csv", encoding="utf-8-sig", newline="") as f:
        codes = {row["code"] for row in csv.DictReader(f)}
    assert "mail-time-future" not in codes
    with open(tmp_path / str(year) / "data" / "tracking.csv", encoding="utf-8-sig") as f:
        statuses = [row["status"] for row in csv.DictReader(f)]
    assert statuses.count("late") >= 3


@pytest.mark.parametrize("year", YEARS)
def test_the_folder_is_what_inbox_makes_of_the_mail(year: int, registry: Registry) -> None:
    folder = ROOT / "samples" / str(year)
    rows = load_log_rows(folder / INBOX_LOG_NAME)
    saved = [r for r in rows if r.status == SAVED]
    for r in saved:
        assert hashlib.sha256((folder / r.file).read_bytes()).hexdigest() == r.sha256, r.file
        assert r.received_at is not None and r.sent_at is not None
        assert r.sent_at <= r.received_at
        assert r.sender in {u.email for u in registry.units.values()}
    on_disk = {p.name for p in folder.iterdir() if p.name != INBOX_LOG_NAME}
    by_hand = on_disk - {r.file for r in saved}
    assert len(by_hand) == 1 and next(iter(by_hand)).endswith(f"_{year - 1}_nham-nam.xlsx")
    skipped = [r for r in rows if r.status == SKIPPED]
    assert skipped and all(r.attachment.endswith(".pdf") and not r.file for r in skipped)
    assert {r.status for r in rows} == {SAVED, SKIPPED}
    # The log opens in Excel as inbox writes it: UTF-8 with a BOM, its columns in order.
    with (folder / INBOX_LOG_NAME).open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[0] == "\ufefffile" and header[-1] == "reason"


def test_the_committed_samples_are_what_the_generator_makes(
    schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    year = 2026
    write_samples(generate(year, schemas, registry, settings), tmp_path, schemas.report)
    committed = ROOT / "samples" / str(year)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in committed.iterdir())
    stale = [n for n in made if (tmp_path / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"run `make samples YEAR={year}`: {stale[:5]}"
