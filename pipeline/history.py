"""Year over year: each year's figures against the year before, and jumps a unit must explain.

Every consolidation keeps its tidy exports under ``output/<year>/data/`` (values.csv,
aggregates.csv, one CSV per list); they are the history. A run for year Y loads Y−1's
exports when they exist (:func:`load_previous`) and

* compares, for every unit present in both years (codes compared through
  :func:`pipeline.registry.normalise_code`, so a registry retyped in another case still
  matches), every numeric scalar field, every numeric cell of a fixed-row list (the people
  matrix, field ``people.<group>.<column>``, e.g. ``people.teachers.total``: the
  denominators of the headline rate) and the number of rows of every other list (field
  ``<list>.count``, e.g. ``initiatives.count``) (:func:`unit_changes`, written to
  ``data/year_over_year.csv``);
* flags implausible jumps of scalars and people cells as ``implausible-change`` warnings
  at the cell of this year's file, for the unit to explain or correct: a count that grows
  or shrinks by the configured factor (criteria.yaml, ``yoy_jump_factor``, default 3) when
  the larger of the two values is at least ``yoy_min_value`` (default 10), or falls to
  zero from at least ``yoy_min_value``. List row counts are shown, never flagged: how many
  rows a list has depends on the year (nominations come only in review years, 2025 and
  2030), so a fall is no sign of a wrong figure, and there is no cell to point at;
* compares the aggregates (:func:`compare_aggregates`) for the report's sheet “So với năm
  trước”: change and percent change of counts, change in percentage points of rates.

Years (a recognition year is an integer too) are not compared. Pure functions, except the
loader, which only reads.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from pipeline.issues import Issue, make_issue
from pipeline.registry import Registry, email_addresses, normalise_code
from pipeline.schema import Field, ListSpec, ReportSchema, Schemas
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
    lists: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    """data/<list>.csv by list code: unit_code, then one column per field (as text)."""


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


NOT_LISTS = frozenset({"values", "aggregates", "criteria", "tracking", "year_over_year"})
"""The exports of data/ that are not lists (DESIGN.md section 3)."""


def load_previous(output_root: Path, year: int) -> Previous | None:
    """Year−1's values.csv, aggregates.csv and list exports under ``output_root/<year−1>/data``.

    The list exports are every other CSV of that folder with a ``unit_code`` column, by file
    name: the loader needs no schema, and a list the schema no longer has is never looked up.
    """
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
    lists = {}
    for path in sorted(data.glob("*.csv")):
        if path.stem in NOT_LISTS:
            continue
        frame = _read_csv(path)
        if "unit_code" in frame.columns:
            lists[path.stem] = frame
    log.info("previous year %s loaded from %s", year - 1, data)
    return Previous(year - 1, values, aggs, lists)


def _counts(fields: tuple[Field, ...] | list[Field]) -> list[Field]:
    """Fields whose values are counts or amounts (not years, not pre-filled)."""
    return [
        f
        for f in fields
        if f.type in ("integer", "decimal", "money")
        and not f.prefill
        and (f.min is None or f.min < YEAR_LIKE_MIN)
    ]


def compared_fields(schemas: Schemas) -> list[Field]:
    """Scalar fields whose values are counts or amounts (not years, not pre-filled)."""
    return _counts(schemas.report.fields)


def change_label(key: str, report: ReportSchema) -> str:
    """Vietnamese label of a compared field: “Giáo viên: tổng số” for ``people.teachers.total``,
    “Sáng kiến, giải pháp …: số dòng” for ``initiatives.count``, the field's label otherwise."""
    if key in report.field_map:
        return report.field_map[key].label
    head, _, rest = key.partition(".")
    lst = report.list_map.get(head)
    if lst is None:
        return key
    if rest == "count" and not lst.fixed_field:
        return f"{_sentence(lst.title)}: số dòng"
    group, _, column = rest.partition(".")
    if lst.fixed_choices and column:
        try:
            label = lst.field(column).label
        except KeyError:
            return key
        return f"{report.choice_label(lst.fixed_choices, group)}: {_lower_first(label)}"
    return key


def _sentence(title: str) -> str:
    """A list title typed in capitals (“SÁNG KIẾN, GIẢI PHÁP …”) in sentence case."""
    return title[:1] + title[1:].lower() if title.isupper() else title


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


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


class _Compared(NamedTuple):
    """One figure of this year's file, the key it had last year, and where it sits.

    A named tuple: a run of ten thousand units makes half a million of them.
    """

    key: str
    """Field of year_over_year.csv: a scalar code, people.teachers.total, initiatives.count."""
    value: float
    cell: tuple[str, str, int] | None
    """(field, list code or "", row or 0) of the cell, for an issue; None: only shown."""


class _Figures:
    """This year's compared figures of every kept file, taken from the frames once.

    Column by column into plain arrays, with each file's rows found in one pass: looking
    rows up per file in the mixed-type frames would cost seconds at ten thousand files.
    """

    def __init__(self, data: Submissions, report: ReportSchema) -> None:
        scalars = data.scalars
        self.scalar_fields = [f.code for f in _counts(report.fields) if f.code in scalars]
        self.scalar_at = {file: i for i, file in enumerate(scalars.index)}
        self.scalar_columns = {
            code: scalars[code].to_numpy(dtype=object) for code in self.scalar_fields
        }
        self.lists: list[tuple[ListSpec, list[str], dict[str, Any], dict[str, Any]]] = []
        for lst in report.lists:
            frame = data.lists.get(lst.code)
            if frame is None:
                continue
            fields = [f.code for f in _counts(lst.fields)] if lst.fixed_field else []
            names = [*fields, "row", *([lst.fixed_field] if lst.fixed_field else [])]
            columns = {c: frame[c].to_numpy(dtype=object) for c in names}
            positions = frame.groupby("file", sort=False).indices if len(frame) else {}
            self.lists.append((lst, fields, columns, positions))

    def of(self, file: str) -> Iterator[_Compared]:
        """The figures of one file, in the order of the schema."""
        i = self.scalar_at[file]
        for code in self.scalar_fields:
            new = _number(self.scalar_columns[code][i])
            if new is not None:
                yield _Compared(code, new, (code, "", 0))
        for lst, fields, columns, positions in self.lists:
            at = positions.get(file, ())
            if not lst.fixed_field:
                yield _Compared(f"{lst.code}.count", float(len(at)), None)
                continue
            groups, rows = columns[lst.fixed_field], columns["row"]
            for code in fields:
                values = columns[code]
                for j in at:
                    new, group = _number(values[j]), groups[j]
                    if new is None or group is None or group is pd.NA:
                        continue
                    yield _Compared(
                        f"{lst.code}.{group}.{code}", new, (code, lst.code, int(rows[j]))
                    )


def _before(previous: Previous, report: ReportSchema) -> dict[tuple[str, str], float]:
    """Last year's figures by (normalised unit code, key of year_over_year.csv)."""
    before: dict[tuple[str, str], float] = {}
    keys: dict[str, str] = {}

    def unit_keys(column: pd.Series) -> list[str]:
        # Each code once: a unit has dozens of rows, and the files hold ten thousand units.
        codes = column.tolist()
        for code in set(codes) - keys.keys():
            keys[code] = normalise_code(code)
        return [keys[c] for c in codes]

    fields = {f.code for f in _counts(report.fields)}
    prev = previous.values
    prev = prev[prev["field"].isin(fields)]
    for key, fld, value in zip(
        unit_keys(prev["unit_code"]), prev["field"].tolist(), prev["value"].tolist(), strict=True
    ):
        number = _number(value)
        if number is not None:
            before[(key, str(fld))] = number
    reported = set(unit_keys(previous.values["unit_code"]))
    for lst in report.lists:
        frame = previous.lists.get(lst.code)
        if frame is None:
            # No export of this list (written by an older version): nothing is known.
            continue
        if not lst.fixed_field:
            # A unit that reported last year and listed nothing had 0 rows.
            counts = Counter(unit_keys(frame["unit_code"]))
            for key in reported:
                before[(key, f"{lst.code}.count")] = float(counts.get(key, 0))
            continue
        if lst.fixed_field not in frame.columns:
            continue
        units, groups = unit_keys(frame["unit_code"]), frame[lst.fixed_field].tolist()
        for f in _counts(lst.fields):
            if f.code not in frame.columns:
                continue
            prefix_field = f".{f.code}"
            for key, group, value in zip(units, groups, frame[f.code].tolist(), strict=True):
                number = _number(value)
                if number is not None and group:
                    before[(key, f"{lst.code}.{group}{prefix_field}")] = number
    return before


def unit_changes(
    data: Submissions,
    kept: dict[str, str],
    schemas: Schemas,
    previous: Previous | None,
    year: int,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Per unit and compared figure: previous, current, change; implausible jumps as issues."""
    if previous is None or previous.values.empty:
        return pd.DataFrame(columns=YOY_COLUMNS), []
    t = Thresholds.from_schemas(schemas)
    report = schemas.report
    before = _before(previous, report)
    figures = _Figures(data, report)
    rows: list[tuple[object, ...]] = []
    issues: list[Issue] = []
    for code in sorted(kept):
        file = kept[code]
        if file not in figures.scalar_at:
            continue
        key = normalise_code(code)
        for cur in figures.of(file):
            old = before.get((key, cur.key))
            if old is None:
                continue
            new = cur.value
            why = jump(old, new, t) if cur.cell is not None else ""
            rows.append(
                (code, cur.key, old, new, new - old, (new - old) / old if old else None, bool(why))
            )
            if not why or cur.cell is None:
                continue
            fld, list_code, row = cur.cell
            issues.append(
                make_issue(
                    "implausible-change",
                    f"“{change_label(cur.key, report)}” năm {year} là {number_text(new)}, "
                    f"năm {previous.year} là {number_text(old)} ({why}). Nếu số liệu đúng, "
                    "đơn vị giải thích lý do trong phần đánh giá chung; nếu nhầm, sửa lại ô "
                    "này rồi gửi lại.",
                    file=file,
                    unit_code=code,
                    **data.where(file, fld, list_code, row),
                    field=f"{list_code}.{fld}" if list_code else fld,
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


# --------------------------------------------------------------------------- reporter


REPORTER_FIELDS = ("reporter_name", "reporter_email")


def _fold(text: object) -> str:
    """A name or address compared as people read it: case and extra spaces do not count."""
    if not isinstance(text, str):
        return ""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def reporter_changes(
    data: Submissions,
    kept: Mapping[str, str],
    registry: Registry,
    previous: Previous | None,
) -> list[Issue]:
    """A warning where the person reporting is new to the unit: "B's figures in A's file"?

    The rule (docs/dac-ta-nhan-dien.md, "Người báo cáo khác thường lệ"): only a unit whose
    report of the year before names its reporter is compared. The file's reporter (name,
    address) is usual when the address is the unit's registered address, or the name or the
    address is last year's reporter's (case and extra spaces aside); otherwise a warning at
    the reporter's name cell names this year's reporter, last year's and the registered
    address, for the specialist to check with the unit that the figures are its own.
    """
    if previous is None or previous.values.empty or "reporter_name" not in data.scalars:
        return []
    prev = previous.values[previous.values["field"].isin(REPORTER_FIELDS)]
    before: dict[str, dict[str, str]] = {}
    for code, fld, value in zip(
        prev["unit_code"].tolist(), prev["field"].tolist(), prev["value"].tolist(), strict=True
    ):
        before.setdefault(normalise_code(str(code)), {})[str(fld)] = str(value)
    issues: list[Issue] = []
    for code in sorted(kept):
        last = before.get(normalise_code(code))
        unit = registry.units.get(code)
        file = kept[code]
        if not last or unit is None or file not in data.scalars.index:
            continue
        name = data.scalars.at[file, "reporter_name"]
        address = (
            data.scalars.at[file, "reporter_email"] if "reporter_email" in data.scalars else None
        )
        name_f, address_f = _fold(name), _fold(address)
        if not name_f and not address_f:
            continue
        typed = email_addresses(address) if isinstance(address, str) else set()
        if typed & email_addresses(unit.email):
            continue
        last_name, last_address = last.get("reporter_name", ""), last.get("reporter_email", "")
        if (name_f and name_f == _fold(last_name)) or (typed & email_addresses(last_address)):
            continue
        now = _person(name, address)
        then = _person(last_name, last_address)
        where = data.where(file, "reporter_name") if name_f else data.where(file, "reporter_email")
        issues.append(
            make_issue(
                "reporter-changed",
                f"Người báo cáo năm nay là {now}, khác người báo cáo năm {previous.year} của "
                f"{unit.name} ({then}), và thư điện tử không phải địa chỉ của đơn vị trong danh "
                f"mục ({unit.email or 'danh mục chưa ghi địa chỉ'}). Sở xác minh với đơn vị rằng "
                "số liệu là của chính đơn vị (không phải tệp của đơn vị khác điền hộ hoặc chép "
                "sang); nếu đúng, không cần làm gì.",
                file=file,
                unit_code=code,
                **where,
                field="reporter_name" if name_f else "reporter_email",
                value=str(name if name_f else address),
            )
        )
    return issues


def _person(name: object, address: object) -> str:
    parts = [f"“{v.strip()}”" for v in (name, address) if isinstance(v, str) and v.strip()]
    return ", ".join(parts) or "không ghi"
