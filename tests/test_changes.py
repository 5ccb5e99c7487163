"""resubmission_changes.csv: every sheet, old → new (the rule and cases of pipeline/changes.py).

The worked cases of the module run on in-memory submissions through the whole consolidation;
the end-to-end case is the same per-unit template filled twice, as a unit corrects its
report and sends it again, read back from the CSV the specialist opens.
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from pipeline.changes import CHANGE_COLUMNS, key_field, row_key
from pipeline.export import write_tables
from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import LIST_SHEETS, YEAR, base_scalars, people, raw
from tests.submission_factory import (
    CLEAN_INITIATIVES,
    CLEAN_NOMINATIONS,
    CLEAN_PEOPLE,
    CLEAN_SCHOOL,
    cell_of,
    save,
    school_workbook,
    table_cell,
)

UNIT = "THPT-Q01-01"
PEOPLE = people({"managers": (4, 4, 4, 4, 2, 4), "teachers": (80, 78, 76, 70, 30, 80)})


def initiative(title: str, level: str = "Cấp cơ sở", year: int = 2026) -> dict[str, Any]:
    return {"title": title, "domain": "Thư viện", "authors": "Lê Thị Hoa", "level": level,
            "year": year, "decision": "15/QĐ-THPT"}  # fmt: skip


def two_versions(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    old_lists: dict[str, list[dict[str, Any]]],
    new_lists: dict[str, list[dict[str, Any]]],
) -> RunResult:
    """The unit's report, then the same report corrected three days later."""
    unit = registry.units[UNIT]
    area = registry.area_of(unit).name
    old = base_scalars(UNIT, unit.name, area, dt.datetime(YEAR, 11, 25))
    new = dict(old, report_date=dt.datetime(YEAR, 11, 28))
    subs = [
        raw(schemas, "cu.xlsx", UNIT, "xhht-truong", old, old_lists),
        raw(schemas, "moi.xlsx", UNIT, "xhht-truong", new, new_lists),
    ]
    result = consolidate(subs, YEAR, schemas, registry, settings)
    assert result.kept == {UNIT: "moi.xlsx"}
    return result


def list_changes(result: RunResult) -> list[tuple[str, str, str, object, object]]:
    frame = result.changes[result.changes["field"] != "report_date"]
    assert (frame["old_file"] == "cu.xlsx").all() and (frame["new_file"] == "moi.xlsx").all()
    return [
        (r.field, r.item, r.change, r.old_value, r.new_value) for r in frame.itertuples(index=False)
    ]


# (id, old initiatives, new initiatives, expected (field, item, change, old, new) rows)
CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[tuple[Any, ...]]]] = [
    (
        "same-key-other-spelling-and-level",
        [initiative("Câu lạc bộ đọc sách")],
        # The reader makes runs of spaces one: the end full stop is what differs.
        [initiative("Câu lạc bộ  đọc sách.", "Cấp thành phố")],
        [
            ("initiatives.title", "Câu lạc bộ đọc sách.", "changed",
             "Câu lạc bộ đọc sách", "Câu lạc bộ đọc sách."),
            ("initiatives.level", "Câu lạc bộ đọc sách.", "changed", "unit", "city"),
        ],
    ),
    (
        "case-only",
        [initiative("Câu lạc bộ đọc sách")],
        [initiative("CÂU LẠC BỘ ĐỌC SÁCH")],
        [("initiatives.title", "CÂU LẠC BỘ ĐỌC SÁCH", "changed",
          "Câu lạc bộ đọc sách", "CÂU LẠC BỘ ĐỌC SÁCH")],
    ),
    (
        "added",
        [initiative("Câu lạc bộ đọc sách")],
        [initiative("Câu lạc bộ đọc sách"), initiative("Tủ sách")],
        [("initiatives", "Tủ sách", "added", None, "Tủ sách")],
    ),
    (
        "removed-and-moved-up",
        [initiative("Câu lạc bộ đọc sách"), initiative("Tủ sách")],
        [initiative("Tủ sách")],
        [("initiatives", "Câu lạc bộ đọc sách", "removed", "Câu lạc bộ đọc sách", None)],
    ),
    (
        "new-title-is-a-new-row",
        [initiative("Thư viện số")],
        [initiative("Thư viện số hóa")],
        [
            ("initiatives", "Thư viện số hóa", "added", None, "Thư viện số hóa"),
            ("initiatives", "Thư viện số", "removed", "Thư viện số", None),
        ],
    ),
    (
        "same-title-twice-matched-in-order",
        [initiative("Tủ sách", year=2020), initiative("Tủ sách", year=2021)],
        [initiative("Tủ sách", year=2020)],
        [("initiatives", "Tủ sách", "removed", "Tủ sách", None)],
    ),
    ("no-change", [initiative("Tủ sách")], [initiative("Tủ sách")], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_initiative_rows_matched_by_title(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    expected: list[tuple[Any, ...]],
) -> None:
    result = two_versions(
        schemas,
        registry,
        settings,
        {"people": PEOPLE, "initiatives": old},
        {"people": PEOPLE, "initiatives": new},
    )
    assert list_changes(result) == expected


def test_removed_duplicate_points_at_its_old_row(
    schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    old = [initiative("Tủ sách", year=2020), initiative("Tủ sách", year=2021)]
    result = two_versions(
        schemas,
        registry,
        settings,
        {"people": PEOPLE, "initiatives": old},
        {"people": PEOPLE, "initiatives": old[:1]},
    )
    (row,) = result.changes[result.changes["change"] == "removed"].itertuples(index=False)
    # tests/report_data puts list row r (0-based) on line 6 + r, the title in column A.
    assert (row.old_cell, row.new_cell) == (f"{LIST_SHEETS['initiatives']}!A7", "")


def test_people_cells_by_group(schemas: Schemas, registry: Registry, settings: Settings) -> None:
    new = people({"managers": (4, 4, 4, 4, 2, 4), "teachers": (85, 78, 76, 70, 31, 80)})
    result = two_versions(schemas, registry, settings, {"people": PEOPLE}, {"people": new})
    assert list_changes(result) == [
        ("people.teachers.total", "Giáo viên", "changed", 80, 85),
        ("people.teachers.foreign_language", "Giáo viên", "changed", 30, 31),
    ]


def test_people_group_left_out_and_filled_in(
    schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """A group left blank in the first version (the row is not read) and filled later."""
    only_managers = people({"managers": (4, 4, 4, 4, 2, 4)})
    result = two_versions(
        schemas, registry, settings, {"people": only_managers}, {"people": PEOPLE}
    )
    assert list_changes(result) == [("people", "Giáo viên", "added", None, "teachers")]


def test_nominations_matched_by_name(
    schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    def nomination(name: str, form: str) -> dict[str, Any]:
        return {"nominee_kind": "Cá nhân", "nominee_name": name, "position": "Giáo viên",
                "proposed_form": form, "achievements": "Nhiều đóng góp."}  # fmt: skip

    old = [nomination("Phạm Minh Tuấn", "Giấy khen của Giám đốc Sở")]
    new = [nomination("phạm minh tuấn", "Bằng khen của Chủ tịch UBND thành phố")]
    result = two_versions(
        schemas, registry, settings, {"people": PEOPLE, "nominations": old},
        {"people": PEOPLE, "nominations": new},
    )  # fmt: skip
    assert list_changes(result) == [
        ("nominations.nominee_name", "phạm minh tuấn", "changed",
         "Phạm Minh Tuấn", "phạm minh tuấn"),
        ("nominations.proposed_form", "phạm minh tuấn", "changed",
         "director_certificate", "city_merit"),
    ]  # fmt: skip


def test_key_fields_come_from_the_schema(schemas: Schemas) -> None:
    keys = {lst.code: key_field(lst) for lst in schemas.report.lists}
    assert keys == {"people": "group", "initiatives": "title", "nominations": "nominee_name"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Câu lạc bộ đọc sách", "  câu lạc bộ   ĐỌC SÁCH. "),
        ("“Tủ sách lớp học”", "Tủ sách lớp học"),
        ("Thư viện\u00a0số", "thư viện số"),
        (unicodedata.normalize("NFD", "Thư viện"), "thư viện"),  # typed on a Mac
    ],
)
def test_row_key_same(a: str, b: str) -> None:
    assert row_key(a) == row_key(b)


@pytest.mark.parametrize(("a", "b"), [("Thư viện số", "Thư viện số hóa"), ("Thư viện", "Thu vien")])
def test_row_key_different(a: str, b: str) -> None:
    assert row_key(a) != row_key(b)


# --------------------------------------------------------------------------- end to end


def test_per_unit_template_sent_twice(
    schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    """A changed people figure, an initiative added and one removed: the exact rows of
    resubmission_changes.csv, old → new, with the cells of both files."""
    first_initiatives = [
        *CLEAN_INITIATIVES,
        {"title": "Tủ sách lớp học", "domain": "Thư viện", "authors": "Trần Văn Nam",
         "level": "Cấp cơ sở", "year": 2026, "decision": "16/QĐ-THPT"},
    ]  # fmt: skip
    second_initiatives = [
        CLEAN_INITIATIVES[0],
        {"title": "Ngày hội học tập số", "domain": "Chuyển đổi số", "authors": "Lê Thị Hoa",
         "level": "Cấp cơ sở", "year": 2026, "decision": "20/QĐ-THPT"},
    ]  # fmt: skip
    second_people = [dict(row) for row in CLEAN_PEOPLE]
    second_people[1]["total"] = 85  # Giáo viên: 80 → 85
    old_wb = school_workbook(
        schemas, registry, settings,
        values=dict(CLEAN_SCHOOL, report_date=dt.datetime(2026, 11, 25)),
        lists={"people": CLEAN_PEOPLE, "initiatives": first_initiatives,
               "nominations": CLEAN_NOMINATIONS},
    )  # fmt: skip
    new_wb = school_workbook(
        schemas, registry, settings,
        values=dict(CLEAN_SCHOOL, report_date=dt.datetime(2026, 11, 28)),
        lists={"people": second_people, "initiatives": second_initiatives,
               "nominations": CLEAN_NOMINATIONS},
    )  # fmt: skip
    inbox = tmp_path / "in"
    save(old_wb, inbox / "THPT-Q01-01_lan-1.xlsx")
    save(new_wb, inbox / "THPT-Q01-01_lan-2.xlsx")
    raws = [read_submission(p, inbox, schemas.report) for p in sorted(inbox.iterdir())]
    result = consolidate(raws, 2026, schemas, registry, settings)
    write_tables(result, tmp_path / "out")
    with (tmp_path / "out" / "resubmission_changes.csv").open(encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        assert next(reader) == CHANGE_COLUMNS
        rows = [dict(zip(CHANGE_COLUMNS, r, strict=True)) for r in reader]
    old, new = "THPT-Q01-01_lan-1.xlsx", "THPT-Q01-01_lan-2.xlsx"
    assert {(r["old_file"], r["new_file"], r["unit_code"]) for r in rows} == {(old, new, UNIT)}
    assert [
        (r["field"], r["item"], r["change"], r["old_value"], r["new_value"], r["old_cell"],
         r["new_cell"])
        for r in rows
    ] == [
        ("report_date", "", "changed", "2026-11-25", "2026-11-28",
         cell_of(old_wb, "report_date"), cell_of(new_wb, "report_date")),
        ("people.teachers.total", "Giáo viên", "changed", "80", "85",
         table_cell(old_wb, "people", 2, "total"), table_cell(new_wb, "people", 2, "total")),
        ("initiatives", "Ngày hội học tập số", "added", "", "Ngày hội học tập số",
         "", table_cell(new_wb, "initiatives", 2, "title")),
        ("initiatives", "Tủ sách lớp học", "removed", "Tủ sách lớp học", "",
         table_cell(old_wb, "initiatives", 2, "title"), ""),
    ]  # fmt: skip
