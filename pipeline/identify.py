"""Who sent what: identify each file, check that its identity evidence agrees, settle resubmissions.

The specification, in Vietnamese for the specialist and with the worked cases the tests
run, is docs/dac-ta-nhan-dien.md; the user guide (docs/huong-dan-su-dung.md, "Đơn vị gửi
nhiều lần") states the same rules for users. In short:

**Identity.** A file is one of the department's templates when its hidden ``_meta`` sheet
says so (template id, version, report year). It claims to come from the unit of the hidden
unit code, or, in a blank template whose hidden code is empty, of the code typed in the
"Mã đơn vị" cell. Every piece of identity evidence the file carries is mapped to a registry
unit where it can be (:func:`identity_evidence`):

a. the hidden ``_meta`` unit code, b. the "Mã đơn vị" cell: a code match after
   :func:`pipeline.registry.normalise_code` (case and spaces do not matter);
c. the "Tên đơn vị" cell: equal, after NFC, casefolding and folding whitespace, to the name
   of exactly one unit;
d. the file name, when it starts ``<CODE>_`` as :func:`pipeline.templates.unit_file_name`
   names per-unit templates and CODE is a registry code (a renamed file says nothing);
e. the "Thư điện tử" cell, f. the mail's sender (inbox log): evidence of a unit only when
   the address is the registered address of exactly that one unit.

Evidence naming no unit, or several (a shared mailbox, two schools of the same name), is no
evidence. When the evidence names two or more different units, the file is rejected with
one ``identity-conflict`` error naming every unit and what says so: it is credited to no
unit and supersedes nothing.

**Which copy wins** (:func:`resolve_resubmissions`). Among a unit's accepted files, with
byte-identical copies read once, the kept file has

1. the latest plausible report date typed in the file ("Ngày báo cáo"); then
2. the latest submission time: the mail's time in the inbox log (received, else sent), else
   the file's modification time; and
3. when both are equal, it is a tie: the file whose path sorts last is kept, and every tied
   file gets a ``resubmission-tie`` warning asking the specialist to delete the copy that
   should not count and run again.

A report date after the run date (``report-date-future``) or outside the reporting window
of the settings (``report-date-outside-window``, :func:`report_date_problem`) is a warning
at its cell, and that date decides neither the order nor the timeliness.

**Submission time** (on time or late; ``submitted_at`` and ``submitted_at_source`` of
submissions.csv, :func:`submission_time`): the mail received time (``mail_received``),
else the mail's sent time (``mail_sent``), else the plausible report date
(``report_date``), else the file's modification time (``file_mtime``). Every one of these
times is Vietnam time without a zone (:data:`pipeline.model.VIETNAM_TZ`), whatever the
machine's time zone, so a mail time and a file time compare as the clock on the wall in
Vietnam does.

Pure functions over read submissions.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.issues import Issue, make_issue
from pipeline.model import META_SHEET, Located, RawSubmission
from pipeline.registry import Registry, email_addresses, file_name_code, normalise_code
from pipeline.schema import ReportSchema

# Kinds of identity evidence, in the order messages list them.
META = "meta"
CODE_CELL = "unit_code"
NAME_CELL = "unit_name"
FILE_NAME = "file_name"
REPORTER_EMAIL = "reporter_email"
MAIL_SENDER = "mail_sender"
EVIDENCE_ORDER = (META, CODE_CELL, NAME_CELL, FILE_NAME, REPORTER_EMAIL, MAIL_SENDER)

# Where a submission time came from (submissions.csv `submitted_at_source`).
MAIL_RECEIVED = "mail_received"
MAIL_SENT = "mail_sent"
REPORT_DATE = "report_date"
FILE_MTIME = "file_mtime"
TIME_SOURCE_LABELS = {
    MAIL_RECEIVED: "Ngày Sở nhận thư",
    MAIL_SENT: "Ngày đơn vị gửi thư",
    REPORT_DATE: "Ngày báo cáo ghi trong tệp",
    FILE_MTIME: "Ngày sửa tệp",
}


def fold_name(text: str) -> str:
    """A name as compared with the registry: NFC, casefolded, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _ddmmyyyy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class Evidence:
    """One thing a file says about who sent it, and the registry unit it names ("": none)."""

    kind: str
    value: str
    unit_code: str
    where: str = ""
    """The cell (`Thông tin chung!D7`) for evidence typed in the file."""


class IdentityIndex:
    """Registry look-ups for identity evidence, built once per run."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        names: dict[str, set[str]] = {}
        addresses: dict[str, set[str]] = {}
        file_codes: dict[str, set[str]] = {}
        for unit in registry.units.values():
            names.setdefault(fold_name(unit.name), set()).add(unit.code)
            for address in email_addresses(unit.email):
                addresses.setdefault(address, set()).add(unit.code)
            file_codes.setdefault(normalise_code(file_name_code(unit.code)), set()).add(unit.code)
        # A name, an address or a file-name code shared by several units names none of them.
        self._names = {k: next(iter(v)) for k, v in names.items() if len(v) == 1}
        self._addresses = {k: next(iter(v)) for k, v in addresses.items() if len(v) == 1}
        self._file_codes = {k: next(iter(v)) for k, v in file_codes.items() if len(v) == 1}

    def by_code(self, code: str) -> str:
        unit = self.registry.find(code)
        return unit.code if unit is not None else ""

    def by_name(self, name: str) -> str:
        return self._names.get(fold_name(name), "")

    def by_address(self, text: str) -> str:
        """The one unit whose registered address `text` holds; "" if none or several."""
        found = {self._addresses[a] for a in email_addresses(text) if a in self._addresses}
        return next(iter(found)) if len(found) == 1 else ""

    def by_file_name(self, path: str) -> str:
        """The unit of a per-unit template's file name (`<CODE>_<slug>_<year>.xlsx`)."""
        base = path.rsplit("/", 1)[-1]
        found = ""
        # Codes may contain "_" themselves: try every prefix ending before one, keep the
        # longest that is a registry code.
        for match in re.finditer("_", base):
            found = self._file_codes.get(normalise_code(base[: match.start()]), found)
        return found


def _typed_year(sub: RawSubmission, schema: ReportSchema) -> int | None:
    """The year typed in the "Năm báo cáo" cell, when it is a whole number (else None: a
    blank or unreadable cell is reported by validation, like any other)."""
    loc = sub.scalars.get("report_year")
    if loc is None or "report_year" not in schema.field_map:
        return None
    # Imported here: the parser is not needed by the reading workers that import this module.
    from pipeline.parse import parse_cell

    parsed = parse_cell(loc, schema.field_map["report_year"])
    value = parsed.value
    if parsed.problems or isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _typed(loc: Located | None) -> str:
    if loc is None or loc.value is None or isinstance(loc.value, bool):
        return ""
    value = loc.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def identity_evidence(sub: RawSubmission, index: IdentityIndex, sender: str = "") -> list[Evidence]:
    """Every piece of identity evidence `sub` carries, each with the unit it names (or "")."""
    found: list[Evidence] = []
    meta_code = sub.meta.get("unit_code", "").strip()
    if meta_code:
        found.append(Evidence(META, meta_code, index.by_code(meta_code)))
    for kind, lookup in (
        (CODE_CELL, index.by_code),
        (NAME_CELL, index.by_name),
        (REPORTER_EMAIL, index.by_address),
    ):
        loc = sub.scalars.get(kind)
        text = _typed(loc)
        if text and loc is not None:
            found.append(Evidence(kind, text, lookup(text), loc.address))
    if sub.file.path:
        found.append(Evidence(FILE_NAME, sub.file.path, index.by_file_name(sub.file.path)))
    if sender:
        found.append(Evidence(MAIL_SENDER, sender, index.by_address(sender)))
    return found


def named_units(evidence: Iterable[Evidence]) -> list[str]:
    """The registry units the evidence names, in the order first named."""
    return list(dict.fromkeys(e.unit_code for e in evidence if e.unit_code))


@dataclass(frozen=True)
class Identity:
    """The outcome of identifying one file."""

    variant: str | None
    issues: tuple[Issue, ...]
    unit_code: str = ""
    """The registry code the file is credited to ("" when rejected or unknown)."""
    evidence: tuple[Evidence, ...] = ()
    claimed: str = ""
    """The code the file claims, even when rejected: the hidden code, else the "Mã đơn vị"
    cell, in the registry's spelling when it is a registry code ("" when it claims none)."""

    @property
    def rejected(self) -> bool:
        return self.variant is None

    @property
    def units(self) -> list[str]:
        """Every registry unit the file points at: whose tracking a rejected file concerns."""
        return named_units(self.evidence)


def _describe(e: Evidence, schema: ReportSchema) -> str:
    """What one piece of evidence says, as the conflict message quotes it."""
    if e.kind == META:
        return f"mã đơn vị ẩn của biểu mẫu (trang {META_SHEET}) “{e.value}”"
    if e.kind == FILE_NAME:
        return f"tên tệp “{e.value.rsplit('/', 1)[-1]}”"
    if e.kind == MAIL_SENDER:
        return f"thư gửi từ địa chỉ “{e.value}”"
    label = schema.field_map[e.kind].label if e.kind in schema.field_map else e.kind
    return f"ô “{label}” ({e.where}) ghi “{e.value}”"


def conflict_message(evidence: Sequence[Evidence], registry: Registry, schema: ReportSchema) -> str:
    """The `identity-conflict` reason: every unit named, by code and name, and what says so."""
    parts = []
    for code in named_units(evidence):
        said = [e for e in evidence if e.unit_code == code]
        said.sort(key=lambda e: EVIDENCE_ORDER.index(e.kind))
        unit = registry.units[code]
        parts.append(f"{code} ({unit.name}) theo {', '.join(_describe(e, schema) for e in said)}")
    return (
        f"Thông tin trong tệp chỉ tới {len(parts)} đơn vị khác nhau: {'; '.join(parts)}. "
        "Tệp không được tính cho đơn vị nào. Đơn vị gửi tệp cần dùng biểu mẫu riêng của đơn vị "
        "mình (tên tệp bắt đầu bằng mã đơn vị) hoặc biểu mẫu trống của Sở, không dùng tệp của "
        "đơn vị khác; chép số liệu sang rồi gửi lại từ địa chỉ thư của đơn vị."
    )


def identify(
    sub: RawSubmission,
    registry: Registry,
    schema: ReportSchema,
    year: int,
    *,
    sender: str = "",
    index: IdentityIndex | None = None,
) -> Identity:
    """Check the metadata and identity evidence of a read file.

    A rejection carries exactly one reason issue. `sender` is the address the file was
    mailed from (inbox log), `index` the registry look-ups (built here when not given).
    """
    index = index if index is not None else IdentityIndex(registry)
    evidence = tuple(identity_evidence(sub, index, sender))
    meta = sub.meta
    claimed = meta.get("unit_code", "").strip() or _typed(sub.scalars.get("unit_code"))
    units = named_units(evidence)
    listed = index.by_code(claimed) or claimed
    if sub.rejected:
        return Identity(None, (), "", evidence, listed)
    where: dict[str, Any] = {"file": sub.file.path, "unit_code": listed}

    def reject(code: str, message: str, **extra: str) -> Identity:
        issue = make_issue(code, message, None, **{**where, **extra})
        return Identity(None, (issue,), "", evidence, listed)

    variant = schema.variant_for_template_id(meta.get("template_id", ""))
    if variant is None or meta.get("schema_id") not in (None, "", schema.id):
        return reject(
            "not-a-template",
            "Không phải biểu mẫu báo cáo Phong trào thi đua của Sở. "
            "Dùng biểu mẫu Sở gửi, điền số liệu rồi gửi lại.",
        )
    version = meta.get("template_version", "")
    if version != schema.version:
        return reject(
            "unsupported-version",
            f"Biểu mẫu phiên bản “{version or 'không rõ'}”, chương trình cần phiên bản "
            f"“{schema.version}”. Tải biểu mẫu mới của Sở, chép số liệu sang rồi gửi lại.",
        )
    file_year = meta.get("report_year", "")
    if file_year != str(year):
        return reject(
            "wrong-year",
            f"Biểu mẫu của năm {file_year or 'không rõ'}, không phải năm {year}. "
            f"Dùng biểu mẫu năm {year}.",
        )
    typed_year = _typed_year(sub, schema)
    if typed_year is not None and typed_year != year:
        year_cell = sub.scalars["report_year"]
        return reject(
            "report-year-mismatch",
            f"Ô “Năm báo cáo” ghi năm {typed_year}, nhưng tệp là biểu mẫu năm {year} và đang "
            f"tổng hợp báo cáo năm {year}. Số liệu có thể là của năm {typed_year} (chép từ báo "
            f"cáo năm trước) nên tệp không được tổng hợp. Nếu là số liệu năm {year}: sửa ô "
            f"thành {year} rồi gửi lại; nếu là số liệu năm {typed_year}: điền số liệu năm "
            f"{year} rồi gửi lại.",
            sheet=year_cell.sheet,
            cell=year_cell.cell,
            field="report_year",
            value=str(typed_year),
        )
    if len(units) > 1:
        code_cell = sub.scalars.get("unit_code")
        return reject(
            "identity-conflict",
            conflict_message(evidence, registry, schema),
            # A file claiming no code (a blank template, code left empty) is listed under the
            # first unit its evidence names, so the row is never without a unit.
            unit_code=listed or units[0],
            sheet=code_cell.sheet if code_cell is not None else "",
            cell=code_cell.cell if code_cell is not None else "",
            field="unit_code",
            value=", ".join(units),
        )
    found = registry.match(claimed)
    if found is None:
        return reject(
            "unknown-unit",
            f"Mã đơn vị “{claimed or 'để trống'}” không có trong danh mục đơn vị của Sở. "
            "Chọn đúng mã đơn vị ở ô “Mã đơn vị” (hoặc liên hệ Sở để được cấp mã).",
        )
    unit = found.unit
    code_issues: list[Issue] = []
    if not found.exact:
        loc = sub.scalars.get("unit_code")
        code_issues.append(
            make_issue(
                "unit-code-normalised",
                f"Mã đơn vị trong tệp là “{claimed}”, danh mục của Sở ghi “{unit.code}” "
                f"({unit.name}): chỉ khác chữ hoa/thường hoặc dấu cách nên vẫn được ghi nhận "
                f"cho đơn vị này. Lần sau dùng đúng mã “{unit.code}”; nếu danh mục của Sở "
                "ghi sai, báo Sở để sửa.",
                file=sub.file.path,
                unit_code=unit.code,
                sheet=loc.sheet if loc is not None else "",
                cell=loc.cell if loc is not None else "",
                field="unit_code",
                value=claimed,
            )
        )
    # The file is credited to the registry's unit under the registry's spelling (even when
    # only surrounding spaces differed), so every later stage sees one code.
    sub.meta["unit_code"] = unit.code
    where["unit_code"] = unit.code
    if unit.type not in variant.unit_types:
        expected = schema.variant_for_unit_type(unit.type)
        return reject(
            "wrong-template-for-unit",
            f"Đơn vị {unit.name} phải dùng biểu mẫu “{expected.label}”, "
            f"không phải “{variant.label}”. Tải đúng biểu mẫu rồi gửi lại.",
        )
    prefilled = {f.code for f in schema.fields if f.prefill}
    typed_any = any(
        loc.value is not None
        for k, loc in sub.scalars.items()
        if k not in prefilled and schema.field_map[k].in_variant(variant.code)
    )
    if not typed_any and not any(sub.lists.values()):
        return reject(
            "empty-template",
            "Biểu mẫu chưa có số liệu nào. Điền số liệu của đơn vị rồi gửi lại.",
        )
    issues = [
        make_issue(
            "structure-missing-name",
            f"Không tìm thấy ô “{f.label}” (tên ô “{f.code}” trong biểu mẫu đã bị xóa hoặc "
            "hỏng khi sao chép). Dùng lại biểu mẫu gốc của Sở và chép số liệu sang.",
            field=f.code,
            **where,
        )
        for f in schema.fields_for(variant.code)
        if f.code not in sub.scalars
    ]
    issues += [
        make_issue(
            "structure-missing-table",
            f"Không tìm thấy bảng “{lst.title}” (bảng tên “{lst.code}”). "
            "Dùng lại biểu mẫu gốc của Sở và chép số liệu sang.",
            field=lst.code,
            **where,
        )
        for lst in schema.lists
        if lst.code not in sub.lists
    ]
    return Identity(variant.code, tuple(code_issues + issues), unit.code, evidence)


# --------------------------------------------------------------------------- report dates


def report_date_problem(
    sub: RawSubmission, day: dt.date, window: tuple[dt.date, dt.date], today: dt.date | None
) -> Issue | None:
    """A warning at the report date's cell when the date cannot be the real one.

    Outside the window (a mistyped year, most often) is said first: such a date may also lie
    after the run date, and "a year of typing" tells the unit more than "in the future".

    `window` is the first and last report date a report of the year can bear
    (:meth:`pipeline.settings.Settings.report_window`); `today` is the run date (the CLI
    passes the real date), None to check the window only.
    """
    loc = sub.scalars.get("report_date")
    where: dict[str, Any] = {
        "file": sub.file.path,
        "unit_code": sub.unit_code,
        "sheet": loc.sheet if loc is not None else "",
        "cell": loc.cell if loc is not None else "",
        "field": "report_date",
        "value": _ddmmyyyy(day),
    }
    ignored = (
        "Chương trình không dùng ngày này: khi chọn bản gửi sau cùng, bản này được coi như "
        "không ghi ngày báo cáo; đúng hạn hay muộn xét theo thời điểm nhận thư, nếu không có "
        "thì ngày sửa tệp. Đơn vị ghi lại Ngày báo cáo là ngày ký báo cáo."
    )
    earliest, latest = window
    if not earliest <= day <= latest:
        return make_issue(
            "report-date-outside-window",
            f"Ngày báo cáo {_ddmmyyyy(day)} nằm ngoài khoảng ngày của báo cáo năm này "
            f"({_ddmmyyyy(earliest)} - {_ddmmyyyy(latest)}), có thể gõ nhầm "
            "năm. " + ignored,
            **where,
        )
    if today is not None and day > today:
        return make_issue(
            "report-date-future",
            f"Ngày báo cáo {_ddmmyyyy(day)} là ngày sau ngày tổng hợp ({_ddmmyyyy(today)}). "
            + ignored,
            **where,
        )
    return None


def submission_time(
    mail_time: dt.datetime | None,
    mail_source: str,
    report_date: dt.date | None,
    mtime: dt.datetime,
) -> tuple[dt.datetime, str]:
    """When a file was submitted, for on time or late, and where that time came from.

    `mail_source` is MAIL_RECEIVED or MAIL_SENT for a time from the inbox log;
    `report_date` must already be a plausible one (:func:`report_date_problem`).
    """
    if mail_time is not None:
        return mail_time, mail_source or MAIL_RECEIVED
    if report_date is not None:
        return dt.datetime.combine(report_date, dt.time()), REPORT_DATE
    return mtime, FILE_MTIME


# --------------------------------------------------------------------------- resubmissions


@dataclass(frozen=True)
class Resolution:
    kept: dict[str, str]
    """unit code → kept file path."""
    superseded: dict[str, str]
    """superseded file path → the file that replaces it."""
    duplicates: dict[str, str]
    """file path → an identical earlier file (same SHA-256)."""
    ties: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """file path → the other files it is tied with for first place (kept file included)."""


def resolve_resubmissions(
    subs: Sequence[RawSubmission],
    report_dates: Mapping[str, dt.date | None],
    sent_at: Mapping[str, dt.datetime],
) -> Resolution:
    """Pick one file per unit among accepted files; byte-identical copies are duplicates.

    `report_dates` holds the plausible report dates only; `sent_at` the mail time from the
    inbox log, else the file's modification time (rule 2 of the module docstring).
    """
    duplicates: dict[str, str] = {}
    first_by_hash: dict[str, str] = {}
    unique: list[RawSubmission] = []
    for sub in sorted(subs, key=lambda s: s.file.path):
        first = first_by_hash.setdefault(sub.file.sha256, sub.file.path)
        if first != sub.file.path:
            duplicates[sub.file.path] = first
        else:
            unique.append(sub)
    by_unit: dict[str, list[RawSubmission]] = {}
    for sub in unique:
        by_unit.setdefault(sub.unit_code, []).append(sub)
    kept: dict[str, str] = {}
    superseded: dict[str, str] = {}
    ties: dict[str, tuple[str, ...]] = {}

    def rank(s: RawSubmission) -> tuple[dt.date, dt.datetime]:
        return (
            report_dates.get(s.file.path) or dt.date.min,
            sent_at.get(s.file.path, s.file.mtime),
        )

    for unit, group in by_unit.items():
        # The path only makes the choice among tied files reproducible; it is not a rule.
        group.sort(key=lambda s: (rank(s), s.file.path))
        winner = group[-1]
        kept[unit] = winner.file.path
        for older in group[:-1]:
            superseded[older.file.path] = winner.file.path
        tied = [s.file.path for s in group if rank(s) == rank(winner)]
        if len(tied) > 1:
            for path in tied:
                ties[path] = tuple(p for p in tied if p != path)
    return Resolution(kept, superseded, duplicates, ties)


def supersede_message(
    old: str,
    new: str,
    report_dates: Mapping[str, dt.date | None],
    sent_at: Mapping[str, dt.datetime],
    sent_source: Mapping[str, str],
) -> str:
    """Why `old` gave way to `new`, in the terms of the rule that decided it."""
    a, b = report_dates.get(old), report_dates.get(new)
    if a != b and b is not None:
        why = (
            f"Ngày báo cáo {_ddmmyyyy(b)}, muộn hơn ngày {_ddmmyyyy(a)} của bản này"
            if a is not None
            else f"Ngày báo cáo {_ddmmyyyy(b)}, bản này không có ngày báo cáo dùng được"
        )
    else:
        label = {MAIL_RECEIVED: "nhận thư", MAIL_SENT: "gửi thư"}

        def at(path: str) -> str:
            when = sent_at[path]
            kind = label.get(sent_source.get(path, ""), "sửa tệp")
            return f"{kind} {when.strftime('%H:%M:%S %d/%m/%Y')}"

        why = f"cùng ngày báo cáo, gửi sau: {at(new)}, bản này {at(old)}"
    return f"Đã có bản gửi mới hơn: “{new}” ({why}). Bản này không được tổng hợp."


def tie_message(path: str, others: Sequence[str], kept: str) -> str:
    """The `resubmission-tie` warning: the rule could not tell these copies apart."""
    names = ", ".join(f"“{o}”" for o in others)
    choice = (
        "Chương trình tạm giữ bản này"
        if path == kept
        else f"Chương trình tạm giữ “{kept}”, bản này không được tổng hợp"
    )
    return (
        f"Bản này và {names} cùng ngày báo cáo và cùng thời điểm gửi, không biết bản nào gửi "
        f"sau. {choice}. Chuyên viên xem hai bản, xóa khỏi thư mục bản không dùng rồi chạy lại."
    )
