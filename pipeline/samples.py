"""Deterministic sample submissions for the sample registry: real-looking input on a fresh clone.

Each unit's figures come from a random generator seeded by the unit code and year, so the
committed samples can be regenerated identically. Years before :data:`TREND_BASE_YEAR` are
derived from that year's figures, scaled back with a little noise, so the 2023-2025 samples
trend upwards the way a real movement's figures do and the phase review has a trend to show.
Most units report; some are missing on purpose; a handful carry the mistakes people really
make (text in a number cell, a count larger than its total, a negative, a wrong area,
Vietnamese number formats, decomposed Unicode), one unit sends a corrected second version,
one file is another year's template and one is not a template at all.

The December cycle as it happens: every unit types the day it signs as "Ngày báo cáo" (in
the second half of November, so never after the run date of any run in December) and mails
its file; the files reach the folder through ``inbox``, whose mail log (``_inbox_log.csv``)
holds when the department's server received each mail. About one unit in eight mails after
the deadline although its report is dated in November: the log, not the file, shows it late,
whatever day of December ``make consolidate`` runs. Only last year's template a unit sent by
mistake was saved by hand (``inbox`` would have filed it under the year before).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl.workbook.workbook import Workbook

from pipeline.inbox import Attachment, Inbox, Mail
from pipeline.registry import Registry, Unit
from pipeline.schema import ReportSchema, Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes, unit_file_name

TEXTS = {
    "results_summary": [
        "Tổ chức thành công Tuần lễ hưởng ứng học tập suốt đời; "
        "100% cán bộ, giáo viên tham gia bồi dưỡng trực tuyến.",
        "Xây dựng thư viện số của trường, phát động phong trào đọc sách trong học sinh.",
        "Phối hợp Hội Khuyến học trao học bổng cho học sinh có hoàn cảnh khó khăn.",
    ],
    "difficulties": [
        "Kinh phí cho hoạt động học tập suốt đời còn hạn chế.",
        "Một số giáo viên lớn tuổi còn khó khăn khi học tập trực tuyến.",
        "Cơ sở vật chất phục vụ chuyển đổi số chưa đồng bộ.",
    ],
    "proposals": [
        "Đề nghị Sở tổ chức tập huấn về tiêu chí “Đơn vị học tập” theo Thông tư 24/2023.",
        "Đề nghị bổ sung kinh phí xây dựng kho học liệu số dùng chung.",
        "Đề nghị Sở chia sẻ kho học liệu mở của ngành cho các trường.",
    ],
}
INITIATIVES = [
    "Ứng dụng sổ tay học tập điện tử cho giáo viên",
    "Câu lạc bộ đọc sách “Mỗi tuần một cuốn sách”",
    "Xây dựng ngân hàng câu hỏi trực tuyến môn Toán",
    "Mô hình “Gia đình học tập” trong cán bộ, giáo viên",
    "Tổ chức ngày hội học tập suốt đời gắn với trải nghiệm bảo tàng",
    "Bồi dưỡng năng lực số cho giáo viên qua nền tảng LMS",
]
PEOPLE_NAMES = [
    "Nguyễn Thị Lan", "Trần Văn Hùng", "Lê Thị Hoa", "Phạm Minh Tuấn", "Hoàng Thị Mai",
    "Vũ Đức Thắng", "Đặng Thu Hà", "Bùi Quang Huy", "Đỗ Thị Hạnh", "Ngô Văn Nam",
]  # fmt: skip
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Thu", "Quang", "Đức", "Ngọc", "Thanh", "Hữu", "Kim"]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Khánh",
    "Linh",
    "Nga",
    "Phúc",
    "Quân",
    "Sơn",
    "Trang",
    "Vy",
    "Yến",
]
NOT_SUBMITTING_EVERY = 9  # about one unit in nine does not report


LATE_EVERY = 0.12
"""Share of the reporting units whose mail arrives after the deadline."""
MAIL_SUBJECTS = (
    "Báo cáo kết quả thực hiện Phong trào xây dựng xã hội học tập năm {year} - {unit}",
    "V/v gửi báo cáo Phong trào thi đua xây dựng XHHT năm {year}",
    "{unit} gửi báo cáo XHHT năm {year}",
)
SIGNED_COPY = "cong-van-bao-cao-da-ky.pdf"
"""A scan some units attach beside the workbook: logged by ``inbox``, not saved."""


@dataclass(frozen=True)
class SampleMail:
    """The mail a sample file came in, as ``inbox`` reads it (Vietnam time, no zone)."""

    sender: str
    subject: str
    sent_at: dt.datetime
    received_at: dt.datetime
    source: str
    message_id: str
    others: tuple[tuple[str, bytes], ...] = ()
    """Attachments beside the file (a signed PDF): in the log, not in the folder."""


@dataclass(frozen=True)
class SampleFile:
    name: str
    content: bytes
    mail: SampleMail | None = None
    """How the file reached the department; None: saved into the folder by hand."""


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _rng(unit: Unit, year: int, salt: str = "") -> random.Random:
    seed = hashlib.sha256(f"{unit.code}|{year}|{salt}".encode()).hexdigest()
    return random.Random(int(seed[:16], 16))


def _cell_setter(wb: Workbook) -> Callable[[str, Any], None]:
    def set_value(code: str, value: Any) -> None:
        dn = wb.defined_names.get(code)
        if dn is None:
            return
        for sheet, ref in dn.destinations:
            cell = wb[sheet][ref.replace("$", "")]
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"

    return set_value


def _fill_list(wb: Workbook, code: str, rows: list[dict[str, Any]]) -> None:
    for ws in wb.worksheets:
        table = ws.tables.get(code)
        if table is None:
            continue
        from openpyxl.utils.cell import range_boundaries

        min_col, min_row, max_col, _max_row = range_boundaries(table.ref)
        # The header row holds the field codes (openpyxl fills tableColumns only on save).
        header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
        fixed = code == "people"
        for r, values in enumerate(rows, start=1):
            excel_row = min_row + r
            if fixed:
                # One row per group: find the row whose group cell matches.
                for rr in range(min_row + 1, _max_row + 1):
                    if ws.cell(row=rr, column=min_col).value == values.get("group_label"):
                        excel_row = rr
                        break
            for field_code, value in values.items():
                if field_code in header:
                    cell = ws.cell(row=excel_row, column=min_col + header.index(field_code))
                    cell.value = value
                    if isinstance(value, str):
                        # Typed text stays text, even "=HYPERLINK(...)" (see _cell_setter).
                        cell.data_type = "s"
        return


def unit_values(
    unit: Unit, year: int, schemas: Schemas, rng: random.Random, level: str
) -> dict[str, Any]:
    """Plausible scalar values for one unit (already typed the way Excel stores them)."""
    report = schemas.report
    area_office = unit.type == "area_office"
    recognised = level != "none"
    v: dict[str, Any] = {
        "reporter_name": rng.choice(PEOPLE_NAMES),
        "reporter_title": rng.choice(["Phó Hiệu trưởng", "Thư ký hội đồng", "Chuyên viên"]),
        "reporter_phone": f"09{rng.randrange(10_000_000, 99_999_999)}",
        "reporter_email": unit.email,
        "head_of_unit": rng.choice(PEOPLE_NAMES),
        "report_date": dt.datetime(year, 11, rng.randint(20, 30)),
        "steering_committee": "Có",
        "steering_committee_decision": f"{rng.randint(10, 250)}/QĐ-{unit.code.split('-')[0]}",
        "annual_plan": rng.choice(["Có", "Có", "Có", "Không"]),
        "campaign_events": rng.randint(0, 12),
        "campaign_participants": rng.randint(50, 3000),
        "news_items": rng.randint(0, 40),
        "lifelong_learning_week": rng.choice(["Có", "Có", "Không"]),
        "ldu_registered": "Có" if level != "none" or rng.random() < 0.6 else "Không",
        "ldu_self_level": report.choice_label("ldu_level", level),
        "ldu_recognised_level": report.choice_label("ldu_level", level),
        "ind_plan": "Đạt",
        "ind_conditions": "Đạt" if recognised else rng.choice(["Đạt", "Không đạt"]),
        "ind_members_learning": "Đạt",
        "ind_effectiveness": "Đạt" if recognised else rng.choice(["Đạt", "Không đạt"]),
        "emulation_title": report.choice_label(
            "emulation_title",
            {"level_2": "excellent", "level_1": rng.choice(["advanced", "excellent"])}.get(
                level, rng.choice(["advanced", "excellent", "none"])
            ),
        ),
        "digital_level": report.choice_label(
            "digital_level",
            rng.choice(
                {"level_2": ["fair", "good"], "level_1": ["basic", "fair"]}.get(
                    level, ["basic", "fair", "below"]
                )
            ),
        ),
        "own_repository": rng.choice(["Có", "Không"]),
        "res_elearning": rng.randint(0, 60),
        "res_videos": rng.randint(0, 80),
        "res_question_banks": rng.randint(0, 10),
        "res_other": rng.randint(0, 20),
        "res_shared": rng.randint(0, 30),
        "supported_learners": rng.randint(0, 60),
        "supported_staff": rng.randint(0, 6),
        "supported_disabled": rng.randint(0, 3),
        "scholarships": rng.randint(0, 40),
        "funds_mobilised": rng.randrange(0, 300) * 1_000_000,
        "cultural_activities": rng.randint(0, 10),
        "learning_families": rng.randint(0, 30),
        "international_activities": rng.randint(0, 2),
        "awards_collective": rng.randint(0, 5),
        "awards_individual": rng.randint(0, 20),
        "results_summary": rng.choice(TEXTS["results_summary"]),
        "difficulties": rng.choice(TEXTS["difficulties"]),
        "proposals": rng.choice(TEXTS["proposals"]),
    }
    if v["annual_plan"] == "Có":
        v["annual_plan_number"] = f"{rng.randint(10, 300)}/KH-{unit.code.split('-')[0]}"
    if level != "none":
        v["ldu_decision"] = f"{rng.randint(100, 999)}/QĐ-SGDĐT"
        v["ldu_recognised_year"] = rng.randint(max(2024, year - 2), year)
        v["ldu_level1_year"] = v["ldu_recognised_year"] - (1 if level == "level_2" else 0)
    if area_office:
        total = rng.randint(30, 90)
        registered = rng.randint(total // 3, total)
        v |= {
            "documents_advised": rng.randint(0, 6),
            "inspections": rng.randint(2, 40),
            "institutions_total": total,
            "institutions_registered": registered,
            "institutions_recognised": rng.randint(0, registered),
        }
    return v


def people_rows(
    unit: Unit, schemas: Schemas, rng: random.Random, level: str
) -> list[dict[str, Any]]:
    sizes = {
        "managers": (2, 6) if unit.type == "area_office" else (3, 8),
        "teachers": (0, 4) if unit.type == "area_office" else (40, 130),
        "staff": (6, 15) if unit.type == "area_office" else (5, 18),
        "learners": (0, 0) if unit.type == "area_office" else (500, 2200),
    }
    rows = []
    for choice in schemas.report.choices["people_group"]:
        lo, hi = sizes[choice.code]
        total = rng.randint(lo, hi)
        if total == 0:
            continue
        # A recognised "Đơn vị học tập" has most of its people recognised (TT 24/2023).
        low = 0.975 if level != "none" else 0.6
        registered = round(total * rng.uniform(max(low, 0.75), 1.0))
        recognised = max(round(total * low), round(registered * rng.uniform(low, 1.0)))
        recognised = min(recognised, registered)
        rows.append(
            {
                "group_label": choice.label,
                "total": total,
                "registered": registered,
                "recognised": recognised,
                "digital_competent": round(total * rng.uniform(0.4, 1.0)),
                "foreign_language": round(total * rng.uniform(0.1, 0.6)),
                "online_learning": round(total * rng.uniform(0.5, 1.0)),
            }
        )
    return rows


def initiative_rows(year: int, schemas: Schemas, rng: random.Random) -> list[dict[str, Any]]:
    report = schemas.report
    rows = []
    for title in rng.sample(INITIATIVES, rng.randint(0, 3)):
        level = rng.choice(["not_recognised", "unit", "unit", "area", "city"])
        row: dict[str, Any] = {
            "title": title,
            "domain": rng.choice(["Quản lý", "Chuyển đổi số", "Thư viện", "Khuyến học"]),
            "authors": rng.choice(PEOPLE_NAMES),
            "level": report.choice_label("initiative_level", level),
        }
        if level != "not_recognised":
            row["year"] = rng.randint(year - 1, year)
            row["decision"] = f"{rng.randint(10, 900)}/QĐ-SGDĐT"
        rows.append(row)
    return rows


def nomination_rows(unit: Unit, schemas: Schemas, rng: random.Random) -> list[dict[str, Any]]:
    report = schemas.report
    rows = []
    for n in range(rng.randint(0, 2)):
        kind = rng.choice(["individual", "individual", "collective"]) if n == 0 else "individual"
        name = _person(rng) if kind == "individual" else unit.name
        rows.append(
            {
                "nominee_kind": report.choice_label("nominee_kind", kind),
                "nominee_name": name,
                "position": "Giáo viên, " + unit.name if kind == "individual" else "",
                "proposed_form": report.choice_label(
                    "award_form",
                    rng.choice(["director_certificate", "director_certificate", "city_merit"]),
                ),
                "achievements": "Có nhiều đóng góp trong xây dựng xã hội học tập tại đơn vị.",
            }
        )
    return rows


def _build(
    unit: Unit,
    year: int,
    schemas: Schemas,
    settings: Settings,
    registry: Registry,
    values: dict[str, Any],
    lists: dict[str, list[dict[str, Any]]],
) -> bytes:
    variant = schemas.report.variant_for_unit_type(unit.type).code
    wb = build_template(schemas.report, variant, year, settings, registry, unit)
    fill_template(wb, values, lists)
    return template_bytes(wb)


def fill_template(
    wb: Workbook, values: dict[str, Any], lists: dict[str, list[dict[str, Any]]]
) -> Workbook:
    """Type values into a template the way a unit would: through its names and tables.

    List rows of the people matrix are matched by their group label (key "group_label").
    """
    set_value = _cell_setter(wb)
    for code, value in values.items():
        set_value(code, value)
    for code, rows in lists.items():
        _fill_list(wb, code, rows)
    return wb


TREND_BASE_YEAR = 2026
"""Samples of this year are drawn at random; earlier years are derived from them."""
DROPPED_DIGIT_UNIT = 20
"""Index of the unit whose figure of two years before the base year lacks a digit."""
TREND_FIELDS_KEPT = frozenset({"ldu_recognised_year", "ldu_level1_year", "institutions_total"})


def progress(year: int, base: int = TREND_BASE_YEAR) -> float:
    """How far the movement has come in `year` relative to the base year (1.0)."""
    return max(0.3, 1.0 - 0.15 * (base - year))


def _earlier_year(
    values: dict[str, Any],
    lists: dict[str, list[dict[str, Any]]],
    level: str,
    year: int,
    base: int,
    schemas: Schemas,
    rng: random.Random,
) -> None:
    """Turn a unit's base-year figures into plausible figures of an earlier `year`, in place.

    Counts shrink by :func:`progress` with ±10% noise, so year-on-year changes stay far from
    the implausible-change thresholds; "Đơn vị học tập" recognitions dated after `year`
    are undone (a mức 2 unit was mức 1 the year before); people totals barely move while
    the share recognised as "Công dân học tập" grows towards the base year.
    """
    report = schemas.report
    p = progress(year, base)
    stamp = values["report_date"]
    values["report_date"] = dt.datetime(year, stamp.month, stamp.day)
    held = level
    if level != "none":
        recognised_year = int(values["ldu_recognised_year"])
        first_year = int(values["ldu_level1_year"])
        if year >= recognised_year:
            held = level
        elif level == "level_2" and year >= first_year:
            held = "level_1"
            values["ldu_recognised_year"] = values["ldu_level1_year"] = first_year
        else:
            held = "none"
            for key in ("ldu_decision", "ldu_recognised_year", "ldu_level1_year"):
                values.pop(key, None)
        values["ldu_self_level"] = values["ldu_recognised_level"] = report.choice_label(
            "ldu_level", held
        )
    for key, value in list(values.items()):
        if isinstance(value, int) and not isinstance(value, bool) and key not in TREND_FIELDS_KEPT:
            values[key] = round(value * p * rng.uniform(0.9, 1.1))
    if "funds_mobilised" in values:
        values["funds_mobilised"] = round(values["funds_mobilised"], -6)
    if "institutions_registered" in values:
        total = values["institutions_total"]
        registered = min(total, round(values["institutions_registered"] / p * (1 + p) / 2))
        values["institutions_registered"] = registered
        values["institutions_recognised"] = min(registered, values["institutions_recognised"])
    supported = values["supported_learners"] + values["supported_staff"]
    values["supported_disabled"] = min(values["supported_disabled"], supported)
    for key in ("annual_plan", "lifelong_learning_week", "own_repository"):
        if values.get(key) == "Có" and rng.random() > (1 + p) / 2:
            values[key] = "Không"
            if key == "annual_plan":
                values.pop("annual_plan_number", None)
    size = rng.uniform(0.96, 1.02)
    rate = 1.0 if held != "none" else p
    for row in lists["people"]:
        total = max(1, round(row["total"] * size))
        registered = min(total, round(row["registered"] * size * (1 + rate) / 2))
        row["total"], row["registered"] = total, registered
        row["recognised"] = min(registered, round(row["recognised"] * size * rate))
        for key in ("digital_competent", "foreign_language", "online_learning"):
            row[key] = min(total, round(row[key] * size * p))
    kept = []
    for row in lists["initiatives"]:
        if rng.random() < p:
            if "year" in row:
                row["year"] -= base - year
            kept.append(row)
    lists["initiatives"] = kept


def generate(
    year: int, schemas: Schemas, registry: Registry, settings: Settings
) -> list[SampleFile]:
    """The sample submissions of one year, as (file name, bytes)."""
    files: list[SampleFile] = []
    units = sorted(registry.units.values(), key=lambda u: u.code)
    mistakes = _mistakes(year)
    deadline = settings.deadline(year)
    # Years before the base year are the base year's figures scaled back (see
    # _earlier_year), so a unit's series trends upwards instead of jumping at random.
    base = max(year, TREND_BASE_YEAR)
    for n, unit in enumerate(units):
        rng = _rng(unit, base)
        if n % NOT_SUBMITTING_EVERY == 4:
            continue
        level = rng.choices(["none", "level_1", "level_2"], weights=[5, 4, 1])[0]
        values = unit_values(unit, base, schemas, rng, level)
        lists = {
            "people": people_rows(unit, schemas, rng, level),
            "initiatives": initiative_rows(base, schemas, rng),
            "nominations": nomination_rows(unit, schemas, rng),
        }
        late = rng.random() < LATE_EVERY
        if base != year:
            trend = _rng(unit, year, "trend")
            _earlier_year(values, lists, level, year, base, schemas, trend)
            if n == DROPPED_DIGIT_UNIT and year == base - 2:
                # A dropped digit: the comparisons with the years before and after each
                # show a jump for the unit to explain (implausible-change).
                values["campaign_participants"] //= 10
            late, rng = trend.random() < LATE_EVERY, trend
        # The report stays dated in November (the day it was signed); the mail is late.
        late_by = rng.randint(1, 7) if late else 0
        mistake = mistakes.get(n % len(mistakes)) if n % 7 == 3 else None
        if mistake is not None:
            mistake(values, lists)
        name = unit_file_name(unit, year)
        mail_rng = _rng(unit, year, "mail")
        if late_by:
            received = _office_hours(deadline + dt.timedelta(days=late_by), mail_rng)
        else:
            received = _received_by(_typed_day(values["report_date"], year), deadline, mail_rng)
        signed = ((SIGNED_COPY, _signed_pdf(unit, year)),) if n % 5 == 1 else ()
        files.append(
            SampleFile(
                name,
                _build(unit, year, schemas, settings, registry, values, lists),
                _mail(unit, year, received, mail_rng, signed),
            )
        )
        if n == 10:
            # A corrected resubmission: the first version had a typo in the teachers' total.
            first_day = dt.date(year, 11, 18)
            first = dict(values, report_date=dt.datetime.combine(first_day, dt.time()))
            first["campaign_events"] = 1
            files.append(
                SampleFile(
                    name.replace(".xlsx", "_ban-dau.xlsx"),
                    _build(unit, year, schemas, settings, registry, first, lists),
                    _mail(unit, year, _office_hours(first_day, mail_rng), mail_rng),
                )
            )
    # Two files that must be rejected with a reason: last year's template (saved by hand),
    # and a list a unit that sent nothing else typed in a blank workbook instead of the
    # template, mailed from its own address (so Biểu 09 shows it as "only rejected").
    old_unit = units[1]
    old_values = unit_values(old_unit, year - 1, schemas, _rng(old_unit, year - 1), "none")
    files.append(
        SampleFile(
            unit_file_name(old_unit, year - 1).replace(".xlsx", "_nham-nam.xlsx"),
            _build(old_unit, year - 1, schemas, settings, registry, old_values, {}),
        )
    )
    plain_unit = units[4]
    assert 4 % NOT_SUBMITTING_EVERY == 4  # a unit that sends no template
    mail_rng = _rng(plain_unit, year, "mail")
    files.append(
        SampleFile(
            "bang-tong-hop-rieng.xlsx",
            _plain_workbook(year),
            _mail(plain_unit, year, _office_hours(dt.date(year, 11, 27), mail_rng), mail_rng),
        )
    )
    return files


def _typed_day(value: Any, year: int) -> dt.date:
    """The report date as typed (a date cell, or dd/mm/yyyy text); 25/11 if neither."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError:
            pass
    return dt.date(year, 11, 25)


def _office_hours(day: dt.date, rng: random.Random) -> dt.datetime:
    """A time on `day` when an office clerk sends mail."""
    return dt.datetime.combine(
        day, dt.time(rng.randint(7, 16), rng.randint(0, 59), rng.randint(0, 59))
    )


def _received_by(report_day: dt.date, deadline: dt.date, rng: random.Random) -> dt.datetime:
    """A mail of a report signed on `report_day`: the same day or a few days later, by the
    deadline."""
    day = min(report_day + dt.timedelta(days=rng.randint(0, 4)), deadline)
    return _office_hours(max(day, report_day), rng)


def _mail(
    unit: Unit,
    year: int,
    received: dt.datetime,
    rng: random.Random,
    others: tuple[tuple[str, bytes], ...] = (),
) -> SampleMail:
    """The mail of one file: from the unit's registered address, sent a few minutes before
    the department's server received it."""
    sent = received - dt.timedelta(seconds=rng.randint(20, 900))
    subject = rng.choice(MAIL_SUBJECTS).format(year=year, unit=unit.name)
    stamp = received.strftime("%Y%m%d%H%M%S")
    domain = unit.email.rpartition("@")[2] or "mail.invalid"
    return SampleMail(
        sender=unit.email,
        subject=subject,
        sent_at=sent,
        received_at=received,
        source=f"thu-{year}/{stamp}-{unit.code.lower()}.eml",
        message_id=f"<{stamp}.{unit.code.lower()}@{domain}>",
        others=others,
    )


def _signed_pdf(unit: Unit, year: int) -> bytes:
    """Stands for the scan of the signed dispatch: never opened, only logged."""
    return f"%PDF-1.4\n% Công văn báo cáo năm {year} của {unit.name}\n".encode()


def _plain_workbook(year: int) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Sheet1"
    wb.properties.created = dt.datetime(year, 11, 1)
    ws.append(["STT", "Nội dung", "Số lượng"])
    ws.append([1, f"Số hoạt động tuyên truyền năm {year}", 5])
    ws.append([2, "Số giáo viên là Công dân học tập", 48])
    return template_bytes(wb)


def _mistakes(
    year: int,
) -> dict[int, Callable[[dict[str, Any], dict[str, list[dict[str, Any]]]], None]]:
    def text_in_number(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        v["campaign_events"] = "mười hai"

    def recognised_gt_registered(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        row = lists["people"][0]
        row["recognised"] = row["registered"] + 3

    def vietnamese_formats(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        v["funds_mobilised"] = "12.500.000 đồng"
        v["campaign_participants"] = "1.250"
        v["report_date"] = f"25/11/{year}"
        v["steering_committee"] = "x"

    def negative_and_nfd(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        v["news_items"] = -4
        v["head_of_unit"] = unicodedata.normalize("NFD", "Nguyễn Thị Thúy")

    def missing_required(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        v.pop("reporter_name", None)
        v["ldu_decision"] = None
        v["ldu_recognised_level"] = "Mức 2"
        v["ldu_self_level"] = "Mức 2"

    def duplicate_nominee(v: dict[str, Any], lists: dict[str, list[dict[str, Any]]]) -> None:
        lists["nominations"].append(
            {
                "nominee_kind": "Cá nhân",
                "nominee_name": "Nguyễn Thị Lan",
                "position": "Giáo viên",
                "proposed_form": "Bằng khen của Thủ tướng Chính phủ",
                "achievements": '=HYPERLINK("http://x","bấm vào đây")',
            }
        )

    return dict(
        enumerate(
            [
                text_in_number,
                recognised_gt_registered,
                vietnamese_formats,
                negative_and_nfd,
                missing_required,
                duplicate_nominee,
            ]
        )
    )


def write_samples(files: list[SampleFile], out_dir: Path, schema: ReportSchema) -> list[Path]:
    """Write the samples into `out_dir`: mailed files through the real ``inbox`` (so the
    folder and its ``_inbox_log.csv`` are what ``inbox`` makes of that December's mail),
    the others as they are."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        if f.mail is None:
            path = out_dir / f.name
            path.write_bytes(f.content)
            written.append(path)
    with tempfile.TemporaryDirectory(prefix="xhht-samples-") as tmp:
        box = Inbox(Path(tmp), schema)
        for f in files:
            if f.mail is None:
                continue
            m = f.mail
            attachments = [Attachment(f.name, f.content)]
            attachments += [Attachment(name, data) for name, data in m.others]
            box.take(
                Mail(
                    source=m.source,
                    sender=m.sender,
                    subject=m.subject,
                    message_id=m.message_id,
                    sent_at=m.sent_at,
                    received_at=m.received_at,
                    attachments=attachments,
                )
            )
        # A file is routed by its template's year and a non-template by the mail's: every
        # sample mail is of its own year, so there is one year folder.
        for log in box.write_logs().values():
            for path in sorted(log.parent.iterdir()):
                target = out_dir / path.name
                shutil.copyfile(path, target)
                written.append(target)
    return written
