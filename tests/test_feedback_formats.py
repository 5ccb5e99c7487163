""".ods and .xls submissions with problems get a feedback copy, as .xlsx; or a sentence says why.

The reader converts an .ods/.xls with LibreOffice and reads the converted .xlsx, so every
problem names a cell of that copy. The feedback copy is made from the same conversion: the
unit gets an .xlsx with its problems marked and a line saying to fix and send that .xlsx.
Where no copy can be made (LibreOffice missing or failing), a warning names the file, says
why and what the specialist can send instead.

Tests marked ``libreoffice`` need LibreOffice (``soffice``) and are skipped without it.
"""

from __future__ import annotations

import io
import logging
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline import feedback, feedback_package
from pipeline.cli import main
from pipeline.issues import Issue
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert, soffice
from tests.submission_factory import CLEAN_SCHOOL, cell_of, save, school_workbook

UNITS = {"ods": "THPT-Q01-01", "xls": "THPT-Q01-02"}


@pytest.fixture(scope="module")
def legacy_run(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path]:
    """An inbox with an .ods and an .xls, each LibreOffice's save of a filled per-unit template
    with a word typed in a number cell; consolidated once. Returns (inbox, year output)."""
    exe = soffice()
    base = tmp_path_factory.mktemp("legacy")
    inbox = base / "inbox"
    values = dict(CLEAN_SCHOOL, campaign_events="mười hai")
    for fmt, unit in UNITS.items():
        src = save(
            school_workbook(schemas, registry, settings, unit_code=unit, values=values),
            base / "src" / fmt / f"bao-cao-{fmt}.xlsx",
        )
        convert(src, fmt, inbox, exe=exe)
    out = base / "out"
    res = CliRunner().invoke(
        main,
        ["consolidate", "--year", "2026", "--input", str(inbox), "--output", str(out), "-q"],
    )
    assert res.exit_code == 0, res.output
    return inbox, out / "2026"


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", sorted(UNITS))
def test_a_legacy_file_with_problems_gets_an_xlsx_feedback_copy(
    fmt: str,
    legacy_run: tuple[Path, Path],
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    inbox, out = legacy_run
    copy = out / "feedback" / f"bao-cao-{fmt}.{fmt}.xlsx"
    assert copy.is_file(), sorted(p.name for p in (out / "feedback").iterdir())
    with zipfile.ZipFile(copy) as zf:
        assert zf.testzip() is None
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames[0] == feedback.FEEDBACK_SHEET
    listing = wb[feedback.FEEDBACK_SHEET]
    assert listing["A3"].value == feedback.converted_note(f".{fmt}")
    sheet, ref = cell_of(school_workbook(schemas, registry, settings), "campaign_events").split("!")
    assert listing["C5"].value == f"{sheet}!{ref}"
    assert listing["C5"].hyperlink.location == f"'{sheet}'!{ref}"
    cell = wb[sheet][ref]
    assert cell.value == "mười hai"
    assert cell.fill.fgColor.rgb.endswith(feedback.ERROR_RGB)
    assert cell.comment is not None and cell.comment.text.startswith("Lỗi: ")
    # The unit can fix this .xlsx and send it back: it is read as its own report.
    again = read_submission(copy, copy.parent, schemas.report)
    first = read_submission(inbox / f"bao-cao-{fmt}.{fmt}", inbox, schemas.report)
    assert not again.rejected and again.unit_code == first.unit_code == UNITS[fmt]
    assert again.scalars == first.scalars
    assert [i.code for i in again.issues] == [
        i.code for i in first.issues if i.code != "legacy-format"
    ]


@pytest.mark.libreoffice
def test_the_legacy_feedback_copies_are_byte_reproducible(
    legacy_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """Converted again, the same bytes (the manifest hashes them; reruns compare)."""
    inbox, out = legacy_run
    res = CliRunner().invoke(
        main,
        ["validate", str(inbox), "--year", "2026", "--output", str(tmp_path), "-q"],
    )
    assert res.exit_code == 0, res.output
    for fmt in UNITS:
        name = f"bao-cao-{fmt}.{fmt}.xlsx"
        assert (tmp_path / "2026" / "feedback" / name).read_bytes() == (
            out / "feedback" / name
        ).read_bytes()


def _task(tmp_path: Path, name: str, data: bytes) -> feedback.FeedbackTask:
    source = tmp_path / name
    source.write_bytes(data)
    problem = Issue(
        code="invalid-number",
        severity="error",
        message="Số.",
        file=name,
        unit_code="THPT-Q01-01",
        sheet="Thông tin chung",
        cell="D23",
        field="campaign_events",
        value="x",
    )
    return (name, source, [problem], tmp_path / "feedback" / feedback.feedback_name(name), {})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_without_libreoffice_the_specialist_is_told_why_there_is_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(feedback.shutil, "which", lambda _name: None)
    task = _task(tmp_path, "truong.ods", b"PK\x03\x04 an .ods as far as its name goes")
    with caplog.at_level(logging.WARNING, logger="pipeline.feedback"):
        assert feedback.feedback_task(task) is None
    (message,) = _warnings(caplog)
    assert "truong.ods" in message and "LibreOffice" in message and "issues.csv" in message
    assert not (tmp_path / "feedback").exists()


def test_a_failed_conversion_is_said_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(*_args: object) -> Path:
        raise subprocess.CalledProcessError(81, ["soffice"])

    monkeypatch.setattr(feedback.shutil, "which", lambda _name: "/usr/bin/soffice")
    monkeypatch.setattr(feedback, "convert_to_xlsx", fail)
    task = _task(tmp_path, "truong.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not really")
    with caplog.at_level(logging.WARNING, logger="pipeline.feedback"):
        assert feedback.feedback_task(task) is None
    (message,) = _warnings(caplog)
    assert "truong.xls" in message and "không chuyển được tệp .xls" in message
    # Words, not a Python repr.
    assert "Error" not in message and "(" not in message


def test_an_unreadable_package_is_said_in_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Any other failure: the file, that no copy was made, what to send instead."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<not-a-workbook")
    task = _task(tmp_path, "hong.xlsx", buf.getvalue())
    with caplog.at_level(logging.WARNING, logger="pipeline.feedback"):
        assert feedback.feedback_task(task) is None
    (message,) = _warnings(caplog)
    assert "hong.xlsx" in message and "issues.csv" in message
    assert "Error" not in message and "<" not in message


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("a.ods", b"anything", ".ods"),
        ("a.XLS", b"anything", ".xls"),
        # Saved under an .xlsx name, as the reader also finds them.
        ("a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xls"),
        ("a.xlsx", _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}), ".ods"),
        ("a.xlsx", _zip({"xl/workbook.xml": b"<workbook/>"}), None),
        ("a.xlsm", b"not even a zip", None),
    ],
)
def test_legacy_kind(name: str, data: bytes, kind: str | None, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert feedback.legacy_kind(path) == kind


def _sheet_with(validations: str) -> bytes:
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData/><dataValidations>{validations}</dataValidations></worksheet>"
    )
    return _zip({"xl/worksheets/sheet1.xml": sheet.encode(), "xl/styles.xml": b"<s/>"})


@pytest.mark.parametrize(
    ("validation", "kept"),
    [
        # LibreOffice's copy of an .xls: a formula2 of 0 under every validation.
        ('type="list" operator="between"><formula1>_lists!$A$2:$A$4</formula1>', False),
        ('type="textLength" operator="lessThanOrEqual"><formula1>255</formula1>', False),
        ('type="whole" operator="greaterThanOrEqual"><formula1>0</formula1>', False),
        ('type="custom"><formula1>ISNUMBER(D5)</formula1>', False),
        # A range needs both (operator between is the default).
        ('type="whole" operator="between"><formula1>0</formula1>', True),
        ('type="date"><formula1>36526</formula1>', True),
        ('type="decimal" operator="notBetween"><formula1>0</formula1>', True),
    ],
)
def test_only_a_range_keeps_its_second_formula(validation: str, kept: bool) -> None:
    package = _sheet_with(
        f'<dataValidation sqref="D5" {validation}<formula2>0</formula2></dataValidation>'
    )
    out = feedback_package.drop_unused_second_formulas(package, feedback.FIXED_CREATED)
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
        assert zf.read("xl/styles.xml") == b"<s/>"
    assert (b"formula2" in sheet) == kept
    assert b"<formula1>" in sheet
    if kept:
        assert out == package
