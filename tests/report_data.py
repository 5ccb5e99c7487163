"""A small, fixed RunResult built in memory for the report tests (no files are read).

Kept apart from tests/test_report.py so a developer can render the same workbook by hand
(`python -c "from tests.report_data import ..."`) to look at it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pipeline.model import FileInfo, Located, RawSubmission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings

YEAR = 2026
GENERAL = "Thông tin chung"
INJECTION_LINK = '=HYPERLINK("http://x","bấm")'
INJECTION_DDE = "=cmd|' /C calc'!A0"

LIST_SHEETS = {
    "people": "Con người",
    "initiatives": "Sáng kiến",
    "nominations": "Đề nghị khen thưởng",
}


def raw(
    schemas: Schemas,
    path: str,
    unit_code: str,
    template_id: str,
    scalars: dict[str, Any],
    lists: dict[str, list[dict[str, Any]]] | None = None,
    year: int = YEAR,
) -> RawSubmission:
    """A submission as the reader would return it, with made-up but stable cell addresses."""
    report = schemas.report
    located = {}
    for i, f in enumerate(report.fields):
        if f.code in scalars:
            located[f.code] = Located(scalars[f.code], GENERAL, f"D{5 + i}")
        elif f.in_variant("area_office" if template_id == "xhht-phong" else "school"):
            located[f.code] = Located(None, GENERAL, f"D{5 + i}")
    located_lists: dict[str, list[dict[str, Located]]] = {}
    for lst in report.lists:
        rows = (lists or {}).get(lst.code, [])
        located_lists[lst.code] = [
            {
                f.code: Located(row.get(f.code), LIST_SHEETS[lst.code], f"{chr(65 + j)}{6 + r}")
                for j, f in enumerate(lst.fields)
            }
            for r, row in enumerate(rows)
        ]
    digest = hashlib.sha256(path.encode()).hexdigest()
    return RawSubmission(
        file=FileInfo(path, digest, 1000 + len(path), dt.datetime(year, 11, 20, 9, 30)),
        meta={
            "template_id": template_id,
            "template_version": report.version,
            "schema_id": report.id,
            "report_year": str(year),
            "unit_code": unit_code,
        },
        scalars=located,
        lists=located_lists,
    )


def people(rows: dict[str, tuple[int, ...]]) -> list[dict[str, Any]]:
    cols = (
        "total",
        "registered",
        "recognised",
        "digital_competent",
        "foreign_language",
        "online_learning",
    )
    return [{"group": g, **dict(zip(cols, v, strict=True))} for g, v in rows.items()]


def base_scalars(
    unit_code: str, name: str, area: str, date: dt.datetime, type_label: str = "Trường THPT"
) -> dict[str, Any]:
    return {
        "unit_code": unit_code,
        "unit_name": name,
        "unit_type": type_label,
        "area_name": area,
        "report_year": YEAR,
        "reporter_name": "Trần Thị Bình",
        "reporter_title": "Phó Hiệu trưởng",
        "reporter_phone": "0912 345 678",
        "reporter_email": "binh@example.edu.vn",
        "head_of_unit": "Lê Văn Cường",
        "report_date": date,
        "steering_committee": "Có",
        "steering_committee_decision": "12/QĐ-BCĐ",
        "annual_plan": "Có",
        "annual_plan_number": "34/KH",
        "campaign_events": 6,
        "campaign_participants": 1250,
        "news_items": 14,
        "lifelong_learning_week": "Có",
        "ldu_registered": "Có",
        "ldu_recognised_level": "Chưa đạt",
        "own_repository": "Có",
        "res_elearning": 20,
        "res_videos": 35,
        "res_question_banks": 4,
        "res_other": 3,
        "res_shared": 12,
        "supported_learners": 40,
        "supported_staff": 3,
        "supported_disabled": 2,
        "scholarships": 25,
        "funds_mobilised": 125_500_000,
        "cultural_activities": 5,
        "learning_families": 18,
        "international_activities": 1,
        "awards_collective": 2,
        "awards_individual": 9,
        "results_summary": (
            "Tổ chức Tuần lễ hưởng ứng học tập suốt đời; 100% giáo viên bồi dưỡng trực tuyến."
        ),
        "difficulties": "Kinh phí cho hoạt động học tập suốt đời còn hạn chế.",
        "proposals": "Đề nghị Sở tổ chức tập huấn về tiêu chí “Đơn vị học tập”.",
    }


def submissions(schemas: Schemas) -> list[RawSubmission]:
    """Five units (one area office), a resubmission, a late file, rejected files and traps."""
    subs = []
    pgd = base_scalars(
        "PGD-H01",
        "Phòng Giáo dục và Đào tạo huyện An Phước",
        "Huyện An Phước",
        dt.datetime(YEAR, 11, 28),
        "Phòng GDĐT / Phòng VH-XH",
    )
    pgd.update(
        documents_advised=3,
        inspections=12,
        institutions_total=60,
        institutions_registered=45,
        institutions_recognised=20,
        ldu_recognised_level="Mức 1",
        ldu_self_level="Mức 1",
        ldu_decision="101/QĐ-UBND",
        ldu_recognised_year=2025,
        ldu_level1_year=2025,
        ind_plan="Đạt",
        ind_conditions="Đạt",
        ind_members_learning="Đạt",
        ind_effectiveness="Đạt",
        emulation_title="Tập thể lao động xuất sắc",
        digital_level="Mức 2 - Đáp ứng khá",
    )
    pgd_lists = {
        "people": people({"managers": (4, 4, 4, 4, 2, 4), "staff": (18, 17, 17, 15, 6, 16)}),
        "initiatives": [
            {
                "title": "Sổ tay học tập điện tử cho cán bộ quản lý",
                "domain": "Chuyển đổi số",
                "authors": "Nguyễn Văn An",
                "level": "Cấp huyện",
                "year": 2026,
                "decision": "55/QĐ-UBND",
            },
        ],
        "nominations": [
            {
                "nominee_kind": "Tập thể",
                "nominee_name": "Tổ Giáo dục thường xuyên",
                "position": "Phòng GDĐT huyện An Phước",
                "proposed_form": "Bằng khen của Chủ tịch UBND thành phố",
                "achievements": "Dẫn đầu phong trào xây dựng đơn vị học tập của huyện.",
            },
        ],
    }
    # The first version of the area office's report, replaced by the one above.
    first = dict(pgd, report_date=dt.datetime(YEAR, 11, 15), campaign_events=1)
    subs.append(
        raw(schemas, "phong/PGD-H01_ban-dau.xlsx", "PGD-H01", "xhht-phong", first, pgd_lists)
    )
    subs.append(raw(schemas, "phong/PGD-H01.xlsx", "PGD-H01", "xhht-phong", pgd, pgd_lists))

    # A recognised school that claims more than its figures support, with formula traps.
    vd = base_scalars(
        "THPT-H01-01", "Trường THPT Việt Đức", "Huyện An Phước", dt.datetime(YEAR, 12, 2)
    )
    vd.update(
        ldu_recognised_level="Mức 1",
        ldu_self_level="Mức 2",
        ldu_decision="88/QĐ-SGDĐT",
        ldu_recognised_year=2025,
        ldu_level1_year=2025,
        ind_plan="Đạt",
        ind_conditions="Đạt",
        ind_members_learning="Đạt",
        ind_effectiveness="Đạt",
        emulation_title="Tập thể lao động tiên tiến",
        digital_level="Mức 1 - Đáp ứng cơ bản",
        results_summary=INJECTION_LINK,
        proposals=INJECTION_DDE,
    )
    vd_lists = {
        "people": people(
            {
                "managers": (3, 3, 3, 3, 1, 3),
                "teachers": (80, 78, 76, 70, 30, 80),
                "staff": (10, 9, 9, 6, 1, 8),
                "learners": (1200, 1180, 1150, 900, 300, 1100),
            }
        ),
        "initiatives": [
            {
                "title": "Câu lạc bộ đọc sách “Mỗi tuần một cuốn sách”",
                "domain": "Thư viện",
                "authors": "Lê Thị Hoa",
                "level": "Cấp thành phố",
                "year": 2026,
                "decision": "120/QĐ-SGDĐT",
            },
            {
                "title": INJECTION_DDE,
                "domain": "Khác",
                "authors": INJECTION_LINK,
                "level": "Cấp cơ sở",
                "year": 2026,
                "decision": "3/QĐ-THPT",
            },
        ],
        "nominations": [
            {
                "nominee_kind": "Cá nhân",
                "nominee_name": "Nguyễn Thị Lan",
                "position": "Giáo viên",
                "proposed_form": "Bằng khen của Thủ tướng Chính phủ",
                "achievements": INJECTION_LINK,
            },
            {
                "nominee_kind": "Tập thể",
                "nominee_name": INJECTION_DDE,
                "position": "",
                "proposed_form": "Giấy khen của Giám đốc Sở",
                "achievements": "Nhiều sáng kiến.",
            },
        ],
    }
    subs.append(raw(schemas, "truong/THPT-H01-01.xlsx", "THPT-H01-01", "xhht-truong", vd, vd_lists))

    # Late, with a value error (text in a number cell): its campaign figure is not counted.
    nth = base_scalars(
        "THPT-H01-02", "Trường THPT Nguyễn Thượng Hiền", "Huyện An Phước", dt.datetime(YEAR, 12, 10)
    )
    nth.update(campaign_events="mười hai", ldu_recognised_level="Chưa đạt", awards_individual=0)
    nth_lists = {
        "people": people(
            {
                "managers": (3, 3, 1, 3, 1, 3),
                "teachers": (60, 40, 30, 50, 20, 55),
                "staff": (8, 4, 2, 6, 1, 5),
                "learners": (900, 700, 600, 700, 200, 800),
            }
        ),
        "initiatives": [
            {
                "title": "Ngân hàng câu hỏi trực tuyến môn Toán",
                "domain": "Toán",
                "authors": "Phạm Minh Tuấn",
                "level": "Chưa công nhận",
                "year": 2026,
            },
        ],
        # Proposed above Giấy khen although the school fails criteria: flagged in Biểu 07.
        "nominations": [
            {
                "nominee_kind": "Cá nhân",
                "nominee_name": "Hoàng Thị Mai",
                "position": "Tổ trưởng",
                "proposed_form": "Bằng khen của Chủ tịch UBND thành phố",
                "achievements": "Tích cực.",
            },
        ],
    }
    subs.append(
        raw(schemas, "truong/THPT-H01-02.xlsx", "THPT-H01-02", "xhht-truong", nth, nth_lists)
    )

    # Another area: the same nominee as Việt Đức (a cross-unit duplicate).
    lqd = base_scalars(
        "THPT-Q01-01", "Trường THPT Lê Quý Đôn", "Quận Trung Tâm", dt.datetime(YEAR, 12, 4)
    )
    lqd.update(
        ldu_recognised_level="Mức 2",
        ldu_self_level="Mức 2",
        ldu_decision="77/QĐ-SGDĐT",
        ldu_recognised_year=2026,
        ldu_level1_year=2024,
        ind_plan="Đạt",
        ind_conditions="Đạt",
        ind_members_learning="Đạt",
        ind_effectiveness="Đạt",
        emulation_title="Tập thể lao động xuất sắc",
        digital_level="Mức 3 - Đáp ứng tốt",
        funds_mobilised=310_000_000,
    )
    lqd_lists = {
        "people": people(
            {
                "managers": (4, 4, 4, 4, 3, 4),
                "teachers": (95, 95, 94, 90, 50, 95),
                "staff": (12, 12, 12, 10, 4, 12),
                "learners": (1500, 1490, 1480, 1400, 700, 1500),
            }
        ),
        "initiatives": [
            {
                "title": "Ngày hội học tập suốt đời gắn với trải nghiệm bảo tàng",
                "domain": "Trải nghiệm",
                "authors": "Đặng Thu Hà",
                "level": "Toàn quốc",
                "year": 2026,
                "decision": "9/QĐ-BGDĐT",
            },
            {
                "title": "Bồi dưỡng năng lực số cho giáo viên qua LMS",
                "domain": "Chuyển đổi số",
                "authors": "Bùi Quang Huy",
                "level": "Cấp thành phố",
                "year": 2025,
                "decision": "140/QĐ-SGDĐT",
            },
        ],
        "nominations": [
            {
                "nominee_kind": "Cá nhân",
                "nominee_name": "Nguyễn Thị Lan",
                "position": "Giáo viên",
                "proposed_form": "Bằng khen của Chủ tịch UBND thành phố",
                "achievements": "Tác giả sáng kiến cấp thành phố.",
            },
            {
                "nominee_kind": "Tập thể",
                "nominee_name": "Trường THPT Lê Quý Đôn",
                "position": "",
                "proposed_form": "Bằng khen của Thủ tướng Chính phủ",
                "achievements": "Đơn vị học tập Mức 2.",
            },
        ],
    }
    subs.append(
        raw(schemas, "truong/THPT-Q01-01.xlsx", "THPT-Q01-01", "xhht-truong", lqd, lqd_lists)
    )

    # A multi-level school that left its people figures blank: criteria "chưa đủ số liệu".
    tn = base_scalars(
        "PTNCH-01",
        "Trường TH, THCS và THPT Thực Nghiệm",
        "Quận Trung Tâm",
        dt.datetime(YEAR, 11, 30),
        "Trường phổ thông nhiều cấp học",
    )
    tn.update(campaign_events=0, funds_mobilised=None, ldu_registered="Không")
    subs.append(raw(schemas, "truong/PTNCH-01.xlsx", "PTNCH-01", "xhht-truong", tn, {}))

    # Lê Quý Đôn's own file, filled and sent by THPT-Q01-03 under its own file name: the
    # evidence disagrees (identity-conflict), the file counts for neither school.
    borrowed = base_scalars(
        "THPT-Q01-01", "Trường THPT Lê Quý Đôn", "Quận Trung Tâm", dt.datetime(YEAR, 12, 1)
    )
    subs.append(
        raw(
            schemas,
            "truong/THPT-Q01-03_bao-cao-xhht.xlsx",
            "THPT-Q01-01",
            "xhht-truong",
            borrowed,
            lqd_lists,
        )
    )

    # Last year's template: rejected with a reason.
    old = base_scalars(
        "THPT-Q01-02", "Trường THPT Nguyễn Trãi", "Quận Trung Tâm", dt.datetime(YEAR - 1, 12, 1)
    )
    subs.append(
        raw(
            schemas, "truong/THPT-Q01-02_2025.xlsx", "THPT-Q01-02", "xhht-truong", old, {}, YEAR - 1
        )
    )
    return subs


RUN_DATE = dt.date(YEAR, 12, 20)
MAIL_TIMES = {"phong/PGD-H01.xlsx": dt.datetime(YEAR, 11, 28, 15, 42)}
"""The area office's report came through `inbox`: its time is the mail's."""


def build_result(schemas: Schemas, registry: Registry, settings: Settings) -> RunResult:
    return consolidate(
        submissions(schemas),
        YEAR,
        schemas,
        registry,
        settings,
        mail_times=MAIL_TIMES,
        mail_senders={"phong/PGD-H01.xlsx": "pgd.h01@gddt.mau.gov.vn"},
        mail_sources={"phong/PGD-H01.xlsx": "mail_received"},
        today=RUN_DATE,
    )
