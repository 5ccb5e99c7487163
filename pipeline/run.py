"""Wires the stages: read → identify → validate → evaluate → aggregate.

This is the one module that knows the order of the stages. Reading is a per-file map that
runs in a process pool; everything after it works on combined frames. Rendering lives in
pipeline.export and pipeline.report; this module returns a :class:`RunResult` they consume.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from pipeline import aggregate as agg
from pipeline.changes import resubmission_changes
from pipeline.evaluate import evaluate_criteria, evaluate_learning_unit, unit_frame
from pipeline.history import Previous, reporter_changes, unit_changes
from pipeline.identify import (
    MAIL_RECEIVED,
    Identity,
    IdentityIndex,
    fold_name,
    identify,
    report_date_problem,
    resolve_resubmissions,
    submission_time,
    supersede_message,
    tie_message,
)
from pipeline.inbox import sender_issues
from pipeline.issues import Issue, issues_frame, make_issue
from pipeline.model import RawSubmission
from pipeline.parse import parse_cell
from pipeline.registry import Registry
from pipeline.schema import ReportSchema, Schemas
from pipeline.settings import Settings
from pipeline.validate import Submissions, validate

log = logging.getLogger(__name__)

SUBMISSION_COLUMNS = [
    "file",
    "unit_code",
    "status",
    "reason",
    "reason_code",
    "errors",
    "warnings",
    "template_id",
    "template_version",
    "report_date",
    "submitted_at",
    "submitted_at_source",
    "sha256",
    "size",
]


@dataclass
class RunResult:
    """Everything the renderers need, computed once."""

    year: int
    schemas: Schemas
    registry: Registry
    settings: Settings
    submissions: pd.DataFrame
    issues: list[Issue]
    data: Submissions
    kept: dict[str, str]
    units: pd.DataFrame
    criteria: pd.DataFrame
    learning_unit: pd.DataFrame
    measures: pd.DataFrame
    aggregates: pd.DataFrame
    targets: pd.DataFrame
    tracking: pd.DataFrame
    reporting_rate: pd.DataFrame
    changes: pd.DataFrame
    city_key: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def issues_table(self) -> pd.DataFrame:
        return issues_frame(self.issues)

    def counts(self) -> dict[str, int]:
        status = self.submissions["status"].value_counts()
        return {s: int(status.get(s, 0)) for s in STATUSES}


STATUSES = ("accepted", "accepted_with_warnings", "rejected", "superseded")


def _report_date(sub: RawSubmission, schema: ReportSchema) -> dt.date | None:
    """The report date the unit typed: the first key of the resubmission rule."""
    loc = sub.scalars.get("report_date")
    if loc is None or "report_date" not in schema.field_map:
        return None
    value = parse_cell(loc, schema.field_map["report_date"]).value
    return value if isinstance(value, dt.date) else None


def consolidate(
    raws: list[RawSubmission],
    year: int,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    mail_times: Mapping[str, dt.datetime] | None = None,
    mail_senders: Mapping[str, str] | None = None,
    previous: Previous | None = None,
    *,
    mail_sources: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> RunResult:
    """Everything after reading: pure, so it can be tested on in-memory submissions.

    `mail_times`, `mail_senders` and `mail_sources` (file → time, sender address, and
    whether the time is when the mail was received or sent) come from the mail logs of
    ``pipeline inbox`` (:func:`pipeline.inbox.load_mail_info`): the sender is identity
    evidence, and a sender other than the unit's registered address is a warning.
    `previous` is the year before's exports (:func:`pipeline.history.load_previous`): each
    unit's figures are compared with them and implausible jumps become warnings. `today` is
    the run date: a report date after it is not believed (the CLI passes the real date;
    None checks only the reporting window of the settings).
    """
    report = schemas.report
    raws = _unique_files(raws)
    times, future = _believable_mail_times(raws, mail_times or {}, today)
    senders = mail_senders or {}
    sources = mail_sources or {}
    index = IdentityIndex(registry)
    issues: list[Issue] = []
    # file → (status, reason, reason code): every input file gets exactly one.
    status: dict[str, tuple[str, str, str]] = {}
    variant_of: dict[str, str] = {}
    identities: dict[str, Identity] = {}
    candidates: list[RawSubmission] = []
    for sub in raws:
        path = sub.file.path
        ident = identify(sub, registry, report, year, sender=senders.get(path, ""), index=index)
        identities[path] = ident
        # Found while reading, before anyone knew whose file it is: the unit it is credited
        # to, or (rejected) the one it claims, as the identity issues name it.
        owner = ident.unit_code or ident.claimed
        read_issues = [i if i.unit_code else i.with_context(unit_code=owner) for i in sub.issues]
        if sub.rejected or ident.rejected:
            reason_issues = [i for i in read_issues if i.severity == "error"] or list(ident.issues)
            issues.extend(read_issues)
            issues.extend(ident.issues)
            why = reason_issues[0] if reason_issues else None
            status[path] = (
                "rejected",
                why.message if why else "Không đọc được tệp.",
                why.code if why else "file-unreadable",
            )
            continue
        issues.extend(read_issues)
        issues.extend(ident.issues)
        variant_of[path] = str(ident.variant)
        candidates.append(sub)
    issues.extend(sender_issues(candidates, registry, senders))
    for path, when in future.items():
        owner = identities[path].unit_code or identities[path].claimed
        issues.append(mail_time_issue(path, owner, when, today))
    # The report date as typed (submissions.csv) and, when believable, as the rules use it.
    report_dates = {s.file.path: _report_date(s, report) for s in candidates}
    plausible: dict[str, dt.date | None] = {}
    window = settings.report_window(year)
    for sub in candidates:
        day = report_dates[sub.file.path]
        problem = report_date_problem(sub, day, window, today) if day is not None else None
        if problem is not None:
            issues.append(problem)
        plausible[sub.file.path] = None if problem is not None else day
    # Rule 2 of the resubmission rule: the mail's time, else the file's modification time.
    sent_at = {s.file.path: times.get(s.file.path) or s.file.mtime for s in candidates}
    sent_source = {
        s.file.path: sources.get(s.file.path, MAIL_RECEIVED) if s.file.path in times else ""
        for s in candidates
    }
    # For on time / late: the mail's time, else the report date, else the file's time. A
    # rejected file only shows its mail's time: its modification time decides nothing, and
    # would make the outputs depend on when the folder was copied.
    submitted: dict[str, tuple[dt.datetime | None, str]] = {}
    for sub in raws:
        path = sub.file.path
        if status.get(path, ("",))[0] == "rejected":
            mailed = times.get(path)
            submitted[path] = (mailed, sources.get(path, MAIL_RECEIVED)) if mailed else (None, "")
            continue
        submitted[path] = submission_time(
            times.get(path), sources.get(path, ""), plausible.get(path), sub.file.mtime
        )
    res = resolve_resubmissions(candidates, plausible, sent_at)
    for path, first in res.duplicates.items():
        msg = f"Tệp trùng hệt tệp “{first}” (cùng nội dung); chỉ đọc một lần."
        unit_code = identities[path].unit_code
        issues.append(make_issue("file-duplicate", msg, file=path, unit_code=unit_code))
        status[path] = ("superseded", msg, "file-duplicate")
    by_path = {s.file.path: s for s in candidates}
    for path, newer in res.superseded.items():
        if path in res.ties:
            continue
        msg = supersede_message(path, newer, plausible, sent_at, sent_source)
        issues.append(make_issue("superseded", msg, file=path, unit_code=by_path[path].unit_code))
        status[path] = ("superseded", msg, "superseded")
    for path, others in res.ties.items():
        unit_code = by_path[path].unit_code
        msg = tie_message(path, others, res.kept[unit_code])
        issues.append(make_issue("resubmission-tie", msg, file=path, unit_code=unit_code))
        if path in res.superseded:
            status[path] = ("superseded", msg, "resubmission-tie")
    kept_files = set(res.kept.values())
    # Superseded versions are validated too, so the change log compares parsed values.
    to_validate = [s for s in candidates if s.file.path not in res.duplicates]
    data, value_issues = validate(to_validate, report, variant_of)
    issues.extend(i for i in value_issues if i.file in kept_files)
    changes = resubmission_changes(data, res.superseded, report)
    units = unit_frame(data, res.kept, schemas, registry, year)
    criteria = evaluate_criteria(units, schemas, year, data)
    ldu, ldu_issues = evaluate_learning_unit(units, data, schemas, year)
    issues.extend(ldu_issues)
    issues.extend(_cross_unit_checks(units, data, registry, res.kept))
    year_over_year, yoy_issues = unit_changes(data, res.kept, schemas, previous, year)
    issues.extend(yoy_issues)
    issues.extend(reporter_changes(data, res.kept, registry, previous))
    per_file: dict[str, list[Issue]] = {}
    for i in issues:
        per_file.setdefault(i.file, []).append(i)
    for path in kept_files:
        status[path] = _kept_status(per_file.get(path, []))
    counts_by_file = {
        p: (
            sum(1 for i in per_file.get(p, []) if i.severity == "error"),
            sum(1 for i in per_file.get(p, []) if i.severity == "warning"),
        )
        for p in status
    }
    rows = []
    for sub in sorted(raws, key=lambda s: s.file.path):
        path = sub.file.path
        st, reason, reason_code = status[path]
        rows.append(
            {
                "file": path,
                "unit_code": _listed_code(sub, identities[path], reason_code),
                "status": st,
                "reason": reason,
                "reason_code": reason_code,
                "errors": counts_by_file[path][0],
                "warnings": counts_by_file[path][1],
                "template_id": sub.meta.get("template_id", ""),
                "template_version": sub.meta.get("template_version", ""),
                "report_date": report_dates.get(path),
                "submitted_at": submitted[path][0],
                "submitted_at_source": submitted[path][1],
                "sha256": sub.file.sha256,
                "size": sub.file.size,
            }
        )
    submissions = pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)
    city_key = settings.city_name
    measures = agg.unit_measures(units, data, schemas)
    aggregates = agg.aggregate(measures, units, schemas, city_key)
    track = agg.tracking(
        registry,
        res.kept,
        submitted,
        settings.deadline(year),
        _rejected_by_unit(raws, identities, status, submitted),
    )
    return RunResult(
        year=year,
        schemas=schemas,
        registry=registry,
        settings=settings,
        submissions=submissions,
        issues=issues,
        data=data,
        kept=res.kept,
        units=units,
        criteria=criteria,
        learning_unit=ldu,
        measures=measures,
        aggregates=aggregates,
        targets=agg.target_progress(aggregates, schemas, year, city_key),
        tracking=track,
        reporting_rate=agg.reporting_rate(track),
        changes=changes,
        city_key=city_key,
        extra={"previous": previous, "year_over_year": year_over_year},
    )


def _listed_code(sub: RawSubmission, ident: Identity, reason_code: str) -> str:
    """The unit code of a file's row in submissions.csv: its hidden code; for a file of
    conflicting identity without one, the code its `identity-conflict` error names."""
    if sub.unit_code or reason_code != "identity-conflict" or not ident.issues:
        return sub.unit_code
    return ident.issues[0].unit_code


def _believable_mail_times(
    raws: list[RawSubmission], mail_times: Mapping[str, dt.datetime], today: dt.date | None
) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """The mail times a run can use, and those of the files read that lie after the run date.

    A mail cannot arrive after the run that reads it: such a time (a wrong clock at the
    sender or the mail server, an edited log) decides nothing, neither which copy wins nor
    on time or late; the file counts as one saved by hand.
    """
    if today is None:
        return dict(mail_times), {}
    read = {s.file.path for s in raws}
    kept = {p: w for p, w in mail_times.items() if w.date() <= today}
    future = {p: w for p, w in sorted(mail_times.items()) if p in read and p not in kept}
    return kept, future


def mail_time_issue(path: str, unit_code: str, when: dt.datetime, today: dt.date | None) -> Issue:
    """The `mail-time-future` warning: the mail's time is after the run date, not used."""
    day = today.strftime("%d/%m/%Y") if today is not None else ""
    return make_issue(
        "mail-time-future",
        f"Nhật ký thư ghi thư của tệp này đến lúc {when.strftime('%H:%M:%S %d/%m/%Y')}, sau "
        f"ngày tổng hợp ({day}): không thể đúng (đồng hồ máy gửi hoặc máy chủ thư sai, hoặc "
        "nhật ký bị sửa) nên chương trình không dùng thời điểm này; tệp được xét như không qua "
        "nhận thư (theo ngày báo cáo, ngày sửa tệp). Sở kiểm tra thư gốc; nếu cần, sửa thời "
        "điểm trong _inbox_log.csv rồi chạy lại.",
        file=path,
        unit_code=unit_code,
        value=when.isoformat(),
    )


def _rejected_by_unit(
    raws: list[RawSubmission],
    identities: Mapping[str, Identity],
    status: Mapping[str, tuple[str, str, str]],
    submitted: Mapping[str, tuple[dt.datetime | None, str]],
) -> dict[str, list[agg.RejectedFile]]:
    """Registry unit → the rejected files that point at it, latest submitted first.

    A rejected file points at every unit its identity evidence names (hidden code, typed
    code or name, file name, reporter's or sender's address): a unit whose only file was
    refused shows in tracking as rejected with the reason, not as never having sent one.
    """
    found: dict[str, list[agg.RejectedFile]] = {}
    for sub in raws:
        path = sub.file.path
        st, reason, code = status[path]
        if st != "rejected":
            continue
        when, source = submitted[path]
        for unit in identities[path].units:
            found.setdefault(unit, []).append(agg.RejectedFile(path, reason, code, when, source))
    for files in found.values():
        files.sort(key=lambda f: (f.submitted_at or dt.datetime.min, f.file), reverse=True)
    return found


def _kept_status(problems: list[Issue]) -> tuple[str, str, str]:
    """Status, reason and reason code of a consolidated file, from its issues.

    The reason code is the first issue of the highest severity, so a table of files can be
    filtered by what is wrong with them; notes (macros ignored, converted from .ods) ride
    along in the reason of an otherwise clean file instead of vanishing into issues.csv.
    """
    errs = [i for i in problems if i.severity == "error"]
    warns = [i for i in problems if i.severity == "warning"]
    if errs or warns:
        reason = f"{len(errs)} lỗi, {len(warns)} cảnh báo" + (
            ": các số liệu lỗi không được tổng hợp, đơn vị cần sửa và gửi lại." if errs else "."
        )
        return "accepted_with_warnings", reason, (errs or warns)[0].code
    notes = [i for i in problems if i.severity == "info"]
    if notes:
        return "accepted", "Hợp lệ. Ghi chú: " + " ".join(i.message for i in notes), notes[0].code
    return "accepted", "Hợp lệ.", ""


def _unique_files(raws: list[RawSubmission]) -> list[RawSubmission]:
    """Make file names unique: they key every table, and two files must never share a line.

    :func:`pipeline.read.scan_inputs` already guarantees it for one folder; submissions put
    together by other means (tests, several folders) get a number appended.
    """
    seen: set[str] = set()
    out = []
    for sub in raws:
        name = sub.file.path
        if name in seen:
            n = 2
            while f"{name} ({n})" in seen:
                n += 1
            name = f"{name} ({n})"
            sub = dataclasses.replace(
                sub,
                file=dataclasses.replace(sub.file, path=name),
                issues=[i.with_context(file=name) for i in sub.issues],
            )
        seen.add(name)
        out.append(sub)
    return out


def _cross_unit_checks(
    units: pd.DataFrame, data: Submissions, registry: Registry, kept: dict[str, str]
) -> list[Issue]:
    """Problems only visible across files: wrong area, the same nominee from two units."""
    issues: list[Issue] = []
    for code, file in kept.items():
        issues.extend(_prefill_checks(code, file, data, registry))
        typed = data.scalars.at[file, "area_name"] if "area_name" in data.scalars else None
        area = registry.areas[registry.units[code].area_code]
        if isinstance(typed, str) and fold_name(typed) not in (
            fold_name(area.name),
            fold_name(area.code),
        ):
            issues.append(
                make_issue(
                    "wrong-area",
                    f"Đơn vị ghi địa bàn “{typed}”, danh mục của Sở ghi “{area.name}”. "
                    "Nếu danh mục sai, báo Sở để sửa; nếu ghi nhầm, sửa lại ô này.",
                    file=file,
                    unit_code=code,
                    **data.where(file, "area_name"),
                    field="area_name",
                    value=typed,
                )
            )
    noms = data.lists.get("nominations")
    if noms is not None and not noms.empty:
        noms = noms[noms["file"].isin(set(kept.values())) & noms["nominee_name"].notna()].copy()
        noms["key"] = noms["nominee_name"].map(fold_name)
        # Only a name that occurs more than once can be a duplicate: grouping every nominee
        # of ten thousand files one by one would cost seconds for nothing.
        noms = noms[noms["key"].duplicated(keep=False)]
        for _, group in noms.groupby("key"):
            files = sorted(set(group["file"]))
            for _, row in group.iterrows():
                others = [f for f in files if f != row["file"]]
                same_file = int((group["file"] == row["file"]).sum()) > 1
                if not others and not same_file:
                    continue
                code = "duplicate-nominee" if others else "duplicate-nominee-in-file"
                who = ", ".join(data.unit_of[f] for f in others)
                msg = (
                    f"“{row['nominee_name']}” cũng được đơn vị {who} đề nghị khen thưởng. "
                    "Các đơn vị thống nhất một đề nghị."
                    if others
                    else f"“{row['nominee_name']}” được đề nghị hai lần trong cùng báo cáo. "
                    "Xóa dòng trùng."
                )
                issues.append(
                    make_issue(
                        code,
                        msg,
                        file=str(row["file"]),
                        unit_code=data.unit_of[str(row["file"])],
                        **data.where(
                            str(row["file"]), "nominee_name", "nominations", int(row["row"])
                        ),
                        field="nominations.nominee_name",
                        value=str(row["nominee_name"]),
                    )
                )
    return issues


def _prefill_checks(code: str, file: str, data: Submissions, registry: Registry) -> list[Issue]:
    """The unit name is pre-filled and locked; a different name means the file was edited."""
    if "unit_name" not in data.scalars:
        return []
    typed = data.scalars.at[file, "unit_name"]
    unit = registry.units[code]
    if not isinstance(typed, str) or fold_name(typed) == fold_name(unit.name):
        return []
    return [
        make_issue(
            "prefill-changed",
            f"Tên đơn vị điền sẵn đã bị sửa thành “{typed}”; danh mục của Sở ghi “{unit.name}”. "
            "Không sửa các ô màu xám; nếu danh mục của Sở sai, báo Sở để sửa.",
            file=file,
            unit_code=code,
            **data.where(file, "unit_name"),
            field="unit_name",
            value=typed,
        )
    ]
