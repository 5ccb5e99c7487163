"""The feedback copy built by editing the sender's package directly, for plain workbooks.

openpyxl loads every cell of every sheet into Python objects and writes them all back, about
0.1 s of CPU per copy, to change a few cells. Most submissions are the department's own
template filled in Excel or LibreOffice: a handful of XML parts we fully understand. For
those, this module edits the parts that change (the workbook, styles, the marked sheets) with
lxml, adds the problem list and the comments, and re-zips; every other part goes through as
the sender's bytes.

Only a strict whitelist of packages is edited here (see :func:`ineligible`): anything that
could carry something active or that we would have to understand to keep it correct
(macros, links to other workbooks, formulas, drawings, existing comments, pivot tables,
unusual defined names, a copy we already annotated) goes to the openpyxl path instead,
which replaces or drops it. Keeping the sender's bytes is then safe, because what is left is
cells, styles, tables and plain cell names.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from pipeline.ooxml import zip_parts

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
DCTERMS = "http://purl.org/dc/terms/"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
VML = "urn:schemas-microsoft-com:vml"
OFFICE = "urn:schemas-microsoft-com:office:office"
EXCEL = "urn:schemas-microsoft-com:office:excel"

REL = R_NS + "/"
REL_WORKSHEET = REL + "worksheet"
REL_STYLES = REL + "styles"
REL_THEME = REL + "theme"
REL_SHARED_STRINGS = REL + "sharedStrings"
REL_TABLE = REL + "table"
REL_COMMENTS = REL + "comments"
REL_VML = REL + "vmlDrawing"
PACKAGE_RELS = {
    REL + "officeDocument",
    REL + "extended-properties",
    REL + "custom-properties",
    PKG_RELS + "/metadata/core-properties",
    # LibreOffice's spelling of the same relationship.
    "http://schemas.openxmlformats.org/officedocument/2006/relationships/metadata/core-properties",
}
WORKBOOK_RELS = {REL_WORKSHEET, REL_STYLES, REL_THEME, REL_SHARED_STRINGS}

CT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"

_ALLOWED_PART = re.compile(
    r"\[Content_Types\]\.xml|_rels/\.rels|docProps/(?:core|app|custom)\.xml"
    r"|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/styles\.xml|xl/sharedStrings\.xml"
    r"|xl/worksheets/[^/]+\.xml|xl/worksheets/_rels/[^/]+\.xml\.rels"
    r"|xl/theme/[^/]+\.xml|xl/tables/[^/]+\.xml"
)
"""Every part a plain workbook may hold; a part of any other kind sends it to openpyxl."""

WORKSHEET_ORDER = (
    "sheetPr",
    "dimension",
    "sheetViews",
    "sheetFormatPr",
    "cols",
    "sheetData",
    "sheetCalcPr",
    "sheetProtection",
    "protectedRanges",
    "scenarios",
    "autoFilter",
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
)
"""CT_Worksheet's children in schema order: Excel rejects a sheet whose elements are not."""
_AFTER_LEGACY_DRAWING = {
    f"{{{MAIN}}}{tag}" for tag in WORKSHEET_ORDER[WORKSHEET_ORDER.index("legacyDrawing") + 1 :]
}
_KNOWN_CHILDREN = {f"{{{MAIN}}}{tag}" for tag in WORKSHEET_ORDER}
_TRUE = ("1", "true")

_CELL_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
MAX_ROW = 1_048_576
MAX_COLUMN = 16_384

COMMENT_WIDTH_PX = 320
COMMENT_HEIGHT_PX = 120


class NotEligible(Exception):
    """The package is not plain enough to edit directly; the message says why."""


@dataclass(frozen=True)
class ListingRow:
    """One line of the problem list, as the user reads it."""

    number: int
    severity: str
    where: str
    link: str | None
    """Location of the problem cell (``'Sheet'!D12``) when that sheet exists."""
    label: str
    value: str
    message: str
    height: float


@dataclass(frozen=True)
class Mark:
    """A problem cell: its fill colour (RRGGBB) and the comment it carries."""

    sheet: str
    cell: str
    fill: str
    note: str


@dataclass(frozen=True)
class Listing:
    """Everything the feedback copy shows, worked out by :mod:`pipeline.feedback`."""

    sheet_name: str
    title: str
    instructions: str
    headers: tuple[str, ...]
    widths: tuple[float, ...]
    rows: tuple[ListingRow, ...]
    marks: tuple[Mark, ...]
    author: str
    tab_color: str
    when: dt.datetime
    note: str = ""
    """A line under the instructions (A3), when the copy needs one: a converted .ods/.xls."""


# --------------------------------------------------------------------------- reading


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _parse(data: bytes, part: str) -> Any:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotEligible(f"{part}: XML không đọc được ({exc})") from exc
    if root.getroottree().docinfo.doctype:
        raise NotEligible(f"{part}: có DOCTYPE")
    return root


def _serialise(root: Any) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data


@dataclass
class _Rel:
    id: str
    type: str
    target: str
    """The target part's name in the zip, or the raw target when external."""
    external: bool


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _relationships(parts: dict[str, bytes], source: str) -> tuple[Any, list[_Rel]]:
    name = _rels_name(source)
    if name not in parts:
        return None, []
    root = _parse(parts[name], name)
    rels = []
    for el in root:
        if el.tag != f"{{{PKG_RELS}}}Relationship":
            raise NotEligible(f"{name}: phần tử lạ {el.tag}")
        external = el.get("TargetMode", "Internal") != "Internal"
        target = el.get("Target", "")
        rels.append(
            _Rel(
                el.get("Id", ""),
                el.get("Type", ""),
                target if external else _resolve(source, target),
                external,
            )
        )
    return root, rels


@dataclass
class _Sheet:
    name: str
    part: str
    root: Any
    rels_root: Any
    rels: list[_Rel]
    changed: bool = False
    rows: dict[int, Any] | None = None
    """Row number → <row>, built when a cell is first looked up."""


@dataclass
class _Package:
    parts: dict[str, bytes]
    types: Any
    workbook: Any
    workbook_rels: Any
    styles: Any
    sheets: list[_Sheet]


def _r_ids(root: Any) -> set[str]:
    """Every value of an attribute in the relationships namespace, anywhere under `root`."""
    return {str(v) for v in root.xpath("//@r:*", namespaces={"r": R_NS})}


def _open(package: bytes, plain_name: Callable[[str], bool]) -> _Package:
    """Read `package` and check it is plain; raise :class:`NotEligible` saying why not.

    `plain_name` tells whether a defined name's value is a plain cell reference: the rule
    the openpyxl path keeps names by.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as zf:
            names = zf.namelist()
            if len(set(names)) != len(names):
                raise NotEligible("tên phần trùng nhau trong gói")
            strange = [n for n in names if not _ALLOWED_PART.fullmatch(n)]
            if strange:
                raise NotEligible(f"có phần không thuộc dạng đơn giản: {strange[0]}")
            parts = {n: zf.read(n) for n in names}
    except zipfile.BadZipFile as exc:
        raise NotEligible(f"gói zip hỏng ({exc})") from exc

    for fixed in ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml"):
        if fixed not in parts:
            raise NotEligible(f"thiếu {fixed}")
    types = _parse(parts["[Content_Types].xml"], "[Content_Types].xml")
    main_type = next(
        (
            el.get("ContentType")
            for el in types
            if el.tag == f"{{{CONTENT_TYPES}}}Override" and el.get("PartName") == "/xl/workbook.xml"
        ),
        None,
    )
    if main_type != CT_XLSX:
        raise NotEligible(f"kiểu nội dung chính không phải .xlsx thường: {main_type}")

    _, package_rels = _relationships(parts, "")
    if not any(r.type == REL + "officeDocument" for r in package_rels):
        raise NotEligible("_rels/.rels: không có phần chính")
    for rel in package_rels:
        if rel.type not in PACKAGE_RELS or rel.external:
            raise NotEligible(f"_rels/.rels: quan hệ không cho phép {rel.type} → {rel.target}")
        if rel.target not in parts:
            raise NotEligible(f"_rels/.rels: trỏ tới phần không có {rel.target}")
        if rel.type == REL + "officeDocument" and rel.target != "xl/workbook.xml":
            raise NotEligible(f"phần chính không phải xl/workbook.xml: {rel.target}")

    workbook = _parse(parts["xl/workbook.xml"], "xl/workbook.xml")
    if workbook.tag != f"{{{MAIN}}}workbook":
        raise NotEligible(f"xl/workbook.xml: gốc lạ {workbook.tag}")
    workbook_rels_root, workbook_rels = _relationships(parts, "xl/workbook.xml")
    by_id: dict[str, _Rel] = {}
    for rel in workbook_rels:
        if rel.type not in WORKBOOK_RELS or rel.external:
            raise NotEligible(f"workbook.xml.rels: quan hệ không cho phép {rel.type}")
        if rel.target not in parts:
            raise NotEligible(f"workbook.xml.rels: trỏ tới phần không có {rel.target}")
        by_id[rel.id] = rel
    if not any(r.type == REL_STYLES and r.target == "xl/styles.xml" for r in workbook_rels):
        raise NotEligible("không có xl/styles.xml")
    sheets_el = workbook.find(f"{{{MAIN}}}sheets")
    if sheets_el is None:
        raise NotEligible("xl/workbook.xml: không có <sheets>")
    sheet_ids = {el.get(f"{{{R_NS}}}id") for el in sheets_el}
    if _r_ids(workbook) != sheet_ids:
        raise NotEligible("xl/workbook.xml: có r:id ngoài danh sách trang tính")
    defined = workbook.find(f"{{{MAIN}}}definedNames")
    for name in defined if defined is not None else ():
        if any(name.get(a, "0").lower() in _TRUE for a in ("function", "vbProcedure", "xlm")):
            raise NotEligible(f"tên {name.get('name')} là hàm/macro")
        if not plain_name(name.text or ""):
            raise NotEligible(f"tên {name.get('name')} không phải tham chiếu ô đơn giản")

    sheets = []
    for el in sheets_el:
        if el.tag != f"{{{MAIN}}}sheet":
            raise NotEligible(f"xl/workbook.xml: phần tử lạ trong <sheets>: {el.tag}")
        name = el.get("name", "")
        sheet_rel = by_id.get(el.get(f"{{{R_NS}}}id", ""))
        if sheet_rel is None or sheet_rel.type != REL_WORKSHEET:
            raise NotEligible(f"trang {name} không phải trang tính thường")
        sheets.append(_sheet(parts, name, sheet_rel.target))

    styles = _parse(parts["xl/styles.xml"], "xl/styles.xml")
    for tag in ("fonts", "fills", "borders", "cellXfs"):
        if styles.find(f"{{{MAIN}}}{tag}") is None:
            raise NotEligible(f"xl/styles.xml: thiếu <{tag}>")
    return _Package(parts, types, workbook, workbook_rels_root, styles, sheets)


def _sheet(parts: dict[str, bytes], name: str, part: str) -> _Sheet:
    root = _parse(parts[part], part)
    if root.tag != f"{{{MAIN}}}worksheet":
        raise NotEligible(f"{part}: không phải trang tính thường ({root.tag})")
    strange = [el.tag for el in root if el.tag not in _KNOWN_CHILDREN]
    if strange:
        # mc:AlternateContent and the like can hold anything; openpyxl drops them.
        raise NotEligible(f"{part}: phần tử lạ {strange[0]}")
    if next(root.iter(f"{{{MAIN}}}f"), None) is not None:
        raise NotEligible(f"{part}: có công thức")
    rels_root, rels = _relationships(parts, part)
    tables = set()
    for rel in rels:
        if rel.type != REL_TABLE or rel.external:
            raise NotEligible(f"{part}: quan hệ không cho phép {rel.type}")
        if rel.target not in parts:
            raise NotEligible(f"{part}: trỏ tới phần không có {rel.target}")
        tables.add(rel.id)
    if not _r_ids(root) <= tables:
        raise NotEligible(f"{part}: có r:id không trỏ tới bảng")
    return _Sheet(name, part, root, rels_root, rels)


def _check_reserved(pkg: _Package, reserved: str) -> None:
    if any(s.name == reserved for s in pkg.sheets):
        # A feedback copy sent back: openpyxl replaces the old list, we would add a second.
        raise NotEligible(f"đã có trang “{reserved}” (bản phản hồi gửi lại)")


def ineligible(package: bytes, plain_name: Callable[[str], bool], reserved: str) -> str | None:
    """Why `package` cannot take the direct path (None when it can).

    `reserved` is the problem list's sheet name: a package that already has it is a
    feedback copy sent back, left to the openpyxl path.
    """
    try:
        _check_reserved(_open(package, plain_name), reserved)
    except NotEligible as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- x14 dropdowns


X14_MAIN = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
X14_VALIDATIONS_URI = "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"
"""The ``ext`` of a worksheet's ``extLst`` in which Excel 2010+ saves data validations whose
formulas point at another sheet (MS-XLSX 2.2.4.x; Excel writes the GUID in this case)."""
_QUOTED_TEXT = re.compile(r'"(?:[^"]|"")*"')
_QUOTED_SHEET = re.compile(r"'(?:[^']|'')*'")


def _self_contained(formula: str) -> bool:
    """No other workbook (``[1]Sheet!A1``) and no DDE (``app|topic!item``) in `formula`:
    openpyxl drops the sender's links to other workbooks, so such a list would point at
    nothing, or at a program."""
    rest = _QUOTED_TEXT.sub('""', formula)
    return "[" not in rest and "|" not in _QUOTED_SHEET.sub("''", rest)


def _sheet_parts(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name → worksheet part of a package, through its relationships."""
    _, package_rels = _relationships(parts, "")
    main = next((r.target for r in package_rels if r.type == REL + "officeDocument"), None)
    if main is None or main not in parts:
        return {}
    workbook = _parse(parts[main], main)
    _, rels = _relationships(parts, main)
    by_id = {r.id: r.target for r in rels if r.type == REL_WORKSHEET and not r.external}
    out = {}
    for el in workbook.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet"):
        target = by_id.get(el.get(f"{{{R_NS}}}id", ""))
        if target is not None and target in parts:
            out[el.get("name", "")] = target
    return out


def _x14_validations(root: Any) -> list[Any]:
    """The worksheet's ``ext`` elements holding x14 data validations, self-contained ones only."""
    found = []
    for ext in root.iterfind(f"{{{MAIN}}}extLst/{{{MAIN}}}ext"):
        if ext.get("uri", "").upper() != X14_VALIDATIONS_URI.upper():
            continue
        ext = copy.deepcopy(ext)
        for holder in ext.iterfind(f"{{{X14_MAIN}}}dataValidations"):
            for dv in list(holder):
                formulas = [f.text or "" for f in dv.iter(f"{{{XM}}}f")]
                if not all(_self_contained(f) for f in formulas):
                    holder.remove(dv)
            holder.set("count", str(len(holder)))
            if not len(holder):
                ext.remove(holder)
        if len(ext):
            found.append(ext)
    return found


def keep_x14_validations(source: bytes, copy_bytes: bytes, when: dt.datetime) -> bytes:
    """`copy_bytes` with the x14 data validations of `source` put back, sheet by sheet.

    openpyxl drops a worksheet's ``extLst`` on load, and with it every dropdown whose list is
    on another sheet as Excel 2010+ saves it. Sheets are matched by name (the copy keeps the
    sender's names); a formula that needs another workbook or a program is left out. Without
    any such validation in `source`, `copy_bytes` is returned as it is.
    """
    marker = X14_VALIDATIONS_URI[1:9].encode()
    try:
        with zipfile.ZipFile(io.BytesIO(source)) as zf:
            names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
            src_parts = {n: zf.read(n) for n in names}
        wanted = {}
        for name, part in _sheet_parts(src_parts).items():
            if marker in src_parts[part].upper():
                exts = _x14_validations(_parse(src_parts[part], part))
                if exts:
                    wanted[name] = exts
    except (zipfile.BadZipFile, NotEligible, KeyError):
        # openpyxl read the package, so this is not expected; the copy stays as it is.
        return copy_bytes
    if not wanted:
        return copy_bytes
    with zipfile.ZipFile(io.BytesIO(copy_bytes)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    for name, part in _sheet_parts(parts).items():
        if name not in wanted:
            continue
        root = _parse(parts[part], part)
        ext_list = root.find(f"{{{MAIN}}}extLst")
        if ext_list is None:
            # CT_Worksheet ends with extLst.
            ext_list = _el(root, "extLst")
        for ext in wanted[name]:
            ext_list.append(ext)
        parts[part] = _serialise(root)
    return zip_parts(parts.items(), when)


_TWO_OPERANDS = {"between", "notBetween"}
_COMPARED = {"whole", "decimal", "date", "time", "textLength"}


def drop_unused_second_formulas(package: bytes, when: dt.datetime) -> bytes:
    """`package` without the ``formula2`` of data validations that take one formula.

    LibreOffice converting an .xls or .ods writes a ``<formula2>0</formula2>`` under every
    validation (the old format always stores two). ECMA-376 uses formula2 only for a
    between/notBetween comparison; Gnumeric refuses such a validation ("Extra formula for
    validation") and so drops the unit's dropdowns. Other parts keep their bytes.
    """
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    changed = False
    for name, data in parts.items():
        if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            continue
        if b"formula2" not in data:
            continue
        root = _parse(data, name)
        dropped = 0
        for dv in root.iterfind(f"{{{MAIN}}}dataValidations/{{{MAIN}}}dataValidation"):
            second = dv.find(f"{{{MAIN}}}formula2")
            kind, operator = dv.get("type", "none"), dv.get("operator", "between")
            if second is not None and not (kind in _COMPARED and operator in _TWO_OPERANDS):
                dv.remove(second)
                dropped += 1
        if dropped:
            parts[name] = _serialise(root)
            changed = True
    return zip_parts(parts.items(), when) if changed else package


# --------------------------------------------------------------------------- writing


def _el(parent: Any, tag: str, attrs: dict[str, str] | None = None, ns: str = MAIN) -> Any:
    return etree.SubElement(parent, f"{{{ns}}}{tag}", attrs or {})


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _split_ref(ref: str) -> tuple[int, int]:
    m = _CELL_REF.fullmatch(ref)
    if not m:
        raise NotEligible(f"địa chỉ ô lạ: {ref}")
    col, row = _column_index(m.group(1)), int(m.group(2))
    if col > MAX_COLUMN or row > MAX_ROW:
        raise NotEligible(f"địa chỉ ô ngoài giới hạn: {ref}")
    return row, col


def _unique(prefix: str, suffix: str, taken: Iterable[str]) -> tuple[str, int]:
    used = set(taken)
    n = 1
    while f"{prefix}{n}{suffix}" in used:
        n += 1
    return f"{prefix}{n}{suffix}", n


class _Styles:
    """Appends fonts, fills and cell formats to styles.xml, each once."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.fonts = root.find(f"{{{MAIN}}}fonts")
        self.fills = root.find(f"{{{MAIN}}}fills")
        self.xfs = root.find(f"{{{MAIN}}}cellXfs")
        self._senders = len(self.xfs)
        self._fills: dict[str, int] = {}
        self._marked: dict[tuple[int, str], int] = {}

    @staticmethod
    def _append(container: Any, el: Any) -> int:
        container.append(el)
        n = len(container)
        container.set("count", str(n))
        return n - 1

    def font(
        self, size: int, bold: bool = False, color: str | None = None, underline: bool = False
    ) -> int:
        font = etree.Element(f"{{{MAIN}}}font")
        _el(font, "name", {"val": "Times New Roman"})
        if bold:
            _el(font, "b", {"val": "1"})
        if color:
            _el(font, "color", {"rgb": f"00{color}"})
        _el(font, "sz", {"val": str(size)})
        if underline:
            _el(font, "u", {"val": "single"})
        return self._append(self.fonts, font)

    def xf(self, font: int, vertical: str | None = None, wrap: bool = False) -> int:
        xf = etree.Element(
            f"{{{MAIN}}}xf",
            {"numFmtId": "0", "fontId": str(font), "fillId": "0", "borderId": "0", "xfId": "0"},
        )
        if font:
            xf.set("applyFont", "1")
        if vertical or wrap:
            xf.set("applyAlignment", "1")
            align = _el(xf, "alignment")
            if vertical:
                align.set("vertical", vertical)
            if wrap:
                align.set("wrapText", "1")
        return self._append(self.xfs, xf)

    def marked(self, style: int, fill: str) -> int:
        """The cell format `style` with a solid `fill`: cloned once per (format, colour)."""
        key = (style, fill)
        if key not in self._marked:
            if fill not in self._fills:
                el = etree.Element(f"{{{MAIN}}}fill")
                pattern = _el(el, "patternFill", {"patternType": "solid"})
                _el(pattern, "fgColor", {"rgb": f"00{fill}"})
                self._fills[fill] = self._append(self.fills, el)
            if style >= self._senders:
                raise NotEligible(f"ô dùng kiểu {style} không có trong styles.xml")
            xf = copy.deepcopy(self.xfs[style])
            xf.set("fillId", str(self._fills[fill]))
            xf.set("applyFill", "1")
            self._marked[key] = self._append(self.xfs, xf)
        return self._marked[key]


def _listing_sheet(listing: Listing, styles: _Styles, base_font: int) -> bytes:
    """The worksheet XML of the problem list (what feedback_openpyxl.annotate draws)."""
    title_xf = styles.xf(styles.font(14, bold=True))
    intro_xf = styles.xf(base_font, vertical="top", wrap=True)
    header_xf = styles.xf(styles.font(12, bold=True))
    normal = styles.font(11)
    top_xf = styles.xf(normal, vertical="top")
    wrap_xf = styles.xf(normal, vertical="top", wrap=True)
    link_xf = styles.xf(styles.font(11, color="0563C1", underline=True), vertical="top")

    ws = etree.Element(f"{{{MAIN}}}worksheet", nsmap={None: MAIN})
    pr = _el(ws, "sheetPr")
    _el(pr, "tabColor", {"rgb": f"00{listing.tab_color}"})
    _el(pr, "pageSetUpPr", {"fitToPage": "1"})
    last_row = 4 + len(listing.rows)
    last_col = _column_letters(len(listing.widths))
    _el(ws, "dimension", {"ref": f"A1:{last_col}{last_row}"})
    view = _el(_el(ws, "sheetViews"), "sheetView", {"tabSelected": "1", "workbookViewId": "0"})
    _el(
        view,
        "pane",
        {"ySplit": "4", "topLeftCell": "A5", "activePane": "bottomLeft", "state": "frozen"},
    )
    _el(view, "selection", {"pane": "bottomLeft", "activeCell": "A1", "sqref": "A1"})
    _el(ws, "sheetFormatPr", {"baseColWidth": "8", "defaultRowHeight": "15"})
    cols = _el(ws, "cols")
    for n, width in enumerate(listing.widths, start=1):
        attrs = {"min": str(n), "max": str(n), "width": _num(width), "customWidth": "1"}
        _el(cols, "col", attrs)
    data = _el(ws, "sheetData")

    def text(row: Any, ref: str, value: str, xf: int) -> None:
        if not value:
            # A formatted blank, as openpyxl writes an empty text.
            _el(row, "c", {"r": ref, "s": str(xf)})
            return
        c = _el(row, "c", {"r": ref, "s": str(xf), "t": "inlineStr"})
        t = _el(_el(c, "is"), "t")
        t.text = value
        if value != value.strip():
            t.set(XML_SPACE, "preserve")

    text(_el(data, "row", {"r": "1"}), "A1", listing.title, title_xf)
    row2 = _el(data, "row", {"r": "2", "ht": "45", "customHeight": "1"})
    text(row2, "A2", listing.instructions, intro_xf)
    if listing.note:
        # As openpyxl writes a cell it was only given a value: the workbook's default format.
        text(_el(data, "row", {"r": "3"}), "A3", listing.note, 0)
    row4 = _el(data, "row", {"r": "4"})
    for n, header in enumerate(listing.headers, start=1):
        text(row4, f"{_column_letters(n)}4", header, header_xf)
    links = []
    for item in listing.rows:
        r = 4 + item.number
        row = _el(data, "row", {"r": str(r), "ht": _num(item.height), "customHeight": "1"})
        number = _el(row, "c", {"r": f"A{r}", "s": str(top_xf), "t": "n"})
        _el(number, "v").text = str(item.number)
        text(row, f"B{r}", item.severity, top_xf)
        text(row, f"C{r}", item.where, link_xf if item.link else top_xf)
        if item.link:
            links.append((f"C{r}", item.link))
        text(row, f"D{r}", item.label, wrap_xf)
        text(row, f"E{r}", item.value, wrap_xf)
        text(row, f"F{r}", item.message, wrap_xf)
    merges = _el(ws, "mergeCells", {"count": "1"})
    _el(merges, "mergeCell", {"ref": f"A2:{last_col}2"})
    if links:
        # An internal link is a location, not a relationship: nothing for Excel to follow out.
        hyperlinks = _el(ws, "hyperlinks")
        for ref, location in links:
            _el(hyperlinks, "hyperlink", {"ref": ref, "location": location})
    margins = {"left": "0.75", "right": "0.75", "top": "1", "bottom": "1"}
    _el(ws, "pageMargins", {**margins, "header": "0.5", "footer": "0.5"})
    setup = {"orientation": "landscape", "paperSize": "9", "fitToHeight": "0", "fitToWidth": "1"}
    _el(ws, "pageSetup", setup)
    return _serialise(ws)


def _cell_style(cols: Any, row: Any, col: int) -> int:
    """The format Excel shows on an absent cell: its row's if the row has one, else its column's."""
    if row is not None and row.get("customFormat", "0").lower() in _TRUE and row.get("s"):
        return int(row.get("s"))
    for c in cols if cols is not None else ():
        if int(c.get("min", "0")) <= col <= int(c.get("max", "0")) and c.get("style"):
            return int(c.get("style"))
    return 0


def _find_cell(sheet: _Sheet, ref: str) -> Any:
    """The <c> element of `ref`, created (with its row) in order when the sheet has none."""
    r, col = _split_ref(ref)
    data = sheet.root.find(f"{{{MAIN}}}sheetData")
    if data is None:
        raise NotEligible(f"{sheet.part}: không có <sheetData>")
    cols = sheet.root.find(f"{{{MAIN}}}cols")
    if sheet.rows is None:
        sheet.rows = {}
        for row in data:
            n = row.get("r")
            if n is None:
                raise NotEligible(f"{sheet.part}: dòng không có số")
            sheet.rows[int(n)] = row
    row_el = sheet.rows.get(r)
    if row_el is None:
        style = _cell_style(cols, None, col)
        row_el = etree.Element(f"{{{MAIN}}}row", {"r": str(r)})
        after = min((n for n in sheet.rows if n > r), default=None)
        if after is None:
            data.append(row_el)
        else:
            sheet.rows[after].addprevious(row_el)
        sheet.rows[r] = row_el
    else:
        style = _cell_style(cols, row_el, col)
    before_cell = None
    for c in row_el:
        if c.tag != f"{{{MAIN}}}c":
            continue
        c_ref = c.get("r")
        if c_ref is None:
            raise NotEligible(f"{sheet.part}: ô không có địa chỉ")
        _, c_col = _split_ref(c_ref)
        if c_col == col:
            return c
        if c_col > col:
            before_cell = c
            break
    cell = etree.Element(f"{{{MAIN}}}c", {"r": ref})
    if style:
        cell.set("s", str(style))
    if before_cell is None:
        row_el.append(cell)
    else:
        before_cell.addprevious(cell)
    # spans is only a hint, and a wrong one is worse than none.
    row_el.attrib.pop("spans", None)
    _extend_dimension(sheet.root, r, col)
    return cell


def _merged_away(root: Any) -> set[tuple[int, int]]:
    """(row, column) of every cell hidden under a merged range (all but its top-left)."""
    hidden: set[tuple[int, int]] = set()
    for merge in root.iterfind(f"{{{MAIN}}}mergeCells/{{{MAIN}}}mergeCell"):
        first, _, last = merge.get("ref", "").partition(":")
        (r1, c1), (r2, c2) = _split_ref(first), _split_ref(last or first)
        if (r2 - r1 + 1) * (c2 - c1 + 1) > 100_000:
            raise NotEligible(f"vùng ô gộp quá lớn: {merge.get('ref')}")
        hidden.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
        hidden.discard((r1, c1))
    return hidden


def _extend_dimension(root: Any, row: int, col: int) -> None:
    dim = root.find(f"{{{MAIN}}}dimension")
    if dim is None:
        return
    first, _, last = dim.get("ref", "A1").partition(":")
    try:
        r1, c1 = _split_ref(first.replace("$", ""))
        r2, c2 = _split_ref((last or first).replace("$", ""))
    except NotEligible:
        return
    r1, c1, r2, c2 = min(r1, row), min(c1, col), max(r2, row), max(c2, col)
    dim.set("ref", f"{_column_letters(c1)}{r1}:{_column_letters(c2)}{r2}")


def _comments_part(marks: list[Mark], author: str) -> bytes:
    root = etree.Element(f"{{{MAIN}}}comments", nsmap={None: MAIN})
    _el(_el(root, "authors"), "author").text = author
    listing = _el(root, "commentList")
    for mark in marks:
        comment = _el(listing, "comment", {"ref": mark.cell, "authorId": "0", "shapeId": "0"})
        t = _el(_el(comment, "text"), "t")
        t.text = mark.note
        t.set(XML_SPACE, "preserve")
    return _serialise(root)


def _vml_part(marks: list[Mark], first_block: int) -> tuple[bytes, int]:
    """Legacy VML note shapes, as Excel needs beside comments; returns the blocks used."""
    blocks = max(1, -(-len(marks) // 1024))
    root = etree.Element("xml", nsmap={"v": VML, "o": OFFICE, "x": EXCEL})
    layout = etree.SubElement(root, f"{{{OFFICE}}}shapelayout", {f"{{{VML}}}ext": "edit"})
    data = ",".join(str(first_block + i) for i in range(blocks))
    etree.SubElement(layout, f"{{{OFFICE}}}idmap", {f"{{{VML}}}ext": "edit", "data": data})
    shapetype = etree.SubElement(
        root,
        f"{{{VML}}}shapetype",
        {
            "id": "_x0000_t202",
            "coordsize": "21600,21600",
            f"{{{OFFICE}}}spt": "202",
            "path": "m,l,21600r21600,l21600,xe",
        },
    )
    etree.SubElement(shapetype, f"{{{VML}}}stroke", {"joinstyle": "miter"})
    etree.SubElement(
        shapetype, f"{{{VML}}}path", {"gradientshapeok": "t", f"{{{OFFICE}}}connecttype": "rect"}
    )
    for n, mark in enumerate(marks):
        row, col = _split_ref(mark.cell)
        # Placed as Excel places a new note: one column right, a row up, over default-sized
        # cells (64 x 20 px); Excel and LibreOffice show it beside the cell on hover.
        col0, row0 = col, max(row - 2, 0)
        x, y = 15, 10 if row > 1 else 2
        style = (
            f"position:absolute;margin-left:{(col0 * 64 + x) * 0.75:g}pt;"
            f"margin-top:{(row0 * 20 + y) * 0.75:g}pt;"
            f"width:{COMMENT_WIDTH_PX * 0.75:g}pt;height:{COMMENT_HEIGHT_PX * 0.75:g}pt;"
            "z-index:1;visibility:hidden"
        )
        shape = etree.SubElement(
            root,
            f"{{{VML}}}shape",
            {
                "id": f"_x0000_s{first_block * 1024 + 1 + n}",
                "type": "#_x0000_t202",
                "style": style,
                "fillcolor": "#ffffe1",
                f"{{{OFFICE}}}insetmode": "auto",
            },
        )
        etree.SubElement(shape, f"{{{VML}}}fill", {"color2": "#ffffe1"})
        etree.SubElement(shape, f"{{{VML}}}shadow", {"on": "t", "color": "black", "obscured": "t"})
        etree.SubElement(shape, f"{{{VML}}}path", {f"{{{OFFICE}}}connecttype": "none"})
        box = etree.SubElement(shape, f"{{{VML}}}textbox", {"style": "mso-direction-alt:auto"})
        etree.SubElement(box, "div", {"style": "text-align:left"})
        client = etree.SubElement(shape, f"{{{EXCEL}}}ClientData", {"ObjectType": "Note"})
        etree.SubElement(client, f"{{{EXCEL}}}MoveWithCells")
        etree.SubElement(client, f"{{{EXCEL}}}SizeWithCells")
        x2, y2 = x + COMMENT_WIDTH_PX, y + COMMENT_HEIGHT_PX
        anchor = (col0, x, row0, y, col0 + x2 // 64, x2 % 64, row0 + y2 // 20, y2 % 20)
        etree.SubElement(client, f"{{{EXCEL}}}Anchor").text = ", ".join(map(str, anchor))
        etree.SubElement(client, f"{{{EXCEL}}}AutoFill").text = "False"
        etree.SubElement(client, f"{{{EXCEL}}}Row").text = str(row - 1)
        etree.SubElement(client, f"{{{EXCEL}}}Column").text = str(col - 1)
    data_bytes: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return data_bytes, blocks


def _add_rel(rels_root: Any, rel_type: str, target: str) -> str:
    rel_id, _ = _unique("rId", "", (el.get("Id", "") for el in rels_root))
    etree.SubElement(
        rels_root, f"{{{PKG_RELS}}}Relationship", {"Id": rel_id, "Type": rel_type, "Target": target}
    )
    return rel_id


def _relative(source: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(source))


def _add_override(types: Any, part: str, content_type: str) -> None:
    el = etree.SubElement(types, f"{{{CONTENT_TYPES}}}Override")
    el.set("PartName", f"/{part}")
    el.set("ContentType", content_type)


def build(
    package: bytes,
    plain_name: Callable[[str], bool],
    make_listing: Callable[[list[str]], Listing],
) -> bytes:
    """The feedback copy of `package`; raises :class:`NotEligible` if it is not plain.

    `make_listing` gets the workbook's sheet names (a problem on a missing sheet is listed
    without a link or a mark) and returns what the copy shows.
    """
    pkg = _open(package, plain_name)
    listing = make_listing([s.name for s in pkg.sheets])
    _check_reserved(pkg, listing.sheet_name)
    parts = pkg.parts
    sheets_by_name = {s.name: s for s in pkg.sheets}
    for mark in listing.marks:
        if mark.sheet not in sheets_by_name:
            raise NotEligible(f"đánh dấu trên trang không có: {mark.sheet}")
    new_parts: list[tuple[str, bytes]] = []
    styles = _Styles(pkg.styles)

    # The problem list, first.
    sheet_part, _ = _unique("xl/worksheets/sheet", ".xml", parts)
    # A2 has no font of its own in openpyxl's copy: the workbook's first font.
    new_parts.append((sheet_part, _listing_sheet(listing, styles, base_font=0)))
    _add_override(pkg.types, sheet_part, CT_WORKSHEET)
    rel_id = _add_rel(pkg.workbook_rels, REL_WORKSHEET, _relative("xl/workbook.xml", sheet_part))
    sheets_el = pkg.workbook.find(f"{{{MAIN}}}sheets")
    sheet_id = max((int(el.get("sheetId", "0")) for el in sheets_el), default=0) + 1
    # nsmap: the usual "r" prefix whatever prefixes the sender's part declares (or not).
    entry = etree.Element(f"{{{MAIN}}}sheet", nsmap={"r": R_NS})
    entry.set("name", listing.sheet_name)
    entry.set("sheetId", str(sheet_id))
    entry.set(f"{{{R_NS}}}id", rel_id)
    sheets_el.insert(0, entry)
    for name in pkg.workbook.iter(f"{{{MAIN}}}definedName"):
        if name.get("localSheetId") is not None:
            name.set("localSheetId", str(int(name.get("localSheetId")) + 1))
    views = pkg.workbook.find(f"{{{MAIN}}}bookViews")
    if views is None:
        views = etree.Element(f"{{{MAIN}}}bookViews")
        sheets_el.addprevious(views)
        _el(views, "workbookView")
    for view in views:
        view.set("activeTab", "0")
        view.set("firstSheet", "0")
    for sheet in pkg.sheets:
        for view in sheet.root.iter(f"{{{MAIN}}}sheetView"):
            if view.get("tabSelected", "0").lower() in _TRUE:
                del view.attrib["tabSelected"]
                sheet.changed = True

    # Fills and comments on the problem cells, sheet by sheet in workbook order.
    by_sheet: dict[str, list[Mark]] = {}
    for mark in listing.marks:
        by_sheet.setdefault(mark.sheet, []).append(mark)
    block = 1
    for sheet in pkg.sheets:
        marks = by_sheet.get(sheet.name)
        if not marks:
            continue
        covered = _merged_away(sheet.root)
        for mark in marks:
            if _split_ref(mark.cell) in covered:
                # openpyxl cannot put a comment there (and fails the copy): same outcome.
                raise NotEligible(f"{sheet.name}!{mark.cell} nằm trong vùng ô gộp")
            cell = _find_cell(sheet, mark.cell)
            cell.set("s", str(styles.marked(int(cell.get("s", "0")), mark.fill)))
        sheet.changed = True
        taken = [*parts, *(n for n, _ in new_parts)]
        comments, number = _unique("xl/comments", ".xml", taken)
        vml = f"xl/drawings/vmlDrawing{number}.vml"
        if vml in taken:
            vml, _ = _unique("xl/drawings/vmlDrawing", ".vml", taken)
        vml_bytes, blocks = _vml_part(marks, block)
        block += blocks
        new_parts.append((comments, _comments_part(marks, listing.author)))
        new_parts.append((vml, vml_bytes))
        _add_override(pkg.types, comments, CT_COMMENTS)
        if sheet.rels_root is None:
            sheet.rels_root = etree.Element(f"{{{PKG_RELS}}}Relationships", nsmap={None: PKG_RELS})
        _add_rel(sheet.rels_root, REL_COMMENTS, _relative(sheet.part, comments))
        vml_id = _add_rel(sheet.rels_root, REL_VML, _relative(sheet.part, vml))
        legacy = etree.Element(f"{{{MAIN}}}legacyDrawing", nsmap={"r": R_NS})
        legacy.set(f"{{{R_NS}}}id", vml_id)
        later = next((el for el in sheet.root if el.tag in _AFTER_LEGACY_DRAWING), None)
        if later is None:
            sheet.root.append(legacy)
        else:
            later.addprevious(legacy)
    if by_sheet and not any(
        el.get("Extension", "").lower() == "vml"
        for el in pkg.types
        if el.tag == f"{{{CONTENT_TYPES}}}Default"
    ):
        default = etree.Element(f"{{{CONTENT_TYPES}}}Default")
        default.set("Extension", "vml")
        default.set("ContentType", CT_VML)
        pkg.types.insert(0, default)

    updated = {
        "[Content_Types].xml": _serialise(pkg.types),
        "xl/workbook.xml": _serialise(pkg.workbook),
        "xl/_rels/workbook.xml.rels": _serialise(pkg.workbook_rels),
        "xl/styles.xml": _serialise(pkg.styles),
    }
    for sheet in pkg.sheets:
        if sheet.changed:
            updated[sheet.part] = _serialise(sheet.root)
        if sheet.rels_root is not None and sheet.name in by_sheet:
            rels_part = _rels_name(sheet.part)
            if rels_part in parts:
                updated[rels_part] = _serialise(sheet.rels_root)
            else:
                new_parts.append((rels_part, _serialise(sheet.rels_root)))
    if "docProps/core.xml" in parts:
        core = _parse(parts["docProps/core.xml"], "docProps/core.xml")
        modified = core.find(f"{{{DCTERMS}}}modified")
        if modified is not None:
            # As ooxml.repack does: a copy made again from the same file is the same bytes.
            modified.text = listing.when.strftime("%Y-%m-%dT%H:%M:%SZ")
            updated["docProps/core.xml"] = _serialise(core)
    out = [(name, updated.get(name, data)) for name, data in parts.items()]
    return zip_parts([*out, *new_parts], listing.when)
