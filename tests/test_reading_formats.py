"""Files as they really arrive: saved by LibreOffice (.ods) or old Excel (.xls), formulas."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from pipeline.read import read_submission
from pipeline.registry import Registry
from pipeline.run import consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert
from tests.submission_factory import CLEAN_SCHOOL, cell_of, save, school_workbook

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _convert(src: Path, fmt: str, out_dir: Path) -> Path:
    assert SOFFICE is not None
    return convert(src, fmt, out_dir, exe=SOFFICE)


@pytest.mark.libreoffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_legacy_format_read_when_structure_survives(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings, fmt: str
) -> None:
    src = save(school_workbook(schemas, registry, settings), tmp_path / "src" / "bao-cao.xlsx")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    converted = _convert(src, fmt, inbox)
    before = converted.read_bytes()
    raw = read_submission(converted, inbox, schemas.report)
    assert converted.read_bytes() == before
    assert not raw.rejected, raw.issues
    assert [i.code for i in raw.issues] == ["legacy-format"]
    result = consolidate([raw], 2026, schemas, registry, settings)
    assert result.submissions["status"].tolist() == ["accepted"]
    row = result.data.scalars.loc[f"bao-cao.{fmt}"]
    assert row["campaign_events"] == CLEAN_SCHOOL["campaign_events"]
    assert row["head_of_unit"] == CLEAN_SCHOOL["head_of_unit"]


def test_formula_without_cached_value_is_reported(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    wb = school_workbook(schemas, registry, settings)
    sheet, ref = next(iter(wb.defined_names["campaign_events"].destinations))
    # Written by a program and never opened in Excel: the formula has no stored result.
    wb[sheet][ref.replace("$", "")] = "=2+3"
    path = save(wb, tmp_path / "tu-dong.xlsx")
    raw = read_submission(path, tmp_path, schemas.report)
    assert raw.scalars["campaign_events"].formula_no_cache
    result = consolidate([raw], 2026, schemas, registry, settings)
    found = [(i.code, f"{i.sheet}!{i.cell}") for i in result.issues]
    assert found == [("formula-no-cache", cell_of(wb, "campaign_events"))]


def test_formula_with_cached_value_is_read_by_value(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    if SOFFICE is None:
        pytest.skip("LibreOffice is needed to compute the cached value")
    wb = school_workbook(schemas, registry, settings)
    sheet, ref = next(iter(wb.defined_names["campaign_events"].destinations))
    wb[sheet][ref.replace("$", "")] = "=2+3"
    src = save(wb, tmp_path / "src" / "cong-thuc.xlsx")
    out = tmp_path / "out"
    out.mkdir()
    # A round trip through a spreadsheet program stores the formula's result.
    recalculated = _convert(src, "xlsx:Calc MS Excel 2007 XML", out)
    assert openpyxl.load_workbook(recalculated, data_only=True)[sheet][ref.replace("$", "")].value
    raw = read_submission(recalculated, out, schemas.report)
    result = consolidate([raw], 2026, schemas, registry, settings)
    assert result.data.scalars.loc["cong-thuc.xlsx", "campaign_events"] == 5
    assert [i.code for i in result.issues] == []
