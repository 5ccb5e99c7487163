"""No rate above 100%: aggregates.csv, the workbook's rate cells and the .docx figures.

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
    return len(cells)


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
    bad = [f for f in found if f[0] > 100 + EPS]
    assert not bad, bad
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
