"""Evaluate the emulation criteria (Kế hoạch mục III.1) and the “Đơn vị học tập” level.

The specification is docs/dac-ta-tieu-chi.md (Vietnamese, for the specialist who signs the
report); its worked cases live in tests/criteria_cases.yaml and every one of them runs in
the test suite (tests/test_criteria_cases.py). In short:

* Verdicts: "đạt", "không đạt", "chưa đủ số liệu" (an input the verdict depends on is blank,
  or was excluded because it carried an error; the reason names the field and its cell) and
  "không áp dụng" (the unit type is not in the criterion's `applies_to`: no row in the
  table, "—" in Biểu 04).
* Expressions use three-valued logic: a blank is unknown, so `A or B` with A met is "đạt"
  whatever B is, and a comparison with a blank is unknown. Text inputs (choices) swallow
  blanks in pandas, so any blank text input makes the verdict unknown.
* Rate criteria (a4, c1): numerator ≥ threshold × denominator in exact arithmetic; a zero or
  blank denominator is "chưa đủ số liệu". c1's threshold is the QĐ 677 target in force for
  the report year (:meth:`pipeline.schema.Target.in_force`), the figure Biểu 01 and the
  draft report state.
* A sum over the people matrix is no figure for a verdict when any row it adds leaves that
  column blank or had it excluded (the `__partial` column of the unit frame): a partial sum
  would pass or fail a unit on half its staff. The sum itself stays, for the city's counts.
  A group left wholly blank is not a group (an area office has no learners).
* Counts of initiatives (a3, b2, c2) take the rows recognised at or above a minimum level
  in the report year or the year(s) before; a blank year does not count. A row whose filter
  (`where`) reads a blank cell is not counted: a blank level is not a recognition. A row
  whose level or year was excluded by an error is "uncertain": when counting it would
  change the verdict, the verdict is "chưa đủ số liệu".
* A recognition as “Đơn vị học tập” in year R counts for the report years R … R + validity
  − 1 and has lapsed from R + validity (warning ``recognition-lapsed``); a recognised level
  without its year is unknown. Mức 2 needs Mức 1 at least 12 months before (TT 24): with
  years only, Mức 1 in the same year as Mức 2 is certainly too soon, the year before may be
  enough and is accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pandas as pd

from pipeline.issues import Issue, make_issue
from pipeline.rates import pct_text
from pipeline.registry import Registry
from pipeline.schema import (
    CriteriaSchema,
    Criterion,
    Derived,
    LearningUnitLevels,
    ReportSchema,
    Schemas,
    expr_names,
)
from pipeline.validate import FILE, ROW, Submissions

PASS, FAIL, UNKNOWN = "đạt", "không đạt", "chưa đủ số liệu"
NOT_APPLICABLE = "không áp dụng"
"""Not a row of the criteria table: Biểu 04 shows "—"."""
VERDICTS = (PASS, FAIL, UNKNOWN, NOT_APPLICABLE)
UNCERTAIN = "__uncertain"
"""Suffix of the unit-frame column counting the rows a filtered count could not decide."""
PARTIAL = "__partial"
"""Suffix of the unit-frame column marking a sum that misses a blank or excluded row."""
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")

UNIT_INFO_COLUMNS = ["unit_code", "unit_name", "unit_type", "area_code", "area_name", "file"]
CRITERIA_COLUMNS = ["unit_code", "criterion", "status", "reason"]

RECOGNISED_LEVEL, RECOGNISED_YEAR = "ldu_recognised_level", "ldu_recognised_year"
SELF_LEVEL, LEVEL1_YEAR = "ldu_self_level", "ldu_level1_year"


# --------------------------------------------------------------------------- unit frame


def unit_frame(
    data: Submissions, kept: Mapping[str, str], schemas: Schemas, registry: Registry, year: int
) -> pd.DataFrame:
    """One row per accepted unit: registry facts, scalar values and derived metrics.

    `year` is the report year of the run: recognitions and initiatives are dated against it.
    """
    files = list(kept.values())
    scalars = data.scalars.loc[data.scalars.index.isin(files)]
    frame = scalars.drop(columns=["unit_code", "unit_name", "area_name"], errors="ignore").copy()
    frame.insert(0, "file", frame.index)
    codes = [data.unit_of[f] for f in frame.index]
    units = [registry.units[c] for c in codes]
    frame.insert(0, "area_name", [registry.areas[u.area_code].name for u in units])
    frame.insert(0, "area_code", [u.area_code for u in units])
    frame["unit_type"] = [u.type for u in units]
    frame.insert(0, "unit_name", [u.name for u in units])
    frame.insert(0, "unit_code", codes)
    frame = frame.set_index("unit_code", drop=False)
    frame.index.name = None
    crit = schemas.criteria
    for d in crit.derived:
        if d.recognition is not None:
            frame[d.code] = _recognition_values(frame, d, crit.learning_unit_levels, year)
            continue
        if d.expr is not None:
            used = [n for n in expr_names(d.expr) if n in frame.columns]
            result = frame[used].eval(d.expr, engine="python") if frame.shape[0] else []
            if not isinstance(result, pd.Series):
                result = pd.Series(result, index=frame.index)
            frame[d.code] = pd.array(result.astype(int), dtype="Int64")
            continue
        assert d.list is not None
        rows = data.lists[d.list]
        rows = rows[rows[FILE].isin(files)]
        chosen = _where(rows, d)
        if d.sum:
            picked = rows[chosen]
            # The sum of what was reported (a count for the totals), and whether a row it
            # adds left the column blank or had it excluded: then it is no figure for a
            # verdict, which would pass or fail a unit on part of its staff.
            sums = picked.groupby(FILE)[d.sum].sum(min_count=1)
            partial = picked[d.sum].isna().groupby(picked[FILE]).any()
            frame[d.code] = pd.array(frame["file"].map(sums), dtype="Float64")
            frame[d.code + PARTIAL] = frame["file"].isin(partial.index[partial.astype(bool)])
            continue
        counted, uncertain = chosen, None
        if d.filter_columns:
            decided = _row_filters(rows, d, data, schemas, year)
            counted = chosen & decided.fillna(False).astype(bool)
            uncertain = chosen & decided.isna().to_numpy()
        per_file = rows[counted].groupby(FILE).size()
        frame[d.code] = pd.array(frame["file"].map(per_file).fillna(0), dtype="Int64")
        if uncertain is not None:
            open_rows = rows[uncertain].groupby(FILE).size()
            frame[d.code + UNCERTAIN] = pd.array(
                frame["file"].map(open_rows).fillna(0), dtype="Int64"
            )
    return frame


def _where(rows: pd.DataFrame, d: Derived) -> pd.Series:
    if not d.where:
        return pd.Series(True, index=rows.index)
    if rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    chosen = rows.eval(d.where, engine="python").astype("boolean").fillna(False).astype(bool)
    # A blank is unknown, not a value: `level != 'not_recognised'` over a blank level is not
    # a recognised initiative (docs/dac-ta-tieu-chi.md 1.2). pandas compares None as a value.
    for name in expr_names(d.where):
        if name in rows.columns:
            chosen &= rows[name].notna().to_numpy()
    return chosen


def _excluded_mask(rows: pd.DataFrame, data: Submissions, list_code: str, col: str) -> pd.Series:
    """True where the row's cell in `col` was blanked because it carried an error."""
    keys = {(f, r) for f, lc, r, c in data.excluded if lc == list_code and c == col}
    if not keys or rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    pairs = zip(rows[FILE].tolist(), rows[ROW].tolist(), strict=True)
    return pd.Series([p in keys for p in pairs], index=rows.index, dtype=bool)


def _row_filters(
    rows: pd.DataFrame, d: Derived, data: Submissions, schemas: Schemas, year: int
) -> pd.Series:
    """Per row: True counts, False does not, NA cannot be decided (an input was excluded)."""
    assert d.list is not None
    report, params = schemas.report, schemas.criteria.params
    lst = report.list_map[d.list]
    ok = pd.Series(pd.array([True] * len(rows), dtype="boolean"), index=rows.index)

    def undecided_if_excluded(cond: pd.Series, col: str) -> pd.Series:
        # A blank cell is a plain "no"; an excluded one is unknown until the unit fixes it.
        cond = cond.astype("boolean")
        excluded = _excluded_mask(rows, data, d.list or "", col)
        return cond.fillna(False).mask(excluded, pd.NA)

    if d.level_at_least:
        col, param = d.level_at_least
        ranks = {c.code: c.rank for c in report.choices[lst.field(col).choices or ""]}
        rank = pd.array(rows[col].map(ranks), dtype="Float64")
        cond = pd.Series(rank >= params[param].value, index=rows.index)
        ok = ok & undecided_if_excluded(cond, col)
    if d.year_within:
        col, param = d.year_within
        first = year - int(params[param].value) + 1
        years = rows[col].astype("Int64")
        ok = ok & undecided_if_excluded((years >= first) & (years <= year), col)
    for col in d.filled:
        ok = ok & undecided_if_excluded(rows[col].notna(), col)
    return ok


def _recognition_values(
    frame: pd.DataFrame, d: Derived, spec: LearningUnitLevels, year: int
) -> pd.api.extensions.ExtensionArray:
    assert d.recognition is not None
    rec = d.recognition
    out: list[int | None] = []
    for level, recognised in zip(
        frame[rec.level].to_numpy(dtype=object),
        frame[rec.year].to_numpy(dtype=object),
        strict=True,
    ):
        state = recognition_state(level, recognised, spec, year)
        if rec.state == "unknown":
            out.append(int(state == "unknown"))
        elif state == "unknown":
            out.append(None)
        else:
            out.append(int(state == "valid" and level in rec.levels))
    return pd.array(out, dtype="Int64")


def recognition_state(
    level: object, recognised: object, spec: LearningUnitLevels, year: int
) -> str:
    """ "none", "valid", "lapsed" or "unknown" (level or year missing, year after the report)."""
    if _missing(level):
        return "unknown"
    if level == "none":
        return "none"
    if _missing(recognised) or int(recognised) > year:  # type: ignore[call-overload]
        return "unknown"
    return "valid" if year <= spec.valid_through(int(recognised)) else "lapsed"  # type: ignore[call-overload]


# --------------------------------------------------------------------------- labels, display


def _label(name: str, schemas: Schemas) -> str:
    f = schemas.report.field_map.get(name)
    if f is not None:
        return f.label
    for d in schemas.criteria.derived:
        if d.code == name:
            return d.label
    return name


def _show(value: object, name: str, report: ReportSchema) -> str:
    f = report.field_map.get(name)
    if _missing(value):
        return "trống"
    if f is not None and f.type == "choice" and f.choices:
        return report.choice_label(f.choices, str(value))
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value)


def format_number(value: float, decimals: int = 2) -> str:
    """Vietnamese display: 1.234.567 and 12,5."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    text = f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def at_least(num: object, den: object, threshold: float) -> bool:
    """num ≥ threshold × den in exact arithmetic (0.07 × 100 is 7, not 7.000000000000001)."""
    return Fraction(float(num)) >= Fraction(repr(float(threshold))) * Fraction(float(den))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- criteria


class _Explainer:
    """Vietnamese descriptions of a unit's inputs, naming blank and excluded cells."""

    def __init__(self, units: pd.DataFrame, schemas: Schemas, year: int, data: Submissions | None):
        self.units, self.schemas, self.year, self.data = units, schemas, year, data
        self.report = schemas.report
        self.derived = {d.code: d for d in schemas.criteria.derived}
        self.lul = schemas.criteria.learning_unit_levels
        # Positional access through plain arrays: a label lookup (.at) per unit and input
        # costs seconds at ten thousand units.
        self.position = {code: i for i, code in enumerate(units.index)}
        self.columns: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.counted: dict[str, str] = {}

    def value(self, code: str, name: str) -> Any:
        column = self.columns.get(name)
        if column is None:
            column = self.columns[name] = self.units[name].to_numpy(dtype=object)
        return column[self.position[code]]

    def label(self, name: str) -> str:
        found = self.labels.get(name)
        if found is None:
            found = self.labels[name] = _label(name, self.schemas)
        return found

    def cell(self, file: str, fld: str, list_code: str = "", row: int = 0) -> tuple[str, bool]:
        """(address, excluded) of a value, ("", False) when unknown."""
        if self.data is None:
            return "", False
        loc = self.data.locate(file, fld, list_code, row)
        excluded = (file, list_code, row, fld) in self.data.excluded
        return (loc.address if loc else ""), excluded

    def known(self, code: str, name: str) -> Any:
        """The value a verdict may use: None for a blank, excluded or partial figure."""
        value = self.value(code, name)
        if _missing(value):
            return None
        if name + PARTIAL in self.units.columns and self.value(code, name + PARTIAL):
            return None
        return value

    def describe(self, name: str, code: str, uncertain: int = 0) -> str:
        value = self.known(code, name)
        d = self.derived.get(name)
        if d is not None and d.recognition is not None:
            return self.recognition(code, d)
        label = self.label(name)
        if not _missing(value):
            text = f"{label} = {_show(value, name, self.report)}"
            if d is not None and (d.level_at_least or d.year_within):
                text += f" ({self.counted_rows(d)})"
            if uncertain and d is not None:
                text += " " + self.uncertain_rows(code, d, uncertain)
            return text
        if d is not None and d.list is not None:
            return self.missing_sum(code, d)
        return self.missing_field(code, name, label)

    def missing_field(self, code: str, name: str, label: str) -> str:
        address, excluded = self.cell(str(self.value(code, "file")), name)
        where = f" (ô {address})" if address else ""
        if excluded:
            return f"{label}: số liệu có lỗi nên không được tính{where}"
        return f"{label}: để trống{where}"

    def missing_sum(self, code: str, d: Derived) -> str:
        assert d.list is not None and d.sum is not None
        lst = self.report.list_map[d.list]
        column = lst.field(d.sum).label
        if self.data is None:
            return f"{d.label}: chưa tính được (cột {_lower(column)} để trống hoặc có lỗi)"
        file = str(self.value(code, "file"))
        rows = self.data.lists[d.list]
        rows = rows[rows[FILE] == file]
        rows = rows[_where(rows, d)]
        if rows.empty:
            return f"{d.label}: chưa có số liệu (bảng “{_sentence(lst.title)}” để trống)"
        parts = []
        for r in rows[rows[d.sum].isna()].itertuples(index=False):
            row = int(getattr(r, ROW))
            address, excluded = self.cell(file, d.sum, d.list, row)
            who = ""
            if lst.fixed_field and lst.fixed_choices:
                who = " của nhóm " + self.report.choice_label(
                    lst.fixed_choices, str(getattr(r, lst.fixed_field))
                )
            state = "có lỗi nên không được tính" if excluded else "để trống"
            parts.append(
                f"{who.strip() or 'dòng ' + str(row)} {state}"
                + (f" (ô {address})" if address else "")
            )
        return f"{d.label}: chưa tính được vì cột {_lower(column)} " + "; ".join(parts)

    def counted_rows(self, d: Derived) -> str:
        """Which rows a filtered count takes, with the params' values of this run."""
        if d.code not in self.counted:
            self.counted[d.code] = self._counted_rows(d)
        return self.counted[d.code]

    def _counted_rows(self, d: Derived) -> str:
        params, parts = self.schemas.criteria.params, []
        if d.level_at_least:
            p = params[d.level_at_least[1]]
            parts.append(f"{self.report.choice_label(p.choices or '', p.choice or '')} trở lên")
        if d.year_within:
            first = self.year - int(params[d.year_within[1]].value) + 1
            parts.append(f"năm {first}–{self.year}" if first < self.year else f"năm {self.year}")
        return "tính: " + ", ".join(parts)

    def uncertain_rows(self, code: str, d: Derived, count: int) -> str:
        assert d.list is not None
        lst = self.report.list_map[d.list]
        cols = [c for c in d.filter_columns]
        names = " hoặc ".join(f"“{lst.field(c).label}”" for c in cols)
        cells = []
        if self.data is not None:
            file = str(self.value(code, "file"))
            for f, lc, _row, c in sorted(self.data.excluded):
                if f == file and lc == d.list and c in cols:
                    address, _ = self.cell(file, c, lc, _row)
                    if address:
                        cells.append(address)
        where = f": ô {', '.join(cells)}" if cells else ""
        return f"(chưa kể {format_number(count)} dòng có lỗi ở cột {names}{where})"

    def recognition(self, code: str, d: Derived) -> str:
        assert d.recognition is not None
        rec = d.recognition
        level, recognised = self.value(code, rec.level), self.value(code, rec.year)
        level_label = self.label(rec.level)
        year_label = self.label(rec.year)
        if _missing(level):
            return self.missing_field(code, rec.level, level_label)
        shown = _show(level, rec.level, self.report)
        if level == "none":
            return f"{level_label}: {shown}"
        if _missing(recognised):
            return (
                f"{level_label}: {shown}; "
                + self.missing_field(code, rec.year, year_label)
                + " nên chưa xác định được công nhận còn hiệu lực"
            )
        r = int(recognised)
        if r > self.year:
            return f"{level_label}: {shown}; {year_label} = {r}, sau năm báo cáo {self.year}"
        until = self.lul.valid_through(r)
        # Only the year is known (docs/dac-ta-tieu-chi.md, mục 5): say so.
        known = f"{level_label}: {shown}, công nhận năm {r}, còn hiệu lực đến hết năm {until}"
        if self.year <= until:
            return known
        return (
            f"{known}, hết hiệu lực trong năm {until + 1} (đủ {self.lul.validity_years} năm "
            "kể từ quyết định); cần đánh giá, công nhận lại"
        )


def _sentence(title: str) -> str:
    return title[:1] + title[1:].lower()


_OPERATORS = ((">=", "≥"), ("<=", "≤"), ("==", "="), ("!=", "≠"))


def condition_text(c: Criterion, schemas: Schemas, year: int) -> str:
    """The condition for "đạt", in words: labels for codes, values for params."""
    crit = schemas.criteria
    if c.rate is not None:
        rate = c.rate
        if rate.target is not None:
            target = crit.target_map[rate.target]
            found = target.in_force(year)
            if found is None:
                return "chưa có chỉ tiêu cho năm báo cáo"
            return (
                f"tỷ lệ từ {pct_text(found[1])} trở lên (chỉ tiêu đến năm {found[0]}; "
                f"{target.source})"
            )
        assert rate.at_least is not None
        param = crit.params[rate.at_least]
        return f"tỷ lệ từ {pct_text(param.value)} trở lên ({_lower(param.label)})"
    assert c.expr is not None
    derived = {d.code: d for d in crit.derived}
    lul = crit.learning_unit_levels

    def recognition(m: re.Match[str]) -> str:
        d = derived.get(m.group(1))
        if d is None or d.recognition is None:
            return m.group(0)
        levels = " hoặc ".join(
            schemas.report.choice_label("ldu_level", lv) for lv in d.recognition.levels
        )
        return (
            f"được công nhận {levels}, còn hiệu lực (công nhận có giá trị "
            f"{lul.validity_years} năm kể từ quyết định: công nhận năm R còn hiệu lực đến hết "
            f"năm R + {lul.validity_years - 1})"
        )

    text = re.sub(r"\b([a-z][a-z0-9_]*)\s*==\s*1\b", recognition, c.expr)

    def param_text(m: re.Match[str]) -> str:
        p = crit.params[m.group(1)]
        if p.choice is not None and p.choices is not None:
            return schemas.report.choice_label(p.choices, p.choice)
        return format_number(p.value)

    text = _PARAM.sub(param_text, text)
    text = re.sub(
        r"(?<![@\w'\"])([a-z][a-z0-9_]*)\b",
        lambda m: (
            m.group(0)
            if m.group(1) in ("and", "or", "not")
            else _label(m.group(1), schemas)
            if m.group(1) in schemas.report.field_map or m.group(1) in derived
            else m.group(0)
        ),
        text,
    )
    for op, sign in _OPERATORS:
        text = text.replace(f" {op} ", f" {sign} ")
    return text.replace(" and ", " và ").replace(" or ", " hoặc ")


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def evaluate_criteria(
    units: pd.DataFrame, schemas: Schemas, year: int, data: Submissions | None = None
) -> pd.DataFrame:
    """For each unit and applicable criterion: đạt / không đạt / chưa đủ số liệu, and why.

    `data` (the validated submissions) lets a reason name the cell of a blank or excluded
    input; without it the reason still names the field.
    """
    crit: CriteriaSchema = schemas.criteria
    explain = _Explainer(units, schemas, year, data)
    rows: list[dict[str, str]] = []
    for c in crit.criteria:
        subset = units[units["unit_type"].isin(c.applies_to)]
        if subset.empty:
            continue
        condition = condition_text(c, schemas, year)
        if c.rate is not None:
            verdicts = _rate_verdicts(c, subset, schemas, year, explain)
        else:
            verdicts = _expr_verdicts(c, subset, schemas, explain)
        for code, (status, described) in zip(subset.index, verdicts, strict=True):
            reason = f"{described}. Điều kiện đạt: {condition}."
            rows.append(
                {"unit_code": code, "criterion": c.code, "status": status, "reason": reason}
            )
    return pd.DataFrame(rows, columns=CRITERIA_COLUMNS)


def _expr_verdicts(
    c: Criterion, subset: pd.DataFrame, schemas: Schemas, explain: _Explainer
) -> list[tuple[str, str]]:
    assert c.expr is not None
    names = expr_names(c.expr)
    params = schemas.criteria.param_values
    local = {p: params[p] for p in _PARAM.findall(c.expr)}
    frame = _for_verdicts(subset, names)
    low = _eval(frame, c.expr, local)
    unknown = low.isna().to_numpy(dtype=bool, copy=True)
    open_cols = [n for n in names if n + UNCERTAIN in subset.columns]
    uncertain = {n: subset[n + UNCERTAIN].fillna(0).astype(int).tolist() for n in open_cols}
    if open_cols and any(any(v) for v in uncertain.values()):
        # Count the rows that could not be decided as if they counted: if that changes the
        # verdict, it waits for the unit's correction.
        high_frame = frame.copy()
        for n in open_cols:
            high_frame[n] = frame[n] + subset[n + UNCERTAIN]
        high = _eval(high_frame, c.expr, local)
        unknown |= (high.isna() | (low.fillna(False) != high.fillna(False))).to_numpy()
    # pandas compares a blank text with a value as plain False: a blank choice is unknown.
    texts = [n for n in names if not _is_numeric(frame[n])]
    if texts:
        unknown |= frame[texts].isna().any(axis=1).to_numpy()
    passed = low.fillna(False).astype(bool).tolist()
    out = []
    for i, code in enumerate(subset.index):
        status = UNKNOWN if unknown[i] else PASS if passed[i] else FAIL
        described = "; ".join(
            explain.describe(n, code, uncertain[n][i] if n in uncertain else 0) for n in names
        )
        out.append((status, described))
    return out


def _for_verdicts(subset: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The inputs of a criterion, a partial sum blanked (it is no figure for a verdict)."""
    frame = subset[names].copy()
    for n in names:
        if n + PARTIAL in subset.columns:
            frame[n] = frame[n].mask(subset[n + PARTIAL])
    return frame


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _eval(frame: pd.DataFrame, expr: str, local: Mapping[str, float]) -> pd.Series:
    result = frame.eval(expr, engine="python", local_dict=dict(local))
    if not isinstance(result, pd.Series):
        result = pd.Series(result, index=frame.index)
    return result.astype("boolean")


def _rate_verdicts(
    c: Criterion, subset: pd.DataFrame, schemas: Schemas, year: int, explain: _Explainer
) -> list[tuple[str, str]]:
    rate = c.rate
    assert rate is not None
    crit = schemas.criteria
    if rate.target is not None:
        found = crit.target_map[rate.target].in_force(year)
        threshold = None if found is None else found[1]
    else:
        assert rate.at_least is not None
        threshold = crit.params[rate.at_least].value
    inputs = _for_verdicts(subset, [rate.numerator, rate.denominator])
    nums = inputs[rate.numerator].to_numpy(dtype=object)
    dens = inputs[rate.denominator].to_numpy(dtype=object)
    den_label = _label(rate.denominator, schemas)
    out = []
    for code, num, den in zip(subset.index, nums, dens, strict=True):
        described = "; ".join(explain.describe(n, code) for n in (rate.numerator, rate.denominator))
        if _missing(num) or _missing(den) or threshold is None:
            out.append((UNKNOWN, described))
        elif float(den) == 0:
            out.append((UNKNOWN, f"{described}: {_lower(den_label)} bằng 0, không tính được tỷ lệ"))
        else:
            share = Fraction(float(num)) / Fraction(float(den))
            status = PASS if at_least(num, den, threshold) else FAIL
            out.append((status, f"{described}; tỷ lệ {pct_text(share)}"))
    return out


def verdict(criteria: pd.DataFrame, unit_code: str, criterion: str) -> str:
    """The verdict of one unit on one criterion, "không áp dụng" when it has no row."""
    hit = criteria[(criteria["unit_code"] == unit_code) & (criteria["criterion"] == criterion)]
    return str(hit["status"].iloc[0]) if len(hit) else NOT_APPLICABLE


# --------------------------------------------------------------------------- TT 24 levels


def _rank(report: ReportSchema, choices: str, code: object) -> int:
    if _missing(code):
        return -1
    for c in report.choices[choices]:
        if c.code == code:
            return c.rank
    return -1


def min_year_gap(months: int) -> int:
    """Fewest whole years between two recognitions for `months` to be possible.

    Only years are known: Mức 1 in December of A and Mức 2 in January of A + g are
    12·g − 11 months apart at the least and 12·g + 11 at the most. The check accepts a gap
    that can be long enough (12·g + 11 ≥ months); 12 months → 1 year.
    """
    return max(0, math.ceil((months - 11) / 12))


class _Condition:
    """Results of one level's conditions for a unit: failed, and not decidable."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.unknown: list[str] = []
        self.blank = False
        """An input is missing with no message of its own (blank, or a zero total); missing
        only because of errors, the errors already tell the unit what to fix."""

    def missing(self, text: str, *, error: bool) -> None:
        self.unknown.append(text)
        self.blank |= not error

    @property
    def status(self) -> str:
        return FAIL if self.failed else UNKNOWN if self.unknown else PASS


LEARNING_UNIT_COLUMNS = [
    "unit_code",
    "self_level",
    "recognised_level",
    "recognised_year",
    "recognition",
    "valid_until",
    "valid_level",
    "supported_level",
    "member_rate",
    "learner_rate",
    "flagged",
    "reason",
]


def evaluate_learning_unit(
    units: pd.DataFrame, data: Submissions, schemas: Schemas, year: int
) -> tuple[pd.DataFrame, list[Issue]]:
    """The TT 24/2023 level each unit's figures support, against what it claims.

    Also the validity of the recognition it reports (lapsed → warning) and the Mức 2 timing
    (12 months after Mức 1) of a claimed recognition. Columns: LEARNING_UNIT_COLUMNS plus one
    verdict column per level (``verdict_level_1``, ...).
    """
    report, spec = schemas.report, schemas.criteria.learning_unit_levels
    rows, issues = [], []
    # Rows as plain dicts holding what iterrows() would (each column as an object array):
    # building a Series per unit costs seconds at ten thousand units.
    arrays = [(c, units[c].to_numpy(dtype=object)) for c in units.columns]
    people_errors = frozenset(
        f for f, lc, _, c in data.excluded if lc == "people" and c in ("total", "recognised")
    )
    for i, code in enumerate(units.index):
        u: Any = {c: values[i] for c, values in arrays}
        file = str(u["file"])
        member_rate = _ratio(*(_complete(u, n) for n in ("members_recognised", "members_total")))
        learner_rate = _ratio(*(_complete(u, n) for n in ("learners_recognised", "learners_total")))
        verdicts: dict[str, str] = {}
        supported, why, blocked, undecided, stuck, quiet = "none", "", False, False, "", False
        for lvl in spec.levels:
            cond = _level_conditions(
                u, lvl, spec, report, data, year, member_rate, learner_rate, people_errors
            )
            status = cond.status
            if blocked:
                # A higher level includes the lower one: it fails if the lower one failed,
                # and is at best undecided if the lower one was.
                status = FAIL if not undecided or status == FAIL else UNKNOWN
            verdicts[f"verdict_{lvl.code}"] = status
            if blocked:
                continue
            if status != PASS:
                blocked, undecided = True, status == UNKNOWN
                # Missing only through errors: those errors speak; no claim warning on top.
                quiet = undecided and not cond.blank
                name = stuck = report.choice_label("ldu_level", lvl.code)
                parts = []
                if cond.failed:
                    parts.append(f"Chưa đủ điều kiện {name}: " + "; ".join(cond.failed))
                if cond.unknown:
                    lead = "chưa có số liệu" if cond.failed else f"Chưa đủ số liệu để xét {name}"
                    parts.append(f"{lead}: " + "; ".join(cond.unknown))
                why = "; ".join(parts)
                continue
            supported = lvl.code
        state = recognition_state(u.get(RECOGNISED_LEVEL), u.get(RECOGNISED_YEAR), spec, year)
        recognised_year = None if _missing(u.get(RECOGNISED_YEAR)) else int(u[RECOGNISED_YEAR])
        valid_until = (
            spec.valid_through(recognised_year)
            if recognised_year is not None and state in ("valid", "lapsed")
            else None
        )
        issues.extend(
            _recognition_issues(u, str(code), file, state, valid_until, data, schemas, year)
        )
        claimed_field, claimed_rank = None, _rank(report, "ldu_level", supported)
        for fld in (RECOGNISED_LEVEL, SELF_LEVEL):
            r = _rank(report, "ldu_level", u.get(fld))
            if r > claimed_rank:
                claimed_field, claimed_rank = fld, r
        if quiet:
            claimed_field = None
        flagged = claimed_field is not None
        if claimed_field is not None:
            claimed = report.choice_label("ldu_level", str(u.get(claimed_field)))
            enough = report.choice_label("ldu_level", supported)
            # Missing figures are not figures that fall short: say which it is.
            said = (
                f"số liệu báo cáo chưa đủ để xét “{stuck}”"
                if undecided
                else f"số liệu báo cáo chỉ đủ “{enough}”"
            )
            issues.append(
                make_issue(
                    "claimed-level-unsupported",
                    f"Đơn vị ghi “{claimed}” nhưng {said}. {why}. "
                    "Kiểm tra lại số liệu hoặc mức đánh giá.",
                    file=file,
                    unit_code=str(code),
                    **data.where(file, claimed_field),
                    field=claimed_field,
                    value=claimed,
                )
            )
        rows.append(
            {
                "unit_code": code,
                "self_level": u.get(SELF_LEVEL),
                "recognised_level": u.get(RECOGNISED_LEVEL),
                "recognised_year": recognised_year,
                "recognition": state,
                "valid_until": valid_until,
                # The level counted in Biểu 05: none stays none; lapsed or unknown is neither.
                "valid_level": u.get(RECOGNISED_LEVEL) if state in ("valid", "none") else None,
                "supported_level": supported,
                "member_rate": member_rate,
                "learner_rate": learner_rate,
                "flagged": flagged,
                "reason": why,
                **verdicts,
            }
        )
    columns = LEARNING_UNIT_COLUMNS + [f"verdict_{lvl.code}" for lvl in spec.levels]
    return pd.DataFrame(rows, columns=columns), issues


def _level_conditions(
    u: Mapping[str, Any],
    lvl: Any,
    spec: LearningUnitLevels,
    report: ReportSchema,
    data: Submissions,
    year: int,
    member_rate: float | None,
    learner_rate: float | None,
    people_errors: frozenset[str] = frozenset(),
) -> _Condition:
    cond = _Condition()
    file = str(u["file"])
    people_error = file in people_errors

    def excluded(fld: str) -> bool:
        return (file, "", 0, fld) in data.excluded

    for ind in spec.indicators:
        label = report.field_map[ind].label
        value = u.get(ind)
        if _missing(value):
            error = excluded(ind)
            cond.missing(
                f"chỉ số “{label}” có lỗi" if error else f"chưa tự đánh giá “{label}”", error=error
            )
        elif value != "pass":
            cond.failed.append(f"chỉ số “{label}” không đạt")
    members = "tỷ lệ cán bộ, giáo viên, nhân viên là “Công dân học tập”"
    why = "có số liệu lỗi" if people_error else "số liệu trống hoặc bằng 0"
    if member_rate is None:
        cond.missing(f"{members} không tính được ({why})", error=people_error)
    elif not at_least(u.get("members_recognised"), u.get("members_total"), lvl.min_member_rate):
        cond.failed.append(f"{members} {pct_text(member_rate)} < {pct_text(lvl.min_member_rate)}")
    learners = "tỷ lệ học sinh, học viên là “Công dân học tập”"
    if learner_rate is None:
        if u.get("unit_type") in spec.learners_expected:
            cond.missing(f"{learners} không tính được ({why})", error=people_error)
    elif not at_least(u.get("learners_recognised"), u.get("learners_total"), lvl.min_learner_rate):
        cond.failed.append(
            f"{learners} {pct_text(learner_rate)} < {pct_text(lvl.min_learner_rate)}"
        )
    for fld, need in (
        ("emulation_title", lvl.min_emulation_title),
        ("digital_level", lvl.min_digital_level),
    ):
        label = report.field_map[fld].label
        needed = report.choice_label(fld, need)
        if _missing(u.get(fld)):
            error = excluded(fld)
            cond.missing(f"“{label}” {'có lỗi' if error else 'để trống'}", error=error)
        elif _rank(report, fld, u.get(fld)) < _rank(report, fld, need):
            cond.failed.append(f"{_lower(label)} chưa đạt “{needed}”")
    if lvl.min_months_after_level_1:
        first = _year(u.get(LEVEL1_YEAR))
        if first is None and _is(u.get(RECOGNISED_LEVEL), spec.levels[0].code):
            first = _year(u.get(RECOGNISED_YEAR))
        level_1 = report.choice_label("ldu_level", spec.levels[0].code)
        if first is None:
            if excluded(LEVEL1_YEAR):
                cond.missing(f"năm được công nhận {level_1} có lỗi", error=True)
            else:
                cond.failed.append(f"chưa được công nhận {level_1}")
        elif year - first < min_year_gap(lvl.min_months_after_level_1):
            cond.failed.append(
                f"chưa đủ {lvl.min_months_after_level_1} tháng kể từ khi được công nhận "
                f"{level_1} (năm {first})"
            )
    return cond


def _recognition_issues(
    u: Mapping[str, Any],
    code: str,
    file: str,
    state: str,
    valid_until: int | None,
    data: Submissions,
    schemas: Schemas,
    year: int,
) -> list[Issue]:
    report, spec = schemas.report, schemas.criteria.learning_unit_levels
    level = u.get(RECOGNISED_LEVEL)
    out = []
    if state == "lapsed" and valid_until is not None:
        name = report.choice_label("ldu_level", str(level))
        recognised = int(u[RECOGNISED_YEAR])
        out.append(
            make_issue(
                "recognition-lapsed",
                f"Đơn vị ghi được công nhận “Đơn vị học tập” {name} năm {recognised}. Công "
                f"nhận có giá trị {spec.validity_years} năm kể từ ngày quyết định; biểu mẫu "
                f"chỉ ghi năm nên tính: công nhận năm {recognised}, còn hiệu lực đến hết năm "
                f"{valid_until}, hết hiệu lực trong năm {valid_until + 1}. Báo cáo năm {year} "
                "không tính đơn vị là “Đơn vị học tập”. Đơn vị cần được đánh giá, công nhận "
                "lại; nếu đã được công nhận lại, ghi mức, số quyết định và năm công nhận mới.",
                file=file,
                unit_code=code,
                **data.where(file, RECOGNISED_YEAR),
                field=RECOGNISED_YEAR,
                value=str(recognised),
            )
        )
    level_2 = next((lvl for lvl in spec.levels if lvl.min_months_after_level_1), None)
    if level_2 is None or not _is(level, level_2.code):
        return out
    first, level_2_year = _year(u.get(LEVEL1_YEAR)), _year(u.get(RECOGNISED_YEAR))
    name_2 = report.choice_label("ldu_level", level_2.code)
    name_1 = report.choice_label("ldu_level", spec.levels[0].code)
    months = level_2.min_months_after_level_1
    if first is None:
        if (file, "", 0, LEVEL1_YEAR) in data.excluded:
            return out  # already an error at that cell
        out.append(
            make_issue(
                "level-2-without-level-1-year",
                f"Đơn vị ghi được công nhận “Đơn vị học tập” {name_2} nhưng chưa ghi năm được "
                f"công nhận {name_1} lần đầu. Theo {spec.source}, {name_2} chỉ được xét sau khi "
                f"đạt {name_1} ít nhất {months} tháng: điền năm được công nhận {name_1}.",
                file=file,
                unit_code=code,
                **data.where(file, LEVEL1_YEAR),
                field=LEVEL1_YEAR,
                value="",
            )
        )
    elif level_2_year is not None:
        gap = min_year_gap(months)
        if level_2_year - first < gap:
            out.append(
                make_issue(
                    "level-2-too-soon",
                    f"Đơn vị ghi được công nhận {name_2} năm {level_2_year} nhưng {name_1} "
                    f"lần đầu năm {first}: {name_2} cần sau {name_1} ít nhất {months} "
                    f"tháng ({spec.source}), tức {name_1} phải được công nhận từ năm "
                    f"{level_2_year - gap} trở về trước. Kiểm tra lại hai năm này.",
                    file=file,
                    unit_code=code,
                    **data.where(file, LEVEL1_YEAR),
                    field=LEVEL1_YEAR,
                    value=str(first),
                )
            )
    return out


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def _complete(u: Mapping[str, Any], name: str) -> Any:
    """A unit's derived sum, None when a row it adds was blank or excluded."""
    return None if u.get(name + PARTIAL) else u.get(name)


def _year(value: object) -> int | None:
    return None if _missing(value) else int(value)  # type: ignore[call-overload]


def _is(value: object, code: str) -> bool:
    """`value == code`, false for a blank (pd.NA has no truth value)."""
    return not _missing(value) and value == code


def _ratio(num: object, den: object) -> float | None:
    if _missing(num) or _missing(den) or float(den) == 0:  # type: ignore[arg-type]
        return None
    return float(num) / float(den)  # type: ignore[arg-type]
