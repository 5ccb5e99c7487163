"""Packages in the forms Excel writes, for tests of what the product does with them.

openpyxl (which builds the templates) writes every data validation in the sheet's
``<dataValidations>``. Excel 2010 and later write a validation whose formula points at
another sheet (the template's lists on the hidden ``_lists`` sheet) as an
``x14:dataValidation`` in the sheet's ``extLst`` instead, for Excel 2007's sake, and keep
only the others in ``<dataValidations>``. :func:`excel2016_validations` rewrites a package
that way, in the markup Excel 2016 saves (MS-XLSX 2.6.x, ``CT_DataValidation`` of the x14
namespace: the formula in ``x14:formula1/xm:f``, the cells in ``xm:sqref`` after it, the
``ext`` declaring ``x14`` and the ``dataValidations`` declaring ``xm``).

:func:`validations` reads both forms back from a package, so a test can say which dropdowns
a file has without openpyxl (which drops the x14 form on load).
"""

from __future__ import annotations

import io
import re
import zipfile

from lxml import etree  # type: ignore[import-untyped]

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
X14_URI = "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"
# Excel's attribute order on x14:dataValidation (the same as on the main element).
_DV_ATTRIBUTES = (
    "type",
    "errorStyle",
    "imeMode",
    "operator",
    "allowBlank",
    "showDropDown",
    "showInputMessage",
    "showErrorMessage",
    "errorTitle",
    "error",
    "promptTitle",
    "prompt",
)
_CROSS_SHEET = re.compile(r"!")


def _sheets(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name → worksheet part (the templates' and LibreOffice's layout: xl/...)."""
    workbook = etree.fromstring(parts["xl/workbook.xml"])
    rels = etree.fromstring(parts["xl/_rels/workbook.xml.rels"])
    targets = {el.get("Id"): el.get("Target") for el in rels}
    out = {}
    for sheet in workbook.iter(f"{{{MAIN}}}sheet"):
        target = targets[sheet.get(f"{{{R_NS}}}id")]
        out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return out


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def excel2016_validations(package: bytes) -> bytes:
    """`package` with every sheet-crossing data validation moved into the x14 extension."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    moved_any = False
    for part in _sheets(parts).values():
        old = etree.fromstring(parts[part])
        main = old.find(f"{{{MAIN}}}dataValidations")
        if main is None:
            continue
        crossing = [
            dv for dv in main if _CROSS_SHEET.search(dv.findtext(f"{{{MAIN}}}formula1") or "")
        ]
        if not crossing:
            continue
        moved_any = True
        # Excel's root declares mc and x14ac and marks x14ac ignorable.
        root = etree.Element(
            old.tag, nsmap={None: MAIN, "r": R_NS, "mc": MC, "x14ac": X14AC}, attrib=old.attrib
        )
        root.set(f"{{{MC}}}Ignorable", "x14ac")
        root.extend(list(old))
        main = root.find(f"{{{MAIN}}}dataValidations")
        ext_list = root.find(f"{{{MAIN}}}extLst")
        if ext_list is None:
            ext_list = etree.SubElement(root, f"{{{MAIN}}}extLst")
        ext = etree.SubElement(ext_list, f"{{{MAIN}}}ext", nsmap={"x14": X14})
        ext.set("uri", X14_URI)
        x14_list = etree.SubElement(ext, f"{{{X14}}}dataValidations", nsmap={"xm": XM})
        x14_list.set("count", str(len(crossing)))
        for dv in crossing:
            x14 = etree.SubElement(x14_list, f"{{{X14}}}dataValidation")
            for name in _DV_ATTRIBUTES:
                if dv.get(name) is not None:
                    x14.set(name, dv.get(name))
            for which in ("formula1", "formula2"):
                text = dv.findtext(f"{{{MAIN}}}{which}")
                if text is not None:
                    holder = etree.SubElement(x14, f"{{{X14}}}{which}")
                    etree.SubElement(holder, f"{{{XM}}}f").text = text
            etree.SubElement(x14, f"{{{XM}}}sqref").text = dv.get("sqref")
            main.remove(dv)
        if len(main):
            main.set("count", str(len(main)))
        else:
            root.remove(main)
        parts[part] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    assert moved_any, "the package has no sheet-crossing validation to move"
    return _zip(parts)


Validation = tuple[str, str, str, str]
"""(form, type, formula1, cells): form "main" or "x14"; cells as a sorted, spaced list."""


def _cells(sqref: str) -> str:
    return " ".join(sorted(sqref.split()))


def validations(package: bytes) -> dict[str, set[Validation]]:
    """Sheet name → the data validations of that sheet, in either form."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    out: dict[str, set[Validation]] = {}
    for name, part in _sheets(parts).items():
        root = etree.fromstring(parts[part])
        found: set[Validation] = set()
        for dv in root.iterfind(f"{{{MAIN}}}dataValidations/{{{MAIN}}}dataValidation"):
            formula = (dv.findtext(f"{{{MAIN}}}formula1") or "").lstrip("=")
            found.add(("main", dv.get("type", ""), formula, _cells(dv.get("sqref", ""))))
        for dv in root.iter(f"{{{X14}}}dataValidation"):
            formula = (dv.findtext(f"{{{X14}}}formula1/{{{XM}}}f") or "").lstrip("=")
            cells = _cells(dv.findtext(f"{{{XM}}}sqref") or "")
            found.add(("x14", dv.get("type", ""), formula, cells))
        out[name] = found
    return out
