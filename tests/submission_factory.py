"""Filled submissions built in code from the real templates, for the reading/validation tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook

from pipeline.model import META_SHEET
from pipeline.registry import Registry
from pipeline.samples import fill_template
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes

CLEAN_SCHOOL: dict[str, Any] = {
    "reporter_name": "Nguyễn Thị Lan",
    "reporter_title": "Phó Hiệu trưởng",
    "reporter_phone": "0912345678",
    "reporter_email": "lan@example.vn",
    "head_of_unit": "Trần Văn Hùng",
    "report_date": dt.datetime(2026, 11, 25),
    "steering_committee": "Có",
    "steering_committee_decision": "12/QĐ-THPT",
    "annual_plan": "Có",
    "annual_plan_number": "34/KH-THPT",
    "campaign_events": 6,
    "campaign_participants": 1200,
    "news_items": 14,
    "lifelong_learning_week": "Có",
    "ldu_registered": "Có",
    "ldu_self_level": "Mức 1",
    "ldu_recognised_level": "Mức 1",
    "ldu_decision": "456/QĐ-SGDĐT",
    "ldu_recognised_year": 2025,
    "ldu_level1_year": 2025,
    "ind_plan": "Đạt",
    "ind_conditions": "Đạt",
    "ind_members_learning": "Đạt",
    "ind_effectiveness": "Đạt",
    "emulation_title": "Tập thể lao động tiên tiến",
    "digital_level": "Mức 1 - Đáp ứng cơ bản",
    "own_repository": "Có",
    "res_elearning": 10,
    "res_videos": 20,
    "res_question_banks": 2,
    "res_other": 1,
    "res_shared": 5,
    "supported_learners": 12,
    "supported_staff": 1,
    "supported_disabled": 1,
    "scholarships": 10,
    "funds_mobilised": 25_000_000,
    "cultural_activities": 3,
    "learning_families": 8,
    "international_activities": 0,
    "awards_collective": 1,
    "awards_individual": 5,
    "results_summary": "Tổ chức Tuần lễ hưởng ứng học tập suốt đời.",
    "difficulties": "Kinh phí còn hạn chế.",
    "proposals": "Đề nghị tập huấn về Thông tư 24/2023.",
}

CLEAN_PEOPLE: list[dict[str, Any]] = [
    {"group_label": "Cán bộ quản lý", "total": 4, "registered": 4, "recognised": 4,
     "digital_competent": 4, "foreign_language": 2, "online_learning": 4},
    {"group_label": "Giáo viên", "total": 80, "registered": 78, "recognised": 76,
     "digital_competent": 70, "foreign_language": 30, "online_learning": 80},
    {"group_label": "Nhân viên", "total": 10, "registered": 10, "recognised": 9,
     "digital_competent": 6, "foreign_language": 1, "online_learning": 8},
    {"group_label": "Học sinh, học viên", "total": 1000, "registered": 990, "recognised": 980,
     "digital_competent": 900, "foreign_language": 400, "online_learning": 950},
]  # fmt: skip

CLEAN_INITIATIVES: list[dict[str, Any]] = [
    {"title": "Câu lạc bộ đọc sách", "domain": "Thư viện", "authors": "Lê Thị Hoa",
     "level": "Cấp cơ sở", "year": 2026, "decision": "15/QĐ-THPT"},
]  # fmt: skip

CLEAN_NOMINATIONS: list[dict[str, Any]] = [
    {"nominee_kind": "Cá nhân", "nominee_name": "Phạm Minh Tuấn", "position": "Giáo viên",
     "proposed_form": "Giấy khen của Giám đốc Sở", "achievements": "Nhiều đóng góp."},
]  # fmt: skip


def school_workbook(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    unit_code: str = "THPT-Q01-01",
    values: dict[str, Any] | None = None,
    lists: dict[str, list[dict[str, Any]]] | None = None,
    year: int = 2026,
) -> Workbook:
    unit = registry.units[unit_code]
    variant = schemas.report.variant_for_unit_type(unit.type).code
    wb = build_template(schemas.report, variant, year, settings, registry, unit)
    default_lists = {
        "people": CLEAN_PEOPLE,
        "initiatives": CLEAN_INITIATIVES,
        "nominations": CLEAN_NOMINATIONS,
    }
    return fill_template(wb, values if values is not None else CLEAN_SCHOOL, lists or default_lists)


def save(wb: Workbook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(template_bytes(wb))
    return path


def set_meta(wb: Workbook, key: str, value: object) -> None:
    ws = wb[META_SHEET]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == key:
            row[1].value = value
            return
    raise KeyError(key)


def cell_of(wb: Workbook, code: str) -> str:
    """'Sheet!D12' of a defined name, as an issue reports it."""
    sheet, ref = next(iter(wb.defined_names[code].destinations))
    return f"{sheet}!{ref.replace('$', '')}"


def table_cell(wb: Workbook, list_code: str, data_row: int, fld: str) -> str:
    """'Sheet!C8' of a list value, found from the workbook's own Excel table: its header row
    holds the field codes, data row r (1-based) is r rows below it."""
    for ws in wb.worksheets:
        if list_code in ws.tables:
            first = ws.tables[list_code].ref.split(":")[0]
            col, header_row = coordinate_from_string(first)
            start = column_index_from_string(col)
            header = next(ws.iter_rows(min_row=header_row, max_row=header_row, values_only=True))
            offset = list(header[start - 1 :]).index(fld)
            return f"{ws.title}!{get_column_letter(start + offset)}{header_row + data_row}"
    raise KeyError(list_code)
