"""How the product's workbooks print: scale, column fit, page breaks, repeated header rows.

Pure functions over column widths and row heights (xlsxwriter units: a column width in
characters of the default font's digit, a row height in points), and one function that
applies the result to an xlsxwriter worksheet. The rules, the same for the report, the
phase review and the roll-up:

* A4. Text is never printed smaller than :data:`MIN_PRINTED_PT` (8 pt): the print scale is
  at least ``8 / smallest font`` (73 % for 11 pt). A sheet wider than a page at that scale
  has its columns narrowed in stages (:func:`fit_widths`): first the columns of numbers,
  dates and codes wider than their widest value, then the columns of wrapping text, each
  column of a stage giving up the same share of its width above its floor; if it is still
  too wide it prints on more than one page across, its identifying columns repeated on each.
* The scale is explicit ("adjust to N %"), not "fit to 1 page wide": Excel ignores manual
  page breaks on a sheet set to fit to pages, and the breaks are what keeps headings with
  their tables.
* Every page break is set here, not left to the program that prints (:func:`page_breaks`):
  never between a section heading, its table's header and first data rows, nor above a
  totals row; and a table whose header does not repeat is kept whole on one page if it
  fits one. Heights are estimated on the safe side (a row without a set height counts as
  xlsxwriter's default 15 pt, more than Excel or LibreOffice give a line of 11 pt Times New
  Roman), so a page never holds more than the program can print and no page break of its
  own slips in between ours (tests/test_print_layout.py checks it on LibreOffice's PDF).
* The header row of the sheet's last table that runs over a page is repeated on every page
  after it (print titles). Excel and LibreOffice repeat print titles only on pages after
  the one the rows are on, so tables above it are not affected. A sheet has one range of
  print titles, so two long tables on one sheet both have their header on every page only
  when their headers are the same (Biểu 09's lists of units not reported and of every unit):
  then the first of them is the one repeated, and it serves the later one too.
* Header and footer use only the codes every spreadsheet program reads: &L, &C, &R, &P,
  &N. A font code (``&"Times New Roman,Regular"``) or a size code (``&10``) is printed as
  text by Gnumeric. Without them the page number is in the program's own header font (in Excel
  the Normal style's, Times New Roman here), which is all a page number needs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

A4_IN = (8.27, 11.69)
"""A4 paper, width and height in inches (portrait)."""
PAPER_A4 = 9
"""Excel's paper code for A4."""
MIN_PRINTED_PT = 8.0
"""No text is printed smaller than this (font size times print scale)."""
WIDTH_SPARE = 0.93
"""Share of the printable width the columns may take: programs differ in how wide a column
prints. Excel counts a Times New Roman 11 pt digit as 7 pixels, as for Calibri; LibreOffice
as the font's own 7.33, so its columns print about 5 % wider (measured on its PDF)."""
HEIGHT_SPARE = 0.97
"""Share of the printable height the rows may take, for rounding in the printing program."""
DEFAULT_ROW_PT = 15.0
"""Height of a row without a height of its own (xlsxwriter's default row)."""
DEFAULT_COL_WIDTH = 8.43
DIGIT_PX = 7
"""Width in pixels of the default font's digit (Times New Roman 11 pt, as Calibri 11 pt)."""
MIN_ROWS_WITH_HEADER = 2
"""Data rows kept on the page of their table's header row (and of the heading above it)."""
MAX_BREAKS = 1023
"""Excel's limit on manual page breaks per sheet; pages after the last one break by themselves."""


@dataclass(frozen=True)
class Page:
    """A4 in one orientation, with margins in inches."""

    landscape: bool
    left: float
    right: float
    top: float
    bottom: float
    header: float = 0.3
    footer: float = 0.3

    @property
    def width_px(self) -> float:
        """Printable width at 100 %, in pixels (96 per inch, as column widths are measured)."""
        paper = A4_IN[1] if self.landscape else A4_IN[0]
        return (paper - self.left - self.right) * 96

    @property
    def height_pt(self) -> float:
        """Printable height at 100 %, in points."""
        paper = A4_IN[0] if self.landscape else A4_IN[1]
        return (paper - self.top - self.bottom) * 72


LANDSCAPE = Page(landscape=True, left=0.5, right=0.4, top=0.6, bottom=0.6)
PORTRAIT = Page(landscape=False, left=1.18, right=0.6, top=0.8, bottom=0.8)
"""Portrait margins after NĐ 30/2020 Phụ lục I: left 30-35 mm, right 15-20 mm, top and
bottom 20-25 mm."""


def column_px(width: float) -> int:
    """Pixels of a column `width` characters wide, as xlsxwriter and Excel convert it."""
    if width < 1:
        return int(width * (DIGIT_PX + 5) + 0.5)
    return int(width * DIGIT_PX + 0.5) + 5


def content_px(widths: Mapping[int, float], last_col: int) -> int:
    """Width in pixels of columns 0..`last_col` (a column not in `widths` has the default)."""
    return sum(column_px(widths.get(c, DEFAULT_COL_WIDTH)) for c in range(last_col + 1))


def min_scale(smallest_pt: float) -> int:
    """The smallest print scale (percent) at which `smallest_pt` text prints at 8 pt."""
    return min(100, math.ceil(100 * MIN_PRINTED_PT / smallest_pt - 1e-9))


def fit_widths(
    widths: Mapping[int, float],
    stages: Sequence[Mapping[int, float]],
    last_col: int,
    page: Page,
    smallest_pt: float,
) -> dict[int, float]:
    """`widths` narrowed so the sheet fits a page across at the smallest scale allowed.

    `stages` are the columns that may be narrowed, each with its floor, in the order they
    give way: first those that cost no extra lines but in their header (numbers, dates,
    codes wider than their widest value), then those whose cells wrap. Within a stage every
    column gives up the same share of its width above its floor, just enough for the sheet
    to fit. A sheet that fits is left as it is; one that cannot fit is narrowed as far as the
    floors allow (and prints on pages across).
    """
    out = dict(widths)
    capacity = WIDTH_SPARE * page.width_px * 100 / min_scale(smallest_pt)
    for floors in stages:
        if content_px(out, last_col) <= capacity:
            break
        out = _narrow(out, floors, last_col, capacity)
    return out


def _narrow(
    widths: dict[int, float], floors: Mapping[int, float], last_col: int, capacity: float
) -> dict[int, float]:
    out = dict(widths)
    movable = {c: out.get(c, DEFAULT_COL_WIDTH) for c in floors if c <= last_col}
    fixed = sum(
        column_px(out.get(c, DEFAULT_COL_WIDTH)) for c in range(last_col + 1) if c not in movable
    )

    def narrowed(c: int, share: float) -> float:
        # The same share of what each has above its floor: the widest give most.
        floor = min(floors[c], movable[c])
        return round(floor + share * (movable[c] - floor), 1)

    def width_at(share: float) -> int:
        return fixed + sum(column_px(narrowed(c, share)) for c in movable)

    if not movable or width_at(0.0) > capacity:
        share = 0.0  # as narrow as the floors allow
    else:
        low, high = 0.0, 1.0
        for _ in range(30):
            mid = (low + high) / 2
            low, high = (mid, high) if width_at(mid) <= capacity else (low, mid)
        share = low
    for c in movable:
        out[c] = narrowed(c, share)
    return out


def print_scale(width_px: int, page: Page, smallest_pt: float) -> int:
    """Percent scale: one page across if the text stays at 8 pt or more, 100 % at most."""
    fit = math.floor(100 * WIDTH_SPARE * page.width_px / max(width_px, 1))
    return max(min_scale(smallest_pt), min(100, fit))


def page_capacity_pt(page: Page, scale: int) -> float:
    """Points of rows (at 100 %) one printed page holds at `scale` percent."""
    return page.height_pt * 100 / scale * HEIGHT_SPARE


@dataclass(frozen=True)
class Block:
    """Rows that print together if they can: no page break between `first` and `end`."""

    first: int
    end: int
    """First row after the block."""


@dataclass(frozen=True)
class Table:
    """Where a table sits: its header row, data rows ``first`` .. ``end`` - 1 (a totals
    row among them, last), and the section heading right above it, if any."""

    header: int
    first: int
    end: int
    heading: int | None = None
    total: int | None = None
    key: tuple[object, ...] = ()
    """What the header row says, column by column: tables with the same non-empty key are
    served by one repeated header."""

    def same_header(self, other: Table | None) -> bool:
        return other is not None and (other is self or (bool(self.key) and self.key == other.key))

    @property
    def top(self) -> int:
        return self.header if self.heading is None else self.heading


def table_blocks(table: Table, *, whole: bool) -> list[Block]:
    """What keeps a table readable in print.

    A table whose header does not repeat on the next page is kept `whole` on one page (if
    it fits one): cut in two, its second part would have no header. The table whose header
    does repeat keeps its heading and header with its first data rows, and its totals row
    with the row above it.
    """
    if whole:
        return [Block(table.top, table.end)]
    blocks = [Block(table.top, min(table.end, table.first + MIN_ROWS_WITH_HEADER))]
    if table.total is not None:
        blocks.append(Block(table.total - 1, table.total + 1))
    return blocks


def page_breaks(
    heights: Mapping[int, float],
    last_row: int,
    capacity_pt: float,
    blocks: Iterable[Block] = (),
    titles: tuple[int, int] | None = None,
) -> list[int]:
    """Rows that start a new page (0-based), every page at most `capacity_pt` high.

    Greedy: each page takes rows while they fit; the break goes before the row that does
    not fit, or, if that row is inside a block, before the block. A block taller than a
    page is broken where it must. The `titles` rows are repeated at the top of every page
    that starts below them, and count against its height.
    """
    no_break: set[int] = set()
    for b in blocks:
        no_break.update(range(b.first + 1, b.end))
    title_pt = 0.0
    if titles is not None:
        title_pt = sum(heights.get(r, DEFAULT_ROW_PT) for r in range(titles[0], titles[1] + 1))

    def height(r: int) -> float:
        return heights.get(r, DEFAULT_ROW_PT)

    breaks: list[int] = []
    start, used, row = 0, 0.0, 0
    while row <= last_row:
        h = height(row)
        if used + h <= capacity_pt or row == start:
            used += h
            row += 1
            continue
        cut = row
        while cut in no_break and cut > start + 1:
            cut -= 1
        if cut in no_break:
            cut = row  # the block is taller than a page: break where the page is full
        breaks.append(cut)
        start = cut
        used = title_pt if titles is not None and cut > titles[1] else 0.0
        row = cut
    return breaks


def crossed(breaks: Sequence[int], table: Table) -> bool:
    """Whether a page break runs through `table` (between its header and its last row)."""
    i = bisect.bisect_right(breaks, table.header)
    return i < len(breaks) and breaks[i] < table.end


def footer_text(*, left: str = "") -> str:
    """The footer: `left` (escaped) and "Trang n/N" on the right, or centred alone."""
    if not left:
        return "&CTrang &P/&N"
    return f"&L{left.replace('&', '&&')}&RTrang &P/&N"


@dataclass(frozen=True)
class Layout:
    """How one sheet prints."""

    scale: int
    breaks: list[int]
    titles: tuple[int, int] | None
    across: bool
    """True when the sheet is wider than a page even so: it prints on pages across too."""


def layout(
    *,
    widths: Mapping[int, float],
    heights: Mapping[int, float],
    last_col: int,
    last_row: int,
    page: Page,
    smallest_pt: float,
    blocks: Sequence[Block] = (),
    tables: Sequence[Table] = (),
    titles: tuple[int, int] | None = None,
) -> Layout:
    """Scale, page breaks and print titles of a sheet whose columns are `widths` (already
    through :func:`fit_widths`, since row heights follow from the widths).

    Without fixed `titles`, the header of the last of the `tables` that does not fit where
    it stands is repeated (or that of the first table with the same header, which then
    serves both); every table it does not serve is kept whole on a page if it fits one.
    """
    px = content_px(widths, last_col)
    scale = print_scale(px, page, smallest_pt)
    capacity = page_capacity_pt(page, scale)

    def breaks_with(repeated: Table | None) -> list[int]:
        kept = list(blocks)
        for t in tables:
            kept += table_blocks(t, whole=not t.same_header(repeated))
        return page_breaks(heights, last_row, capacity, kept, titles)

    repeated = next((t for t in tables if titles is not None and t.header == titles[0]), None)
    breaks = breaks_with(repeated)
    if titles is None:
        crossing = [t for t in tables if crossed(breaks, t)]
        if crossing:
            repeated = next(t for t in tables if t.same_header(crossing[-1]))
            titles = (repeated.header, repeated.header)
            breaks = breaks_with(repeated)
    across = px * scale / 100 > page.width_px
    return Layout(scale, breaks[:MAX_BREAKS], titles, across)


def apply(
    ws: Any,
    result: Layout,
    page: Page,
    *,
    repeat_cols: tuple[int, int] | None = None,
    footer_left: str = "",
    center: bool = True,
) -> None:
    """Set `result` on the xlsxwriter worksheet `ws` (paper, margins, scale, breaks, titles)."""
    ws.set_paper(PAPER_A4)
    if page.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=page.left, right=page.right, top=page.top, bottom=page.bottom)
    ws.set_print_scale(result.scale)
    if result.breaks:
        ws.set_h_pagebreaks(result.breaks)
    if result.titles is not None:
        ws.repeat_rows(*result.titles)
    if result.across and repeat_cols is not None:
        ws.repeat_columns(*repeat_cols)
    if center and not result.across:
        ws.center_horizontally()
    # Not scaled with the sheet: the page number stays legible whatever the scale.
    ws.set_footer(footer_text(left=footer_left), {"scale_with_doc": False})
