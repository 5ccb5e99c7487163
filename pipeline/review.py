"""The phase review workbook: sơ kết 2023-2025 and tổng kết 2023-2030 (Kế hoạch mục V).

The review is built from the yearly exports only (``output/<year>/data/aggregates.csv`` and
``tracking.csv``), never from the submissions again, so its figures are the ones each
yearly report already published. Sheets:

* ``Tổng quan``: title block (Nghị định 30/2020), which years the review covers and where
  each year's figures come from;
* ``1. Toàn thành phố``: the headline figures by year, with the change over the phase;
* ``2. Chỉ tiêu``: each target's rate by year against its 2025 and 2030 milestones;
* ``3. Theo địa bàn`` and ``4. Theo loại đơn vị``: key figures by year per area, per type;
* ``5. Nộp báo cáo``: units expected, on time, late, missing, by year;
* ``6. Biểu đồ``: trend charts, native Excel charts drawn from small tables beside them;
  the same charts are written as PNG files (``charts/``) for documents and e-mail.

Rates are read from the yearly aggregates, which computed them from summed numerators and
denominators; nothing here averages percentages. The workbook's bytes depend only on the
inputs (fixed document properties), like the yearly report.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import printing, rates
from pipeline.aggregate import additive_fields, ratios
from pipeline.errors import PipelineError
from pipeline.export import write_bytes, write_csv
from pipeline.manifest import write_folder_manifest
from pipeline.ooxml import text_safe_workbook
from pipeline.rates import pct_text
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FONT = "Times New Roman"
BODY_PT = 11
HEADER_FILL = "#DDEBF7"
HEADER_PT = 30
"""Height of a table header row (two lines of bold text)."""
NUMBER_WIDTH = 11
"""Narrowest a column of yearly figures may become to fit a page (1.234.567.890)."""
CHART_PT = 10
"""Size of the text in the native charts (titles are larger)."""
CHART_ROWS = 24
"""Rows (of 15 pt) a chart of 420 px (315 pt) takes, from the row above its table."""
LINE_COLOURS = ("#2F5597", "#C55A11", "#548235", "#7030A0", "#BF8F00", "#2E75B6", "#A5A5A5")
TARGET_COLOUR = "#C00000"
TOP_LEVELS = ("city", "national")
"""The level of the total row in aggregates.csv: a department's city, a roll-up's country."""

CITY_TREND = (
    "units",
    "steering_committee",
    "annual_plan",
    "lifelong_learning_week",
    "campaign_events",
    "campaign_participants",
    "news_items",
    "ldu_registered",
    "ldu_recognised",
    "members_total",
    "members_recognised",
    "learners_total",
    "learners_recognised",
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
"""Headline measures of sheet 1, in the order the leadership reads them."""
GROUP_TREND = (
    "units",
    "target.cdht_members",
    "target.ldu_units",
    "ldu_recognised",
    "initiatives_effective",
    "campaign_events",
)
"""Measures shown per area and per unit type (sheets 3 and 4)."""


class ReviewError(PipelineError):
    """The review cannot be built (bad phase, no year with figures)."""


@dataclass(frozen=True)
class Phase:
    start: int
    end: int

    @property
    def years(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    @property
    def final(self) -> bool:
        """Tổng kết (the whole programme, up to 2030) rather than sơ kết."""
        return self.end >= 2030

    @property
    def kind(self) -> str:
        return "tổng kết" if self.final else "sơ kết"

    @property
    def slug(self) -> str:
        return f"{'tong-ket' if self.final else 'so-ket'}-{self.start}-{self.end}"

    @property
    def workbook_name(self) -> str:
        return f"bao-cao-{self.slug}.xlsx"

    @property
    def folder_name(self) -> str:
        return f"review-{self.start}-{self.end}"


def parse_phase(text: str) -> Phase:
    """ "2023-2025" → Phase(2023, 2025); a clear Vietnamese error otherwise."""
    m = re.fullmatch(r"\s*(\d{4})\s*[-–:]\s*(\d{4})\s*", text or "")
    if not m:
        raise ReviewError(f"Giai đoạn “{text}” không hợp lệ; ghi dạng 2023-2025.")
    start, end = int(m.group(1)), int(m.group(2))
    if start > end or end - start > 20:
        raise ReviewError(f"Giai đoạn “{text}”: năm đầu phải trước năm cuối, tối đa 20 năm.")
    return Phase(start, end)


@dataclass
class YearFigures:
    year: int
    aggregates: pd.DataFrame
    tracking: pd.DataFrame | None
    source: str


@dataclass
class ReviewData:
    phase: Phase
    years: dict[int, YearFigures]
    missing: list[int]
    top_key: str
    top_level: str
    notes: dict[int, str] = field(default_factory=dict)
    """Per year, how its figures were obtained (shown on the cover)."""

    @property
    def present(self) -> list[int]:
        return sorted(self.years)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def load_year(output_root: Path, year: int) -> YearFigures | None:
    data = output_root / str(year) / "data"
    aggs_path = data / "aggregates.csv"
    if not aggs_path.is_file():
        return None
    aggs = _read(aggs_path)
    aggs["value"] = pd.to_numeric(aggs["value"], errors="coerce")
    track_path = data / "tracking.csv"
    tracking = _read(track_path) if track_path.is_file() else None
    return YearFigures(year, aggs, tracking, f"{year}/data/aggregates.csv")


def load_review(output_root: Path, phase: Phase) -> ReviewData:
    """Every year of the phase that has exports; the others are listed as missing."""
    years: dict[int, YearFigures] = {}
    missing = []
    from pipeline.publish import reading

    for year in phase.years:
        with reading(output_root, str(year)):
            figures = load_year(output_root, year)
        if figures is None:
            missing.append(year)
        else:
            years[year] = figures
    if not years:
        raise ReviewError(
            f"Chưa có số liệu tổng hợp của năm nào trong giai đoạn {phase.start}-{phase.end} "
            f"(thư mục {output_root}/<năm>/data). Chạy consolidate cho từng năm trước."
        )
    last = years[max(years)].aggregates
    level = next((lv for lv in TOP_LEVELS if (last["level"] == lv).any()), "city")
    keys = last.loc[last["level"] == level, "key"]
    return ReviewData(phase, years, missing, str(keys.iloc[0]) if len(keys) else "", level)


# --------------------------------------------------------------------------- tables


def trends(data: ReviewData, schemas: Schemas | None = None) -> pd.DataFrame:
    """Long table of every aggregate by year: level, key, field, year, value.

    With the schemas, a sum the schema does not allow (a year or a code added up by an
    export made before fields were marked summable) is left out rather than carried on.
    """
    frames = []
    for year, figures in sorted(data.years.items()):
        frame = figures.aggregates[["level", "key", "field", "value"]].copy()
        if schemas is not None:
            names = set(frame["field"])
            kept = additive_fields(names, schemas) | {r.field for r in ratios(schemas)}
            frame = frame[frame["field"].isin(kept)]
        frame.insert(3, "year", year)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def series(data: ReviewData, level: str, key: str, fld: str) -> list[float | None]:
    """One figure's value in each year of the phase (None where the year has none)."""
    out: list[float | None] = []
    for year in data.phase.years:
        figures = data.years.get(year)
        value = None
        if figures is not None:
            aggs = figures.aggregates
            hit = aggs[(aggs["level"] == level) & (aggs["key"] == key) & (aggs["field"] == fld)]
            if len(hit) and pd.notna(hit.iloc[0]["value"]):
                value = float(hit.iloc[0]["value"])
        out.append(value)
    return out


def reporting(data: ReviewData) -> list[dict[str, Any]]:
    """Per year: units expected, on time, late, only rejected files, missing, reporting rate.

    Years consolidated before tracking knew the status "rejected" simply count none.
    """
    rows: list[dict[str, Any]] = []
    for year in data.phase.years:
        figures = data.years.get(year)
        if figures is None or figures.tracking is None:
            rows.append({"year": year})
            continue
        status = figures.tracking["status"].value_counts()
        expected = int(status.sum())
        on_time, late = int(status.get("on_time", 0)), int(status.get("late", 0))
        rows.append(
            {
                "year": year,
                "expected": expected,
                "on_time": on_time,
                "late": late,
                "rejected": int(status.get("rejected", 0)),
                "missing": int(status.get("missing", 0)),
                "rate": (on_time + late) / expected if expected else None,
            }
        )
    return rows


class Labels:
    """Vietnamese labels of aggregate fields, from the schemas."""

    def __init__(self, schemas: Schemas, registry: Registry) -> None:
        self.schemas = schemas
        self.registry = registry
        report = schemas.report
        self.derived = {d.code: d for d in schemas.criteria.derived}
        self.targets = {f"target.{t.code}": t for t in schemas.criteria.targets}
        self.types = {c.code: c.label for c in report.unit_types}
        people = report.list_map.get("people")
        self.groups = (
            {c.code: c.label for c in report.choices[people.fixed_choices]}
            if people is not None and people.fixed_choices
            else {}
        )

    def measure(self, code: str) -> str:
        report = self.schemas.report
        f = report.field_map.get(code)
        if f is not None:
            return f"Số đơn vị {_lower_first(f.label)}" if f.type == "yes_no" else f.label
        if code in self.targets:
            return self.targets[code].label
        d = self.derived.get(code)
        if d is not None:
            label = d.label
            if d.per_unit:
                label = re.sub(r"\s*\([^)]*\)\s*$", "", label)
                if not label.startswith("Số "):
                    label = f"Số đơn vị {_lower_first(label)}"
            return label
        m = re.fullmatch(r"people\.(\w+)\.(\w+?)(_rate)?", code)
        if m and "people" in report.list_map:
            group = self.groups.get(m.group(1), m.group(1))
            people = report.list_map["people"]
            codes = {f.code for f in people.fields}
            fld = people.field(m.group(2)).label if m.group(2) in codes else m.group(2)
            return f"{group}: {_lower_first(fld)}" + (" (tỷ lệ)" if m.group(3) else "")
        if code == "units_reporting":
            return "Số đơn vị có báo cáo"
        return code

    def is_rate(self, code: str) -> bool:
        return code in self.targets or code.endswith("_rate")

    def is_money(self, code: str) -> bool:
        f = self.schemas.report.field_map.get(code)
        return f is not None and f.type == "money"

    def area(self, key: str) -> str:
        area = self.registry.areas.get(key)
        return area.name if area is not None else key

    def unit_type(self, key: str) -> str:
        return self.types.get(key, key)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def count_text(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Line:
    name: str
    values: tuple[float | None, ...]
    target: bool = False


@dataclass(frozen=True)
class TrendChart:
    """One chart: years on the x axis, lines (or columns), optional target lines."""

    key: str
    title: str
    years: tuple[int, ...]
    lines: tuple[Line, ...]
    percent: bool
    kind: str = "line"
    """"line", "column" or "stacked"."""


def chart_specs(data: ReviewData, labels: Labels, schemas: Schemas) -> list[TrendChart]:
    years = tuple(data.phase.years)
    top, key = data.top_level, data.top_key
    charts = []
    for t in schemas.criteria.targets:
        code = f"target.{t.code}"
        lines = [Line("Thực hiện", tuple(series(data, top, key, code)))]
        for year, level in sorted(t.milestones.items()):
            lines.append(
                Line(f"Chỉ tiêu đến năm {year}: {pct_text(level)}", (level,) * len(years), True)
            )
        charts.append(
            TrendChart(f"chi-tieu-{t.code.replace('_', '-')}", t.label, years, tuple(lines), True)
        )
    if "target.cdht_members" in labels.targets:
        type_keys = _keys(data, "unit_type", [c.code for c in schemas.report.unit_types])
        charts.append(
            TrendChart(
                "cong-dan-hoc-tap-theo-loai-don-vi",
                f"{labels.measure('target.cdht_members')} theo loại đơn vị",
                years,
                tuple(
                    Line(
                        labels.unit_type(k),
                        tuple(series(data, "unit_type", k, "target.cdht_members")),
                    )
                    for k in type_keys
                ),
                True,
            )
        )
    counts = ("ldu_recognised", "initiatives_effective", "campaign_events")
    charts.append(
        TrendChart(
            "ket-qua-chinh-qua-cac-nam",
            "Một số kết quả chính qua các năm",
            years,
            tuple(Line(labels.measure(c), tuple(series(data, top, key, c))) for c in counts),
            False,
            kind="column",
        )
    )
    rep = reporting(data)
    charts.append(
        TrendChart(
            "tinh-hinh-nop-bao-cao",
            "Tình hình gửi báo cáo của các đơn vị qua các năm",
            years,
            (
                Line("Đúng hạn", tuple(r.get("on_time") for r in rep)),
                Line("Nộp muộn", tuple(r.get("late") for r in rep)),
                Line("Chỉ có tệp bị từ chối", tuple(r.get("rejected") for r in rep)),
                Line("Chưa nộp", tuple(r.get("missing") for r in rep)),
            ),
            False,
            kind="stacked",
        )
    )
    return charts


def _keys(data: ReviewData, level: str, order: Sequence[str] = ()) -> list[str]:
    """Keys of a level found in any year, in the given order first, then sorted."""
    found: set[str] = set()
    for figures in data.years.values():
        aggs = figures.aggregates
        found.update(str(k) for k in aggs.loc[aggs["level"] == level, "key"])
    ranked = [k for k in order if k in found]
    return ranked + sorted(found - set(ranked))


def render_png(spec: TrendChart) -> bytes:
    """The chart as PNG bytes (Agg, fixed size, no metadata: byte-reproducible)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from pipeline.charts import CHART_RC

    with matplotlib.rc_context(CHART_RC):
        fig = Figure(figsize=(8.0, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        x = list(range(len(spec.years)))
        fmt = pct_text if spec.percent else count_text
        data_lines = [ln for ln in spec.lines if not ln.target]
        top = 0.0
        if spec.kind == "line":
            for n, ln in enumerate(data_lines):
                ys = [math.nan if v is None else v for v in ln.values]
                colour = LINE_COLOURS[n % len(LINE_COLOURS)]
                ax.plot(x, ys, marker="o", color=colour, linewidth=2, label=ln.name)
                if len(data_lines) == 1:
                    for xi, v in zip(x, ln.values, strict=True):
                        if v is not None:
                            ax.annotate(
                                fmt(v),
                                (xi, v),
                                textcoords="offset points",
                                xytext=(0, 7),
                                ha="center",
                                fontsize=8,
                            )
                top = max([top, *(v for v in ln.values if v is not None)])
        else:
            width = 0.8 / (1 if spec.kind == "stacked" else max(len(data_lines), 1))
            bottom = [0.0] * len(x)
            for n, ln in enumerate(data_lines):
                ys = [0.0 if v is None else float(v) for v in ln.values]
                colour = LINE_COLOURS[n % len(LINE_COLOURS)]
                if spec.kind == "stacked":
                    bars = ax.bar(x, ys, width, bottom=bottom, color=colour, label=ln.name)
                    bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
                else:
                    offset = (n - (len(data_lines) - 1) / 2) * width
                    bars = ax.bar([xi + offset for xi in x], ys, width, color=colour, label=ln.name)
                    ax.bar_label(
                        bars, labels=[fmt(v) if v else "" for v in ys], padding=2, fontsize=7
                    )
                top = max([top, *ys, *bottom])
        for n, ln in enumerate(ln for ln in spec.lines if ln.target):
            level = ln.values[0] or 0.0
            ax.axhline(
                level,
                color=TARGET_COLOUR,
                linestyle="--" if n == 0 else ":",
                linewidth=1.5,
                label=ln.name,
            )
            top = max(top, level)
        ax.set_xticks(x, [str(y) for y in spec.years])
        ax.set_xlim(-0.5, len(x) - 0.5)
        if spec.percent:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: pct_text(v)))
            ax.set_ylim(0, max(1.0, top * 1.1))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: count_text(v)))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(0, max(1.0, top * 1.18))
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=3, fontsize=8, frameon=False
        )
        ax.set_title(spec.title, fontsize=12, fontweight="bold")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# --------------------------------------------------------------------------- workbook


class ReviewBook:
    def __init__(
        self, data: ReviewData, schemas: Schemas, registry: Registry, settings: Settings
    ) -> None:
        self.data = data
        self.schemas = schemas
        self.settings = settings
        self.labels = Labels(schemas, registry)
        self.years = data.phase.years
        self.buffer = io.BytesIO()
        self.wb = text_safe_workbook(self.buffer, FONT, 11)
        self._formats: dict[tuple[tuple[str, Any], ...], Any] = {}
        self.heights: dict[int, float] = {}
        """Row heights set on the sheet being written, for its print layout."""

    def fmt(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format({"font_name": FONT, **props})
        return self._formats[key]

    def cell_fmt(self, code: str, **extra: Any) -> Any:
        if self.labels.is_rate(code):
            return self.fmt(num_format="0.0%", border=1, **extra)
        return self.fmt(num_format="#,##0", border=1, **extra)

    @property
    def title(self) -> str:
        p = self.data.phase
        return (
            f"Báo cáo {p.kind} giai đoạn {p.start} - {p.end} Phong trào thi đua "
            "“Cả nước thi đua xây dựng xã hội học tập, đẩy mạnh học tập suốt đời”"
        )

    def build(self) -> bytes:
        p, s = self.data.phase, self.settings
        self.wb.set_properties(
            {
                "title": self.title,
                "subject": f"{p.kind.capitalize()} giai đoạn {p.start}-{p.end}",
                "author": s.issuing_body,
                "manager": s.advising_office,
                "company": s.issuing_parent,
                "category": "Báo cáo",
                "keywords": "xã hội học tập, học tập suốt đời, sơ kết, tổng kết",
                # Fixed, so the file is byte-reproducible (docProps/core.xml).
                "created": dt.datetime(p.end, 12, 31),
            }
        )
        self.cover()
        self.city_sheet()
        self.targets_sheet()
        self.group_sheet("3. Theo địa bàn", "area", "Địa bàn", self.labels.area)
        self.group_sheet(
            "4. Theo loại đơn vị",
            "unit_type",
            "Loại đơn vị",
            self.labels.unit_type,
            [c.code for c in self.schemas.report.unit_types],
        )
        self.reporting_sheet()
        self.charts_sheet()
        self.wb.close()
        return self.buffer.getvalue()

    # -- shared layout

    def band(self, ws: Any, title: str, ncols: int, note: str = "") -> int:
        """Sheet title rows; returns the first free row."""
        s = self.settings
        ws.merge_range(0, 0, 0, ncols - 1, s.issuing_body, self.fmt(bold=True, align="left"))
        ws.merge_range(
            1, 0, 1, ncols - 1, title.upper(), self.fmt(bold=True, align="center", font_size=13)
        )
        subtitle = (
            f"Giai đoạn {self.data.phase.start} - {self.data.phase.end}; "
            f"số liệu tổng hợp từ báo cáo hằng năm của các đơn vị"
        )
        ws.merge_range(2, 0, 2, ncols - 1, subtitle, self.fmt(italic=True, align="center"))
        if note:
            ws.merge_range(3, 0, 3, ncols - 1, note, self.fmt(italic=True))
            return 5
        return 4

    def header(self, ws: Any, row: int, titles: Sequence[str]) -> None:
        style = self.fmt(
            bold=True,
            bg_color=HEADER_FILL,
            border=1,
            align="center",
            valign="vcenter",
            text_wrap=True,
        )
        for col, text in enumerate(titles):
            ws.write_string(row, col, text, style)
        self.set_row(ws, row, HEADER_PT)

    def set_row(self, ws: Any, row: int, height: float) -> None:
        """A row's height, remembered for the print layout of the sheet."""
        ws.set_row(row, height)
        self.heights[row] = height

    def finish(
        self,
        ws: Any,
        widths: dict[int, float],
        last_row: int,
        *,
        tables: Sequence[printing.Table] = (),
        blocks: Sequence[printing.Block] = (),
        numbers: Sequence[int] = (),
        landscape: bool = True,
        smallest_pt: float = BODY_PT,
        freeze: int | None = None,
    ) -> None:
        """Column widths and print set-up (pipeline.printing) of a finished sheet.

        `numbers` are the columns of figures, which may be narrowed to :data:`NUMBER_WIDTH`
        for the sheet to fit a page across (a sheet of the eight years of the tổng kết).
        """
        page = printing.LANDSCAPE if landscape else printing.PORTRAIT
        last_col = max(widths)
        stages = [{c: NUMBER_WIDTH for c in numbers}]
        widths = printing.fit_widths(widths, stages, last_col, page, smallest_pt)
        for col, width in sorted(widths.items()):
            ws.set_column(col, col, width)
        result = printing.layout(
            widths=widths,
            heights=self.heights,
            last_col=last_col,
            last_row=last_row,
            page=page,
            smallest_pt=smallest_pt,
            blocks=blocks,
            tables=tables,
        )
        printing.apply(
            ws, result, page, repeat_cols=(0, 0), footer_left=self.settings.issuing_body_short
        )
        if freeze is not None:
            ws.freeze_panes(freeze + 1, 1)
        self.heights = {}

    def year_header(self, first: str, extra: Sequence[str] = ()) -> list[str]:
        return [first, *[f"Năm {y}" for y in self.years], *extra]

    def write_values(
        self, ws: Any, row: int, code: str, values: Sequence[float | None], **extra: Any
    ) -> None:
        for i, v in enumerate(values):
            if v is None:
                ws.write_blank(row, 1 + i, None, self.cell_fmt(code, **extra))
            else:
                shown = rates.shown(v) if self.labels.is_rate(code) else v
                ws.write_number(row, 1 + i, shown, self.cell_fmt(code, **extra))

    def change_cells(self, ws: Any, row: int, code: str, values: Sequence[float | None]) -> None:
        """Change from the first to the last year with a figure; percent change for counts."""
        col = 1 + len(values)
        known = [v for v in values if v is not None]
        first, last = (known[0], known[-1]) if len(known) >= 2 else (None, None)
        if first is None or last is None:
            ws.write_blank(row, col, None, self.fmt(border=1))
            ws.write_blank(row, col + 1, None, self.fmt(border=1))
            return
        if self.labels.is_rate(code):
            # A change of a rate is in percentage points.
            ws.write_number(
                row,
                col,
                rates.shown_change(last, first),
                self.fmt(num_format="+0.0%;-0.0%;0", border=1),
            )
            ws.write_blank(row, col + 1, None, self.fmt(border=1))
        else:
            ws.write_number(
                row, col, last - first, self.fmt(num_format="+#,##0;-#,##0;0", border=1)
            )
            if first:
                ws.write_number(
                    row,
                    col + 1,
                    (last - first) / first,
                    self.fmt(num_format="+0.0%;-0.0%;0", border=1),
                )
            else:
                ws.write_blank(row, col + 1, None, self.fmt(border=1))

    # -- sheets

    def cover(self) -> None:
        ws = self.wb.add_worksheet("Tổng quan")
        s, p = self.settings, self.data.phase
        ws.set_column(0, 0, 16)
        ws.set_column(1, 1, 70)
        ws.set_column(2, 2, 14)
        bold_c = self.fmt(bold=True, align="center")
        ws.merge_range(0, 0, 0, 2, s.issuing_parent, self.fmt(align="center"))
        ws.merge_range(1, 0, 1, 2, s.issuing_body, bold_c)
        ws.merge_range(3, 0, 3, 2, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_c)
        ws.merge_range(4, 0, 4, 2, "Độc lập - Tự do - Hạnh phúc", bold_c)
        ws.merge_range(
            7,
            0,
            8,
            2,
            self.title.upper(),
            self.fmt(bold=True, align="center", valign="vcenter", text_wrap=True, font_size=13),
        )
        ws.set_row(7, 30)
        ws.set_row(8, 30)
        ws.merge_range(
            9,
            0,
            9,
            2,
            "(Kế hoạch thực hiện Phong trào thi đua, mục V: "
            f"{'tổng kết vào năm 2030' if p.final else 'sơ kết giai đoạn 1 vào năm 2025'})",
            self.fmt(italic=True, align="center"),
        )
        row = 11
        self.header(ws, row, ["Năm", "Nguồn số liệu", "Số đơn vị có báo cáo"])
        for year in self.years:
            row += 1
            figures = self.data.years.get(year)
            ws.write_number(row, 0, year, self.fmt(border=1, align="center"))
            if figures is None:
                text = "Chưa có số liệu tổng hợp của năm này."
            else:
                text = f"Kết quả tổng hợp năm {year} ({figures.source})"
            note = self.data.notes.get(year)
            if note:
                text += f"; {note}"
            ws.write_string(row, 1, text, self.fmt(border=1, text_wrap=True))
            # Rows do not grow by themselves on opening (LibreOffice): one line per ~68
            # characters of the 70-wide column (Times New Roman averages under a digit).
            lines = math.ceil(len(text) / 68)
            if lines > 1:
                ws.set_row(row, 15 * lines)
            units = series(self.data, self.data.top_level, self.data.top_key, "units")
            value = units[self.years.index(year)]
            if value is None:
                ws.write_blank(row, 2, None, self.fmt(border=1))
            else:
                ws.write_number(row, 2, value, self.fmt(border=1, num_format="#,##0"))
        row += 2
        contents = [
            "1. Toàn thành phố: kết quả chính qua các năm và mức thay đổi trong giai đoạn.",
            "2. Chỉ tiêu: tiến độ thực hiện chỉ tiêu đến năm 2025 và năm 2030.",
            "3. Theo địa bàn; 4. Theo loại đơn vị: một số kết quả chính qua các năm.",
            "5. Nộp báo cáo: số đơn vị nộp đúng hạn, nộp muộn, chưa nộp qua các năm.",
            "6. Biểu đồ: xu hướng qua các năm (ảnh PNG cùng nội dung trong thư mục charts/).",
            "Tỷ lệ tính từ tổng tử số và tổng mẫu số của các đơn vị, không lấy trung bình tỷ lệ.",
        ]
        ws.write_string(row, 0, "Nội dung:", self.fmt(bold=True))
        for text in contents:
            ws.merge_range(row, 1, row, 2, text, self.fmt(text_wrap=True))
            row += 1
        ws.set_paper(printing.PAPER_A4)
        ws.set_portrait()
        ws.fit_to_pages(1, 1)
        ws.set_margins(left=0.8, right=0.5, top=0.8, bottom=0.8)
        ws.set_footer(printing.footer_text(), {"scale_with_doc": False})
        self.heights = {}

    def city_sheet(self) -> None:
        ws = self.wb.add_worksheet("1. Toàn thành phố")
        n = len(self.years)
        ncols = 3 + n
        row = self.band(
            ws,
            "Kết quả chính qua các năm",
            ncols,
            note="Thay đổi cả giai đoạn: năm cuối so với năm đầu có số liệu; thay đổi của một "
            "tỷ lệ tính bằng điểm phần trăm.",
        )
        self.header(
            ws,
            row,
            self.year_header("Chỉ tiêu thống kê", ["Thay đổi cả giai đoạn", "Tỷ lệ thay đổi"]),
        )
        head = row
        top, key = self.data.top_level, self.data.top_key
        codes = [*CITY_TREND, *(f"target.{t.code}" for t in self.schemas.criteria.targets)]
        for code in codes:
            values = series(self.data, top, key, code)
            if all(v is None for v in values):
                continue
            row += 1
            ws.write_string(row, 0, self.labels.measure(code), self.fmt(border=1, text_wrap=True))
            self.write_values(ws, row, code, values)
            self.change_cells(ws, row, code, values)
        widths = {0: 58.0, **{c: 15.0 for c in range(1, n + 3)}}
        table = printing.Table(head, head + 1, row + 1)
        numbers = range(1, n + 1)
        self.finish(ws, widths, row, tables=[table], numbers=numbers, freeze=head)

    def targets_sheet(self) -> None:
        ws = self.wb.add_worksheet("2. Chỉ tiêu")
        n = len(self.years)
        milestone_years = sorted({y for t in self.schemas.criteria.targets for y in t.milestones})
        extra = [f"Chỉ tiêu đến năm {y}" for y in milestone_years] + ["Đánh giá", "Căn cứ"]
        ncols = 1 + n + len(extra)
        row = self.band(ws, "Tiến độ thực hiện chỉ tiêu", ncols)
        self.header(ws, row, self.year_header("Chỉ tiêu", extra))
        head = row
        top, key = self.data.top_level, self.data.top_key
        for t in self.schemas.criteria.targets:
            code = f"target.{t.code}"
            values = series(self.data, top, key, code)
            row += 1
            self.set_row(ws, row, 48)
            ws.write_string(row, 0, t.label, self.fmt(border=1, text_wrap=True, valign="top"))
            self.write_values(ws, row, code, values, valign="top")
            col = 1 + n
            for y in milestone_years:
                if y in t.milestones:
                    ws.write_number(
                        row, col, t.milestones[y], self.fmt(num_format="0%", border=1, valign="top")
                    )
                else:
                    ws.write_blank(row, col, None, self.fmt(border=1))
                col += 1
            ws.write_string(
                row,
                col,
                self.verdict(t.milestones, values),
                self.fmt(border=1, text_wrap=True, valign="top"),
            )
            ws.write_string(
                row, col + 1, t.source, self.fmt(border=1, text_wrap=True, valign="top")
            )
        m = len(milestone_years)
        widths = {0: 40.0, **{c: 11.0 for c in range(1, n + m + 1)}, n + m + 1: 44.0}
        widths[n + m + 2] = 30.0
        table = printing.Table(head, head + 1, row + 1)
        self.finish(ws, widths, row, tables=[table], freeze=head)

    def verdict(self, milestones: dict[int, float] | Any, values: Sequence[float | None]) -> str:
        """The latest figure against the milestone for the phase's end (or the next one)."""
        known = [(y, v) for y, v in zip(self.years, values, strict=True) if v is not None]
        if not known:
            return "Chưa có số liệu."
        year, value = known[-1]
        parts = []
        for m_year, level in sorted(milestones.items()):
            if value >= level:
                parts.append(f"Đạt chỉ tiêu năm {m_year} ({pct_text(level)}).")
            elif m_year <= self.data.phase.end:
                parts.append(
                    f"Chưa đạt chỉ tiêu năm {m_year}: {pct_text(value)} so với {pct_text(level)}."
                )
            else:
                parts.append(f"Còn {pct_text(level - value)} để đạt chỉ tiêu năm {m_year}.")
        return f"Năm {year}: {pct_text(value)}. " + " ".join(parts)

    def group_sheet(
        self, name: str, level: str, header: str, label: Any, order: Sequence[str] = ()
    ) -> None:
        ws = self.wb.add_worksheet(name)
        n = len(self.years)
        ncols = 3 + n
        row = self.band(ws, f"Một số kết quả chính theo {_lower_first(header)} qua các năm", ncols)
        keys = _keys(self.data, level, order)
        tables = []
        for code in GROUP_TREND:
            if all(all(v is None for v in series(self.data, level, k, code)) for k in keys):
                continue
            heading = row
            ws.merge_range(row, 0, row, ncols - 1, self.labels.measure(code), self.fmt(bold=True))
            row += 1
            self.header(
                ws, row, self.year_header(header, ["Thay đổi cả giai đoạn", "Tỷ lệ thay đổi"])
            )
            head = row
            for k in keys:
                values = series(self.data, level, k, code)
                row += 1
                ws.write_string(row, 0, label(k), self.fmt(border=1, text_wrap=True))
                self.write_values(ws, row, code, values)
                self.change_cells(ws, row, code, values)
            # The tables' headers say the same: whichever repeats on a page fits it.
            tables.append(printing.Table(head, head + 1, row + 1, heading))
            row += 2
        widths = {0: 40.0, **{c: 12.0 for c in range(1, n + 1)}, n + 1: 13.0, n + 2: 13.0}
        self.finish(ws, widths, row - 2, tables=tables, numbers=range(1, n + 1))

    def reporting_sheet(self) -> None:
        ws = self.wb.add_worksheet("5. Nộp báo cáo")
        cols = [
            ("year", "Năm", "0"),
            ("expected", "Số đơn vị phải báo cáo", "#,##0"),
            ("on_time", "Nộp đúng hạn", "#,##0"),
            ("late", "Nộp muộn", "#,##0"),
            ("rejected", "Chỉ có tệp bị từ chối", "#,##0"),
            ("missing", "Chưa nộp", "#,##0"),
            ("rate", "Tỷ lệ đơn vị đã nộp", "0.0%"),
        ]
        row = self.band(ws, "Tình hình gửi báo cáo qua các năm", len(cols))
        self.header(ws, row, [c[1] for c in cols])
        head = row
        for rec in reporting(self.data):
            row += 1
            for col, (key, _, num) in enumerate(cols):
                value = rec.get(key)
                style = self.fmt(
                    num_format=num, border=1, align="center" if key == "year" else "right"
                )
                if value is None:
                    ws.write_blank(row, col, None, style)
                else:
                    ws.write_number(row, col, rates.shown(value) if key == "rate" else value, style)
        widths = {0: 10.0, **{c: 16.0 for c in range(1, len(cols))}}
        table = printing.Table(head, head + 1, row + 1)
        self.finish(ws, widths, row, tables=[table], landscape=False, freeze=head)

    def charts_sheet(self) -> None:
        ws = self.wb.add_worksheet("6. Biểu đồ")
        n = len(self.years)
        row = self.band(
            ws,
            "Biểu đồ xu hướng qua các năm",
            2 + n,
            note="Biểu đồ lấy số liệu từ bảng bên trái mỗi biểu đồ.",
        )
        sheet = "6. Biểu đồ"
        blocks = []
        for i, spec in enumerate(chart_specs(self.data, self.labels, self.schemas), start=1):
            start = row
            ws.write_string(row, 0, f"{i}. {spec.title}", self.fmt(bold=True))
            row += 1
            self.header(ws, row, ["", *[str(y) for y in spec.years]])
            head = row
            num = "0.0%" if spec.percent else "#,##0"
            for ln in spec.lines:
                row += 1
                ws.write_string(row, 0, ln.name, self.fmt(border=1, text_wrap=True))
                for j, v in enumerate(ln.values):
                    if v is None:
                        ws.write_blank(row, 1 + j, None, self.fmt(border=1))
                    else:
                        shown = rates.shown(v) if spec.percent else v
                        ws.write_number(row, 1 + j, shown, self.fmt(num_format=num, border=1))
            self.native_chart(ws, sheet, spec, head, row, n, anchor_row=head - 1)
            row = max(row + 2, head + CHART_ROWS)
            # A chart is never cut in two between pages.
            blocks.append(printing.Block(start, row))
        # The chart's columns: a chart is 720 px wide from the column after the table's.
        widths = {0: 34.0, **{c: 9.0 for c in range(1, n + 1)}, n + 1: 8.43}
        chart_cols = math.ceil((720 + 10) / printing.column_px(printing.DEFAULT_COL_WIDTH))
        widths |= {c: printing.DEFAULT_COL_WIDTH for c in range(n + 2, n + 2 + chart_cols)}
        self.finish(ws, widths, row - 1, blocks=blocks, smallest_pt=CHART_PT)

    def native_chart(
        self, ws: Any, sheet: str, spec: TrendChart, head: int, last: int, n: int, anchor_row: int
    ) -> None:
        kind = {"line": {"type": "line"}, "column": {"type": "column"}}.get(
            spec.kind, {"type": "column", "subtype": "stacked"}
        )
        chart = self.wb.add_chart(kind)
        font = {"name": FONT, "size": CHART_PT}
        colour_n = target_n = 0
        for offset, ln in enumerate(spec.lines, start=1):
            r = head + offset
            props: dict[str, Any] = {
                "name": [sheet, r, 0],
                "categories": [sheet, head, 1, head, n],
                "values": [sheet, r, 1, r, n],
            }
            if ln.target:
                dash = "dash" if target_n == 0 else "round_dot"
                target_n += 1
                line_props = {"color": TARGET_COLOUR, "width": 1.5, "dash_type": dash}
                if spec.kind == "line":
                    props["line"] = line_props
                    props["marker"] = {"type": "none"}
                else:  # pragma: no cover - targets are drawn on line charts only
                    continue
            else:
                colour = LINE_COLOURS[colour_n % len(LINE_COLOURS)]
                colour_n += 1
                if spec.kind == "line":
                    props["line"] = {"color": colour, "width": 2.25}
                    props["marker"] = {
                        "type": "circle",
                        "size": 6,
                        "fill": {"color": colour},
                        "border": {"color": colour},
                    }
                    if sum(1 for x in spec.lines if not x.target) == 1:
                        props["data_labels"] = {
                            "value": True,
                            "position": "above",
                            "font": font,
                            "num_format": "0.0%",
                        }
                else:
                    props["fill"] = {"color": colour}
                    props["border"] = {"none": True}
                    if spec.kind == "column":
                        props["data_labels"] = {"value": True, "font": font}
            chart.add_series(props)
        chart.set_title({"name": spec.title, "name_font": {**font, "size": 11, "bold": True}})
        chart.set_x_axis({"num_font": font})
        y_axis: dict[str, Any] = {
            "num_font": font,
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
        if spec.percent:
            y_axis |= {"num_format": "0%", "min": 0, "max": 1}
        else:
            y_axis |= {"num_format": "#,##0", "min": 0}
        chart.set_y_axis(y_axis)
        chart.set_legend({"position": "bottom", "font": font})
        chart.set_size({"width": 720, "height": 420})
        ws.insert_chart(anchor_row, n + 2, chart, {"x_offset": 10, "y_offset": 0})


def build_workbook(
    data: ReviewData, schemas: Schemas, registry: Registry, settings: Settings
) -> bytes:
    return ReviewBook(data, schemas, registry, settings).build()


def write_review(
    data: ReviewData,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    out: Path,
) -> Path:
    """Fill `out` with the review: the workbook, charts/*.png, data/trends.csv, a manifest.

    `out` is the staging folder of output/review-<start>-<end>/ (the CLI's
    :func:`pipeline.publish.publishing`), so a failed review leaves the last one whole.
    """
    book = out / data.phase.workbook_name
    write_bytes(book, build_workbook(data, schemas, registry, settings))
    write_csv(trends(data, schemas), out / "data" / "trends.csv")
    labels = Labels(schemas, registry)
    for spec in chart_specs(data, labels, schemas):
        write_bytes(out / "charts" / f"{spec.key}.png", render_png(spec))
    about = {
        "phase": f"{data.phase.start}-{data.phase.end}",
        "years": data.present,
        "missing_years": data.missing,
    }
    write_folder_manifest(out, "review", about)
    log.info("review workbook %s", book)
    return book
