"""Totals and rates at city, area and unit-type level; progress against targets; tracking.

Every rate is a ratio of summed numerators and denominators, never an average of unit
percentages. The long `aggregates` table (level, key, field, value) is the single source
for the workbook, the charts and the narrative report, so figures cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.validate import FILE, Submissions

AGG_COLUMNS = ["level", "key", "field", "value"]
LEVELS = ("city", "area", "unit_type")


def _group_keys(units: pd.DataFrame, city_key: str) -> dict[str, pd.Series]:
    return {
        "city": pd.Series(city_key, index=units.index),
        "area": units["area_code"],
        "unit_type": units["unit_type"],
    }


def unit_measures(units: pd.DataFrame, data: Submissions, schemas: Schemas) -> pd.DataFrame:
    """Additive measures per unit (numbers, yes counts, list counts), index unit_code."""
    report = schemas.report
    out = pd.DataFrame(index=units.index)
    out["units_reporting"] = 1
    for f in report.fields:
        if f.code not in units.columns or f.code == "report_year":
            continue
        if f.type in ("integer", "decimal", "money", "yes_no"):
            # A yes/no sums to the number of units answering "có".
            out[f.code] = units[f.code].astype("Float64")
        elif f.type == "choice" and f.choices:
            for c in report.choices[f.choices]:
                out[f"{f.code}.{c.code}"] = (units[f.code] == c.code).astype("Float64")
    for d in schemas.criteria.derived:
        out[d.code] = units[d.code].astype("Float64")
    file_to_unit = pd.Series(units.index, index=units["file"])
    for lst in report.lists:
        rows = data.lists[lst.code]
        rows = rows[rows[FILE].isin(units["file"])].copy()
        rows["unit"] = rows[FILE].map(file_to_unit)
        if lst.fixed_field:
            numeric = [f.code for f in lst.fields if f.is_numeric]
            wide = rows.pivot_table(
                index="unit", columns=lst.fixed_field, values=numeric, aggfunc="sum"
            )
            for (col, group), series in wide.items():
                out[f"{lst.code}.{group}.{col}"] = series.reindex(out.index).astype("Float64")
        for f in lst.fields:
            if f.type == "choice" and f.choices and f.code != lst.fixed_field:
                counts = rows.groupby(["unit", f.code]).size().unstack(fill_value=0)
                for c in report.choices[f.choices]:
                    col = counts[c.code] if c.code in counts.columns else 0
                    series = pd.Series(col, index=counts.index) if len(counts) else pd.Series()
                    out[f"{lst.code}.{f.code}.{c.code}"] = (
                        series.reindex(out.index).fillna(0).astype("Float64")
                    )
    return out


def ratios(schemas: Schemas) -> list[tuple[str, str, str]]:
    """(field, numerator, denominator) of every rate the report shows."""
    out = [(f"target.{t.code}", t.numerator, t.denominator) for t in schemas.criteria.targets]
    people = schemas.report.list_map.get("people")
    if people is not None and people.fixed_choices:
        for c in schemas.report.choices[people.fixed_choices]:
            for f in people.fields:
                if f.is_numeric and f.code != "total":
                    out.append(
                        (
                            f"people.{c.code}.{f.code}_rate",
                            f"people.{c.code}.{f.code}",
                            f"people.{c.code}.total",
                        )
                    )
    return out


def aggregate(
    measures: pd.DataFrame, units: pd.DataFrame, schemas: Schemas, city_key: str
) -> pd.DataFrame:
    """Sum every measure by level and key, then the rates from those sums."""
    frames = []
    for level, keys in _group_keys(units, city_key).items():
        sums = measures.groupby(keys).sum(min_count=1)
        for field_, num, den in ratios(schemas):
            if num in sums and den in sums:
                denom = sums[den].where(sums[den] != 0)
                sums[field_] = sums[num] / denom
        long = sums.stack(future_stack=True).rename("value").reset_index()
        long.columns = ["key", "field", "value"]
        long.insert(0, "level", level)
        frames.append(long)
    if not frames:
        return pd.DataFrame(columns=AGG_COLUMNS)
    result = pd.concat(frames, ignore_index=True)
    result["value"] = result["value"].astype("Float64")
    return result.dropna(subset=["value"]).reset_index(drop=True)


def target_progress(aggs: pd.DataFrame, schemas: Schemas, year: int, city_key: str) -> pd.DataFrame:
    """City-level rate of each target against the milestone the year is working towards."""
    rows = []
    city = aggs[(aggs["level"] == "city") & (aggs["key"] == city_key)].set_index("field")["value"]
    for t in schemas.criteria.targets:
        rate = city.get(f"target.{t.code}")
        milestone = t.milestone_for(year)
        if milestone is None and t.milestones:
            # Past the last milestone the target still holds (80% "by 2025" is still the bar
            # in 2026), so measure against the latest one rather than show no target at all.
            last = max(t.milestones)
            milestone = (last, t.milestones[last])
        rows.append(
            {
                "code": t.code,
                "label": t.label,
                "numerator": city.get(t.numerator),
                "denominator": city.get(t.denominator),
                "rate": rate,
                "milestone_year": milestone[0] if milestone else None,
                "target": milestone[1] if milestone else None,
                "met": None
                if rate is None or milestone is None or pd.isna(rate)
                else bool(rate >= milestone[1]),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


TRACKING_STATUSES = ("on_time", "late", "rejected", "missing")
"""A registry unit's status in tracking: its kept file came by the deadline or after it;
it has no kept file but some file pointing at it was rejected; no file at all."""


@dataclass(frozen=True)
class RejectedFile:
    """A rejected input file that points at a unit (see :func:`pipeline.run.consolidate`)."""

    file: str
    reason: str
    reason_code: str
    submitted_at: dt.datetime | None
    submitted_at_source: str


TRACKING_COLUMNS = [
    "unit_code",
    "unit_name",
    "unit_type",
    "area_code",
    "area_name",
    "email",
    "status",
    "reason",
    "reason_code",
    "submitted_at",
    "submitted_at_source",
    "file",
]


def tracking(
    registry: Registry,
    kept: Mapping[str, str],
    submitted: Mapping[str, tuple[dt.datetime | None, str]],
    deadline: dt.date,
    rejected: Mapping[str, Sequence[RejectedFile]] | None = None,
) -> pd.DataFrame:
    """Every registry unit: on time (by the deadline), late, rejected, or missing.

    `submitted` maps a file to its submission time and where the time came from
    (:func:`pipeline.identify.submission_time`); `rejected` maps a unit to the rejected
    files pointing at it, the latest first. A unit with a kept file is on time or late
    whatever else it sent; without one, its latest rejected file gives the reason.
    """
    rows = []
    for unit in registry.units.values():
        file = kept.get(unit.code)
        refused = list((rejected or {}).get(unit.code, ()))
        reason = reason_code = ""
        when: dt.datetime | None = None
        source = ""
        if file is not None:
            when, source = submitted.get(file, (None, ""))
            status = "late" if when is not None and when.date() > deadline else "on_time"
        elif refused:
            status = "rejected"
            latest = refused[0]
            reason, reason_code = latest.reason, latest.reason_code
            when, source = latest.submitted_at, latest.submitted_at_source
            file = "; ".join(f.file for f in refused)
        else:
            status = "missing"
        rows.append(
            {
                "unit_code": unit.code,
                "unit_name": unit.name,
                "unit_type": unit.type,
                "area_code": unit.area_code,
                "area_name": registry.areas[unit.area_code].name,
                "email": unit.email,
                "status": status,
                "reason": reason,
                "reason_code": reason_code,
                "submitted_at": when,
                "submitted_at_source": source,
                "file": file or "",
            }
        )
    return pd.DataFrame(rows, columns=TRACKING_COLUMNS)


def reporting_rate(track: pd.DataFrame) -> pd.DataFrame:
    """Per area: expected, on time, late, rejected, missing, and the reporting rate.

    The rate counts the units whose report is consolidated (on time or late) out of every
    unit of the registry: a unit whose only files were rejected has not reported (its
    figures are not in the totals), and is counted in a column of its own, apart from the
    units that sent nothing.
    """
    counts = track.pivot_table(
        index=["area_code", "area_name"], columns="status", values="unit_code", aggfunc="count"
    )
    for col in TRACKING_STATUSES:
        if col not in counts.columns:
            counts[col] = 0
    counts = counts[list(TRACKING_STATUSES)].fillna(0).astype(int)
    counts["expected"] = counts.sum(axis=1)
    counts["rate"] = (counts["on_time"] + counts["late"]) / counts["expected"]
    return counts.reset_index()
