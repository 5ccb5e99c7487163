"""Evaluate the emulation criteria (Kế hoạch mục III.1) and the “Đơn vị học tập” level.

Pure functions on the frame of accepted units. Thresholds and expressions come from
schemas/criteria.yaml; a criterion whose inputs are missing is "chưa đủ số liệu", never a
silent fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipeline.issues import Issue, make_issue
from pipeline.registry import Registry
from pipeline.schema import CriteriaSchema, ReportSchema, Schemas, expr_names
from pipeline.validate import FILE, Submissions

PASS, FAIL, UNKNOWN = "đạt", "không đạt", "chưa đủ số liệu"
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")

UNIT_INFO_COLUMNS = ["unit_code", "unit_name", "unit_type", "area_code", "area_name", "file"]


def unit_frame(
    data: Submissions, kept: Mapping[str, str], schemas: Schemas, registry: Registry
) -> pd.DataFrame:
    """One row per accepted unit: registry facts, scalar values and derived metrics."""
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
    for d in schemas.criteria.derived:
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
        if d.where:
            rows = rows[rows.eval(d.where, engine="python").astype("boolean").fillna(False)]
        per_file = (
            rows.groupby(FILE)[d.sum].sum(min_count=1) if d.sum else rows.groupby(FILE).size()
        )
        values = frame["file"].map(per_file)
        if d.sum is None:
            values = values.fillna(0)
        elif d.list in data.lists:
            # A unit that filled no row of the list has no figure, not zero.
            has_rows = frame["file"].isin(data.lists[d.list][FILE])
            values = values.where(has_rows | values.notna())
        frame[d.code] = pd.array(values, dtype="Float64" if d.sum else "Int64")
    return frame


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


def evaluate_criteria(units: pd.DataFrame, schemas: Schemas) -> pd.DataFrame:
    """For each unit and applicable criterion: đạt / không đạt / chưa đủ số liệu, and why."""
    crit: CriteriaSchema = schemas.criteria
    params = crit.param_values
    rows = []
    for c in crit.criteria:
        subset = units[units["unit_type"].isin(c.applies_to)]
        if subset.empty:
            continue
        names = expr_names(c.expr)
        local = {p: params[p] for p in _PARAM.findall(c.expr)}
        complete = subset[names].notna().all(axis=1)
        # Only the columns the expression names: eval prepares every column it is given.
        result = subset[names].eval(c.expr, engine="python", local_dict=local)
        if not isinstance(result, pd.Series):
            result = pd.Series(result, index=subset.index)
        result = result.astype("boolean")
        param_text = "; ".join(
            f"{crit.params[p].label}: {format_number(v)}" for p, v in local.items()
        )
        # Positional access to the column arrays: a label lookup per unit and input costs
        # seconds at ten thousand units. `.array[i]` returns what `.at` would.
        labels = [(n, _label(n, schemas), subset[n].array) for n in names]
        is_complete, passed = complete.tolist(), result.array
        for i, code in enumerate(subset.index):
            values = "; ".join(
                f"{label} = {_show(column[i], n, schemas.report)}" for n, label, column in labels
            )
            status = UNKNOWN if not is_complete[i] else PASS if bool(passed[i]) else FAIL
            reason = values + (f" (ngưỡng — {param_text})" if param_text else "")
            rows.append(
                {"unit_code": code, "criterion": c.code, "status": status, "reason": reason}
            )
    return pd.DataFrame(rows, columns=["unit_code", "criterion", "status", "reason"])


def _rank(report: ReportSchema, choices: str, code: object) -> int:
    if _missing(code):
        return -1
    for c in report.choices[choices]:
        if c.code == code:
            return c.rank
    return -1


def evaluate_learning_unit(
    units: pd.DataFrame, data: Submissions, schemas: Schemas
) -> tuple[pd.DataFrame, list[Issue]]:
    """The TT 24/2023 level each unit's reported figures support, against what it claims."""
    report, spec = schemas.report, schemas.criteria.learning_unit_levels
    rows, issues = [], []
    # Rows as plain dicts holding what iterrows() would (each column as an object array):
    # building a Series per unit costs seconds at ten thousand units.
    arrays = [(c, units[c].to_numpy(dtype=object)) for c in units.columns]
    for i, code in enumerate(units.index):
        u: Any = {c: values[i] for c, values in arrays}
        supported, why = "none", ""
        member_rate = _ratio(u.get("members_recognised"), u.get("members_total"))
        learner_rate = _ratio(u.get("learners_recognised"), u.get("learners_total"))
        for lvl in spec.levels:
            unmet = []
            failed = [
                report.field_map[i].label
                for i in spec.indicators
                if _missing(u.get(i)) or u.get(i) != "pass"
            ]
            if failed:
                unmet.append("chỉ số chưa đạt hoặc chưa tự đánh giá: " + "; ".join(failed))
            if member_rate is None or member_rate < lvl.min_member_rate:
                unmet.append(
                    f"tỷ lệ cán bộ, giáo viên, nhân viên là “Công dân học tập” "
                    f"{_pct(member_rate)} < {_pct(lvl.min_member_rate)}"
                )
            if learner_rate is not None and learner_rate < lvl.min_learner_rate:
                unmet.append(
                    f"tỷ lệ học sinh là “Công dân học tập” {_pct(learner_rate)} "
                    f"< {_pct(lvl.min_learner_rate)}"
                )
            if _rank(report, "emulation_title", u.get("emulation_title")) < _rank(
                report, "emulation_title", lvl.min_emulation_title
            ):
                need = report.choice_label("emulation_title", lvl.min_emulation_title)
                unmet.append(f"danh hiệu thi đua chưa đạt “{need}”")
            if _rank(report, "digital_level", u.get("digital_level")) < _rank(
                report, "digital_level", lvl.min_digital_level
            ):
                need = report.choice_label("digital_level", lvl.min_digital_level)
                unmet.append(f"mức chuyển đổi số chưa đạt “{need}”")
            if lvl.min_months_after_level_1:
                first = u.get("ldu_level1_year")
                year = u.get("report_year")
                if _missing(first) or _missing(year):
                    unmet.append("chưa có năm được công nhận Mức 1")
                elif (int(year) - int(first)) * 12 < lvl.min_months_after_level_1:
                    unmet.append(
                        f"chưa đủ {lvl.min_months_after_level_1} tháng kể từ khi đạt Mức 1"
                    )
            if unmet:
                why = (
                    f"Chưa đủ điều kiện {report.choice_label('ldu_level', lvl.code)}: "
                    + "; ".join(unmet)
                )
                break
            supported = lvl.code
        claimed_field, claimed_rank = None, _rank(report, "ldu_level", supported)
        for fld in ("ldu_recognised_level", "ldu_self_level"):
            r = _rank(report, "ldu_level", u.get(fld))
            if r > claimed_rank:
                claimed_field, claimed_rank = fld, r
        flagged = claimed_field is not None
        if flagged and claimed_field is not None:
            claimed = report.choice_label("ldu_level", str(u.get(claimed_field)))
            issues.append(
                make_issue(
                    "claimed-level-unsupported",
                    f"Đơn vị ghi “{claimed}” nhưng số liệu báo cáo chỉ đủ "
                    f"“{report.choice_label('ldu_level', supported)}”. {why}. "
                    "Kiểm tra lại số liệu hoặc mức đánh giá.",
                    file=str(u["file"]),
                    unit_code=str(code),
                    **data.where(str(u["file"]), claimed_field),
                    field=claimed_field,
                    value=claimed,
                )
            )
        rows.append(
            {
                "unit_code": code,
                "self_level": u.get("ldu_self_level"),
                "recognised_level": u.get("ldu_recognised_level"),
                "supported_level": supported,
                "member_rate": member_rate,
                "learner_rate": learner_rate,
                "flagged": flagged,
                "reason": why,
            }
        )
    columns = [
        "unit_code",
        "self_level",
        "recognised_level",
        "supported_level",
        "member_rate",
        "learner_rate",
        "flagged",
        "reason",
    ]
    return pd.DataFrame(rows, columns=columns), issues


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def _ratio(num: object, den: object) -> float | None:
    if num is None or den is None or pd.isna(num) or pd.isna(den) or float(den) == 0:  # type: ignore[arg-type]
        return None
    return float(num) / float(den)  # type: ignore[arg-type]


def _pct(rate: float | None) -> str:
    return "không rõ" if rate is None else f"{format_number(round(rate * 100, 1))}%"
