"""Parse the raw cells of accepted submissions and validate them against the schema.

Everything here is pure: submissions in, typed frames and issues out. The pandera schemas
are built from schemas/report.yaml (never written by hand) and run lazily over one combined
frame per template variant, so every problem of every file is found in one pass and the
cost does not grow with a pandera call per file. Cross-field rules come from the same file
and are evaluated with ``DataFrame.eval``.

A value with an error is excluded (set to missing) and the unit must resubmit; a value with
a warning is kept and flagged.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipeline.issues import Issue, make_issue
from pipeline.model import Located, RawSubmission
from pipeline.parse import Parsed, display_value, format_vn_number, parse_cell
from pipeline.schema import Field, ListSpec, ReportSchema, Rule, expr_names

log = logging.getLogger(__name__)

FILE = "file"
ROW = "row"

_PANDAS_DTYPES: dict[str, str] = {
    "integer": "Int64",
    "decimal": "Float64",
    "percent": "Float64",
    "money": "Float64",
    "yes_no": "boolean",
    "choice": "string",
    "text": "string",
    "date": "object",
}

_MEMO_TEXT_MAX = 64
"""Texts longer than this are parsed every time (see parse_submissions)."""

_CHECK_CODES = (
    ("not_nullable", "required-missing"),
    ("greater_than_or_equal_to", "below-minimum"),
    ("less_than_or_equal_to", "above-maximum"),
    ("isin", "invalid-choice"),
)


class Where(TypedDict):
    """Where an issue points: keyword arguments of :func:`pipeline.issues.make_issue`."""

    sheet: str
    cell: str


@dataclass
class Submissions:
    """Typed data of the accepted submissions, one row per file, plus where each value sits."""

    scalars: pd.DataFrame
    """Index: file (relative path). Columns: every scalar field code of the schema."""
    lists: dict[str, pd.DataFrame]
    """Per list code: columns file, row (1-based data row of the table), then the field codes."""
    unit_of: dict[str, str]
    variant_of: dict[str, str]
    cells: dict[tuple[str, str, int, str], Located] = field(default_factory=dict)
    """(file, list code or "", row or 0, field) → where the raw value came from."""
    excluded: frozenset[tuple[str, str, int, str]] = frozenset()
    """Keys (as in `cells`) of the values blanked because they carried an error: a criterion
    over them is "chưa đủ số liệu" because of the error, not because the cell was blank."""

    def locate(self, file: str, fld: str, list_code: str = "", row: int = 0) -> Located | None:
        return self.cells.get((file, list_code, row, fld))

    def where(self, file: str, fld: str, list_code: str = "", row: int = 0) -> Where:
        """The sheet and cell of an issue about this value (empty when it was never read)."""
        loc = self.locate(file, fld, list_code, row)
        return Where(sheet=loc.sheet, cell=loc.cell) if loc else Where(sheet="", cell="")


def _typed_column(values: list[Any], ftype: str) -> pd.Series:
    dtype = _PANDAS_DTYPES[ftype]
    if dtype == "object":
        return pd.Series(values, dtype="object")
    return pd.Series(pd.array(values, dtype=dtype))


def _frame(
    rows: list[dict[str, Any]], fields: Sequence[Field], lead: Sequence[str]
) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for col in lead:
        columns[col] = pd.Series([r[col] for r in rows], dtype="object" if col == FILE else "Int64")
    for f in fields:
        columns[f.code] = _typed_column([r.get(f.code) for r in rows], f.type)
    return pd.DataFrame(columns)


def parse_submissions(
    subs: Sequence[RawSubmission], schema: ReportSchema, variant_of: dict[str, str]
) -> tuple[Submissions, list[Issue]]:
    """Parse every raw cell of the given submissions; unparseable values become issues."""
    issues: list[Issue] = []
    cells: dict[tuple[str, str, int, str], Located] = {}
    scalar_rows: list[dict[str, Any]] = []
    list_rows: dict[str, list[dict[str, Any]]] = {lst.code: [] for lst in schema.lists}
    unit_of: dict[str, str] = {}
    # parse_cell is pure: the same field and raw value always parse the same way. Units type
    # the same yes/no labels, choices and small counts over and over, so parse each distinct
    # (field, value) once. Long texts are nearly always unique and are not kept.
    memo: dict[tuple[int, type, Any], Parsed] = {}
    in_variant: dict[str, list[tuple[Field, bool]]] = {}

    def parse_one(
        sub: RawSubmission, f: Field, loc: Located, key: tuple[str, str, int, str]
    ) -> Any:
        cells[key] = loc
        value = loc.value
        if value is None and loc.error is None and not loc.formula_no_cache:
            return None  # a blank cell: what parse_cell returns for it (BLANK)
        kind = type(value)
        memo_key = None
        if (
            loc.error is None
            and not loc.formula_no_cache
            and (
                kind is int
                or kind is bool
                or (kind is str and len(value) <= _MEMO_TEXT_MAX)
                # 0.0 and -0.0 are equal keys: leave zero out rather than tell them apart.
                or (kind is float and value != 0)
            )
        ):
            memo_key = (id(f), kind, value)
            parsed = memo.get(memo_key)
            if parsed is not None:
                # Most values have no problem: no call for them (this runs for every value).
                if not parsed.problems:
                    return parsed.value
                return _report_problems(parsed, sub, f, loc, key[1])
        choices = schema.choices[f.choices] if f.choices else ()
        parsed = parse_cell(loc, f, choices)
        if memo_key is not None:
            memo[memo_key] = parsed
        return _report_problems(parsed, sub, f, loc, key[1])

    def _report_problems(
        parsed: Parsed, sub: RawSubmission, f: Field, loc: Located, list_code: str
    ) -> Any:
        for p in parsed.problems:
            issues.append(
                make_issue(
                    p.code,
                    p.message,
                    p.severity,
                    file=sub.file.path,
                    unit_code=sub.unit_code,
                    sheet=loc.sheet,
                    cell=loc.cell,
                    # A list cell's field is "list.column", as the checks below name it, so
                    # exclude_errors knows which row lost its value.
                    field=f"{list_code}.{f.code}" if list_code else f.code,
                    value=_raw_text(loc.value),
                )
            )
        return parsed.value

    for sub in subs:
        path = sub.file.path
        unit_of[path] = sub.unit_code
        variant = variant_of[path]
        row: dict[str, Any] = {FILE: path}
        if variant not in in_variant:
            in_variant[variant] = [(f, f.in_variant(variant)) for f in schema.fields]
        for f, included in in_variant[variant]:
            loc = sub.scalars.get(f.code)
            if loc is None or not included:
                row[f.code] = None
                continue
            row[f.code] = parse_one(sub, f, loc, (path, "", 0, f.code))
        scalar_rows.append(row)
        for lst in schema.lists:
            for i, raw_row in enumerate(sub.lists.get(lst.code, []), start=1):
                lrow: dict[str, Any] = {FILE: path, ROW: i}
                for f in lst.fields:
                    loc = raw_row.get(f.code)
                    lrow[f.code] = (
                        None if loc is None else parse_one(sub, f, loc, (path, lst.code, i, f.code))
                    )
                list_rows[lst.code].append(lrow)
    scalars = _frame(scalar_rows, schema.fields, [FILE]).set_index(FILE)
    lists = {lst.code: _frame(list_rows[lst.code], lst.fields, [FILE, ROW]) for lst in schema.lists}
    data = Submissions(scalars, lists, unit_of, dict(variant_of), cells)
    return data, issues


def _raw_text(value: Any) -> str:
    """A raw cell value for issues.csv's ``value``: a number in plain digits, anything else as
    the spreadsheet shows it (TRUE, 25/11/2026, 12,5); never a Python repr."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return display_value(value)


# --------------------------------------------------------------------------- pandera


def pandera_schema(fields: Iterable[Field], schema: ReportSchema, name: str) -> pa.DataFrameSchema:
    """Build the pandera schema of a set of fields from their declarations."""
    columns: dict[str, pa.Column] = {}
    for f in fields:
        checks: list[pa.Check] = []
        if f.min is not None:
            checks.append(pa.Check.ge(f.min))
        if f.max is not None:
            checks.append(pa.Check.le(f.max))
        if f.type == "choice" and f.choices:
            checks.append(pa.Check.isin([c.code for c in schema.choices[f.choices]]))
        columns[f.code] = pa.Column(
            _PANDAS_DTYPES[f.type] if f.type != "date" else None,
            checks=checks,
            nullable=not f.required,
            required=True,
        )
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=False)


def warm_up() -> None:
    """Make pandera ready: it loads its validation backends on the first validation.

    That first call costs about 0.2 s (pandera imports its data-synthesis strategies, and
    hypothesis with them when it is installed); ``consolidate`` pays it while the reading
    workers read instead of on the way to the report.
    """
    schema = pa.DataFrameSchema({"n": pa.Column("Int64", pa.Check.ge(0), nullable=True)})
    schema.validate(pd.DataFrame({"n": pd.array([0, None], dtype="Int64")}), lazy=True)


def _check_code(check: str) -> str:
    for prefix, code in _CHECK_CODES:
        if check.startswith(prefix):
            return code
    return "invalid-value"


def _message(code: str, f: Field, schema: ReportSchema) -> str:
    label = f"“{f.label}”"
    if code == "required-missing":
        if f.if_blank:
            return f"Chưa điền {label}. {f.if_blank}"
        return f"Chưa điền {label}. Đây là ô bắt buộc, hãy điền số liệu."
    if code == "below-minimum":
        lo = _fmt(f.min)
        return f"{label} phải từ {lo} trở lên. Sửa lại số liệu."
    if code == "above-maximum":
        return f"{label} không được lớn hơn {_fmt(f.max)}. Sửa lại số liệu."
    if code == "invalid-choice" and f.choices:
        allowed = "; ".join(c.label for c in schema.choices[f.choices])
        return f"{label} phải chọn một trong: {allowed}."
    return f"Giá trị của {label} không hợp lệ."


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return format_vn_number(int(value) if float(value).is_integer() else value)


def _run_pandera(
    frame: pd.DataFrame,
    fields: Sequence[Field],
    schema: ReportSchema,
    name: str,
) -> pd.DataFrame:
    """Return pandera's failure cases (empty when the frame is valid)."""
    if frame.empty:
        return pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    try:
        pandera_schema(fields, schema, name).validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        return cases[cases["column"].notna()]
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def _issue_at(
    data: Submissions,
    code: str,
    severity: Any,
    message: str,
    file: str,
    fld: str,
    list_code: str = "",
    row: int = 0,
    value: Any = None,
) -> Issue:
    loc = data.locate(file, fld, list_code, row)
    return make_issue(
        code,
        message,
        severity,
        file=file,
        unit_code=data.unit_of.get(file, ""),
        **data.where(file, fld, list_code, row),
        field=fld if not list_code else f"{list_code}.{fld}",
        value=_raw_text(loc.value) if loc is not None else _raw_text(value),
    )


def validate_fields(data: Submissions, schema: ReportSchema) -> list[Issue]:
    """Types, ranges, required cells and choices, via pandera, one combined frame per variant."""
    issues: list[Issue] = []
    for variant in schema.variants:
        files = [f for f, v in data.variant_of.items() if v == variant.code]
        fields = schema.fields_for(variant.code)
        frame = data.scalars.loc[data.scalars.index.isin(files), [f.code for f in fields]]
        cases = _run_pandera(frame, fields, schema, f"{schema.id}:{variant.code}")
        for case in cases.itertuples(index=False):
            f = schema.field_map[str(case.column)]
            code = _check_code(str(case.check))
            issues.append(
                _issue_at(
                    data,
                    code,
                    None,
                    _message(code, f, schema),
                    str(case.index),
                    f.code,
                    value=case.failure_case,
                )
            )
    for lst in schema.lists:
        frame = data.lists[lst.code]
        cases = _run_pandera(frame, lst.fields, schema, f"{schema.id}:{lst.code}")
        for case in cases.itertuples(index=False):
            f = lst.field(str(case.column))
            code = _check_code(str(case.check))
            idx = int(case.index)
            issues.append(
                _issue_at(
                    data,
                    code,
                    None,
                    _message(code, f, schema),
                    str(frame.at[idx, FILE]),
                    f.code,
                    lst.code,
                    int(frame.at[idx, ROW]),
                    case.failure_case,
                )
            )
    return issues


# --------------------------------------------------------------------------- cross-field rules

_LOCAL = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


def _rule_frame(data: Submissions, rule: Rule) -> pd.DataFrame:
    if rule.list is None:
        return data.scalars.reset_index()
    frame = data.lists[rule.list]
    locals_ = set(_LOCAL.findall(f"{rule.check or ''} {rule.when or ''}"))
    if locals_:
        extra = data.scalars[sorted(locals_)].rename(columns=lambda c: f"__{c}")
        frame = frame.merge(extra, left_on=FILE, right_index=True, how="left")
    return frame


def _eval_bool(frame: pd.DataFrame, expr: str) -> pd.Series:
    expr = _LOCAL.sub(lambda m: f"__{m.group(1)}", expr)
    # Only the columns the expression names: eval prepares every column of the frame it is
    # given, and the scalar frame has dozens.
    used = [c for c in expr_names(expr) if c in frame.columns]
    result = frame[used].eval(expr, engine="python")
    if not isinstance(result, pd.Series):
        result = pd.Series(result, index=frame.index)
    return result.astype("boolean").fillna(False).astype(bool)


def _excluded_rows(data: Submissions, frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows whose ``required`` cell was blanked for an error (:func:`exclude_errors`)."""
    list_code = rule.list or ""
    keys = {k for k in data.excluded if k[1] == list_code and k[3] == rule.required}
    hit = pd.Series(False, index=frame.index, dtype=bool)
    if not keys:
        return hit
    # Only the files with such a cell are looked at row by row: errors are few.
    some = frame[frame[FILE].isin({k[0] for k in keys})]
    rows = some[ROW].tolist() if rule.list else [0] * len(some)
    for idx, file, row in zip(some.index, some[FILE].tolist(), rows, strict=True):
        hit.at[idx] = (file, list_code, int(row), rule.required) in keys
    return hit


def _known(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows where every cell the rule's ``check`` and ``when`` read has a value.

    A blank cell is "unknown", not a value: a rule reading one concludes nothing (pandas'
    ``eval`` would compare it as a value: a blank level ``!= 'none'`` is true there). A
    ``required`` cell is the rule's subject, so its own blankness is what it looks at.
    """
    text = f"{rule.check or ''} {rule.when or ''}"
    names = [n for n in expr_names(text) if n in frame.columns]
    names += [f"__{n}" for n in _LOCAL.findall(text) if f"__{n}" in frame.columns]
    if not names:
        return pd.Series(True, index=frame.index)
    return frame[names].notna().all(axis=1)


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\s*\+\s*[a-z_][a-z0-9_]*)*)\}")


def shown_value(value: Any, f: Field | None, schema: ReportSchema) -> str:
    """A parsed value as a department user reads it in a message: 1.234 for a count, 2026
    for a year (not summable: no thousands dot), Có/Không, a choice's label, a date as
    dd/mm/yyyy; "trống" for a blank. Never ``<NA>``, ``nan``, ``True`` or a repr."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "trống"
    if isinstance(value, float) and math.isnan(value):
        return "trống"
    if isinstance(value, bool | np.bool_):
        return "Có" if value else "Không"
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if f is not None and not f.summable and number.is_integer():
            return str(int(number))
        return format_vn_number(int(number) if number.is_integer() else number)
    if f is not None and f.type == "choice" and f.choices:
        return schema.choice_label(f.choices, str(value))
    return display_value(value)


def _format_message(
    template: str, row: pd.Series, fields: Mapping[str, Field], schema: ReportSchema
) -> str:
    """Fill ``{field}`` (and ``{a + b}``, the sum) from the row, shown as the user reads it."""

    def repl(m: re.Match[str]) -> str:
        names = [n.strip() for n in m.group(1).split("+")]
        values = [row.get(n) for n in names]
        if len(names) == 1:
            return shown_value(values[0], fields.get(names[0]), schema)
        if any(v is None or pd.isna(v) for v in values):
            return "trống"
        return shown_value(sum(float(v) for v in values), fields.get(names[0]), schema)

    return _PLACEHOLDER.sub(repl, template)


def check_rules(data: Submissions, schema: ReportSchema) -> list[Issue]:
    """Evaluate the cross-field rules; a rule reading a blank cell does not fire.

    A part-of pair implied by two declarations (recognised ≤ total through registered) is
    not reported again on a cell a declared pair of the same part has already reported as an
    error: one message per wrong cell, and the value is excluded either way.
    """
    issues: list[Issue] = []
    flagged: set[tuple[str, int, str]] = set()  # (file, row, part) with a relation error
    for rule in schema.rules:
        frame = _rule_frame(data, rule)
        if frame.empty:
            continue
        if rule.list is None:
            # A rule only concerns units whose template variant has all its fields.
            applicable = (
                frame[FILE]
                .map(data.variant_of)
                .map(lambda v, r=rule: all(schema.field_map[n].in_variant(v) for n in r.fields))
            )
            frame = frame[applicable.astype(bool)]
        known = _known(frame, rule)
        when = _eval_bool(frame, rule.when) if rule.when else pd.Series(True, index=frame.index)
        if rule.required is not None:
            failing = known & when & frame[rule.required].isna()
            if data.excluded:
                # Blank because its value was an error: that error is the message.
                failing &= ~_excluded_rows(data, frame, rule)
            target = rule.required
        else:
            assert rule.check is not None
            failing = known & when & ~_eval_bool(frame, rule.check)
            target = expr_names(rule.check)[0]
        fields = schema.list_map[rule.list].fields if rule.list else schema.fields
        by_code = {f.code: f for f in fields}
        for idx in frame.index[failing]:
            row = frame.loc[idx]
            file, row_no = str(row[FILE]), int(row[ROW]) if rule.list else 0
            if rule.relation is not None:
                key = (file, row_no, f"{rule.list or ''}.{target}")
                if rule.relation.via and key in flagged:
                    continue
                if rule.severity == "error":
                    flagged.add(key)
            issues.append(
                _issue_at(
                    data,
                    rule.code,
                    rule.severity,
                    _format_message(rule.message, row, by_code, schema),
                    file,
                    target,
                    rule.list or "",
                    row_no,
                    row.get(target),
                )
            )
    return issues


def exclude_errors(data: Submissions, issues: Iterable[Issue]) -> Submissions:
    """Blank every value that carries an error, so no wrong figure reaches the report.

    What `data` had already excluded stays excluded: errors can be taken out in turns.
    """
    scalars = data.scalars.copy()
    lists = {k: v.copy() for k, v in data.lists.items()}
    errors = [i for i in issues if i.severity == "error" and i.field and i.file in scalars.index]
    # Where each list cell came from, only for the files with an error in a list: indexing
    # every cell of ten thousand files would cost more than the whole step.
    list_files = {i.file for i in errors if "." in i.field}
    row_at = {
        (file, list_code, fld, loc.cell): row
        for (file, list_code, row, fld), loc in data.cells.items()
        if list_code and file in list_files
    }
    excluded: set[tuple[str, str, int, str]] = set(data.excluded)

    def typed(key: tuple[str, str, int, str]) -> bool:
        # A required cell left blank is reported too, but nothing typed was thrown away.
        loc = data.cells.get(key)
        return loc is None or loc.value is not None or bool(loc.error) or loc.formula_no_cache

    for issue in errors:
        if "." in issue.field:
            list_code, fld = issue.field.split(".", 1)
            row = row_at.get((issue.file, list_code, fld, issue.cell))
            if row is not None:
                frame = lists[list_code]
                frame.loc[(frame[FILE] == issue.file) & (frame[ROW] == row), fld] = None
                if typed((issue.file, list_code, row, fld)):
                    excluded.add((issue.file, list_code, row, fld))
        elif issue.field in scalars.columns:
            scalars.loc[issue.file, issue.field] = None
            if typed((issue.file, "", 0, issue.field)):
                excluded.add((issue.file, "", 0, issue.field))
    return Submissions(
        scalars, lists, data.unit_of, data.variant_of, data.cells, frozenset(excluded)
    )


def _quoted(label: str) -> str:
    return "“" + label.replace("“", "‘").replace("”", "’") + "”"


def exclude_unchecked_parts(
    data: Submissions, schema: ReportSchema
) -> tuple[Submissions, list[Issue]]:
    """Exclude every part that can be checked against none of its wholes.

    One rule for every relation of the schema (``part_of``, declared or implied), scalars
    and lists alike (docs/dac-ta-tieu-chi.md 8.3): a part is only a figure together with a
    whole it is checked against. With the whole blank or wrong, “Được công nhận” 5 can be
    checked against nothing, and counted it would put 5 recognised over no members into
    every sum and rate built from it (a unit's member rate of 225%). A part is checked when
    one of its wholes is known: every field of the whole known (and not itself left out), or,
    for a sum, the part not above the sum of its known fields (a blank field is at least 0).
    A part of 0 cannot exceed any count and is kept. A part left out may leave its own parts
    unchecked (recognised ⊂ registered ⊂ total, with total wrong): repeated to a fixed point.
    One error per row (or per file for the scalars) and missing whole, at the first part left
    out, names them all.
    """
    issues: list[Issue] = []
    lists = dict(data.lists)
    scalars = data.scalars
    excluded = set(data.excluded)
    scopes: list[tuple[str | None, Sequence[Field]]] = [(None, schema.fields)]
    scopes += [(lst.code, lst.fields) for lst in schema.lists]
    for list_code, scope_fields in scopes:
        rels = [r for r in schema.relations if r.list == list_code]
        frame = scalars if list_code is None else lists[list_code]
        if not rels or frame.empty:
            continue
        fields = {f.code: f for f in scope_fields}
        order = {code: i for i, code in enumerate(fields)}
        parts = sorted({r.part for r in rels}, key=order.__getitem__)
        declared = {r.part: r.whole for r in rels if not r.via}
        wholes = {p: [r.whole for r in rels if r.part == p] for p in parts}
        names = sorted({n for r in rels for n in (r.part, *r.whole)}, key=order.__getitem__)
        values = {n: pd.to_numeric(frame[n], errors="coerce").astype("Float64") for n in names}
        known = {n: values[n].notna().to_numpy(dtype=bool) for n in names}
        left_out = {p: pd.Series(False, index=frame.index).to_numpy(dtype=bool) for p in parts}
        changed = True
        while changed:
            changed = False
            for p in parts:
                part = values[p].fillna(0).to_numpy(dtype=float)
                checked = part == 0
                for whole in wholes[p]:
                    every = known[whole[0]].copy()
                    some = known[whole[0]].copy()
                    total = 0.0 * part
                    for w in whole:
                        every &= known[w]
                        some |= known[w]
                        total = total + (values[w].fillna(0).to_numpy(dtype=float) * known[w])
                    checked |= every | (some & (part <= total) & (len(whole) > 1))
                newly = known[p] & ~checked
                if newly.any():
                    known[p] = known[p] & ~newly
                    left_out[p] = left_out[p] | newly
                    changed = True
        if not any(m.any() for m in left_out.values()):
            continue

        frame = frame.copy()
        fixed = fields.get(schema.list_map[list_code].fixed_field or "") if list_code else None
        for i, idx in enumerate(frame.index):
            present = [p for p in parts if left_out[p][i]]
            if not present:
                continue
            file = str(idx) if list_code is None else str(frame.at[idx, FILE])
            row_no = 0 if list_code is None else int(frame.at[idx, ROW])
            prefix = ""
            if fixed is not None:
                shown = shown_value(frame.at[idx, fixed.code], fixed, schema)
                prefix = f"{fixed.label} “{shown}”: "
            groups: dict[tuple[str, ...], list[str]] = {}
            for p in present:
                key = _missing_whole(p, i, declared, wholes, left_out, known)
                groups.setdefault(key, []).append(p)
            for missing, group in groups.items():
                # Typed figures thrown away: a verdict over them waits for the correction.
                excluded.update((file, list_code or "", row_no, p) for p in group)
                left = ", ".join(
                    f"{_quoted(fields[p].label)} "
                    f"({shown_value(frame.at[idx, p], fields[p], schema)})"
                    for p in group
                )
                whole_text = " và ".join(_quoted(fields[w].label) for w in missing)
                it = "nó" if len(missing) == 1 else "tổng của chúng"
                message = (
                    f"{prefix}{whole_text} trống hoặc có lỗi nên không kiểm tra được "
                    f"các số là một phần của {it}: {left}. Các số này không được tính vào tổng "
                    f"hợp và tỷ lệ; điền đúng {whole_text} rồi gửi lại."
                )
                # At the first part left out: the whole's own cell has its own message.
                issues.append(
                    _issue_at(
                        data,
                        "parts-without-whole",
                        None,
                        message,
                        file,
                        group[0],
                        list_code or "",
                        row_no,
                    )
                )
        for p in parts:
            if left_out[p].any():
                frame.loc[left_out[p], p] = None
        if list_code is None:
            scalars = frame
        else:
            lists[list_code] = frame
    if not issues:
        return data, []
    return (
        Submissions(scalars, lists, data.unit_of, data.variant_of, data.cells, frozenset(excluded)),
        issues,
    )


def _missing_whole(
    p: str,
    i: int,
    declared: Mapping[str, tuple[str, ...]],
    wholes: Mapping[str, list[tuple[str, ...]]],
    left_out: Mapping[str, Any],
    known: Mapping[str, Any],
) -> tuple[str, ...]:
    """The blank or wrong field(s) of the declared whole of part `p` in row `i`, followed
    through wholes that were themselves left out (recognised → registered → total)."""
    whole = declared.get(p, wholes[p][0])
    for w in whole:
        if w in left_out and left_out[w][i]:
            return _missing_whole(w, i, declared, wholes, left_out, known)
    return tuple(w for w in whole if not known[w][i]) or whole


def drop_inserted_rows(
    data: Submissions, schema: ReportSchema, issues: Sequence[Issue]
) -> tuple[Submissions, list[Issue]]:
    """Leave out the rows a unit inserted inside a fixed-row table (the people matrix).

    A fixed row is one of the template's rows: its pre-filled group is one of the groups,
    and the first row of the table with that group. Any other row inside the table (its
    group blank, not one of the groups, or a group already seen above: a sub-group, a
    subtotal, a "trong đó" line) is never summed (docs/dac-ta-tieu-chi.md 8.2): counted, a
    subtotal of existing rows would be added twice. One ``inserted-row`` warning per row at
    its group cell replaces what the group cell alone would have said (blank, not a choice).
    Returns the data without those rows and the issues, updated.
    """
    kept_issues = list(issues)
    lists = dict(data.lists)
    dropped_any = False
    for lst in schema.lists:
        fixed_field, frame = lst.fixed_field, data.lists.get(lst.code)
        if not fixed_field or not lst.fixed_choices or frame is None or frame.empty:
            continue
        labels = [c.label for c in schema.choices[lst.fixed_choices]]
        seen: set[tuple[str, object]] = set()
        drop: list[Any] = []
        group_cells: set[tuple[str, str, str]] = set()
        for idx, file, row, group in zip(
            frame.index, frame[FILE], frame[ROW], frame[fixed_field], strict=True
        ):
            key = (str(file), group)
            if not pd.isna(group) and key not in seen:
                seen.add(key)
                continue
            drop.append(idx)
            loc = data.locate(str(file), fixed_field, lst.code, int(row))
            if loc is not None:
                group_cells.add((str(file), loc.sheet, loc.cell))
            first, last = _row_span(data, str(file), lst, int(row))
            sheet = loc.sheet if loc is not None else schema.sheet_name(lst.sheet)
            typed = "" if loc is None or loc.value is None else _raw_text(loc.value)
            where = f"dòng {first.lstrip('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}, {first}:{last}"
            where += f", {_quoted(lst.field(fixed_field).label)} ghi “{typed}”" if typed else ""
            message = (
                f"Dòng thêm vào bảng của trang “{sheet}” ({where}) không được tính; "
                f"bảng chỉ có {len(labels)} dòng cố định ({', '.join(map(_quoted, labels))}), "
                "mỗi nhóm một dòng. Nếu là số liệu của một nhóm thì nhập vào đúng dòng của "
                "nhóm đó; nếu là dòng cộng, dòng “trong đó” hay một nhóm nhỏ thì xóa dòng này "
                "(Sở tự cộng)."
            )
            kept_issues = [
                i
                for i in kept_issues
                if not (
                    loc is not None
                    and (i.file, i.sheet, i.cell) == (str(file), loc.sheet, loc.cell)
                    and i.code in ("required-missing", "invalid-choice")
                )
            ]
            kept_issues.append(
                _issue_at(
                    data, "inserted-row", None, message, str(file), fixed_field, lst.code, int(row)
                )
            )
        if drop:
            dropped_any = True
            lists[lst.code] = frame.drop(index=drop)
    if not dropped_any:
        return data, kept_issues
    return (
        Submissions(data.scalars, lists, data.unit_of, data.variant_of, data.cells, data.excluded),
        kept_issues,
    )


def _row_span(data: Submissions, file: str, lst: ListSpec, row: int) -> tuple[str, str]:
    """The first and last cells of a list row as the unit sees them (``B8``, ``H8``)."""
    cells = [data.locate(file, f.code, lst.code, row) for f in lst.fields]
    found = [c.cell for c in cells if c is not None]
    return (found[0], found[-1]) if found else ("", "")


def validate(
    subs: Sequence[RawSubmission], schema: ReportSchema, variant_of: dict[str, str]
) -> tuple[Submissions, list[Issue]]:
    """Parse, check fields and rules; return clean data (errors excluded) and every issue."""
    data, issues = parse_submissions(subs, schema, variant_of)
    data, issues = drop_inserted_rows(data, schema, issues)
    # A cell that could not be parsed is already reported; do not call it blank as well.
    unparsed = {(i.file, i.sheet, i.cell) for i in issues if i.severity == "error"}
    issues += [
        i
        for i in validate_fields(data, schema)
        if not (i.code == "required-missing" and (i.file, i.sheet, i.cell) in unparsed)
    ]
    # Rules read the values with every cell already reported as an error blanked: a wrong
    # cell is "unknown" to them like a blank one, so it gets one message, not two.
    checked = exclude_errors(data, issues)
    rule_issues = check_rules(checked, schema)
    issues += rule_issues
    cleaned = exclude_errors(checked, rule_issues)
    clean, unchecked = exclude_unchecked_parts(cleaned, schema)
    return clean, issues + unchecked
