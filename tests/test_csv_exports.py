"""CSV exports safe in every Excel locale (docs/dac-ta-ghi-ket-qua.md, section 3).

Excel splits a CSV on ',' or on ';' depending on the locale (vi-VN: ';'), and pasted text on
tabs. Whatever the split, no piece of a sender's text may start a cell with = + - @ (a
formula, a DDE call), except a plain number. The worked cases of the specification are the
first test; then random texts; then every export of a real run whose submissions carry such
texts, read back with each separator.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.export import csv_field, inert, plain_text, write_csv
from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.submission_factory import CLEAN_SCHOOL, save, school_workbook

PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .,]*%?")
FORMULA_START = ("=", "+", "-", "@")
SEPARATORS = (",", ";", "\t")
_PIECE_LIKE_FORMULA = re.compile(r'[,\n][ "]*\'*[=+\-@]')
"""A piece after a separator that starts like a formula: the texts csv_field changes."""
_PIECES = st.text(alphabet=",;\t\r\n\" =+-@'a1.%", max_size=24)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Nhiều thành tích;=1+1", '"Nhiều thành tích;\'=1+1"'),
        ('=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'),
        ("a, -4", '"a, \'-4"'),
        (";-1", '";\'-1"'),
        ("a,@SUM(A1)", '"a,\'@SUM(A1)"'),
        ("Dòng 1\n+cmd", '"Dòng 1\n\'+cmd"'),
        ('a; "=1"', '"a; ""\'=1"""'),
        ("a\t-x", '"a\t\'-x"'),
        ("'=1", "''=1"),
        ("a;'-b", "\"a;''-b\""),
        ("-4", "-4"),
        ("+84 912 345 678", "+84 912 345 678"),
        ("Trường THPT Lê Lợi", "Trường THPT Lê Lợi"),
        ("12/QĐ-THPT", "12/QĐ-THPT"),
    ],
)
def test_csv_field_cases(text: str, field: str) -> None:
    """The table of the specification: what a sender typed → the field written."""
    assert csv_field(inert(text)) == field


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.one_of(
            _PIECES,
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_reading_back_undoes_exactly_what_was_added(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    """plain_text of each field as csv reads it gives the text back, first column included."""
    frame = pd.DataFrame([texts], columns=[f"c{i}" for i in range(len(texts))])
    target = tmp_path_factory.mktemp("csv") / "x.csv"
    write_csv(frame, target)
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"), newline="")))
    assert [plain_text(v) for v in rows[1]] == texts


def _cells(data: bytes, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter)
    return [cell for row in reader for cell in row]


def _formulas(data: bytes) -> list[tuple[str, str]]:
    """Cells that Excel would take for a formula, in any of the three readings."""
    found = []
    for sep in SEPARATORS:
        for cell in _cells(data, sep):
            if cell.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(cell):
                found.append((sep, cell))
    return found


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_PIECES, min_size=1, max_size=4),
    first=st.one_of(st.sampled_from([2026, "x", "-4", "+84 912"]), _PIECES),
)
def test_no_cell_is_a_formula_in_any_reading(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], first: str | int
) -> None:
    frame = pd.DataFrame([[first, *texts]], columns=["year", *[f"c{i}" for i in range(len(texts))]])
    target = tmp_path_factory.mktemp("csv") / "x.csv"
    write_csv(frame, target)
    data = target.read_bytes()
    assert _formulas(data) == []
    # Read as written (on ','), the row keeps its shape and each text comes back whole,
    # changed only by the apostrophes that make it inert.
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 2 and len(rows[1]) == 1 + len(texts)
    for written, text in zip(rows[1][1:], texts, strict=True):
        assert written.replace("'", "") == text.replace("'", "")


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(
            st.text(
                alphabet=st.characters(
                    blacklist_characters=";\t\r\x00", blacklist_categories=("Cs",)
                ),
                max_size=12,
            ),
            min_size=2,
            max_size=2,
        ),
        max_size=5,
    )
)
def test_without_separators_the_csv_module_writes_the_same(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    """Nothing changes for the texts that need no new care: the contract stays csv's own.

    (csv itself leaves a lone carriage return unquoted, which Excel reads as a line break: a
    text holding one is quoted now, so it is not drawn here.)
    """
    frame = pd.DataFrame(rows, columns=["a", "b"])
    rows = [[inert(v) for v in r] for r in rows]
    # A line's first text never starts like a formula, not even a plain number (“-4”).
    rows = [["'" + a if a.startswith(FORMULA_START) else a, b] for a, b in rows]
    keep = [not any(_PIECE_LIKE_FORMULA.search(v) for v in r) for r in rows]
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    frame = frame.loc[keep]
    target = tmp_path_factory.mktemp("csv") / "x.csv"
    write_csv(frame, target)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["a", "b"])
    writer.writerows(rows)
    assert target.read_bytes() == buffer.getvalue().encode("utf-8-sig")


PAYLOADS = [
    "Nhiều thành tích;=1+1",
    "Tốt, -cmd|' /C calc'!A0",
    "Hai dòng\n@SUM(1+1)",
    "Liên hệ;+84 912 345 678;-cmd",
]


def test_every_export_of_a_run_is_inert(
    tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    """A real run: the senders' texts in every CSV, no formula in any reading of any CSV."""
    folder = tmp_path / "vao"
    folder.mkdir()
    codes = sorted(c for c in registry.units if c.startswith("THPT"))[: len(PAYLOADS)]
    for code, payload in zip(codes, PAYLOADS, strict=True):
        values = {**CLEAN_SCHOOL, "results_summary": payload, "difficulties": payload}
        save(school_workbook(schemas, registry, settings, code, values), folder / f"{code}.xlsx")
    out = tmp_path / "ra"
    res = CliRunner().invoke(
        main,
        ["validate", str(folder), "--output", str(out), "--year", "2026", "-q", "--workers", "1"],
    )
    assert res.exit_code == 0, res.output
    exports = sorted((out / "2026").rglob("*.csv"))
    assert len(exports) >= 5
    values = (out / "2026" / "data" / "values.csv").read_text(encoding="utf-8-sig")
    for payload in PAYLOADS:
        assert csv_field(inert(payload)) in values, payload
    for path in exports:
        assert _formulas(path.read_bytes()) == [], path.name
