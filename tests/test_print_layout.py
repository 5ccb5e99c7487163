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
   titles, so two long tables on one sheet have the same columns: Biểu 09's list of units
   that have not reported (long early in the season) and its list of every unit share one
   header, repeated from the first.
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
from tests.libreoffice import convert_all
from tests.office_outputs import every_workbook
from tests.print_model import MIN_PT, Cell, SheetPrint, Workbook

ROOT = Path(__file__).resolve().parent.parent
PRINTED = (
    "report",
    "report-samples",
    "report-early",
    "review",
    "rollup",
    "template-school",
    "template-area",
)
EARLY_FILES = 10
"""The first files of the 2026 samples: a run early in the season, most units not reported."""
FOOTER_CODES = re.compile(r"&([LCRPNADTF&])")


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
    out["report-early"] = report.build_workbook(
        consolidate(raws[:EARLY_FILES], 2026, schemas, registry, settings)
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
                missing.append(f"{sheet.name}: table at row {header + 1}")
    assert not missing, f"{kind}: {missing}"
    if kind == "report-samples":
        assert long_tables >= 8  # the unit tables, Biểu 09's among them


def biểu_09_lists(wb: Workbook) -> tuple[SheetPrint, tuple[int, int], tuple[int, int]]:
    """Biểu 09 and its two unit lists: the units to chase (II) and every unit (III)."""
    sheet = next(s for s in wb.sheets() if s.name == "Biểu 09")
    chase, every = wb.tables(sheet)[-2:]
    return sheet, chase, every


@pytest.mark.parametrize("kind", ["report-samples", "report-early"])
def test_biểu_09_one_header_serves_both_unit_lists(books: dict[str, bytes], kind: str) -> None:
    """Issue 16 named the list of every unit; early in the season the list of units not yet
    reported runs over pages too. Both lists have the same header, repeated from the first,
    so each of their pages starts with it."""
    wb = Workbook(books[kind])
    sheet, (chase, chase_end), (every, every_end) = biểu_09_lists(wb)
    assert sheet.titles == (chase, chase)
    texts = {(c.row, c.col): c.value for c in sheet.cells}

    def header(row: int) -> list[str | None]:
        return [texts.get((row, col)) for col in range(sheet.last_col + 1)]

    assert header(chase) == header(every)
    assert header(chase)[:3] == ["STT", "Mã đơn vị", "Tên đơn vị"]
    pages = page_of(sheet)
    assert pages[every_end - 1] - pages[every] >= 3
    if kind == "report-early":
        assert pages[chase_end - 1] - pages[chase] >= 3


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
    kinds = ("report-samples", "report-early")
    sources = []
    for kind in kinds:
        source = tmp_path / "in" / f"{kind}.xlsx"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(books[kind])
        sources.append(source)
    for kind, pdf in zip(kinds, convert_all(sources, "pdf", tmp_path / "out"), strict=True):
        text = subprocess.run(
            [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=120
        ).stdout.decode("utf-8")
        check_pages(kind, text.split("\f")[:-1], Workbook(books[kind]))


def check_pages(kind: str, pages: list[str], wb: Workbook) -> None:
    """LibreOffice's pages are the file's: each sheet starts where the model says, and every
    page of Biểu 09 after the first unit list's header starts with that header."""
    expected = [(s.name, len(s.pages())) for s in wb.sheets()]
    assert len(pages) == sum(n for _, n in expected), kind
    start = 0
    for name, count in expected:
        first = pages[start].strip().splitlines()
        if name != "Bìa":
            assert first[0].strip() == name, f"{kind}: {name} does not start on page {start + 1}"
        if count > 1 and start + count < len(pages):
            nxt = pages[start + count].strip().splitlines()[0].strip()
            assert nxt.startswith("Biểu "), f"{kind} {name}: a page more than the file says"
        if name == "Biểu 09":
            sheet, (chase, _), _ = biểu_09_lists(wb)
            for page in pages[start + page_of(sheet)[chase] + 1 : start + count]:
                top = " ".join(page.strip().splitlines()[0].split())
                assert top.startswith("STT Mã đơn vị Tên đơn vị"), f"{kind}: {top}"
        start += count
