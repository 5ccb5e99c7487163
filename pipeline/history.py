"""Year over year: each year's figures against the year before, and jumps a unit must explain.

Every consolidation keeps its tidy exports under ``output/<year>/data/`` (values.csv,
aggregates.csv); they are the history. A run for year Y loads Y−1's exports when they exist
(:func:`load_previous`) and

* compares every numeric field of every unit present in both years
  (:func:`unit_changes`, written to ``data/year_over_year.csv``), flagging implausible
  jumps as ``implausible-change`` warnings at the unit's cell, for the unit to explain or
  correct: a count that grows or shrinks by the configured factor (criteria.yaml,
  ``yoy_jump_factor``, default 3) when the larger of the two values is at least
  ``yoy_min_value`` (default 10), or falls to zero from at least ``yoy_min_value``;
* compares the aggregates (:func:`compare_aggregates`) for the report's sheet “So với năm
  trước”: change and percent change of counts, change in percentage points of rates.

Years (a recognition year is an integer too) are not compared. Pure functions, except the
loader, which only reads.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.issues import Issue, make_issue
from pipeline.schema import Field, Schemas
from pipeline.validate import Submissions

if TYPE_CHECKING:
    from pipeline.run import RunResult

log = logging.getLogger(__name__)

YOY_COLUMNS = [
    "unit_code",
    "field",
    "previous",
    "current",
    "change",
    "pct_change",
    "implausible",
]
AGG_COMPARE_COLUMNS = ["level", "key", "field", "previous", "current", "change", "pct_change"]
DEFAULT_FACTOR = 3.0
DEFAULT_MIN_VALUE = 10.0
YEAR_LIKE_MIN = 1000
"""A numeric field whose minimum is at least this holds a year, not a count."""


@dataclass(frozen=True)
class Previous:
    """The exports of the year before, as consolidated then."""

    year: int
    values: pd.DataFrame
    """values.csv: year, unit_code, field, value (value as text, plain notation)."""
    aggregates: pd.DataFrame
    """aggregates.csv: level, key, field, value (float)."""


@dataclass(frozen=True)
class Thresholds:
    factor: float = DEFAULT_FACTOR
    min_value: float = DEFAULT_MIN_VALUE

    @classmethod
    def from_schemas(cls, schemas: Schemas) -> Thresholds:
        params = schemas.criteria.param_values
        return cls(
            float(params.get("yoy_jump_factor", DEFAULT_FACTOR)),
            float(params.get("yoy_min_value", DEFAULT_MIN_VALUE)),
        )


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def load_previous(output_root: Path, year: int) -> Previous | None:
    """Year−1's values.csv and aggregates.csv under ``output_root/<year−1>/data``, if any."""
    data = output_root / str(year - 1) / "data"
    values_path, aggs_path = data / "values.csv", data / "aggregates.csv"
    if not values_path.is_file() and not aggs_path.is_file():
        return None
    values = (
        _read_csv(values_path)
        if values_path.is_file()
        else pd.DataFrame(columns=["year", "unit_code", "field", "value"])
    )
    if aggs_path.is_file():
        aggs = _read_csv(aggs_path)
        aggs["value"] = pd.to_numeric(aggs["value"], errors="coerce")
    else:
        aggs = pd.DataFrame(columns=["level", "key", "field", "value"])
    log.info("previous year %s loaded from %s", year - 1, data)
    return Previous(year - 1, values, aggs)


def compared_fields(schemas: Schemas) -> list[Field]:
    """Scalar fields whose values are counts or amounts (not years, not pre-filled)."""
    return [
        f
        for f in schemas.report.fields
        if f.type in ("integer", "decimal", "money")
        and not f.prefill
        and (f.min is None or f.min < YEAR_LIKE_MIN)
    ]


def _number(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def jump(previous: float, current: float, t: Thresholds) -> str:
    """Why a change is implausible (Vietnamese), or "" when it is not."""
    if current == 0 and previous >= t.min_value:
        return "giảm về 0"
    if max(previous, current) < t.min_value:
        return ""
    if previous == 0:
        return "tăng từ 0" if current >= t.min_value * t.factor else ""
    ratio = current / previous
    if ratio >= t.factor:
        return f"tăng gấp {_times(ratio)} lần"
    if current > 0 and 1 / ratio >= t.factor:
        return f"giảm còn 1/{_times(1 / ratio)}"
    return ""


def _times(ratio: float) -> str:
    return f"{ratio:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def number_text(value: float) -> str:
    """12500000 → 12.500.000; 2.5 → 2,5 (Vietnamese separators)."""
    if float(value).is_integer():
        return f"{value:,.0f}".replace(",", ".")
    whole, _, frac = f"{value:,.2f}".rstrip("0").partition(".")
    return whole.replace(",", ".") + ("," + frac if frac else "")


def unit_changes(
    data: Submissions,
    kept: dict[str, str],
    schemas: Schemas,
    previous: Previous | None,
    year: int,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Per unit and numeric field: previous, current, change; implausible jumps as issues."""
    if previous is None or previous.values.empty:
        return pd.DataFrame(columns=YOY_COLUMNS), []
    t = Thresholds.from_schemas(schemas)
    fields = compared_fields(schemas)
    prev = previous.values
    prev = prev[prev["field"].isin({f.code for f in fields})]
    before: dict[tuple[str, str], float] = {}
    for code, fld, value in zip(prev["unit_code"], prev["field"], prev["value"], strict=True):
        number = _number(value)
        if number is not None:
            before[(str(code), str(fld))] = number
    rows: list[dict[str, object]] = []
    issues: list[Issue] = []
    for code in sorted(kept):
        file = kept[code]
        if file not in data.scalars.index:
            continue
        record = data.scalars.loc[file]
        for f in fields:
            old = before.get((code, f.code))
            new = _number(record.get(f.code)) if f.code in record.index else None
            if old is None or new is None:
                continue
            why = jump(old, new, t)
            rows.append(
                {
                    "unit_code": code,
                    "field": f.code,
                    "previous": old,
                    "current": new,
                    "change": new - old,
                    "pct_change": (new - old) / old if old else None,
                    "implausible": bool(why),
                }
            )
            if not why:
                continue
            issues.append(
                make_issue(
                    "implausible-change",
                    f"“{f.label}” năm {year} là {number_text(new)}, năm {previous.year} là "
                    f"{number_text(old)} ({why}). Nếu số liệu đúng, đơn vị giải thích lý do "
                    "trong phần đánh giá chung; nếu nhầm, sửa lại ô này rồi gửi lại.",
                    file=file,
                    unit_code=code,
                    **data.where(file, f.code),
                    field=f.code,
                    value=number_text(new),
                )
            )
    return pd.DataFrame(rows, columns=YOY_COLUMNS), issues


def compare_aggregates(
    current: pd.DataFrame, previous: pd.DataFrame, level: str | None = None
) -> pd.DataFrame:
    """Aggregates of two years side by side (outer join: a figure new this year shows too)."""
    cur, prev = current, previous
    if level is not None:
        cur, prev = cur[cur["level"] == level], prev[prev["level"] == level]
    keys = ["level", "key", "field"]
    merged = pd.merge(
        prev[[*keys, "value"]].rename(columns={"value": "previous"}),
        cur[[*keys, "value"]].rename(columns={"value": "current"}),
        on=keys,
        how="outer",
        sort=False,
    )
    merged["previous"] = pd.to_numeric(merged["previous"], errors="coerce").astype("float64")
    merged["current"] = pd.to_numeric(merged["current"], errors="coerce").astype("float64")
    merged["change"] = merged["current"] - merged["previous"]
    merged["pct_change"] = merged["change"] / merged["previous"].where(merged["previous"] != 0)
    return merged[AGG_COMPARE_COLUMNS].reset_index(drop=True)


def write_history(result: RunResult, out_dir: Path) -> list[Path]:
    """data/year_over_year.csv: each unit's figures against the year before (when known)."""
    from pipeline.export import write_csv

    frame = result.extra.get("year_over_year")
    if not isinstance(frame, pd.DataFrame):
        return []
    target = out_dir / "data" / "year_over_year.csv"
    previous = result.extra.get("previous")
    if not isinstance(previous, Previous):
        # No year before: no comparison, and no stale file from an earlier run either.
        target.unlink(missing_ok=True)
        return []
    write_csv(frame, target)
    return [target]
