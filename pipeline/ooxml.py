"""Office Open XML packages (.xlsx, .docx) made byte-reproducible.

openpyxl and python-docx stamp every zip member with the current time, and openpyxl also
sets the document's modified date to now on save. The manifest hashes every output and the
tests compare reruns byte for byte, so packages are re-zipped here with one fixed timestamp
taken from the document itself (its "created" date), never from the clock.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from typing import Any

import xlsxwriter
from lxml import etree  # type: ignore[import-untyped]
from xlsxwriter.theme import THEME_XML_2007

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def repack(package: bytes, when: dt.datetime) -> bytes:
    """Re-zip `package` with fixed timestamps, and pin docProps/core.xml's modified date."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts = []
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            parts.append((name, data))
    return zip_parts(parts, when)


def zip_parts(parts: Iterable[tuple[str, bytes]], when: dt.datetime) -> bytes:
    """A deflated zip of `parts`, in the given order, every member stamped `when`."""
    date_time = (max(1980, when.year), when.month, when.day, when.hour, when.minute, when.second)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            zf.writestr(info, data)
    return buf.getvalue()


def text_safe_workbook(
    buffer: io.BytesIO, font_name: str | None = None, font_size: float | None = None
) -> xlsxwriter.Workbook:
    """An in-memory xlsxwriter workbook that never reinterprets strings.

    Text from submissions must reach the reader as text: even a stray ``write()`` of
    ``=HYPERLINK(...)`` must not become a formula, a number or a link.
    """
    options: dict[str, object] = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    if font_name is None:
        return xlsxwriter.Workbook(buffer, options)
    # No theme scheme on the fonts: Excel draws a font marked "minor" in the theme's body font
    # whatever its name says (Calibri in xlsxwriter's theme), and LibreOffice in the name.
    options["default_format_properties"] = {
        "font_name": font_name,
        "font_size": font_size,
        "font_scheme": "none",
    }
    wb = xlsxwriter.Workbook(buffer, options)
    # And a theme whose fonts are the same face, for what Excel draws in the theme's fonts:
    # text a user adds in a shape or chart, the "Body"/"Headings" fonts Excel offers.
    wb.use_custom_theme(io.StringIO(office_theme(font_name)))
    return wb


def office_theme(font_name: str) -> str:
    """The default Office theme (theme1.xml), with `font_name` for headings and body text.

    Its Latin font and the one for Vietnamese script (``Viet``, which Office picks for text
    tagged vi-VN) are replaced in both the major (headings) and minor (body) font.
    """
    theme = THEME_XML_2007
    for scheme, latin, viet in (
        ("major", "Cambria", "Times New Roman"),
        ("minor", "Calibri", "Arial"),
    ):
        start = theme.index(f"<a:{scheme}Font>")
        end = theme.index(f"</a:{scheme}Font>", start)
        part = theme[start:end]
        part = part.replace(f'<a:latin typeface="{latin}"/>', f'<a:latin typeface="{font_name}"/>')
        part = part.replace(
            f'<a:font script="Viet" typeface="{viet}"/>',
            f'<a:font script="Viet" typeface="{font_name}"/>',
        )
        theme = theme[:start] + part + theme[end:]
    return theme.replace('<a:fontScheme name="Office">', f'<a:fontScheme name="{font_name}">')


# --------------------------------------------------------------------------- WordprocessingML

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_PPR_BASE = _names(
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers "
    "pBdr shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE "
    "autoSpaceDN bidi adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents "
    "suppressOverlap jc textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle"
)
_RPR_BASE = _names(
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint "
    "noProof snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u "
    "effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"
)
WML_SEQUENCES: dict[str, tuple[str, ...]] = {
    "pPr": (*_PPR_BASE, "rPr", "sectPr", "pPrChange"),
    "rPr": ("ins", "del", "moveFrom", "moveTo", *_RPR_BASE, "rPrChange"),
    "tblPr": _names(
        "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
        "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption "
        "tblDescription tblPrChange"
    ),
    "tcPr": _names(
        "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection tcFitText "
        "vAlign hideMark headers cellIns cellDel cellMerge tcPrChange"
    ),
}
"""Child order of the WordprocessingML property elements we add children to: the sequences of
CT_PPr (§17.3.1.26), CT_RPr / CT_ParaRPr (§17.3.2.28), CT_TblPr (§17.4.60) and CT_TcPr
(§17.4.70) of ECMA-376 Part 1. Word ignores or "repairs" away a child out of its sequence
(a paragraph's bottom rule after its spacing, a table's borders after its look), where
LibreOffice forgives the order."""


def insert_in_order(parent: Any, child: Any) -> Any:
    """Put `child` (an lxml element) into `parent` at its place in the parent's sequence.

    A child of the same name already there is replaced (each occurs at most once in these
    sequences). python-docx places the children it knows itself; this is for those it has
    no property for (``w:pBdr``, ``w:tblBorders``, ...), which ``append`` would put last.
    """
    sequence = WML_SEQUENCES[etree.QName(parent).localname]
    name = etree.QName(child).localname
    rank = sequence.index(name)  # a ValueError here is a programming error: no such child
    for old in parent.findall(f"{{{W_NS}}}{name}"):
        parent.remove(old)
    later = set(sequence[rank + 1 :])
    for existing in parent:
        qname = etree.QName(existing)
        if qname.namespace == W_NS and qname.localname in later:
            existing.addprevious(child)
            return child
    parent.append(child)
    return child
