"""Mail intake: saved mail → spreadsheet attachments in the year's folder, a log, mail times.

Mails are built in code (``email.message.EmailMessage``) around the committed 2025 sample
submissions, written as .eml files or an mbox, and taken through ``pipeline inbox`` and
then ``consolidate``: on time / late must follow the mail's received time, not the date
typed in the file.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import mailbox
import os
import stat
import zipfile
from pathlib import Path
from types import SimpleNamespace

import hypothesis
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.collect import read_all
from pipeline.inbox import (
    DUPLICATE,
    INBOX_LOG_NAME,
    SAVED,
    SKIPPED,
    UNREADABLE,
    LogRow,
    load_log_rows,
    load_mail_info,
    received_time,
    run_inbox,
    safe_name,
    write_log,
)
from pipeline.registry import Registry
from pipeline.run import consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "2025"
DEPARTMENT = "xhht@sgddt.mau.gov.vn"
ICT = dt.timezone(dt.timedelta(hours=7))


def sample(code: str) -> tuple[str, bytes]:
    """The committed 2025 sample file of a unit (the main one, not a resubmission)."""
    path = next(p for p in sorted(SAMPLES.glob(f"{code}_*_2025.xlsx")))
    return path.name, path.read_bytes()


def make_mail(
    sender: str,
    subject: str,
    attachments: list[tuple[str, bytes]],
    *,
    sent: dt.datetime | None,
    received: dt.datetime | None = None,
    n: int = 1,
) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = f"Văn thư <{sender}>"
    msg["To"] = DEPARTMENT
    msg["Subject"] = subject
    msg["Message-ID"] = f"<mail-{n}@test.example>"
    if received is not None:
        # Each server adds its Received header on top: the department's is first.
        stamp = email.utils.format_datetime(received)
        msg["Received"] = f"from mx.relay.example by mail.sgddt.mau.gov.vn; {stamp}"
        msg["Received"] = "from pc.unit.example by mx.relay.example; Mon, 1 Dec 2025 07:00:00 +0700"
    if sent is not None:
        msg["Date"] = email.utils.format_datetime(sent)
    msg.set_content("Kính gửi Sở GDĐT, đơn vị gửi báo cáo kèm theo.")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def when(day: int, hour: int = 9, minute: int = 0, tz: dt.tzinfo = ICT) -> dt.datetime:
    return dt.datetime(2025, 12, day, hour, minute, tzinfo=tz)


@pytest.fixture(scope="module")
def mailbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of .eml files: a December 2025 season of the department's mailbox."""
    folder = tmp_path_factory.mktemp("mail")
    q01 = sample("PGD-Q01")  # mailed on 3 December
    h01 = sample("PGD-H01")
    h03 = sample("PGD-H03")
    h06 = sample("PGD-H06")
    ptnch = sample("PTNCH-02")
    thpt = sample("THPT-H01-02")
    mails = {
        "01-q01.eml": make_mail(
            "pgd.q01@gddt.mau.gov.vn", "Báo cáo XHHT 2025", [q01], sent=when(3), received=when(3)
        ),
        # 18:30 UTC on 5 December is 01:30 on 6 December in Vietnam: late.
        "02-h01.eml": make_mail(
            "PGD.H01@gddt.mau.gov.vn",
            "Báo cáo XHHT 2025 - huyện An Phước",
            [h01],
            sent=when(5, 18, 20, dt.UTC),
            received=when(5, 18, 30, dt.UTC),
            n=2,
        ),
        # No Received header: the Date header decides (6 December: late).
        "03-h03.eml": make_mail(
            "pgd.h03@gddt.mau.gov.vn", "Báo cáo năm 2025", [h03], sent=when(6, 8), n=3
        ),
        # On time, but from a personal address.
        "04-h06.eml": make_mail(
            "hieutruong.canhan@gmail.com",
            "Fwd: báo cáo",
            [h06],
            sent=when(4),
            received=when(4),
            n=4,
        ),
        # A zip with the report, its signed PDF and a note.
        "05-ptnch.eml": make_mail(
            "ptnch02@gddt.mau.gov.vn",
            "Báo cáo (nén)",
            [
                (
                    "bao-cao.zip",
                    zipped([ptnch, ("cong-van.pdf", b"%PDF-1.4 ..."), ("ghi-chu.txt", b"x")]),
                )
            ],
            sent=when(1),
            received=when(1),
            n=5,
        ),
        # A hostile name and a PDF beside it.
        "06-thpt.eml": make_mail(
            "thpt.nguyenthuonghien@gddt.mau.gov.vn",
            "Báo cáo",
            [("../../../etc/Báo cáo THPT.xlsx", thpt[1]), ("cong-van.pdf", b"%PDF-1.4")],
            sent=when(2),
            received=when(2),
            n=6,
        ),
        # A broken zip and a mail with nothing attached.
        "07-broken.eml": make_mail(
            "pgd.q02@gddt.mau.gov.vn",
            "Báo cáo",
            [("bao-cao.zip", b"PK\x03\x04 not really a zip")],
            sent=when(2),
            received=when(2),
            n=7,
        ),
        "08-empty.eml": make_mail(
            "pgd.q03@gddt.mau.gov.vn", "Xin gia hạn", [], sent=when(2), received=when(2), n=8
        ),
        "09-notes.txt": b"not a mail",
    }
    for name, data in mails.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def taken(mailbox_dir: Path, schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("submissions")
    run_inbox([mailbox_dir], dest, schemas.report, default_year=2025)
    return dest


def log_of(dest: Path, year: int = 2025) -> pd.DataFrame:
    return pd.DataFrame([r.__dict__ for r in load_log_rows(dest / str(year) / INBOX_LOG_NAME)])


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.xlsx", "passwd.xlsx"),
        ("..\\..\\Windows\\bao-cao.xlsx", "bao-cao.xlsx"),
        ("/etc/cron.d/x.xlsx", "x.xlsx"),
        ("..", "tep-dinh-kem"),
        ("", "tep-dinh-kem"),
        (".hidden.xlsx", "hidden.xlsx"),
        ("=HYPERLINK(1).xlsx", "_HYPERLINK(1).xlsx"),
        ("-2+3.xlsx", "_2+3.xlsx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("_inbox_log.csv", "tep_inbox_log.csv"),
        ("bao\x00cao\r\n.xlsx", "bao_cao__.xlsx"),
        ("Ba\u0301o ca\u0301o.xlsx", "Báo cáo.xlsx"),
    ],
)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_is_short_and_keeps_the_extension() -> None:
    name = safe_name("Báo cáo " * 60 + ".xlsx")
    assert name.endswith(".xlsx") and len(name.encode("utf-8")) <= 150


# --------------------------------------------------------------------------- dates


def test_received_time_is_the_topmost_header_in_vietnam_time() -> None:
    headers = [
        "from a by mail.sgddt; Fri, 5 Dec 2025 18:30:00 +0000",
        "from b by a; Fri, 5 Dec 2025 10:00:00 +0700",
    ]
    assert received_time(headers) == dt.datetime(2025, 12, 6, 1, 30)
    assert received_time(["garbage", "from b by a; Fri, 5 Dec 2025 10:00:00 +0700"]) == (
        dt.datetime(2025, 12, 5, 10, 0)
    )
    assert received_time([]) is None


# --------------------------------------------------------------------------- extraction


def test_spreadsheets_land_in_the_year_folder(taken: Path) -> None:
    folder = taken / "2025"
    saved = sorted(p.name for p in folder.iterdir() if p.name != INBOX_LOG_NAME)
    assert saved == sorted(
        [
            sample("PGD-Q01")[0],
            sample("PGD-H01")[0],
            sample("PGD-H03")[0],
            sample("PGD-H06")[0],
            sample("PTNCH-02")[0],
            "Báo cáo THPT.xlsx",
        ]
    )
    # Nothing was written outside the destination (path traversal).
    assert [p.relative_to(taken).parts[0] for p in taken.rglob("*")] == ["2025"] * (
        len(list(taken.rglob("*")))
    )
    assert (folder / sample("PTNCH-02")[0]).read_bytes() == sample("PTNCH-02")[1]


def test_log_records_sender_dates_subject(taken: Path) -> None:
    log = log_of(taken)
    row = log[log["file"] == sample("PGD-H01")[0]].iloc[0]
    assert row["sender"] == "PGD.H01@gddt.mau.gov.vn"
    assert row["subject"] == "Báo cáo XHHT 2025 - huyện An Phước"
    assert row["sent_at"] == dt.datetime(2025, 12, 6, 1, 20)
    assert row["received_at"] == dt.datetime(2025, 12, 6, 1, 30)
    assert row["source"] == "02-h01.eml"
    assert row["status"] == SAVED and row["unit_code"] == "PGD-H01"
    no_received = log[log["file"] == sample("PGD-H03")[0]].iloc[0]
    assert pd.isna(no_received["received_at"])
    assert no_received["sent_at"] == dt.datetime(2025, 12, 6, 8, 0)


def test_nothing_is_dropped(taken: Path) -> None:
    """Every attachment, every mail without one and every non-mail file has a row."""
    log = log_of(taken)
    by_source = log.groupby("source")["status"].apply(sorted).to_dict()
    assert by_source["05-ptnch.eml"] == [SAVED, SKIPPED, SKIPPED]
    assert by_source["06-thpt.eml"] == [SAVED, SKIPPED]
    assert by_source["07-broken.eml"] == [UNREADABLE]
    assert by_source["08-empty.eml"] == [SKIPPED]
    assert by_source["09-notes.txt"] == [UNREADABLE]
    zipped_pdf = log[log["attachment"] == "bao-cao.zip › cong-van.pdf"]
    assert len(zipped_pdf) == 1 and "Không phải bảng tính" in zipped_pdf.iloc[0]["reason"]
    assert "bị hỏng" in log[log["source"] == "07-broken.eml"].iloc[0]["reason"]
    traversal = log[log["attachment"] == "../../../etc/Báo cáo THPT.xlsx"].iloc[0]
    assert traversal["file"] == "Báo cáo THPT.xlsx"


def test_rerun_adds_nothing(mailbox_dir: Path, taken: Path, schemas: Schemas) -> None:
    before = sorted(p.name for p in (taken / "2025").iterdir())
    rows = len(log_of(taken))
    again = run_inbox([mailbox_dir], taken, schemas.report, default_year=2025)
    assert again.rows == []
    assert sorted(p.name for p in (taken / "2025").iterdir()) == before
    assert len(log_of(taken)) == rows


def test_same_name_other_content_is_never_overwritten(schemas: Schemas, tmp_path: Path) -> None:
    first, second = sample("PGD-Q05")[1], sample("PGD-Q06")[1]
    mails = tmp_path / "mail"
    mails.mkdir()
    for n, data in enumerate([first, second, first], start=1):
        (mails / f"{n}.eml").write_bytes(
            make_mail("x@y.vn", "Báo cáo", [("bao-cao.xlsx", data)], sent=when(n), n=n)
        )
    dest = tmp_path / "dest"
    run_inbox([mails], dest, schemas.report)
    folder = dest / "2025"
    assert (folder / "bao-cao.xlsx").read_bytes() == first
    assert (folder / "bao-cao (2).xlsx").read_bytes() == second
    log = log_of(dest)
    assert list(log["status"]) == [SAVED, SAVED, DUPLICATE]
    assert list(log["file"]) == ["bao-cao.xlsx", "bao-cao (2).xlsx", "bao-cao.xlsx"]
    # The same file mailed twice counts from its first mail.
    assert load_mail_info(folder).times["bao-cao.xlsx"] == dt.datetime(2025, 12, 1, 9, 0)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_saved_files_follow_the_users_umask(
    schemas: Schemas, tmp_path: Path, umask: int, mode: int
) -> None:
    """Issue 15.4: what the program writes is as readable as what the user saves, so a
    colleague of the group (umask 002) can open the attachments and the log too."""
    (tmp_path / "m.eml").write_bytes(
        make_mail("pgd.q05@gddt.mau.gov.vn", "Báo cáo", [sample("PGD-Q05")], sent=when(1))
    )
    before = os.umask(umask)
    try:
        run_inbox([tmp_path / "m.eml"], tmp_path / "dest", schemas.report)
    finally:
        os.umask(before)
    folder = tmp_path / "dest" / "2025"
    written = sorted(folder.iterdir())
    assert [p.name for p in written] == sorted([sample("PGD-Q05")[0], INBOX_LOG_NAME])
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {mode}


TRICKY_SUBJECTS = [
    "a;-b",
    "=SUM(1+1)",
    "'=đã có dấu nháy",
    "Báo cáo, -4",
    "-4",
    "+84 912 345 678",
    "Ghi chú,@cmd",
    'a; "=1"',
    "''",
]


def test_rewriting_the_log_changes_no_text(schemas: Schemas, tmp_path: Path) -> None:
    """Each run of `inbox` reads the log and writes it again: a subject stays as it was sent,
    not one apostrophe longer per run (“a;-b” became “a;'-b”, then “a;''-b”…)."""
    mails = tmp_path / "mail"
    mails.mkdir()
    for n, subject in enumerate(TRICKY_SUBJECTS, start=1):
        (mails / f"{n}.eml").write_bytes(make_mail("x@y.vn", subject, [], sent=when(1), n=n))
    dest = tmp_path / "dest"
    for _ in range(3):
        run_inbox([mails], dest, schemas.report)
        assert sorted(log_of(dest)["subject"]) == sorted(TRICKY_SUBJECTS)


_TEXT = st.one_of(
    st.text(alphabet=",;\t\r\n\" =+-@'a1.%", max_size=16),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=16,
    ),
)
_WHEN = st.one_of(
    st.none(),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    texts=st.lists(_TEXT, min_size=10, max_size=10),
    year=st.integers(min_value=1900, max_value=2100),
    sent=_WHEN,
    received=_WHEN,
)
def test_the_log_reads_back_exactly_what_was_written(
    tmp_path_factory: pytest.TempPathFactory,
    texts: list[str],
    year: int,
    sent: dt.datetime | None,
    received: dt.datetime | None,
) -> None:
    """load_log_rows is the inverse of write_log, whatever the texts hold (separators of
    every Excel locale, formula characters, apostrophes, quotes, line breaks)."""
    file, unit, sender, subject, source, message_id, attachment, sha, status, reason = texts
    row = LogRow(
        file, year, unit, sender, sent, received, subject, source, message_id, attachment, sha,
        status, reason,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("log") / INBOX_LOG_NAME
    write_log([row], path)
    assert load_log_rows(path) == [row]


def test_routed_by_the_template_year(schemas: Schemas, tmp_path: Path) -> None:
    """A 2024 template mailed in 2025 goes to 2024; a non-template to the mail's year."""
    old = next((ROOT / "samples" / "2024").glob("PGD-H01_*_2024.xlsx")).read_bytes()
    plain = (SAMPLES / "bang-tong-hop-rieng.xlsx").read_bytes()
    (tmp_path / "m.eml").write_bytes(
        make_mail(
            "pgd.h01@gddt.mau.gov.vn",
            "Báo cáo",
            [("cu.xlsx", old), ("rieng.xlsx", plain), ("hong.xlsx", b"PK\x03\x04garbage")],
            sent=when(1),
        )
    )
    dest = tmp_path / "dest"
    run_inbox([tmp_path / "m.eml"], dest, schemas.report)
    assert (dest / "2024" / "cu.xlsx").is_file()
    assert (dest / "2025" / "rieng.xlsx").is_file() and (dest / "2025" / "hong.xlsx").is_file()
    log_2024 = log_of(dest, 2024)
    assert "Biểu mẫu năm 2024, thư nhận năm 2025" in log_2024.iloc[0]["reason"]
    log_2025 = log_of(dest, 2025)
    assert all("xếp vào năm nhận thư (2025)" in r for r in log_2025["reason"])


def test_mbox_export(schemas: Schemas, tmp_path: Path) -> None:
    box_path = tmp_path / "Inbox.mbox"
    box = mailbox.mbox(box_path)
    for n, code in enumerate(["PGD-Q05", "PGD-Q06"], start=1):
        box.add(make_mail(f"{code.lower()}@x.vn", "Báo cáo", [sample(code)], sent=when(n), n=n))
    box.close()
    dest = tmp_path / "dest"
    result = run_inbox([box_path], dest, schemas.report)
    assert [r.status for r in result.rows] == [SAVED, SAVED]
    assert [r.source for r in result.rows] == ["Inbox.mbox#1", "Inbox.mbox#2"]


# --------------------------------------------------------------------------- Outlook .msg


def test_broken_msg_is_reported(schemas: Schemas, tmp_path: Path) -> None:
    (tmp_path / "bao-cao.msg").write_bytes(b"\xd0\xcf\x11\xe0 not an Outlook message")
    result = run_inbox([tmp_path / "bao-cao.msg"], tmp_path / "dest", schemas.report, 2025)
    assert [r.status for r in result.rows] == [UNREADABLE]
    assert "Outlook" in result.rows[0].reason
    assert (tmp_path / "dest" / "2025" / INBOX_LOG_NAME).is_file()


def write_msg(path: Path, headers: str, subject: str, attachments: list[tuple[str, bytes]]) -> None:
    """A minimal Outlook .msg (MS-OXMSG: an OLE file of property streams), via extract-msg."""
    import struct

    from extract_msg.ole_writer import OleWriter

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le") + b"\x00\x00"  # Outlook writes them NUL-terminated

    def variable(tag: int, size: int) -> bytes:
        return struct.pack("<IIII", tag, 0x6, size, 0)

    streams = {
        "__substg1.0_001A001F": utf16("IPM.Note"),
        "__substg1.0_0037001F": utf16(subject),
        "__substg1.0_007D001F": utf16(headers),
    }
    writer = OleWriter()
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    props = struct.pack("<8sIIII8s", b"", 0, len(attachments), 0, len(attachments), b"")
    for name, data in streams.items():
        writer.addEntry(name, data)
        props += variable(int(name[-8:], 16), len(data))
    writer.addEntry("__properties_version1.0", props)
    for n, (name, data) in enumerate(attachments):
        storage = f"__attach_version1.0_#{n:08X}"
        writer.addEntry(storage, storage=True)
        filename = utf16(name)
        writer.addEntry(f"{storage}/__substg1.0_3707001F", filename)
        writer.addEntry(f"{storage}/__substg1.0_37010102", data)
        attach_props = b"\x00" * 8 + variable(0x3707001F, len(filename))
        attach_props += variable(0x37010102, len(data))
        attach_props += struct.pack("<IIII", 0x37050003, 0x6, 1, 0)  # attached by value
        writer.addEntry(f"{storage}/__properties_version1.0", attach_props)
    writer.write(str(path))


def test_outlook_msg_file(schemas: Schemas, tmp_path: Path) -> None:
    """A real .msg file (built in the test): attachment, sender and Received time."""
    name, data = sample("PGD-Q06")
    headers = (
        "Received: from mx by mail.sgddt.mau.gov.vn; Fri, 5 Dec 2025 16:45:00 +0700\r\n"
        "From: =?utf-8?b?UGjDsm5nIEdEREQ=?= <pgd.q06@gddt.mau.gov.vn>\r\n"
        "To: xhht@sgddt.mau.gov.vn\r\nSubject: =?utf-8?q?B=C3=A1o_c=C3=A1o?=\r\n"
        "Date: Fri, 5 Dec 2025 16:44:10 +0700\r\nMessage-ID: <outlook-1@x>\r\n\r\n"
    )
    write_msg(tmp_path / "thu.msg", headers, "Báo cáo năm 2025", [(name, data)])
    result = run_inbox([tmp_path / "thu.msg"], tmp_path / "dest", schemas.report)
    assert [r.status for r in result.rows] == [SAVED]
    row = result.rows[0]
    assert row.file == name and row.unit_code == "PGD-Q06"
    assert row.sender == "pgd.q06@gddt.mau.gov.vn" and row.subject == "Báo cáo năm 2025"
    assert row.sent_at == dt.datetime(2025, 12, 5, 16, 44, 10)
    assert row.received_at == dt.datetime(2025, 12, 5, 16, 45)
    assert (tmp_path / "dest" / "2025" / name).read_bytes() == data


def test_msg_attachments(schemas: Schemas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What extract-msg returns for a message is mapped like an .eml (object stubbed)."""
    import extract_msg

    name, data = sample("PGD-Q05")
    header = email.message_from_string(
        "Received: from a by mail.sgddt; Thu, 4 Dec 2025 08:00:00 +0700\n\n"
    )
    fake = SimpleNamespace(
        sender="Phòng GDĐT <pgd.q05@gddt.mau.gov.vn>",
        subject="Báo cáo 2025",
        messageId="<m@x>",
        date=dt.datetime(2025, 12, 4, 7, 59, tzinfo=ICT),
        header=header,
        attachments=[
            SimpleNamespace(longFilename=name, data=data),
            SimpleNamespace(longFilename="thu-chuyen-tiep.msg", data=None),
        ],
        close=lambda: None,
    )
    monkeypatch.setattr(extract_msg, "openMsg", lambda *a, **k: fake)
    (tmp_path / "x.msg").write_bytes(b"")
    result = run_inbox([tmp_path / "x.msg"], tmp_path / "dest", schemas.report)
    assert [r.status for r in result.rows] == [SAVED, UNREADABLE]
    saved = result.rows[0]
    assert saved.sender == "pgd.q05@gddt.mau.gov.vn" and saved.unit_code == "PGD-Q05"
    assert saved.received_at == dt.datetime(2025, 12, 4, 8, 0)
    assert (tmp_path / "dest" / "2025" / name).read_bytes() == data


# --------------------------------------------------------------------------- consolidate


def test_consolidate_uses_mail_times_and_checks_senders(
    taken: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    folder = taken / "2025"
    raws = read_all(folder, schemas, workers=1)
    assert INBOX_LOG_NAME not in {r.file.path for r in raws}
    mail = load_mail_info(folder)
    result = consolidate(
        raws,
        2025,
        schemas,
        registry,
        settings,
        mail_times=mail.times,
        mail_senders=mail.senders,
    )
    status = result.tracking.set_index("unit_code")["status"]
    assert status["PGD-Q01"] == "on_time"  # mailed on 3/12
    assert status["PGD-H01"] == "late"  # received 01:30 on 6/12, Vietnam time
    assert status["PGD-H03"] == "late"  # sent 6/12, no Received header
    assert status["PGD-H06"] == "on_time"
    assert status["PTNCH-02"] == "on_time"
    assert status["THPT-H01-02"] == "on_time"
    warned = [i for i in result.issues if i.code == "sender-not-registered"]
    assert [(i.unit_code, i.value) for i in warned] == [("PGD-H06", "hieutruong.canhan@gmail.com")]
    assert "pgd.h06@gddt.mau.gov.vn" in warned[0].message
    # Case does not matter: PGD.H01@… is PGD-H01's registered address.
    subs = result.submissions.set_index("unit_code")
    assert subs.loc["PGD-H06", "status"] == "accepted_with_warnings"
    assert subs.loc["PGD-H01", "submitted_at"] == dt.datetime(2025, 12, 6, 1, 30)


def test_inbox_then_consolidate_cli(mailbox_dir: Path, tmp_path: Path) -> None:
    """The done-condition: a mailbox export through `inbox`, then `consolidate`."""
    runner = CliRunner()
    dest, out = tmp_path / "submissions", tmp_path / "output"
    res = runner.invoke(main, ["inbox", str(mailbox_dir), "--dest", str(dest), "--year", "2025"])
    assert res.exit_code == 0, res.output
    assert "lưu 6 tệp" in res.output
    res = runner.invoke(
        main,
        [
            "consolidate",
            "--year",
            "2025",
            "--input",
            str(dest / "2025"),
            "--output",
            str(out),
            "-q",
            "--workers",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    tracking = pd.read_csv(out / "2025" / "data" / "tracking.csv", encoding="utf-8-sig")
    late = set(tracking.loc[tracking["status"] == "late", "unit_code"])
    on_time = set(tracking.loc[tracking["status"] == "on_time", "unit_code"])
    assert late == {"PGD-H01", "PGD-H03"}
    assert on_time == {"PGD-Q01", "PGD-H06", "PTNCH-02", "THPT-H01-02"}
    submissions = pd.read_csv(out / "2025" / "submissions.csv", encoding="utf-8-sig")
    assert INBOX_LOG_NAME not in set(submissions["file"])
    assert len(submissions) == 6
    issues = pd.read_csv(out / "2025" / "issues.csv", encoding="utf-8-sig")
    assert "sender-not-registered" in set(issues["code"])
