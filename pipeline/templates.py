"""The standard Excel templates units fill in (input_templates/), built from the schema.

The reader never looks at fixed addresses (DESIGN.md §3): every scalar input cell is a
workbook-scoped defined name equal to its field code, every list is an Excel table named after
its list code whose header row holds the field codes, and a hidden ``_meta`` sheet says which
template, version, year and unit the file is. Everything else here (colours, prompts, data
validation, conditional formatting, print set-up) serves the person filling the file in Excel
or LibreOffice, so mistakes are stopped while typing rather than reported weeks later.

Per-unit templates: building and saving an openpyxl workbook costs a good fraction of a second,
too slow for a thousand units. So each variant is built and saved once with placeholder tokens
where a unit's values go, and each unit's file is that package with the tokens replaced in its
XML parts (openpyxl writes every string to sharedStrings.xml) and zipped again.

Output is byte-reproducible: workbook dates are pinned to 1 January of the report year and the
package is re-zipped with fixed timestamps, so regenerating unchanged templates changes nothing
in git.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.xml.functions import tostring

from pipeline.errors import OutputError, RegistryError, SchemaError
from pipeline.model import INSTRUCTIONS_SHEET, META_KEYS, META_SHEET
from pipeline.ooxml import office_theme, repack, zip_parts
from pipeline.registry import Registry, Unit, file_name_code
from pipeline.schema import Field, ListSpec, ReportSchema, Rule, Section, Variant, nfc
from pipeline.settings import Settings

log = logging.getLogger(__name__)

LISTS_SHEET = "_lists"
"""Hidden sheet holding the dropdown lists, so long labels containing commas still work."""
YES_NO_LABELS = ("Có", "Không")
CREATOR = "Sở GDĐT"
TEXT_MAX_LEN = 255
LONG_TEXT_MAX_LEN = 2000
DATE_MIN = dt.date(2000, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)

FONT_NAME = "Times New Roman"
BASE_SIZE = 12
LINE_HEIGHT = 15.75  # points per line of 12 pt Times New Roman, as Excel sizes rows
COLOUR_INPUT = "FFF2CC"  # light yellow: the unit types here
COLOUR_LOCKED = "D9D9D9"  # grey: pre-filled from the registry, locked
COLOUR_HEADER = "DDEBF7"  # light blue: column headings
COLOUR_SECTION = "EDEDED"
COLOUR_ERROR_FILL = "FFC7CE"  # Excel's own "light red fill with dark red text"
COLOUR_ERROR_FONT = "9C0006"
COLOUR_CODE = "808080"

# General (scalar) sheets: STT | label | unit | input | notes. The input column is D.
# 130.5 characters: at most 7.5 inches wide in print, for "fit to 1 page wide" to keep the
# 11 pt notes at 8 pt or more on A4 portrait even where columns print 5 % wider (LibreOffice).
GENERAL_WIDTHS = {"A": 5.5, "B": 50.0, "C": 11.0, "D": 34.0, "E": 30.0}
INPUT_COLUMN = "D"
LONG_TEXT_LINES = 6

_UNIT_SOURCES = ("unit_code", "unit_name", "unit_type_label", "area_name")
_TOKENS = {src: f"XHHTPREFILL{i}X" for i, src in enumerate(_UNIT_SOURCES)}
"""Placeholders for a unit's values in the per-unit prototype; ASCII so XML keeps them as is."""
_CELL_LIKE = re.compile(r"^([a-z]{1,3}\d+|[rc]\d*|r\d*c\d*)$", re.IGNORECASE)
"""Names Excel reads as a cell address (ab12, r1c1): unusable as defined or table names."""
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


# --------------------------------------------------------------------------- styles


def _font(size: float = BASE_SIZE, **kw: Any) -> Font:
    # family=1 (roman) and no theme scheme, otherwise Excel swaps in the theme's Calibri.
    return Font(name=FONT_NAME, size=size, family=1, **kw)


def _fill(colour: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=colour, end_color=colour)


_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
FONT = _font()
FONT_BOLD = _font(bold=True)
FONT_TITLE = _font(13, bold=True)
FONT_NOTE = _font(11, italic=True)
FONT_CODE = _font(10, color=COLOUR_CODE)  # fitted to a page, still 8 pt or more in print
FONT_SMALL = _font(10, color="595959")
FILL_INPUT = _fill(COLOUR_INPUT)
FILL_LOCKED = _fill(COLOUR_LOCKED)
FILL_HEADER = _fill(COLOUR_HEADER)
FILL_SECTION = _fill(COLOUR_SECTION)
UNLOCKED = Protection(locked=False)
LOCKED = Protection(locked=True)
WRAP = Alignment(wrap_text=True, vertical="center")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _set(
    cell: Any,
    font: Font | None = None,
    fill: PatternFill | None = None,
    align: Alignment | None = None,
    border: Border | None = None,
) -> Any:
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if align is not None:
        cell.alignment = align
    if border is not None:
        cell.border = border
    return cell


def _use_base_font(wb: Workbook) -> None:
    """Make Times New Roman the theme's heading and body fonts.

    Excel draws text a unit adds in a shape or a chart, and lists "Body"/"Headings" first,
    in the theme's fonts (Calibri otherwise). Font 0 follows in :func:`_base_font_first`.
    """
    wb.loaded_theme = office_theme(FONT_NAME).encode()


_FIRST_FONT = re.compile(rb"(<fonts\b[^>]*>)<font>.*?</font>", re.DOTALL)


def _base_font_first(styles: bytes) -> bytes:
    """styles.xml with Times New Roman as font 0, what every unstyled cell and the Normal
    style use, and what Excel measures column widths with. openpyxl has no public setting
    for its default font, so the saved part is edited."""
    font = tostring(FONT.to_tree("font"))
    edited, n = _FIRST_FONT.subn(lambda m: m.group(1) + font, styles, count=1)
    if n != 1:  # pragma: no cover - openpyxl always writes its default font first
        raise ValueError("styles.xml without a first <font>")
    return edited


def _lines(text: str, width: float, size: float = BASE_SIZE, bold: bool = False) -> int:
    """Estimated wrapped lines of `text` in a column `width` characters wide.

    Rows get explicit heights because Excel does not fit wrapped rows on opening. Lower-case
    Times New Roman (with or without Vietnamese diacritics) averages about 1.15 characters per
    unit of column width (the width of '0'); bold and capitals run wider. Erring high only
    leaves a little white space; erring low cuts text off.
    """
    factor = 0.75 if text.isupper() else 1.0 if bold else 1.15
    per_line = max(1, int(width * factor * BASE_SIZE / size))
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _height(lines: int, size: float = BASE_SIZE, caps: bool = False) -> float:
    # Capitals with stacked Vietnamese diacritics (Ẩ, Ộ) need more room above the line.
    line = LINE_HEIGHT * size / BASE_SIZE * (1.2 if caps else 1.0)
    return round(lines * line + 4, 2)


def _clip(text: str, limit: int) -> str:
    """Excel refuses prompt titles over 32 and prompts over 255 characters (it 'repairs')."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _num(x: float) -> str:
    """A bound as Vietnamese users write it: 2023, 0,5."""
    return str(int(x)) if float(x).is_integer() else f"{x}".replace(".", ",")


def _formula_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _sheet_ref(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _abs(coord: str) -> str:
    m = re.fullmatch(r"([A-Z]+)(\d+)", coord)
    assert m, coord
    return f"${m.group(1)}${m.group(2)}"


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Comparison:
    """A rule check of the simple form ``a + b <= c`` (names may carry ``@`` for scalars)."""

    left: tuple[str, ...]
    op: str
    right: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return self.left + self.right

    @property
    def violated_op(self) -> str:
        return {"<=": ">", "<": ">=", ">=": "<", ">": "<="}[self.op]


_TERM = r"@?[A-Za-z_][A-Za-z0-9_]*"
_SIDE = rf"{_TERM}(?:\s*\+\s*{_TERM})*"
_SIMPLE = re.compile(rf"^\s*({_SIDE})\s*(<=|>=|<|>)\s*({_SIDE})\s*$")


def parse_comparison(check: str) -> Comparison | None:
    """Parse ``a <= b`` / ``a <= b + c``; None for anything Excel formatting cannot show."""
    m = _SIMPLE.match(check)
    if not m:
        return None

    def side(text: str) -> tuple[str, ...]:
        return tuple(t.strip() for t in text.split("+"))

    return Comparison(side(m.group(1)), m.group(2), side(m.group(3)))


def _violation_formula(cmp: Comparison, refs: Mapping[str, str]) -> str:
    """Formula true when the rule is broken; blank cells are skipped, as the validator does."""
    checks = ",".join(f"ISNUMBER({refs[n]})" for n in dict.fromkeys(cmp.names))
    left = "+".join(refs[n] for n in cmp.left)
    right = "+".join(refs[n] for n in cmp.right)
    return f"AND({checks},{left}{cmp.violated_op}{right})"


def _error_rule(formula: str) -> FormulaRule:
    return FormulaRule(
        formula=[formula],
        fill=_fill(COLOUR_ERROR_FILL),
        font=Font(color=COLOUR_ERROR_FONT, bold=True),
    )


# --------------------------------------------------------------------------- builder


@dataclass(frozen=True)
class _Place:
    sheet: str
    coord: str

    @property
    def ref(self) -> str:
        return f"{_sheet_ref(self.sheet)}!{_abs(self.coord)}"


@dataclass(frozen=True)
class _TablePlace:
    """Where a list's table landed: its sheet, column letter per field, first/last data row."""

    ws: Any
    fields: Mapping[str, Field]
    cols: Mapping[str, str]
    first: int
    last: int


class _Builder:
    """Lays out one variant's workbook. `prefill` maps prefill source → value (None: blank)."""

    def __init__(
        self,
        schema: ReportSchema,
        variant: Variant,
        year: int,
        settings: Settings,
        registry: Registry,
        prefill: Mapping[str, str] | None,
    ) -> None:
        self.schema = schema
        self.variant = variant
        self.year = year
        self.settings = settings
        self.registry = registry
        self.prefill: dict[str, str] = {"year": str(year), **(prefill or {})}
        self.per_unit = prefill is not None
        self.wb = Workbook()
        _use_base_font(self.wb)
        self.scalar_places: dict[str, _Place] = {}
        self._list_ranges: dict[str, str] = {}
        self._lists_ws: Any = None
        self._widths: dict[tuple[str, str], float] = {}
        self._tables: dict[str, _TablePlace] = {}

    # ---------------------------------------------------------------- entry point

    def build(self) -> Workbook:
        self._check_names()
        wb = self.wb
        intro = wb.active
        intro.title = INSTRUCTIONS_SHEET
        sheets = {s.code: wb.create_sheet(s.name) for s in self.schema.sheets}
        self._lists_ws = wb.create_sheet(LISTS_SHEET)
        meta = wb.create_sheet(META_SHEET)
        for sheet in self.schema.sheets:
            self._layout_sheet(sheet.code, sheets[sheet.code])
        self._rules()
        self._instructions(intro)
        self._meta(meta)
        self._finish_lists_sheet()
        for ws in wb.worksheets:
            self._protect(ws)
        wb.active = 0
        # Structure lock: sheets cannot be renamed, moved, deleted or unhidden. No password,
        # so a department specialist can still lift it; units are asked not to.
        wb.security = WorkbookProtection(lockStructure=True)
        when = dt.datetime(self.year, 1, 1)
        props = wb.properties
        props.creator = CREATOR
        props.lastModifiedBy = CREATOR
        props.created = when
        props.modified = when
        props.title = f"Biểu mẫu báo cáo năm {self.year} - {self.variant.label}"
        props.subject = self.schema.title.format(year=self.year)
        props.keywords = f"{self.variant.template_id} {self.schema.version}"
        props.language = "vi-VN"
        return wb

    def _check_names(self) -> None:
        codes = [f.code for f in self.schema.fields_for(self.variant.code)]
        for code in [*codes, *(lst.code for lst in self.schema.lists)]:
            if _CELL_LIKE.match(code):
                raise SchemaError(
                    f"Lỗi trong tệp {self.schema.path.name}: mã “{code}” trùng dạng địa chỉ ô "
                    "Excel (như A1, R1C1) nên không đặt được tên ô; đổi sang mã khác."
                )

    # ---------------------------------------------------------------- sheets

    def _layout_sheet(self, code: str, ws: Any) -> None:
        sections = [
            s
            for s in self.schema.sections
            if s.sheet == code and any(f.in_variant(self.variant.code) for f in s.fields)
        ]
        lists = [lst for lst in self.schema.lists if lst.sheet == code]
        row = 1
        freeze: str | None = None
        titles: str | None = None
        if sections:
            row, header = self._layout_sections(ws, sections)
            freeze, titles = f"A{header + 1}", f"{header}:{header}"
        for lst in lists:
            start = row + 1 if row > 1 else row
            row, header = self._layout_list(ws, lst, start)
            if not sections and len(lists) == 1:
                freeze, titles = f"A{header + 1}", f"{header - 1}:{header}"
        if not sections and not lists:
            ws["A1"] = "Trang này không áp dụng cho biểu mẫu này; không cần điền."
            ws["A1"].font = FONT_NOTE
        if freeze:
            ws.freeze_panes = freeze
        if titles:
            ws.print_title_rows = titles
        self._page_setup(ws, landscape=bool(lists) and not sections)

    def _title_block(self, ws: Any, row: int, last_col: int, title: str, note: str) -> int:
        """Title and one explanatory line across the used columns; returns the next row."""
        width = sum(
            ws.column_dimensions[get_column_letter(c)].width for c in range(1, last_col + 1)
        )
        for text, font in ((title, FONT_TITLE), (note, FONT_NOTE)):
            ws.cell(row, 1, text).font = font
            ws.cell(row, 1).alignment = CENTER if font is FONT_TITLE else WRAP
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last_col)
            size, caps = (13, True) if font is FONT_TITLE else (11, False)
            lines = _lines(text, width, size, bold=caps)
            ws.row_dimensions[row].height = _height(lines, size, caps and text.isupper())
            row += 1
        return row

    def _layout_sections(self, ws: Any, sections: Sequence[Section]) -> tuple[int, int]:
        """Scalar fields, one row each under section titles. Returns (next row, header row)."""
        for letter, width in GENERAL_WIDTHS.items():
            self._widen(ws, letter, width)
        legend = (
            f"Dành cho: {self.variant.label}. Ô nền vàng: đơn vị nhập số liệu; ô nền xám: "
            "đã điền sẵn, không sửa; (*): bắt buộc. Xem trang “"
            f"{INSTRUCTIONS_SHEET}” trước khi điền."
        )
        row = self._title_block(ws, 1, 5, self.schema.title.format(year=self.year), legend)
        row += 1
        header = row
        headings = ("STT", "Nội dung", "Đơn vị tính", "Số liệu báo cáo", "Ghi chú, hướng dẫn")
        for col, text in enumerate(headings, start=1):
            _set(ws.cell(row, col, text), FONT_BOLD, FILL_HEADER, CENTER, BORDER)
        ws.row_dimensions[row].height = _height(1)
        row += 1
        for section in sections:
            _set(ws.cell(row, 1, section.title), FONT_BOLD, FILL_SECTION, WRAP)
            for col in range(1, 6):
                ws.cell(row, col).border = BORDER
                ws.cell(row, col).fill = FILL_SECTION
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
            lines = _lines(section.title, sum(GENERAL_WIDTHS.values()), bold=True)
            ws.row_dimensions[row].height = _height(lines, caps=section.title.isupper())
            row += 1
            fields = [f for f in section.fields if f.in_variant(self.variant.code)]
            for number, f in enumerate(fields, start=1):
                self._scalar_row(ws, row, number, f)
                row += 1
        return row, header

    def _scalar_row(self, ws: Any, row: int, number: int, f: Field) -> None:
        label = f.label + (" (*)" if f.required else "")
        note = self._note(f)
        _set(ws.cell(row, 1, number), FONT, None, CENTER, BORDER)
        _set(ws.cell(row, 2, label), FONT, None, WRAP, BORDER)
        _set(ws.cell(row, 3, f.unit or None), FONT, None, CENTER, BORDER)
        _set(ws.cell(row, 5, note or None), FONT_NOTE, None, WRAP, BORDER)
        coord = f"{INPUT_COLUMN}{row}"
        cell = ws[coord]
        cell.border = BORDER
        cell.number_format = _number_format(f)
        cell.alignment = WRAP_TOP if f.long else Alignment(vertical="center", wrap_text=True)
        value = self.prefill.get(f.prefill) if f.prefill else None
        if value is not None:
            cell.value = int(value) if f.type == "integer" and value.isdigit() else value
            cell.fill, cell.protection, cell.font = FILL_LOCKED, LOCKED, FONT_BOLD
        else:
            cell.fill, cell.protection, cell.font = FILL_INPUT, UNLOCKED, FONT
            dv = self._validation(f, self._scalar_choice_range(f), coord)
            ws.add_data_validation(dv)
            dv.add(coord)
        lines = max(
            _lines(label, GENERAL_WIDTHS["B"]),
            _lines(f.unit, GENERAL_WIDTHS["C"]),
            _lines(note, GENERAL_WIDTHS["E"], 11),
            LONG_TEXT_LINES if f.long else 1,
        )
        ws.row_dimensions[row].height = _height(lines)
        self.scalar_places[f.code] = _Place(ws.title, coord)
        self.wb.defined_names[f.code] = DefinedName(
            f.code, attr_text=self.scalar_places[f.code].ref
        )

    def _note(self, f: Field) -> str:
        """The notes column: schema help, or what the cell expects when there is none."""
        if f.prefill and f.prefill not in self.prefill:
            # Blank template: the schema's help speaks of the per-unit pre-fill.
            return {
                "unit_code": "Chọn mã đơn vị do Sở cấp trong danh sách thả xuống.",
                "unit_name": "Ghi đúng tên đơn vị theo danh mục của Sở.",
                "unit_type_label": "Chọn loại đơn vị trong danh sách thả xuống.",
                "area_name": "Chọn địa bàn trong danh sách thả xuống.",
            }.get(f.prefill, f.help)
        if f.prefill:
            return f.help or "Đã điền sẵn, không sửa."
        if f.help:
            return f.help
        if f.type == "yes_no":
            return "Chọn “Có” hoặc “Không”."
        if f.type == "choice":
            return "Chọn trong danh sách thả xuống."
        if f.type == "date":
            return "Dạng dd/mm/yyyy."
        if f.long:
            return f"Viết ngắn gọn, tối đa {LONG_TEXT_MAX_LEN} ký tự."
        return ""

    def _scalar_choice_range(self, f: Field) -> str | None:
        """Dropdown source for the unit-information cells a blank template leaves open."""
        if f.type == "choice" and f.choices:
            return self._choice_range(f.choices)
        if f.prefill == "unit_code":
            codes = sorted(
                u.code for u in self.registry.units.values() if u.type in self.variant.unit_types
            )
            return self._list_range("unit_code", "Mã đơn vị", codes)
        if f.prefill == "unit_type_label":
            labels = [self.schema.unit_type_label(t) for t in self.variant.unit_types]
            return self._list_range("unit_type", "Loại đơn vị", labels)
        if f.prefill == "area_name":
            names = sorted({a.name for a in self.registry.areas.values()})
            return self._list_range("area_name", "Địa bàn", names)
        return None

    def _layout_list(self, ws: Any, lst: ListSpec, row: int) -> tuple[int, int]:
        """Title, Vietnamese labels, then the table. Returns (next row, table header row)."""
        fields = [f for f in lst.fields if f.in_variant(self.variant.code)]
        self._widen(ws, "A", 5.5)
        for i, f in enumerate(fields, start=2):
            self._widen(ws, get_column_letter(i), _list_width(f, self.schema))
        last = len(fields) + 1
        if lst.fixed_field:
            fixed = self.schema.choices[lst.fixed_choices or ""]
            note = (
                f"Điền số liệu cho từng nhóm ({len(fixed)} dòng); cột "
                f"“{lst.field(lst.fixed_field).label}” đã điền sẵn. Ô để trống là chưa có số "
                "liệu; số liệu bằng 0 thì nhập 0."
            )
        else:
            note = (
                "Mỗi dòng một mục, nhập liên tục từ dòng đầu bảng, không để dòng trống xen giữa; "
                f"tối đa {lst.rows} dòng. Không chèn, xóa dòng hoặc cột trong bảng."
            )
        row = self._title_block(ws, row, last, lst.title, note) + 1
        labels_row, header = row, row + 1
        ws.cell(labels_row, 1, "STT")
        lines = 1
        for col, f in enumerate(fields, start=2):
            required = f.required and f.code != lst.fixed_field  # pre-filled: no marker
            text = f.label + (f" ({f.unit})" if f.unit else "") + (" (*)" if required else "")
            ws.cell(labels_row, col, text)
            lines = max(lines, _lines(text, _list_width(f, self.schema), bold=True))
            _set(ws.cell(header, col, f.code), FONT_CODE, None, CENTER, BORDER)
        for col in range(1, last + 1):
            _set(ws.cell(labels_row, col), FONT_BOLD, FILL_HEADER, CENTER, BORDER)
        ws.cell(header, 1).border = BORDER
        ws.row_dimensions[labels_row].height = _height(lines)
        ws.row_dimensions[header].height = 14
        first = header + 1
        if lst.fixed_field:
            fixed_labels = [c.label for c in self.schema.choices[lst.fixed_choices or ""]]
            count = len(fixed_labels)
        else:
            fixed_labels, count = [], lst.rows
        last_row = first + count - 1
        cols: dict[str, str] = {}
        for col, f in enumerate(fields, start=2):
            letter = get_column_letter(col)
            cols[f.code] = letter
            is_fixed = f.code == lst.fixed_field
            fmt = _number_format(f)
            for r in range(first, last_row + 1):
                cell = ws.cell(r, col)
                cell.border, cell.number_format = BORDER, fmt
                if is_fixed:
                    cell.value = fixed_labels[r - first]
                    cell.fill, cell.protection, cell.font = FILL_LOCKED, LOCKED, FONT_BOLD
                    cell.alignment = WRAP
                else:
                    cell.fill, cell.protection = FILL_INPUT, UNLOCKED
                    cell.alignment = WRAP_TOP if f.type == "text" else Alignment(vertical="top")
            if not is_fixed:
                choice = self._choice_range(f.choices) if f.type == "choice" and f.choices else None
                dv = self._validation(f, choice, f"{letter}{first}")
                ws.add_data_validation(dv)
                dv.add(f"{letter}{first}:{letter}{last_row}")
        for r in range(first, last_row + 1):
            cell = ws.cell(r, 1, r - first + 1)
            cell.font, cell.alignment, cell.border = FONT_SMALL, CENTER, BORDER
        if lst.fixed_field:
            for r in range(first, last_row + 1):
                text = fixed_labels[r - first]
                width = _list_width(lst.field(lst.fixed_field), self.schema)
                ws.row_dimensions[r].height = _height(_lines(text, width, bold=True))
        table = Table(
            displayName=lst.code,
            ref=f"B{header}:{get_column_letter(last)}{last_row}",
            tableStyleInfo=TableStyleInfo(
                name="TableStyleLight1", showRowStripes=False, showColumnStripes=False
            ),
        )
        ws.add_table(table)
        fields_by_code = {f.code: f for f in fields}
        self._tables[lst.code] = _TablePlace(ws, fields_by_code, cols, first, last_row)
        return last_row + 1, header

    def _rules(self) -> None:
        """Red fill, while typing, on cells breaking a simple comparison rule of the schema.

        Run after every sheet is laid out, since list rules may refer to scalars (``@name``).
        Rules naming a field this variant lacks, or a non-numeric one, are left to the validator.
        """
        for rule in self.schema.rules:
            cmp = self._simple(rule)
            if cmp is None:
                continue
            if rule.list is None:
                shown = self._scalar_rule(cmp)
            else:
                table = self._tables.get(rule.list)
                shown = table is not None and self._list_rule(cmp, table)
            if not shown:
                log.debug("rule %s not shown in the %s template", rule.code, self.variant.code)

    def _numeric_scalar(self, code: str) -> _Place | None:
        f = self.schema.field_map.get(code)
        return self.scalar_places.get(code) if f is not None and f.is_numeric else None

    def _scalar_rule(self, cmp: Comparison) -> bool:
        places = {n: self._numeric_scalar(n.lstrip("@")) for n in cmp.names}
        found = {n: p for n, p in places.items() if p is not None}
        if len(found) != len(places):
            return False
        for target in dict.fromkeys(found.values()):
            # Same-sheet references stay plain; other sheets need the sheet name.
            refs = {
                n: _abs(p.coord) if p.sheet == target.sheet else p.ref for n, p in found.items()
            }
            self.wb[target.sheet].conditional_formatting.add(
                target.coord, _error_rule(_violation_formula(cmp, refs))
            )
        return True

    def _list_rule(self, cmp: Comparison, table: _TablePlace) -> bool:
        refs: dict[str, str] = {}
        for name in cmp.names:
            if name.startswith("@"):
                place = self._numeric_scalar(name[1:])
                if place is None:
                    return False
                refs[name] = place.ref
            else:
                f = table.fields.get(name)
                if f is None or not f.is_numeric:
                    return False
                # Column fixed, row relative: Excel moves the formula down the table's rows.
                refs[name] = f"${table.cols[name]}{table.first}"
        formula = _violation_formula(cmp, refs)
        for name in dict.fromkeys(n for n in cmp.names if not n.startswith("@")):
            col = table.cols[name]
            table.ws.conditional_formatting.add(
                f"{col}{table.first}:{col}{table.last}", _error_rule(formula)
            )
        return True

    @staticmethod
    def _simple(rule: Rule) -> Comparison | None:
        # A part-of relation is a comparison by construction (every declared and implied pair
        # gets its red mark). Rules with `when` compare choice codes, which the sheet shows as
        # labels; those and `required` rules are left to the validator.
        if rule.relation is not None:
            return Comparison((rule.relation.part,), "<=", rule.relation.whole)
        if rule.check is None or rule.when is not None:
            return None
        return parse_comparison(rule.check)

    # ---------------------------------------------------------------- validation

    def _validation(self, f: Field, choice_range: str | None, anchor: str) -> DataValidation:
        """Validation for `f`; `anchor` is the top-left cell, which custom formulas refer to."""
        dv = _base_validation(f, choice_range, anchor)
        dv.showErrorMessage = True
        dv.showInputMessage = True
        dv.errorStyle = "stop"
        dv.allow_blank = True
        dv.promptTitle = _clip(f.label, 32)
        hint = _type_hint(f, self.schema) if choice_range is None or f.type == "choice" else ""
        if f.prefill and f.prefill not in self.prefill:
            hint = self._note(f)
        prompt = " ".join(p for p in (f.help if not f.prefill else "", hint) if p)
        dv.prompt = _clip(prompt or f.label, 255)
        dv.errorTitle = _clip(f.label, 32)
        if choice_range is not None and f.type != "choice":
            dv.error = "Chọn một giá trị trong danh sách thả xuống."
        return dv

    def _choice_range(self, choices: str) -> str:
        labels = [c.label for c in self.schema.choices[choices]]
        return self._list_range(f"choice:{choices}", choices, labels)

    def _list_range(self, key: str, heading: str, values: Sequence[str]) -> str:
        """Write `values` as a new column of the hidden lists sheet; return its range."""
        if key in self._list_ranges:
            return self._list_ranges[key]
        ws = self._lists_ws
        col = len(self._list_ranges) + 1
        letter = get_column_letter(col)
        ws.cell(1, col, heading).font = FONT_BOLD
        for i, value in enumerate(values, start=2):
            ws.cell(i, col, value)
        ws.column_dimensions[letter].width = min(60, max([12, *(len(v) + 2 for v in values)]))
        last = max(2, len(values) + 1)
        ref = f"{_sheet_ref(LISTS_SHEET)}!${letter}$2:${letter}${last}"
        self._list_ranges[key] = ref
        return ref

    def _finish_lists_sheet(self) -> None:
        ws = self._lists_ws
        ws.sheet_state = "hidden"
        if not self._list_ranges:
            ws["A1"] = "(không có danh sách)"

    # ---------------------------------------------------------------- other sheets

    def _instructions(self, ws: Any) -> None:
        ws.column_dimensions["A"].width = 6
        ws.column_dimensions["B"].width = 100
        s, year = self.settings, self.year
        deadline = s.deadline(year).strftime("%d/%m/%Y")
        sheet_names = ", ".join(f"“{sh.name}”" for sh in self.schema.sheets)
        list_names = ", ".join(
            f"“{self.schema.sheet_name(lst.sheet)}”" for lst in self.schema.lists
        )
        unit_line = (
            f"Đơn vị báo cáo: {self.prefill['unit_name']} (mã {self.prefill['unit_code']})."
            if self.per_unit
            else "Biểu mẫu trống: chọn mã đơn vị ở dòng đầu trang “"
            f"{self.schema.sheet_name(self.schema.sections[0].sheet)}” và ghi thông tin đơn vị."
        )
        rows: list[tuple[str, str]] = [
            ("title", "HƯỚNG DẪN ĐIỀN BIỂU MẪU BÁO CÁO"),
            ("subtitle", self.schema.title.format(year=year)),
            ("gap", ""),
            ("", f"Biểu mẫu dành cho: {self.variant.label}."),
            (
                "",
                f"Mã biểu mẫu: {self.variant.template_id}, phiên bản {self.schema.version}; "
                f"năm báo cáo: {year}.",
            ),
            ("", unit_line),
            ("gap", ""),
            ("head", "1. Thời hạn và nơi gửi"),
            ("-", f"Hạn gửi báo cáo: trước ngày {deadline}."),
            (
                "-",
                f"Gửi chính tệp Excel này (định dạng .xlsx) qua thư điện tử tới: "
                f"{s.submission_email}. Không chuyển sang PDF, không chụp ảnh, không đặt mật khẩu.",
            ),
            ("-", f"Đơn vị đầu mối của Sở: {s.advising_office}."),
            (
                "-",
                "Nếu cần sửa sau khi đã gửi, gửi lại cả tệp đã sửa; "
                "bản gửi sau cùng thay thế bản gửi trước.",
            ),
            ("gap", ""),
            ("head", "2. Cách điền"),
            ("-", f"Điền lần lượt các trang: {sheet_names}."),
            (
                "-",
                "Chỉ nhập vào các ô nền vàng. Các ô khác đã được khóa để tránh sửa nhầm; "
                "không cần mở khóa trang tính.",
            ),
            ("-", "Chỉ tiêu có dấu (*) là bắt buộc."),
            (
                "-",
                "Số liệu: chỉ nhập số, không kèm chữ hay đơn vị tính (ví dụ nhập 25, không nhập "
                "“25 người”). Số liệu bằng 0 thì nhập 0; ô để trống nghĩa là chưa có số liệu.",
            ),
            ("-", f"Ngày tháng: nhập dạng dd/mm/yyyy, ví dụ {deadline}."),
            (
                "-",
                "Ô có mũi tên thả xuống: chọn một giá trị trong danh sách (Có/Không, mức công "
                "nhận, ...). Khi nhập sai kiểu dữ liệu, chương trình báo lỗi và không nhận giá "
                "trị: sửa theo hướng dẫn trong thông báo.",
            ),
            (
                "-",
                f"Các bảng danh sách (trang {list_names}): mỗi dòng một mục, nhập liên tục từ "
                "dòng đầu bảng, không để dòng trống xen giữa.",
            ),
            (
                "-",
                "Khi chép số liệu từ tệp khác, dùng Dán đặc biệt > Giá trị (Paste Special > "
                "Values) để không làm mất định dạng và kiểm tra dữ liệu của ô.",
            ),
            ("gap", ""),
            ("head", "3. Không được"),
            ("-", "Không đổi tên, xóa, thêm, ẩn hay sắp xếp lại các trang tính."),
            (
                "-",
                "Không chèn, xóa dòng hoặc cột trong các bảng; không sửa dòng mã cột (chữ nhỏ "
                "màu xám) ngay trên mỗi bảng: chương trình tổng hợp dùng các mã này để đọc "
                "số liệu.",
            ),
            ("-", "Không gộp ô; không ghi chữ, ghi chú vào ô số liệu."),
            ("gap", ""),
            ("head", "4. Ý nghĩa màu sắc"),
            ("input", "Ô đơn vị nhập số liệu."),
            (
                "locked",
                "Ô đã điền sẵn (thông tin đơn vị theo danh mục của Sở, năm báo cáo), đã khóa. "
                "Nếu thông tin sai, báo cho Sở; không sửa trong tệp.",
            ),
            ("header", "Tiêu đề cột, tên mục: không sửa."),
            (
                "error",
                "Ô chuyển nền đỏ khi số liệu mâu thuẫn (ví dụ số được công nhận lớn hơn số đăng "
                "ký, hoặc lớn hơn tổng số): kiểm tra lại trước khi gửi.",
            ),
        ]
        samples = {
            "input": FILL_INPUT,
            "locked": FILL_LOCKED,
            "header": FILL_HEADER,
            "error": _fill(COLOUR_ERROR_FILL),
        }
        for r, (kind, text) in enumerate(rows, start=1):
            a, b = ws.cell(r, 1), ws.cell(r, 2, text or None)
            lines = _lines(text, 100)
            if kind in ("title", "subtitle"):
                font = FONT_TITLE if kind == "title" else FONT_BOLD
                b.value = None
                _set(a, font, None, CENTER).value = text
                ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
                size = 13 if kind == "title" else BASE_SIZE
                lines = _lines(text, 106, size, bold=True)
                ws.row_dimensions[r].height = _height(lines, size, caps=text.isupper())
                continue
            else:
                _set(b, FONT_BOLD if kind == "head" else FONT, None, WRAP)
            if kind == "-":
                _set(a, None, None, Alignment(horizontal="right", vertical="center")).value = "–"
            elif kind in samples:
                _set(a, None, samples[kind], None, BORDER)
            ws.row_dimensions[r].height = _height(lines) if kind != "gap" else 8
        self._page_setup(ws, landscape=False)

    def _meta(self, ws: Any) -> None:
        values = {
            "template_id": self.variant.template_id,
            "template_version": self.schema.version,
            "schema_id": self.schema.id,
            "report_year": str(self.year),
            "unit_code": self.prefill.get("unit_code", ""),
        }
        for r, key in enumerate(META_KEYS, start=1):
            ws.cell(r, 1, key)
            # Text, not numbers: "1.0" and "2026" must read back exactly as written.
            cell = ws.cell(r, 2, values.get(key, "") or None)
            cell.number_format = "@"
        ws.column_dimensions["A"].width = 20
        ws.column_dimensions["B"].width = 30
        ws.sheet_state = "hidden"

    # ---------------------------------------------------------------- helpers

    def _widen(self, ws: Any, col: str, width: float) -> None:
        # A sheet may hold sections and lists; each column gets the widest width asked for.
        key = (ws.title, col)
        self._widths[key] = max(self._widths.get(key, 0.0), width)
        ws.column_dimensions[col].width = self._widths[key]

    @staticmethod
    def _protect(ws: Any) -> None:
        """Protect without a password; users may still resize, sort and filter."""
        p = ws.protection
        p.sheet = True
        p.formatColumns = False
        p.formatRows = False
        p.sort = False
        p.autoFilter = False
        p.selectLockedCells = False
        p.selectUnlockedCells = False

    @staticmethod
    def _page_setup(ws: Any, landscape: bool) -> None:
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        # The footer needs room inside the bottom margin, or LibreOffice cuts the page number.
        ws.page_margins = PageMargins(
            left=0.5, right=0.5, top=0.6, bottom=0.75, header=0.3, footer=0.3
        )
        ws.print_options.horizontalCentered = True
        # No font or size code: Gnumeric prints them as text (and a page number needs neither).
        ws.oddFooter.center.text = "Trang &P/&N"
        # Only the footer that is used: openpyxl would also write the five empty others, which
        # Gnumeric reports as unexpected elements.
        for part in ("oddHeader", "evenHeader", "evenFooter", "firstHeader", "firstFooter"):
            setattr(ws.HeaderFooter, part, None)


def _number_format(f: Field) -> str:
    if f.type == "integer":
        # Years (bounds within 1900-2100) without a thousands separator: 2026, not 2.026.
        yearish = f.min is not None and f.max is not None and 1900 <= f.min <= f.max <= 2100
        return "0" if yearish else "#,##0"
    if f.type == "money":
        return "#,##0"
    if f.type == "decimal":
        return "#,##0.00"
    if f.type == "percent":
        return "0.0"
    if f.type == "date":
        return "dd/mm/yyyy"
    # Text format keeps phone numbers' leading zero and stops "12/3" turning into a date.
    return "@"


def _list_width(f: Field, schema: ReportSchema) -> float:
    if f.type == "text":
        return 50.0 if f.long else 30.0
    if f.type == "choice" and f.choices:
        longest = max(len(c.label) for c in schema.choices[f.choices])
        return float(min(38, max(14, longest + 3)))
    if f.type == "date":
        return 14.0
    return 15.0


def _type_hint(f: Field, schema: ReportSchema) -> str:
    if f.type == "integer":
        return _integer_error(f)[1]
    if f.type in ("decimal", "money", "percent"):
        return _decimal_error(f)
    if f.type == "yes_no":
        return "Chọn “Có” hoặc “Không” trong danh sách thả xuống."
    if f.type == "choice" and f.choices:
        labels = "; ".join(c.label for c in schema.choices[f.choices])
        return f"Chọn trong danh sách: {labels}."
    if f.type == "date":
        return "Nhập ngày dạng dd/mm/yyyy."
    if f.pattern == "email":
        return "Nhập một địa chỉ thư điện tử."
    return f"Tối đa {LONG_TEXT_MAX_LEN if f.long else TEXT_MAX_LEN} ký tự."


def _integer_error(f: Field) -> tuple[float, str]:
    lo = f.min if f.min is not None else 0.0
    if f.max is not None:
        return lo, f"Chỉ nhập số nguyên từ {_num(lo)} đến {_num(f.max)}."
    if lo == 0:
        return lo, "Chỉ nhập số nguyên không âm, không kèm chữ hay đơn vị tính."
    return lo, f"Chỉ nhập số nguyên từ {_num(lo)} trở lên."


def _decimal_error(f: Field) -> str:
    lo = f.min if f.min is not None else 0.0
    if f.type == "percent":
        hi = f.max if f.max is not None else 100.0
        return f"Chỉ nhập số từ {_num(lo)} đến {_num(hi)} (tỉ lệ %, không gõ dấu %)."
    unit = f" (đơn vị: {f.unit})" if f.unit else ""
    if f.max is not None:
        return f"Chỉ nhập số từ {_num(lo)} đến {_num(f.max)}{unit}, không kèm chữ."
    if lo == 0:
        return f"Chỉ nhập số không âm{unit}, không kèm chữ."
    return f"Chỉ nhập số từ {_num(lo)} trở lên{unit}, không kèm chữ."


def _base_validation(f: Field, choice_range: str | None, anchor: str) -> DataValidation:
    """The Excel data validation for a field's type (messages added by the caller)."""
    if choice_range is not None:
        return DataValidation(
            type="list",
            formula1=choice_range,
            error=f"Chọn một giá trị trong danh sách thả xuống ({f.label}).",
        )
    if f.type == "integer":
        lo, error = _integer_error(f)
        if f.max is not None:
            return DataValidation(
                type="whole",
                operator="between",
                formula1=_formula_num(lo),
                formula2=_formula_num(f.max),
                error=error,
            )
        return DataValidation(
            type="whole", operator="greaterThanOrEqual", formula1=_formula_num(lo), error=error
        )
    if f.type in ("decimal", "money", "percent"):
        lo = f.min if f.min is not None else 0.0
        hi = f.max if f.max is not None else (100.0 if f.type == "percent" else None)
        if hi is not None:
            return DataValidation(
                type="decimal",
                operator="between",
                formula1=_formula_num(lo),
                formula2=_formula_num(hi),
                error=_decimal_error(f),
            )
        return DataValidation(
            type="decimal",
            operator="greaterThanOrEqual",
            formula1=_formula_num(lo),
            error=_decimal_error(f),
        )
    if f.type == "yes_no":
        return DataValidation(
            type="list",
            formula1='"' + ",".join(YES_NO_LABELS) + '"',
            error="Chọn “Có” hoặc “Không” trong danh sách thả xuống.",
        )
    if f.type == "date":
        return DataValidation(
            type="date",
            operator="between",
            formula1=str(int(to_excel(DATE_MIN))),
            formula2=str(int(to_excel(DATE_MAX))),
            error="Nhập ngày dạng dd/mm/yyyy, ví dụ 05/12/2026.",
        )
    limit = LONG_TEXT_MAX_LEN if f.long else TEXT_MAX_LEN
    if f.pattern == "email":
        # Not a full address check (the validator does that): catches a name or phone number
        # typed in the wrong cell. Relative reference: Excel shifts it over the whole range.
        return DataValidation(
            type="custom",
            formula1=f'AND(LEN({anchor})<={limit},ISNUMBER(FIND("@",{anchor})))',
            error="Nhập một địa chỉ thư điện tử, ví dụ ten@truong.edu.vn.",
        )
    return DataValidation(
        type="textLength",
        operator="lessThanOrEqual",
        formula1=str(limit),
        error=f"Nội dung dài tối đa {limit} ký tự; viết ngắn gọn lại.",
    )


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class WrittenTemplate:
    """One file written by :func:`write_all`."""

    path: Path
    variant: str
    unit_code: str | None = None


def unit_prefill(schema: ReportSchema, registry: Registry, unit: Unit) -> dict[str, str]:
    """The registry values a per-unit template pre-fills, by prefill source (year apart)."""
    area = registry.areas.get(unit.area_code)
    return {
        "unit_code": unit.code,
        "unit_name": unit.name,
        "unit_type_label": schema.unit_type_label(unit.type),
        "area_name": area.name if area else unit.area_code,
    }


def build_template(
    schemas: ReportSchema,
    variant: str,
    year: int,
    settings: Settings,
    registry: Registry,
    unit: Unit | None = None,
) -> Workbook:
    """Build the template of `variant` for `year`: blank, or pre-filled for `unit`.

    The returned workbook is unsaved; use :func:`template_bytes` or :func:`write_template` to
    get the deterministic package.
    """
    v = schemas.variant(variant)
    if unit is not None and unit.type not in v.unit_types:
        raise ValueError(f"unit {unit.code} ({unit.type}) does not use variant {variant}")
    prefill = unit_prefill(schemas, registry, unit) if unit is not None else None
    _check_year(schemas, year)
    return _Builder(schemas, v, year, settings, registry, prefill).build()


def template_bytes(wb: Workbook) -> bytes:
    """Save `wb` as .xlsx bytes that depend only on its content (dates pinned, zip stamped)."""
    buf = io.BytesIO()
    wb.save(buf)
    created = wb.properties.created or dt.datetime(1980, 1, 1)
    with zipfile.ZipFile(buf) as zf:
        parts = [(name, zf.read(name)) for name in zf.namelist()]
    parts = [
        (name, _base_font_first(data) if name == "xl/styles.xml" else data) for name, data in parts
    ]
    return repack(zip_parts(parts, created), created)


def template_filename(schemas: ReportSchema, variant: str, year: int, unit: Unit | None) -> str:
    """``bieu-mau-truong-2026.xlsx`` or ``THPT-Q01-01_truong-thpt-le-quy-don_2026.xlsx``."""
    if unit is None:
        return f"{schemas.variant(variant).file_stem}-{year}.xlsx"
    return unit_file_name(unit, year)


def unit_file_name(unit: Unit, year: int) -> str:
    """A unit's own template file name: code, ASCII slug of the name, year."""
    return f"{file_name_code(unit.code)}_{slugify(unit.name)}_{year}.xlsx"


def write_template(
    schemas: ReportSchema,
    variant: str,
    year: int,
    settings: Settings,
    registry: Registry,
    unit: Unit | None = None,
    *,
    path: Path,
) -> Path:
    """Write one template to `path` (a folder gets the standard file name); return the file."""
    if path.is_dir():
        path = path / template_filename(schemas, variant, year, unit)
    if unit is None:
        data = template_bytes(build_template(schemas, variant, year, settings, registry))
    else:
        if unit.type not in schemas.variant(variant).unit_types:
            raise ValueError(f"unit {unit.code} ({unit.type}) does not use variant {variant}")
        # Same route as write_all, so a unit's file is identical however it was made.
        stamper = _UnitStamper.for_variant(schemas, variant, year, settings, registry)
        data = stamper.stamp(unit_prefill(schemas, registry, unit))
    _write(path, data)
    return path


def write_all(
    schemas: ReportSchema,
    year: int,
    settings: Settings,
    registry: Registry,
    output_dir: Path,
    *,
    per_unit: bool = False,
    unit_codes: Iterable[str] | None = None,
) -> list[WrittenTemplate]:
    """Write the blank template of every variant, or (`per_unit`) one per registry unit.

    `unit_codes` restricts the per-unit run to those units (and implies it); an unknown code
    is a RegistryError naming it. Units whose type no variant covers are skipped with a
    warning.
    """
    _check_year(schemas, year)
    _mkdir(output_dir)
    codes = list(dict.fromkeys(unit_codes or ()))
    written: list[WrittenTemplate] = []
    if not per_unit and not codes:
        for v in schemas.variants:
            path = write_template(
                schemas,
                v.code,
                year,
                settings,
                registry,
                path=output_dir / template_filename(schemas, v.code, year, None),
            )
            log.info("wrote %s", path)
            written.append(WrittenTemplate(path, v.code))
        return written
    found = {c: registry.find(c) for c in codes}
    unknown = [c for c, u in found.items() if u is None]
    if unknown:
        raise RegistryError(f"Mã đơn vị không có trong danh mục đơn vị: {', '.join(unknown)}.")
    units = (
        list(dict.fromkeys(u for u in found.values() if u is not None))
        if codes
        else list(registry.units.values())
    )
    by_variant: dict[str, list[Unit]] = {}
    for unit in units:
        try:
            by_variant.setdefault(schemas.variant_for_unit_type(unit.type).code, []).append(unit)
        except KeyError:
            log.warning("unit %s: no template variant for type %s", unit.code, unit.type)
    for v in schemas.variants:
        if v.code not in by_variant:
            continue
        stamper = _UnitStamper.for_variant(schemas, v.code, year, settings, registry)
        for unit in by_variant[v.code]:
            path = output_dir / template_filename(schemas, v.code, year, unit)
            _write(path, stamper.stamp(unit_prefill(schemas, registry, unit)))
            log.debug("wrote %s", path)
            written.append(WrittenTemplate(path, v.code, unit.code))
        log.info("variant %s: %d per-unit templates", v.code, len(by_variant[v.code]))
    return written


def slugify(text: str, max_len: int = 60) -> str:
    """ASCII file-name slug: "Trường THPT Lê Quý Đôn" → "truong-thpt-le-quy-don"."""
    text = nfc(text).replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] if "-" in slug[:max_len] else slug[:max_len]
    return slug or "don-vi"


# --------------------------------------------------------------------------- packaging


class _UnitStamper:
    """A variant's per-unit package with placeholder tokens, stamped with each unit's values."""

    def __init__(self, package: bytes, stamp_time: dt.datetime) -> None:
        self.stamp_time = stamp_time
        self.tokens = _TOKENS
        self.parts: list[tuple[str, bytes | str]] = []
        with zipfile.ZipFile(io.BytesIO(package)) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                has_token = any(t.encode() in data for t in self.tokens.values())
                self.parts.append((name, data.decode("utf-8") if has_token else data))

    @classmethod
    def for_variant(
        cls, schemas: ReportSchema, variant: str, year: int, settings: Settings, registry: Registry
    ) -> _UnitStamper:
        builder = _Builder(schemas, schemas.variant(variant), year, settings, registry, _TOKENS)
        wb = builder.build()
        return cls(template_bytes(wb), wb.properties.created)

    def stamp(self, values: Mapping[str, str]) -> bytes:
        def fill(text: str) -> bytes:
            for src, token in self.tokens.items():
                value = _XML_ILLEGAL.sub("", nfc(values.get(src, "")))
                text = text.replace(token, escape(value))
            return text.encode("utf-8")

        return zip_parts(
            ((name, fill(data) if isinstance(data, str) else data) for name, data in self.parts),
            self.stamp_time,
        )


def _check_year(schemas: ReportSchema, year: int) -> None:
    for f in schemas.fields:
        if f.prefill == "year" and (
            (f.min is not None and year < f.min) or (f.max is not None and year > f.max)
        ):
            log.warning("year %d is outside the %s field's range", year, f.code)


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Không tạo được thư mục {path}: {exc.strerror or exc}.") from exc


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise OutputError(
            f"Không ghi được tệp {path}: {exc.strerror or exc}. "
            "Nếu tệp đang mở trong Excel, đóng tệp rồi chạy lại."
        ) from exc
