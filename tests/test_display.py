"""How figures are shown next to their verdicts: the worked cases of docs/dac-ta-tieu-chi.md.

Each test reads its case table from the specification (``<!-- display: … -->``), so the
document and the tests cannot drift apart:

* mục 1.4 (``rates``): a rate is shown truncated to 0,1% everywhere — workbook cells, the
  .docx draft, the reasons of verdicts — so 79,96% never shows “80,0%” beside “Không đạt”;
* mục 5.1 (``qd387``): the QĐ 387 target has one denominator, every unit that reported, the
  units whose recognition is unknown counted as not recognised and stated;
* mục 6 (``bieu05``): Biểu 05 shows “Chưa đủ số liệu” for a unit whose level cannot be
  decided, and counts it apart from “Chưa đạt”;
* mục 7 (``change``): the draft states the change from last year, then last year's figure.

Every case runs through the real stages (a submission as the reader hands it over,
consolidation, the workbook and the draft as written).
"""

from __future__ import annotations

import dataclasses
import io
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pandas as pd
import pytest

from pipeline import narrative as nv
from pipeline import rates
from pipeline.evaluate import at_least
from pipeline.history import Previous
from pipeline.registry import Registry
from pipeline.report import UNDECIDED_ROW, build_workbook
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.test_criteria_cases import CASES, run_cases

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "dac-ta-tieu-chi.md"
YEAR = 2026


def spec_table(name: str) -> list[list[str]]:
    """The rows of the table after `<!-- display: name -->`, cells stripped, codes unquoted."""
    text = SPEC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- display: {re.escape(name)} -->\n(.*?)\n\n", text + "\n\n", re.S)
    assert m, f"docs/dac-ta-tieu-chi.md has no table “display: {name}”"
    lines = m.group(1).splitlines()[2:]  # header, separator
    return [[c.strip().strip("`") for c in line.strip("|").split("|")] for line in lines]


def vn_count(text: str) -> int:
    return int(text.replace(".", ""))


def quoted(text: str) -> str:
    """The text inside “…” (the whole cell when unquoted)."""
    m = re.fullmatch(r"“(.*)”", text)
    return m.group(1) if m else text


def body_text(data: bytes) -> str:
    doc = docx.Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)


def sheet(book: bytes, name: str, data_only: bool = True) -> Any:
    return openpyxl.load_workbook(io.BytesIO(book), data_only=data_only)[name]


def row_starting(ws: Any, text: str, col: int | None = None, after: int = 0) -> int:
    for row in ws.iter_rows(min_row=after + 1):
        for cell in row:
            if (col is None or cell.column == col) and str(cell.value or "").startswith(text):
                return int(cell.row)
    raise AssertionError(f"no row starting “{text}” in {ws.title}")


def header_columns(ws: Any, header: str) -> dict[str, int]:
    row = row_starting(ws, header)
    return {str(c.value): int(c.column) for c in ws[row] if c.value is not None}


def shown_percent(value: float) -> str:
    """A cached cell value as Excel shows it under the format 0.0% (vi-VN comma)."""
    return f"{value * 100:.1f}".replace(".", ",") + "%"


# --------------------------------------------------------------------------- mục 1.4

RATE_ROWS = spec_table("rates")


@pytest.mark.parametrize("row", RATE_ROWS, ids=[r[0] for r in RATE_ROWS])
def test_rate_display_rule(row: list[str]) -> None:
    """The one formatter: text, workbook value and verdict agree at and around the target."""
    _, num, den, _, in_cell, in_text, verdict = row
    n, d = vn_count(num), vn_count(den)
    assert rates.pct_text(Fraction(n, d)) == in_text
    assert rates.pct_text(n / d) == in_text
    cell = rates.shown_ratio(float(n), float(d))
    assert cell is not None and shown_percent(cell) == in_cell
    assert ("đạt" if at_least(n, d, 0.8) else "không đạt") == verdict
    # A shown figure never reads as reaching the target its verdict says is missed.
    assert (cell >= 0.8) == (verdict == "đạt")


def members_case(case_id: str, recognised: int, total: int) -> dict[str, Any]:
    """A school whose teachers are its only members: `recognised` of `total`."""
    return {
        "id": case_id,
        "base": "school",
        "people": {
            "Cán bộ quản lý": None,
            "Nhân viên": None,
            "Giáo viên": {"total": total, "registered": total, "recognised": recognised},
        },
    }


@pytest.mark.parametrize("row", RATE_ROWS, ids=[r[0] for r in RATE_ROWS])
def test_rate_beside_its_verdict_in_every_output(
    row: list[str], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Biểu 01 (cached value and a formula that truncates), Biểu 04's reason and the .docx
    show the truncated rate next to the verdict (QĐ 677 target 80% in 2026)."""
    case_id, num, den, _, in_cell, in_text, verdict = row
    outcome = run_cases(
        schemas, registry, settings, [members_case(case_id, vn_count(num), vn_count(den))]
    )[case_id]
    result = outcome.result
    book = build_workbook(result)
    label = next(t.label for t in schemas.criteria.targets if t.code == "cdht_members")
    ws, formulas = sheet(book, "Biểu 01"), sheet(book, "Biểu 01", data_only=False)
    cols = header_columns(ws, "STT")
    r = row_starting(ws, label, cols["Chỉ tiêu"])
    rate_col = cols["Tỷ lệ đạt"]
    assert shown_percent(ws.cell(r, rate_col).value) == in_cell
    assert "ROUNDDOWN(" in str(formulas.cell(r, rate_col).value)
    assert ws.cell(r, cols["Đánh giá"]).value == ("Đạt" if verdict == "đạt" else "Chưa đạt")
    c1 = outcome.criteria.set_index("criterion").loc["c1"]
    assert c1["status"] == verdict
    assert f"tỷ lệ {in_text}" in c1["reason"]
    text = body_text(nv.build_narrative(result))
    said = "đạt" if verdict == "đạt" else "chưa đạt"
    assert re.search(
        rf"{re.escape(label)} đạt {re.escape(in_text)} \([^)]*\), {said} chỉ tiêu 80%", text
    ), text


# --------------------------------------------------------------------------- mục 5.1

# The units of each case of the table (values changed from the school base).
VALID_1 = {"ldu_recognised_level": "Mức 1", "ldu_recognised_year": 2025, "ldu_level1_year": 2025}
QD387_UNITS: dict[str, list[dict[str, Any]]] = {
    "qd387-du": [VALID_1] * 4,
    "qd387-muc-trong": [VALID_1] * 3 + [{"ldu_recognised_level": None}],
    "qd387-thieu-nam": [VALID_1] * 3 + [{"ldu_recognised_year": None}],
    "qd387-hai-chua-ro": [
        {"ldu_recognised_level": "Mức 2", "ldu_recognised_year": 2026, "ldu_level1_year": 2024},
        {"ldu_recognised_level": "Mức 2", "ldu_recognised_year": 2026, "ldu_level1_year": 2024},
        {"ldu_recognised_level": None},
        {"ldu_recognised_year": None},
    ],
    "qd387-het-hieu-luc": [VALID_1] * 3 + [{"ldu_recognised_year": 2023, "ldu_level1_year": 2023}],
    "qd387-chua-dat": [VALID_1] * 3
    + [{"ldu_recognised_level": "Chưa đạt", "ldu_recognised_year": None, "ldu_level1_year": None}],
}
QD387_ROWS = spec_table("qd387")


def test_every_qd387_case_is_specified() -> None:
    assert [r[0] for r in QD387_ROWS] == list(QD387_UNITS)


@pytest.fixture(scope="module")
def qd387_runs(schemas: Schemas, registry: Registry, settings: Settings) -> dict[str, RunResult]:
    out = {}
    for case_id, units in QD387_UNITS.items():
        cases = [
            {"id": f"{case_id}-{i + 1}", "base": "school", "values": values}
            for i, values in enumerate(units)
        ]
        outcomes = run_cases(schemas, registry, settings, cases)
        out[case_id] = next(iter(outcomes.values())).result
    return out


@pytest.mark.parametrize("row", QD387_ROWS, ids=[r[0] for r in QD387_ROWS])
def test_qd387_one_denominator_everywhere(
    row: list[str], qd387_runs: dict[str, RunResult], schemas: Schemas
) -> None:
    case_id, _, num, den, shown, phrase = row
    n, d, phrase = float(vn_count(num)), float(vn_count(den)), quoted(phrase)
    result = qd387_runs[case_id]
    assert len(result.units) == len(QD387_UNITS[case_id])
    target = next(t for t in schemas.criteria.targets if t.code == "ldu_units")
    # aggregates.csv
    aggs = result.aggregates
    city = aggs[aggs["level"] == "city"].set_index("field")["value"].astype(float)
    assert city[f"target.{target.code}.numerator"] == n
    assert city[f"target.{target.code}.denominator"] == d
    assert rates.pct_text(city[f"target.{target.code}"]) == shown
    unknown = float(city.get("ldu_recognition_unknown", 0.0))
    if phrase:
        assert f"trong đó {int(unknown)} đơn vị chưa rõ" in phrase
    else:
        assert unknown == 0
    book = build_workbook(result)
    # Biểu 01, mục I: the same pair, the phrase in the label.
    ws = sheet(book, "Biểu 01")
    cols = header_columns(ws, "STT")
    r = row_starting(ws, target.label, cols["Chỉ tiêu"])
    assert ws.cell(r, cols["Số đạt"]).value == n
    assert ws.cell(r, cols["Tổng số"]).value == d
    assert rates.pct_text(ws.cell(r, cols["Tỷ lệ đạt"]).value) == shown
    assert phrase in str(ws.cell(r, cols["Chỉ tiêu"]).value)
    # Biểu 02: the total of the recognised column over the number of units, same rate.
    ws2 = sheet(book, "Biểu 02")
    total_row = row_starting(ws2, "Tổng cộng")
    header = row_starting(ws2, "STT")
    heads = [str(c.value) for c in ws2[header]]
    units_col = heads.index("Số đơn vị có báo cáo") + 1
    recognised_col = heads.index("Số đơn vị được công nhận “Đơn vị học tập”, còn hiệu lực") + 1
    assert ws2.cell(total_row, units_col).value == d
    assert ws2.cell(total_row, recognised_col).value == n
    assert rates.pct_text(ws2.cell(total_row, recognised_col + 1).value) == shown
    # Biểu 05: the level count, then the target over every unit.
    ws5 = sheet(book, "Biểu 05")
    r5 = row_starting(ws5, target.label)
    assert phrase in str(ws5.cell(r5, 3).value or "") + "".join(str(c.value or "") for c in ws5[r5])
    values = [c.value for c in ws5[r5] if isinstance(c.value, float)]
    assert [rates.pct_text(v) for v in values] == [shown]
    total = row_starting(ws5, "Tổng số đơn vị")
    assert d in [c.value for c in ws5[total]]
    # A unit whose recognised level is blank reads “Chưa rõ”, not an empty cell.
    blank_level = sum(1 for v in QD387_UNITS[case_id] if v.get("ldu_recognised_level", 1) is None)
    header5 = row_starting(ws5, "STT")
    col5 = [str(c.value) for c in ws5[header5]].index("Mức được công nhận") + 1
    shown_levels = [ws5.cell(i, col5).value for i in range(header5 + 1, header5 + 1 + int(d))]
    assert shown_levels.count("Chưa rõ") == blank_level
    # The draft.
    text = body_text(nv.build_narrative(result))
    said = f"{target.label} đạt {shown} ({int(n)}/{int(d)} đơn vị"
    assert said + (f"; {phrase})" if phrase else ")") in text, text


# --------------------------------------------------------------------------- mục 6

BIEU05_ROWS = spec_table("bieu05")


@pytest.fixture(scope="module")
def bieu05_book(schemas: Schemas, registry: Registry, settings: Settings) -> bytes:
    wanted = {r[0] for r in BIEU05_ROWS}
    cases = [c for c in CASES if c["id"] in wanted]
    assert {c["id"] for c in cases} == wanted
    outcomes = run_cases(schemas, registry, settings, cases)
    return build_workbook(next(iter(outcomes.values())).result)


def test_bieu05_undecided_level_is_not_chua_dat(bieu05_book: bytes) -> None:
    ws = sheet(bieu05_book, "Biểu 05")
    header = row_starting(ws, "STT")
    cols = {str(c.value): int(c.column) for c in ws[header] if c.value is not None}
    supported = cols["Mức số liệu đáp ứng"]
    shown: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for row in ws.iter_rows(min_row=header + 1):
        m = re.search(r"\(trường hợp ([\w-]+)\)", " ".join(str(c.value or "") for c in row))
        if m:
            shown[m.group(1)] = str(ws.cell(row[0].row, supported).value)
            reasons[m.group(1)] = str(ws.cell(row[0].row, cols["Nhận xét"]).value or "")
    for case_id, level, _ in BIEU05_ROWS:
        assert shown[case_id] == level, case_id
        if level == "Chưa đủ số liệu":
            assert "Chưa đủ số liệu để xét" in reasons[case_id], reasons[case_id]
    # The level count: each row of the table counted on its own line, apart from "Chưa đạt".
    counted = pd.Series([r[2] for r in BIEU05_ROWS]).value_counts()
    assert UNDECIDED_ROW in counted.index
    table = row_starting(ws, "Số đơn vị theo mức")
    for line, count in counted.items():
        r = row_starting(ws, str(line), after=table)
        assert ws.cell(r, supported).value == count, line
    assert ws.cell(row_starting(ws, "Chưa đạt", after=table), supported).value == counted.get(
        "Chưa đạt", 0
    )
    total = row_starting(ws, "Tổng số đơn vị", after=table)
    assert ws.cell(total, supported).value == len(BIEU05_ROWS)


# --------------------------------------------------------------------------- mục 7

CHANGE_ROWS = spec_table("change")
UNITS = {"Số hoạt động, sự kiện tuyên truyền": ("campaign_events", "hoạt động")}


def city_frame(result: RunResult, values: dict[str, float | None]) -> pd.DataFrame:
    rows = [
        {"level": "city", "key": result.city_key, "field": f, "value": v}
        for f, v in values.items()
        if v is not None
    ]
    return pd.DataFrame(rows, columns=["level", "key", "field", "value"])


def figure(text: str) -> float | None:
    if text == "để trống":
        return None
    if text.endswith("%"):
        return float(Fraction(text[:-1].replace(",", ".")) / 100)
    return float(vn_count(text))


@pytest.mark.parametrize("row", CHANGE_ROWS, ids=[r[0] for r in CHANGE_ROWS])
def test_change_from_last_year_sentence(
    row: list[str], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    _, label, now, before, want = row
    empty = consolidate([], YEAR, schemas, registry, settings)
    if label in UNITS:
        key, unit = UNITS[label]
        show = nv.count_text
    else:
        key = next(f"target.{t.code}" for t in schemas.criteria.targets if t.label == label)
        unit, show = "", nv.pct_text
    current = dataclasses.replace(empty, aggregates=city_frame(empty, {key: figure(now)}))
    # Last year has results (another figure), this one blank or not.
    previous = city_frame(empty, {key: figure(before), "units": 100.0})
    fig = nv.Figures(current, previous)
    assert fig.versus(key, show, unit) == quoted(want)
    # Without any results of last year: nothing about last year.
    assert nv.Figures(current, None).versus(key, show, unit) == ""


def test_form_13_change_of_a_rate_is_the_difference_of_the_shown_rates(
    schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """Biểu 13 (mục 1.4, mục 7): 80,00% last year, 79,96% this year → shown 80,0% and 79,9%,
    change −0,1 point: the reader's subtraction of the shown figures gives the shown change."""
    result = run_cases(schemas, registry, settings, [members_case("bieu-13", 7996, 10000)])[
        "bieu-13"
    ].result
    before = result.aggregates.copy()
    before["value"] = before["value"].astype("float64")
    before.loc[before["field"] == "target.cdht_members", "value"] = 0.8
    empty = pd.DataFrame(columns=["year", "unit_code", "field", "value"])
    previous = Previous(YEAR - 1, empty, before)
    run = dataclasses.replace(result, extra={**result.extra, "previous": previous})
    ws = sheet(build_workbook(run), "Biểu 13")
    label = next(t.label for t in schemas.criteria.targets if t.code == "cdht_members")
    r = row_starting(ws, label, after=row_starting(ws, "II. CÁC TỶ LỆ"))
    then, now, change = (ws.cell(r, c).value for c in (3, 4, 5))
    assert (shown_percent(then), shown_percent(now)) == ("80,0%", "79,9%")
    assert change == pytest.approx(-0.001) and shown_percent(change) == "-0,1%"
