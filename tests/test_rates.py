"""No rate above 100%: aggregates.csv, the workbook's rate cells and the .docx figures;
every numerator within its denominator as shown, and every rate the quotient of the base
shown with it (docs/dac-ta-tieu-chi.md 8.4).

Specification: a rate is a part over its whole (aggregate.ratios). Both sums run over the
units (people rows) where both figures are known and the part is not larger, so no rate
can exceed 100% — whatever the units typed: blanks, a part above its whole, a value blanked
by an error while its partner stays. Checked over the bundled samples of every year and
over generated reports (hypothesis: random people matrices and institution counts,
including blanks and violations).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.aggregate import ratios
from pipeline.cli import main
from pipeline.narrative import build_narrative
from pipeline.registry import Registry
from pipeline.report import build_workbook
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import base_scalars, raw

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_YEARS = (2023, 2024, 2025, 2026)
EPS = 1e-9
PERCENT = re.compile(r"(\d{1,3}(?:\.\d{3})*(?:,\d+)?)\s?%")


NUMBER = r"\d{1,3}(?:\.\d{3})+|\d+"
RATIO = re.compile(rf"(?<![\w.,/])({NUMBER})/({NUMBER})(?![\d/]|[.,]\d)")
"""“102/108”: a numerator shown over its denominator (Vietnamese thousands dots)."""
RATE_WITH_BASE = re.compile(
    rf"(\d{{1,3}}(?:,\d+)?)%(?: = |, tính trên | \()({NUMBER})/({NUMBER})(?![\d/]|[.,]\d)"
)
"""“94,4% (102/108”, “95% = 76/80”, “95%, tính trên 76/80”: a rate beside its own base."""
NOT_A_RATIO = re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b|\d+/(?:\d{4}/)?[A-ZĐ][\wĐđ&-]*")
"""Dates and document numbers (12/QĐ-THPT, 24/2023/TT-BGDĐT): not ratios."""


def _vn(number: str) -> float:
    return float(number.replace(".", "").replace(",", "."))


def check_text_ratios(text: str) -> int:
    """Every “a/b” shown in a text has a ≤ b, and a rate shown with its base is a/b (to the
    one decimal shown). Returns how many were checked."""
    text = NOT_A_RATIO.sub(" ", text)
    checked = 0
    for m in RATIO.finditer(text):
        assert _vn(m.group(1)) <= _vn(m.group(2)), (m.group(0), text)
        checked += 1
    for m in RATE_WITH_BASE.finditer(text):
        rate, num, den = _vn(m.group(1)), _vn(m.group(2)), _vn(m.group(3))
        # Shown truncated to 0,1% (pipeline.rates): never above the exact rate, less than one
        # step below it.
        exact = num / den * 100 if den > 0 else -1.0
        assert den > 0 and -EPS <= exact - rate < 0.1 + EPS, (m.group(0), text)
    return checked


def rate_fields(schemas: Schemas) -> set[str]:
    return {r.field for r in ratios(schemas)}


def check_aggregates(aggs: pd.DataFrame, schemas: Schemas) -> int:
    """Every rate in [0, 1]; every pair's numerator within its denominator. Returns #rates."""
    values = aggs.set_index(["level", "key", "field"])["value"].astype(float)
    rates = aggs[aggs["field"].isin(rate_fields(schemas))]
    bad = rates[(rates["value"].astype(float) > 1 + EPS) | (rates["value"].astype(float) < 0)]
    assert bad.empty, bad.to_string()
    for r in ratios(schemas):
        nums = aggs[aggs["field"] == r.numerator]
        for row in nums.itertuples(index=False):
            den = values.get((row.level, row.key, r.denominator))
            assert den is not None and float(row.value) <= den + EPS, (row, r.field)
            # The rate written is the quotient of the pair written beside it (aggregates.csv
            # keeps six decimals).
            rate = values.get((row.level, row.key, r.field))
            if den:
                assert rate is not None and abs(rate - float(row.value) / den) <= 1e-6, r.field
    return len(rates)


def percent_cells(book: bytes) -> list[tuple[str, str, float]]:
    """(sheet, cell, cached value) of every number shown as a percentage."""
    wb = openpyxl.load_workbook(io.BytesIO(book), data_only=True, read_only=False)
    out = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if "%" in str(cell.number_format) and isinstance(cell.value, int | float):
                    out.append((ws.title, cell.coordinate, float(cell.value)))
    return out


def check_workbook(book: bytes) -> int:
    cells = percent_cells(book)
    bad = [c for c in cells if not -EPS <= c[2] <= 1 + EPS]
    assert not bad, bad
    wb = openpyxl.load_workbook(io.BytesIO(book), data_only=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    check_text_ratios(value)
    check_form_01_as_shown(wb["Biểu 01"])
    return len(cells)


def _shown_as(cell: float, exact: float) -> bool:
    """A rate cell holds the exact rate truncated to 0,1% (pipeline.rates)."""
    return -EPS <= exact - cell < 0.001 + EPS


def check_form_01_as_shown(ws: Any) -> None:
    """Biểu 01: the targets' rate is “Số đạt” / “Tổng số” of its row, each part within its
    whole; a people group's rate is its shown count over the shown “Tổng số”, unless a remark
    under the table gives the rate's own base (docs/dac-ta-tieu-chi.md 8.4)."""
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    remarks = [str(r[0]) for r in rows if isinstance(r[0], str) and r[0].startswith("Tỷ lệ “")]
    header: list[Any] | None = None
    for r in rows:
        if r and r[0] == "STT":
            header = r
            continue
        if header is None or not r or not isinstance(r[0], int):
            continue
        if "Số đạt" in header and "Tỷ lệ đạt" in header:
            num, den = r[header.index("Số đạt")], r[header.index("Tổng số")]
            rate = r[header.index("Tỷ lệ đạt")]
            if isinstance(num, int | float) and isinstance(den, int | float):
                assert num <= den, r
                if den:
                    assert rate is not None and _shown_as(rate, num / den), r
        elif "Nhóm" in header and "Tổng số" in header:
            whole = r[header.index("Tổng số")]
            for i, title in enumerate(header):
                if title != "Tỷ lệ" or r[i] is None:
                    continue
                part, rate = r[i - 1], float(r[i])
                shown = (
                    isinstance(part, int | float)
                    and isinstance(whole, int | float)
                    and whole
                    and _shown_as(rate, part / whole)
                )
                said = [t for t in remarks if f"của nhóm {r[1]} là " in t]
                label = str(header[i - 1]).replace("“", "‘").replace("”", "’")
                said = [t for t in said if t.startswith(f"Tỷ lệ “{label}”")]
                assert shown or said, (r[1], header[i - 1], part, whole, rate)


def docx_percentages(data: bytes) -> list[tuple[float, str]]:
    doc = Document(io.BytesIO(data))
    texts = [p.text for p in doc.paragraphs]
    texts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    found = []
    for text in texts:
        for m in PERCENT.finditer(text):
            found.append((float(m.group(1).replace(".", "").replace(",", ".")), text))
    return found


def check_docx(data: bytes) -> int:
    found = docx_percentages(data)
    bad = [f for f in found if not 0 <= f[0] <= 100 + EPS]
    assert not bad, bad
    doc = Document(io.BytesIO(data))
    for p in doc.paragraphs:
        check_text_ratios(p.text)
    for t in doc.tables:
        for row in t.rows:
            for c in row.cells:
                check_text_ratios(c.text)
    return len(found)


# --------------------------------------------------------------------------- the samples


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Each year's samples consolidated on its own (no year before: no year-on-year sheet,
    whose “Tỷ lệ tăng, giảm” is a growth, not a share)."""
    out: dict[int, Path] = {}
    for year in SAMPLE_YEARS:
        root = tmp_path_factory.mktemp(f"rates{year}")
        result = CliRunner().invoke(
            main,
            [
                "consolidate",
                "--year",
                str(year),
                "--input",
                str(ROOT / "samples" / str(year)),
                "--output",
                str(root),
                "--workers",
                "1",
                "-q",
            ],
        )
        assert result.exit_code == 0, result.output
        out[year] = root / str(year)
    return out


@pytest.mark.parametrize("year", SAMPLE_YEARS)
def test_no_rate_above_one_in_the_samples(
    sample_runs: dict[int, Path], schemas: Schemas, year: int
) -> None:
    folder = sample_runs[year]
    aggs = pd.read_csv(folder / "data" / "aggregates.csv", encoding="utf-8-sig")
    assert check_aggregates(aggs, schemas) > 20
    [book] = folder.glob("bao-cao-tong-hop-*.xlsx")
    assert check_workbook(book.read_bytes()) > 20
    [draft] = folder.glob("du-thao-bao-cao-*.docx")
    assert check_docx(draft.read_bytes()) > 5


# --------------------------------------------------------------------------- generated cases

GROUPS = ("managers", "teachers", "staff", "learners")
COUNT = st.one_of(st.none(), st.integers(0, 60))
ROW = st.fixed_dictionaries(
    {
        "total": COUNT,
        "registered": COUNT,
        "recognised": COUNT,
        "digital_competent": COUNT,
        "foreign_language": COUNT,
        "online_learning": COUNT,
    }
)
UNIT = st.fixed_dictionaries(
    {
        "people": st.lists(ROW, min_size=4, max_size=4),
        "level": st.sampled_from(["Chưa đạt", "Mức 1", None]),
        "institutions": st.tuples(COUNT, COUNT, COUNT),
        "typo": st.sampled_from([None, "total", "recognised", "registered"]),
    }
)


def _result(
    units: list[dict[str, Any]], schemas: Schemas, registry: Registry, config: Settings
) -> RunResult:
    codes = [u.code for u in registry.units.values()]
    subs = []
    for i, spec in enumerate(units):
        unit = registry.units[codes[i * 7 % len(codes)]]
        area = registry.areas[unit.area_code].name
        office = unit.type == "area_office"
        scalars = base_scalars(unit.code, unit.name, area, dt.datetime(2026, 11, 20))
        scalars["unit_type"] = schemas.report.unit_type_label(unit.type)
        scalars["ldu_recognised_level"] = spec["level"]
        if office:
            scalars.update(
                documents_advised=2,
                inspections=3,
                **dict(
                    zip(
                        (
                            "institutions_total",
                            "institutions_registered",
                            "institutions_recognised",
                        ),
                        spec["institutions"],
                        strict=True,
                    )
                ),
            )
        people = [{"group": g, **row} for g, row in zip(GROUPS, spec["people"], strict=True)]
        if spec["typo"]:
            # An unparseable cell: an error that blanks one value while its partner stays.
            people[1][spec["typo"]] = "mười"
        template = "xhht-phong" if office else "xhht-truong"
        subs.append(
            raw(schemas, f"{unit.code}.xlsx", unit.code, template, scalars, {"people": people})
        )
    return consolidate(subs, 2026, schemas, registry, config)


def _bounded(env: str, default: int) -> Any:
    """Bounded for the shared CI machine; raise the environment variable to search deeper."""
    return settings(
        max_examples=int(os.environ.get(env, str(default))),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_bounded("RATE_EXAMPLES", 20)
@given(units=st.lists(UNIT, min_size=1, max_size=5))
def test_no_generated_rate_above_one_in_aggregates(
    units: list[dict[str, Any]], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    result = _result(units, schemas, registry, settings)
    check_aggregates(result.aggregates, schemas)
    for t in result.targets.itertuples(index=False):
        if pd.notna(t.rate):
            assert t.numerator <= t.denominator and t.rate <= 1 + EPS


@_bounded("RATE_DOCUMENT_EXAMPLES", 6)
@given(units=st.lists(UNIT, min_size=1, max_size=4))
def test_no_generated_rate_above_one_in_the_workbook_and_the_draft(
    units: list[dict[str, Any]], schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    result = _result(units, schemas, registry, settings)
    check_workbook(build_workbook(result))
    check_docx(build_narrative(result))


def test_the_text_check_sees_a_part_above_its_whole_and_a_wrong_rate() -> None:
    """The text check can fail: 9/8 shown, or 95% beside 70/80; dates and document numbers
    are no ratios."""
    assert check_text_ratios("đạt 94,4% (102/108 người), ngày 25/11/2026, số 24/2023/TT-BGDĐT") == 1
    with pytest.raises(AssertionError):
        check_text_ratios("cán bộ quản lý 9/8 người")
    with pytest.raises(AssertionError):
        check_text_ratios("giáo viên 70 người (95%, tính trên 70/80 người)")


def test_the_check_sees_a_rate_above_one() -> None:
    """The workbook check can fail: a percentage cell of 150% is found."""
    buffer = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1.5
    wb.active["A1"].number_format = "0.0%"
    wb.save(buffer)
    assert percent_cells(buffer.getvalue()) == [("Sheet", "A1", 1.5)]
    with pytest.raises(AssertionError):
        check_workbook(buffer.getvalue())
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))
