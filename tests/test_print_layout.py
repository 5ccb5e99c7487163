"""How every workbook prints: legible, one page across, headers on every page, no stranded
heading, footer codes every program reads.

Specification (issue 16, point 4), checked on what the files say (tests/print_model.py), for
the report (the small in-memory run and the 2026 samples, whose unit tables run over many
pages), the phase review, the roll-up and the templates:

1. No text prints smaller than 8 pt: the smallest font of any cell or chart times the scale
   the sheet prints at (for "fit to page" sheets, the scale LibreOffice, whose columns print
   wider, comes to).
2. A sheet prints one page across, or repeats its identifying columns on every page.
3. A table that runs over a page repeats its header row on every page (print titles; a
   header with the same text as the repeated one will do). A sheet has one range of print
   titles: of two long tables on one sheet only the later repeats its header. The one sheet
   where that happens is Biểu 09, whose list of units that have not reported runs over a
   page early in the season, above the unit table that repeats its header (ONE_TITLE_RANGE).
4. A section heading prints on the page of its table's header and first data row; a table
   header on the page of its first data row.
5. Headers and footers use only &L &C &R &P &N &A &D &T &F (and && for "&"): Gnumeric prints
   a font code (&"Times New Roman,Regular") or a size code (&10) as text.

The LibreOffice test prints the samples' report to PDF and checks that LibreOffice breaks
the pages exactly where the file says (no page of its own slipped in: the row heights are
estimated on the safe side) and that every page of Biểu 09's unit table starts with the
table's header.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline import report
from pipeline.collect import read_all
from pipeline.registry import Registry
from pipeline.run import consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert
from tests.office_outputs import every_workbook
from tests.print_model import MIN_PT, Cell, SheetPrint, Workbook

ROOT = Path(__file__).resolve().parent.parent
PRINTED = ("report", "report-samples", "review", "rollup", "template-school", "template-area")
FOOTER_CODES = re.compile(r"&([LCRPNADTF&])")
ONE_TITLE_RANGE = {"Biểu 09"}
"""Sheets where a long table above the one whose header repeats has no header on its next
pages (see the module docstring, 3)."""


@pytest.fixture(scope="module")
def books(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, bytes]:
    out = every_workbook(schemas, registry, settings, tmp_path_factory.mktemp("books"))
    raws = read_all(ROOT / "samples" / "2026", schemas, workers=1)
    out["report-samples"] = report.build_workbook(
        consolidate(raws, 2026, schemas, registry, settings)
    )
    return out


def sheets(books: dict[str, bytes], kind: str) -> list[tuple[Workbook, SheetPrint]]:
    wb = Workbook(books[kind])
    return [(wb, s) for s in wb.sheets()]


def page_of(sheet: SheetPrint) -> dict[int, int]:
    return {r: i for i, rows in enumerate(sheet.pages()) for r in rows}


# --------------------------------------------------------------------------- the model


def test_model_pages_and_titles() -> None:
    """The model itself, on a made-up sheet: manual and natural breaks, repeated titles."""
    sheet = SheetPrint(
        name="x",
        cols={},
        heights={},
        default_height=100.0,
        cells=[],
        landscape=True,
        margins=(0.5, 0.5, 0.5, 0.5),  # 7.27 in = 523 pt: five rows of 100 pt
        scale=100,
        fit=None,
        breaks=[2],
        titles=(0, 0),
        title_cols=None,
        footer="",
        header="",
    )
    sheet.cells = [Cell(11, 0, 0, True, "x")]
    # Page 1: rows 0-1 (manual break before 2); then the title row repeats: 4 rows a page.
    assert sheet.pages() == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]


# --------------------------------------------------------------------------- 1. 8 pt


@pytest.mark.parametrize("kind", PRINTED)
def test_text_prints_at_8_pt_or_more(books: dict[str, bytes], kind: str) -> None:
    small = []
    for wb, sheet in sheets(books, kind):
        printed = wb.smallest_pt(sheet) * sheet.effective_scale()
        if printed < MIN_PT - 1e-9:
            small.append(f"{sheet.name}: {printed:.2f} pt")
    assert not small, f"{kind}: {small}"


# --------------------------------------------------------------------------- 2. across


@pytest.mark.parametrize("kind", PRINTED)
def test_one_page_across_or_key_columns_repeated(books: dict[str, bytes], kind: str) -> None:
    wide = []
    for _, sheet in sheets(books, kind):
        printed = sheet.width_px() * sheet.effective_scale()
        if printed > sheet.page_px() + 0.5 and sheet.title_cols is None:
            wide.append(f"{sheet.name}: {printed:.0f} px of {sheet.page_px():.0f}")
    assert not wide, f"{kind}: {wide}"


# --------------------------------------------------------------------------- 3. titles


@pytest.mark.parametrize("kind", PRINTED)
def test_tables_over_a_page_repeat_their_header(books: dict[str, bytes], kind: str) -> None:
    missing = []
    long_tables = 0
    for wb, sheet in sheets(books, kind):
        pages = page_of(sheet)
        texts = {(c.row, c.col): c.value for c in sheet.cells}
        for header, end in wb.tables(sheet):
            if pages[header] == pages[end - 1]:
                continue
            long_tables += 1
            titles = sheet.titles
            if titles is not None and titles[0] <= header <= titles[1]:
                continue
            repeated = titles and {
                col: texts.get((titles[1], col))
                for col in range(sheet.last_col + 1)
                if (titles[1], col) in texts
            }
            mine = {col: texts.get((header, col)) for col in range(sheet.last_col + 1)}
            mine = {k: v for k, v in mine.items() if (header, k) in texts}
            if not repeated or repeated != mine:
                later_titled = titles is not None and titles[0] > header
                if not (sheet.name in ONE_TITLE_RANGE and later_titled):
                    missing.append(f"{sheet.name}: table at row {header + 1}")
    assert not missing, f"{kind}: {missing}"
    if kind == "report-samples":
        assert long_tables >= 8  # the unit tables, Biểu 09's among them


def test_biểu_09_repeats_the_unit_table_header(books: dict[str, bytes]) -> None:
    """The case issue 16 names: its unit table (the last one) runs over several pages."""
    wb = Workbook(books["report-samples"])
    sheet = next(s for s in wb.sheets() if s.name == "Biểu 09")
    header, end = wb.tables(sheet)[-1]
    assert sheet.titles == (header, header)
    pages = page_of(sheet)
    assert pages[end - 1] - pages[header] >= 3


# --------------------------------------------------------------------------- 4. headings


@pytest.mark.parametrize("kind", PRINTED)
def test_headings_print_with_their_tables(books: dict[str, bytes], kind: str) -> None:
    stranded = []
    headings = 0
    for wb, sheet in sheets(books, kind):
        pages = page_of(sheet)
        tables = dict(wb.tables(sheet))
        for h in wb.headings(sheet):
            headings += 1
            end = tables[h + 1]
            together = [r for r in (h, h + 1, h + 2) if r < end or r == h]
            if len({pages[r] for r in together}) > 1:
                stranded.append(f"{sheet.name}: heading at row {h + 1}")
        for header, end in tables.items():
            if header + 1 < end and pages[header] != pages[header + 1]:
                stranded.append(f"{sheet.name}: table header at row {header + 1}")
    assert not stranded, f"{kind}: {stranded}"
    if kind.startswith("report"):
        assert headings >= 10  # Biểu 01, 04, 05, 09, 10 have section headings


# --------------------------------------------------------------------------- 5. codes


@pytest.mark.parametrize("kind", PRINTED)
def test_header_and_footer_codes_every_program_reads(books: dict[str, bytes], kind: str) -> None:
    for _, sheet in sheets(books, kind):
        for text in (sheet.header, sheet.footer):
            rest = FOOTER_CODES.sub("", text)
            assert "&" not in rest, f"{kind} {sheet.name}: {text!r}"
        assert "&P" in sheet.footer, f"{kind} {sheet.name}: no page number"


# --------------------------------------------------------------------------- LibreOffice


@pytest.mark.libreoffice
def test_libreoffice_breaks_pages_where_the_file_says(
    books: dict[str, bytes], tmp_path: Path
) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    source = tmp_path / "in" / "bao-cao.xlsx"
    source.parent.mkdir()
    source.write_bytes(books["report-samples"])
    pdf = convert(source, "pdf", tmp_path / "out")
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=120
    ).stdout.decode("utf-8")
    pages = text.split("\f")[:-1]
    wb = Workbook(books["report-samples"])
    expected = [(s.name, len(s.pages())) for s in wb.sheets()]
    assert len(pages) == sum(n for _, n in expected)
    start = 0
    for name, count in expected:
        first = pages[start].strip().splitlines()
        if name != "Bìa":
            assert first[0].strip() == name, f"{name} does not start on page {start + 1}"
        if count > 1 and start + count < len(pages):
            nxt = pages[start + count].strip().splitlines()[0].strip()
            assert nxt.startswith("Biểu "), f"{name}: a page more than the file says"
        if name == "Biểu 09":
            sheet = next(s for s in wb.sheets() if s.name == name)
            header, _ = wb.tables(sheet)[-1]
            table_page = page_of(sheet)[header]
            for page in pages[start + table_page + 1 : start + count]:
                top = " ".join(page.strip().splitlines()[0].split())
                assert top.startswith("STT Mã đơn vị Tên đơn vị"), top
        start += count
