"""What changed between two versions of a unit's report: resubmission_changes.csv.

When a unit sends its report again, the specialist must see every figure that moved, not
only those of the general sheet: the people matrix holds the denominators of the headline
rate, and the lists hold what the criteria count. One change row per difference, always in
the direction old → new (``old_file`` is the superseded copy, ``new_file`` the one kept).

Columns (the CSV contract, also in the user guide):

``unit_code, old_file, new_file, field, item, change, old_value, new_value, old_cell,
new_cell``

* ``field``: a scalar field code (``campaign_events``); a cell of a fixed-row list as
  ``<list>.<row key>.<field>`` (``people.teachers.total``); a field of a matched list row
  as ``<list>.<field>`` (``initiatives.level``); a whole list row added or removed as
  ``<list>`` (``initiatives``).
* ``item``: which row of a list, as the unit wrote it: the people group's label
  (“Giáo viên”), the initiative's title, the nominee's name; empty for scalars.
* ``change``: ``changed`` (a value differs, or was filled, or was cleared), ``added`` (a
  list row only in the new version), ``removed`` (a list row only in the old version).
* ``old_value`` / ``new_value``: the parsed values, in the plain notation of values.csv
  (empty when blank); for an added or removed row, the row's key text.
* ``old_cell`` / ``new_cell``: where the value sits in each file (``Sheet!D12``), so the
  specialist can open both and look.

Matching list rows between versions (the rule):

1. A fixed-row list (the people matrix) matches rows by its fixed field (the group):
   the row “Giáo viên” of the old version is the row “Giáo viên” of the new one.
2. Any other list matches rows by their key: its first required text field (initiatives:
   the title; nominations: the nominee's name), compared after :func:`row_key` (NFC, case
   folded, runs of white space made one space, quotes and end punctuation trimmed).
3. Several rows with the same key in one version are matched in their order: the first
   with the first, the second with the second; a row left over is added or removed.
4. Matched rows are compared field by field, the key field too (its spelling may have
   changed); rows not matched are added or removed. A row moved up or down the table is
   not a change. The people matrix's group is not compared: it is the match.

Worked cases (tests/test_changes.py runs them), old version → new version: change rows.

* “Câu lạc bộ đọc sách”, cấp cơ sở → “Câu lạc bộ  đọc sách.”, cấp thành phố: the rows
  match (case, spaces, end punctuation do not count), so two rows: ``initiatives.title``
  changed (the spelling, as typed) and ``initiatives.level`` changed;
* “Câu lạc bộ đọc sách” → “CÂU LẠC BỘ ĐỌC SÁCH”, nothing else changed: one row,
  ``initiatives.title`` changed;
* “Câu lạc bộ đọc sách” → it and “Tủ sách”: ``initiatives`` added “Tủ sách”;
* “Câu lạc bộ đọc sách” and “Tủ sách” → “Tủ sách” (moved to row 1): ``initiatives``
  removed “Câu lạc bộ đọc sách”, nothing about “Tủ sách”;
* “Thư viện số” → “Thư viện số hóa”: removed “Thư viện số” and added “Thư viện số hóa”
  (a new title cannot be told from a replaced initiative);
* two rows “Tủ sách” (2020, then 2021) → one row “Tủ sách” (2020): the first old row
  matches the only new row (equal: no row); the second old row is ``initiatives`` removed
  “Tủ sách”, its old cell pointing at old row 2;
* Giáo viên: total 80 → 85: ``people.teachers.total`` changed 80 → 85, item “Giáo viên”.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipeline.schema import ListSpec, ReportSchema
from pipeline.validate import Submissions

CHANGE_COLUMNS = [
    "unit_code",
    "old_file",
    "new_file",
    "field",
    "item",
    "change",
    "old_value",
    "new_value",
    "old_cell",
    "new_cell",
]

_TRIM = " \t.,;:!?\"'“”‘’()[]-–—"


def row_key(text: object) -> str:
    """The form in which the keys of list rows are compared (see the module's rule 2)."""
    if _missing(text):
        return ""
    folded = " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())
    return folded.strip(_TRIM)


def key_field(lst: ListSpec) -> str | None:
    """The field that identifies a row of `lst` between versions (rules 1 and 2)."""
    if lst.fixed_field:
        return lst.fixed_field
    texts = [f for f in lst.fields if f.type == "text"]
    required = [f for f in texts if f.required]
    chosen = (required or texts)[:1]
    return chosen[0].code if chosen else None


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def _same(a: object, b: object) -> bool:
    a_missing, b_missing = _missing(a), _missing(b)
    if a_missing or b_missing:
        return a_missing and b_missing
    return bool(a == b)


def _value(value: object) -> Any:
    """A parsed value for the change log as a Python value (numpy's int64 from a frame
    becomes int); blanks become None, written as an empty cell."""
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def resubmission_changes(
    data: Submissions, superseded: Mapping[str, str], schema: ReportSchema
) -> pd.DataFrame:
    """Every difference between each superseded file and the file that replaced it."""
    rows: list[dict[str, Any]] = []
    if not superseded:
        return pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    # Only the files of a resubmission: turning every list row of a large run into records
    # would cost far more than the comparisons.
    involved = set(superseded) | set(superseded.values())
    by_file = {
        code: _rows_by_file(frame[frame["file"].isin(involved)])
        for code, frame in data.lists.items()
    }
    for old, new in sorted(
        superseded.items(), key=lambda pair: (data.unit_of.get(pair[1], ""), pair[0])
    ):
        if old not in data.scalars.index or new not in data.scalars.index:
            continue
        unit = data.unit_of.get(new, "")
        base = {"unit_code": unit, "old_file": old, "new_file": new}
        for change in _scalar_changes(data, old, new, schema):
            rows.append({**base, **change})
        for lst in schema.lists:
            if lst.code not in by_file:
                continue
            found = by_file[lst.code]
            for change in _list_changes(data, lst, schema, old, new, found):
                rows.append({**base, **change})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _rows_by_file(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        out.setdefault(str(record["file"]), []).append(record)
    return out


def _cell(data: Submissions, file: str, fld: str, list_code: str = "", row: int = 0) -> str:
    where = data.where(file, fld, list_code, row)
    return (
        f"{where['sheet']}!{where['cell']}" if where["sheet"] and where["cell"] else where["cell"]
    )


def _scalar_changes(
    data: Submissions, old: str, new: str, schema: ReportSchema
) -> Iterable[dict[str, Any]]:
    a_row, b_row = data.scalars.loc[old], data.scalars.loc[new]
    for f in schema.fields:
        if f.code not in data.scalars.columns:
            continue
        a, b = a_row[f.code], b_row[f.code]
        if _same(a, b):
            continue
        yield {
            "field": f.code,
            "item": "",
            "change": "changed",
            "old_value": _value(a),
            "new_value": _value(b),
            "old_cell": _cell(data, old, f.code),
            "new_cell": _cell(data, new, f.code),
        }


def _list_changes(
    data: Submissions,
    lst: ListSpec,
    schema: ReportSchema,
    old: str,
    new: str,
    found: Mapping[str, list[dict[str, Any]]],
) -> Iterable[dict[str, Any]]:
    key = key_field(lst)
    if key is None:
        return
    old_rows, new_rows = found.get(old, []), found.get(new, [])
    matched, removed, added = _match(old_rows, new_rows, key, fixed=bool(lst.fixed_field))
    compared = [f for f in lst.fields if f.code != key or not lst.fixed_field]
    for a, b in matched:
        item = _item(lst, schema, key, b)
        for f in compared:
            if _same(a.get(f.code), b.get(f.code)):
                continue
            prefix = f"{lst.code}.{b[key]}" if lst.fixed_field else lst.code
            yield {
                "field": f"{prefix}.{f.code}",
                "item": item,
                "change": "changed",
                "old_value": _value(a.get(f.code)),
                "new_value": _value(b.get(f.code)),
                "old_cell": _cell(data, old, f.code, lst.code, int(a["row"])),
                "new_cell": _cell(data, new, f.code, lst.code, int(b["row"])),
            }
    for b in added:
        yield {
            "field": lst.code,
            "item": _item(lst, schema, key, b),
            "change": "added",
            "old_value": None,
            "new_value": _value(b.get(key)),
            "old_cell": "",
            "new_cell": _cell(data, new, key, lst.code, int(b["row"])),
        }
    for a in removed:
        yield {
            "field": lst.code,
            "item": _item(lst, schema, key, a),
            "change": "removed",
            "old_value": _value(a.get(key)),
            "new_value": None,
            "old_cell": _cell(data, old, key, lst.code, int(a["row"])),
            "new_cell": "",
        }


def _item(lst: ListSpec, schema: ReportSchema, key: str, row: Mapping[str, Any]) -> str:
    value = row.get(key)
    if _missing(value):
        return ""
    if lst.fixed_field and lst.fixed_choices:
        return schema.choice_label(lst.fixed_choices, str(value))
    return str(value)


def _match(
    old_rows: list[dict[str, Any]],
    new_rows: list[dict[str, Any]],
    key: str,
    fixed: bool,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Pairs of matched rows (in the new version's order), rows removed, rows added."""

    def keyed(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, int], dict[str, Any]]]:
        seen: dict[str, int] = {}
        out = []
        for r in rows:
            k = str(r.get(key)) if fixed and not _missing(r.get(key)) else row_key(r.get(key))
            seen[k] = seen.get(k, 0) + 1
            out.append(((k, seen[k]), r))
        return out

    old_keyed = dict(keyed(old_rows))
    new_keyed = keyed(new_rows)
    new_keys = {k for k, _ in new_keyed}
    matched = [(old_keyed[k], r) for k, r in new_keyed if k in old_keyed]
    added = [r for k, r in new_keyed if k not in old_keyed]
    removed = [r for k, r in old_keyed.items() if k not in new_keys]
    return matched, removed, added
