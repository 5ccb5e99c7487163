"""The consolidated report workbook for UBND thành phố and Bộ GDĐT (xlsxwriter).

One cover sheet laid out after Nghị định 30/2020/NĐ-CP, then report forms “Biểu 01” …
“Biểu 12”. Every figure comes from the :class:`~pipeline.run.RunResult`; every label from
the schemas (field, choice, criterion and derived labels), so a schema edit changes the
report without a code edit.

Three promises the tests hold this module to:

* Totals are live Excel formulas (``=SUM(...)``, rates ``=IFERROR(a/b,"")``) whose cached
  value is the pipeline's own aggregate, so a reader that does not recalculate (a viewer, a
  script) sees the same figure Excel computes.
* Text that came from a submission is written with ``write_string`` only: a unit typing
  ``=HYPERLINK(...)`` or a DDE payload gets a string cell, never a formula.
* The bytes are a function of the input: fixed document properties, no clock, no random
  ids, so two runs on the same files give identical workbooks (the manifest relies on it).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import io
import logging
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from xlsxwriter.utility import xl_col_to_name, xl_range, xl_rowcol_to_cell

from pipeline import printing, rates
from pipeline.aggregate import base_differs, paired_units, rate_for, ratios, unknown_text
from pipeline.charts import ChartSpec, chart_specs, city_values
from pipeline.evaluate import FAIL, PASS, UNKNOWN, condition_text
from pipeline.export import list_frame
from pipeline.history import Previous, change_label, compare_aggregates
from pipeline.identify import TIME_SOURCE_LABELS
from pipeline.issues import CATALOGUE
from pipeline.ooxml import text_safe_workbook
from pipeline.parse import format_vn_number
from pipeline.run import RunResult
from pipeline.schema import Field, ReportSchema

log = logging.getLogger(__name__)

WORKBOOK_NAME = "bao-cao-tong-hop-xhht-{year}.xlsx"
FONT = "Times New Roman"
BODY_SIZE = 11
HEADER_ROW = 5
"""Row (0-based) of the first table header on a form sheet; rows above are the header band."""
MAX_TEXT = 32_767
"""Excel's limit on the length of a cell's text."""

# Colours of the conditional formats (Excel's own "good / bad / neutral" palette).
GOOD = {"bg_color": "#C6EFCE", "font_color": "#006100"}
BAD = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}
NEUTRAL = {"bg_color": "#FFEB9C", "font_color": "#9C5700"}
FLAG = {"bg_color": "#FCE4D6"}
HEADER_FILL = "#DDEBF7"
TOTAL_FILL = "#F2F2F2"

SUBMISSION_STATUS = {
    "accepted": "Hợp lệ",
    "accepted_with_warnings": "Hợp lệ, có lỗi/cảnh báo",
    "rejected": "Bị từ chối",
    "superseded": "Bị thay thế",
}
TRACKING_STATUS = {
    "on_time": "Đúng hạn",
    "late": "Nộp muộn",
    "rejected": "Tệp bị từ chối",
    "missing": "Chưa nộp",
}
SEVERITY = {"error": "Lỗi", "warning": "Cảnh báo", "info": "Thông tin"}
CRITERION_STATUS = {PASS: "Đạt", FAIL: "Không đạt", UNKNOWN: "Chưa đủ số liệu"}
YES_NO = {True: "Có", False: "Không"}
DUPLICATE_CODES = ("duplicate-nominee", "duplicate-nominee-in-file")

# The report forms, in order. Titles in sentence case; the band shows them upper-cased.
FORMS: tuple[tuple[str, str], ...] = (
    ("01", "Kết quả chung toàn thành phố và tiến độ thực hiện chỉ tiêu"),
    ("02", "Tổng hợp số liệu theo địa bàn"),
    ("03", "Tổng hợp số liệu theo đơn vị"),
    ("04", "Kết quả đánh giá tiêu chí thi đua của các đơn vị"),
    ("05", "Xây dựng “Đơn vị học tập” (Thông tư 24/2023/TT-BGDĐT)"),
    ("06", "Sáng kiến, giải pháp thực hiện Phong trào thi đua"),
    ("07", "Đề nghị khen thưởng sơ kết, tổng kết Phong trào thi đua"),
    ("08", "Đánh giá chung, khó khăn và đề xuất của các đơn vị"),
    ("09", "Tình hình gửi báo cáo của các đơn vị"),
    ("10", "Biểu đồ"),
    ("11", "Các vấn đề về số liệu phát hiện khi kiểm tra"),
    ("12", "Danh sách tệp báo cáo đã nhận"),
)
YEAR_OVER_YEAR_FORM = ("13", "So sánh với năm trước")
"""Added after Biểu 12 when the year before was consolidated (pipeline.history)."""
FORM_TITLES = dict((*FORMS, YEAR_OVER_YEAR_FORM))

# Headline measures of Biểu 01-03: a short, deliberate choice of what the leadership reads
# first. Labels still come from the schema; a rate column follows its numerator.
CITY_HEADLINES = (
    "units",
    "steering_committee",
    "annual_plan",
    "lifelong_learning_week",
    "campaign_events",
    "campaign_participants",
    "news_items",
    "ldu_registered",
    "ldu_recognised",
    "institutions_total",
    "institutions_registered",
    "institutions_recognised",
    "initiatives_count",
    "initiatives_effective",
    "res_shared",
    "supported_learners",
    "scholarships",
    "funds_mobilised",
    "learning_families",
    "awards_individual",
    "nominations_count",
)
TABLE_HEADLINES = (
    "ldu_recognised",
    "members_total",
    "members_recognised",
    ("members_recognised", "members_total"),
    "learners_total",
    "learners_recognised",
    ("learners_recognised", "learners_total"),
    "initiatives_count",
    "initiatives_effective",
    "campaign_events",
    "nominations_count",
    "funds_mobilised",
)
"""Columns of Biểu 02 and 03; a pair (numerator, denominator) is a rate column."""


# --------------------------------------------------------------------------- values


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _num(value: object) -> float | None:
    if _missing(value):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    """A cell's text: submissions can hold anything, Excel holds at most 32 767 characters."""
    if _missing(value):
        return ""
    return str(value)[:MAX_TEXT]


def _by_index(frame: pd.DataFrame, column: str) -> dict[Any, Any]:
    """A column as {row label: value}: a dict lookup per unit costs far less than `.loc`."""
    return dict(zip(frame.index, frame[column].tolist(), strict=True))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _date(value: object) -> dt.datetime | None:
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


def rate_base_text(
    what: str,
    num: float | None,
    den: float | None,
    base: str,
    part: tuple[str, float | None],
    whole: tuple[str, float | None],
) -> str:
    """“Tỷ lệ … là 95% = 76/80, tính trên 1 đơn vị có đủ hai số (…)” (docs/dac-ta-tieu-chi.md
    8.4): `base` says which units (or rows) the pair sums come from."""
    shown = (
        f"cột {_inner(part[0])} ghi {_count(part[1])}, cột {_inner(whole[0])} ghi "
        f"{_count(whole[1])}: cộng cả các đơn vị chỉ có một trong hai số"
    )
    if num is None or den is None or not den:
        return f"Tỷ lệ {what}: chưa tính được vì không đơn vị nào có đủ hai số ({shown})."
    return (
        f"Tỷ lệ {what} là {rates.pct_text(num / den)} = {_count(num)}/{_count(den)}, tính trên "
        f"{base} ({shown})."
    )


def _inner(label: str) -> str:
    """A label quoted inside a sentence: its own quotes become single ones."""
    return "“" + label.replace("“", "‘").replace("”", "’") + "”"


def _count(value: float | None) -> str:
    return "trống" if value is None else format_vn_number(value)


def unassigned_label(f: Field) -> str:
    """The line of a by-choice count for the list rows in no choice (blank or wrong)."""
    return f"Chưa ghi hoặc ghi sai “{f.label}”"


def _ddmmyyyy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _rate(num: float | None, den: float | None) -> float | str:
    """The value Excel's IF(COUNT(..)<2,"",IFERROR(ROUNDDOWN(n/d,3),"")) gives: the rate
    truncated to 0,1% as shown everywhere (`pipeline.rates`), blank when unknown."""
    value = rates.shown_ratio(num, den)
    return "" if value is None else value


class Labels:
    """Vietnamese labels of measures, all derived from the schemas."""

    def __init__(self, result: RunResult) -> None:
        self.report: ReportSchema = result.schemas.report
        self.derived = {d.code: d for d in result.schemas.criteria.derived}
        self.targets = {t.code: t for t in result.schemas.criteria.targets}

    def field(self, code: str) -> Field | None:
        return self.report.field_map.get(code)

    def measure(self, code: str) -> str:
        """Header of a summed measure: a count of units for yes/no and 0/1 indicators."""
        f = self.report.field_map.get(code)
        if f is not None:
            if f.type == "yes_no":
                return f"Số đơn vị {_lower_first(f.label)}"
            return f.label
        d = self.derived.get(code)
        if d is not None:
            label = d.label
            if d.per_unit:
                # A per-unit 0/1 indicator; its sum is a number of units.
                label = re.sub(r"\s*\([^)]*\)\s*$", "", label)
                if not label.startswith("Số "):
                    label = f"Số đơn vị {_lower_first(label)}"
            return label
        return code

    def unit(self, code: str) -> str:
        """Unit of measurement (đơn vị tính) shown next to a headline figure."""
        f = self.report.field_map.get(code)
        if f is not None:
            if f.type == "yes_no":
                return "đơn vị"
            return f.unit
        d = self.derived.get(code)
        if d is None:
            return ""
        if d.per_unit:
            return "đơn vị"
        if d.list and d.sum:
            return self.report.list_map[d.list].field(d.sum).unit
        return ""

    def kind(self, code: str) -> str:
        f = self.report.field_map.get(code)
        if f is not None and f.type == "money":
            return "money"
        if f is not None and f.type in ("decimal", "percent"):
            return "num"
        return "int"

    def choice(self, choices: str | None, code: object) -> str:
        if _missing(code) or choices is None:
            return ""
        return self.report.choice_label(choices, str(code))

    def field_of_issue(self, code: str) -> str:
        """The label of an issue's field: a scalar, a list column ("list.field") or a list."""
        if not code:
            return ""
        if "." in code:
            list_code, fld = code.split(".", 1)
            lst = self.report.list_map.get(list_code)
            if lst is not None:
                try:
                    return lst.field(fld).label
                except KeyError:
                    return code
        f = self.report.field_map.get(code)
        if f is not None:
            return f.label
        lst = self.report.list_map.get(code)
        return lst.title if lst is not None else code


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Col:
    """One table column. `kind` decides the cell writer and number format."""

    key: str
    header: str
    kind: str = "text"
    """seq, text, wrap, code, int, year, money, num, rate, date."""
    rate: tuple[str, str] | None = None
    """For a rate column: keys of the numerator and denominator columns (live formula)."""
    total: bool = False
    max_width: float = 40.0
    min_width: float = 0.0
    span: int = 1
    """Number of sheet columns the cell is merged across (wide text under narrow columns)."""


NUMBER_FORMATS = {
    "int": "#,##0",
    "money": "#,##0",
    "num": "#,##0.00",
    "year": "0",
    "rate": rates.NUMBER_FORMAT,
    "date": "dd/mm/yyyy",
}
NUMERIC_KINDS = frozenset({"int", "money", "num", "year", "seq"})
WRAPPING_KINDS = frozenset({"wrap", "text"})
"""Kinds of column whose cells wrap their text: a column the print layout may narrow."""
WORD_FLOOR = (6.0, 16.0)
"""A narrowed column keeps its longest word whole, within these bounds (characters): a file
name or a hash longer than that is broken, as spreadsheet programs break a word too long."""


@dataclass(frozen=True)
class TableRef:
    """Where a written table sits, for formulas and charts that point into it."""

    header_row: int
    first_row: int
    last_row: int
    """Last data row (equal to first_row - 1 when the table has no rows)."""
    total_row: int | None
    columns: Mapping[str, int]
    end_row: int
    """First free row below the table."""


class Styles:
    """Cached xlsxwriter formats built from small property dicts."""

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._cells: dict[tuple[Any, ...], Any] = {}

    def get(self, **props: Any) -> Any:
        full: dict[str, Any] = {"font_name": FONT, "font_size": BODY_SIZE, "valign": "top"}
        full.update(props)
        key = tuple(sorted(full.items()))
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self.wb.add_format(full)
            self._cache[key] = fmt
        return fmt

    def cell(self, kind: str, *, total: bool = False, **extra: Any) -> Any:
        # Asked for once per written cell: skip rebuilding and sorting the full property set.
        key = (kind, total, *sorted(extra.items())) if extra else (kind, total)
        fmt = self._cells.get(key)
        if fmt is None:
            fmt = self._cells[key] = self._cell(kind, total, extra)
        return fmt

    def _cell(self, kind: str, total: bool, extra: Mapping[str, Any]) -> Any:
        props: dict[str, Any] = {"border": 1}
        if kind in NUMBER_FORMATS:
            props["num_format"] = NUMBER_FORMATS[kind]
        if kind in ("wrap", "text"):
            props["text_wrap"] = True
        if kind in ("seq", "code", "date", "year"):
            props["align"] = "center"
        if total:
            props.update(bold=True, bg_color=TOTAL_FILL)
        props.update(extra)
        return self.get(**props)

    def header(self) -> Any:
        return self.get(
            bold=True,
            text_wrap=True,
            align="center",
            valign="vcenter",
            border=1,
            bg_color=HEADER_FILL,
        )


CHART_WIDTH = 600
"""Width of a native chart in pixels."""
LINE_HEIGHT = 14.0
"""Row height in points of one line of 11 pt text."""
UNIT_PX = 7.0
"""One Excel column-width unit: the digit width of the 11 pt default font, in pixels."""

# Average advance widths (px at 11 pt, 96 dpi) of Times New Roman / Liberation Serif, by
# kind of character: enough to size columns and rows without shipping font metrics.
_REGULAR_PX = {"lower": 6.8, "upper": 10.2, "digit": 7.0, "narrow": 3.2, "space": 4.0, "other": 6.5}
_BOLD_PX = {"lower": 7.5, "upper": 10.4, "digit": 7.0, "narrow": 4.0, "space": 4.0, "other": 7.0}


@functools.cache
def _char_kind(ch: str) -> str:
    if ch == " ":
        return "space"
    if ch in ".,;:!'|il":
        return "narrow"
    if ch.isdigit():
        return "digit"
    if ch.isupper():
        return "upper"
    if ch.isalpha():
        return "lower"
    return "other"


class _CharPx(dict[str, float]):
    """Advance width of each character met, by its kind."""

    def __init__(self, by_kind: Mapping[str, float]) -> None:
        super().__init__()
        self.by_kind = by_kind

    def __missing__(self, ch: str) -> float:
        px = self[ch] = self.by_kind[_char_kind(ch)]
        return px


_CHAR_PX = {False: _CharPx(_REGULAR_PX), True: _CharPx(_BOLD_PX)}


# Cached: the same words and values recur across thousands of rows (a 10,000-unit report
# measured 28 million characters without it).
@functools.lru_cache(maxsize=1 << 17)
def _px(text: str, bold: bool = False, size: float = BODY_SIZE) -> float:
    """Estimated printed width of one line of text, in pixels (5% safety margin)."""
    return sum(map(_CHAR_PX[bold].__getitem__, text)) * size / BODY_SIZE * 1.05


def _units(text: str, *, bold: bool = False, size: float = BODY_SIZE) -> float:
    """Column width (Excel units) that shows `text` on one line."""
    return _px(text, bold=bold, size=size) / UNIT_PX + 1.2


# The widest character's advance: `len(text)` times it bounds the printed width from above.
_WIDEST_PX = {False: max(_REGULAR_PX.values()), True: max(_BOLD_PX.values())}
_ROUNDING = 1e-9
"""Relative margin on those bounds, far above float rounding of the sums they stand for."""


def _lines(text: str, width_units: float, *, bold: bool = False, size: float = BODY_SIZE) -> int:
    """Lines of `text` wrapped (greedily, at spaces) in a cell `width_units` wide."""
    room = max(width_units * UNIT_PX - 4.0, 1.0)
    # Most cells fit on one line even at the widest letter's width: skip measuring them.
    bound = len(text) * _WIDEST_PX[bold] * size / BODY_SIZE * 1.05
    if bound * (1 + _ROUNDING) <= room and "\n" not in text:
        return 1
    space = _px(" ", bold, size)
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        current = 0.0
        for word in paragraph.split():
            size_px = _px(word, bold, size)  # positional: the cache's quickest key
            if current == 0:
                current = size_px
            elif current + space + size_px <= room:
                current += space + size_px
            else:
                lines += 1
                current = size_px
            while current > room:  # a word longer than the cell breaks anywhere
                lines += 1
                current -= room
    return max(lines, 1)


def _display_width(value: object, kind: str) -> float:
    """Column width (Excel units) a value needs on one line."""
    if kind == "date":
        return 12
    if kind == "rate":
        return 9
    if kind in NUMERIC_KINDS:
        n = _num(value)
        if n is None:
            return _units(_text(value))
        digits = len(f"{abs(n):,.0f}") + (1 if n < 0 else 0)
        return digits + (3 if kind == "num" else 0) + 2.5
    return max((_units(line) for line in _text(value).split("\n")), default=0.0)


def _widest_number(values: Iterable[object], kind: str) -> float:
    """The largest `_display_width` of `values` in a numeric column."""
    widest = 0.0
    seen: dict[float, float] = {}
    for value in values:
        # Columns of counts repeat the same few numbers.
        if value.__class__ is float:
            width = seen.get(value)
            if width is None:
                width = seen[value] = _display_width(value, kind)
        else:
            width = _display_width(value, kind)
        if width > widest:
            widest = width
    return widest


_UNITS_PER_CHAR = _WIDEST_PX[False] * 1.05 / UNIT_PX


def _widest_text(values: Iterable[object], cap: float) -> float:
    """The largest `_display_width` of `values` in a text column, or one ≥ `cap` once reached.

    A column is no wider than its cap, so measuring stops there; a text too short to beat
    the widest so far (at the widest letter's width) is not measured at all.
    """
    widest = 0.0
    for value in values:
        text = value[:MAX_TEXT] if value.__class__ is str else _text(value)
        bound = len(text) * _UNITS_PER_CHAR + 1.2
        if bound * (1 + _ROUNDING) < widest:
            continue
        # As `_display_width` measures it (the line is its own `_units`).
        width = _display_width(text, "text") if "\n" in text else _px(text) / UNIT_PX + 1.2
        if width > widest:
            widest = width
            if widest >= cap:
                break
    return widest


# How `Sheet.table` writes a column's cells.
_TEXT, _NUMBER, _SEQ, _RATE, _DATE = "text", "number", "seq", "rate", "date"
_SHOWN = "shown"
"""A rate column whose value comes from the pipeline: written truncated (`pipeline.rates`)."""


@dataclass(frozen=True)
class _Wrapped:
    """A text cell whose row may need more height once column widths are known."""

    row: int
    col: int
    span: int
    text: str
    bold: bool = False
    size: float = BODY_SIZE


class Sheet:
    """A form sheet: header band, tables, widths computed from what was written, print set-up.

    Row heights are set explicitly from an estimate of the wrapped lines: LibreOffice does
    not grow rows of wrapped text on opening an .xlsx, and merged cells never grow.
    """

    def __init__(
        self,
        book: ReportBook,
        number: str,
        *,
        note: str,
        landscape: bool = True,
    ) -> None:
        self.book = book
        self.name = f"Biểu {number}"
        self.form_no = number
        self.title = FORM_TITLES[number]
        self.note = note
        self.ws = book.wb.add_worksheet(self.name)
        self.write_string, self.write_number, self.write_blank = (
            self.ws.write_string,
            self.ws.write_number,
            self.ws.write_blank,
        )
        self.st = book.styles
        self.widths: dict[int, float] = {}
        self.landscape = landscape
        self.heights: dict[int, float] = {}
        self.wrapped: list[_Wrapped] = []
        # Texts of data cells, in the body font, by (column, span): (row, text).
        self.cell_texts: dict[tuple[int, int], list[tuple[int, str]]] = {}
        # For printing: rows kept together, the tables, the section heading
        # last written, the last row written; and how narrow a column may become to fit a
        # page: the longest word of its headers, the widest value of a column whose cells do
        # not wrap (numbers, dates, codes), the columns whose cells all wrap.
        self.blocks: list[printing.Block] = []
        self.tables: list[printing.Table] = []
        self.last_heading: int | None = None
        self.last_row = self.last_col = 0
        self.header_words: dict[int, float] = {}
        self.value_widths: dict[int, float] = {}
        self.unwrapped: set[int] = set()

    # -- cells

    def note_width(self, col: int, width: float, max_width: float = 60.0) -> None:
        self.widths[col] = max(self.widths.get(col, 0.0), min(width, max_width))

    def string(self, row: int, col: int, value: object, fmt: Any = None) -> None:
        """Write text as a string cell, whatever it looks like (no formula, no URL, no number)."""
        text = _text(value)
        if text:
            self.write_string(row, col, text, fmt)
        else:
            self.write_blank(row, col, None, fmt)

    def number(self, row: int, col: int, value: object, fmt: Any = None) -> None:
        n = _num(value)
        if n is None:
            self.write_blank(row, col, None, fmt)
        else:
            self.write_number(row, col, n, fmt)

    def heading(self, row: int, text: str, col: int = 0) -> None:
        self.ws.write_string(row, col, text, self.st.get(bold=True, font_size=12))
        self.last_heading = row
        # Printed with the first rows under it, whatever they are (a table() widens this).
        self.keep(row, row + 2 + printing.MIN_ROWS_WITH_HEADER)

    def remark(self, row: int, last_col: int, text: str) -> None:
        """An italic line under a table, across its columns (a rate's own base)."""
        fmt = self.st.get(italic=True, text_wrap=True, valign="top")
        if last_col > 0:
            self.ws.merge_range(row, 0, row, last_col, text, fmt)
        else:
            self.ws.write_string(row, 0, text, fmt)
        self.wrapped.append(_Wrapped(row, 0, last_col + 1, text))
        self.keep(row, row + 1)

    def keep(self, first: int, end: int) -> None:
        """Print rows `first` .. `end` - 1 on one page if they fit one."""
        self.blocks.append(printing.Block(first, end))
        self.last_row = max(self.last_row, end - 1)

    # -- tables

    def table(
        self,
        top: int,
        cols: Sequence[Col],
        rows: Sequence[Mapping[str, Any]],
        totals: Mapping[str, float | None] | None = None,
        *,
        total_label: str = "Tổng cộng",
        row_style: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None,
        style_keys: Collection[str] | None = None,
        left: int = 0,
        empty_text: str = "Không có dữ liệu.",
    ) -> TableRef:
        """Write a header row, data rows and (optionally) a totals row of formulas.

        `row_style` colours a row from its values (only the `style_keys` columns if given).
        `totals` maps a summed column's key to the pipeline's aggregate, used as the cached
        value of its ``=SUM(...)``; rate columns of the totals row divide the summed cells.
        """
        ws, st = self.ws, self.st
        index: dict[str, int] = {}
        position = left
        for c in cols:
            index[c.key] = position
            position += c.span
        right = position - 1
        header_fmt = st.header()
        for c in cols:
            col = index[c.key]
            self._merged(top, col, c.span, header_fmt)
            ws.write_string(top, col, c.header, header_fmt)
            self.wrapped.append(_Wrapped(top, col, c.span, c.header, bold=True))
            if c.span == 1:
                longest = max((_units(w, bold=True) for w in c.header.split()), default=0.0)
                self.note_width(col, max(longest, c.min_width), c.max_width)
                self.header_words[col] = max(self.header_words.get(col, 0.0), longest)
                if c.kind not in WRAPPING_KINDS:
                    self.unwrapped.add(col)
        first = top + 1
        if not rows:
            fmt = st.cell("text", italic=True)
            if right > left:
                ws.merge_range(first, left, first, right, empty_text, fmt)
            else:
                ws.write_string(first, left, empty_text, fmt)
        else:
            self._rows(first, cols, index, rows, row_style, style_keys)
        last = first + len(rows) - 1
        end = first + max(len(rows), 1)
        total_row: int | None = None
        if totals is not None:
            total_row = end
            self._totals_row(total_row, cols, index, first, max(last, first), totals, total_label)
            end += 1
        heading = self.last_heading if self.last_heading == top - 1 else None
        key = tuple((index[c.key], c.span, c.header) for c in cols)
        self.tables.append(printing.Table(top, first, end, heading, total_row, key))
        self.last_row = max(self.last_row, end - 1)
        self.last_col = max(self.last_col, right)
        return TableRef(top, first, last, total_row, index, end)

    def _rows(
        self,
        first: int,
        cols: Sequence[Col],
        index: Mapping[str, int],
        rows: Sequence[Mapping[str, Any]],
        row_style: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None,
        style_keys: Collection[str] | None,
    ) -> None:
        """The data rows of `table`: the per-cell hot path of the report (a row per unit).

        Cells are written row by row, as the shared-string table numbers strings in the
        order they are first written; widths are measured afterwards, column by column.
        """
        ws, st = self.ws, self.st
        write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
        plan: list[tuple[str, str, int, int, Any]] = []  # how, key, column, span, extra
        for c in cols:
            col = index[c.key]
            if c.kind == "rate" and c.rate is not None:
                num_key, den_key = c.rate
                refs = (xl_col_to_name(index[num_key]), xl_col_to_name(index[den_key]))
                plan.append((_RATE, c.key, col, c.span, (num_key, den_key, *refs)))
            elif c.kind == "seq":
                plan.append((_SEQ, c.key, col, c.span, None))
            elif c.kind == "rate":
                plan.append((_SHOWN, c.key, col, c.span, None))
            elif c.kind in NUMERIC_KINDS:
                plan.append((_NUMBER, c.key, col, c.span, None))
            elif c.kind == "date":
                plan.append((_DATE, c.key, col, c.span, None))
            else:
                texts = self.cell_texts.setdefault((col, c.span), [])
                plan.append((_TEXT, c.key, col, c.span, texts))
        # One list of cell formats per row style, asked for in the order the cells use them
        # (the order formats are created in stays the same as cell by cell).
        formats: dict[tuple[tuple[str, Any], ...], list[Any]] = {}
        for i, values in enumerate(rows):
            r = first + i
            extra = (row_style(values) if row_style else None) or {}
            style = tuple(sorted(extra.items()))
            fmts = formats.get(style)
            if fmts is None:
                fmts = formats[style] = [
                    st.cell(c.kind, **(extra if style_keys is None or c.key in style_keys else {}))
                    for c in cols
                ]
            for (how, key, col, span, data), fmt in zip(plan, fmts, strict=True):
                if span > 1:
                    ws.merge_range(r, col, r, col + span - 1, "", fmt)
                if how == _TEXT:
                    value = values.get(key)
                    text = value[:MAX_TEXT] if value.__class__ is str else _text(value)
                    if text:
                        write_string(r, col, text, fmt)
                        data.append((r, text))
                    else:
                        write_blank(r, col, None, fmt)
                elif how == _NUMBER:
                    value = values.get(key)
                    if value.__class__ is float:
                        if value == value:
                            write_number(r, col, value, fmt)
                        else:
                            write_blank(r, col, None, fmt)
                    elif value is None:
                        write_blank(r, col, None, fmt)
                    elif value.__class__ is int:
                        write_number(r, col, float(value), fmt)
                    elif isinstance(value, str):
                        self.string(r, col, value, fmt)
                    else:
                        self.number(r, col, value, fmt)
                elif how == _SHOWN:
                    rate = _num(values.get(key))
                    if rate is None:
                        self.string(r, col, values.get(key), fmt)
                    else:
                        write_number(r, col, rates.shown(rate), fmt)
                elif how == _SEQ:
                    write_number(r, col, float(i + 1), fmt)
                elif how == _RATE:
                    num_key, den_key, num_col, den_col = data
                    n, d = f"{num_col}{r + 1}", f"{den_col}{r + 1}"
                    cached = _rate(_num(values.get(num_key)), _num(values.get(den_key)))
                    ws.write_formula(
                        r,
                        col,
                        f'=IF(COUNT({n},{d})<2,"",IFERROR({rates.excel_rate(n, d)},""))',
                        fmt,
                        cached,
                    )
                else:
                    when = _date(values.get(key))
                    if when is None:
                        write_blank(r, col, None, fmt)
                    else:
                        ws.write_datetime(r, col, when, fmt)
        for (how, key, col, span, _), c in zip(plan, cols, strict=True):
            if span != 1:
                continue
            if how == _SEQ:
                # Widths grow with the number: the last one is the widest.
                widest = _display_width(len(rows), c.kind)
            elif how in (_RATE, _DATE):
                widest = _display_width(None, c.kind)
            elif how in (_NUMBER, _SHOWN):
                widest = _widest_number((v.get(key) for v in rows), c.kind)
            else:
                widest = _widest_text((v.get(key) for v in rows), c.max_width)
            self.note_width(col, max(widest, c.min_width), c.max_width)
            if c.kind not in WRAPPING_KINDS:
                self.value_widths[col] = max(self.value_widths.get(col, 0.0), widest)

    def _merged(self, row: int, col: int, span: int, fmt: Any) -> None:
        if span > 1:
            self.ws.merge_range(row, col, row, col + span - 1, "", fmt)

    def _totals_row(
        self,
        row: int,
        cols: Sequence[Col],
        index: Mapping[str, int],
        first: int,
        last: int,
        totals: Mapping[str, float | None],
        label: str,
    ) -> None:
        ws, st = self.ws, self.st
        summed = [c for c in cols if c.total or (c.kind == "rate" and c.rate)]
        label_end = (index[summed[0].key] - 1) if summed else index[cols[-1].key]
        label_fmt = st.cell("text", total=True, align="center")
        start = index[cols[0].key]
        if label_end > start:
            ws.merge_range(row, start, row, label_end, label, label_fmt)
        else:
            ws.write_string(row, start, label, label_fmt)
        cached: dict[str, float] = {}
        for c in cols:
            col = index[c.key]
            if col <= label_end:
                continue
            fmt = st.cell(c.kind, total=True)
            if c.total:
                value = _num(totals.get(c.key))
                cached[c.key] = value if value is not None else 0.0
                ws.write_formula(
                    row, col, f"=SUM({xl_range(first, col, last, col)})", fmt, cached[c.key]
                )
                total_width = _display_width(cached[c.key], c.kind)
                self.note_width(col, total_width, c.max_width)
                self.value_widths[col] = max(self.value_widths.get(col, 0.0), total_width)
            elif c.kind == "rate" and c.rate:
                num_key, den_key = c.rate
                n = xl_rowcol_to_cell(row, index[num_key])
                d = xl_rowcol_to_cell(row, index[den_key])
                value_rate = _rate(cached.get(num_key), cached.get(den_key))
                ws.write_formula(
                    row, col, f'=IFERROR({rates.excel_rate(n, d)},"")', fmt, value_rate
                )
            elif c.kind == "rate" and (paired := _num(totals.get(c.key))) is not None:
                # A rate over paired sums: the pipeline's figure (its pairs are not columns).
                ws.write_number(row, col, rates.shown(paired), fmt)
            else:
                ws.write_blank(row, col, None, fmt)

    def autofilter(self, ref: TableRef) -> None:
        cols = sorted(ref.columns.values())
        self.ws.autofilter(ref.header_row, cols[0], max(ref.last_row, ref.first_row), cols[-1])

    def width_of(self, col: int, span: int = 1) -> float:
        return sum(self.widths.get(c, 8.43) for c in range(col, col + span))

    # -- finishing

    def finish(
        self,
        *,
        freeze: tuple[int, int] | None = None,
        repeat: int | None = None,
    ) -> None:
        """Column widths, header band, row heights, print set-up (pipeline.printing)."""
        ws, st = self.ws, self.st
        page = printing.LANDSCAPE if self.landscape else printing.PORTRAIT
        last_col = max([*self.widths.keys(), self.last_col])
        fits = printing.content_px(self.widths, last_col) * printing.min_scale(BODY_SIZE)
        if fits > 100 * printing.WIDTH_SPARE * page.width_px:
            self.widths = printing.fit_widths(
                self.widths, self._floors(), last_col, page, BODY_SIZE
            )
        for col, width in sorted(self.widths.items()):
            ws.set_column(col, col, round(max(width, 4.0), 1))
        band_cols = last_col + 1
        last = band_cols - 1
        ws.write_string(0, 0, f"Biểu {self.form_no}", st.get(bold=True, font_size=12))
        middle = {"text_wrap": True, "valign": "vcenter"}
        band = [
            (1, self.title.upper(), st.get(bold=True, font_size=13, align="center", **middle), 13),
            (2, self.book.subtitle, st.get(italic=True, align="center", **middle), BODY_SIZE),
            # The body size, not smaller: at the smallest print scale it prints at 8 pt.
            (3, self.note, st.get(italic=True, **middle), BODY_SIZE),
        ]
        for row, text, fmt, size in band:
            if last > 0:
                ws.merge_range(row, 0, row, last, text, fmt)
            else:
                ws.write_string(row, 0, text, fmt)
            self.wrapped.append(_Wrapped(row, 0, band_cols, text, bold=row == 1, size=size))
        for w in self.wrapped:
            lines = _lines(w.text, self.width_of(w.col, w.span), bold=w.bold, size=w.size)
            height = LINE_HEIGHT * w.size / BODY_SIZE * lines + 3
            if lines > 1 or w.size > BODY_SIZE or w.bold:
                self.heights[w.row] = max(self.heights.get(w.row, 0.0), height)
        counted = self.book.line_counts
        for (col, span), texts in self.cell_texts.items():
            width = self.width_of(col, span)
            for row, text in texts:
                key = (text, width)
                lines = counted.get(key) or counted.setdefault(key, _lines(text, width))
                if lines > 1:
                    height = LINE_HEIGHT * BODY_SIZE / BODY_SIZE * lines + 3
                    self.heights[row] = max(self.heights.get(row, 0.0), height)
        for row, height in sorted(self.heights.items()):
            ws.set_row(row, round(height, 1))
        if freeze is not None:
            ws.freeze_panes(*freeze)
        heights = {r: round(h, 1) for r, h in self.heights.items()}
        result = printing.layout(
            widths={c: round(max(w, 4.0), 1) for c, w in self.widths.items()},
            heights=heights,
            last_col=last_col,
            last_row=self.last_row,
            page=page,
            smallest_pt=BODY_SIZE,
            blocks=self.blocks,
            tables=self.tables,
            titles=(repeat, repeat) if repeat is not None else None,
        )
        # Printed on pages across, each repeats the columns that say which unit a row is.
        key_cols = freeze[1] if freeze is not None and freeze[1] > 0 else 1
        printing.apply(ws, result, page, repeat_cols=(0, key_cols - 1))

    def _floors(self) -> list[dict[int, float]]:
        """How narrow each table column may become, in the order they give way (see
        printing.fit_widths): first the columns whose cells do not wrap, down to their
        widest value; then those whose cells wrap, down to their longest word."""
        low, high = WORD_FLOOR
        unwrapped, wrapping = {}, {}
        for col, header_word in self.header_words.items():
            width = self.widths.get(col, header_word)
            if col in self.unwrapped:
                floor = max(header_word, self.value_widths.get(col, 0.0))
                unwrapped[col] = min(floor, width)
                continue
            longest = header_word
            words = self.book.longest_words
            for _, text in self.cell_texts.get((col, 1), ()):
                word = words.get(text)
                if word is None:
                    # The word longest in characters: near enough the widest, for a floor.
                    word = words[text] = _units(max(text.split(), key=len, default=""))
                longest = max(longest, min(high, word))
                if longest >= high:
                    break
            wrapping[col] = min(max(low, longest), width)
        return [unwrapped, wrapping]


# --------------------------------------------------------------------------- the book


class ReportBook:
    """Builds the workbook in memory from a RunResult."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.labels = Labels(result)
        previous = result.extra.get("previous")
        self.previous = previous if isinstance(previous, Previous) else None
        self.forms = FORMS + ((YEAR_OVER_YEAR_FORM,) if self.previous is not None else ())
        self.buffer = io.BytesIO()
        self.wb = text_safe_workbook(self.buffer, FONT, BODY_SIZE)
        self.styles = Styles(self.wb)
        s = result.settings
        self.subtitle = (
            f"Năm {result.year} (kèm theo Báo cáo số {s.report_number} của {s.issuing_body})"
        )
        self.city = city_values(result)
        self.n_units = len(result.units)
        self.source_note = (
            f"Nguồn: tổng hợp từ {self.n_units} báo cáo hợp lệ của các đơn vị; "
            "số liệu lỗi không được tính."
        )
        every_unit = "".join(
            f"; riêng {_lower_first(t.label)} tính trên mọi đơn vị có báo cáo, đơn vị chưa rõ "
            "tính là chưa đạt"
            for t in result.schemas.criteria.targets
            if t.unknown
        )
        self.rate_note = (
            f"{self.source_note} Mỗi tỷ lệ chỉ tính trên các đơn vị (nhóm) có đủ cả hai số liệu"
            f"{every_unit}. Tỷ lệ ghi làm tròn xuống (79,96% ghi 79,9%)."
        )
        self.type_rank = {c.code: i for i, c in enumerate(result.schemas.report.unit_types)}
        self.ratios = {r.field: r for r in ratios(result.schemas)}
        # `_lines` of data cells by (text, width): names and answers recur down a column, and
        # in other sheets' columns, often as wide.
        self.line_counts: dict[tuple[str, float], int] = {}
        # Width of the longest word of a cell's text, by text (for the print layout).
        self.longest_words: dict[str, float] = {}

    # -- helpers over the result

    def city_value(self, key: str) -> float | None:
        value = self.city.get(key)
        return None if value is None or pd.isna(value) else float(value)

    def ordered_units(self) -> pd.DataFrame:
        """Accepted units by area, then unit type (as listed in the schema), then code."""
        units = self.result.units.copy()
        units["_rank"] = units["unit_type"].map(self.type_rank).fillna(99)
        return units.sort_values(["area_code", "_rank", "unit_code"], kind="stable")

    @functools.cached_property
    def unit_rows(self) -> list[Any]:
        """`ordered_units` as (unit_code, unit_name, unit_type, area_name) tuples.

        Four unit tables walk them: read once, and only the columns they use (a unit has
        some seventy).
        """
        ordered = self.ordered_units()[["unit_code", "unit_name", "unit_type", "area_name"]]
        return list(ordered.itertuples(index=False))

    def unit_name(self, code: object) -> str:
        unit = self.result.registry.units.get(str(code))
        return unit.name if unit is not None else ""

    def headline_cols(self, keys: Sequence[str | tuple[str, str]]) -> list[Col]:
        """Columns of the headline keys; a (part, whole) pair is its rate.

        A rate the pipeline computes over paired sums (aggregate.Ratio) is written as that
        value: part / whole of the columns beside it would count a unit whose other figure
        is blank or excluded on one side only. Other pairs divide the columns live.
        """
        cols = []
        for key in keys:
            if isinstance(key, tuple):
                ratio = rate_for(self.result.schemas, *key)
                if ratio is not None:
                    cols.append(Col(ratio.field, "Tỷ lệ", "rate", min_width=8))
                    continue
                cols.append(Col(f"{key[0]}/{key[1]}", "Tỷ lệ", "rate", rate=key, min_width=8))
            else:
                cols.append(
                    Col(
                        key,
                        self.labels.measure(key),
                        self.labels.kind(key),
                        total=True,
                        min_width=11,
                        max_width=16,
                    )
                )
        return cols

    # -- build

    def build(self) -> bytes:
        # The sheets hold a cell object per cell (millions at 10,000 units) until the file is
        # written: the cyclic collector's full passes would walk them all and free nothing
        # (a fifth of the build's time). Whatever cycle is left is collected after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._build()
        finally:
            if collecting:
                gc.enable()

    def _build(self) -> bytes:
        r, s = self.result, self.result.settings
        self.wb.set_properties(
            {
                "title": f"Báo cáo tổng hợp Phong trào thi đua xây dựng XHHT năm {r.year}",
                "subject": r.schemas.report.title.format(year=r.year),
                "author": s.issuing_body,
                "manager": s.advising_office,
                "company": s.issuing_parent,
                "category": "Báo cáo",
                "keywords": "xã hội học tập, học tập suốt đời, thi đua",
                # Fixed, so the file is byte-reproducible (docProps/core.xml).
                "created": dt.datetime(r.year, 12, 31),
            }
        )
        self.cover()
        self.form_01()
        self.form_02()
        self.form_03()
        self.form_04()
        self.form_05()
        self.form_06()
        self.form_07()
        self.form_08()
        self.form_09()
        self.form_10()
        self.form_11()
        self.form_12()
        if self.previous is not None:
            self.form_13()
        self.wb.close()
        return self.buffer.getvalue()

    # -- cover (Bìa)

    def cover(self) -> None:
        r, s, st = self.result, self.result.settings, self.styles
        ws = self.wb.add_worksheet("Bìa")
        ncols = 10
        ws.set_column(0, ncols - 1, 8.6)
        left, right = (0, 3), (4, 9)

        def put(row: int, span: tuple[int, int], text: str, **props: Any) -> None:
            fmt = st.get(
                align=props.pop("align", "center"),
                valign="vcenter",
                font_size=props.pop("size", 13),
                **props,
            )
            ws.merge_range(row, span[0], row, span[1], text, fmt)

        put(0, left, s.issuing_parent.upper())
        put(0, right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12)
        put(1, left, s.issuing_body.upper(), bold=True)
        put(1, right, "Độc lập - Tự do - Hạnh phúc", bold=True)
        # The short rules under the issuing body and the motto (NĐ 30/2020, Phụ lục I).
        ws.merge_range(2, 1, 2, 2, "", st.get(top=1))
        ws.merge_range(2, 5, 2, 8, "", st.get(top=1))
        ws.set_row(2, 8)
        put(3, left, f"Số: {s.report_number}")
        put(3, right, f"{s.place}, ngày …… tháng …… năm {r.year}", italic=True)
        put(5, (0, 9), "BÁO CÁO TỔNG HỢP", bold=True, size=14)
        title = (
            "Kết quả thực hiện Phong trào thi đua “Cả nước thi đua xây dựng xã hội học tập, "
            f"đẩy mạnh học tập suốt đời” năm {r.year}"
        )
        put(6, (0, 9), title, bold=True, text_wrap=True)
        ws.set_row(6, 36)
        put(8, (0, 9), "Kính gửi: UBND thành phố; Bộ Giáo dục và Đào tạo")

        row = 10
        ws.merge_range(
            row, 0, row, 9, "I. TÓM TẮT KẾT QUẢ TỔNG HỢP", st.get(bold=True, font_size=13)
        )
        row += 1
        counts = r.counts()
        track = r.tracking["status"].value_counts()
        on_time, late, rejected, missing = (
            int(track.get(k, 0)) for k in ("on_time", "late", "rejected", "missing")
        )
        expected = len(r.tracking)
        errors = sum(1 for i in r.issues if i.severity == "error")
        warnings = sum(1 for i in r.issues if i.severity == "warning")
        deadline = _ddmmyyyy(s.deadline(r.year))
        summary: list[tuple[str, float | str, str]] = [
            ("Số đơn vị phải báo cáo (theo danh mục đơn vị của Sở)", expected, "int"),
            ("Số tệp báo cáo đã nhận", len(r.submissions), "int"),
            ("- Hợp lệ", counts["accepted"], "int"),
            (
                "- Hợp lệ nhưng có lỗi hoặc cảnh báo (số liệu lỗi không được tính)",
                counts["accepted_with_warnings"],
                "int",
            ),
            (
                "- Bị từ chối (không phải biểu mẫu, sai năm, sai mã đơn vị, ...)",
                counts["rejected"],
                "int",
            ),
            ("- Bị thay thế bằng bản gửi sau", counts["superseded"], "int"),
            ("Số đơn vị có báo cáo được tổng hợp", self.n_units, "int"),
            (f"- Gửi đúng hạn (đến ngày {deadline})", on_time, "int"),
            ("- Gửi muộn", late, "int"),
            ("Số đơn vị chỉ có tệp bị từ chối, chưa được tổng hợp (Biểu 09)", rejected, "int"),
            ("Số đơn vị chưa gửi báo cáo", missing, "int"),
            ("Tỷ lệ đơn vị gửi báo cáo", _rate(float(on_time + late), float(expected)), "rate"),
            ("Số lỗi về số liệu (chi tiết tại Biểu 11)", errors, "int"),
            ("Số cảnh báo về số liệu (chi tiết tại Biểu 11)", warnings, "int"),
        ]
        for t in r.targets.itertuples(index=False):
            label = str(t.label)
            if not _missing(t.target) and not _missing(t.milestone_year):
                year = int(_num(t.milestone_year) or 0)
                label += f" (chỉ tiêu {rates.pct_text(_num(t.target) or 0.0)} đến năm {year})"
            if unknown := unknown_text(t.unknown):
                label += f"; {unknown}"
            rate = _num(t.rate)
            summary.append((label, rate if rate is not None else "", "rate"))
        for label, value, kind in summary:
            indent = label.startswith("- ")
            ws.merge_range(
                row,
                0,
                row,
                7,
                label,
                st.get(font_size=12, text_wrap=True, indent=2 if indent else 1),
            )
            fmt = st.get(
                font_size=12, num_format=NUMBER_FORMATS[kind], align="right", bold=not indent
            )
            ws.merge_range(row, 8, row, 9, "", fmt)
            if isinstance(value, str):
                ws.write_string(row, 8, value, fmt)
            else:
                ws.write_number(row, 8, rates.shown(value) if kind == "rate" else value, fmt)
            lines = _lines(label, 8 * 8.6, size=12)
            if lines > 1:
                ws.set_row(row, LINE_HEIGHT * 12 / BODY_SIZE * lines + 2)
            row += 1

        row += 1
        ws.merge_range(row, 0, row, 9, "II. CÁC BIỂU KÈM THEO", st.get(bold=True, font_size=13))
        row += 1
        for number, form_title in self.forms:
            ws.merge_range(
                row, 0, row, 9, f"Biểu {number}. {form_title}", st.get(font_size=12, indent=1)
            )
            row += 1

        row += 1
        top = row
        ws.merge_range(row, 0, row, 3, "Nơi nhận:", st.get(bold=True, italic=True, font_size=12))
        for i, recipient in enumerate(s.recipients):
            end = "." if i == len(s.recipients) - 1 else ";"
            ws.merge_range(
                row + 1 + i, 0, row + 1 + i, 3, f"- {recipient}{end}", st.get(font_size=11)
            )
        sign = [s.signer_authority, s.signer_title] if s.signer_authority else [s.signer_title]
        for i, text in enumerate(sign):
            put(top + i, right, text.upper(), bold=True)
        put(top + len(sign) + 5, right, s.signer_name, bold=True)
        page = printing.PORTRAIT
        ws.set_paper(printing.PAPER_A4)
        ws.set_portrait()
        ws.set_margins(left=page.left, right=page.right, top=page.top, bottom=page.bottom)
        ws.fit_to_pages(1, 1)
        ws.center_horizontally()
        ws.set_footer(printing.footer_text(), {"scale_with_doc": False})
        ws.hide_gridlines(2)
        ws.set_first_sheet()
        ws.activate()

    # -- Biểu 01

    def form_01(self) -> None:
        r, labels = self.result, self.labels
        sh = Sheet(self, "01", note=self.rate_note)
        row = HEADER_ROW
        sh.heading(row, "I. TIẾN ĐỘ THỰC HIỆN CHỈ TIÊU")
        row += 1
        cols = [
            Col("seq", "STT", "seq"),
            Col("label", "Chỉ tiêu", "wrap", max_width=52, min_width=40),
            Col("numerator", "Số đạt", "int", min_width=11),
            Col("denominator", "Tổng số", "int", min_width=11),
            Col("rate", "Tỷ lệ đạt", "rate", rate=("numerator", "denominator"), min_width=11),
            Col("target", "Chỉ tiêu phấn đấu", "rate", min_width=11),
            Col("milestone", "Đến năm", "year", min_width=9),
            Col("met", "Đánh giá", "text", min_width=11),
            Col("source", "Căn cứ", "wrap", span=5),
        ]
        rows = []
        for t in r.targets.itertuples(index=False):
            met = (
                "Chưa có mốc"
                if t.met is None or _missing(t.met)
                else ("Đạt" if t.met else "Chưa đạt")
            )
            unknown = unknown_text(t.unknown)
            rows.append(
                {
                    "label": f"{t.label} ({unknown})" if unknown else t.label,
                    "numerator": _num(t.numerator),
                    "denominator": _num(t.denominator),
                    "target": _num(t.target),
                    "milestone": _num(t.milestone_year),
                    "met": met,
                    "source": t.source,
                }
            )
        ref = sh.table(row, cols, rows)
        met_col = ref.columns["met"]
        if rows:
            rng = (ref.first_row, met_col, ref.last_row, met_col)
            sh.ws.conditional_format(
                *rng,
                {
                    "type": "cell",
                    "criteria": "==",
                    "value": '"Đạt"',
                    "format": self.wb.add_format(GOOD),
                },
            )
            sh.ws.conditional_format(
                *rng,
                {
                    "type": "cell",
                    "criteria": "==",
                    "value": '"Chưa đạt"',
                    "format": self.wb.add_format(BAD),
                },
            )
        row = ref.end_row + 1

        sh.heading(row, "II. SỐ LIỆU CHỦ YẾU TOÀN THÀNH PHỐ")
        row += 1
        cols = [
            Col("seq", "STT", "seq"),
            Col("label", "Nội dung", "wrap", max_width=52, min_width=40),
            Col("value", "Số liệu", "int", min_width=11),
            Col("unit", "Đơn vị tính", "code", min_width=11),
        ]
        rows = [
            {
                "label": labels.measure(k),
                "value": self.city_value(k),
                "unit": labels.unit(k),
                "kind": labels.kind(k),
            }
            for k in CITY_HEADLINES
            if labels.field(k) is not None or k in labels.derived
        ]
        ref = sh.table(row, cols, rows)
        row = ref.end_row + 1

        report = r.schemas.report
        people = report.list_map["people"]
        groups = report.choices[people.fixed_choices] if people.fixed_choices else ()
        sh.heading(row, f"III. {people.title[:1]}{people.title[1:].lower()}")
        row += 1
        numeric = [f for f in people.fields if f.is_numeric]
        cols = [
            Col("seq", "STT", "seq"),
            Col("group", people.field("group").label, "wrap", min_width=18, max_width=52),
        ]
        # Each rate is the pipeline's, over the groups' rows reporting both figures (Ratio);
        # the totals row's over every group's pairs.
        rated = [
            f
            for f in numeric
            if any(f"{people.code}.{g.code}.{f.code}_rate" in self.ratios for g in groups)
        ]
        for f in numeric:
            cols.append(Col(f.code, f.label, "int", total=True, min_width=11, max_width=14))
            if f in rated:
                cols.append(Col(f"{f.code}_rate", "Tỷ lệ", "rate", min_width=8))
        rows = []
        totals: dict[str, float | None] = {}
        pairs: dict[str, list[float]] = {f.code: [0.0, 0.0] for f in rated}
        for g in groups:
            values: dict[str, Any] = {"group": g.label}
            for f in numeric:
                v = self.city_value(f"people.{g.code}.{f.code}")
                values[f.code] = v
                if v is not None:
                    totals[f.code] = (totals.get(f.code) or 0.0) + v
                ratio = self.ratios.get(f"{people.code}.{g.code}.{f.code}_rate")
                if ratio is not None:
                    values[f"{f.code}_rate"] = self.city_value(ratio.field)
                    for i, key in enumerate((ratio.numerator, ratio.denominator)):
                        pairs[f.code][i] += self.city_value(key) or 0.0
            rows.append(values)
        for code, (num, den) in pairs.items():
            totals[f"{code}_rate"] = num / den if den else None
        ref = sh.table(row, cols, rows, totals)
        row = ref.end_row
        # docs/dac-ta-tieu-chi.md 8.4: a rate over fewer units than the counts beside it
        # says its own base, so that dividing what is shown is not taken for the rate.
        last_col = max(ref.columns.values())
        whole_label = people.field("total").label
        for f in rated:
            for g in groups:
                ratio = self.ratios.get(f"{people.code}.{g.code}.{f.code}_rate")
                if ratio is None:
                    continue
                pair_num, pair_den = (
                    self.city_value(ratio.numerator),
                    self.city_value(ratio.denominator),
                )
                part, whole = self.city_value(ratio.part), self.city_value(ratio.whole)
                if not base_differs(pair_num, pair_den, part, whole):
                    continue
                sh.remark(
                    row,
                    last_col,
                    rate_base_text(
                        f"{_inner(f.label)} của nhóm {g.label}",
                        pair_num,
                        pair_den,
                        f"{_count(paired_units(r.measures, ratio))} đơn vị có đủ hai số",
                        (f.label, part),
                        (whole_label, whole),
                    ),
                )
                row += 1
            # The totals row: its rate over every group's pairs.
            pair_num, pair_den = pairs[f.code]
            part, whole = totals.get(f.code), totals.get("total")
            if pair_den and base_differs(pair_num, pair_den, part, whole):
                sh.remark(
                    row,
                    last_col,
                    rate_base_text(
                        f"{_inner(f.label)} của dòng Tổng cộng",
                        pair_num,
                        pair_den,
                        "các nhóm của từng đơn vị có đủ hai số",
                        (f.label, part),
                        (whole_label, whole),
                    ),
                )
                row += 1
        row += 1

        for numeral, list_code, fld in (
            ("IV", "initiatives", "level"),
            ("V", "nominations", "proposed_form"),
            ("VI", "nominations", "nominee_kind"),
        ):
            lst = report.list_map[list_code]
            f = lst.field(fld)
            total_key = {"initiatives": "initiatives_count", "nominations": "nominations_count"}[
                list_code
            ]
            sh.heading(
                row,
                f"{numeral}. {lst.title[:1]}{lst.title[1:].lower()}: theo {_lower_first(f.label)}",
            )
            row += 1
            cols = [
                Col("seq", "STT", "seq"),
                Col("label", f.label, "wrap", max_width=52, min_width=40),
                Col("count", "Số lượng", "int", total=True, min_width=11),
            ]
            rows = [
                {"label": c.label, "count": self.city_value(f"{list_code}.{fld}.{c.code}") or 0.0}
                for c in report.choices[f.choices or ""]
            ]
            total = self.city_value(total_key)
            # A row whose choice is blank (or was excluded by an error) is in no choice: it is
            # shown on a line of its own, so the column adds up to the total it is shown with
            # and no blank level is read as a recognition (docs/dac-ta-tieu-chi.md 8.1).
            unassigned = (total or 0.0) - sum(float(r["count"]) for r in rows)
            if unassigned > 0:
                rows.append({"label": unassigned_label(f), "count": unassigned})
            ref = sh.table(row, cols, rows, {"count": total})
            row = ref.end_row + 1
        sh.finish()

    # -- Biểu 02 / 03

    def form_02(self) -> None:
        r = self.result
        sh = Sheet(self, "02", note=self.rate_note)
        aggs = r.aggregates[r.aggregates["level"] == "area"]
        by_area = {
            str(key): dict(zip(group["field"], group["value"], strict=True))
            for key, group in aggs.groupby("key", sort=False)
        }
        expected = r.reporting_rate.set_index("area_code")["expected"]
        report = r.schemas.report
        area_field = report.field_map["area_name"]
        cols = [
            Col("seq", "STT", "seq"),
            Col("area_code", "Mã địa bàn", "code", min_width=8),
            Col("area_name", area_field.label, "text", max_width=26, min_width=16),
            Col("expected", "Số đơn vị phải báo cáo", "int", total=True, min_width=11),
            Col(
                "units",
                self.labels.measure("units") + " có báo cáo",
                "int",
                total=True,
                min_width=11,
            ),
            Col("ldu_recognised/units", "Tỷ lệ", "rate", rate=("ldu_recognised", "units")),
        ]
        head = self.headline_cols(TABLE_HEADLINES)
        cols = cols[:5] + head[:1] + cols[5:] + head[1:]
        rows = []
        for area in sorted(r.registry.areas.values(), key=lambda a: a.code):
            values: dict[str, Any] = {"area_code": area.code, "area_name": area.name}
            values["expected"] = int(expected.get(area.code, 0))
            data = by_area.get(area.code, {})
            for c in cols:
                if c.rate is None and c.key not in values and c.kind != "seq":
                    values[c.key] = _num(data.get(c.key))
            rows.append(values)
        totals = {c.key: self.city_value(c.key) for c in cols if c.total or c.key in self.ratios}
        totals["expected"] = float(len(r.tracking))
        ref = sh.table(HEADER_ROW, cols, rows, totals)
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    def unit_cols(self) -> list[Col]:
        report = self.result.schemas.report
        return [
            Col("seq", "STT", "seq"),
            Col("unit_code", report.field_map["unit_code"].label, "code"),
            Col(
                "unit_name", report.field_map["unit_name"].label, "wrap", max_width=34, min_width=20
            ),
            Col("unit_type", report.field_map["unit_type"].label, "wrap", max_width=18),
            Col("area_name", "Địa bàn", "text", max_width=20),
        ]

    def unit_row(self, u: Any) -> dict[str, Any]:
        return {
            "unit_code": u.unit_code,
            "unit_name": u.unit_name,
            "unit_type": self.result.schemas.report.unit_type_label(str(u.unit_type)),
            "area_name": u.area_name,
        }

    def form_03(self) -> None:
        r = self.result
        sh = Sheet(self, "03", note=self.rate_note)
        cols = self.unit_cols() + self.headline_cols(TABLE_HEADLINES)
        wanted = [c.key for c in cols if c.total]
        for c in cols:
            if c.key in self.ratios:
                wanted += [self.ratios[c.key].numerator, self.ratios[c.key].denominator]
        measures = {k: _by_index(r.measures, k) for k in wanted if k in r.measures.columns}
        rows = []
        for u in self.unit_rows:
            values = self.unit_row(u)
            for c in cols:
                if c.total:
                    m = measures.get(c.key)
                    values[c.key] = _num(m.get(u.unit_code)) if m is not None else None
                elif c.key in self.ratios:
                    ratio = self.ratios[c.key]
                    num, den = (measures.get(k, {}) for k in (ratio.numerator, ratio.denominator))
                    value = _rate(_num(num.get(u.unit_code)), _num(den.get(u.unit_code)))
                    values[c.key] = value if isinstance(value, float) else None
            rows.append(values)
        totals = {c.key: self.city_value(c.key) for c in cols if c.total or c.key in self.ratios}
        ref = sh.table(HEADER_ROW, cols, rows, totals)
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    # -- Biểu 04

    def form_04(self) -> None:
        r, st = self.result, self.styles
        crit = r.schemas.criteria
        sh = Sheet(
            self,
            "04",
            note=(
                f"{self.source_note} Tiêu chí theo Kế hoạch mục III.1, ngưỡng theo tệp tiêu chí "
                f"(phiên bản {crit.version}). Di chuột vào ô để xem lý do; “—”: tiêu chí không áp "
                "dụng cho loại đơn vị."
            ),
        )
        status = {
            (str(x.unit_code), str(x.criterion)): (str(x.status), str(x.reason))
            for x in r.criteria.itertuples(index=False)
        }
        cols = self.unit_cols()
        cols += [Col(c.code, c.code, "text", min_width=10, max_width=10) for c in crit.criteria]
        cols += [
            Col("passed", "Số tiêu chí đạt", "int", min_width=9),
            Col("applicable", "Số tiêu chí áp dụng", "int", min_width=9),
        ]
        units = self.unit_rows
        rows = []
        for u in units:
            values = self.unit_row(u)
            applicable = 0
            for c in crit.criteria:
                hit = status.get((str(u.unit_code), c.code))
                values[c.code] = CRITERION_STATUS.get(hit[0], hit[0]) if hit else "—"
                applicable += hit is not None
            values["applicable"] = applicable
            rows.append(values)
        ref = sh.table(HEADER_ROW, cols, rows)
        ws = sh.ws
        first_c = ref.columns[crit.criteria[0].code] if crit.criteria else 0
        last_c = ref.columns[crit.criteria[-1].code] if crit.criteria else 0
        note = {
            "author": self.result.settings.issuing_body_short,
            "x_scale": 3,
            "font_name": FONT,
            "font_size": 10,
            "y_scale": 2.5,
        }
        shades: dict[bool, Any] = {}  # by "does not apply": greyed
        for i, (u, values) in enumerate(zip(units, rows, strict=True)):
            rr = ref.first_row + i
            unit_code = str(u.unit_code)
            for c in crit.criteria:
                col = ref.columns[c.code]
                hit = status.get((unit_code, c.code))
                fmt = shades.get(hit is None)
                if fmt is None:
                    grey: dict[str, Any] = {} if hit else {"font_color": "#808080"}
                    fmt = shades[hit is None] = st.cell("text", align="center", **grey)
                sh.string(rr, col, values[c.code], fmt)
                if hit and hit[1]:
                    ws.write_comment(rr, col, f"{c.code}. {c.label}\n{hit[1]}"[:MAX_TEXT], note)
            rng = xl_range(rr, first_c, rr, last_c)
            passed = sum(1 for c in crit.criteria if values[c.code] == "Đạt")
            ws.write_formula(
                rr, ref.columns["passed"], f'=COUNTIF({rng},"Đạt")', st.cell("int"), passed
            )
        if rows:
            rng = (ref.first_row, first_c, ref.last_row, last_c)
            for text, colours in (("Đạt", GOOD), ("Không đạt", BAD), ("Chưa đủ số liệu", NEUTRAL)):
                ws.conditional_format(
                    *rng,
                    {
                        "type": "cell",
                        "criteria": "==",
                        "value": f'"{text}"',
                        "format": self.wb.add_format(colours),
                    },
                )
        # Counts per criterion under the matrix: live COUNTIFs over the column above.
        row = ref.end_row
        label_end = first_c - 1
        for text in ("Đạt", "Không đạt", "Chưa đủ số liệu"):
            ws.merge_range(
                row,
                0,
                row,
                label_end,
                f"Số đơn vị “{_lower_first(text) if text != 'Đạt' else 'đạt'}”",
                st.cell("text", total=True, align="right"),
            )
            for c in crit.criteria:
                col = ref.columns[c.code]
                count = sum(1 for v in rows if v[c.code] == text)
                if rows:
                    formula = (
                        f'=COUNTIF({xl_range(ref.first_row, col, ref.last_row, col)},"{text}")'
                    )
                    ws.write_formula(
                        row, col, formula, st.cell("int", total=True, align="center"), count
                    )
                else:
                    ws.write_number(row, col, 0, st.cell("int", total=True, align="center"))
            row += 1
        sh.keep(ref.end_row - 1, row)  # the counts print under the matrix's last row
        row += 1
        sh.heading(row, "Tiêu chí thi đua (Kế hoạch mục III.1)")
        row += 1
        # The legend sits under the matrix, its wide texts merged across the narrow columns.
        label_span = first_c + 2
        end_col = ref.columns["applicable"]
        source_span = max(1, end_col - (1 + label_span + 4) + 1)
        legend = [
            Col("code", "Mã", "code"),
            Col("label", "Nội dung tiêu chí", "wrap", span=label_span),
            Col("applies", "Áp dụng cho", "wrap", span=4),
            Col("source", "Căn cứ", "wrap", span=source_span),
        ]
        report = r.schemas.report
        legend_rows = [
            {
                "code": c.code,
                # The condition with this year's thresholds (c1: the target in force).
                "label": f"{c.label}. Điều kiện đạt: {condition_text(c, r.schemas, r.year)}.",
                "applies": "; ".join(report.unit_type_label(t) for t in c.applies_to),
                "source": c.source,
            }
            for c in crit.criteria
        ]
        sh.table(row, legend, legend_rows, left=1)
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    # -- Biểu 05

    def form_05(self) -> None:
        r, labels, st = self.result, self.labels, self.styles
        report = r.schemas.report
        spec = r.schemas.criteria.learning_unit_levels
        sh = Sheet(
            self,
            "05",
            note=(
                f"{self.source_note} Mức số liệu đáp ứng: mức cao nhất mà các chỉ số và tỷ lệ "
                f"đơn vị báo cáo cho phép theo {spec.source}; dòng tô màu: đơn vị ghi mức cao hơn."
            ),
        )
        fm = report.field_map
        ldu = r.learning_unit.set_index("unit_code").to_dict("index")
        units = {
            key: _by_index(r.units, key) if key in r.units else {}
            for key in ("ldu_registered", "emulation_title", "digital_level")
        }
        cols = [
            *self.unit_cols(),
            Col("ldu_registered", fm["ldu_registered"].label, "text", min_width=12, max_width=14),
            Col("self_level", fm["ldu_self_level"].label, "text", min_width=11, max_width=12),
            Col(
                "recognised_level",
                fm["ldu_recognised_level"].label,
                "text",
                min_width=11,
                max_width=12,
            ),
            Col("supported_level", "Mức số liệu đáp ứng", "text", min_width=11, max_width=12),
            Col(
                "member_rate",
                "Tỷ lệ " + _lower_first(labels.measure("members_recognised")),
                "rate",
                min_width=14,
                max_width=16,
            ),
            Col(
                "learner_rate",
                "Tỷ lệ " + _lower_first(labels.measure("learners_recognised")),
                "rate",
                min_width=14,
                max_width=16,
            ),
            Col("emulation_title", fm["emulation_title"].label, "wrap", min_width=16, max_width=16),
            Col("digital_level", fm["digital_level"].label, "wrap", min_width=16, max_width=16),
            Col("reason", "Nhận xét", "wrap", max_width=50, min_width=30),
        ]
        rows = []
        for u in self.unit_rows:
            values = self.unit_row(u)
            x = ldu.get(u.unit_code)
            reg = units["ldu_registered"].get(u.unit_code)
            values["ldu_registered"] = "" if _missing(reg) else YES_NO[bool(reg)]
            for key in ("emulation_title", "digital_level"):
                values[key] = labels.choice(key, units[key][u.unit_code])
            if x is not None:
                values["self_level"] = labels.choice("ldu_level", x["self_level"])
                recognised, validity = _recognition_text(x, labels, spec.validity_years)
                values["recognised_level"] = recognised
                values["supported_level"] = _supported_text(x, labels)
                values["member_rate"] = _num(x["member_rate"])
                values["learner_rate"] = _num(x["learner_rate"])
                flagged = bool(x["flagged"])
                values["flagged"] = flagged
                reason = _text(x["reason"])
                if flagged:
                    reason = "Mức đơn vị ghi cao hơn mức số liệu đáp ứng. " + reason
                values["reason"] = " ".join(t for t in (validity, reason) if t)
            rows.append(values)
        ref = sh.table(
            HEADER_ROW, cols, rows, row_style=lambda v: FLAG if v.get("flagged") else None
        )
        sh.autofilter(ref)
        # Units by level: live COUNTIFs over the columns above, cached from the pipeline.
        row = ref.end_row + 1
        sh.heading(row, "Số đơn vị theo mức")
        row += 1
        hdr = st.header()
        level_cols = ("self_level", "recognised_level", "supported_level")
        ws = sh.ws
        label_col = ref.columns["unit_name"]
        ws.write_string(row, label_col, "Mức", hdr)
        for key in level_cols:
            ws.write_string(
                row, ref.columns[key], next(c.header for c in cols if c.key == key), hdr
            )
        row += 1
        lu = r.learning_unit
        # A unit whose level cannot be decided is not "Chưa đạt": it has its own line.
        decided = lu[f"verdict_{spec.levels[0].code}"] != UNKNOWN if len(lu) else lu.index
        supported = lu.loc[decided, "supported_level"].value_counts() if len(lu) else {}
        # A lapsed recognition, or one without its year, shows with a note in its cell and so
        # is not counted under its level: only recognitions still valid count.
        valid = lu["valid_level"].value_counts()
        choices = report.choices["ldu_level"]
        level_rows: dict[str, list[int]] = {key: [] for key in level_cols}
        at_levels = dict.fromkeys(level_cols, 0.0)
        for choice in choices:
            ws.write_string(row, label_col, choice.label, st.cell("text"))
            cached = {
                "self_level": self.city_value(f"ldu_self_level.{choice.code}") or 0.0,
                "recognised_level": float(valid.get(choice.code, 0)),
                "supported_level": float(supported.get(choice.code, 0)),
            }
            for key in level_cols:
                col = ref.columns[key]
                level_rows[key].append(row)
                at_levels[key] += cached[key]
                if rows:
                    rng = xl_range(ref.first_row, col, ref.last_row, col)
                    ws.write_formula(
                        row, col, f'=COUNTIF({rng},"{choice.label}")', st.cell("int"), cached[key]
                    )
                else:
                    ws.write_number(row, col, 0, st.cell("int"))
            row += 1
        # The rest of the units, counted apart: no level given (self), recognition unknown or
        # lapsed (recognised), figures not enough to decide (supported); then all the units.
        total_row = row + 1
        ws.write_string(row, label_col, UNDECIDED_ROW, st.cell("text"))
        for key in level_cols:
            col = ref.columns[key]
            cells = ",".join(xl_rowcol_to_cell(n, col) for n in level_rows[key])
            ws.write_formula(
                row,
                col,
                f"={xl_rowcol_to_cell(total_row, col)}-SUM({cells})",
                st.cell("int"),
                len(rows) - at_levels[key],
            )
        row += 1
        ws.write_string(row, label_col, "Tổng số đơn vị", st.cell("text", total=True))
        for key in level_cols:
            col = ref.columns[key]
            if rows:
                ws.write_formula(
                    row,
                    col,
                    f"=ROWS({xl_range(ref.first_row, col, ref.last_row, col)})",
                    st.cell("int", total=True),
                    float(len(rows)),
                )
            else:
                ws.write_number(row, col, 0, st.cell("int", total=True))
        row += 1
        # The QĐ 387 target as Biểu 01 states it: valid recognitions over every unit.
        spec_t, levels = _recognition_target(r)
        target = (
            next((t for t in r.targets.itertuples(index=False) if t.code == spec_t.code), None)
            if spec_t is not None and len(r.targets)
            else None
        )
        if target is not None and rows:
            col = ref.columns["recognised_level"]
            recognised_cells = [
                xl_rowcol_to_cell(level_rows["recognised_level"][i], col)
                for i, c in enumerate(choices)
                if c.code in levels
            ]
            num = "+".join(recognised_cells) if recognised_cells else "0"
            den = xl_rowcol_to_cell(row - 1, col)
            unknown = unknown_text(target.unknown)
            label = f"{target.label} (Biểu 01" + (f"; {unknown})" if unknown else ")")
            ws.write_string(row, label_col, label, st.cell("wrap", total=True))
            ws.write_formula(
                row,
                col,
                f'=IFERROR({rates.excel_rate(f"({num})", den)},"")',
                st.cell("rate", total=True),
                _rate(_num(target.numerator), _num(target.denominator)),
            )
            row += 1
        sh.keep(row - len(choices) - 5, row)  # heading, header, levels, the rest, total, rate
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    # -- Biểu 06 / 07: the lists

    def list_cols(self, list_code: str) -> list[Col]:
        lst = self.result.schemas.report.list_map[list_code]
        cols = [
            Col("seq", "STT", "seq"),
            Col("unit_code", self.labels.report.field_map["unit_code"].label, "code"),
            Col(
                "unit_name",
                self.labels.report.field_map["unit_name"].label,
                "wrap",
                max_width=30,
                min_width=18,
            ),
        ]
        for f in lst.fields:
            if f.type == "integer" and f.min is not None and f.min >= 1000:
                kind = "year"
            elif f.is_numeric:
                kind = "int" if f.type == "integer" else "num"
            elif f.type == "date":
                kind = "date"
            else:
                kind = "wrap"
            cols.append(Col(f.code, f.label, kind, max_width=45 if f.long else 32, min_width=10))
        return cols

    def list_rows(self, list_code: str) -> list[dict[str, Any]]:
        lst = self.result.schemas.report.list_map[list_code]
        frame = list_frame(self.result, list_code)
        rows = []
        for rec in frame.to_dict("records"):
            values: dict[str, Any] = {
                "unit_code": rec["unit_code"],
                "unit_name": self.unit_name(rec["unit_code"]),
            }
            for f in lst.fields:
                v = rec.get(f.code)
                values[f.code] = self.labels.choice(f.choices, v) if f.type == "choice" else v
            rows.append(values)
        return rows

    def form_06(self) -> None:
        sh = Sheet(self, "06", note=self.source_note)
        ref = sh.table(HEADER_ROW, self.list_cols("initiatives"), self.list_rows("initiatives"))
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    def form_07(self) -> None:
        r = self.result
        report = r.schemas.report
        forms = report.choices[report.list_map["nominations"].field("proposed_form").choices or ""]
        lowest = min(forms, key=lambda c: c.rank)
        sh = Sheet(
            self,
            "07",
            note=(
                f"{self.source_note} Cột “Cảnh báo”: người/tập thể được đề nghị trùng, hoặc đơn vị "
                f"có tiêu chí “không đạt” mà đề nghị hình thức cao hơn {lowest.label}."
            ),
        )
        cols = [
            *self.list_cols("nominations"),
            Col("warning", "Cảnh báo", "wrap", max_width=40, min_width=24),
        ]
        rows = self.list_rows("nominations")
        raw = r.data.lists["nominations"]
        kept_files = {f: c for c, f in r.kept.items()}
        raw = raw[raw["file"].isin(kept_files)].copy()
        raw["unit_code"] = raw["file"].map(kept_files)
        raw = raw.sort_values(["unit_code", "row"], kind="stable")
        positions = list(zip(raw["file"], raw["row"], strict=True))
        duplicates: dict[tuple[str, str], list[str]] = {}
        for i in r.issues:
            if i.code in DUPLICATE_CODES:
                duplicates.setdefault((i.file, i.cell), []).append(i.message)
        failed: dict[str, list[str]] = {}
        for x in r.criteria.itertuples(index=False):
            if x.status == FAIL:
                failed.setdefault(str(x.unit_code), []).append(str(x.criterion))
        rank = {c.label: c.rank for c in forms}
        for values, (file, row) in zip(rows, positions, strict=True):
            notes = []
            loc = r.data.locate(str(file), "nominee_name", "nominations", int(row))
            if loc is not None:
                notes += duplicates.get((str(file), loc.cell), [])
            unit_failed = failed.get(str(values["unit_code"]), [])
            if (
                unit_failed
                and rank.get(str(values.get("proposed_form")), lowest.rank) > lowest.rank
            ):
                notes.append(
                    f"Đơn vị có tiêu chí “không đạt” ({', '.join(unit_failed)}): xem xét lại "
                    f"đề nghị hình thức cao hơn {lowest.label}."
                )
            values["warning"] = "\n".join(notes)
        ref = sh.table(
            HEADER_ROW, cols, rows, row_style=lambda v: FLAG if v.get("warning") else None
        )
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    # -- Biểu 08

    def form_08(self) -> None:
        r = self.result
        sh = Sheet(
            self,
            "08",
            note=(
                f"Nguồn: mục đánh giá chung trong {self.n_units} báo cáo hợp lệ; "
                "giữ nguyên lời văn của đơn vị."
            ),
        )
        texts = [f for f in r.schemas.report.fields if f.type == "text" and f.long]
        cols = [
            Col("seq", "STT", "seq"),
            Col("unit_code", r.schemas.report.field_map["unit_code"].label, "code"),
            Col(
                "unit_name",
                r.schemas.report.field_map["unit_name"].label,
                "wrap",
                max_width=28,
                min_width=18,
            ),
        ] + [Col(f.code, f.label, "wrap", max_width=45, min_width=30) for f in texts]
        answers = {f.code: _by_index(r.units, f.code) for f in texts if f.code in r.units}
        rows = []
        for u in self.unit_rows:
            values = self.unit_row(u)
            for f in texts:
                answer = answers.get(f.code)
                values[f.code] = answer[u.unit_code] if answer is not None else None
            rows.append(values)
        ref = sh.table(HEADER_ROW, cols, rows)
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 3), repeat=HEADER_ROW)

    # -- Biểu 09

    def form_09(self) -> None:
        r, s = self.result, self.result.settings
        deadline = _ddmmyyyy(s.deadline(r.year))
        sh = Sheet(
            self,
            "09",
            note=(
                f"Nguồn: danh mục đơn vị của Sở ({len(r.tracking)} đơn vị) và các tệp báo cáo đã "
                f"nhận; hạn gửi ngày {deadline} (Kế hoạch mục VII.4). Ngày gửi: ngày Sở nhận "
                "thư (tệp lấy bằng lệnh inbox), nếu không có thì ngày báo cáo ghi trong tệp, "
                "nếu không có thì ngày sửa tệp (cột “Nguồn ngày gửi”). Đơn vị chỉ có tệp bị từ "
                "chối chưa được tính là đã gửi báo cáo."
            ),
        )
        report = r.schemas.report
        row = HEADER_ROW
        sh.heading(row, "I. TỶ LỆ GỬI BÁO CÁO THEO ĐỊA BÀN")
        row += 1
        counted = ("expected", "on_time", "late", "rejected", "missing", "sent")
        cols = [
            Col("seq", "STT", "seq"),
            Col("area_code", "Mã địa bàn", "code", min_width=8),
            Col("area_name", "Địa bàn", "wrap", max_width=34, min_width=18),
            # Numbers sit under the unit tables' narrow columns (shared sheet columns).
            Col("expected", "Số đơn vị phải báo cáo", "int", total=True, min_width=11),
            Col("on_time", TRACKING_STATUS["on_time"], "int", total=True, min_width=11),
            Col("late", TRACKING_STATUS["late"], "int", total=True, min_width=11),
            Col("rejected", "Chỉ có tệp bị từ chối", "int", total=True, min_width=11),
            Col("missing", TRACKING_STATUS["missing"], "int", total=True, min_width=11),
            # Wider than the figures need: the unit tables below span their texts here.
            Col("sent", "Số đơn vị có báo cáo được tổng hợp", "int", total=True, min_width=16),
            Col("rate", "Tỷ lệ đã gửi", "rate", rate=("sent", "expected"), min_width=16),
        ]
        rows = []
        for x in r.reporting_rate.sort_values("area_code").itertuples(index=False):
            values: dict[str, Any] = {"area_code": x.area_code, "area_name": x.area_name}
            values.update({k: int(getattr(x, k)) for k in counted if k != "sent"})
            values["sent"] = values["on_time"] + values["late"]
            rows.append(values)
        totals = {k: float(sum(v[k] for v in rows)) for k in counted}
        ref = sh.table(row, cols, rows, totals)
        row = ref.end_row + 1

        track = r.tracking.copy()
        track["_rank"] = track["unit_type"].map(self.type_rank).fillna(99)
        track = track.sort_values(["area_code", "_rank", "unit_code"], kind="stable")
        chase = track[track["status"].isin(["rejected", "missing"])]
        n_rejected = int((chase["status"] == "rejected").sum())
        sh.heading(
            row,
            "II. DANH SÁCH ĐƠN VỊ CHƯA CÓ BÁO CÁO ĐƯỢC TỔNG HỢP (cần đôn đốc): "
            f"{len(chase)} đơn vị ({len(chase) - n_rejected} chưa gửi, "
            f"{n_rejected} chỉ có tệp bị từ chối)",
        )
        row += 1
        # Sections II and III have the very same columns: the header repeated at the top of
        # every printed page serves both lists (a sheet has one range of print titles).
        unit_cols = [
            Col("seq", "STT", "seq"),
            Col("unit_code", report.field_map["unit_code"].label, "code"),
            Col(
                "unit_name", report.field_map["unit_name"].label, "wrap", max_width=34, min_width=18
            ),
            Col("unit_type", report.field_map["unit_type"].label, "wrap", max_width=18),
            Col("area_name", "Địa bàn", "wrap", max_width=18),
            Col("status", "Tình trạng", "text", min_width=11),
            Col("submitted_at", "Ngày gửi", "date", min_width=11),
            Col("source", "Nguồn ngày gửi", "wrap", max_width=14, min_width=11),
            Col("email", "Thư điện tử", "wrap", max_width=22),
            # Spans table I's last column and one beyond: its rates keep their width.
            Col("file", "Tệp được tổng hợp (tệp bị từ chối và lý do)", "wrap", span=2),
        ]
        sources = TIME_SOURCE_LABELS

        def unit_values(x: Any) -> dict[str, Any]:
            return {
                "unit_code": x.unit_code,
                "unit_name": x.unit_name,
                "unit_type": report.unit_type_label(str(x.unit_type)),
                "area_name": x.area_name,
                "email": x.email,
                "status": TRACKING_STATUS.get(str(x.status), str(x.status)),
                "status_code": x.status,
                "submitted_at": x.submitted_at,
                "source": sources.get(str(x.submitted_at_source), ""),
                # Only a rejected file has a reason: one column for both keeps the rows short.
                "file": f"{x.file}. Lý do: {x.reason}" if x.status == "rejected" else x.file,
            }

        styles = {"missing": BAD, "rejected": BAD, "late": NEUTRAL}

        def style(values: Mapping[str, Any]) -> dict[str, Any] | None:
            return styles.get(str(values.get("status_code")))

        ref = sh.table(
            row,
            unit_cols,
            [unit_values(x) for x in chase.itertuples(index=False)],
            row_style=style,
            style_keys={"status"},
            empty_text="Tất cả đơn vị đã có báo cáo được tổng hợp.",
        )
        sh.note_width(ref.columns["file"] + 1, 22)
        row = ref.end_row + 1

        sh.heading(row, "III. TÌNH HÌNH GỬI BÁO CÁO CỦA TỪNG ĐƠN VỊ")
        row += 1
        rows = [unit_values(x) for x in track.itertuples(index=False)]
        ref = sh.table(row, unit_cols, rows, row_style=style, style_keys={"status"})
        sh.autofilter(ref)
        sh.finish()

    # -- Biểu 10

    def form_10(self) -> None:
        sh = Sheet(
            self,
            "10",
            note=(
                "Biểu đồ lấy số liệu từ các bảng bên trái; sửa số liệu trong bảng thì biểu đồ "
                "cập nhật theo. Số liệu như tại Biểu 01, 05 và 09."
            ),
        )
        row = HEADER_ROW
        chart_col = 0
        for n, spec in enumerate(chart_specs(self.result), start=1):
            start = row
            sh.heading(row, f"{n}. {spec.title}")
            row += 1
            cols = [
                Col("category", spec.category_header, "wrap", max_width=30, min_width=22),
                Col(
                    "value",
                    spec.bars.name,
                    "rate" if spec.percent else "int",
                    min_width=12,
                    max_width=16,
                ),
            ]
            if spec.target is not None:
                cols.append(Col("target", "Chỉ tiêu", "rate", min_width=12))
            rows = []
            for i, category in enumerate(spec.categories):
                values: dict[str, Any] = {"category": category, "value": spec.bars.values[i]}
                if spec.target is not None:
                    values["target"] = spec.target.values[i]
                rows.append(values)
            ref = sh.table(row, cols, rows)
            height = max(280, 90 + 22 * len(spec.categories)) if spec.horizontal else 280
            chart_col = max(chart_col, max(ref.columns.values()) + 2)
            self._native_chart(sh, spec, ref, height, chart_col)
            chart_rows = math.ceil(height / 20) + 1
            row = max(ref.end_row, row + chart_rows) + 1
            # A chart and its table are never cut in two between pages.
            sh.keep(start, row)
        # The charts' columns belong to the page (band width, print width).
        for col in range(chart_col, chart_col + math.ceil(CHART_WIDTH / (8.43 * UNIT_PX + 5)) + 1):
            sh.note_width(col, 8.43)
        sh.finish()

    def _native_chart(
        self, sh: Sheet, spec: ChartSpec, ref: TableRef, height: int, col: int
    ) -> None:
        if ref.last_row < ref.first_row:
            return
        font = {"name": FONT, "size": 10}
        chart = self.wb.add_chart({"type": "bar" if spec.horizontal else "column"})
        name = sh.name
        cat_col, val_col = ref.columns["category"], ref.columns["value"]
        num_format = "0.0%" if spec.percent else "#,##0"
        chart.add_series(
            {
                "name": [name, ref.header_row, val_col],
                "categories": [name, ref.first_row, cat_col, ref.last_row, cat_col],
                "values": [name, ref.first_row, val_col, ref.last_row, val_col],
                "fill": {"color": "#2F5597"},
                "gap": 60,
                "data_labels": {"value": True, "num_format": num_format, "font": font},
            }
        )
        value_axis = {
            "num_format": "0%" if spec.percent else "#,##0",
            "min": 0,
            "num_font": font,
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
        if spec.percent:
            value_axis["max"] = 1
        category_axis: dict[str, Any] = {"num_font": font}
        if spec.horizontal:
            # First category on top, and the value axis kept at the bottom.
            category_axis.update(reverse=True, crossing="max")
            chart.set_x_axis(value_axis)
            chart.set_y_axis(category_axis)
        else:
            chart.set_x_axis(category_axis)
            chart.set_y_axis(value_axis)
        if spec.target is not None and "target" in ref.columns:
            t_col = ref.columns["target"]
            line = self.wb.add_chart({"type": "line"})
            line.add_series(
                {
                    "name": spec.target.name,
                    "categories": [name, ref.first_row, cat_col, ref.last_row, cat_col],
                    "values": [name, ref.first_row, t_col, ref.last_row, t_col],
                    "line": {"color": "#C00000", "dash_type": "dash", "width": 1.75},
                    "marker": {"type": "none"},
                }
            )
            chart.combine(line)
            chart.set_legend({"position": "bottom", "font": font})
        else:
            chart.set_legend({"none": True})
        chart.set_title({"name": spec.title, "name_font": {"name": FONT, "size": 12, "bold": True}})
        chart.set_size({"width": CHART_WIDTH, "height": height})
        chart.set_chartarea({"border": {"color": "#BFBFBF"}})
        sh.ws.insert_chart(ref.header_row, col, chart, {"x_offset": 4, "y_offset": 0})

    # -- Biểu 11

    def form_11(self) -> None:
        r = self.result
        rule_codes = {rule.code for rule in r.schemas.report.rules}
        sh = Sheet(
            self,
            "11",
            note=(
                "Nguồn: kiểm tra tự động các tệp báo cáo. Vị trí ghi theo địa chỉ trong tệp của "
                "đơn vị (trang tính!ô). Lỗi: số liệu không được tính, đơn vị cần sửa và gửi lại."
            ),
        )
        cols = [
            Col("seq", "STT", "seq"),
            Col("severity", "Mức độ", "text", min_width=9),
            Col("unit_code", "Mã đơn vị", "code"),
            Col("unit_name", "Tên đơn vị", "wrap", max_width=26, min_width=16),
            Col("file", "Tệp", "wrap", max_width=26),
            Col("where", "Vị trí", "wrap", max_width=20, min_width=10),
            Col("field", "Chỉ tiêu", "wrap", max_width=30, min_width=16),
            Col("value", "Giá trị đã ghi", "wrap", max_width=20, min_width=12),
            Col("message", "Nội dung, cách sửa", "wrap", max_width=50, min_width=36),
            Col("kind", "Loại vấn đề", "wrap", max_width=24, min_width=14),
            Col("code", "Mã vấn đề", "text", max_width=28),
        ]
        rows = []
        for i in r.issues_table.itertuples(index=False):
            code = str(i.code)
            kind = (
                CATALOGUE[code].title
                if code in CATALOGUE
                else ("Số liệu không khớp giữa các ô" if code in rule_codes else "")
            )
            where = f"{i.sheet}!{i.cell}" if i.sheet and i.cell else str(i.cell or i.sheet or "")
            rows.append(
                {
                    "severity": SEVERITY.get(str(i.severity), str(i.severity)),
                    "unit_code": i.unit_code,
                    "unit_name": self.unit_name(i.unit_code),
                    "file": i.file,
                    "where": where,
                    "field": self.labels.field_of_issue(str(i.field)),
                    "value": i.value,
                    "message": i.message,
                    "kind": kind,
                    "code": code,
                }
            )
        colours = {"Lỗi": BAD, "Cảnh báo": NEUTRAL}
        ref = sh.table(
            HEADER_ROW,
            cols,
            rows,
            row_style=lambda v: colours.get(str(v.get("severity"))),
            style_keys={"severity"},
            empty_text="Không phát hiện vấn đề nào.",
        )
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 0), repeat=HEADER_ROW)

    # -- Biểu 12

    def form_12(self) -> None:
        r = self.result
        sh = Sheet(
            self,
            "12",
            note=(
                "Nguồn: các tệp trong thư mục dữ liệu vào. Ngày gửi: ngày Sở nhận thư (tệp lấy "
                "bằng lệnh inbox), nếu không có thì ngày báo cáo ghi trong tệp, nếu không có thì "
                "ngày sửa tệp (cột “Nguồn ngày gửi”), như Biểu 09; tệp bị từ chối chỉ ghi ngày "
                "nhận thư. Mã SHA-256 dùng để đối chiếu đúng tệp đã được tổng hợp (xem thêm "
                "manifest.json)."
            ),
        )
        cols = [
            Col("seq", "STT", "seq"),
            Col("file", "Tệp", "wrap", max_width=34, min_width=20),
            Col("unit_code", "Mã đơn vị", "code"),
            Col("unit_name", "Tên đơn vị", "wrap", max_width=28, min_width=16),
            Col("status", "Tình trạng", "wrap", max_width=16, min_width=12),
            Col("reason", "Lý do, ghi chú", "wrap", max_width=50, min_width=30),
            Col("errors", "Số lỗi", "int", min_width=7),
            Col("warnings", "Số cảnh báo", "int", min_width=9),
            Col("template", "Biểu mẫu (phiên bản)", "text", max_width=20),
            Col("report_date", "Ngày báo cáo", "date", min_width=11),
            Col("submitted_at", "Ngày gửi", "date", min_width=11),
            Col("source", "Nguồn ngày gửi", "wrap", max_width=14, min_width=11),
            Col("size", "Dung lượng (byte)", "int", min_width=11),
            Col("sha256", "Mã SHA-256", "wrap", max_width=34, min_width=34),
        ]
        rows = []
        for x in r.submissions.itertuples(index=False):
            template = f"{x.template_id} ({x.template_version})" if x.template_id else ""
            rows.append(
                {
                    "file": x.file,
                    "unit_code": x.unit_code,
                    "unit_name": self.unit_name(x.unit_code),
                    "status": SUBMISSION_STATUS.get(str(x.status), str(x.status)),
                    "status_code": x.status,
                    "reason": x.reason,
                    "errors": x.errors,
                    "warnings": x.warnings,
                    "template": template,
                    "report_date": x.report_date,
                    "submitted_at": x.submitted_at,
                    "source": TIME_SOURCE_LABELS.get(str(x.submitted_at_source), ""),
                    "size": x.size,
                    "sha256": x.sha256,
                }
            )
        colours = {
            "rejected": BAD,
            "accepted_with_warnings": NEUTRAL,
            "superseded": {"font_color": "#808080"},
        }
        ref = sh.table(
            HEADER_ROW,
            cols,
            rows,
            row_style=lambda v: colours.get(str(v.get("status_code"))),
            style_keys={"status"},
        )
        sh.autofilter(ref)
        sh.finish(freeze=(HEADER_ROW + 1, 2), repeat=HEADER_ROW)

    # -- Biểu 13: the year before (only when it was consolidated)

    def form_13(self) -> None:
        """The city's figures against the year before, and the units' jumps to explain."""
        r, prev = self.result, self.previous
        assert prev is not None
        report = r.schemas.report
        sh = Sheet(
            self,
            "13",
            note=(
                f"Nguồn: kết quả tổng hợp năm {prev.year} và năm {r.year}. Thay đổi của tỷ lệ "
                "tính bằng điểm phần trăm. Số liệu của đơn vị tăng, giảm bất thường được cảnh "
                "báo để đơn vị giải thích (chi tiết tại Biểu 11)."
            ),
        )
        both = compare_aggregates(r.aggregates, prev.aggregates, "city")
        both = both[both["key"] == r.city_key].set_index("field")
        targets = {f"target.{t.code}": t.label for t in r.schemas.criteria.targets}

        def label(key: str) -> str:
            if key in targets:
                return targets[key]
            m = re.fullmatch(r"people\.(\w+)\.(\w+)_rate", key)
            if m and "people" in report.list_map:
                people = report.list_map["people"]
                group = report.choice_label(people.fixed_choices or "", m.group(1))
                return f"{group}: {_lower_first(people.field(m.group(2)).label)}"
            return self.labels.measure(key)

        def rows_for(keys: Sequence[str], rate: bool = False) -> list[dict[str, Any]]:
            rows = []
            for key in keys:
                if key not in both.index:
                    continue
                x = both.loc[key]
                change = x["change"]
                if rate and not _missing(x["previous"]) and not _missing(x["current"]):
                    # The change of the two rates as shown (truncated), so that the shown
                    # figures subtract to the shown change.
                    change = rates.shown_change(x["current"], x["previous"])
                rows.append(
                    {
                        "label": label(key),
                        "previous": x["previous"],
                        "current": x["current"],
                        "change": change,
                        "pct": x["pct_change"],
                    }
                )
            return rows

        row = HEADER_ROW
        sh.heading(row, "I. SỐ LIỆU CHÍNH TOÀN THÀNH PHỐ")
        row += 1
        lead = [
            Col("seq", "STT", "seq"),
            Col("label", "Chỉ tiêu thống kê", "wrap", max_width=50, min_width=34),
        ]
        cols = [
            *lead,
            Col("previous", f"Năm {prev.year}", "int", min_width=12),
            Col("current", f"Năm {r.year}", "int", min_width=12),
            Col("change", "Tăng (+), giảm (-)", "int", min_width=12),
            Col("pct", "Tỷ lệ tăng, giảm", "rate", min_width=11),
        ]
        ref = sh.table(row, cols, rows_for(CITY_HEADLINES))
        row = ref.end_row + 1
        sh.heading(row, "II. CÁC TỶ LỆ")
        row += 1
        people = report.list_map.get("people")
        groups = report.choices.get(people.fixed_choices or "", ()) if people else ()
        rate_keys = [*targets, *(f"people.{g.code}.recognised_rate" for g in groups)]
        rate_cols = [
            *lead,
            Col("previous", f"Năm {prev.year}", "rate", min_width=12),
            Col("current", f"Năm {r.year}", "rate", min_width=12),
            Col("change", "Tăng (+), giảm (-) (điểm %)", "rate", min_width=12),
        ]
        ref = sh.table(row, rate_cols, rows_for(rate_keys, rate=True))
        row = ref.end_row + 1
        yoy = r.extra.get("year_over_year")
        flagged = (
            yoy[yoy["implausible"].astype(bool)]
            if isinstance(yoy, pd.DataFrame) and not yoy.empty
            else pd.DataFrame()
        )
        sh.heading(
            row,
            f"III. ĐƠN VỊ CÓ SỐ LIỆU TĂNG, GIẢM BẤT THƯỜNG (cần giải thích): {len(flagged)}",
        )
        row += 1
        # The same columns as table I (they share the sheet's column widths).
        unit_cols = [
            Col("seq", "STT", "seq"),
            Col("label", "Đơn vị: chỉ tiêu", "wrap", max_width=50, min_width=34),
            *cols[2:],
        ]
        unit_rows = [
            {
                "label": f"{self.unit_name(x.unit_code)} ({x.unit_code}): "
                f"{_lower_first(change_label(str(x.field), report))}",
                "previous": x.previous,
                "current": x.current,
                "change": x.change,
                "pct": x.pct_change,
            }
            for x in flagged.itertuples(index=False)
        ]
        sh.table(row, unit_cols, unit_rows, empty_text="Không có.")
        sh.finish()


UNDECIDED_ROW = "Chưa xác định được (chưa rõ, hết hiệu lực, chưa đủ số liệu)"
"""Biểu 05: the line counting the units of no level in each level column."""


def _supported_text(x: Mapping[str, Any], labels: Labels) -> str:
    """Biểu 05 “Mức số liệu đáp ứng”: a level, “Chưa đạt”, or “Chưa đủ số liệu” when even the
    first level cannot be decided from the figures (docs/dac-ta-tieu-chi.md, mục 6)."""
    first = next((k for k in x if k.startswith("verdict_")), None)
    if x["supported_level"] == "none" and first is not None and x[first] == UNKNOWN:
        return UNDECIDED_LEVEL
    return labels.choice("ldu_level", x["supported_level"])


UNDECIDED_LEVEL = "Chưa đủ số liệu"


def _recognition_target(r: RunResult) -> tuple[Any, tuple[str, ...]]:
    """The target whose numerator is a recognition (QĐ 387: units recognised “Đơn vị học
    tập”) over the number of units, and the levels it counts; (None, ()) if there is none."""
    derived = {d.code: d for d in r.schemas.criteria.derived}
    for t in r.schemas.criteria.targets:
        d = derived.get(t.numerator)
        if d is not None and d.recognition is not None and t.denominator == "units":
            return t, d.recognition.levels
    return None, ()


def _recognition_text(x: Mapping[str, Any], labels: Labels, validity: int) -> tuple[str, str]:
    """Biểu 05: the recognised level as shown, and a note on its validity.

    A valid recognition shows its level alone (so the level count below counts it); a lapsed
    one, or one without its year, carries the reason in the cell and is not counted.
    """
    level = labels.choice("ldu_level", x["recognised_level"])
    state, year = x["recognition"], _num(x["recognised_year"])
    if state == "lapsed" and year is not None:
        lapsed = int(year) + validity
        return (
            f"{level} (hết hiệu lực trong năm {lapsed})",
            f"Công nhận năm {int(year)}, còn hiệu lực đến hết năm {lapsed - 1}, hết hiệu lực "
            f"trong năm {lapsed} (công nhận có giá trị {validity} năm kể từ quyết định); đơn "
            "vị cần được đánh giá, công nhận lại.",
        )
    if state == "unknown" and x["recognised_level"] not in (None, "none") and level:
        return f"{level} (chưa rõ năm công nhận)", "Chưa ghi năm công nhận (hoặc năm có lỗi)."
    if state == "unknown" and not level:
        return "Chưa rõ", "Mức được công nhận để trống hoặc có lỗi: tính là chưa được công nhận."
    return level, ""


def build_workbook(result: RunResult) -> bytes:
    """The consolidated report as .xlsx bytes."""
    return ReportBook(result).build()


def workbook_path(out_dir: Path, year: int) -> Path:
    return out_dir / WORKBOOK_NAME.format(year=year)


__all__ = ["WORKBOOK_NAME", "build_workbook", "workbook_path"]
