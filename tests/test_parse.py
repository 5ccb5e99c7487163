"""Tolerant cell parsing (pipeline/parse.py): values as people really type them.

Tables of examples pin every rule of the module docstring (Vietnamese number formats and
their ambiguous cases, money words, percent scaling, yes/no spellings, choice labels
without diacritics, day-first dates, text clean-up, formula errors); hypothesis round-trips
check that whatever a unit types in the documented formats reads back exactly, and that
parse_cell never raises, whatever a reader hands it.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.issues import CATALOGUE
from pipeline.model import Located
from pipeline.parse import (
    BLANK,
    EXCEL_ERRORS,
    Parsed,
    Problem,
    excel_serial_to_date,
    fold,
    format_vn_number,
    is_plausible_email,
    normalize_text,
    parse_cell,
    parse_choice,
    parse_date,
    parse_number,
    parse_text,
    parse_yes_no,
)
from pipeline.schema import FIELD_TYPES, Choice, Field

# Choice lists as in schemas/report.yaml, copied so these tests pin the matching rules
# even when the department rewords a label.
LDU_LEVEL = (
    Choice("none", "Chưa đạt", 0),
    Choice("level_1", "Mức 1", 1),
    Choice("level_2", "Mức 2", 2),
)
DIGITAL_LEVEL = (
    Choice("below", "Chưa đạt mức 1", 0),
    Choice("basic", "Mức 1 - Đáp ứng cơ bản", 1),
    Choice("fair", "Mức 2 - Đáp ứng khá", 2),
    Choice("good", "Mức 3 - Đáp ứng tốt", 3),
)
EMULATION_TITLE = (
    Choice("none", "Chưa đạt danh hiệu", 0),
    Choice("advanced", "Tập thể lao động tiên tiến", 1),
    Choice("excellent", "Tập thể lao động xuất sắc", 2),
)
PASS_FAIL = (Choice("pass", "Đạt", 1), Choice("fail", "Không đạt", 0))
AWARD_FORM = (
    Choice("director_certificate", "Giấy khen của Giám đốc Sở", 1),
    Choice("city_merit", "Bằng khen của Chủ tịch UBND thành phố", 2),
    Choice("pm_merit", "Bằng khen của Thủ tướng Chính phủ", 3),
)

INTEGER = Field("events", "Số hoạt động", "integer", "s", unit="hoạt động")
PEOPLE = Field("total", "Tổng số", "integer", "s", unit="người")
NEWS = Field("news", "Số tin, bài", "integer", "s", unit="tin, bài")
DECIMAL = Field("hours", "Số giờ", "decimal", "s")
PERCENT = Field("rate", "Tỷ lệ", "percent", "s")
MONEY = Field("funds", "Kinh phí", "money", "s", unit="đồng")
YES_NO = Field("plan", "Có kế hoạch", "yes_no", "s")
CHOICE = Field("level", "Mức", "choice", "s", choices="ldu_level")
DATE = Field("day", "Ngày báo cáo", "date", "s")
TEXT = Field("name", "Họ tên", "text", "s")
LONG = Field("summary", "Kết quả", "text", "s", long=True)
EMAIL = Field("email", "Thư điện tử", "text", "s", pattern="email")
FIELDS = {
    "integer": INTEGER,
    "decimal": DECIMAL,
    "percent": PERCENT,
    "money": MONEY,
    "yes_no": YES_NO,
    "choice": CHOICE,
    "date": DATE,
    "text": TEXT,
}
assert set(FIELDS) == set(FIELD_TYPES)


def cell(value: Any, **kw: Any) -> Located:
    return Located(value, "Thông tin chung", "D12", **kw)


def codes(parsed: Parsed) -> list[str]:
    return [p.code for p in parsed.problems]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# --------------------------------------------------------------------------------------
# Blank, dash, formulas
# --------------------------------------------------------------------------------------

BLANKS = [None, "", "   ", "\u00a0", "\u00a0 \u202f\u2007", "\t\n", "-", "—", "–", " -- ", "\u200b"]


@pytest.mark.parametrize("field", FIELDS.values(), ids=list(FIELDS))
@pytest.mark.parametrize("value", BLANKS, ids=repr)
def test_blank_and_lone_dash_are_blank_without_problem(field: Field, value: Any) -> None:
    assert parse_cell(cell(value), field, LDU_LEVEL) == BLANK


@pytest.mark.parametrize("field", FIELDS.values(), ids=list(FIELDS))
def test_formula_without_cached_value(field: Field) -> None:
    parsed = parse_cell(cell(None, formula_no_cache=True), field, LDU_LEVEL)
    assert parsed.value is None
    assert codes(parsed) == ["formula-no-cache"]
    message = parsed.problems[0].message
    assert "công thức" in message and "Excel" in message and "LibreOffice" in message


@pytest.mark.parametrize("field", FIELDS.values(), ids=list(FIELDS))
@pytest.mark.parametrize("error", ["#REF!", "#DIV/0!", "#N/A"])
def test_cell_error_is_formula_error(field: Field, error: str) -> None:
    parsed = parse_cell(cell(0, error=error), field, LDU_LEVEL)
    assert parsed.value is None
    assert codes(parsed) == ["formula-error"]
    assert f"“{error}”" in parsed.problems[0].message


@pytest.mark.parametrize("field", FIELDS.values(), ids=list(FIELDS))
@pytest.mark.parametrize(
    "literal", ["#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!", " #ref! "]
)
def test_error_literal_text_is_formula_error(field: Field, literal: str) -> None:
    parsed = parse_cell(cell(literal), field, LDU_LEVEL)
    assert (parsed.value, codes(parsed)) == (None, ["formula-error"])


def test_error_literals_cover_excel_classics() -> None:
    assert {"#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!"} <= EXCEL_ERRORS


# What each error means, in the words the message must use, and what to do about it.
ERROR_MEANINGS = [
    ("#DIV/0!", "chia cho 0"),
    ("#N/A", "không tìm thấy giá trị cần tra"),
    ("#VALUE!", "sai loại dữ liệu"),
    ("#REF!", "đã bị xóa"),
    ("#NAME?", "tên hàm"),
    ("#NUM!", "không phải số hợp lệ"),
    ("#NULL!", "hai vùng không giao nhau"),
    ("#SPILL!", "tràn sang các ô"),
    ("#GETTING_DATA", "công thức trong ô bị lỗi"),  # no particular meaning: the general one
]


@pytest.mark.parametrize(("literal", "meaning"), ERROR_MEANINGS)
def test_formula_error_message_says_what_it_means_and_what_to_do(
    literal: str, meaning: str
) -> None:
    for located in (cell(literal, error=literal), cell(literal.lower())):
        parsed = parse_cell(located, INTEGER)
        assert (parsed.value, codes(parsed)) == (None, ["formula-error"])
        message = parsed.problems[0].message
        assert f"“{literal}”" in message and meaning in message
        assert "không được tính" in message
        assert "Thay công thức bằng số liệu (nhập trực tiếp con số)" in message


def test_error_meanings_cover_every_classic_literal() -> None:
    assert {m for m, _ in ERROR_MEANINGS} >= {
        "#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!"
    }  # fmt: skip


# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Nguyễn   Văn  A ", "Nguyễn Văn A"),
        (nfd("Nguyễn Văn A"), "Nguyễn Văn A"),
        ("Trường\u00a0THPT\u202fChu\u2007Văn An", "Trường THPT Chu Văn An"),
        ("a\u200bb\ufeff", "ab"),
        ("dòng 1\ndòng 2", "dòng 1 dòng 2"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_long_text_keeps_paragraphs() -> None:
    raw = "\n  Dòng   1 \r\n\r\n\r\n Dòng\u00a02  \rDòng 3\n\n"
    assert normalize_text(raw, keep_newlines=True) == "Dòng 1\n\nDòng 2\nDòng 3"
    assert parse_cell(cell(raw), LONG).value == "Dòng 1\n\nDòng 2\nDòng 3"
    assert parse_cell(cell(raw), TEXT).value == "Dòng 1 Dòng 2 Dòng 3"


def test_fold_removes_diacritics() -> None:
    assert fold("Không Đạt") == "khong dat"
    assert fold(nfd("Tập thể lao động tiên tiến")) == "tap the lao dong tien tien"


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------

NUMBER_CASES: list[tuple[str, str, object, list[str]]] = [
    # Vietnamese separators
    ("integer", "1.234", 1234, []),
    ("integer", "1.234.567", 1234567, []),
    ("decimal", "12,5", 12.5, []),
    ("decimal", "1.234,5", 1234.5, []),
    ("decimal", "1.234.567,89", 1234567.89, []),
    # English style when both separators are present: the last one is the decimal mark
    ("decimal", "1,234.5", 1234.5, []),
    ("decimal", "1,234,567.25", 1234567.25, []),
    ("integer", "1,234,567", 1234567, []),
    # spaces and non-breaking spaces as thousands separators
    ("integer", "1 234 567", 1234567, []),
    ("integer", "1\u00a0234\u00a0567", 1234567, []),
    ("integer", "1\u202f234", 1234, []),
    ("decimal", "1 234,5", 1234.5, []),
    # a dot not followed by exactly three digits is a decimal point
    ("decimal", "1.5", 1.5, []),
    ("decimal", "3.14159", 3.14159, []),
    ("decimal", "0.125", 0.125, []),
    ("decimal", "0,5", 0.5, []),
    ("decimal", ",5", 0.5, []),
    ("decimal", "1234.567", 1234.567, []),
    # the ambiguous single comma + three digits
    ("integer", "1,234", 1234, ["ambiguous-number"]),
    ("money", "1,500", 1500, ["ambiguous-number"]),
    ("decimal", "1,234", 1.234, ["ambiguous-number"]),
    ("percent", "1,234%", 1.234, ["ambiguous-number"]),
    # a single dot + three digits is thousands, flagged where decimals are plausible
    ("decimal", "1.234", 1234.0, ["ambiguous-number"]),
    # signs
    ("integer", "-5", -5, []),
    ("integer", "+12", 12, []),
    ("integer", "−1.234", -1234, []),
    ("decimal", "- 2,5", -2.5, []),
    # whole decimals in integer fields, plain digits everywhere
    ("integer", "12,0", 12, []),
    ("integer", "007", 7, []),
    ("decimal", "12", 12.0, []),
    ("integer", "  42 ", 42, []),
    # the field's unit after the number
    ("integer", "12 hoạt động", 12, []),
    ("integer", "12 HOAT DONG", 12, []),
    # Excel's scientific display of big numbers
    ("decimal", "9,12E+08", 912000000.0, []),
    ("integer", "1.5E3", 1500, []),
    # money: currency marks, multipliers
    ("money", "1.500.000 đ", 1500000, []),
    ("money", "1.500.000đ", 1500000, []),
    ("money", "1.500.000₫", 1500000, []),
    ("money", "1.500.000 VNĐ", 1500000, []),
    ("money", "1.500.000 vnd", 1500000, []),
    ("money", "VND 1.500.000", 1500000, []),
    ("money", "1.500.000 đồng", 1500000, []),
    ("money", nfd("1.500.000 đồng"), 1500000, []),
    ("money", "1.500.000 dong", 1500000, []),
    ("money", "1,5 triệu", 1500000, []),
    ("money", "1,5 TRIỆU ĐỒNG", 1500000, []),
    ("money", "2 tỷ", 2000000000, []),
    ("money", "2,25 tỉ", 2250000000, []),
    ("money", "1 tỷ 200 triệu", 1200000000, []),
    ("money", "500 nghìn", 500000, []),
    ("money", "500k", 500000, []),
    ("money", "1.5tr", 1500000, []),
    ("money", "-2 triệu", -2000000, []),
    ("money", "1.234,5", 1234.5, []),
    # percent: points 0-100; a fraction without "%" is scaled
    ("percent", "85", 85.0, []),
    ("percent", "85%", 85.0, []),
    ("percent", "85 %", 85.0, []),
    ("percent", "85,5%", 85.5, []),
    ("percent", "85 phần trăm", 85.0, []),
    ("percent", "0,85", 85.0, ["ambiguous-number"]),
    ("percent", "1", 100.0, ["ambiguous-number"]),
    ("percent", "1%", 1.0, []),
    ("percent", "0,5%", 0.5, []),
    ("percent", "0", 0.0, []),
    ("percent", "100", 100.0, []),
]


@pytest.mark.parametrize(("kind", "text", "value", "problems"), NUMBER_CASES)
def test_parse_number(kind: str, text: str, value: object, problems: list[str]) -> None:
    unit = {"integer": "hoạt động", "money": "đồng"}.get(kind, "")
    parsed = parse_number(text, kind, unit)  # type: ignore[arg-type]
    assert parsed.value == value
    assert type(parsed.value) is type(value)
    assert codes(parsed) == problems


# Values as people type them on other keyboards and in cells formatted as text (15.6):
# (field, what the cell holds, value read, problems).
TYPED_CASES: list[tuple[Field, str, object, list[str]]] = [
    # full-width digits and marks (an East Asian input method, Unikey in full-width mode)
    (INTEGER, "１２", 12, []),
    (PEOPLE, "１２ người", 12, []),
    (PEOPLE, "１２　người", 12, []),  # ideographic space
    (INTEGER, "１.２３４", 1234, []),
    (INTEGER, "１．２３４．５６７", 1234567, []),
    (INTEGER, "－５", -5, []),
    (INTEGER, "＋５", 5, []),
    (DECIMAL, "１２，５", 12.5, []),
    (PERCENT, "８５％", 85.0, []),
    (MONEY, "１.５００.０００ đ", 1500000, []),
    (MONEY, "１,５ triệu", 1500000, []),
    (DATE, "０５/１２/２０２６", dt.date(2026, 12, 5), []),
    (DATE, "２０２６－１２－０５", dt.date(2026, 12, 5), []),
    (YES_NO, "１", True, []),
    (CHOICE, "Mức １", "level_1", []),
    (CHOICE, "２", "level_2", []),
    # the ambiguity rules hold for full-width forms as for ASCII
    (INTEGER, "１，２３４", 1234, ["ambiguous-number"]),
    # a leading text-prefix apostrophe ('12 in a cell formatted as text)
    (INTEGER, "'12", 12, []),
    (INTEGER, "' 12", 12, []),
    (INTEGER, "\u201912", 12, []),  # ’ after autocorrect
    (INTEGER, "\u201812", 12, []),  # ‘
    (INTEGER, "'1.234", 1234, []),
    (PERCENT, "'85%", 85.0, []),
    (MONEY, "'1.500.000", 1500000, []),
    (DATE, "'05/12/2026", dt.date(2026, 12, 5), []),
    (YES_NO, "'Có", True, []),
    (CHOICE, "'Mức 2", "level_2", []),
    (TEXT, "'0912345678", "0912345678", []),
    (TEXT, "'Xanh' trường học", "'Xanh' trường học", []),  # a quotation keeps its marks
    (TEXT, "Trường 'Xanh'", "Trường 'Xanh'", []),
    (EMAIL, "'lan@example.vn", "lan@example.vn", []),
    # thousands separated by any Unicode space or by apostrophes (Swiss locale)
    (INTEGER, "1\u2009234\u2009567", 1234567, []),  # thin space
    (INTEGER, "1\u2007234", 1234, []),  # figure space
    (INTEGER, "1'234'567", 1234567, []),
    (INTEGER, "1\u2019234", 1234, []),
    (DECIMAL, "1'234,5", 1234.5, []),
    (DECIMAL, "1'234.5", 1234.5, []),
    (MONEY, "2'500'000 đ", 2500000, []),
    # a date serial typed as text where the cell is a date: read, as a guess
    (DATE, "46000", dt.date(2025, 12, 9), ["date-from-serial"]),
    (DATE, "46000,5", dt.date(2025, 12, 9), ["date-from-serial"]),
    (DATE, "46000.0", dt.date(2025, 12, 9), ["date-from-serial"]),
    (DATE, "36526", dt.date(2000, 1, 1), ["date-from-serial"]),
    (DATE, "73415", dt.date(2100, 12, 31), ["date-from-serial"]),
    (DATE, "４６０００", dt.date(2025, 12, 9), ["date-from-serial"]),
    (DATE, "'46000", dt.date(2025, 12, 9), ["date-from-serial"]),
]


@pytest.mark.parametrize(("field", "text", "value", "problems"), TYPED_CASES)
def test_values_as_typed(field: Field, text: str, value: object, problems: list[str]) -> None:
    parsed = parse_cell(cell(text), field, LDU_LEVEL)
    assert parsed.value == value
    assert type(parsed.value) is type(value)
    assert codes(parsed) == problems


# What stays unreadable: these readings would be guesses too far.
NOT_TYPED_FORMS: list[tuple[Field, str, str]] = [
    (DATE, "36525", "invalid-date"),  # 31/12/1999: outside the window a report date sits in
    (DATE, "73416", "invalid-date"),
    (DATE, "12345", "invalid-date"),
    (DATE, "460000", "invalid-date"),
    (INTEGER, "12'34", "invalid-number"),  # apostrophes must group by three
    (INTEGER, "'1'2", "invalid-number"),
    (INTEGER, "１２ａ", "invalid-number"),  # full-width letters are not digits
    (INTEGER, "١٢", "invalid-number"),  # Arabic-Indic digits: nobody here types them
]


@pytest.mark.parametrize(("field", "text", "code"), NOT_TYPED_FORMS)
def test_forms_still_refused(field: Field, text: str, code: str) -> None:
    parsed = parse_cell(cell(text), field, LDU_LEVEL)
    assert (parsed.value, codes(parsed)) == (None, [code])


def test_date_from_serial_message_shows_the_date_read() -> None:
    message = parse_cell(cell("46000"), DATE).problems[0].message
    assert "“46000”" in message and "09/12/2025" in message and "05/12/2026" in message


@pytest.mark.parametrize("field", [INTEGER, DATE, YES_NO, CHOICE, TEXT], ids=lambda f: f.type)
@pytest.mark.parametrize("text", ["'", " ' ", "\u2019", "'-"])
def test_a_lone_text_prefix_is_blank(field: Field, text: str) -> None:
    expected = BLANK if field.type != "text" or text.strip() != "\u2019" else Parsed("\u2019")
    assert parse_cell(cell(text), field, LDU_LEVEL) == expected


def test_text_fields_keep_full_width_forms() -> None:
    # Text is what was typed: full-width digits in a name or a decision number stay.
    assert parse_cell(cell("Số １２/QĐ"), TEXT) == Parsed("Số １２/QĐ")


def test_percent_sign_survives_a_percent_unit() -> None:
    field = Field("rate", "Tỷ lệ", "percent", "s", unit="%")
    assert parse_cell(cell("0,5%"), field) == Parsed(0.5)
    assert parse_cell(cell("85 %"), field) == Parsed(85.0)


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (PEOPLE, "12 người", 12),
        (PEOPLE, "12người", 12),
        (NEWS, "5 bài", 5),
        (NEWS, "5 tin, bài", 5),
    ],
)
def test_unit_after_number(field: Field, text: str, value: int) -> None:
    assert parse_cell(cell(text), field) == Parsed(value)


INVALID_NUMBERS: list[tuple[str, str, str]] = [
    ("integer", "mười", "invalid-number"),
    ("integer", "abc", "invalid-number"),
    ("integer", "12a", "invalid-number"),
    ("integer", "khoảng 12", "invalid-number"),
    ("integer", "không", "invalid-number"),
    ("integer", "12 người", "invalid-number"),  # not this field's unit
    ("integer", "85%", "invalid-number"),
    ("integer", "1.2.3", "invalid-number"),
    ("integer", "1.23.456", "invalid-number"),
    ("decimal", "1.2,3", "invalid-number"),
    ("decimal", "1,23.456", "invalid-number"),
    ("decimal", "12 5", "invalid-number"),
    ("decimal", "1e400", "invalid-number"),
    ("decimal", "nan", "invalid-number"),
    ("decimal", "inf", "invalid-number"),
    ("decimal", "1_000", "invalid-number"),
    ("decimal", "12.", "invalid-number"),
    ("money", "200 triệu 1 tỷ", "invalid-number"),
    ("money", "nhiều tiền", "invalid-number"),
    ("percent", "cao", "invalid-percent"),
    ("percent", "85%%", "invalid-percent"),
    ("integer", "12,5", "not-whole-number"),
    ("integer", "1.234,5", "not-whole-number"),
    ("integer", "0,5", "not-whole-number"),
]


@pytest.mark.parametrize(("kind", "text", "code"), INVALID_NUMBERS)
def test_invalid_numbers(kind: str, text: str, code: str) -> None:
    parsed = parse_number(text, kind)  # type: ignore[arg-type]
    assert parsed.value is None
    assert codes(parsed) == [code]
    assert f"“{normalize_text(text)}”" in parsed.problems[0].message


def test_not_whole_number_message() -> None:
    parsed = parse_cell(cell("12,5"), INTEGER)
    assert parsed.problems[0].message == (
        "Ô này cần một số nguyên, nhưng có “12,5”. Nhập số nguyên, ví dụ 12."
    )


NUMERIC_CELLS: list[tuple[Field, object, object, list[str]]] = [
    (INTEGER, 12, 12, []),
    (INTEGER, 12.0, 12, []),
    (INTEGER, 11.999999999999998, 12, []),  # formula noise
    (INTEGER, -3.0, -3, []),
    (INTEGER, 12.5, None, ["not-whole-number"]),
    (INTEGER, True, None, ["invalid-number"]),
    (INTEGER, False, None, ["invalid-number"]),
    (INTEGER, dt.date(2026, 1, 5), None, ["invalid-number"]),
    (INTEGER, Decimal("7"), 7, []),
    (DECIMAL, Decimal("1.234"), 1.234, []),  # a Decimal is a number, not text to re-read
    (DECIMAL, 12, 12.0, []),
    (DECIMAL, 2.5, 2.5, []),
    (DECIMAL, True, None, ["invalid-number"]),
    (MONEY, 1500000, 1500000, []),
    (MONEY, 1500000.0, 1500000, []),
    (MONEY, 1234.5, 1234.5, []),
    (PERCENT, 0.85, 85.0, []),
    (PERCENT, 1, 100.0, []),
    (PERCENT, 1.0, 100.0, []),
    (PERCENT, 0.5, 50.0, []),
    (PERCENT, 0.123, 12.3, []),
    (PERCENT, 0, 0.0, []),
    (PERCENT, 85, 85.0, []),
    (PERCENT, 85.5, 85.5, []),
    (PERCENT, True, None, ["invalid-percent"]),
    # Beyond a 64-bit whole number: a typo, and it would not fit the count's column.
    (INTEGER, 2**63 - 1, 2**63 - 1, []),
    (INTEGER, 2**63, None, ["above-maximum"]),
    (INTEGER, -(2**63) - 1, None, ["below-minimum"]),
    (INTEGER, 3.148461519008816e21, None, ["above-maximum"]),
    (INTEGER, "99999999999999999999999", None, ["above-maximum"]),
    (MONEY, "1" + "0" * 300, None, ["above-maximum"]),
]


@pytest.mark.parametrize(("field", "value", "expected", "problems"), NUMERIC_CELLS)
def test_numeric_cells(field: Field, value: object, expected: object, problems: list[str]) -> None:
    parsed = parse_cell(cell(value), field)
    assert parsed.value == expected
    assert type(parsed.value) is type(expected)
    assert codes(parsed) == problems


@pytest.mark.parametrize("field", [INTEGER, DECIMAL, PERCENT, MONEY], ids=lambda f: f.type)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_invalid_numbers(field: Field, value: float) -> None:
    parsed = parse_cell(cell(value), field)
    assert (parsed.value, codes(parsed)) == (None, ["invalid-number"])


def test_numpy_and_pandas_scalars() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    assert parse_cell(cell(np.int64(5)), INTEGER) == Parsed(5)
    assert parse_cell(cell(np.float64(5.0)), INTEGER) == Parsed(5)
    assert parse_cell(cell(np.bool_(True)), YES_NO) == Parsed(True)
    assert parse_cell(cell(pd.Timestamp("2026-12-05 10:00")), DATE) == Parsed(dt.date(2026, 12, 5))
    assert codes(parse_cell(cell(pd.NaT), DATE)) == ["invalid-number"]


def test_format_vn_number() -> None:
    assert format_vn_number(1234567) == "1.234.567"
    assert format_vn_number(-1234.5) == "-1.234,5"
    assert format_vn_number(12.0) == "12"
    assert format_vn_number(math.nan) == "NaN"
    assert format_vn_number(0.1 + 0.2) == "0,3"


# --------------------------------------------------------------------------------------
# Yes / no
# --------------------------------------------------------------------------------------

YES = ["Có", "có", "CÓ", "co", "CO", "x", "X", "c", "yes", "Yes", "y", "1", "true", "TRUE"]
YES += ["đúng", "Đúng", "dung", "đã", "da", "rồi", "roi", "✓", nfd("Có"), " có. "]
NO = ["Không", "không", "KHÔNG", "khong", "ko", "k", "K", "no", "NO", "n", "0", "false"]
NO += ["FALSE", "sai", "Sai", "chưa", "chua", nfd("Không"), "không có"]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) == Parsed(True)
    assert parse_cell(cell(text), YES_NO) == Parsed(True)


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    assert parse_yes_no(text) == Parsed(False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), (1.0, True), (0.0, False)],
)
def test_yes_no_cells(value: object, expected: bool) -> None:
    assert parse_cell(cell(value), YES_NO) == Parsed(expected)


@pytest.mark.parametrize("value", ["có lẽ", "2", "maybe", "đạt", 2, 0.5, dt.date(2026, 1, 1)])
def test_invalid_yes_no(value: object) -> None:
    parsed = parse_cell(cell(value), YES_NO)
    assert (parsed.value, codes(parsed)) == (None, ["invalid-yes-no"])
    assert "“Có” hoặc “Không”" in parsed.problems[0].message


# --------------------------------------------------------------------------------------
# Choice
# --------------------------------------------------------------------------------------

CHOICE_CASES: list[tuple[tuple[Choice, ...], object, str]] = [
    (LDU_LEVEL, "Mức 1", "level_1"),
    (LDU_LEVEL, "mức 1", "level_1"),
    (LDU_LEVEL, "  MỨC   2 ", "level_2"),
    (LDU_LEVEL, nfd("Mức 2"), "level_2"),
    (LDU_LEVEL, "muc 1", "level_1"),
    (LDU_LEVEL, "Chưa đạt", "none"),
    (LDU_LEVEL, "chua dat", "none"),
    (LDU_LEVEL, "level_1", "level_1"),
    (LDU_LEVEL, "LEVEL_2", "level_2"),
    (LDU_LEVEL, "1", "level_1"),
    (LDU_LEVEL, "2", "level_2"),
    (LDU_LEVEL, 2, "level_2"),
    (LDU_LEVEL, 2.0, "level_2"),
    (EMULATION_TITLE, "Tap the lao dong tien tien", "advanced"),
    (EMULATION_TITLE, "tập thể lao động xuất sắc", "excellent"),
    (DIGITAL_LEVEL, "Mức 1 - Đáp ứng cơ bản", "basic"),
    (DIGITAL_LEVEL, "Mức 2 – Đáp ứng khá", "fair"),
    (DIGITAL_LEVEL, "Muc 3-Dap ung tot", "good"),
    (DIGITAL_LEVEL, "Mức 1", "basic"),  # the part before " - " is unique
    (DIGITAL_LEVEL, "đáp ứng khá", "fair"),  # so is the part after
    (DIGITAL_LEVEL, "2", "fair"),
    (DIGITAL_LEVEL, "Chưa đạt mức 1", "below"),
    (PASS_FAIL, "Đạt", "pass"),
    (PASS_FAIL, "Đạt.", "pass"),
    (PASS_FAIL, "dat", "pass"),
    (PASS_FAIL, "KHONG DAT", "fail"),
    (AWARD_FORM, "giấy khen của giám đốc sở", "director_certificate"),
]


@pytest.mark.parametrize(("choices", "value", "code"), CHOICE_CASES)
def test_choice(choices: tuple[Choice, ...], value: object, code: str) -> None:
    assert parse_cell(cell(value), CHOICE, choices) == Parsed(code)


@pytest.mark.parametrize(
    ("choices", "value"),
    [
        (LDU_LEVEL, "Mức 3"),
        (LDU_LEVEL, "3"),
        (LDU_LEVEL, "0"),
        (LDU_LEVEL, "đạt"),
        (DIGITAL_LEVEL, "1"),  # both "Chưa đạt mức 1" and "Mức 1 - …" contain 1
        (PASS_FAIL, "ok"),
        (AWARD_FORM, "Bằng khen"),
        (LDU_LEVEL, True),
    ],
)
def test_invalid_choice_lists_labels(choices: tuple[Choice, ...], value: object) -> None:
    parsed = parse_cell(cell(value), CHOICE, choices)
    assert (parsed.value, codes(parsed)) == (None, ["invalid-choice"])
    message = parsed.problems[0].message
    assert all(f"“{c.label}”" in message for c in choices)


def test_choice_accepts_any_sequence() -> None:
    assert parse_choice("muc 2", list(LDU_LEVEL)) == Parsed("level_2")
    assert codes(parse_choice("Mức 1", ())) == ["invalid-choice"]


def test_choice_with_real_schema() -> None:
    from pipeline.schema import load_schemas

    report = load_schemas().report
    for name, choices in report.choices.items():
        for choice in choices:
            assert parse_choice(choice.label, choices) == Parsed(choice.code), name
            assert parse_choice(fold(choice.label), choices) == Parsed(choice.code), name
            assert parse_choice(choice.code.upper(), choices) == Parsed(choice.code), name


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------

D = dt.date(2026, 12, 5)
DATE_CASES: list[tuple[object, dt.date]] = [
    ("05/12/2026", D),
    ("5/12/2026", D),
    ("05-12-2026", D),
    ("05.12.2026", D),
    ("5 / 12 / 2026", D),
    ("2026-12-05", D),
    ("2026/12/05", D),
    ("2026-12-05 00:00:00", D),
    ("05/12/2026 14:30", D),
    ("5/12/26", D),
    ("ngày 05 tháng 12 năm 2026", D),
    ("Hà Nội, ngày 5 tháng 12 năm 2026", D),
    (nfd("ngày 5 tháng 12 năm 2026"), D),
    ("01/02/2026", dt.date(2026, 2, 1)),  # day first, never swapped
    ("12/01/2026", dt.date(2026, 1, 12)),
    (dt.datetime(2026, 12, 5, 8, 30), D),
    (D, D),
    (46361, D),  # Excel serial
    (46361.75, D),  # with a time of day
    (1, dt.date(1900, 1, 1)),
    (59, dt.date(1900, 2, 28)),
    (61, dt.date(1900, 3, 1)),
    (45658, dt.date(2025, 1, 1)),
    (2958465, dt.date(9999, 12, 31)),
]


@pytest.mark.parametrize(("value", "expected"), DATE_CASES)
def test_dates(value: object, expected: dt.date) -> None:
    parsed = parse_cell(cell(value), DATE)
    assert parsed == Parsed(expected)
    assert type(parsed.value) is dt.date


@pytest.mark.parametrize(
    "value",
    [
        "31/02/2026",
        "29/02/2025",
        "13/13/2026",
        "00/12/2026",
        "05/12",
        "2026",
        "12/2026",
        "hôm nay",
        "5/12/1800",
        "05/12-2026",
        2026,  # a year typed alone, not the serial for 1905
        60,  # 29/02/1900 does not exist
        0,
        -5,
        3_000_000,
        True,
        dt.time(8, 30),
    ],
    ids=repr,
)
def test_invalid_dates(value: object) -> None:
    parsed = parse_cell(cell(value), DATE)
    assert (parsed.value, codes(parsed)) == (None, ["invalid-date"])
    assert "05/12/2026" in parsed.problems[0].message


def test_impossible_date_message_quotes_value() -> None:
    message = parse_date("31/02/2026").problems[0].message
    assert "“31/02/2026”" in message and "không có thật" in message


def test_excel_serial() -> None:
    assert excel_serial_to_date(60) is None
    assert excel_serial_to_date(0) is None
    assert excel_serial_to_date(2958466) is None


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------

TEXT_CELLS: list[tuple[object, str]] = [
    ("  Trường THPT  A ", "Trường THPT A"),
    (912345678.0, "912345678"),
    (912345678, "912345678"),
    (12.5, "12.5"),
    (0.1 + 0.2, "0.3"),  # as Excel displays it
    (dt.datetime(2026, 12, 5), "05/12/2026"),
    (dt.datetime(2026, 12, 5, 14, 30), "05/12/2026 14:30"),
    (dt.date(2026, 1, 2), "02/01/2026"),
    (dt.time(8, 30), "08:30"),
    (True, "TRUE"),
    ("0912 345 678", "0912 345 678"),
]


@pytest.mark.parametrize(("value", "expected"), TEXT_CELLS)
def test_text_cells(value: object, expected: str) -> None:
    assert parse_cell(cell(value), TEXT) == Parsed(expected)


@pytest.mark.parametrize(
    "text",
    [
        "nguyen.van.a@truong.edu.vn",
        "A.Nguyen+bc@Gmail.COM",
        "mailto:a@b.vn",
        "a@b.vn; c@d.edu.vn",
        " a@b.vn ",
    ],
)
def test_plausible_email(text: str) -> None:
    assert is_plausible_email(normalize_text(text))
    assert parse_cell(cell(text), EMAIL) == Parsed(normalize_text(text))


@pytest.mark.parametrize(
    "text", ["a@b", "nguyen van a@b.vn", "a.@b.vn", "@b.vn", "a@@b.vn", "nguyễn@b.vn", "0912345678"]
)
def test_implausible_email_keeps_value_with_warning(text: str) -> None:
    parsed = parse_cell(cell(text), EMAIL)
    assert parsed.value == text
    assert codes(parsed) == ["invalid-email"]
    assert parsed.problems[0].effective_severity == "warning"
    assert parsed.ok


# --------------------------------------------------------------------------------------
# Problems and messages
# --------------------------------------------------------------------------------------


def test_problem_to_issue() -> None:
    parsed = parse_cell(cell("12,5"), INTEGER)
    issue = parsed.problems[0].to_issue(cell("12,5"), field="events", file="a.xlsx")
    assert (issue.code, issue.severity, issue.sheet, issue.cell) == (
        "not-whole-number",
        "error",
        "Thông tin chung",
        "D12",
    )
    assert (issue.field, issue.file, issue.value) == ("events", "a.xlsx", "12,5")
    assert not parsed.ok
    warning = Problem("ambiguous-number", "m", "info")
    assert warning.to_issue().severity == "info"


ALL_PROBLEM_INPUTS: list[tuple[Field, object]] = [
    (INTEGER, "abc"),
    (INTEGER, "1,234"),
    (INTEGER, 12.5),
    (PERCENT, "x"),
    (PERCENT, "0,5"),
    (DECIMAL, "1.234"),
    (DECIMAL, math.inf),
    (YES_NO, "?"),
    (CHOICE, "?"),
    (DATE, "31/02/2026"),
    (DATE, "?"),
    (DATE, 2026),
    (EMAIL, "?"),
    (TEXT, "#REF!"),
    *((INTEGER, literal) for literal, _ in ERROR_MEANINGS),
    (DATE, "46000"),
]


@pytest.mark.parametrize(("field", "value"), ALL_PROBLEM_INPUTS)
def test_messages_are_vietnamese_nfc_and_catalogued(field: Field, value: object) -> None:
    parsed = parse_cell(cell(value), field, LDU_LEVEL)
    assert parsed.problems
    for problem in parsed.problems:
        assert problem.code in CATALOGUE
        assert problem.message == unicodedata.normalize("NFC", problem.message)
        assert problem.message.endswith(".")
        assert len(problem.message) < 250


def test_long_raw_value_is_shortened_in_message() -> None:
    parsed = parse_cell(cell("x" * 500), INTEGER)
    assert len(parsed.problems[0].message) < 200


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def vn_thousands(n: int, sep: str = ".") -> str:
    return f"{n:,}".replace(",", sep)


@given(st.integers(), st.sampled_from([".", " ", "\u00a0", "\u202f"]))
def test_roundtrip_integers_with_thousands(n: int, sep: str) -> None:
    text = vn_thousands(n, sep)
    assert parse_number(text, "integer") == Parsed(n)
    assert parse_number(text, "money") == Parsed(n)
    parsed = parse_cell(cell(text), INTEGER)
    if -(2**63) <= n < 2**63:
        assert parsed == Parsed(n)
    else:  # a cell's count must fit a 64-bit column
        assert parsed.value is None
        assert codes(parsed) == ["above-maximum" if n > 0 else "below-minimum"]


_TO_FULL_WIDTH = str.maketrans({**{str(d): chr(0xFF10 + d) for d in range(10)}, ".": "．"})


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["", " người"]))
def test_roundtrip_full_width_integers(n: int, unit: str) -> None:
    typed = vn_thousands(n).translate(_TO_FULL_WIDTH).replace("-", "－") + unit
    assert parse_cell(cell(typed), PEOPLE) == Parsed(n)
    assert parse_cell(cell("'" + vn_thousands(n)), PEOPLE) == Parsed(n)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_roundtrip_serial_typed_as_text(d: dt.date) -> None:
    serial = (d - dt.date(1899, 12, 30)).days
    parsed = parse_cell(cell(str(serial)), DATE)
    assert (parsed.value, codes(parsed)) == (d, ["date-from-serial"])


_VIETNAMESE = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)


@given(
    st.text(
        alphabet=_VIETNAMESE + _VIETNAMESE.upper() + " '0123456789１２３．，－",
        min_size=1,
        max_size=40,
    )
)
def test_full_width_folding_never_changes_a_letter(s: str) -> None:
    # Text fields keep everything but spaces; other fields fold only full-width digits and
    # marks: whatever they read, no Vietnamese letter of the input was changed to get it.
    text = parse_cell(cell(s), TEXT).value
    stripped = " ".join(s.split())
    if stripped.startswith("'") and "'" not in stripped[1:]:
        stripped = stripped[1:].lstrip()
    assert text == (stripped or None)
    letters = [ch for ch in s if ch.isalpha()]
    parsed = parse_cell(cell(s), CHOICE, LDU_LEVEL)
    if letters and parsed.value is not None:
        # Only "Mức n", "Chưa đạt" and codes match; their letters are the input's.
        assert fold("".join(letters)) in {"muc", "chuadat", "level", "none"}


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_roundtrip_money_with_currency(n: int) -> None:
    assert parse_number(vn_thousands(n) + " đ", "money") == Parsed(n)
    assert parse_number(vn_thousands(n) + "VNĐ", "money") == Parsed(n)


@given(st.integers())
def test_roundtrip_format_vn_number(n: int) -> None:
    assert parse_number(format_vn_number(n), "integer").value == n


@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)
)
def test_roundtrip_decimals_vietnamese_and_english(d: Decimal) -> None:
    english = f"{d:,.2f}"  # "1,234.56"
    vietnamese = english.replace(",", "_").replace(".", ",").replace("_", ".")  # "1.234,56"
    assert parse_number(vietnamese, "decimal") == Parsed(float(d))
    assert parse_number(english, "decimal") == Parsed(float(d))
    assert parse_number(vietnamese.replace(".", ""), "decimal") == Parsed(float(d))


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_roundtrip_dates(d: dt.date) -> None:
    for text in (
        d.strftime("%d/%m/%Y"),
        f"{d.day}/{d.month}/{d.year}",
        d.strftime("%d-%m-%Y"),
        d.strftime("%d.%m.%Y"),
        d.isoformat(),
    ):
        assert parse_date(text) == Parsed(d), text
    assert parse_cell(cell(d.strftime("%d/%m/%Y")), DATE) == Parsed(d)
    assert parse_cell(cell(dt.datetime(d.year, d.month, d.day)), DATE) == Parsed(d)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_two_digit_years_are_this_century(d: dt.date) -> None:
    assert parse_date(f"{d.day}/{d.month}/{d.year % 100:02d}") == Parsed(d)


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)))
def test_roundtrip_excel_serial(d: dt.date) -> None:
    serial = (d - dt.date(1899, 12, 30)).days
    assert excel_serial_to_date(serial) == d
    assert excel_serial_to_date(serial + 0.5) == d


@given(st.text())
def test_text_is_nfc_and_normalisation_is_idempotent(s: str) -> None:
    parsed = parse_text(nfd(s))
    if parsed.value is None:
        return
    assert isinstance(parsed.value, str)
    assert parsed.value == unicodedata.normalize("NFC", parsed.value)
    assert parsed.value == parse_text(parsed.value).value
    assert parsed.value == parse_text(unicodedata.normalize("NFC", s)).value


@given(st.text(alphabet="aăâeêioôơuưyAĂÂĐđ \u0300\u0301\u0303\u0309\u0323"))
def test_nfd_input_equals_nfc_input(s: str) -> None:
    nfc = unicodedata.normalize("NFC", s)
    assert parse_text(nfd(s)) == parse_text(nfc)
    assert parse_yes_no(nfd(s)) == parse_yes_no(nfc)
    assert parse_choice(nfd(s), LDU_LEVEL) == parse_choice(nfc, LDU_LEVEL)


class Weird:
    def __str__(self) -> str:
        raise RuntimeError("no text")


ANY_VALUE = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet="0123456789.,- %đ\u00a0eE+"),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([object(), Weird(), [1], {"a": 1}, b"\xff", 1j]),
)
VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "decimal": (float,),
    "percent": (float,),
    "money": (int, float),
    "yes_no": (bool,),
    "choice": (str,),
    "date": (dt.date,),
    "text": (str,),
}


@given(
    ANY_VALUE,
    st.sampled_from([*FIELDS.values(), LONG, EMAIL, PEOPLE]),
    st.booleans(),
    st.sampled_from([None, None, None, "#REF!"]),
)
def test_parse_cell_never_raises(value: Any, field: Field, no_cache: bool, error: Any) -> None:
    parsed = parse_cell(cell(value, formula_no_cache=no_cache, error=error), field, LDU_LEVEL)
    assert isinstance(parsed, Parsed)
    for problem in parsed.problems:
        assert problem.code in CATALOGUE
        assert problem.message
    if parsed.value is not None:
        assert type(parsed.value) in VALUE_TYPES[field.type]
        if field.type == "choice":
            assert parsed.value in {c.code for c in LDU_LEVEL}
    elif not parsed.problems:
        assert parsed == BLANK
    if isinstance(value, float) and not math.isfinite(value) and not (no_cache or error):
        assert codes(parsed) == ["invalid-number"]


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["integer", "money"]))
def test_numeric_cells_pass_through(n: int, kind: str) -> None:
    field = FIELDS[kind]
    assert parse_cell(cell(n), field) == Parsed(n)
    assert parse_cell(cell(float(n)), field) == Parsed(n)
