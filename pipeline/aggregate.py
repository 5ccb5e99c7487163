"""Totals and rates at city, area and unit-type level; progress against targets; tracking.

Every rate is a ratio of summed numerators and denominators, never an average of unit
percentages, and both sums run over the same pairs (:class:`Ratio`), so no rate exceeds 100%.
Only fields the schema marks ``summable`` are summed: a year or a code never is. The long
`aggregates` table (level, key, field, value) is the single source for the workbook, the
charts and the narrative report, so figures cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class Ratio:
    """A rate the report shows: a part over its whole, summed over the pairs where both are known.

    ``part`` and ``whole`` are the plain measures (their own sums, shown as counts); the rate
    itself is ``numerator / denominator``, the sums of the pairs only: a unit (or a people
    row) adds to both or to neither, so a value blanked by an error, or left blank, never
    leaves its partner in the other sum, and a part larger than its whole is never paired.
    Both pair sums are additive and go to aggregates.csv, so a roll-up recomputes the same
    rate from them.
    """

    field: str
    part: str
    whole: str
    list: str | None = None
    """Pairs are people rows of this list (None: the unit's own two measures)."""
    part_column: str = ""
    whole_column: str = ""
    where: str | None = None
    """Which rows of the list count (a pandas expression), None for all."""
    unknown_as_zero: bool = False
    """A unit whose part is unknown counts with 0 over its whole (a target with `unknown`:
    the denominator is every unit that reported), instead of leaving the pairs."""

    @property
    def numerator(self) -> str:
        return f"{self.field}.numerator"

    @property
    def denominator(self) -> str:
        return f"{self.field}.denominator"


def ratios(schemas: Schemas) -> list[Ratio]:
    """Every rate the report shows, from the schemas: the targets, then each part ≤ whole of
    a fixed-row list by row (people: registered, recognised … over the group's total), then a
    derived part over a derived whole of the same rows (learners recognised over learners)."""
    report, criteria = schemas.report, schemas.criteria
    derived = {d.code: d for d in criteria.derived}
    pairs = {(r.list, r.part, r.whole) for r in report.relations if len(r.whole) == 1}

    def same_rows(num: str, den: str) -> tuple[str, str, str, str | None] | None:
        a, b = derived.get(num), derived.get(den)
        if a is None or b is None or not (a.sum and b.sum) or a.list != b.list:
            return None
        if a.where != b.where or a.list is None or (a.list, a.sum, (b.sum,)) not in pairs:
            return None
        return a.list, a.sum, b.sum, a.where

    out: list[Ratio] = []
    for t in criteria.targets:
        rows = same_rows(t.numerator, t.denominator)
        if rows is None:
            out.append(
                Ratio(
                    f"target.{t.code}",
                    t.numerator,
                    t.denominator,
                    unknown_as_zero=t.unknown is not None,
                )
            )
        else:
            out.append(Ratio(f"target.{t.code}", t.numerator, t.denominator, *rows))
    for lst in report.lists:
        if not lst.fixed_field or not lst.fixed_choices:
            continue
        # A root whole: one no other field contains (people: total).
        parts = {r.part for r in report.relations if r.list == lst.code}
        rates = [
            r
            for r in report.relations
            if r.list == lst.code and len(r.whole) == 1 and r.whole[0] not in parts
        ]
        order = {f.code: i for i, f in enumerate(lst.fields)}
        rates.sort(key=lambda r: order[r.part])
        for c in report.choices[lst.fixed_choices]:
            where = f"{lst.fixed_field} == '{c.code}'"
            for r in rates:
                base = f"{lst.code}.{c.code}"
                out.append(
                    Ratio(
                        f"{base}.{r.part}_rate",
                        f"{base}.{r.part}",
                        f"{base}.{r.whole[0]}",
                        lst.code,
                        r.part,
                        r.whole[0],
                        where,
                    )
                )
    shown = {(x.part, x.whole) for x in out}
    for a in criteria.derived:
        for b in criteria.derived:
            rows = same_rows(a.code, b.code)
            if rows is not None and (a.code, b.code) not in shown:
                out.append(Ratio(f"{a.code}_rate", a.code, b.code, *rows))
    return out


def paired_units(measures: pd.DataFrame, ratio: Ratio) -> int:
    """How many units the rate's pair sums come from (they reported both numbers)."""
    if ratio.numerator not in measures.columns:
        return 0
    return int(measures[ratio.numerator].notna().sum())


def base_differs(
    num: float | None, den: float | None, part: float | None, whole: float | None
) -> bool:
    """Whether a rate num/den is not the quotient of the totals shown beside it.

    The reader divides the shown figures (part / whole): where the rate was computed over
    fewer units (docs/dac-ta-tieu-chi.md 8.4), its own base has to be shown with it."""
    if num is None or den is None:
        return part is not None and whole is not None
    return (part, whole) != (num, den)


def rate_for(schemas: Schemas, part: str, whole: str) -> Ratio | None:
    """The rate of `part` over `whole`, if the report has one."""
    return next((r for r in ratios(schemas) if (r.part, r.whole) == (part, whole)), None)


def additive_fields(fields: Iterable[str], schemas: Schemas) -> set[str]:
    """The aggregates.csv fields that may be summed again (over departments, by a roll-up).

    Rates are recomputed, not summed; a schema field only when it is marked summable (or is
    a yes/no, whose figure is a count of units answering “có”), so a year or a code in an
    older export is never added up.
    """
    rates = {r.field for r in ratios(schemas)}
    report = schemas.report
    out: set[str] = set()
    for name in fields:
        if name in rates:
            continue
        f = report.field_map.get(name)
        if f is not None:
            if f.summable or f.type == "yes_no":
                out.add(name)
            continue
        parts = name.split(".")
        lst = report.list_map.get(parts[0]) if len(parts) == 3 else None
        if lst is not None and lst.fixed_field and parts[2] in {x.code for x in lst.fields}:
            if lst.field(parts[2]).summable:
                out.add(name)
            continue
        out.add(name)
    return out


def unit_measures(units: pd.DataFrame, data: Submissions, schemas: Schemas) -> pd.DataFrame:
    """Additive measures per unit (summable numbers, yes counts, list counts, the pairs of
    every rate), index unit_code."""
    report = schemas.report
    out = pd.DataFrame(index=units.index)
    out["units_reporting"] = 1
    for f in report.fields:
        if f.code not in units.columns:
            continue
        if f.summable or f.type == "yes_no":
            # A yes/no sums to the number of units answering "có".
            out[f.code] = units[f.code].astype("Float64")
        elif f.type == "choice" and f.choices:
            for c in report.choices[f.choices]:
                out[f"{f.code}.{c.code}"] = (units[f.code] == c.code).astype("Float64")
    for d in schemas.criteria.derived:
        out[d.code] = units[d.code].astype("Float64")
    file_to_unit = pd.Series(units.index, index=units["file"])
    list_rows: dict[str, pd.DataFrame] = {}
    for lst in report.lists:
        rows = data.lists[lst.code]
        rows = rows[rows[FILE].isin(units["file"])].copy()
        rows["unit"] = rows[FILE].map(file_to_unit)
        list_rows[lst.code] = rows
        if lst.fixed_field:
            summable = [f.code for f in lst.fields if f.summable]
            # min_count: a blank cell is no figure, not zero.
            wide = (
                rows.groupby(["unit", lst.fixed_field])[summable]
                .sum(min_count=1)
                .unstack(lst.fixed_field)
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
    # Rows of each (list, where) once: the people rates of a group share their rows.
    selected: dict[tuple[str, str | None], pd.DataFrame] = {}
    for r in ratios(schemas):
        if r.list is not None:
            key = (r.list, r.where)
            if key not in selected:
                rows = list_rows[r.list]
                if r.where and len(rows):
                    keep = rows.eval(r.where, engine="python").astype("boolean").fillna(False)
                    rows = rows[keep.astype(bool)]
                selected[key] = rows
            num, den = _paired_sums(selected[key], r.part_column, r.whole_column)
            out[r.numerator] = num.reindex(out.index).astype("Float64")
            out[r.denominator] = den.reindex(out.index).astype("Float64")
        elif r.part in units.columns and r.whole in units.columns:
            part, whole = units[r.part].astype("Float64"), units[r.whole].astype("Float64")
            if r.unknown_as_zero:
                part = part.fillna(0.0).where(whole.notna())
            paired = (part.notna() & whole.notna() & (part <= whole)).fillna(False)
            out[r.numerator] = part.where(paired)
            out[r.denominator] = whole.where(paired)
    return out


def _paired_sums(rows: pd.DataFrame, part_col: str, whole_col: str) -> tuple[pd.Series, pd.Series]:
    """Per unit: the sums of part and whole over its rows where both are known and the part
    is not larger (NA for a unit without such a row)."""
    part = rows[part_col].astype("Float64")
    whole = rows[whole_col].astype("Float64")
    paired = (part.notna() & whole.notna() & (part <= whole)).fillna(False)
    frame = pd.DataFrame(
        {"unit": rows["unit"], "num": part.where(paired), "den": whole.where(paired)}
    )
    sums = frame.groupby("unit").sum(min_count=1)
    return sums["num"], sums["den"]


def aggregate(
    measures: pd.DataFrame, units: pd.DataFrame, schemas: Schemas, city_key: str
) -> pd.DataFrame:
    """Sum every measure by level and key, then each rate from the sums of its pairs."""
    frames = []
    for level, keys in _group_keys(units, city_key).items():
        sums = measures.groupby(keys).sum(min_count=1)
        for r in ratios(schemas):
            if r.numerator in sums and r.denominator in sums:
                denom = sums[r.denominator].where(sums[r.denominator] != 0)
                sums[r.field] = sums[r.numerator] / denom
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
    """City-level rate of each target against the milestone in force for the year.

    `Target.in_force` is the one rule (criterion c1 uses it too), so Biểu 01, the draft
    report and the unit verdicts state the same target for the same year. The rate is a
    quotient of sums, compared as a float: a correctly rounded quotient equals the decimal
    literal of the target when the two are equal (3/5 and 0.6), unlike a product (0.07 × 100).
    """
    rows = []
    city = aggs[(aggs["level"] == "city") & (aggs["key"] == city_key)].set_index("field")["value"]
    for t in schemas.criteria.targets:
        rate = city.get(f"target.{t.code}")
        milestone = t.in_force(year)
        rows.append(
            {
                "code": t.code,
                "label": t.label,
                # The pair sums the rate is computed from (Ratio), so that "số đạt / tổng
                # số" next to the rate is that rate.
                "numerator": city.get(f"target.{t.code}.numerator"),
                "denominator": city.get(f"target.{t.code}.denominator"),
                "rate": rate,
                # Units in the denominator whose numerator is unknown (counted as not met).
                "unknown": city.get(t.unknown, 0.0) if t.unknown else None,
                "milestone_year": milestone[0] if milestone else None,
                "target": milestone[1] if milestone else None,
                "met": None
                if rate is None or milestone is None or pd.isna(rate)
                else bool(rate >= milestone[1]),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


def unknown_text(unknown: object) -> str:
    """“trong đó 2 đơn vị chưa rõ, tính là chưa đạt”: the units of a target's denominator
    whose numerator is unknown (`Target.unknown`); empty when there are none. The one wording
    of Biểu 01, Biểu 05 and the draft (docs/dac-ta-tieu-chi.md, mục 5.1)."""
    if unknown is None or pd.isna(unknown) or float(unknown) <= 0:  # type: ignore[arg-type]
        return ""
    count = f"{int(float(unknown)):,}".replace(",", ".")  # type: ignore[arg-type]
    return f"trong đó {count} đơn vị chưa rõ, tính là chưa đạt"


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
