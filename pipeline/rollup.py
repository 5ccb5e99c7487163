"""Roll-up: the consolidated exports of several departments as the input of a higher level.

The path, fixed so that nothing is retyped between levels:

1. each department runs ``consolidate`` for the year and sends its export folder
   ``output/<year>/`` (at least ``data/aggregates.csv``; ``data/tracking.csv`` too when it
   has one);
2. the higher level (the Ministry, or a region) runs
   ``python -m pipeline rollup DIR... --year <year>``; each DIR is one department's
   ``output/<year>`` folder (or its ``output`` folder, the year is then found inside), and
   ``NAME=DIR`` names a department explicitly;
3. the result is an export of the same shape under ``<output>/<year>/data/``:
   ``aggregates.csv`` (``level, key, field, value``) with level ``national`` (the total,
   key ``--name``), ``department`` (one key per department) and ``unit_type`` (summed over
   departments), plus ``departments.csv`` (where each figure came from, with hashes) and
   the national table workbook ``bang-tong-hop-<year>.xlsx``.

Every total is a sum of the departments' sums (of fields the schema marks summable); every
rate is recomputed from the summed pair sums of its numerator and denominator
(:func:`pipeline.aggregate.ratios`), never averaged. Because the
output has the input's shape (its top-level row is read as the department's total), a
roll-up can itself be rolled up again, and ``consolidate --phase`` reads a series of
roll-ups like a series of yearly consolidations.

Areas are a department's own business (its districts or wards) and are not carried up.
The same export given twice (same bytes) or two departments under one name stop the run:
double counting must never be silent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import printing, rates
from pipeline.aggregate import additive_fields, ratios
from pipeline.errors import PipelineError
from pipeline.export import write_bytes, write_csv
from pipeline.manifest import write_folder_manifest
from pipeline.ooxml import text_safe_workbook
from pipeline.schema import Schemas

log = logging.getLogger(__name__)

TOP_LEVELS = ("national", "city")
"""Level of an input's total row, highest first (a roll-up's, then a department's)."""
DEPARTMENT_COLUMNS = [
    "department",
    "source",
    "sha256",
    "units",
    "expected",
    "on_time",
    "late",
    "rejected",
    "missing",
]
TABLE_NAME = "bang-tong-hop-{year}.xlsx"
TABLE_FIELDS = (
    "units",
    "steering_committee",
    "campaign_events",
    "ldu_recognised",
    "members_total",
    "members_recognised",
    "target.cdht_members",
    "target.ldu_units",
    "initiatives_effective",
    "funds_mobilised",
)


class RollupError(PipelineError):
    """The roll-up cannot be made (missing export, the same department twice)."""


@dataclass(frozen=True)
class Department:
    name: str
    source: str
    sha256: str
    aggregates: pd.DataFrame
    """The department's own total row and unit-type rows (level, key, field, value)."""
    tracking: pd.DataFrame | None


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _export_dir(path: Path, year: int) -> Path:
    for candidate in (path, path / str(year)):
        if (candidate / "data" / "aggregates.csv").is_file():
            return candidate
    raise RollupError(
        f"Không tìm thấy kết quả tổng hợp năm {year} trong {path} "
        f"(cần tệp data/aggregates.csv, hoặc {year}/data/aggregates.csv)."
    )


def load_department(spec: str, year: int) -> Department:
    """``DIR`` or ``NAME=DIR``: one department's export of `year`."""
    name, sep, where = spec.partition("=")
    if not sep:
        name, where = "", spec
    folder = _export_dir(Path(where), year)
    path = folder / "data" / "aggregates.csv"
    raw = path.read_bytes()
    aggs = _read(path)
    aggs["value"] = pd.to_numeric(aggs["value"], errors="coerce")
    values = folder / "data" / "values.csv"
    if values.is_file():
        years = set(_read(values).get("year", pd.Series(dtype=str)))
        if years and years != {str(year)}:
            raise RollupError(
                f"{folder}: số liệu năm {', '.join(sorted(years))}, không phải năm {year}."
            )
    level = next((lv for lv in TOP_LEVELS if (aggs["level"] == lv).any()), None)
    if level is None:
        raise RollupError(f"{path}: không có dòng tổng (level city hoặc national).")
    top = aggs[aggs["level"] == level]
    keys = sorted(set(top["key"]))
    if len(keys) != 1:
        raise RollupError(f"{path}: có {len(keys)} dòng tổng khác nhau ({', '.join(keys)}).")
    name = name.strip() or keys[0]
    kept = aggs[(aggs["level"] == level) | (aggs["level"] == "unit_type")].copy()
    kept.loc[kept["level"] == level, "level"] = "department"
    kept.loc[kept["level"] == "department", "key"] = name
    track_path = folder / "data" / "tracking.csv"
    tracking = _read(track_path) if track_path.is_file() else None
    return Department(name, str(folder), hashlib.sha256(raw).hexdigest(), kept, tracking)


def _with_rates(sums: pd.DataFrame, schemas: Schemas) -> pd.DataFrame:
    """Wide sums (index key, one column per field) → rates recomputed from the sums."""
    for r in ratios(schemas):
        if r.numerator in sums and r.denominator in sums:
            sums[r.field] = sums[r.numerator] / sums[r.denominator].where(sums[r.denominator] != 0)
    return sums


def _with_pairs(aggs: pd.DataFrame, schemas: Schemas) -> pd.DataFrame:
    """An export made before rates had pair sums: its plain numerator and denominator are
    taken as the pairs (its rates were computed from them), so it can still be rolled up."""
    if aggs["field"].astype(str).str.endswith(".numerator").any():
        return aggs
    extra = []
    for r in ratios(schemas):
        for plain, pair in ((r.part, r.numerator), (r.whole, r.denominator)):
            rows = aggs[aggs["field"] == plain]
            if len(rows):
                extra.append(rows.assign(field=pair))
    return pd.concat([aggs, *extra], ignore_index=True) if extra else aggs


def _long(wide: pd.DataFrame, level: str) -> pd.DataFrame:
    long = wide.stack(future_stack=True).rename("value").reset_index()
    long.columns = ["key", "field", "value"]
    long.insert(0, "level", level)
    return long.dropna(subset=["value"])


def rollup(departments: list[Department], schemas: Schemas, name: str) -> pd.DataFrame:
    """National, department and unit-type rows, from the departments' additive figures."""
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for d in departments:
        if d.sha256 in seen:
            raise RollupError(
                f"Kết quả của {d.source} trùng hệt {seen[d.sha256]}: cùng một đơn vị được đưa "
                "vào hai lần, số liệu sẽ bị cộng trùng."
            )
        if d.name in names:
            raise RollupError(
                f"Hai kết quả cùng tên “{d.name}” ({names[d.name]} và {d.source}). "
                "Đặt tên riêng cho từng Sở: TÊN=THƯ_MỤC."
            )
        seen[d.sha256], names[d.name] = d.source, d.source
    frame = pd.concat([_with_pairs(d.aggregates, schemas) for d in departments], ignore_index=True)
    # Rates are recomputed from their pair sums; a year or a code is never added up.
    additive = frame[frame["field"].isin(additive_fields(set(frame["field"]), schemas))]
    out = []
    dept = additive[additive["level"] == "department"]
    dept_wide = dept.pivot_table(index="key", columns="field", values="value", aggfunc="sum")
    national = dept_wide.sum(axis=0, min_count=1).to_frame().T
    national.index = pd.Index([name], name="key")
    out.append(_long(_with_rates(national, schemas), "national"))
    ordered = dept_wide.reindex([d.name for d in departments])
    out.append(_long(_with_rates(ordered, schemas), "department"))
    types = additive[additive["level"] == "unit_type"]
    if not types.empty:
        type_wide = types.pivot_table(index="key", columns="field", values="value", aggfunc="sum")
        out.append(_long(_with_rates(type_wide, schemas), "unit_type"))
    result = pd.concat(out, ignore_index=True)
    result["value"] = result["value"].astype("float64")
    return result.reset_index(drop=True)


def departments_frame(departments: list[Department]) -> pd.DataFrame:
    rows = []
    for d in departments:
        units = d.aggregates[
            (d.aggregates["level"] == "department") & (d.aggregates["field"] == "units")
        ]
        row: dict[str, object] = {
            "department": d.name,
            "source": d.source,
            "sha256": d.sha256,
            "units": float(units["value"].iloc[0]) if len(units) else None,
        }
        if d.tracking is not None and "status" in d.tracking:
            status = d.tracking["status"].value_counts()
            row |= {
                "expected": int(status.sum()),
                "on_time": int(status.get("on_time", 0)),
                "late": int(status.get("late", 0)),
                "rejected": int(status.get("rejected", 0)),
                "missing": int(status.get("missing", 0)),
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=DEPARTMENT_COLUMNS)


def national_table(
    aggs: pd.DataFrame, departments: list[Department], schemas: Schemas, name: str, year: int
) -> bytes:
    """One row per department and a total row, in Excel (fixed properties: reproducible)."""
    from pipeline.registry import Registry
    from pipeline.review import FONT, HEADER_FILL, Labels

    labels = Labels(schemas, Registry(areas={}, units={}))
    buffer = io.BytesIO()
    wb = text_safe_workbook(buffer, FONT, 11)
    wb.set_properties(
        {"title": f"Bảng tổng hợp năm {year}: {name}", "created": dt.datetime(year, 12, 31)}
    )
    ws = wb.add_worksheet("Tổng hợp")
    base = {"font_name": FONT, "font_size": 11}
    head = wb.add_format(
        {
            **base,
            "bold": True,
            "bg_color": HEADER_FILL,
            "border": 1,
            "text_wrap": True,
            "align": "center",
            "valign": "vcenter",
        }
    )
    text = wb.add_format({**base, "border": 1})
    bold = wb.add_format({**base, "border": 1, "bold": True})
    fields = [f for f in TABLE_FIELDS if (aggs["field"] == f).any()]
    ws.merge_range(
        0,
        0,
        0,
        len(fields),
        f"BẢNG TỔNG HỢP NĂM {year}: {name.upper()}",
        wb.add_format({**base, "bold": True, "font_size": 13, "align": "center"}),
    )
    ws.merge_range(
        1,
        0,
        1,
        len(fields),
        "Tổng hợp từ kết quả tổng hợp của các Sở; tỷ lệ tính từ tổng tử số và tổng mẫu số.",
        wb.add_format({**base, "italic": True, "align": "center"}),
    )
    ws.write_string(3, 0, "Sở Giáo dục và Đào tạo", head)
    for col, f in enumerate(fields, start=1):
        ws.write_string(3, col, labels.measure(f), head)
    ws.set_row(3, 75)
    keys = [("department", d.name) for d in departments] + [("national", name)]
    for row, (level, key) in enumerate(keys, start=4):
        total = level == "national"
        ws.write_string(row, 0, "Tổng cộng" if total else key, bold if total else text)
        part = aggs[(aggs["level"] == level) & (aggs["key"] == key)].set_index("field")["value"]
        for col, f in enumerate(fields, start=1):
            num = "0.0%" if labels.is_rate(f) else "#,##0"
            fmt = wb.add_format({**base, "border": 1, "num_format": num, "bold": total})
            value = part.get(f)
            if value is None or pd.isna(value):
                ws.write_blank(row, col, None, fmt)
            else:
                shown = rates.shown(float(value)) if labels.is_rate(f) else float(value)
                ws.write_number(row, col, shown, fmt)
    widths = {0: 30.0, **{c: 14.0 for c in range(1, len(fields) + 1)}}
    for col, width in widths.items():
        ws.set_column(col, col, width)
    ws.freeze_panes(4, 1)
    layout = printing.layout(
        widths=widths,
        heights={3: 75},
        last_col=len(fields),
        last_row=3 + len(keys),
        page=printing.LANDSCAPE,
        smallest_pt=11,
        tables=[printing.Table(3, 4, 4 + len(keys), total=3 + len(keys))],
    )
    printing.apply(ws, layout, printing.LANDSCAPE, repeat_cols=(0, 0))
    wb.close()
    return buffer.getvalue()


def write_rollup(specs: list[str], year: int, schemas: Schemas, name: str, out: Path) -> Path:
    """Read the departments' exports, fill `out` with the roll-up; return its table's path.

    `out` is the staging folder of <output>/<year>/ (the CLI's
    :func:`pipeline.publish.publishing`), so a failed roll-up leaves the last one whole.
    """
    if not specs:
        raise RollupError("Chưa chỉ ra kết quả tổng hợp nào để cộng.")
    departments = [load_department(s, year) for s in specs]
    aggs = rollup(departments, schemas, name)
    write_csv(aggs, out / "data" / "aggregates.csv")
    write_csv(departments_frame(departments), out / "data" / "departments.csv")
    table = out / TABLE_NAME.format(year=year)
    write_bytes(table, national_table(aggs, departments, schemas, name, year))
    about = {"year": year, "name": name, "departments": [d.name for d in departments]}
    write_folder_manifest(out, "rollup", about)
    log.info("roll-up of %d departments in %s", len(departments), out)
    return table
