"""The draft narrative report (.docx) that goes with the consolidated workbook.

What the Director signs and sends to UBND thành phố and Bộ GDĐT is a written report with the
workbook as its annex. This module drafts it from the same run, so the specialist only adds
the judgement: every figure is read from the run's aggregates (or, for criteria and
reporting compliance, from the very tables Biểu 04 and Biểu 09 are drawn from) and nothing is
recomputed another way. Sentences are built for every value, zero and "no data" included; a
comparison with last year is written only when last year's aggregates are given.

Layout after Nghị định 30/2020/NĐ-CP: A4, margins 20/20/30/15 mm, Times New Roman 13 pt,
the issuing-body and national-motto blocks, number and date left for the clerk, page numbers
in the header from page 2, "Nơi nhận" and the signature block at the end.

The bytes depend on the input only: document properties are pinned to the report year and
the package is re-zipped with fixed timestamps (pipeline.ooxml), so the manifest's hash of
the draft changes only when its content does.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor

from pipeline import rates
from pipeline.aggregate import unknown_text
from pipeline.charts import chart_specs
from pipeline.errors import SettingsError
from pipeline.evaluate import FAIL, PASS, UNKNOWN, format_number
from pipeline.export import write_bytes
from pipeline.ooxml import insert_in_order, repack
from pipeline.rates import pct_text
from pipeline.run import RunResult
from pipeline.schema import nfc

log = logging.getLogger(__name__)

NARRATIVE_NAME = "du-thao-bao-cao-xhht-{year}.docx"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "narrative.yaml"
FONT = "Times New Roman"
BODY_PT = 13
TITLE_PT = 14
SPECIALIST_MARK = "[Chuyên viên viết"
"""Every passage left for the specialist starts with this, highlighted, so none is missed."""
WORD_2013_MODE = "15"
"""w:compatibilityMode of Word 2013 and every later Word (2016, 2019, 2021, 365)."""
DATE_BLANK = "……"
"""What the clerk fills in: the day and month of signing (the number is in settings)."""
CHARTS = (
    ("sang-kien-theo-cap", "initiatives"),
    ("ty-le-cong-dan-hoc-tap-theo-nhom", "citizens"),
    ("don-vi-hoc-tap-theo-muc", "learning_units"),
)
"""PNG charts embedded (file stem, the section they illustrate)."""
CHART_WIDTH = Cm(14)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Theme:
    code: str
    label: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class NarrativeConfig:
    """config/narrative.yaml: the opening basis, the themes, a few limits."""

    basis: str
    themes: tuple[Theme, ...]
    other_label: str
    max_units_named: int = 4
    max_quote_chars: int = 300
    max_missing_named: int = 10


def load_narrative_config(path: Path = DEFAULT_CONFIG) -> NarrativeConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"Không tìm thấy tệp cài đặt {path}.") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"Tệp {path.name} không đọc được: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"Tệp {path.name} phải là một bảng khóa: giá trị.")
    try:
        themes = tuple(
            Theme(
                str(t["code"]),
                nfc(str(t["label"])),
                tuple(nfc(str(k)) for k in t["keywords"]),
            )
            for t in data.get("themes") or []
        )
        return NarrativeConfig(
            basis=nfc(" ".join(str(data["basis"]).split())),
            themes=themes,
            other_label=nfc(str(data.get("other_label", "các nội dung khác"))),
            max_units_named=int(data.get("max_units_named", 4)),
            max_quote_chars=int(data.get("max_quote_chars", 300)),
            max_missing_named=int(data.get("max_missing_named", 10)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"Tệp {path.name} thiếu hoặc sai mục: {exc}") from exc


# --------------------------------------------------------------------------- grouping


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BULLET = re.compile(r"^\s*(?:[-+•*–]|\d{1,2}[.)]|[a-zđ]\))\s*")


def clean(text: object) -> str:
    """Text a unit typed, safe for a Word document (NFC, no control characters)."""
    return _XML_ILLEGAL.sub("", nfc(str(text))).strip()


def fold(text: str) -> str:
    """Lower case without diacritics, single spaces: "Kinh Phí" and "kinh phi" compare equal."""
    text = nfc(text).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


def split_points(text: str) -> list[str]:
    """The separate points in a unit's free text: one per line, list markers removed."""
    points = []
    for line in clean(text).splitlines():
        line = " ".join(_BULLET.sub("", line).split())
        if line:
            points.append(line)
    return points


def theme_of(point: str, themes: Sequence[Theme]) -> Theme | None:
    """The first theme one of whose keywords occurs (as whole words) in the point."""
    folded = fold(point)
    for theme, pattern in _theme_patterns(tuple(themes)):
        if pattern.search(folded):
            return theme
    return None


@functools.lru_cache(maxsize=8)
def _theme_patterns(themes: tuple[Theme, ...]) -> list[tuple[Theme, re.Pattern[str]]]:
    """One pattern per theme, any of its folded keywords as whole words: a report groups
    a few thousand points, and folding and compiling every keyword for each was most of
    the draft's time."""
    return [
        (
            theme,
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(fold(k)) for k in theme.keywords) + r")(?!\w)"
            ),
        )
        for theme in themes
        if theme.keywords
    ]


@dataclass(frozen=True)
class Quote:
    text: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class ThemeGroup:
    label: str
    quotes: tuple[Quote, ...]

    @property
    def units(self) -> tuple[str, ...]:
        """Distinct units with at least one point in the group, in order of appearance."""
        return tuple(dict.fromkeys(u for q in self.quotes for u in q.units))


def group_texts(entries: Iterable[tuple[str, str]], config: NarrativeConfig) -> list[ThemeGroup]:
    """Group (unit name, free text) by theme; the same point from several units is one quote.

    Keyword matching is all there is to it: the report says which theme a point was put in
    and quotes it word for word, so a reader can always see why.
    """
    order = [*config.themes, None]
    buckets: dict[str | None, dict[str, tuple[str, list[str]]]] = {
        (t.code if t else None): {} for t in order
    }
    for unit, text in entries:
        for point in split_points(text):
            theme = theme_of(point, config.themes)
            bucket = buckets[theme.code if theme else None]
            key = fold(point).rstrip(" .;,")
            _, units = bucket.setdefault(key, (point, []))
            if unit not in units:
                units.append(unit)
    groups = []
    for t in order:
        bucket = buckets[t.code if t else None]
        if not bucket:
            continue
        quotes = sorted(
            (Quote(text, tuple(units)) for text, units in bucket.values()),
            key=lambda q: -len(q.units),
        )
        groups.append(ThemeGroup(t.label if t else config.other_label, tuple(quotes)))
    return groups


# --------------------------------------------------------------------------- figures


def previous_aggregates(output_root: Path, year: int) -> pd.DataFrame | None:
    """Last year's aggregates (output/<year-1>/data/aggregates.csv), or None when absent."""
    path = output_root / str(year - 1) / "data" / "aggregates.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype={"key": str, "field": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("previous aggregates %s unreadable: %s", path, exc)
        return None
    if not {"level", "key", "field", "value"} <= set(frame.columns):
        log.warning("previous aggregates %s: unexpected columns", path)
        return None
    return frame


def city_series(aggs: pd.DataFrame | None, city_key: str) -> pd.Series | None:
    """City-level field → value; a renamed city still matches when there is one city row set."""
    if aggs is None or aggs.empty:
        return None
    city = aggs[aggs["level"] == "city"]
    if city_key in set(city["key"]):
        city = city[city["key"] == city_key]
    elif city["key"].nunique() != 1:
        return None
    values = pd.to_numeric(city["value"], errors="coerce")
    return pd.Series(values.to_numpy(dtype="float64"), index=list(city["field"]))


def count_text(value: float) -> str:
    """1.234 (Vietnamese thousands separator); decimals keep a comma."""
    return format_number(value)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: Sequence[str], last: str = " và ") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + last + items[-1]


@dataclass(frozen=True)
class Clause:
    """One figure in a sentence: what to say when it is positive, and when it is zero."""

    key: str
    positive: str
    """Template with {n} for the figure (and its comparison with last year)."""
    zero: str | None
    """What to say for 0; None leaves the clause out."""
    unit: str = ""


class Figures:
    """The figures the text may use, current and previous year, with their wording."""

    def __init__(self, result: RunResult, previous: pd.DataFrame | None) -> None:
        self.result = result
        self.year = result.year
        self.cur = city_series(result.aggregates, result.city_key)
        self.prev = city_series(previous, result.city_key)
        aggs = result.aggregates
        by_type = aggs[(aggs["level"] == "unit_type") & (aggs["field"] == "units")]
        self.units_by_type = {
            str(k): float(v) for k, v in zip(by_type["key"], by_type["value"], strict=True)
        }

    def get(self, key: str) -> float | None:
        return _value(self.cur, key)

    def before(self, key: str) -> float | None:
        return _value(self.prev, key)

    def n(self, key: str) -> float:
        return self.get(key) or 0.0

    def versus(self, key: str, show: Callable[[float], str] = count_text, unit: str = "") -> str:
        """The change from last year after a figure (docs/dac-ta-tieu-chi.md, mục 7):
        ", tăng 12 hoạt động so với năm 2025 (năm 2025: 600 hoạt động)", ", bằng năm 2025",
        ", chưa có số liệu năm trước"; empty without last year's results. A rate (`show` is
        `pct_text`) changes by the difference of the two rates as shown, in points."""
        if self.prev is None:
            return ""
        cur, prev = self.get(key), self.before(key)
        if cur is None:
            return ""
        before = self.year - 1
        if prev is None:
            return ", chưa có số liệu năm trước"
        if show(cur) == show(prev):
            return f", bằng năm {before}"
        suffix = f" {unit}" if unit else ""
        if show is pct_text:
            change = rates.shown_change(cur, prev)
            by = rates.points_text(change)
        else:
            change = cur - prev
            by = count_text(abs(change)) + suffix
        word = "tăng" if change > 0 else "giảm"
        return f", {word} {by} so với năm {before} (năm {before}: {show(prev)}{suffix})"

    def then(self, key: str, show: Callable[[float], str] = count_text) -> str:
        """ "; năm 2025: 70%" inside an item's parentheses; empty without history."""
        prev = self.before(key)
        return "" if prev is None else f"; năm {self.year - 1}: {show(prev)}"

    def clause(self, c: Clause) -> str | None:
        """The clause's text, or None when there is no figure (or a zero to leave out)."""
        value = self.get(c.key)
        if value is None:
            return None
        if value == 0:
            return c.zero
        figure = count_text(value) + (f" {c.unit}" if c.unit else "")
        return c.positive.format(n=figure) + self.versus(c.key, unit=c.unit)

    def units_did(self, key: str, verb: str, total: float) -> str | None:
        """ "79/106 đơn vị đã <verb>", "tất cả 106 đơn vị …", "chưa có đơn vị nào <verb>"."""
        value = self.get(key)
        if value is None or total <= 0:
            return None
        trend = self.versus(key, unit="đơn vị")
        if value == 0:
            return f"chưa có đơn vị nào {verb}{trend}"
        if value >= total:
            return f"tất cả {count_text(total)} đơn vị có báo cáo đều đã {verb}{trend}"
        return f"{count_text(value)}/{count_text(total)} đơn vị đã {verb}{trend}"


def _value(series: pd.Series | None, key: str) -> float | None:
    if series is None:
        return None
    value = series.get(key)
    if value is None or pd.isna(value):
        return None
    return float(value)


# --------------------------------------------------------------------------- docx helpers


def _set_fonts(rpr: Any, name: str = FONT) -> None:
    """All four font slots (Latin, complex, East Asian), theme fonts removed: they win."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = insert_in_order(rpr, OxmlElement("w:rFonts"))
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:cstheme", "w:eastAsiaTheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _rule(paragraph: Any, indent_cm: float) -> None:
    """A short horizontal line under a block: a bottom border on an indented empty line."""
    fmt = paragraph.paragraph_format
    fmt.left_indent = fmt.right_indent = Cm(indent_cm)
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.first_line_indent = Cm(0)
    fmt.line_spacing = Pt(2)
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(k), v)
    borders.append(bottom)
    insert_in_order(ppr, borders)


def _no_borders(table: Any) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    insert_in_order(tbl_pr, borders)


def _grid_borders(table: Any) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        for k, v in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", "000000")):
            el.set(qn(k), v)
        borders.append(el)
    insert_in_order(tbl_pr, borders)


def _widths(table: Any, cms: Sequence[float]) -> None:
    """Column widths that LibreOffice honours too: the grid and every cell."""
    table.autofit = False
    for column, cm in zip(table.columns, cms, strict=True):
        column.width = Cm(cm)
        for cell in column.cells:
            cell.width = Cm(cm)


def _page_field(paragraph: Any) -> None:
    """A PAGE field (the page number) in `paragraph`."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _word_2013_package(doc: Any) -> None:
    """Make python-docx's default template (a Word 2010 file) a current Word document.

    Its settings say compatibility mode 14, so Word 2013 and later open the draft under a
    "Compatibility Mode" bar with the 2010 layout rules; its thumbnail is a picture of an
    empty page that Windows Explorer and Outlook would show as the draft's preview; and its
    stylesWithEffects part (Word 2010's copy of the styles) no longer matches styles.xml
    once the styles are edited, which Word may treat as unreadable content.
    """
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rid]
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            doc.part.drop_rel(rid)
    settings = doc.settings.element
    for preview in settings.findall(qn("w:savePreviewPicture")):
        settings.remove(preview)  # would make Word write a thumbnail again on save
    for setting in settings.iter(qn("w:compatSetting")):
        if setting.get(qn("w:name")) == "compatibilityMode":
            setting.set(qn("w:val"), WORD_2013_MODE)


class Writer:
    """A python-docx Document set up after NĐ 30/2020, with the few paragraph kinds we use."""

    def __init__(self) -> None:
        self.doc = Document()
        _word_2013_package(self.doc)
        self._styles()
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin = section.bottom_margin = Mm(20)
        section.left_margin, section.right_margin = Mm(30), Mm(15)
        section.header_distance = section.footer_distance = Mm(10)
        # Page numbers centred in the header, not on the first page (NĐ 30/2020, Phụ lục I).
        section.different_first_page_header_footer = True
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _page_field(header)

    def _styles(self) -> None:
        styles = self.doc.styles
        normal = styles["Normal"]
        normal.font.name = FONT
        normal.font.size = Pt(BODY_PT)
        normal_rpr = normal.element.get_or_add_rPr()
        _set_fonts(normal_rpr)
        # The template says en-US: Word would spell-check every Vietnamese word as English.
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), "vi-VN")
        insert_in_order(normal_rpr, lang)
        fmt = normal.paragraph_format
        fmt.space_before, fmt.space_after = Pt(0), Pt(6)
        fmt.line_spacing = 1.0
        for name, size in (("Heading 1", BODY_PT), ("Heading 2", BODY_PT)):
            style = styles[name]
            style.font.name = FONT
            style.font.size = Pt(size)
            style.font.bold = True
            style.font.italic = False
            style.font.color.rgb = RGBColor(0, 0, 0)
            _set_fonts(style.element.get_or_add_rPr())
            f = style.paragraph_format
            f.space_before, f.space_after = Pt(6), Pt(6)
            f.keep_with_next = True
            f.first_line_indent = Cm(1)
            f.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        for name in ("Header", "Footer"):
            if name in styles:
                styles[name].font.name = FONT
                _set_fonts(styles[name].element.get_or_add_rPr())

    def para(
        self,
        text: str = "",
        *,
        lead: str = "",
        bold: bool = False,
        italic: bool = False,
        size: float = BODY_PT,
        align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent: bool = True,
        container: Any = None,
        after: float = 6,
        highlight: bool = False,
        verbatim: bool = False,
    ) -> Any:
        """A body paragraph; `lead` is a bold run before the text.

        Two asides in a row, "(48/106 đơn vị) (tăng so với năm 2025: 36%)", read as one:
        "(48/106 đơn vị; tăng so với năm 2025: 36%)". Text quoting what units wrote (or
        their names) is `verbatim` and left as it is.
        """
        if not verbatim:
            text = text.replace(") (", "; ")
        p = (container or self.doc).add_paragraph()
        p.alignment = align
        fmt = p.paragraph_format
        fmt.first_line_indent = Cm(1) if indent else Cm(0)
        fmt.space_after = Pt(after)
        if lead:
            r = p.add_run(lead)
            r.bold = True
            r.font.size = Pt(size)
        if text:
            r = p.add_run(text)
            r.bold, r.italic = bold, italic
            r.font.size = Pt(size)
            if highlight:
                r.font.highlight_color = WD_COLOR_INDEX.YELLOW
        return p

    def heading(self, text: str, level: int = 1) -> None:
        self.doc.add_paragraph(text, style=f"Heading {level}")

    def to_write(self, hint: str) -> None:
        """A passage for the specialist: marked, highlighted, impossible to overlook."""
        self.para(f"{SPECIALIST_MARK}: {hint}]", italic=True, highlight=True)

    def picture(self, png: bytes, caption: str) -> None:
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Cm(0)
        p.paragraph_format.keep_with_next = True
        p.add_run().add_picture(io.BytesIO(png), width=CHART_WIDTH)
        self.para(caption, italic=True, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> Any:
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _widths(table, widths)
        _grid_borders(table)
        for r, values in enumerate([header, *rows]):
            cells = table.rows[r].cells
            for c, value in enumerate(values):
                cell = cells[c]
                p = cell.paragraphs[0]
                p.paragraph_format.first_line_indent = Cm(0)
                p.paragraph_format.space_after = Pt(2)
                p.alignment = (
                    WD_ALIGN_PARAGRAPH.CENTER if r == 0 or c != 1 else WD_ALIGN_PARAGRAPH.LEFT
                )
                run = p.add_run(value)
                run.font.size = Pt(12)
                run.bold = r == 0
        # The header row repeats on each page.
        tr_pr = table.rows[0]._tr.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        tr_pr.append(repeat)
        return table

    def save(self, when: dt.datetime) -> bytes:
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return repack(buffer.getvalue(), when)


# --------------------------------------------------------------------------- the report


class Narrative:
    """Builds the draft report from a run (and, optionally, last year's aggregates)."""

    def __init__(
        self,
        result: RunResult,
        previous: pd.DataFrame | None,
        charts: Mapping[str, bytes],
        config: NarrativeConfig,
    ) -> None:
        self.r = result
        self.fig = Figures(result, previous)
        self.charts = charts
        self.config = config
        self.report = result.schemas.report
        self.w = Writer()
        self.units = self.fig.n("units")
        self.figure_no = 0

    # -- helpers

    def sentence(self, parts: Sequence[str | None], tail: str = "") -> str | None:
        """Clauses joined by semicolons into one sentence; None when there is nothing to say."""
        kept = [p for p in parts if p]
        if not kept:
            return None
        return _cap("; ".join(kept)) + tail + "."

    def say(self, parts: Sequence[str | None], tail: str = "", empty: str | None = None) -> None:
        text = self.sentence(parts, tail)
        if text is None:
            text = empty
        if text:
            self.w.para(text)

    def no_data(self) -> None:
        self.w.para("Chưa có số liệu do chưa có báo cáo hợp lệ của đơn vị được tổng hợp.")

    def label(self, code: str) -> str:
        f = self.report.field_map.get(code)
        return f.label if f is not None else code

    def chart(self, section: str) -> None:
        for stem, where in CHARTS:
            if where != section or stem not in self.charts:
                continue
            spec = next((s for s in chart_specs(self.r) if s.key == stem), None)
            title = spec.title if spec else ""
            self.figure_no += 1
            self.w.picture(self.charts[stem], f"Hình {self.figure_no}. {title} (Biểu 10)")

    # -- document

    def build(self) -> bytes:
        r, s = self.r, self.r.settings
        when = dt.datetime(r.year, 12, 31)
        props = self.w.doc.core_properties
        props.title = self.title()
        props.subject = "Dự thảo báo cáo kèm Báo cáo tổng hợp (Biểu 01 - Biểu 12)"
        props.author = s.issuing_body
        props.last_modified_by = s.issuing_body_short
        props.category = "Báo cáo"
        props.keywords = "xã hội học tập, học tập suốt đời, thi đua"
        props.comments = "Dự thảo tạo tự động từ số liệu tổng hợp; chuyên viên hoàn thiện."
        props.created = props.modified = props.last_printed = when
        props.revision = 1
        self.letterhead()
        self.w.para(self.config.basis.format(year=r.year))
        self.sources()
        self.organisation()
        self.contents()
        self.criteria_and_rewards()
        self.compliance()
        self.texts("V. KHÓ KHĂN, VƯỚNG MẮC CỦA CÁC ĐƠN VỊ", "difficulties", "khó khăn, hạn chế")
        self.texts("VI. ĐỀ XUẤT, KIẾN NGHỊ CỦA CÁC ĐƠN VỊ", "proposals", "đề xuất, kiến nghị")
        self.specialist()
        self.closing()
        return self.w.save(when)

    def title(self) -> str:
        return (
            "Kết quả thực hiện Phong trào thi đua “Cả nước thi đua xây dựng xã hội học tập, "
            f"đẩy mạnh học tập suốt đời” năm {self.r.year}"
        )

    def letterhead(self) -> None:
        s, w = self.r.settings, self.w
        table = w.doc.add_table(rows=1, cols=2)
        table.autofit = False
        _no_borders(table)
        left, right = table.rows[0].cells
        _widths(table, (7.3, 9.4))
        center = WD_ALIGN_PARAGRAPH.CENTER

        def line(cell: Any, text: str, **kw: Any) -> Any:
            p = w.para(text, container=cell, align=center, indent=False, after=0, **kw)
            return p

        left.paragraphs[0]._p.getparent().remove(left.paragraphs[0]._p)
        right.paragraphs[0]._p.getparent().remove(right.paragraphs[0]._p)
        line(left, s.issuing_parent.upper(), size=13)
        line(left, s.issuing_body.upper(), bold=True, size=13)
        _rule(left.add_paragraph(), 1.9)
        line(left, f"Số: {s.report_number}", size=13).paragraph_format.space_before = Pt(6)
        line(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12)
        line(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=13)
        _rule(right.add_paragraph(), 2.0)
        line(
            right,
            f"{s.place}, ngày {DATE_BLANK} tháng {DATE_BLANK} năm {self.r.year}",
            italic=True,
            size=13,
        ).paragraph_format.space_before = Pt(6)
        p = w.para("BÁO CÁO", bold=True, size=TITLE_PT, align=center, indent=False, after=0)
        p.paragraph_format.space_before = Pt(18)
        w.para(self.title(), bold=True, size=TITLE_PT, align=center, indent=False, after=0)
        _rule(w.doc.add_paragraph(), 6.5)
        w.para("", after=6)

    def sources(self) -> None:
        r, fig = self.r, self.fig
        expected = float(r.reporting_rate["expected"].sum()) if len(r.reporting_rate) else 0.0
        if self.units:
            text = (
                f"Báo cáo tổng hợp từ báo cáo của {count_text(self.units)} đơn vị"
                + (
                    f" (trên tổng số {count_text(expected)} đơn vị phải báo cáo theo danh mục"
                    " của Sở)"
                    if expected
                    else ""
                )
                + "; số liệu chi tiết tại Báo cáo tổng hợp kèm theo (Biểu 01 đến Biểu 12). "
                "Số liệu đơn vị báo cáo sai hoặc thiếu không được tính (Biểu 11)."
            )
        else:
            text = (
                "Đến thời điểm tổng hợp, Sở chưa nhận được báo cáo hợp lệ nào của các đơn vị; "
                "tình hình gửi báo cáo tại mục IV và Biểu 09."
            )
        if fig.prev is not None:
            prev_units = fig.before("units")
            text += (
                f" Số liệu năm {r.year - 1} dùng để so sánh lấy từ kết quả tổng hợp "
                f"năm {r.year - 1}"
                + (f" ({count_text(prev_units)} đơn vị có báo cáo)." if prev_units else ".")
            )
        self.w.para(text)

    # -- I

    def organisation(self) -> None:
        fig, w = self.fig, self.w
        w.heading("I. CÔNG TÁC TỔ CHỨC, CHỈ ĐẠO")
        if not self.units:
            self.no_data()
            return
        self.say(
            [
                fig.units_did(
                    "steering_committee", "thành lập Ban Chỉ đạo Phong trào thi đua", self.units
                ),
                fig.units_did(
                    "annual_plan",
                    f"ban hành kế hoạch thực hiện Phong trào thi đua năm {self.r.year}",
                    self.units,
                ),
            ],
            tail=" (Biểu 01, mục II)",
        )
        area_types = self.area_unit_types()
        n_area = sum(fig.units_by_type.get(t, 0.0) for t in area_types)
        if n_area:
            names = "; ".join(self.report.unit_type_label(t) for t in area_types)
            clauses = [
                fig.clause(
                    Clause(
                        "documents_advised",
                        "đã tham mưu {n} cho Ủy ban nhân dân cấp khu vực ban hành, thực hiện "
                        "chính sách thúc đẩy khuyến học, khuyến tài, học tập suốt đời",
                        "chưa tham mưu văn bản nào cho Ủy ban nhân dân cấp khu vực về khuyến "
                        "học, khuyến tài, học tập suốt đời",
                        "văn bản",
                    )
                ),
                fig.clause(
                    Clause(
                        "inspections",
                        "thực hiện {n} kiểm tra, giám sát tại cơ sở giáo dục",
                        "chưa thực hiện lượt kiểm tra, giám sát nào tại cơ sở giáo dục",
                        "lượt",
                    )
                ),
            ]
            kept = [c for c in clauses if c]
            if kept:
                w.para(
                    f"Các đơn vị cấp khu vực ({names}; {count_text(n_area)} đơn vị có báo cáo) "
                    + "; ".join(kept)
                    + "."
                )

    def area_unit_types(self) -> list[str]:
        """Unit types of the template variant that reports documents advised (area offices)."""
        f = self.report.field_map.get("documents_advised")
        codes = f.variants if f is not None and f.variants else ()
        types: list[str] = []
        for v in self.report.variants:
            if v.code in codes:
                types.extend(v.unit_types)
        return types

    # -- II

    def contents(self) -> None:
        self.w.heading("II. KẾT QUẢ THỰC HIỆN CÁC NỘI DUNG CỦA PHONG TRÀO THI ĐUA")
        sections: list[tuple[str, Callable[[], None]]] = [
            (
                "1. Tuyên truyền, nâng cao nhận thức về học tập suốt đời, xây dựng xã hội học tập",
                self.awareness,
            ),
            ("2. Sáng kiến, giải pháp thực hiện Phong trào thi đua", self.initiatives),
            (
                "3. Xây dựng mô hình “Công dân học tập”; nâng cao năng lực số và năng lực "
                "ngoại ngữ",
                self.citizens,
            ),
            ("4. Xây dựng “Đơn vị học tập”", self.learning_units),
            ("5. Học liệu số, kho học liệu mở phục vụ tự học và học tập suốt đời", self.resources),
            (
                "6. Hỗ trợ người học, cán bộ, giáo viên, nhân viên có hoàn cảnh khó khăn; "
                "công tác khuyến học",
                self.support,
            ),
            (
                "7. Học tập suốt đời ngoài nhà trường, trong gia đình và cộng đồng",
                self.beyond_school,
            ),
            (
                "8. Tiếp cận kinh nghiệm quốc tế, tham gia mạng lưới thành phố học tập",
                self.international,
            ),
        ]
        for title, body in sections:
            self.w.heading(title, 2)
            if not self.units:
                self.no_data()
                continue
            body()

    def awareness(self) -> None:
        fig = self.fig
        events = fig.clause(
            Clause(
                "campaign_events",
                "các đơn vị đã tổ chức {n}, sự kiện tuyên truyền",
                "các đơn vị chưa tổ chức hoạt động, sự kiện tuyên truyền nào",
                "hoạt động",
            )
        )
        people = fig.clause(
            Clause("campaign_participants", "thu hút {n} tham gia", None, "lượt người")
        )
        news = fig.clause(
            Clause(
                "news_items",
                "đăng {n} trên cổng thông tin điện tử, mạng xã hội",
                "chưa có tin, bài nào được đăng trên cổng thông tin điện tử, mạng xã hội",
                "tin, bài",
            )
        )
        first = events
        if events and people and fig.n("campaign_events"):
            first = f"{events}, {people}"
        self.say([first, news], empty="Các đơn vị chưa báo cáo số liệu về công tác tuyên truyền.")
        self.say(
            [
                fig.units_did(
                    "lifelong_learning_week",
                    "tổ chức, tham gia Tuần lễ hưởng ứng học tập suốt đời",
                    self.units,
                )
            ],
            tail=(
                " (Biểu 01, mục II; số hoạt động tuyên truyền theo địa bàn tại Biểu 02, "
                "theo đơn vị tại Biểu 03)"
            ),
        )

    def initiatives(self) -> None:
        fig = self.fig
        total = fig.get("initiatives_count")
        if not total:
            self.w.para("Trong năm, các đơn vị chưa báo cáo sáng kiến, giải pháp nào.")
            return
        field = self.report.list_map["initiatives"].field("level")
        levels = sorted(self.report.choices[field.choices or ""], key=lambda c: -c.rank)
        recognised = fig.n("initiatives_effective")
        parts = []
        unrecognised = ""
        for c in levels:
            v = fig.n(f"initiatives.level.{c.code}")
            if c.code == "not_recognised":
                if v:
                    unrecognised = f"; {count_text(v)} sáng kiến chưa được công nhận"
                continue
            if v:
                parts.append(f"{count_text(v)} sáng kiến {_lower_first(c.label)}")
        # Rows with a blank (or wrong) level: no recognition, said apart (Biểu 01, mục IV).
        unassigned = total - sum(fig.n(f"initiatives.level.{c.code}") for c in levels)
        if unassigned > 0:
            unrecognised += (
                f"; {count_text(unassigned)} sáng kiến chưa ghi hoặc ghi sai cấp công nhận"
                " (không tính là được công nhận)"
            )
        text = f"Các đơn vị báo cáo {count_text(total)} sáng kiến, giải pháp" + fig.versus(
            "initiatives_count", unit="sáng kiến"
        )
        if recognised:
            text += (
                f", trong đó {count_text(recognised)} sáng kiến đã được công nhận"
                + fig.versus("initiatives_effective", unit="sáng kiến")
                + (f" ({_join(parts)})" if parts else "")
            )
        else:
            text += ", trong đó chưa có sáng kiến nào được công nhận"
        self.w.para(
            text + unrecognised + " (số liệu theo cấp tại Biểu 01, mục IV; danh sách tại Biểu 06)."
        )
        self.chart("initiatives")

    def citizens(self) -> None:
        fig = self.fig
        people = self.report.list_map["people"]
        groups = self.report.choices[people.fixed_choices or ""] if people.fixed_choices else ()
        members, learners = fig.get("members_total"), fig.get("learners_total")
        if members is None and learners is None:
            self.w.para(
                "Các đơn vị chưa báo cáo số liệu về cán bộ, giáo viên, nhân viên và học sinh."
            )
            return
        have = []
        if members:
            have.append(f"{count_text(members)} cán bộ, giáo viên, nhân viên")
        if learners:
            have.append(f"{count_text(learners)} học sinh, học viên")
        if have:
            self.w.para(f"Các đơn vị có báo cáo có {_join(have)}.")
        self.target("cdht_members", "người")
        for f in people.fields:
            if not f.is_numeric or f.code == "total":
                continue
            items = []
            measures = self.r.measures
            for g in groups:
                v = fig.get(f"people.{g.code}.{f.code}")
                name = _lower_first(g.label)
                # docs/dac-ta-tieu-chi.md 8.5: blank is unknown, never "no one"; 0 is "no
                # one" only where every unit with the group reported the figure.
                col, total_col = f"people.{g.code}.{f.code}", f"people.{g.code}.total"
                unknown = 0
                if col in measures.columns and total_col in measures.columns:
                    unknown = int((measures[total_col].notna() & measures[col].isna()).sum())
                if v is None:
                    if fig.get(total_col) is not None:
                        items.append(f"{name} chưa có số liệu")
                    continue
                if v == 0:
                    items.append(
                        f"{name} chưa có người nào"
                        + (
                            f" ở các đơn vị có số liệu ({count_text(unknown)} đơn vị chưa có "
                            "số liệu)"
                            if unknown
                            else ""
                        )
                    )
                    continue
                rate_key = f"people.{g.code}.{f.code}_rate"
                rate = fig.get(rate_key)
                inside = pct_text(rate) + fig.then(rate_key, pct_text) if rate is not None else ""
                num, den = fig.get(f"{rate_key}.numerator"), fig.get(f"{rate_key}.denominator")
                whole = fig.get(f"people.{g.code}.total")
                if inside and num is not None and den is not None and (num, den) != (v, whole):
                    # docs/dac-ta-tieu-chi.md 8.4: the rate's own base, when it is not the
                    # figures the reader sees (some units gave only one of the two numbers).
                    inside += (
                        f", tính trên {count_text(num)}/{count_text(den)} người ở các đơn vị "
                        "có đủ hai số"
                    )
                items.append(f"{name} {count_text(v)} người" + (f" ({inside})" if inside else ""))
            if items:
                self.w.para("; ".join(items) + ".", lead=f"- {f.label}: ")
        self.w.para(
            "Số liệu theo nhóm tại Biểu 01 (mục I, III); tỷ lệ theo địa bàn tại Biểu 02, theo "
            "đơn vị tại Biểu 03."
        )
        self.chart("citizens")

    def target(self, code: str, unit: str) -> None:
        """The city rate of a target against its milestone, as on Biểu 01."""
        rows = self.r.targets[self.r.targets["code"] == code]
        if rows.empty:
            return
        t = rows.iloc[0]
        rate = _num(t["rate"])
        label = str(t["label"])
        if rate is None:
            self.w.para(f"Chưa đủ số liệu để tính {_lower_first(label)}.")
            return
        num, den = _num(t["numerator"]), _num(t["denominator"])
        text = f"{label} đạt {pct_text(rate)}"
        if num is not None and den is not None:
            unknown = unknown_text(t["unknown"]) if "unknown" in t else ""
            text += f" ({count_text(num)}/{count_text(den)} {unit}"
            text += f"; {unknown})" if unknown else ")"
        text += self.fig.versus(f"target.{code}", pct_text)
        target, year = _num(t["target"]), _num(t["milestone_year"])
        if target is not None and year is not None:
            # The verdict Biểu 01 shows ("met"), for the target in force that year.
            verdict = "đạt" if bool(t["met"]) else "chưa đạt"
            text += f", {verdict} chỉ tiêu {pct_text(target)} đến năm {int(year)}"
            if t["source"]:
                text += f" (căn cứ: {t['source']})"
        self.w.para(text + ".")

    def learning_units(self) -> None:
        fig, report = self.fig, self.report
        self.say([fig.units_did("ldu_registered", "đăng ký xây dựng “Đơn vị học tập”", self.units)])
        recognised = fig.get("ldu_recognised")
        if recognised is not None:
            if recognised == 0:
                self.w.para("Chưa có đơn vị nào được công nhận “Đơn vị học tập” (Biểu 05).")
            else:
                field = report.field_map["ldu_recognised_level"]
                levels = sorted(report.choices[field.choices or ""], key=lambda c: -c.rank)
                # Only recognitions still valid this year: the derived metrics per level.
                parts = [
                    f"{count_text(v)} đơn vị {c.label}"
                    for c in levels
                    if c.code != "none" and (v := fig.n(f"ldu_recognised_{c.code}"))
                ]
                self.w.para(
                    f"Có {count_text(recognised)} đơn vị được công nhận “Đơn vị học tập” còn "
                    "hiệu lực"
                    + (f" ({_join(parts)})" if parts else "")
                    + fig.versus("ldu_recognised", unit="đơn vị")
                    + " (Biểu 01, mục II; từng đơn vị tại Biểu 05)."
                )
        ldu = self.r.learning_unit
        lapsed = int((ldu["recognition"] == "lapsed").sum()) if len(ldu) else 0
        if lapsed:
            validity = self.r.schemas.criteria.learning_unit_levels.validity_years
            self.w.para(
                f"Có {count_text(lapsed)} đơn vị ghi được công nhận “Đơn vị học tập” từ năm "
                f"{self.r.year - validity} trở về trước; công nhận có giá trị "
                f"{count_text(validity)} năm kể từ quyết định nên đã hết hiệu lực; các đơn vị "
                "này không được tính là “Đơn vị học tập” trong năm và cần được đánh giá, công "
                "nhận lại (Biểu 05)."
            )
        self.target("ldu_units", "đơn vị")
        flagged = int(self.r.learning_unit["flagged"].sum()) if len(self.r.learning_unit) else 0
        if flagged:
            self.w.para(
                f"Có {count_text(flagged)} đơn vị ghi mức “Đơn vị học tập” cao hơn mức mà số liệu "
                "báo cáo đáp ứng theo Thông tư 24/2023/TT-BGDĐT; cần rà soát trước khi xét "
                "công nhận (các dòng tô màu tại Biểu 05)."
            )
        total = fig.get("institutions_total")
        if total:
            institutions = [
                fig.clause(
                    Clause(
                        "institutions_registered",
                        "{n} đã đăng ký xây dựng “Đơn vị học tập”",
                        "chưa có cơ sở nào đăng ký xây dựng “Đơn vị học tập”",
                        "cơ sở",
                    )
                ),
                fig.clause(
                    Clause(
                        "institutions_recognised",
                        "{n} được công nhận",
                        "chưa có cơ sở nào được công nhận",
                        "cơ sở",
                    )
                ),
            ]
            kept = [p for p in institutions if p]
            self.w.para(
                f"Trên địa bàn các đơn vị cấp khu vực có báo cáo có {count_text(total)} cơ sở "
                "giáo dục"
                + fig.versus("institutions_total", unit="cơ sở")
                + ("; " + "; ".join(kept) if kept else "")
                + " (Biểu 01, mục II)."
            )
        self.chart("learning_units")

    def resources(self) -> None:
        fig = self.fig
        self.say(
            [fig.units_did("own_repository", "xây dựng kho học liệu số của đơn vị", self.units)]
        )
        kinds = [
            ("res_elearning", "bài giảng điện tử E-learning"),
            ("res_videos", "video bài giảng"),
            ("res_question_banks", "ngân hàng câu hỏi"),
            ("res_other", "học liệu số khác"),
        ]
        built = []
        reported = False
        for key, noun in kinds:
            v = fig.get(key)
            if v is None:
                continue
            reported = True
            if v:
                built.append(f"{count_text(v)} {noun}" + fig.versus(key))
        shared = fig.clause(
            Clause(
                "res_shared",
                "chia sẻ {n} lên kho học liệu mở dùng chung",
                "chưa chia sẻ học liệu nào lên kho học liệu mở dùng chung",
                "học liệu",
            )
        )
        first = None
        if built:
            first = "các đơn vị đã xây dựng " + _join(built)
        elif reported:
            first = "các đơn vị chưa báo cáo học liệu số nào đã xây dựng"
        self.say(
            [first, shared],
            tail=" (số học liệu chia sẻ tại Biểu 01, mục II)" if shared else "",
            empty="Các đơn vị chưa báo cáo số liệu về học liệu số.",
        )

    def support(self) -> None:
        fig = self.fig
        learners = fig.clause(
            Clause("supported_learners", "đã hỗ trợ {n} học sinh, học viên", None, "")
        )
        staff = fig.clause(Clause("supported_staff", "{n} giáo viên, nhân viên", None, ""))
        helped = [x for x in (learners, staff) if x]
        first = None
        if helped:
            first = (
                ("đã hỗ trợ " if not learners else "")
                + " và ".join(helped)
                + " có hoàn cảnh khó khăn"
            )
            disabled = fig.get("supported_disabled")
            if disabled:
                first += f" (trong đó có {count_text(disabled)} người khuyết tật)"
        elif fig.get("supported_learners") == 0 or fig.get("supported_staff") == 0:
            first = "chưa báo cáo trường hợp có hoàn cảnh khó khăn nào được hỗ trợ"
        first = f"các đơn vị {first}" if first else None
        scholarships = fig.clause(
            Clause("scholarships", "trao {n} học bổng", "chưa trao suất học bổng nào", "suất")
        )
        funds = fig.clause(
            Clause(
                "funds_mobilised",
                "vận động được {n} cho công tác khuyến học, khuyến tài",
                "chưa vận động được kinh phí cho công tác khuyến học, khuyến tài",
                "đồng",
            )
        )
        self.say(
            [first, scholarships, funds],
            tail=" (Biểu 01, mục II; kinh phí vận động theo địa bàn tại Biểu 02)",
            empty="Các đơn vị chưa báo cáo số liệu về hỗ trợ người học và khuyến học.",
        )

    def beyond_school(self) -> None:
        fig = self.fig
        self.say(
            [
                fig.clause(
                    Clause(
                        "cultural_activities",
                        "các đơn vị đã tổ chức {n} học tập với thư viện, bảo tàng, "
                        "trung tâm văn hóa",
                        "các đơn vị chưa tổ chức hoạt động học tập nào với thư viện, bảo tàng, "
                        "trung tâm văn hóa",
                        "hoạt động",
                    )
                ),
                fig.clause(
                    Clause(
                        "learning_families",
                        "{n} cán bộ, giáo viên được công nhận “Gia đình học tập”",
                        "chưa có gia đình cán bộ, giáo viên nào được công nhận “Gia đình học tập”",
                        "gia đình",
                    )
                ),
            ],
            tail=" (số gia đình học tập tại Biểu 01, mục II)"
            if fig.get("learning_families")
            else "",
            empty="Các đơn vị chưa báo cáo số liệu về học tập suốt đời ngoài nhà trường.",
        )

    def international(self) -> None:
        self.say(
            [
                self.fig.clause(
                    Clause(
                        "international_activities",
                        "các đơn vị đã tổ chức, tham gia {n} quốc tế về học tập suốt đời",
                        "chưa có đơn vị nào báo cáo hoạt động quốc tế về học tập suốt đời",
                        "hoạt động",
                    )
                )
            ],
            empty="Các đơn vị chưa báo cáo số liệu về hoạt động quốc tế.",
        )

    # -- III

    def criteria_and_rewards(self) -> None:
        w, r = self.w, self.r
        w.heading("III. ĐÁNH GIÁ THEO TIÊU CHÍ THI ĐUA VÀ ĐỀ NGHỊ KHEN THƯỞNG")
        w.heading("1. Kết quả đánh giá các đơn vị theo tiêu chí thi đua (Kế hoạch mục III.1)", 2)
        crit = r.criteria
        if crit.empty:
            self.no_data()
        else:
            counts = crit.groupby(["criterion", "status"]).size()
            rows = []
            weakest: tuple[float, str, int, int] | None = None
            for c in r.schemas.criteria.criteria:
                applicable = int(counts.get(c.code, pd.Series(dtype=int)).sum())
                if not applicable:
                    continue
                got = {s: int(counts.get((c.code, s), 0)) for s in (PASS, FAIL, UNKNOWN)}
                rows.append(
                    [c.code, c.label, count_text(applicable)]
                    + [count_text(got[s]) for s in (PASS, FAIL, UNKNOWN)]
                )
                share = got[PASS] / applicable
                if got[PASS] < applicable and (weakest is None or share < weakest[0]):
                    weakest = (share, c.code, got[PASS], applicable)
            w.para(
                f"Kết quả đánh giá {count_text(self.units)} đơn vị có báo cáo theo các tiêu chí "
                "thi đua (số đơn vị; chi tiết từng đơn vị và lý do tại Biểu 04):"
            )
            w.table(
                ["Mã", "Tiêu chí", "Số đơn vị áp dụng", "Đạt", "Không đạt", "Chưa đủ số liệu"],
                rows,
                [1.2, 8.3, 2.0, 1.5, 1.7, 1.8],
            )
            w.para("", after=0)
            per_unit = (
                crit.assign(passed=crit["status"] == PASS).groupby("unit_code")["passed"].all()
            )
            all_pass = int(per_unit.sum())
            if all_pass == 0:
                text = "Chưa có đơn vị nào đạt tất cả các tiêu chí áp dụng cho đơn vị mình"
            elif all_pass == len(per_unit):
                text = (
                    f"Tất cả {count_text(all_pass)} đơn vị được đánh giá đều đạt các tiêu chí "
                    "áp dụng cho đơn vị mình"
                )
            else:
                text = (
                    f"Có {count_text(all_pass)}/{count_text(len(per_unit))} đơn vị đạt tất cả "
                    "các tiêu chí áp dụng cho đơn vị mình"
                )
            if weakest is not None:
                label = next(c.label for c in r.schemas.criteria.criteria if c.code == weakest[1])
                text += (
                    f". Tiêu chí có tỷ lệ đơn vị đạt thấp nhất là tiêu chí {weakest[1]} - "
                    f"{_lower_first(label)} ({count_text(weakest[2])}/{count_text(weakest[3])} "
                    "đơn vị đạt)"
                )
            w.para(text + ".")
        w.heading("2. Khen thưởng", 2)
        if not self.units:
            self.no_data()
            return
        self.awards()
        self.nominations()

    def awards(self) -> None:
        fig = self.fig
        given = [
            fig.clause(Clause("awards_collective", "{n}", None, "tập thể")),
            fig.clause(Clause("awards_individual", "{n}", None, "cá nhân")),
        ]
        kept = [g for g in given if g]
        if kept:
            self.w.para(
                "Trong năm, các đơn vị đã khen thưởng theo thẩm quyền "
                + " và ".join(kept)
                + " có thành tích tiêu biểu trong thực hiện Phong trào thi đua."
            )
        elif fig.get("awards_collective") is not None or fig.get("awards_individual") is not None:
            self.w.para(
                "Trong năm, các đơn vị chưa báo cáo trường hợp khen thưởng nào theo thẩm quyền."
            )

    def nominations(self) -> None:
        fig, report = self.fig, self.report
        total = fig.get("nominations_count")
        lst = report.list_map["nominations"]
        if not total:
            self.w.para("Các đơn vị chưa gửi đề nghị khen thưởng nào.")
            return
        kind = lst.field("nominee_kind")
        kinds = [
            f"{count_text(v)} {_lower_first(c.label)}"
            for c in report.choices[kind.choices or ""]
            if (v := fig.n(f"nominations.nominee_kind.{c.code}"))
        ]
        form = lst.field("proposed_form")
        forms = [
            f"{count_text(v)} {c.label}"
            for c in sorted(report.choices[form.choices or ""], key=lambda c: -c.rank)
            if (v := fig.n(f"nominations.proposed_form.{c.code}"))
        ]
        text = f"Các đơn vị đề nghị khen thưởng {count_text(total)} trường hợp"
        if kinds:
            text += f" ({_join(kinds, ', ')})"
        text += fig.versus("nominations_count", unit="trường hợp")
        if forms:
            text += ", gồm: " + "; ".join(forms)
        duplicates = sum(
            1 for i in self.r.issues if i.code in ("duplicate-nominee", "duplicate-nominee-in-file")
        )
        text += " (Biểu 01, mục V, VI; danh sách tại Biểu 07)."
        self.w.para(text)
        if duplicates:
            self.w.para(
                "Một số đề nghị trùng tên giữa các đơn vị hoặc trong cùng báo cáo đã được đánh "
                "dấu tại Biểu 07 để các đơn vị thống nhất trước khi xét."
            )

    # -- IV

    def compliance(self) -> None:
        r, w = self.r, self.w
        w.heading("IV. TÌNH HÌNH GỬI BÁO CÁO CỦA CÁC ĐƠN VỊ")
        rates = r.reporting_rate
        expected = int(rates["expected"].sum()) if len(rates) else 0
        on_time = int(rates["on_time"].sum()) if len(rates) else 0
        late = int(rates["late"].sum()) if len(rates) else 0
        missing = int(rates["missing"].sum()) if len(rates) else 0
        # Units whose only files were rejected have not reported, nor are they "missing".
        rejected = int(rates["rejected"].sum()) if "rejected" in rates and len(rates) else 0
        sent = on_time + late
        deadline = r.settings.deadline(r.year).strftime("%d/%m/%Y")
        if not expected:
            w.para("Danh mục đơn vị của Sở chưa có đơn vị nào phải báo cáo.")
            return
        text = (
            f"Theo danh mục đơn vị của Sở, có {count_text(expected)} đơn vị phải báo cáo, hạn "
            f"gửi ngày {deadline} (Kế hoạch mục VII.4). "
        )
        refused = (
            f"{count_text(rejected)} đơn vị chỉ gửi tệp bị từ chối, chưa được tổng hợp (Biểu 09)"
            if rejected
            else ""
        )
        if sent == 0:
            text += (
                f"Chưa có báo cáo nào được tổng hợp; {refused}."
                if refused
                else "Chưa có đơn vị nào gửi báo cáo."
            )
        else:
            text += (
                f"Đã có {count_text(sent)} đơn vị gửi báo cáo (tỷ lệ {pct_text(sent / expected)})"
            )
            if late == 0:
                text += ", tất cả đều gửi đúng hạn"
            elif on_time == 0:
                text += ", tất cả đều gửi sau hạn"
            else:
                text += (
                    f", trong đó {count_text(on_time)} đơn vị gửi đúng hạn, "
                    f"{count_text(late)} đơn vị gửi muộn"
                )
            rest = [refused] if refused else []
            if missing:
                rest.append(f"còn {count_text(missing)} đơn vị chưa gửi báo cáo")
            text += "; " + "; ".join(rest) + "." if rest else "; tất cả các đơn vị đã gửi báo cáo."
        w.para(text)
        if missing:
            names = list(r.tracking.loc[r.tracking["status"] == "missing", "unit_name"])
            if len(names) <= self.config.max_missing_named:
                w.para(
                    f"Các đơn vị chưa gửi báo cáo: {', '.join(clean(n) for n in names)} "
                    "(Biểu 09, mục II).",
                    verbatim=True,
                )
            else:
                w.para(
                    "Danh sách đơn vị chưa gửi báo cáo, kèm địa chỉ thư điện tử, tại Biểu 09 "
                    "(mục II)."
                )
        counts = r.counts()
        files = len(r.submissions)
        errors = sum(1 for i in r.issues if i.severity == "error")
        warnings = sum(1 for i in r.issues if i.severity == "warning")
        if files:
            parts = []
            if counts["rejected"]:
                parts.append(f"{count_text(counts['rejected'])} tệp bị từ chối")
            if counts["superseded"]:
                parts.append(
                    f"{count_text(counts['superseded'])} tệp được thay thế bằng bản gửi sau"
                )
            text = (
                f"Sở đã nhận {count_text(files)} tệp báo cáo"
                + (f", trong đó {' và '.join(parts)}" if parts else ", tất cả đều được tổng hợp")
                + " (danh sách tệp và lý do tại Biểu 12). "
            )
            if errors or warnings:
                found = [
                    f"{count_text(x)} {label}"
                    for x, label in ((errors, "lỗi"), (warnings, "cảnh báo"))
                    if x
                ]
                text += (
                    f"Kiểm tra số liệu phát hiện {' và '.join(found)}; số liệu lỗi không được "
                    "tổng hợp, đơn vị được thông báo để sửa và gửi lại (Biểu 11)."
                )
            else:
                text += "Kiểm tra số liệu không phát hiện lỗi hay cảnh báo nào."
            w.para(text)

    # -- V, VI

    def texts(self, heading: str, field: str, what: str) -> None:
        w = self.w
        w.heading(heading)
        if field not in self.r.units.columns or not self.units:
            w.para(f"Chưa có ý kiến {what} của đơn vị được tổng hợp.")
            return
        units = self.r.units.copy()
        rank = {c.code: i for i, c in enumerate(self.report.unit_types)}
        units["_rank"] = units["unit_type"].map(rank).fillna(99)
        units = units.sort_values(["area_code", "_rank", "unit_code"], kind="stable")
        entries = [
            (clean(u.unit_name), str(text))
            for u, text in zip(units.itertuples(index=False), units[field], strict=True)
            if isinstance(text, str) and text.strip()
        ]
        if not entries:
            w.para(f"Các đơn vị không nêu {what}.")
            return
        groups = group_texts(entries, self.config)
        w.para(
            f"Tổng hợp từ {count_text(len(entries))} báo cáo có nêu {what} (nguyên văn tại "
            "Biểu 08), nhóm theo nội dung:"
        )
        for i, g in enumerate(groups):
            letter = "abcdefghiklmnopqrstuvxy"[i % 23]
            w.para(
                f"{letter}) Về {g.label} ({count_text(len(g.units))} đơn vị):",
                bold=True,
            )
            for q in g.quotes:
                w.para(f"- “{self.quote(q.text)}” ({self.who(q.units)}).", verbatim=True)

    def quote(self, text: str) -> str:
        limit = self.config.max_quote_chars
        if len(text) <= limit:
            return text
        cut = text[:limit].rsplit(" ", 1)[0]
        return cut.rstrip(" ,;.") + " …"

    def who(self, units: Sequence[str]) -> str:
        limit = max(1, self.config.max_units_named)
        if len(units) <= limit:
            return _join(list(units))
        return f"{', '.join(units[:limit])} và {count_text(len(units) - limit)} đơn vị khác"

    # -- VII, VIII, IX

    def specialist(self) -> None:
        w, year = self.w, self.r.year
        w.heading("VII. ĐÁNH GIÁ CHUNG")
        w.heading("1. Ưu điểm", 2)
        w.to_write("những kết quả nổi bật, mô hình, cách làm hay trong năm")
        w.heading("2. Hạn chế và nguyên nhân", 2)
        w.to_write("hạn chế, nguyên nhân chủ quan và khách quan")
        w.heading(f"VIII. PHƯƠNG HƯỚNG, NHIỆM VỤ NĂM {year + 1}")
        w.to_write(f"nhiệm vụ trọng tâm, chỉ tiêu và giải pháp năm {year + 1}")
        w.heading("IX. ĐỀ XUẤT, KIẾN NGHỊ")
        w.to_write(
            "đề xuất, kiến nghị của Sở với Ủy ban nhân dân thành phố và Bộ Giáo dục và Đào tạo"
        )

    def closing(self) -> None:
        s, w = self.r.settings, self.w
        w.para(
            "Trên đây là báo cáo kết quả thực hiện Phong trào thi đua “Cả nước thi đua xây dựng "
            "xã hội học tập, đẩy mạnh học tập suốt đời” năm "
            f"{self.r.year} của Sở Giáo dục và Đào tạo./."
        )
        w.para("", after=0)
        table = w.doc.add_table(rows=1, cols=2)
        table.autofit = False
        _no_borders(table)
        left, right = table.rows[0].cells
        _widths(table, (7.5, 9.0))
        for cell in (left, right):
            cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
        w.para(
            "Nơi nhận:",
            bold=True,
            italic=True,
            size=12,
            container=left,
            indent=False,
            after=0,
            align=WD_ALIGN_PARAGRAPH.LEFT,
        )
        for i, recipient in enumerate(s.recipients):
            end = "." if i == len(s.recipients) - 1 else ";"
            w.para(
                f"- {recipient}{end}",
                size=11,
                container=left,
                indent=False,
                after=0,
                align=WD_ALIGN_PARAGRAPH.LEFT,
            )
        center = WD_ALIGN_PARAGRAPH.CENTER
        sign = [s.signer_authority, s.signer_title] if s.signer_authority else [s.signer_title]
        for text in sign:
            w.para(
                text.upper(),
                bold=True,
                size=13,
                container=right,
                align=center,
                indent=False,
                after=0,
            )
        for _ in range(4):
            w.para("", container=right, indent=False, after=0)
        w.para(
            s.signer_name, bold=True, size=13, container=right, align=center, indent=False, after=0
        )


def _num(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if out != out else out


# --------------------------------------------------------------------------- entry points


def build_narrative(
    result: RunResult,
    previous: pd.DataFrame | None = None,
    charts: Mapping[str, bytes] | None = None,
    config: NarrativeConfig | None = None,
) -> bytes:
    """The draft report as .docx bytes; `previous` is last year's aggregates table, if any."""
    return Narrative(result, previous, charts or {}, config or load_narrative_config()).build()


def _previous_of_run(result: RunResult) -> pd.DataFrame | None:
    aggs = getattr(result.extra.get("previous"), "aggregates", None)
    return aggs if isinstance(aggs, pd.DataFrame) and not aggs.empty else None


def narrative_name(year: int) -> str:
    return NARRATIVE_NAME.format(year=year)


def narrative_path(out_dir: Path, year: int) -> Path:
    return out_dir / narrative_name(year)


def write_narrative(result: RunResult, out_dir: Path, chart_paths: Sequence[Path] = ()) -> Path:
    """Write the draft next to the workbook, comparing with last year's figures if any.

    Last year's aggregates are those the run loaded (``result.extra["previous"]``, an object
    with an ``aggregates`` frame), else output/<year-1>/data/aggregates.csv beside `out_dir`.
    """
    previous = _previous_of_run(result)
    if previous is None:
        previous = previous_aggregates(out_dir.parent, result.year)
    wanted = {stem for stem, _ in CHARTS}
    charts = {p.stem: p.read_bytes() for p in chart_paths if p.stem in wanted and p.is_file()}
    target = narrative_path(out_dir, result.year)
    write_bytes(target, build_narrative(result, previous, charts))
    log.info("narrative report %s", target)
    return target


__all__ = [
    "NARRATIVE_NAME",
    "build_narrative",
    "group_texts",
    "load_narrative_config",
    "narrative_name",
    "narrative_path",
    "previous_aggregates",
    "write_narrative",
]
