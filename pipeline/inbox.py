"""Mail intake: spreadsheet attachments of saved mail into the submission folder of their year.

Units email their filled templates to the department's address. The specialist saves the
mail (a folder of .eml files, an mbox export of Thunderbird or webmail, Outlook .msg files)
and runs ``python -m pipeline inbox``; every spreadsheet attachment, including those inside
.zip attachments, is written to ``<dest>/<year>/`` and every attachment, saved or not, gets
one row in that folder's mail log, :data:`INBOX_LOG_NAME`. Nothing is dropped silently: a
PDF, a broken zip, a mail that cannot be parsed each get a row with the reason.

Rules, each a decision the department can rely on:

* **Year.** A file goes to the year in its template's hidden ``_meta`` sheet
  (``report_year``); a spreadsheet without one (not a template, unreadable) goes to the
  year the mail was received, and the log says so.
* **Submission time.** The time the department's server *received* the mail: the date of
  the topmost ``Received:`` header (the last hop, added by the department's own server);
  when there is none, the ``Date:`` header (the time the sender's program sent it).
  Times are converted to Vietnam time (UTC+7), the time zone of the deadline, then kept
  without a zone. ``consolidate`` reads the log and uses this time for on time / late.
  The same file received twice counts from the first mail.
* **Names.** An attachment's name is reduced to a bare file name (no folders, so no path
  traversal), NFC, without control or reserved characters, never hidden, never starting
  like a formula, never a Windows device name, at most 150 bytes. A different file that
  arrives under a name already taken is saved as ``name (2).xlsx``; the same bytes already
  in the folder under any name are not saved again (the log points at the saved copy).
* **Sender.** The sender's address is logged. For ``consolidate`` it is identity evidence
  (an address registered for one other unit is an ``identity-conflict``, see
  :mod:`pipeline.identify`) and an address of no unit is a warning (``sender-not-registered``).

The log is a CSV (UTF-8 with BOM, opens in Excel) at the top of the year's folder. The reader
(:func:`pipeline.collect.read_all`) skips every mail log under its input, whatever the depth
(:func:`pipeline.model.is_mail_log`), so a log is never taken for a submission, and
:func:`load_mail_info` reads them all. Running ``inbox`` again on the same mail adds nothing
twice.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import io
import logging
import mailbox
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from pipeline.issues import Issue, make_issue
from pipeline.model import INBOX_LOG_NAME, VIETNAM_TZ, RawSubmission, is_mail_log
from pipeline.registry import Registry, email_addresses
from pipeline.schema import ReportSchema

log = logging.getLogger(__name__)

LOG_COLUMNS = [
    "file",
    "year",
    "unit_code",
    "sender",
    "sent_at",
    "received_at",
    "subject",
    "source",
    "message_id",
    "attachment",
    "sha256",
    "status",
    "reason",
]
SPREADSHEET_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".csv"})
MAIL_EXTENSIONS = frozenset({".eml", ".msg", ".mbox", ".mbx"})
MAX_ATTACHMENT_BYTES = 100_000_000
MAX_ZIP_MEMBERS = 500
MAX_ZIP_RATIO = 1_100
MAX_NAME_BYTES = 150
_RESERVED = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)
_FORMULA_START = ("=", "+", "-", "@")

# Status of a log row.
SAVED = "saved"
DUPLICATE = "duplicate"
SKIPPED = "skipped"
UNREADABLE = "unreadable"
STATUS_LABELS = {
    SAVED: "đã lưu",
    DUPLICATE: "trùng, không lưu lại",
    SKIPPED: "không phải bảng tính",
    UNREADABLE: "không mở được",
}


# --------------------------------------------------------------------------- names


def safe_name(name: str, default: str = "tep-dinh-kem") -> str:
    """An attachment name as a bare, harmless file name (see the module docstring)."""
    # Some mail programs store names NUL-terminated.
    name = unicodedata.normalize("NFC", (name or "").strip("\x00"))
    # Folders are dropped whichever separator the sender's system used.
    name = re.split(r"[/\\]", name)[-1]
    name = _RESERVED.sub("_", name)
    name = " ".join(name.split())
    name = name.strip(" .")
    while name.startswith(_FORMULA_START):
        name = "_" + name[1:]
    if name.startswith("_inbox"):
        name = "tep" + name
    stem, ext = os.path.splitext(name)
    if not stem:
        stem, ext = default, ext or ""
    if _WINDOWS_DEVICES.match(name):
        stem = "_" + stem
    ext = ext[:16]
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    while len(stem.encode("utf-8")) > budget:
        stem = stem[:-1]
    return unicodedata.normalize("NFC", stem.rstrip(" .") + ext) or default


def _numbered(name: str, n: int) -> str:
    stem, ext = os.path.splitext(name)
    return f"{stem} ({n}){ext}"


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """Zip tools of Vietnamese Windows often store UTF-8 names without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return name


# --------------------------------------------------------------------------- mail


@dataclass
class Attachment:
    name: str
    data: bytes | None
    problem: str = ""
    """Why the bytes could not be had (the attachment is logged as unreadable)."""
    skipped: bool = False
    """Not a spreadsheet (found inside a zip): logged, not saved."""


@dataclass
class Mail:
    """One mail, reduced to what the log needs."""

    source: str
    sender: str = ""
    subject: str = ""
    message_id: str = ""
    sent_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    attachments: list[Attachment] = field(default_factory=list)
    problem: str = ""
    """Why the mail itself could not be read (logged, nothing extracted)."""

    @property
    def submitted_at(self) -> dt.datetime | None:
        return self.received_at or self.sent_at


def _local(when: dt.datetime | None) -> dt.datetime | None:
    """Vietnam time without a zone (the deadline's time zone); naive times are taken as is."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(VIETNAM_TZ).replace(tzinfo=None)
    return when.replace(microsecond=0)


def _parse_date(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return _local(email.utils.parsedate_to_datetime(str(text).strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def received_time(headers: Sequence[str]) -> dt.datetime | None:
    """Date of the topmost Received header (the last hop: the department's server)."""
    for header in headers:
        _, sep, when = str(header).rpartition(";")
        if sep:
            parsed = _parse_date(when)
            if parsed is not None:
                return parsed
    return None


def _text(value: Any) -> str:
    text = str(value or "").replace("\x00", "")
    return unicodedata.normalize("NFC", " ".join(text.split()))


def mail_from_message(msg: Message, source: str) -> Mail:
    """A parsed message (policy.default) → Mail with its attachments."""
    mail = Mail(source=source)
    try:
        mail.sender = email.utils.parseaddr(str(msg.get("From", "")))[1].strip()
        mail.subject = _text(msg.get("Subject", ""))
        mail.message_id = _text(msg.get("Message-ID", ""))
        mail.sent_at = _parse_date(msg.get("Date"))
        mail.received_at = received_time(msg.get_all("Received") or [])
    except Exception as exc:  # a malformed header must cost this mail's header, not the run
        log.debug("bad header in %s: %r", source, exc)
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        disposition = (part.get_content_disposition() or "").lower()
        if not filename and disposition != "attachment":
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:
            mail.attachments.append(
                Attachment(str(filename or ""), None, f"không giải mã được ({exc})")
            )
            continue
        if not isinstance(payload, bytes):
            payload = b""
        mail.attachments.append(Attachment(str(filename or ""), payload))
    return mail


def _parse_bytes(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def read_eml(path: Path, source: str) -> Mail:
    try:
        return mail_from_message(_parse_bytes(path.read_bytes()), source)
    except Exception as exc:
        return Mail(source=source, problem=f"Không đọc được thư ({exc}).")


def read_mbox(path: Path, source: str) -> Iterator[Mail]:
    """Every message of an mbox file, in order; a broken message is reported, not skipped."""
    try:
        box = mailbox.mbox(path, create=False)
        keys = list(box.iterkeys())
    except Exception as exc:
        yield Mail(source=source, problem=f"Không đọc được hộp thư mbox ({exc}).")
        return
    for n, key in enumerate(keys, start=1):
        where = f"{source}#{n}"
        try:
            yield mail_from_message(_parse_bytes(box.get_bytes(key)), where)
        except Exception as exc:
            yield Mail(source=where, problem=f"Không đọc được thư thứ {n} ({exc}).")
    box.close()


def read_msg(path: Path, source: str) -> Mail:
    """An Outlook .msg file, through the extract-msg package."""
    try:
        import extract_msg
    except ImportError:  # pragma: no cover - a dependency of the project
        return Mail(
            source=source,
            problem="Chưa cài gói extract-msg nên không đọc được thư Outlook (.msg). "
            "Lưu thư dạng .eml hoặc cài lại chương trình.",
        )
    try:
        msg = extract_msg.openMsg(str(path), delayAttachments=False)
    except Exception as exc:
        return Mail(
            source=source,
            problem=f"Không đọc được thư Outlook (.msg) ({type(exc).__name__}). "
            "Mở thư trong Outlook, lưu tệp đính kèm hoặc lưu thư dạng .eml rồi chạy lại.",
        )
    try:
        return mail_from_msg_object(msg, source)
    finally:
        with contextlib.suppress(Exception):
            msg.close()


def mail_from_msg_object(msg: Any, source: str) -> Mail:
    """An extract-msg message object → Mail (attribute access kept defensive)."""
    mail = Mail(source=source)
    sender = str(getattr(msg, "sender", "") or "")
    mail.sender = email.utils.parseaddr(sender)[1] or sender.strip()
    mail.subject = _text(getattr(msg, "subject", ""))
    mail.message_id = _text(getattr(msg, "messageId", ""))
    date = getattr(msg, "date", None)
    mail.sent_at = _local(date) if isinstance(date, dt.datetime) else _parse_date(date)
    header = getattr(msg, "header", None)
    if header is not None:
        with contextlib.suppress(Exception):
            mail.received_at = received_time(header.get_all("Received") or [])
            # The transport headers, when Outlook kept them, know what the properties lack.
            mail.sent_at = mail.sent_at or _parse_date(header.get("Date"))
            mail.sender = mail.sender or email.utils.parseaddr(str(header.get("From", "")))[1]
            mail.message_id = mail.message_id or _text(header.get("Message-ID", ""))
    for att in getattr(msg, "attachments", []) or []:
        name = str(
            getattr(att, "longFilename", None)
            or getattr(att, "shortFilename", None)
            or getattr(att, "name", None)
            or ""
        )
        data = getattr(att, "data", None)
        if isinstance(data, bytes):
            mail.attachments.append(Attachment(name, data))
        else:
            mail.attachments.append(
                Attachment(name, None, "tệp đính kèm là thư lồng hoặc liên kết, không phải tệp")
            )
    return mail


def _looks_like_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def iter_mails(sources: Iterable[Path]) -> Iterator[Mail]:
    """Every mail of the given files and folders (folders recursively, in name order)."""
    for source in sources:
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            base = source
        else:
            files, base = [source], source.parent
        for path in files:
            where = unicodedata.normalize("NFC", path.relative_to(base).as_posix())
            ext = path.suffix.lower()
            if ext == ".eml":
                yield read_eml(path, where)
            elif ext == ".msg":
                yield read_msg(path, where)
            elif ext in (".mbox", ".mbx") or _looks_like_mbox(path):
                yield from read_mbox(path, where)
            else:
                yield Mail(
                    source=where,
                    problem="Không phải tệp thư (.eml, .msg, mbox); không đọc. "
                    "Lưu thư từ chương trình thư điện tử rồi chạy lại.",
                )


# --------------------------------------------------------------------------- extraction


@dataclass
class LogRow:
    file: str
    year: int
    unit_code: str
    sender: str
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    subject: str
    source: str
    message_id: str
    attachment: str
    sha256: str
    status: str
    reason: str

    def key(self) -> tuple[str, str, str]:
        """The same attachment of the same mail, whatever became of it."""
        return (self.message_id or self.source, self.attachment, self.sha256)


@dataclass
class InboxResult:
    rows: list[LogRow]
    logs: dict[int, Path]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUS_LABELS}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def _is_spreadsheet(name: str) -> bool:
    return Path(name).suffix.lower() in SPREADSHEET_EXTENSIONS


def _is_zip(name: str, data: bytes | None) -> bool:
    """A .zip attachment, or a zip without any extension (a .docx is a zip too: not that)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".zip":
        return True
    return not suffix and data is not None and data[:4] == b"PK\x03\x04"


def expand(att: Attachment) -> Iterator[Attachment]:
    """Spreadsheets inside a zip attachment (one level), each problem as its own entry."""
    data = att.data or b""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        yield Attachment(att.name, None, f"tệp nén .zip bị hỏng, không giải nén được ({exc})")
        return
    if len(members) > MAX_ZIP_MEMBERS:
        yield Attachment(att.name, None, f"tệp nén có {len(members)} tệp, quá nhiều để giải nén")
        return
    if not members:
        yield Attachment(att.name, None, "tệp nén .zip không có tệp nào")
        return
    with zf:
        for info in members:
            inner = _zip_member_name(info)
            label = f"{att.name} › {inner}"
            if not _is_spreadsheet(inner):
                yield Attachment(label, None, skipped=True)
                continue
            if info.flag_bits & 0x1:
                yield Attachment(label, None, "tệp trong .zip có mật khẩu, không giải nén được")
                continue
            if info.file_size > MAX_ATTACHMENT_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
            ):
                yield Attachment(label, None, "tệp trong .zip quá lớn (nghi tệp nén độc hại)")
                continue
            try:
                with zf.open(info) as fh:
                    content = fh.read(MAX_ATTACHMENT_BYTES + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                yield Attachment(label, None, f"không giải nén được ({exc})")
                continue
            if len(content) > MAX_ATTACHMENT_BYTES:
                yield Attachment(label, None, "tệp trong .zip quá lớn")
                continue
            yield Attachment(label, content)


def report_year_of(data: bytes, name: str, schema: ReportSchema) -> tuple[int | None, str]:
    """The template's report year and unit code from its hidden sheet, if it has them."""
    from pipeline.read import read_submission

    suffix = Path(name).suffix.lower() or ".xlsx"
    with tempfile.TemporaryDirectory(prefix="xhht-inbox-") as tmp:
        path = Path(tmp) / f"attachment{suffix}"
        path.write_bytes(data)
        sub: RawSubmission = read_submission(path, Path(tmp), schema)
    year_text = sub.meta.get("report_year", "")
    year = int(year_text) if year_text.isdigit() else None
    return year, sub.meta.get("unit_code", "")


class Inbox:
    """Writes attachments into ``dest/<year>/`` and keeps each year's log."""

    def __init__(self, dest: Path, schema: ReportSchema, default_year: int | None = None):
        self.dest = dest
        self.schema = schema
        self.default_year = default_year
        self.rows: dict[int, list[LogRow]] = {}
        self.hashes: dict[int, dict[str, str]] = {}
        self.new_rows: list[LogRow] = []

    def _year_state(self, year: int) -> tuple[list[LogRow], dict[str, str]]:
        if year not in self.rows:
            folder = self.dest / str(year)
            self.rows[year] = load_log_rows(folder / INBOX_LOG_NAME)
            hashes: dict[str, str] = {}
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.name != INBOX_LOG_NAME:
                        hashes.setdefault(_sha256(path.read_bytes()), path.name)
            self.hashes[year] = hashes
        return self.rows[year], self.hashes[year]

    def _mail_year(self, mail: Mail) -> int:
        when = mail.submitted_at
        if when is not None:
            return when.year
        return self.default_year or dt.datetime.now(VIETNAM_TZ).year

    def _add(self, year: int, row: LogRow) -> None:
        rows, _ = self._year_state(year)
        if any(r.key() == row.key() for r in rows):
            return  # the same mail processed again: already logged
        rows.append(row)
        self.new_rows.append(row)

    def _not_stored(
        self, year: int, base: dict[str, Any], attachment: str, status: str, reason: str
    ) -> None:
        """Log a mail or attachment that saved no file: it is listed, never dropped."""
        self._add(
            year,
            LogRow(
                "", year, "", **base, attachment=attachment, sha256="", status=status, reason=reason
            ),
        )

    def take(self, mail: Mail) -> None:
        base: dict[str, Any] = {
            "sender": mail.sender,
            "sent_at": mail.sent_at,
            "received_at": mail.received_at,
            "subject": mail.subject,
            "source": mail.source,
            "message_id": mail.message_id,
        }
        mail_year = self._mail_year(mail)
        if mail.problem:
            self._not_stored(mail_year, base, "", UNREADABLE, mail.problem)
            return
        if not mail.attachments:
            self._not_stored(mail_year, base, "", SKIPPED, "Thư không có tệp đính kèm.")
            return
        for att in mail.attachments:
            items = expand(att) if att.data and _is_zip(att.name, att.data) else [att]
            for item in items:
                self._one(item, mail, mail_year, base)

    def _one(self, att: Attachment, mail: Mail, mail_year: int, base: dict[str, Any]) -> None:
        name = safe_name(att.name.rpartition(" › ")[2])
        if att.skipped or (att.data is not None and not att.problem and not _is_spreadsheet(name)):
            self._not_stored(
                mail_year,
                base,
                att.name,
                SKIPPED,
                "Không phải bảng tính (Excel/LibreOffice); không đưa vào tổng hợp.",
            )
            return
        if att.problem or att.data is None:
            self._not_stored(
                mail_year, base, att.name, UNREADABLE, f"Không lấy được tệp: {att.problem}."
            )
            return
        data = att.data
        digest = _sha256(data)
        year, unit_code = report_year_of(data, name, self.schema)
        notes = []
        if year is None:
            year = mail_year
            notes.append(f"Không đọc được năm báo cáo trong tệp; xếp vào năm nhận thư ({year}).")
        elif year != mail_year:
            notes.append(f"Biểu mẫu năm {year}, thư nhận năm {mail_year}.")
        _rows, hashes = self._year_state(year)
        folder = self.dest / str(year)
        if digest in hashes:
            existing = hashes[digest]
            self._add(
                year,
                LogRow(
                    existing,
                    year,
                    unit_code,
                    **base,
                    attachment=att.name,
                    sha256=digest,
                    status=DUPLICATE,
                    reason=" ".join([f"Trùng hệt tệp đã lưu “{existing}”.", *notes]),
                ),
            )
            return
        folder.mkdir(parents=True, exist_ok=True)
        target, n = name, 1
        while (folder / target).exists():
            n += 1
            target = _numbered(name, n)
        _write_new(folder / target, data)
        hashes[digest] = target
        reason = " ".join(
            [*(["Tên tệp trùng tệp khác đã có, lưu thành tên mới."] if n > 1 else []), *notes]
        )
        self._add(
            year,
            LogRow(
                target,
                year,
                unit_code,
                **base,
                attachment=att.name,
                sha256=digest,
                status=SAVED,
                reason=reason,
            ),
        )

    def write_logs(self) -> dict[int, Path]:
        written = {}
        for year, rows in sorted(self.rows.items()):
            path = self.dest / str(year) / INBOX_LOG_NAME
            write_log(rows, path)
            written[year] = path
        return written


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data`; never replaces an existing file; with the user's umask."""
    # Imported here: pipeline.export imports pipeline.run, which imports this module.
    from pipeline.export import create_new

    with os.fdopen(create_new(path), "wb") as fh:
        fh.write(data)


def run_inbox(
    sources: Sequence[Path],
    dest: Path,
    schema: ReportSchema,
    default_year: int | None = None,
) -> InboxResult:
    """Take every mail of `sources` into `dest/<year>/`; return the new log rows."""
    box = Inbox(dest, schema, default_year)
    for mail in iter_mails(sources):
        box.take(mail)
    logs = box.write_logs()
    return InboxResult(box.new_rows, logs)


# --------------------------------------------------------------------------- the log


def write_log(rows: Sequence[LogRow], path: Path) -> None:
    import pandas as pd

    # Imported here: pipeline.export imports pipeline.run, which imports this module.
    from pipeline.export import write_csv

    ordered = sorted(
        rows, key=lambda r: (r.received_at or r.sent_at or dt.datetime.min, r.source, r.attachment)
    )
    frame = pd.DataFrame([r.__dict__ for r in ordered], columns=LOG_COLUMNS)
    write_csv(frame, path)


def _when(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def load_log_rows(path: Path) -> list[LogRow]:
    """The rows of a mail log: the exact inverse of :func:`write_log`.

    The log is written like every CSV export, its texts made inert for Excel
    (:func:`pipeline.export.inert`, :func:`pipeline.export.csv_field`);
    :func:`pipeline.export.plain_text` takes those apostrophes away again, so a subject
    like “a;-b” is the same after any number of ``inbox`` runs rewriting the log.
    """
    from pipeline.export import plain_text

    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = []
        for rec in csv.DictReader(fh):
            rec = {k: plain_text(v or "") for k, v in rec.items() if k}
            rows.append(
                LogRow(
                    file=rec.get("file", ""),
                    year=int(rec["year"]) if rec.get("year", "").isdigit() else 0,
                    unit_code=rec.get("unit_code", ""),
                    sender=rec.get("sender", ""),
                    sent_at=_when(rec.get("sent_at", "")),
                    received_at=_when(rec.get("received_at", "")),
                    subject=rec.get("subject", ""),
                    source=rec.get("source", ""),
                    message_id=rec.get("message_id", ""),
                    attachment=rec.get("attachment", ""),
                    sha256=rec.get("sha256", ""),
                    status=rec.get("status", ""),
                    reason=rec.get("reason", ""),
                )
            )
    return rows


@dataclass(frozen=True)
class MailInfo:
    """What consolidate takes from the mail logs: per file, when it arrived and from whom.

    Keys are file paths relative to the input folder, as :func:`pipeline.read.scan_inputs`
    names them; `sources` says whether the time is the time received (``mail_received``)
    or, for a mail without a ``Received:`` header, the time sent (``mail_sent``).
    """

    times: dict[str, dt.datetime]
    senders: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)


def mail_logs(input_dir: Path) -> list[Path]:
    """Every mail log under `input_dir`, at any depth (``inbox`` keeps one per year folder)."""
    return sorted(p for p in input_dir.rglob(INBOX_LOG_NAME) if is_mail_log(p))


def load_mail_info(input_dir: Path, files: Mapping[str, str] | None = None) -> MailInfo:
    """Per saved file under the folder: the first mail's time received (else sent), sender.

    Every log under `input_dir` is read: ``inbox --dest submissions`` writes
    ``submissions/<year>/_inbox_log.csv`` and the user may point consolidate at
    ``submissions`` or at ``submissions/<year>``. A log names files relative to its own
    folder; they are mapped to paths relative to `input_dir`.

    `files` (path relative to `input_dir` → SHA-256 of the file as read) are the files the
    run found. Given them, a file's mail is looked up by its content first, so a saved
    attachment the user moved or renamed keeps its mail's time; by its name only when no
    log row has its content, and not when the content the log recorded under that name now
    lies in another file (the name went with it). The result is keyed by those paths.
    Without `files`, by the names in the logs (and logs written before the ``sha256``
    column, or with it empty, are only ever matched by name).
    """
    by_name: dict[str, _Mail] = {}
    by_hash: dict[str, _Mail] = {}
    hashes_of_name: dict[str, set[str]] = {}
    for log_path in mail_logs(input_dir):
        folder = log_path.parent.relative_to(input_dir).as_posix()
        prefix = "" if folder == "." else unicodedata.normalize("NFC", folder) + "/"
        for row in load_log_rows(log_path):
            if row.status not in (SAVED, DUPLICATE) or not row.file:
                continue
            when = row.received_at or row.sent_at
            if when is None:
                continue
            mail = _Mail(when, row.sender, "mail_received" if row.received_at else "mail_sent")
            path = prefix + unicodedata.normalize("NFC", row.file)
            _keep_first(by_name, path, mail)
            digest = row.sha256.strip().lower()
            if digest:
                _keep_first(by_hash, digest, mail)
                hashes_of_name.setdefault(path, set()).add(digest)
    if files is None:
        found = by_name
    else:
        present = set(files.values())
        found = {}
        for path, digest in files.items():
            mail_of = by_hash.get(digest) if digest else None
            moved = any(h != digest and h in present for h in hashes_of_name.get(path, ()))
            if mail_of is None and not moved:
                mail_of = by_name.get(path)
            if mail_of is not None:
                found[path] = mail_of
    return MailInfo(
        {p: m.when for p, m in found.items()},
        {p: m.sender for p, m in found.items()},
        {p: m.source for p, m in found.items()},
    )


@dataclass(frozen=True)
class _Mail:
    when: dt.datetime
    sender: str
    source: str


def _keep_first(found: dict[str, _Mail], key: str, mail: _Mail) -> None:
    """The same file received twice counts from the first mail."""
    if key not in found or mail.when < found[key].when:
        found[key] = mail


# --------------------------------------------------------------------------- sender check


def sender_issues(
    subs: Iterable[RawSubmission], registry: Registry, senders: Mapping[str, str]
) -> list[Issue]:
    """A warning for each file mailed from an address other than its unit's registered one.

    An address registered for another single unit never gets here: that file is an
    ``identity-conflict`` (:mod:`pipeline.identify`); this is for addresses of no unit (a
    personal mailbox) or of several.
    """
    issues = []
    for sub in subs:
        sender = senders.get(sub.file.path, "")
        unit = registry.units.get(sub.unit_code)
        if not sender or unit is None:
            continue
        registered = email_addresses(unit.email)
        if not registered or sender.casefold() in registered:
            continue
        issues.append(
            make_issue(
                "sender-not-registered",
                f"Tệp được gửi từ địa chỉ “{sender}”, không phải địa chỉ thư của {unit.name} "
                f"trong danh mục của Sở ({unit.email}). Sở xác minh với đơn vị; nếu đơn vị "
                "đổi địa chỉ thư, cập nhật danh mục đơn vị.",
                file=sub.file.path,
                unit_code=sub.unit_code,
                value=sender,
            )
        )
    return issues
