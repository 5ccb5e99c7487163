"""Who sent what: rejections with their reasons, resubmissions, the validate command, feedback."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.workbook.workbook import Workbook

from pipeline.cli import main
from pipeline.feedback import FEEDBACK_SHEET
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import consolidate
from pipeline.samples import fill_template
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes
from tests.submission_factory import CLEAN_PEOPLE, CLEAN_SCHOOL, save, school_workbook, set_meta

ROOT = Path(__file__).resolve().parent.parent


def _plain(_: Schemas, __: Registry, ___: Settings) -> Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "Bảng kê tự làm"
    return wb


def _meta(key: str, value: object) -> Callable[[Schemas, Registry, Settings], Workbook]:
    def build(schemas: Schemas, registry: Registry, settings: Settings) -> Workbook:
        wb = school_workbook(schemas, registry, settings)
        set_meta(wb, key, value)
        return wb

    return build


def _area_office_in_school_template(
    schemas: Schemas, registry: Registry, settings: Settings
) -> Workbook:
    """The school template with every identity cell saying the area office PGD-Q01."""
    wb = school_workbook(schemas, registry, settings)
    office = registry.units["PGD-Q01"]
    set_meta(wb, "unit_code", office.code)
    return fill_template(wb, {"unit_code": office.code, "unit_name": office.name}, {})


def _empty(schemas: Schemas, registry: Registry, settings: Settings) -> Workbook:
    unit = registry.units["THPT-Q01-01"]
    return build_template(schemas.report, "school", 2026, settings, registry, unit)


WORKBOOK_CASES = [
    ("not-a-template", _plain, "not-a-template"),
    ("another-year", _meta("report_year", 2025), "wrong-year"),
    ("unknown-unit", _meta("unit_code", "THPT-KHONG-CO"), "unknown-unit"),
    ("old-version", _meta("template_version", "0.9"), "unsupported-version"),
    ("area-office-in-school-template", _area_office_in_school_template, "wrong-template-for-unit"),
    ("empty-template", _empty, "empty-template"),
]


@pytest.mark.parametrize(
    ("make", "code"), [c[1:] for c in WORKBOOK_CASES], ids=[c[0] for c in WORKBOOK_CASES]
)
def test_rejected_workbook(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    make: Callable[[Schemas, Registry, Settings], Workbook],
    code: str,
) -> None:
    path = save(make(schemas, registry, settings), tmp_path / "f.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path, schemas.report)], 2026, schemas, registry, settings
    )
    assert result.submissions["status"].tolist() == ["rejected"]
    assert [i.code for i in result.issues] == [code]
    reason = result.submissions["reason"].iloc[0]
    assert reason == result.issues[0].message and len(reason) > 20


def test_version_message_names_both_versions(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    path = save(_meta("template_version", "0.9")(schemas, registry, settings), tmp_path / "f.xlsx")
    result = consolidate(
        [read_submission(path, tmp_path, schemas.report)], 2026, schemas, registry, settings
    )
    assert "“0.9”" in result.issues[0].message
    assert f"“{schemas.report.version}”" in result.issues[0].message


BYTES_CASES = [
    ("zero-bytes", "a.xlsx", b"", "file-empty"),
    ("garbage", "b.xlsx", b"this is not a spreadsheet", "file-unreadable"),
    ("csv", "c.csv", "STT,Nội dung\n1,x\n".encode(), "file-unsupported-format"),
]


@pytest.mark.parametrize(
    ("name", "content", "code"), [c[1:] for c in BYTES_CASES], ids=[c[0] for c in BYTES_CASES]
)
def test_rejected_file(
    tmp_path: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    name: str,
    content: bytes,
    code: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = consolidate(
        [read_submission(path, tmp_path, schemas.report)], 2026, schemas, registry, settings
    )
    assert result.submissions["status"].tolist() == ["rejected"]
    assert [i.code for i in result.issues] == [code]


def test_resubmission_keeps_newest_and_records_changes(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    first = dict(CLEAN_SCHOOL, report_date=dt.datetime(2026, 11, 20), campaign_events=2)
    second = dict(CLEAN_SCHOOL, report_date=dt.datetime(2026, 11, 28), campaign_events=6)
    # The newer report is saved under the name that sorts first: the file name is not the rule.
    a = save(school_workbook(schemas, registry, settings, values=second), tmp_path / "a.xlsx")
    b = save(school_workbook(schemas, registry, settings, values=first), tmp_path / "b.xlsx")
    shutil.copyfile(a, tmp_path / "c-copy.xlsx")
    raws = [read_submission(p, tmp_path, schemas.report) for p in sorted(tmp_path.iterdir())]
    result = consolidate(raws, 2026, schemas, registry, settings)
    status = dict(zip(result.submissions["file"], result.submissions["status"], strict=True))
    assert status == {"a.xlsx": "accepted", "b.xlsx": "superseded", "c-copy.xlsx": "superseded"}
    assert result.kept == {"THPT-Q01-01": "a.xlsx"}
    changes = result.changes.set_index("field")
    assert changes.loc["campaign_events", "old_value"] == 2
    assert changes.loc["campaign_events", "new_value"] == 6
    assert set(changes.index) == {"campaign_events", "report_date"}
    codes = {i.file: i.code for i in result.issues}
    assert codes == {"b.xlsx": "superseded", "c-copy.xlsx": "file-duplicate"}
    assert b.exists()


def test_validate_command_and_feedback(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    inbox = tmp_path / "inbox"
    good = school_workbook(schemas, registry, settings)
    bad = school_workbook(
        schemas,
        registry,
        settings,
        unit_code="THPT-Q01-02",
        values=dict(CLEAN_SCHOOL, campaign_events="mười hai", proposals="=cmd|' /C calc'!A0"),
        lists={"people": CLEAN_PEOPLE, "initiatives": [], "nominations": []},
    )
    save(good, inbox / "truong-1.xlsx")
    save(bad, inbox / "nhom" / "truong-2.xlsx")
    (inbox / "ghi-chu.txt").write_text("không phải bảng tính", encoding="utf-8")
    before = {p: p.read_bytes() for p in inbox.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["validate", str(inbox), "--year", "2026", "--output", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "đọc 3 tệp" in result.output
    with (out / "2026" / "submissions.csv").open(encoding="utf-8-sig") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}
    assert {f: r["status"] for f, r in rows.items()} == {
        "ghi-chu.txt": "rejected",
        "nhom/truong-2.xlsx": "accepted_with_warnings",
        "truong-1.xlsx": "accepted",
    }
    assert {p: p.read_bytes() for p in inbox.rglob("*") if p.is_file()} == before
    feedback = out / "2026" / "feedback" / "nhom" / "truong-2.xlsx"
    assert not (out / "2026" / "feedback" / "truong-1.xlsx").exists()
    wb = openpyxl.load_workbook(feedback)
    assert wb.sheetnames[0] == FEEDBACK_SHEET
    listing = wb[FEEDBACK_SHEET]
    link = listing["C5"]
    assert (
        link.hyperlink is not None and link.value == "Thông tin chung!" + link.value.split("!")[1]
    )
    sheet, cell = link.value.split("!")
    marked = wb[sheet][cell]
    assert marked.fill.fgColor.rgb.endswith("FFC7CE")
    assert marked.comment is not None and "số" in marked.comment.text
    # The template's contract survives, so the unit can fix and resend this very file.
    assert "campaign_events" in wb.defined_names
    again = read_submission(feedback, feedback.parent, schemas.report)
    assert not again.rejected and again.unit_code == "THPT-Q01-02"
    # The sender's text stays text in the feedback copy.
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_sample_submissions_are_committed_and_readable(schemas: Schemas) -> None:
    files = sorted((ROOT / "samples" / "2026").glob("*.xlsx"))
    assert len(files) > 90
    raw = read_submission(files[0], files[0].parent, schemas.report)
    assert raw.meta["report_year"] == "2026"
    assert template_bytes  # the committed samples are produced by the same packer
