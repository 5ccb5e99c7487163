"""pipeline.printing: the print rules as worked cases (scale, widths, page breaks, titles)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import printing as pr


def test_eight_points_is_the_floor() -> None:
    # 11 pt at 73 % is 8.03 pt; at 72 % it would be 7.92 pt.
    assert pr.min_scale(11) == 73
    assert pr.min_scale(10) == 80
    assert pr.min_scale(8) == 100
    assert pr.min_scale(6) == 100  # never above 100 %: a 6 pt text is the layout's own fault


def test_column_pixels_as_excel_counts_them() -> None:
    assert pr.column_px(8.43) == 64  # Excel's default column
    assert pr.column_px(10) == 75
    assert pr.column_px(0.5) == 6


def test_scale_fits_the_width_but_never_below_8_pt() -> None:
    page = pr.LANDSCAPE  # 10.79 in = 1035.8 px
    assert pr.print_scale(500, page, 11) == 100
    # 1035.8 * 0.93 / 1200 = 80.3 %
    assert pr.print_scale(1200, page, 11) == 80
    assert pr.print_scale(3000, page, 11) == 73


def test_narrowing_gives_way_in_stages() -> None:
    """Numbers wider than their values go first; wrapping text only if that is not enough."""
    page = pr.LANDSCAPE
    capacity = pr.WIDTH_SPARE * page.width_px * 100 / pr.min_scale(11)  # 1319.7 px
    # Ten number columns of 16 (only 8 needed) and a text column of 60: 1710 + 425 px.
    widths = {c: 16.0 for c in range(10)} | {10: 60.0}
    numbers = {c: 8.0 for c in range(10)}
    texts = {10: 12.0}
    out = pr.fit_widths(widths, [numbers, texts], 10, page, 11)
    assert pr.content_px(out, 10) <= capacity
    assert out[10] == 60.0  # the numbers gave enough
    assert all(8.0 < out[c] < 16.0 for c in range(10))
    # Wider still: the numbers go down to their floor, then the text gives way.
    widths[10] = 150.0
    out = pr.fit_widths(widths, [numbers, texts], 10, page, 11)
    assert [out[c] for c in range(10)] == [8.0] * 10
    assert 12.0 < out[10] < 150.0
    assert capacity - 8 <= pr.content_px(out, 10) <= capacity


def test_narrowing_shares_the_cut_in_proportion() -> None:
    page = pr.LANDSCAPE
    widths = {0: 100.0, 1: 40.0, 2: 40.0}
    out = pr.fit_widths(widths, [{0: 10.0, 1: 10.0, 2: 40.0}], 2, page, 11)
    # Column 0 has 90 above its floor, column 1 has 30: it gives a third as much.
    assert out[2] == 40.0
    assert (100 - out[0]) == pytest.approx(3 * (40 - out[1]), abs=0.2)


def test_a_sheet_that_fits_is_left_alone() -> None:
    widths = {0: 20.0, 1: 30.0}
    assert pr.fit_widths(widths, [{0: 5.0, 1: 5.0}], 1, pr.LANDSCAPE, 11) == widths


def test_too_wide_even_at_the_floors_prints_across() -> None:
    widths = {c: 12.0 for c in range(30)}  # 30 columns of numbers as narrow as they go
    out = pr.fit_widths(widths, [{c: 12.0 for c in range(30)}], 29, pr.LANDSCAPE, 11)
    result = pr.layout(
        widths=out, heights={}, last_col=29, last_row=10, page=pr.LANDSCAPE, smallest_pt=11
    )
    assert result.scale == 73 and result.across


# --------------------------------------------------------------------------- page breaks

ROW = pr.DEFAULT_ROW_PT  # 15 pt


def test_rows_fill_pages() -> None:
    # Ten rows a page.
    assert pr.page_breaks({}, 24, 10 * ROW) == [10, 20]


def test_a_heading_at_the_bottom_of_a_page_moves_to_the_next() -> None:
    # Rows 0-7 text; heading at 8, header at 9, data from 10. A page holds ten rows: without
    # the block the page would end with the heading and the header.
    blocks = pr.table_blocks(pr.Table(9, 10, 30, heading=8), whole=False)
    assert blocks == [pr.Block(8, 12)]
    assert pr.page_breaks({}, 29, 10 * ROW, blocks) == [8, 18, 28]


def test_a_short_table_is_kept_whole() -> None:
    blocks = pr.table_blocks(pr.Table(6, 7, 12, heading=5), whole=True)
    assert pr.page_breaks({}, 11, 10 * ROW, blocks) == [5]


def test_a_table_taller_than_a_page_breaks_where_it_must() -> None:
    blocks = pr.table_blocks(pr.Table(1, 2, 40), whole=True)
    assert pr.page_breaks({}, 39, 10 * ROW, blocks) == [1, 11, 21, 31]


def test_the_totals_row_keeps_the_row_above() -> None:
    table = pr.Table(0, 1, 11, total=10)  # data 1-9, totals at 10
    blocks = pr.table_blocks(table, whole=False)
    assert pr.page_breaks({}, 10, 10 * ROW, blocks) == [9]


def test_repeated_titles_take_room_on_every_later_page() -> None:
    # Title row 2 of 30 pt: pages after the first hold 30 pt less.
    heights = {2: 30.0}
    breaks = pr.page_breaks(heights, 40, 10 * ROW, titles=(2, 2))
    assert breaks == [9, 17, 25, 33]


def test_the_last_long_table_gets_the_print_titles() -> None:
    tables = [pr.Table(1, 2, 6), pr.Table(8, 9, 60), pr.Table(62, 63, 66)]
    result = pr.layout(
        widths={0: 10.0},
        heights={},
        last_col=0,
        last_row=65,
        page=pr.LANDSCAPE,
        smallest_pt=11,
        tables=tables,
    )
    assert result.titles == (8, 8)
    assert result.breaks[0] > 8
    assert not result.across


def test_tables_with_the_same_header_share_the_first_ones_titles() -> None:
    """Biểu 09: the list of units to chase (long early in the season) and the list of every
    unit have the same columns; the first one's header is repeated and serves both, and the
    later list is not pushed to a page of its own to be kept whole."""
    key = ((0, 1, "STT"), (1, 1, "Mã đơn vị"))
    chase, every = pr.Table(12, 13, 50, heading=11, key=key), pr.Table(52, 53, 180, 51, key=key)

    def layout(*tables: pr.Table) -> pr.Layout:
        return pr.layout(
            widths={0: 10.0},
            heights={},
            last_col=0,
            last_row=179,
            page=pr.LANDSCAPE,
            smallest_pt=11,
            tables=[pr.Table(1, 2, 10), *tables],
        )

    result = layout(chase, every)
    assert result.titles == (12, 12)
    assert pr.crossed(result.breaks, chase) and pr.crossed(result.breaks, every)
    # The second list starts on the page the first ends on (kept whole, it would start a
    # page of its own, its heading at row 51).
    assert result.breaks[0] < 51 < 55 < result.breaks[1]
    # Another header does not share them: the later long table gets the titles, as before.
    other = pr.Table(52, 53, 180, 51, key=((0, 1, "STT"), (1, 1, "Tệp")))
    assert layout(chase, other).titles == (52, 52)


def test_given_titles_are_kept() -> None:
    result = pr.layout(
        widths={0: 10.0},
        heights={},
        last_col=0,
        last_row=5,
        page=pr.PORTRAIT,
        smallest_pt=11,
        tables=[pr.Table(1, 2, 6)],
        titles=(1, 1),
    )
    assert result.titles == (1, 1) and result.breaks == []


def test_crossed() -> None:
    assert pr.crossed([10], pr.Table(5, 6, 20))
    assert not pr.crossed([10], pr.Table(10, 11, 20))  # starts on the new page
    assert not pr.crossed([10], pr.Table(2, 3, 10))  # ends before it


def test_footer_escapes_the_ampersand() -> None:
    assert pr.footer_text() == "&CTrang &P/&N"
    assert pr.footer_text(left="Sở GD&ĐT") == "&LSở GD&&ĐT&RTrang &P/&N"


@given(
    heights=st.lists(st.floats(min_value=5, max_value=200), min_size=1, max_size=120),
    capacity=st.floats(min_value=100, max_value=900),
    spans=st.lists(st.tuples(st.integers(0, 119), st.integers(1, 15)), max_size=8),
)
def test_pages_never_overflow_and_blocks_hold_when_they_can(
    heights: list[float], capacity: float, spans: list[tuple[int, int]]
) -> None:
    rows = dict(enumerate(heights))
    last = len(heights) - 1
    blocks = [pr.Block(a, min(a + n, last + 1)) for a, n in spans if a <= last]
    breaks = pr.page_breaks(rows, last, capacity, blocks)
    assert breaks == sorted(set(breaks)) and all(0 < b <= last for b in breaks)
    starts = [0, *breaks, last + 1]
    for a, b in itertools.pairwise(starts):
        # A page overflows only when its first row alone is taller than a page.
        assert sum(heights[a:b]) <= capacity or b == a + 1
    for blk in blocks:
        inside = [b for b in breaks if blk.first < b < blk.end]
        if sum(heights[blk.first : blk.end]) <= capacity and not any(
            other is not blk and other.first < blk.end and blk.first < other.end for other in blocks
        ):
            assert not inside, (blk, breaks)
