"""Tolerant parsing of cell values, the way people really type them.

Units fill the templates in Excel or LibreOffice, in Vietnamese or English locales, on
Windows or macOS, often by pasting from Word or a web page. A value therefore reaches us as
a number, a date, a boolean or free text such as "1.234.567 đ", "12 người", "khong" or
"5/12/26". This module turns one raw value into a typed value for its field
(:class:`pipeline.schema.Field`) and, when that cannot be done with confidence, into
:class:`Problem` records with a Vietnamese message that quotes what was found and says what
to type instead. It never raises on bad data: :func:`parse_cell` accepts any object.

Only the value itself is judged here. Whether a blank cell is allowed, whether a number is
within ``min``/``max`` and the cross-field rules are checked by the validation stage.

Decisions on ambiguous input (the department's user guide repeats them):

* **Blank**: None, "" and text made only of spaces (including non-breaking spaces) are
  blank, with no problem. A lone dash ("-", "–", "—", also repeated) is how many people
  write "nothing / not applicable"; it is read as blank too, in every field type, so it
  neither counts as zero nor satisfies a required field.
* **Text clean-up** (every type): NFC normalisation (macOS writes NFD), zero-width
  characters removed, NBSP/narrow NBSP/figure space treated as spaces, runs of spaces
  collapsed and the ends stripped. Line breaks are kept only in long text fields
  (``Field.long``), where runs of blank lines shrink to one.
* **As typed on other keyboards** (number, date, yes/no and choice fields): full-width
  digits and marks, as an East Asian input method types them ("１２", "１.２３４",
  "８５％", "０５/１２/２０２６", "－５"), read as their ASCII forms: a translation of those
  characters only, never NFKC, so no letter of a Vietnamese text changes. Certain, so
  no warning. Text fields keep what was typed.
* **Text prefix**: a leading apostrophe ("'12", also ‘ or ’), which Excel and LibreOffice
  keep in the string when the cell is formatted as text, is dropped in number, date,
  yes/no and choice fields. In text fields a leading "'" is dropped only when no other "'"
  follows ("'0912345678" → "0912345678"; "'Xanh' trường học" keeps its quotes). A lone
  apostrophe is blank.
* **Numbers**: the Vietnamese convention is "." for thousands and "," for decimals.

  - "1.234" and "1.234.567" are thousands (1234, 1234567); a dot followed by anything but
    exactly three digits is a decimal point ("1.5" → 1.5, "0.125" → 0.125, because a
    thousands group never starts with 0).
  - "12,5" is 12.5; "1.234,5" → 1234.5.
  - Both separators present: the last one is the decimal mark, the other must group
    thousands correctly ("1,234.5" → 1234.5; "1.2,3" is invalid).
  - Several commas are English thousands ("1,234,567" → 1234567).
  - Spaces between groups of three digits are thousands separators ("1 234 567"), any
    Unicode space: NBSP, narrow NBSP, thin space, figure space as well.
  - Apostrophes between groups of three digits are thousands separators too, as a Swiss
    locale shows numbers ("1'234'567", "1’234"); a "." or "," after them is the decimal
    mark ("1'234,5" → 1234.5).
  - **A single comma followed by exactly three digits** ("1,234") is ambiguous. In integer
    and money fields it is read as thousands (1234); in decimal and percent fields as a
    decimal (1.234). Either way an ``ambiguous-number`` warning tells the unit which
    reading was taken. A single dot followed by three digits is always thousands, but in
    decimal and percent fields (where an English-style decimal is plausible) it also gets
    the warning.
  - A leading "+", "-" or "−" is accepted; negatives stay negative (range checks are
    elsewhere). Scientific notation ("9,12E+08", as Excel shows big numbers) is accepted.
  - Words are not numbers: "mười", "12a", "khoảng 12" are ``invalid-number``.
  - Numeric cells pass through. A float cell in an integer field must be whole (within
    1e-9, so that formula noise such as 11.999999999999998 reads as 12); otherwise
    ``not-whole-number``. Booleans, dates, NaN and infinities are ``invalid-number``.
  - Integer and other numeric fields accept the field's unit after the number
    ("12 người", "5 lượt"; for "tin, bài" either word), with or without diacritics.
  - Money accepts "đ", "₫", "d", "đồng", "VNĐ", "VND" (before or after, any case) and the
    multipliers "nghìn"/"ngàn"/"k" (×1 000), "triệu"/"tr" (×1 000 000) and "tỷ"/"tỉ"
    (×1 000 000 000), also chained from large to small ("1 tỷ 200 triệu"). The result is
    an int when whole.
* **Percent** (decided by the field type) is in percentage points, 0–100: "85", "85%",
  "85 %", "85 phần trăm" → 85.0. A value v with 0 < v ≤ 1 and **no "%" sign** is a
  fraction and is multiplied by 100: a cell formatted as % stores 0.85 for 85%, and
  "0,85" typed as text is read the same way (with an ``ambiguous-number`` warning for
  text, since "0,85" could mean 0.85%). So a numeric 1 is 100% and "1%" is 1%. Text
  carrying "%" is never scaled. Unreadable percentages are ``invalid-percent``.
* **Yes/no**: có/không, co/khong, ko, c/k, x or v or ✓ (a tick), yes/no, y/n, true/false,
  đúng/sai, đã/chưa, rồi, 1/0 (text or number) and Excel's TRUE/FALSE, any case, with or
  without diacritics. Anything else is ``invalid-yes-no``.
* **Choice**: the label or the code, ignoring case and spacing, then the same without
  diacritics; the part of a label before or after " - " when unique ("Mức 2" for
  "Mức 2 - Đáp ứng khá"); a bare number when exactly one label contains that number
  ("2" → "Mức 2", but "1" is refused where both "Chưa đạt mức 1" and "Mức 1 - …" exist).
  The result is the choice code. Anything else is ``invalid-choice`` listing the labels.
* **Date**: date and datetime cells give the date; Excel serial numbers (1900 system, with
  Lotus's non-existent 29/02/1900 = serial 60 refused; the 1904 system is the reader's
  business) are converted, except whole numbers 1900–2100, which are a year typed alone,
  not a date in 1905. Text is always **day before month** (never swapped):
  "dd/mm/yyyy", "d/m/yyyy", "dd-mm-yyyy", "dd.mm.yyyy", "yyyy-mm-dd" (an optional time is
  ignored) and "ngày 5 tháng 12 năm 2026". A two-digit year is 20yy ("5/12/26" →
  05/12/2026) because the reports cover 2023–2030. Impossible dates (31/02/2026) and years
  outside 1900–2100 are ``invalid-date``. A five-digit number typed as text ("46000",
  "46000,5": a date pasted as text, a date cell formatted as a number) between 36526 and
  73415 (01/01/2000–31/12/2100) is read as an Excel serial (46000 → 09/12/2025) with a
  ``date-from-serial`` warning, since it is a guess; any other number is ``invalid-date``.
* **Text**: numbers typed into text cells keep their digits (912345678.0 → "912345678",
  not "912345678.0"); dates become "dd/mm/yyyy" (with " HH:MM" when a time is present);
  booleans become "TRUE"/"FALSE". With ``pattern: email``, text that is not a plausible
  address (several addresses separated by ";" or "," are fine) keeps its value and gets an
  ``invalid-email`` warning.
* **Formulas**: a formula with no cached value (``Located.formula_no_cache``) is
  ``formula-no-cache``; an error shown by the cell (``Located.error``: a cell saved
  ``t="e"``, as Excel and LibreOffice save a formula's error result) or text that is
  exactly an Excel error literal (#REF!, #VALUE!, #DIV/0!, #N/A, #NAME?, #NUM!, #NULL!, …)
  is ``formula-error``, whose message says what that error means (#DIV/0!: the formula
  divides by 0) and to replace the formula by the figure. The value is not counted.

Parsing is the hot path (hundreds of thousands of cells per run), so regular expressions
are compiled once, int/float cells skip text handling, and choice look-up tables and
folded strings are cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pipeline.issues import CATALOGUE, Issue, Severity, make_issue
from pipeline.model import Located
from pipeline.schema import Choice, Field, FieldType

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value could not be read (or was read with a guess); becomes an Issue later."""

    code: str
    message: str
    severity: Severity | None = None  # None = the catalogue's default for `code`

    @property
    def effective_severity(self) -> Severity:
        return self.severity if self.severity is not None else CATALOGUE[self.code].severity

    def to_issue(self, cell: Located | None = None, **where: str) -> Issue:
        """Build the Issue, located at `cell` (sheet, cell and raw value) plus `where`."""
        if cell is not None:
            where.setdefault("sheet", cell.sheet)
            where.setdefault("cell", cell.cell)
            where.setdefault("value", _raw_for_issue(cell))
        return make_issue(self.code, self.message, self.severity, **where)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed value: None when blank or unparseable, with the problems found."""

    value: object
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings and infos keep the value usable)."""
        return all(p.effective_severity != "error" for p in self.problems)


BLANK = Parsed(None)

# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

# Zero-width characters and the soft hyphen come with text pasted from Word or the web and
# are invisible to the user, so they must not make "Có" differ from "Có".
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff\u00ad")
_LINE_BREAK_RE = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
_MAX_RAW_IN_MESSAGE = 60


def normalize_text(text: str, *, keep_newlines: bool = False) -> str:
    """NFC, invisible characters removed, spaces (NBSP included) collapsed, ends stripped.

    With `keep_newlines` (long text fields) line breaks survive, each line is cleaned on its
    own and runs of blank lines shrink to one, so paragraphs stay paragraphs.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    if not keep_newlines:
        # str.split() without arguments splits on every Unicode space, NBSP (U+00A0),
        # narrow NBSP (U+202F) and figure space (U+2007) included.
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in _LINE_BREAK_RE.split(text)]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


_FOLD_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case text without Vietnamese diacritics ("Không đạt" → "khong dat").

    People without a Vietnamese keyboard type "khong", and macOS files carry decomposed
    accents; comparing folded strings makes both match. Cached because the same few
    answers ("Có", "Đạt", "Mức 1") repeat across thousands of cells.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_TABLE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).casefold()


# Excel's error literals: a cached formula error read as plain text by some readers.
EXCEL_ERRORS = frozenset(
    {
        "#REF!",
        "#VALUE!",
        "#DIV/0!",
        "#N/A",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#GETTING_DATA",
    }
)
_DASHES = "-‐‑‒–—―−"


# Full-width forms of digits and of the marks around them, as an East Asian input method
# (or a Vietnamese keyboard in full-width mode) types them: only these, never a letter, so
# Vietnamese text is untouched (NFKC would also fold letters, ligatures, superscripts).
_FULL_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},
        "\uff0c": ",",  # ，
        "\uff0e": ".",  # ．
        "\uff05": "%",  # ％
        "\uff0b": "+",  # ＋
        "\uff0d": "-",  # －
        "\uff0f": "/",  # ／
        "\uff1a": ":",  # ：
    }
)
_TEXT_PREFIX = "'\u2018\u2019"
"""Excel's text prefix, the apostrophe, as it is kept in a cell formatted as text (and the
curly forms an autocorrecting editor turns it into)."""


def _prepare(text: str, keep_newlines: bool = False, typed: bool = False) -> str | Parsed:
    """Normalise; return the text, or the Parsed outcome for blank, dash or error literals.

    `typed`: the value of a number, date, yes/no or choice field, where full-width digits
    and separators read as their ASCII forms and a leading text-prefix apostrophe is dropped.
    """
    t = normalize_text(text, keep_newlines=keep_newlines)
    if typed and t:
        if not t.isascii():
            t = t.translate(_FULL_WIDTH)
        if t[0] in _TEXT_PREFIX:
            t = t[1:].lstrip()
    if not t:
        return BLANK
    first = t[0]
    if first == "#" and t.upper() in EXCEL_ERRORS:
        return _formula_error(t)
    if first in _DASHES and not t.strip(_DASHES):
        return BLANK
    return t


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------


def _quote(raw: str) -> str:
    if len(raw) > _MAX_RAW_IN_MESSAGE:
        raw = raw[: _MAX_RAW_IN_MESSAGE - 1] + "…"
    return f"“{raw}”"


def format_vn_number(value: int | float) -> str:
    """Display a number the Vietnamese way: "1.234.567", "1.234,5" (messages, not data)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("∞" if value > 0 else "-∞")
        if value.is_integer() and abs(value) < 1e16:
            value = int(value)
    if isinstance(value, int):
        if value.bit_length() > 3000:  # str() of such an int raises; nobody types one
            return "(số quá lớn)"
        return f"{value:,}".replace(",", ".")
    text = f"{value:.15g}"  # Excel's precision, so 0.1 + 0.2 reads 0,3
    if "e" in text or "E" in text or "." not in text:
        return text.replace(".", ",")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}".replace(",", ".") + "," + frac


def display_value(value: object) -> str:
    """What the user sees in the cell, for quoting in a message."""
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return format_vn_number(value)
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return _format_time(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format_vn_number(_decimal_to_number(value))
    try:
        return normalize_text(str(value))
    except Exception:  # a hostile __str__ must not break a message
        return type(value).__name__


def _raw_for_issue(cell: Located) -> str:
    if cell.error:
        return str(cell.error)
    if cell.value is None:
        return ""
    return display_value(cell.value)


def _format_datetime(value: dt.datetime) -> str:
    if value.hour or value.minute or value.second:
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def _format_time(value: dt.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


_NUMBER_HINT: dict[str, str] = {
    "integer": "Ô này cần một số nguyên, nhưng có {raw}. Nhập bằng chữ số, ví dụ 12.",
    "decimal": "Ô này cần một số, nhưng có {raw}. Nhập bằng chữ số, ví dụ 12,5.",
    "money": "Ô này cần số tiền (đồng), nhưng có {raw}. Nhập bằng chữ số, ví dụ 1.500.000.",
    "percent": (
        "Ô này cần một tỷ lệ phần trăm, nhưng có {raw}. Nhập số từ 0 đến 100, ví dụ 85 hoặc 85%."
    ),
}
_DATE_TYPED_AS_NUMBER = " Có thể Excel đã tự đổi thành ngày: định dạng ô là Number rồi nhập lại."


def _invalid_number(kind: str, raw: str, extra: str = "") -> Parsed:
    code = "invalid-percent" if kind == "percent" else "invalid-number"
    message = _NUMBER_HINT.get(kind, _NUMBER_HINT["decimal"]).format(raw=_quote(raw)) + extra
    return Parsed(None, (Problem(code, message),))


def _not_finite(value: float) -> Parsed:
    raw = format_vn_number(value)
    message = f"Ô này có giá trị số không hợp lệ ({_quote(raw)}). Nhập lại giá trị bằng chữ số."
    return Parsed(None, (Problem("invalid-number", message),))


_WHOLE_MIN, _WHOLE_MAX = -(2**63), 2**63 - 1
"""Whole numbers a count or an amount can hold (a 64-bit column): anything beyond is a typo,
and would not fit the column it goes into."""


def _beyond_storable(n: int, raw: str) -> Parsed:
    code = "above-maximum" if n > 0 else "below-minimum"
    message = (
        f"Số {_quote(raw)} vượt xa mức một số liệu có thể có (quá 19 chữ số). "
        "Kiểm tra lại, có thể đã gõ thừa chữ số."
    )
    return Parsed(None, (Problem(code, message),))


def _not_whole(raw: str, value: float) -> Parsed:
    example = int(value) if math.isfinite(value) and abs(value) < 1e18 else 12
    message = (
        f"Ô này cần một số nguyên, nhưng có {_quote(raw)}. "
        f"Nhập số nguyên, ví dụ {format_vn_number(example)}."
    )
    return Parsed(None, (Problem("not-whole-number", message),))


# What each error shown by a cell means, in the words a unit can act on.
_ERROR_MEANING: dict[str, str] = {
    "#DIV/0!": "công thức chia cho 0 (hoặc cho một ô trống)",
    "#N/A": "công thức không tìm thấy giá trị cần tra (thường do VLOOKUP, MATCH không có kết quả)",
    "#VALUE!": "công thức dùng sai loại dữ liệu (ví dụ cộng một ô chứa chữ)",
    "#REF!": "công thức tham chiếu tới ô, trang đã bị xóa",
    "#NAME?": "công thức có tên hàm hoặc tên vùng không tồn tại (thường do gõ sai tên hàm)",
    "#NUM!": "công thức cho kết quả không phải số hợp lệ (quá lớn, hoặc phép tính không làm được)",
    "#NULL!": "công thức lấy phần giao của hai vùng không giao nhau (thường do thiếu dấu "
    "phẩy giữa hai vùng)",
    "#SPILL!": "kết quả của công thức tràn sang các ô đã có dữ liệu",
    "#CALC!": "công thức không tính được (ví dụ lọc ra một danh sách rỗng)",
}


@lru_cache(maxsize=64)
def _formula_error(literal: str) -> Parsed:
    shown = literal.strip().upper()
    meaning = _ERROR_MEANING.get(shown, "công thức trong ô bị lỗi")
    message = (
        f"Ô này báo lỗi {_quote(shown)}: {meaning}, nên không được tính. Thay công thức "
        "bằng số liệu (nhập trực tiếp con số) hoặc sửa công thức."
    )
    return Parsed(None, (Problem("formula-error", message),))


_NO_CACHE = Parsed(
    None,
    (
        Problem(
            "formula-no-cache",
            "Ô này có công thức chưa được tính nên không có giá trị. Mở tệp bằng Excel "
            "hoặc LibreOffice rồi lưu lại, hoặc nhập trực tiếp giá trị.",
        ),
    ),
)


def _invalid_yes_no(raw: str) -> Parsed:
    message = f"Ô này cần “Có” hoặc “Không”, nhưng có {_quote(raw)}. Chọn Có hoặc Không."
    return Parsed(None, (Problem("invalid-yes-no", message),))


def _invalid_date(raw: str, reason: Literal["format", "impossible", "year"] = "format") -> Parsed:
    if reason == "impossible":
        message = (
            f"Ngày {_quote(raw)} không có thật. Kiểm tra lại ngày và tháng "
            "(ngày trước, tháng sau), ví dụ 05/12/2026."
        )
    elif reason == "year":
        message = (
            f"Ô này cần một ngày đầy đủ, nhưng chỉ có {_quote(raw)}. "
            "Nhập theo dạng ngày/tháng/năm, ví dụ 05/12/2026."
        )
    else:
        message = (
            f"Ô này cần một ngày, nhưng có {_quote(raw)}. "
            "Nhập theo dạng ngày/tháng/năm, ví dụ 05/12/2026."
        )
    return Parsed(None, (Problem("invalid-date", message),))


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------

_PLAIN_INT_RE = re.compile(r"[+-]?[0-9]+")
_SIGN_RE = re.compile(r"([+\-−–])\s?")
# Space-grouped thousands, optionally with a decimal part: "1 234 567", "1 234,5".
_SPACE_GROUPED_RE = re.compile(r"([1-9][0-9]{0,2}(?: [0-9]{3})+)(?:[.,]([0-9]+))?")
# Groups of three after a 1–3 digit head that does not start with 0 ("0.500" is a decimal).
_GROUPED_DOT_RE = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_GROUPED_COMMA_RE = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+")
# Apostrophe-grouped thousands, as Excel shows numbers in a Swiss locale: "1'234'567,5".
_APOSTROPHE_GROUPED_RE = re.compile(r"([1-9][0-9]{0,2}(?:['’][0-9]{3})+)(?:[.,]([0-9]+))?")
_SCIENTIFIC_RE = re.compile(r"([0-9]+)(?:[.,]([0-9]+))?[eE]([+-]?[0-9]{1,3})")
_PERCENT_SUFFIX_RE = re.compile(r"\s*(?:%|phan tram)$")
_CURRENCY_SUFFIX_RE = re.compile(r"\s*(?:vnd|dong|d|₫)\.?$")
_CURRENCY_PREFIX_RE = re.compile(r"^(?:vnd|₫)\s*")
_MULTIPLIERS: dict[str, int] = {
    "nghin": 1_000,
    "ngan": 1_000,
    "k": 1_000,
    "trieu": 1_000_000,
    "tr": 1_000_000,
    "ty": 1_000_000_000,
    "ti": 1_000_000_000,
}
_MULT_WORDS = "nghin|ngan|k|trieu|tr|ty|ti"
_MULT_SEGMENT_RE = re.compile(rf"([0-9][0-9.,]*)\s*({_MULT_WORDS})(?![a-z])\s*")
_MULT_ALL_RE = re.compile(rf"(?:[0-9][0-9.,]*\s*(?:{_MULT_WORDS})(?![a-z])\s*)+")
_FLOAT_SAFE = 10**300  # beyond this float() of the digits overflows
_MAX_NUMBER_CHARS = 400  # int() refuses >4300 digits; no real cell value comes near this


@dataclass(frozen=True, slots=True)
class _Digits:
    """An unsigned number as digit strings; `ambiguous` is "," or "." when it is a guess."""

    whole: str
    frac: str = ""
    ambiguous: str = ""


def _read_unsigned(text: str) -> _Digits | None:
    """Read "1.234,5"-style digits; None when the separators make no sense."""
    if text.isdigit() and text.isascii():
        return _Digits(text)
    if "'" in text or "’" in text:
        m = _APOSTROPHE_GROUPED_RE.fullmatch(text)
        if m is None:
            return None
        return _Digits(m.group(1).replace("'", "").replace("’", ""), m.group(2) or "")
    if " " in text:
        m = _SPACE_GROUPED_RE.fullmatch(text)
        if m is None:
            return None
        return _Digits(m.group(1).replace(" ", ""), m.group(2) or "")
    m = _SCIENTIFIC_RE.fullmatch(text)
    if m is not None:
        mantissa = Decimal(f"{m.group(1)}.{m.group(2) or '0'}")
        value = mantissa.scaleb(int(m.group(3)))
        whole, _, frac = f"{value:f}".partition(".")
        return _Digits(whole, frac.rstrip("0"))
    dot = text.rfind(".")
    comma = text.rfind(",")
    if dot >= 0 and comma >= 0:
        # Both present: the last one is the decimal mark, the other groups thousands.
        mark = max(dot, comma)
        head, frac = text[:mark], text[mark + 1 :]
        grouped = _GROUPED_COMMA_RE if text[mark] == "." else _GROUPED_DOT_RE
        if not frac.isdigit() or not frac.isascii() or grouped.fullmatch(head) is None:
            return None
        return _Digits(head.replace(",", "").replace(".", ""), frac)
    if dot < 0 and comma < 0:
        return None  # letters or other symbols
    sep = "." if dot >= 0 else ","
    if text.count(sep) > 1:
        grouped = _GROUPED_DOT_RE if sep == "." else _GROUPED_COMMA_RE
        if grouped.fullmatch(text) is None:
            return None
        return _Digits(text.replace(sep, ""))
    head, _, tail = text.partition(sep)
    if (head and not (head.isdigit() and head.isascii())) or not (
        tail.isdigit() and tail.isascii()
    ):
        return None
    if len(tail) == 3 and head and head[0] != "0" and len(head) <= 3:
        return _Digits(head + tail, "", sep)  # thousands reading; caller may reinterpret
    return _Digits(head or "0", tail)


def _strip_unit(low: str, unit: str) -> str:
    """Remove the field's unit (or one of its comma-separated words) trailing the number."""
    for form in _unit_forms(unit):
        if low.endswith(form):
            rest = low[: -len(form)]
            if rest and (rest[-1] == " " or rest[-1].isdigit()):
                return rest.rstrip()
    return low


@lru_cache(maxsize=512)
def _unit_forms(unit: str) -> tuple[str, ...]:
    if not unit:
        return ()
    whole = fold(normalize_text(unit))
    parts = [p.strip() for p in whole.split(",") if p.strip()]
    forms = [whole, *parts] if len(parts) > 1 else [whole]
    return tuple(sorted(set(forms), key=len, reverse=True))


def parse_number(text: str, kind: FieldType = "decimal", unit: str = "") -> Parsed:
    """Parse a number typed as text, following the module's rules for `kind`.

    `kind` is the field type: integer → int; money → int when whole, else float; percent →
    float in percentage points; anything else (decimal) → float. `unit` is the field's unit
    ("người"), accepted after the number.
    """
    prepared = _prepare(text, typed=True)
    if isinstance(prepared, Parsed):
        return prepared
    t = prepared
    if len(t) > _MAX_NUMBER_CHARS:
        return _invalid_number(kind, t)
    if _PLAIN_INT_RE.fullmatch(t) is not None:  # the common case: digits only
        return _finish_plain(int(t), kind, t)
    low = t.lower() if t.isascii() else fold(t)
    has_percent = False
    if kind == "percent":
        # Before the unit: a percent field whose unit is "%" must still see the sign.
        stripped = _PERCENT_SUFFIX_RE.sub("", low, count=1)
        has_percent = stripped != low
        low = stripped
    elif kind == "money":
        low = _CURRENCY_PREFIX_RE.sub("", low, count=1)
        low = _CURRENCY_SUFFIX_RE.sub("", low, count=1)
    if unit:
        low = _strip_unit(low, unit)
    negative = False
    m = _SIGN_RE.match(low)
    if m is not None:
        negative = m.group(1) != "+"
        low = low[m.end() :]
    if kind == "money" and _MULT_ALL_RE.fullmatch(low) is not None:
        return _parse_money_words(low, t, negative)
    digits = _read_unsigned(low)
    if digits is None:
        return _invalid_number(kind, t)
    problems: list[Problem] = []
    if digits.ambiguous:
        digits = _resolve_ambiguity(digits, kind, t, problems)
    return _finish_digits(digits, negative, kind, t, problems, has_percent)


def _resolve_ambiguity(digits: _Digits, kind: str, raw: str, problems: list[Problem]) -> _Digits:
    head, tail = digits.whole[:-3], digits.whole[-3:]
    thousands = digits.whole
    if digits.ambiguous == ",":
        if kind in ("decimal", "percent"):
            problems.append(
                Problem(
                    "ambiguous-number",
                    f"{_quote(raw)} có thể là số thập phân {head} phẩy {tail} hoặc {thousands}; "
                    f"đã hiểu là {head} phẩy {tail}. Nếu ý là {thousands}, nhập {thousands} "
                    "(không có dấu phẩy).",
                )
            )
            return _Digits(head, tail)
        problems.append(
            Problem(
                "ambiguous-number",
                f"{_quote(raw)} có thể là {thousands} hoặc số thập phân {head} phẩy {tail}; "
                f"đã hiểu là {thousands}. Nên nhập {thousands} hoặc {head}.{tail} cho rõ ràng.",
            )
        )
        return _Digits(thousands)
    if kind in ("decimal", "percent"):
        problems.append(
            Problem(
                "ambiguous-number",
                f"{_quote(raw)} được hiểu là {thousands} (dấu chấm ngăn cách hàng nghìn). "
                f"Nếu ý là số thập phân, dùng dấu phẩy: {head},{tail}.",
            )
        )
    return _Digits(thousands)


def _finish_plain(n: int, kind: str, raw: str) -> Parsed:
    """Digits only (the fast path): no separators, no ambiguity except percent scaling."""
    if kind in ("integer", "money"):
        return Parsed(n)
    if abs(n) > _FLOAT_SAFE:
        return _invalid_number(kind, raw)
    if kind == "percent" and n == 1:
        return Parsed(100.0, (_fraction_warning(raw, 100.0),))
    return Parsed(float(n))


def _fraction_warning(raw: str, points: float) -> Problem:
    return Problem(
        "ambiguous-number",
        f"{_quote(raw)} được hiểu là {format_vn_number(points)}%. Nếu ý là {raw}%, nhập “{raw}%”.",
    )


def _finish_digits(
    digits: _Digits,
    negative: bool,
    kind: str,
    raw: str,
    problems: list[Problem],
    has_percent: bool = False,
) -> Parsed:
    sign = "-" if negative else ""
    frac = digits.frac.rstrip("0")
    if kind in ("integer", "money"):
        if not frac:
            return Parsed(int(sign + digits.whole), tuple(problems))
        value_f = float(f"{sign}{digits.whole}.{frac}")
        if kind == "integer":
            return _not_whole(raw, value_f)
        if not math.isfinite(value_f):
            return _invalid_number(kind, raw)
        return Parsed(value_f, tuple(problems))
    value = float(f"{sign}{digits.whole}.{frac or '0'}")
    if not math.isfinite(value):
        return _invalid_number(kind, raw)
    if kind == "percent" and not has_percent and 0 < value <= 1:
        value = float(Decimal(f"{digits.whole}.{frac or '0'}") * 100)
        problems.append(_fraction_warning(raw, value))
    return Parsed(value, tuple(problems))


def _decimal_to_number(value: Decimal) -> int | float:
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _parse_money_words(low: str, raw: str, negative: bool) -> Parsed:
    """ "1,5 triệu", "1 tỷ 200 triệu": each number times its multiplier, large to small."""
    total = Decimal(0)
    previous = 10**12
    problems: list[Problem] = []
    for m in _MULT_SEGMENT_RE.finditer(low):
        factor = _MULTIPLIERS[m.group(2)]
        if factor >= previous:  # "200 triệu 1 tỷ" is not a way anyone writes an amount
            return _invalid_number("money", raw)
        previous = factor
        digits = _read_unsigned(m.group(1))
        if digits is None:
            return _invalid_number("money", raw)
        if digits.ambiguous:
            digits = _resolve_ambiguity(digits, "money", raw, problems)
        total += Decimal(f"{digits.whole}.{digits.frac or '0'}") * factor
    if negative:
        total = -total
    return Parsed(_decimal_to_number(total), tuple(problems))


def _number_from_int(n: int, kind: str) -> Parsed:
    if kind in ("integer", "money"):
        return Parsed(n)
    if kind == "percent" and n == 1:
        return Parsed(100.0)  # a cell formatted as % holding 100%
    try:
        return Parsed(float(n))
    except OverflowError:
        return _invalid_number(kind, format_vn_number(n))


_WHOLE_TOLERANCE = 1e-9


def _number_from_float(v: float, kind: str) -> Parsed:
    if not math.isfinite(v):
        return _not_finite(v)
    if kind == "decimal":
        return Parsed(v)
    if kind == "integer" or kind == "money":
        nearest = round(v)
        if abs(v - nearest) <= _WHOLE_TOLERANCE * max(1.0, abs(v)):
            return Parsed(int(nearest))
        if kind == "integer":
            return _not_whole(format_vn_number(v), v)
        return Parsed(v)
    if 0 < v <= 1:  # percent: a cell formatted as % stores the fraction
        return Parsed(float(Decimal(repr(v)) * 100))
    return Parsed(v)


def _parse_numeric_cell(value: object, field: Field, choices: Sequence[Choice]) -> Parsed:
    kind = field.type
    if type(value) is int:
        return _number_from_int(value, kind)
    if type(value) is float:
        return _number_from_float(value, kind)
    if type(value) is str:
        return parse_number(value, kind, field.unit)
    value = _unwrap(value)
    if isinstance(value, bool):
        return _invalid_number(kind, display_value(value))
    if isinstance(value, numbers.Integral):
        return _number_from_int(int(value), kind)
    if isinstance(value, float | numbers.Real):
        return _number_from_float(float(value), kind)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _not_finite(math.nan if value.is_nan() else float(value))
        if value == value.to_integral_value():
            return _number_from_int(int(value), kind)
        return _number_from_float(float(value), kind)
    if isinstance(value, dt.date | dt.time):
        return _invalid_number(kind, display_value(value), _DATE_TYPED_AS_NUMBER)
    if isinstance(value, str):
        return parse_number(value, kind, field.unit)
    return _invalid_number(kind, display_value(value))


def _unwrap(value: object) -> object:
    """numpy/pandas scalars → plain Python values (they are not int/float subclasses).

    pandas' NaT becomes NaN so that every parser treats "not a value" the same way.
    """
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "NaTType":
        return math.nan
    item = getattr(value, "item", None)
    if item is not None and module.startswith("numpy"):
        try:
            return item()
        except Exception:
            return value
    return value


# --------------------------------------------------------------------------------------
# Yes / no
# --------------------------------------------------------------------------------------

_YES_WORDS = ("co", "c", "x", "yes", "y", "1", "true", "dung", "da", "roi", "da co", "co roi")
_NO_WORDS = ("khong", "ko", "k", "kh", "no", "n", "0", "false", "sai", "chua", "khong co")
_YES_NO: dict[str, bool] = {
    **dict.fromkeys(_YES_WORDS, True),
    **dict.fromkeys(("✓", "✔", "☑", "v"), True),
    **dict.fromkeys(_NO_WORDS, False),
    "chua co": False,
}
# Exact strings as Excel's data-validation list writes them: no normalisation needed.
_YES_NO_EXACT: dict[str, bool] = {"Có": True, "Không": False, "x": True, "X": True}


def parse_yes_no(text: str) -> Parsed:
    """Có/Không and the many ways of writing them; see the module docstring."""
    exact = _YES_NO_EXACT.get(text)
    if exact is not None:
        return Parsed(exact)
    prepared = _prepare(text, typed=True)
    if isinstance(prepared, Parsed):
        return prepared
    key = fold(prepared).rstrip(".!")
    answer = _YES_NO.get(key)
    if answer is None:
        return _invalid_yes_no(prepared)
    return Parsed(answer)


def _parse_yes_no_cell(value: object, field: Field, choices: Sequence[Choice]) -> Parsed:
    if type(value) is str:
        return parse_yes_no(value)
    value = _unwrap(value)
    if isinstance(value, bool):
        return Parsed(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if not math.isfinite(v):
            return _not_finite(v)
        if v == 1:
            return Parsed(True)
        if v == 0:
            return Parsed(False)
        return _invalid_yes_no(display_value(value))
    if isinstance(value, str):
        return parse_yes_no(value)
    return _invalid_yes_no(display_value(value))


# --------------------------------------------------------------------------------------
# Choice
# --------------------------------------------------------------------------------------

_DASH_SPACING_RE = re.compile(r"\s*[-‐‑‒–—―−]\s*")
_NUMBER_TOKEN_RE = re.compile(r"(?<![0-9])[0-9]+(?![0-9])")


def _choice_key(text: str) -> str:
    """Folded, every dash written " - " ("Mức 1–Đáp ứng" = "Mức 1 - Đáp ứng"), no final dot."""
    return _DASH_SPACING_RE.sub(" - ", fold(text)).rstrip(".")


@dataclass(frozen=True)
class _ChoiceTable:
    exact: dict[str, str]  # label or code exactly as stored → code
    loose: dict[str, str | None]  # folded key → code, None when two choices share the key
    allowed: str  # the labels, quoted, for the message


def _add(table: dict[str, str | None], key: str, code: str) -> None:
    if not key:
        return
    if key in table and table[key] != code:
        table[key] = None
    else:
        table[key] = code


@lru_cache(maxsize=256)
def _build_choice_table(choices: tuple[Choice, ...]) -> _ChoiceTable:
    exact: dict[str, str] = {}
    primary: dict[str, str | None] = {}
    for c in choices:
        exact.setdefault(c.label, c.code)
        exact.setdefault(c.code, c.code)
        for key in (c.label, c.code, c.code.replace("_", " ")):
            _add(primary, _choice_key(normalize_text(key)), c.code)
    # Aliases only fill keys that no label or code owns, and die when two choices share one.
    aliases: dict[str, str | None] = {}
    for c in choices:
        label = _choice_key(normalize_text(c.label))
        for part in label.split(" - ") if " - " in label else ():
            _add(aliases, part.strip(), c.code)
        for number in set(_NUMBER_TOKEN_RE.findall(label)):
            _add(aliases, number, c.code)
    loose = dict(primary)
    for key, code in aliases.items():
        loose.setdefault(key, code)
    allowed = ", ".join(f"“{c.label}”" for c in choices)
    return _ChoiceTable(exact, loose, allowed)


# Look-ups by identity first: callers pass the same tuple for every cell of a field, and
# hashing a tuple of dataclasses per cell would cost more than the look-up itself.
_TABLES_BY_ID: dict[int, tuple[Sequence[Choice], _ChoiceTable]] = {}


def _choice_table(choices: Sequence[Choice]) -> _ChoiceTable:
    hit = _TABLES_BY_ID.get(id(choices))
    if hit is not None and hit[0] is choices:
        return hit[1]
    table = _build_choice_table(tuple(choices))
    if len(_TABLES_BY_ID) > 512:
        _TABLES_BY_ID.clear()
    _TABLES_BY_ID[id(choices)] = (choices, table)  # keeps `choices` alive, so ids stay unique
    return table


def parse_choice(text: str, choices: Sequence[Choice]) -> Parsed:
    """Match a label or code (see the module docstring); the value is the choice code."""
    table = _choice_table(choices)
    code = table.exact.get(text)
    if code is not None:
        return Parsed(code)
    prepared = _prepare(text, typed=True)
    if isinstance(prepared, Parsed):
        return prepared
    found = table.loose.get(_choice_key(prepared))
    if found is None:
        if table.allowed:
            hint = f"Chọn một trong: {table.allowed}."
        else:
            hint = "Chọn một giá trị trong danh sách của biểu mẫu."
        message = f"{_quote(prepared)} không có trong danh sách chọn. {hint}"
        return Parsed(None, (Problem("invalid-choice", message),))
    return Parsed(found)


def _parse_choice_cell(value: object, field: Field, choices: Sequence[Choice]) -> Parsed:
    if type(value) is str:
        return parse_choice(value, choices)
    value = _unwrap(value)
    if isinstance(value, float) and not math.isfinite(value):
        return _not_finite(value)
    if isinstance(value, bool):
        text = display_value(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # "1", not "1.0", to match "Mức 1"
    else:
        text = _text_of(value)
    return parse_choice(text, choices)


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------

_TIME_PART = r"(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
_DMY_RE = re.compile(
    r"([0-9]{1,2})\s*([/.\-])\s*([0-9]{1,2})\s*\2\s*([0-9]{4}|[0-9]{2})" + _TIME_PART
)
_YMD_RE = re.compile(r"([0-9]{4})\s*([/.\-])\s*([0-9]{1,2})\s*\2\s*([0-9]{1,2})" + _TIME_PART)
_WRITTEN_RE = re.compile(
    r"(?:^|.*,\s*)ngay\s*([0-9]{1,2})\s*thang\s*([0-9]{1,2})\s*nam\s*([0-9]{4})\.?"
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_MAX_SERIAL = 2958465  # 31/12/9999
_MIN_YEAR, _MAX_YEAR = 1900, 2100


def excel_serial_to_date(serial: float) -> dt.date | None:
    """Excel 1900-system serial → date; None outside Excel's range or for 29/02/1900.

    Lotus 1-2-3 believed 1900 was a leap year and Excel kept the bug: serial 60 is
    29/02/1900, which never existed, and serials below 60 are one day off the simple count.
    A fraction is a time of day and is dropped.
    """
    if not (1 <= serial < _EXCEL_MAX_SERIAL + 1):
        return None
    day = int(serial)
    if day == 60:
        return None
    if day < 60:
        day += 1
    return _EXCEL_EPOCH + dt.timedelta(days=day)


def _make_date(raw: str, year: int, month: int, day: int) -> Parsed:
    if not (_MIN_YEAR <= year <= _MAX_YEAR):
        return _invalid_date(raw, "impossible")
    try:
        return Parsed(dt.date(year, month, day))
    except ValueError:
        return _invalid_date(raw, "impossible")


def parse_date(text: str) -> Parsed:
    """A date typed as text, day before month; see the module docstring."""
    prepared = _prepare(text, typed=True)
    if isinstance(prepared, Parsed):
        return prepared
    t = prepared
    m = _DMY_RE.fullmatch(t)
    if m is not None:
        year_text = m.group(4)
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        return _make_date(t, year, int(m.group(3)), int(m.group(1)))
    m = _YMD_RE.fullmatch(t)
    if m is not None:
        return _make_date(t, int(m.group(1)), int(m.group(3)), int(m.group(4)))
    if not t.isascii() or "ngay" in t.lower():
        m = _WRITTEN_RE.fullmatch(fold(t))
        if m is not None:
            return _make_date(t, int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if t.isdigit() and len(t) == 4:
        return _invalid_date(t, "year")
    if _SERIAL_TEXT_RE.fullmatch(t) is not None:
        return _date_from_serial_text(t)
    return _invalid_date(t)


_SERIAL_TEXT_RE = re.compile(r"[0-9]{5}(?:[.,][0-9]+)?")
_SERIAL_TEXT_MIN, _SERIAL_TEXT_MAX = 36526, 73415
"""01/01/2000 and 31/12/2100: a five-digit number typed into a date cell in this range is
read as the day Excel counts (the way a date pasted as text, or a cell formatted as number,
shows it)."""


def _date_from_serial_text(t: str) -> Parsed:
    serial = float(t.replace(",", "."))
    if not _SERIAL_TEXT_MIN <= serial <= _SERIAL_TEXT_MAX:
        return _invalid_date(t)
    day = excel_serial_to_date(serial)
    assert day is not None  # inside Excel's range and far past serial 60
    shown = day.strftime("%d/%m/%Y")
    message = (
        f"Ô ngày có {_quote(t)}, là một số chứ không phải ngày; đã hiểu là số ngày theo cách "
        f"Excel lưu ngày, tức {shown}. Kiểm tra lại: nếu không đúng, nhập ngày dạng "
        "ngày/tháng/năm, ví dụ 05/12/2026."
    )
    return Parsed(day, (Problem("date-from-serial", message),))


def _date_from_serial(value: float) -> Parsed:
    if not math.isfinite(value):
        return _not_finite(value)
    if value.is_integer() and _MIN_YEAR <= value <= _MAX_YEAR:
        return _invalid_date(str(int(value)), "year")  # a year typed alone, not 1905
    result = excel_serial_to_date(value)
    if result is None:
        # Excel shows serial 60 as 29/02/1900; quote what the user sees.
        shown = "29/02/1900" if int(value) == 60 else format_vn_number(value)
        return _invalid_date(shown, "impossible")
    return Parsed(result)


def _parse_date_cell(value: object, field: Field, choices: Sequence[Choice]) -> Parsed:
    if type(value) is str:
        return parse_date(value)
    if type(value) is dt.date:
        return Parsed(value)
    value = _unwrap(value)
    if isinstance(value, dt.datetime):
        return Parsed(value.date())
    if isinstance(value, dt.date):
        return Parsed(dt.date(value.year, value.month, value.day))
    if isinstance(value, bool):
        return _invalid_date(display_value(value))
    if isinstance(value, numbers.Real):
        return _date_from_serial(float(value))
    if isinstance(value, str):
        return parse_date(value)
    return _invalid_date(display_value(value))


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
_EMAIL_SPLIT_RE = re.compile(r"\s*[;,]\s*|\s+")


def is_plausible_email(text: str) -> bool:
    """One or more addresses (separated by ";", "," or spaces), each shaped like a@b.cc."""
    text = text.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    parts = [p for p in _EMAIL_SPLIT_RE.split(text) if p]
    return bool(parts) and all(_EMAIL_RE.fullmatch(p) is not None for p in parts)


def parse_text(text: str, *, long: bool = False, pattern: str | None = None) -> Parsed:
    """Cleaned text; with pattern "email", an implausible address gets a warning."""
    prepared = _prepare(text, keep_newlines=long)
    if isinstance(prepared, Parsed):
        return prepared
    if prepared[0] == "'" and "'" not in prepared[1:]:
        # Excel's text prefix kept in the string ("'0912345678" in a cell formatted as
        # text); a quotation has a closing mark and keeps its opening one.
        return parse_text(prepared[1:], long=long, pattern=pattern)
    if pattern == "email" and not is_plausible_email(prepared):
        message = (
            f"{_quote(prepared)} không phải địa chỉ thư điện tử hợp lệ. Nhập dạng ten@donvi.edu.vn."
        )
        return Parsed(prepared, (Problem("invalid-email", message),))
    return Parsed(prepared)


def _text_of(value: object) -> str:
    """How a non-text cell reads as text: digits without ".0", dates as dd/mm/yyyy."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # 15 significant digits, as Excel displays: 0.1 + 0.2 shows as 0.3.
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return _format_time(value)
    return str(value)


def _parse_text_cell(value: object, field: Field, choices: Sequence[Choice]) -> Parsed:
    if type(value) is str:
        return parse_text(value, long=field.long, pattern=field.pattern)
    value = _unwrap(value)
    if isinstance(value, float) and not math.isfinite(value):
        return _not_finite(value)
    return parse_text(_text_of(value), long=field.long, pattern=field.pattern)


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------

_CellParser = Callable[[object, Field, Sequence[Choice]], Parsed]
_PARSERS: dict[str, _CellParser] = {
    "integer": _parse_numeric_cell,
    "decimal": _parse_numeric_cell,
    "percent": _parse_numeric_cell,
    "money": _parse_numeric_cell,
    "yes_no": _parse_yes_no_cell,
    "choice": _parse_choice_cell,
    "date": _parse_date_cell,
    "text": _parse_text_cell,
}
_INVALID_CODE: dict[str, str] = {
    "integer": "invalid-number",
    "decimal": "invalid-number",
    "percent": "invalid-percent",
    "money": "invalid-number",
    "yes_no": "invalid-yes-no",
    "choice": "invalid-choice",
    "date": "invalid-date",
}


def parse_cell(cell: Located, field: Field, choices: Sequence[Choice] = ()) -> Parsed:
    """Parse one cell for `field`; `choices` are the field's choice list (choice fields).

    Never raises: whatever the cell holds, the outcome is a value or a Problem.
    """
    try:
        if cell.error:
            return _formula_error(str(cell.error))
        if cell.formula_no_cache:
            return _NO_CACHE
        value = cell.value
        if value is None:
            return BLANK
        if type(value) is int and field.type == "integer" and _WHOLE_MIN <= value <= _WHOLE_MAX:
            return Parsed(value)  # the hottest path
        parsed = _PARSERS.get(field.type, _parse_text_cell)(value, field, choices)
        whole = parsed.value
        if type(whole) is int and not _WHOLE_MIN <= whole <= _WHOLE_MAX:
            return _beyond_storable(whole, display_value(value))
        return parsed
    except Exception:
        # A bug here must cost one cell, not the whole file: report it as unreadable.
        logger.debug("parse_cell failed on %r", getattr(cell, "value", None), exc_info=True)
        ftype: Any = getattr(field, "type", None)
        code = (
            _INVALID_CODE.get(ftype, "invalid-number")
            if isinstance(ftype, str)
            else "invalid-number"
        )
        message = "Không đọc được giá trị của ô này. Kiểm tra và nhập lại giá trị."
        return Parsed(None, (Problem(code, message),))


__all__ = [
    "BLANK",
    "EXCEL_ERRORS",
    "Parsed",
    "Problem",
    "display_value",
    "excel_serial_to_date",
    "fold",
    "format_vn_number",
    "is_plausible_email",
    "normalize_text",
    "parse_cell",
    "parse_choice",
    "parse_date",
    "parse_number",
    "parse_text",
    "parse_yes_no",
]
