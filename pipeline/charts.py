"""The report's four charts: their data (shared by Excel and PNG) and the PNG rendering.

The figures come from the run's aggregates and tracking only, so a chart can never disagree
with the tables of the workbook. :func:`chart_specs` returns plain data; the workbook draws
native Excel charts from it (pipeline.report, sheet “Biểu 10”) and :func:`write_chart_pngs`
draws the same charts with matplotlib for documents and e-mail.

PNG files must be byte-identical between runs (the manifest hashes them), so rendering uses
the Agg backend through the object API (no pyplot global state), a fixed size and DPI, a
bundled font, and no metadata (matplotlib writes its version and nothing time-dependent,
but the "Software" key is dropped all the same so an upgrade alone does not change bytes).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.export import write_bytes
from pipeline.rates import pct_text
from pipeline.run import RunResult
from pipeline.schema import Field

log = logging.getLogger(__name__)

FONT_FAMILY = ["DejaVu Sans", "Liberation Sans"]
"""Fonts shipped with matplotlib (DejaVu) or common on Linux; both cover Vietnamese."""
# Shared by the yearly charts and the review's trend charts so they look alike; a fixed
# hash salt keeps the PNG bytes reproducible.
CHART_RC: dict[Any, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": FONT_FAMILY,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "xhht",
    "path.simplify": True,
}
BAR_COLOUR = "#2F5597"
TARGET_COLOUR = "#C00000"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class ChartSpec:
    """One chart: categories, one bar series, optionally a target drawn as a line."""

    key: str
    """File stem of the PNG (ASCII)."""
    title: str
    category_header: str
    categories: tuple[str, ...]
    bars: Series
    percent: bool
    horizontal: bool = False
    target: Series | None = None
    """The target per category; None where it does not apply (no line over that bar)."""


def city_values(result: RunResult) -> pd.Series:
    """The city-level aggregates as a field → value series (missing fields absent)."""
    aggs = result.aggregates
    city = aggs[(aggs["level"] == "city") & (aggs["key"] == result.city_key)]
    return pd.Series([float(v) for v in city["value"]], index=list(city["field"]), dtype="float64")


def _get(values: pd.Series, key: str) -> float | None:
    value = values.get(key)
    if value is None or pd.isna(value):
        return None
    return float(value)


def reporting_chart(result: RunResult) -> ChartSpec:
    rates = result.reporting_rate.sort_values("area_code", kind="stable")
    return ChartSpec(
        key="ty-le-bao-cao-theo-dia-ban",
        title="Tỷ lệ đơn vị gửi báo cáo theo địa bàn",
        category_header="Địa bàn",
        categories=tuple(str(n) for n in rates["area_name"]),
        bars=Series("Tỷ lệ đơn vị đã gửi báo cáo", tuple(float(r) for r in rates["rate"])),
        percent=True,
        horizontal=True,
    )


def citizens_chart(result: RunResult) -> ChartSpec:
    """“Công dân học tập” rate per people group against the target's current milestone."""
    report = result.schemas.report
    people = report.list_map["people"]
    city = city_values(result)
    groups = report.choices[people.fixed_choices or ""] if people.fixed_choices else ()
    recognised = people.field("recognised")
    target_row = result.targets[result.targets["code"] == "cdht_members"]
    target: Series | None = None
    if not target_row.empty and pd.notna(target_row.iloc[0]["target"]):
        row = target_row.iloc[0]
        level = float(row["target"])
        # The target is a rate of the groups its denominator sums (QĐ 677: cán bộ, giáo viên,
        # nhân viên): its line is drawn over those groups' bars only, never over learners.
        covered = target_groups(result, "cdht_members")
        target = Series(
            f"Chỉ tiêu đến năm {int(row['milestone_year'])}: {pct_text(level)}",
            tuple(level if g.code in covered else None for g in groups),
        )
    return ChartSpec(
        key="ty-le-cong-dan-hoc-tap-theo-nhom",
        title=f"Tỷ lệ {_lower_first(recognised.label)} theo nhóm",
        category_header=people.field("group").label,
        categories=tuple(g.label for g in groups),
        bars=Series(
            recognised.label,
            tuple(_get(city, f"people.{g.code}.recognised_rate") for g in groups),
        ),
        percent=True,
        target=target,
    )


def target_groups(result: RunResult, code: str) -> set[str]:
    """The fixed rows (people groups) whose figures a target's rate is made of: the rows its
    denominator's derived sum selects. Empty when the denominator is not such a sum."""
    criteria = result.schemas.criteria
    target = next((t for t in criteria.targets if t.code == code), None)
    derived = {d.code: d for d in criteria.derived}
    d = derived.get(target.denominator) if target is not None else None
    if d is None or d.list is None or not d.sum:
        return set()
    lst = result.schemas.report.list_map[d.list]
    if not lst.fixed_field or not lst.fixed_choices:
        return set()
    codes = [c.code for c in result.schemas.report.choices[lst.fixed_choices]]
    if not d.where:
        return set(codes)
    frame = pd.DataFrame({lst.fixed_field: codes})
    chosen = frame.eval(d.where, engine="python").astype(bool)
    return {c for c, ok in zip(codes, chosen, strict=True) if ok}


def _count_by_choice_chart(
    result: RunResult, field: Field, prefix: str, key: str, title: str, series: str
) -> ChartSpec:
    """Counts per choice of `field`, read from the city aggregates `<prefix>.<choice>`."""
    city = city_values(result)
    levels = result.schemas.report.choices[field.choices or ""]
    return ChartSpec(
        key=key,
        title=title,
        category_header=field.label,
        categories=tuple(c.label for c in levels),
        bars=Series(series, tuple(_get(city, f"{prefix}.{c.code}") or 0.0 for c in levels)),
        percent=False,
    )


def learning_unit_chart(result: RunResult) -> ChartSpec:
    """Units per recognised level, counting only recognitions still valid this year.

    A lapsed recognition (or one without its year) is in no bar: docs/dac-ta-tieu-chi.md,
    section 5. The levels' counts are the derived metrics `ldu_recognised_<level>`.
    """
    field = result.schemas.report.field_map["ldu_recognised_level"]
    city = city_values(result)
    levels = result.schemas.report.choices[field.choices or ""]
    derived = {d.code for d in result.schemas.criteria.derived}

    def count(code: str) -> float:
        valid = f"ldu_recognised_{code}"
        key = valid if valid in derived else f"ldu_recognised_level.{code}"
        return _get(city, key) or 0.0

    return ChartSpec(
        key="don-vi-hoc-tap-theo-muc",
        title="Số đơn vị theo mức “Đơn vị học tập” được công nhận, còn hiệu lực",
        category_header=field.label,
        categories=tuple(c.label for c in levels),
        bars=Series("Số đơn vị", tuple(count(c.code) for c in levels)),
        percent=False,
    )


def initiatives_chart(result: RunResult) -> ChartSpec:
    return _count_by_choice_chart(
        result,
        result.schemas.report.list_map["initiatives"].field("level"),
        "initiatives.level",
        "sang-kien-theo-cap",
        "Số sáng kiến, giải pháp theo cấp công nhận",
        "Số sáng kiến",
    )


def chart_specs(result: RunResult) -> list[ChartSpec]:
    """The four charts of the report, in the order they appear on “Biểu 10”."""
    return [
        reporting_chart(result),
        citizens_chart(result),
        learning_unit_chart(result),
        initiatives_chart(result),
    ]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _count_text(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


# --------------------------------------------------------------------------- PNG


def render_png(spec: ChartSpec) -> bytes:
    """Draw one chart as PNG bytes (deterministic for a given matplotlib and font)."""
    import matplotlib
    from matplotlib.axis import Axis
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n = max(len(spec.categories), 1)
    size = (8.0, max(3.0, 1.2 + 0.32 * n)) if spec.horizontal else (8.0, 4.5)
    values = [0.0 if v is None or math.isnan(v) else v for v in spec.bars.values]
    with matplotlib.rc_context(CHART_RC):
        fig = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        positions = list(range(n))
        labels = list(spec.categories) or [""]
        values = values or [0.0]
        fmt = pct_text if spec.percent else _count_text
        if spec.horizontal:
            bars = ax.barh(positions, values, color=BAR_COLOUR, label=spec.bars.name)
            ax.set_yticks(positions, labels)
            ax.invert_yaxis()
            axis: Axis = ax.xaxis
        else:
            bars = ax.bar(positions, values, color=BAR_COLOUR, label=spec.bars.name)
            ax.set_xticks(positions, _wrap_labels(labels, 18))
            axis = ax.yaxis
        ax.bar_label(bars, labels=[fmt(v) for v in values], padding=2, fontsize=8)
        if spec.percent:
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: pct_text(v)))
            top = max([1.0, *values]) * 1.1
            if spec.horizontal:
                ax.set_xlim(0, top)
            else:
                ax.set_ylim(0, top)
        else:
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: _count_text(v)))
            axis.set_major_locator(MaxNLocator(integer=True))
            top = max([1.0, *values]) * 1.15
            if spec.horizontal:
                ax.set_xlim(0, top)
            else:
                ax.set_ylim(0, top)
        if spec.target is not None and any(v is not None for v in spec.target.values):
            # Over the bars the target applies to only (a None is a category it does not).
            covered = [(i, v) for i, v in enumerate(spec.target.values) if v is not None]
            draw = ax.vlines if spec.horizontal else ax.hlines
            draw(
                [v for _, v in covered],
                [i - 0.45 for i, _ in covered],
                [i + 0.45 for i, _ in covered],
                color=TARGET_COLOUR,
                linestyle="--",
                linewidth=1.5,
                label=spec.target.name,
            )
            # Above the plot, so the legend never hides a bar.
            ax.legend(
                loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize=8, frameon=False
            )
        ax.set_title(
            spec.title, fontsize=12, fontweight="bold", pad=24 if spec.target is not None else 6
        )
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _wrap_labels(labels: Sequence[str], width: int) -> list[str]:
    """Break long category labels on spaces so they do not overlap under the bars."""
    out = []
    for label in labels:
        lines: list[str] = []
        for word in label.split():
            if lines and len(lines[-1]) + 1 + len(word) <= width:
                lines[-1] += " " + word
            else:
                lines.append(word)
        out.append("\n".join(lines))
    return out


def write_chart_pngs(result: RunResult, charts_dir: Path) -> list[Path]:
    """Write every chart as charts/<key>.png; return the paths."""
    written = []
    for spec in chart_specs(result):
        path = charts_dir / f"{spec.key}.png"
        write_bytes(path, render_png(spec))
        written.append(path)
        log.debug("chart %s", path)
    return written
