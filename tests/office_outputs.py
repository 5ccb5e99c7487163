"""Every kind of spreadsheet the product writes, built once for the tests that open them all.

Kinds: the consolidated report, the phase review, the roll-up table, the blank templates of
both variants, a unit's own template (the fast stamping path), and the feedback copy of a
filled template on both paths (direct package edit and openpyxl). Built from the in-memory
run of tests/report_data.py and the real templates, nothing read from samples/, except the
review, which needs three consolidated years (the committed 2023-2025 samples).
"""

from __future__ import annotations

import dataclasses
import html
import io
import re
import zipfile
from pathlib import Path

from click.testing import CliRunner

from pipeline import feedback, feedback_openpyxl, report, rollup
from pipeline.cli import main
from pipeline.export import write_tables
from pipeline.issues import Issue
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes, write_template
from tests.report_data import YEAR, build_result
from tests.submission_factory import cell_of, school_workbook

KINDS = (
    "report",
    "review",
    "rollup",
    "template-school",
    "template-area",
    "template-unit",
    "feedback-direct",
    "feedback-openpyxl",
)


def every_workbook(
    schemas: Schemas, registry: Registry, settings: Settings, work: Path
) -> dict[str, bytes]:
    """Kind → the .xlsx bytes the product writes for it."""
    out: dict[str, bytes] = {}
    result = build_result(schemas, registry, settings)
    out["report"] = report.build_workbook(result)

    res = CliRunner().invoke(
        main,
        [
            "consolidate",
            "--phase",
            "2023-2025",
            "--output",
            str(work / "o"),
            "-q",
            "--workers",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    out["review"] = (work / "o" / "review-2023-2025" / "bao-cao-so-ket-2023-2025.xlsx").read_bytes()

    specs = []
    for folder, city in (("so-a", settings.city_name), ("so-b", "Tỉnh Mẫu B")):
        other = build_result(schemas, registry, dataclasses.replace(settings, city_name=city))
        write_tables(other, work / folder / str(YEAR))
        specs.append(f"{city}={work / folder}")
    out["rollup"] = rollup.write_rollup(specs, YEAR, schemas, "Toàn quốc", work / "r").read_bytes()

    for variant in schemas.report.variants:
        wb = build_template(schemas.report, variant.code, YEAR, settings, registry)
        kind = f"template-{variant.code.removesuffix('_office')}"
        out[kind] = template_bytes(wb)
    unit = registry.units["THPT-Q01-01"]
    code = schemas.report.variant_for_unit_type(unit.type).code
    (work / "t").mkdir()
    path = write_template(schemas.report, code, YEAR, settings, registry, unit, path=work / "t")
    out["template-unit"] = path.read_bytes()

    filled = school_workbook(schemas, registry, settings)
    source = work / "don-vi.xlsx"
    source.write_bytes(template_bytes(filled))
    sheet, cell = cell_of(filled, "campaign_events").split("!")
    issues = [
        Issue(
            code="invalid-number",
            severity="error",
            message="Nhập một số, không kèm chữ.",
            file=source.name,
            unit_code=unit.code,
            sheet=sheet,
            cell=cell,
            field="campaign_events",
            value="mười hai",
        )
    ]
    direct = feedback.write_feedback(source, issues, work / "direct.xlsx", source.name)
    out["feedback-direct"] = direct.read_bytes()
    out["feedback-openpyxl"] = feedback_openpyxl.openpyxl_feedback(source, issues, source.name)
    assert set(out) == set(KINDS)
    return out


def package_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def sheet_xml(data: bytes) -> dict[str, str]:
    """Sheet name → its worksheet XML, in workbook order."""
    parts = package_parts(data)
    workbook = parts["xl/workbook.xml"].decode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    targets = {}
    for rel in re.findall(r"<Relationship [^>]*>", rels):
        rid = re.search(r'Id="([^"]+)"', rel)
        target = re.search(r'Target="([^"]+)"', rel)
        if rid and target:
            targets[rid.group(1)] = target.group(1).lstrip("/").removeprefix("xl/")
    out = {}
    for tag in re.findall(r"<(?:\w+:)?sheet [^>]*>", workbook):
        name = re.search(r'name="([^"]+)"', tag)
        rid = re.search(r'r:id="([^"]+)"', tag)
        assert name and rid
        out[html.unescape(name.group(1))] = parts["xl/" + targets[rid.group(1)]].decode()
    return out
