"""The fonts Excel shows in every workbook the product writes.

Excel draws a font that carries ``<scheme val="minor"/>`` (or "major") in the theme's body
(or heading) font, whatever its ``<name>`` says; LibreOffice and Gnumeric draw the name. So a
Times New Roman font with the minor scheme in a workbook whose theme says Calibri is Times
New Roman in LibreOffice and Calibri in Excel: the cover, the headings, every cell.

Specification, for every kind of workbook (report, review, roll-up, templates, feedback):

* a ``<font>`` that carries a ``<scheme>`` is named as the theme's font of that scheme;
* every font a cell format uses is Times New Roman (NĐ 30/2020), and so are the theme's
  heading and body fonts, for what Excel draws in theme fonts (text boxes, new charts).
"""

from __future__ import annotations

import pytest
from lxml import etree

from pipeline.registry import Registry
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.office_outputs import KINDS, every_workbook, package_parts

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/main"
FONT = "Times New Roman"


@pytest.fixture(scope="module")
def workbooks(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, bytes]:
    return every_workbook(schemas, registry, settings, tmp_path_factory.mktemp("books"))


def theme_fonts(parts: dict[str, bytes]) -> dict[str, str]:
    """'major' / 'minor' → the theme's Latin typeface (Excel's default theme if none)."""
    names = [n for n in parts if n.startswith("xl/theme/") and n.endswith(".xml")]
    if not names:
        return {"major": "Cambria", "minor": "Calibri"}
    root = etree.fromstring(parts[names[0]])
    out = {}
    for scheme in ("major", "minor"):
        latin = root.find(f".//{{{DRAWING}}}{scheme}Font/{{{DRAWING}}}latin")
        assert latin is not None
        out[scheme] = latin.get("typeface")
    return out


def fonts(parts: dict[str, bytes]) -> list[tuple[str | None, str | None]]:
    """(name, scheme) of each ``<font>`` of styles.xml's font table, in order."""
    root = etree.fromstring(parts["xl/styles.xml"])
    table = root.find(f"{{{MAIN}}}fonts")
    assert table is not None
    out = []
    for font in table.findall(f"{{{MAIN}}}font"):
        name, scheme = font.find(f"{{{MAIN}}}name"), font.find(f"{{{MAIN}}}scheme")
        out.append(
            (
                name.get("val") if name is not None else None,
                scheme.get("val") if scheme is not None else None,
            )
        )
    return out


def cell_font_ids(parts: dict[str, bytes]) -> set[int]:
    root = etree.fromstring(parts["xl/styles.xml"])
    ids = set()
    for group in ("cellStyleXfs", "cellXfs"):
        for xf in root.iterfind(f"{{{MAIN}}}{group}/{{{MAIN}}}xf"):
            ids.add(int(xf.get("fontId", "0")))
    return ids


def test_checker_sees_the_calibri_trap() -> None:
    """What issue 16 found: Times New Roman marked "minor" under a Calibri theme."""
    theme = {"major": "Cambria", "minor": "Calibri"}
    declared = [(FONT, None), (FONT, "minor")]
    wrong = [(n, s) for n, s in declared if s is not None and theme[s] != n]
    assert wrong == [(FONT, "minor")]


@pytest.mark.parametrize("kind", KINDS)
def test_scheme_fonts_are_the_theme_fonts(workbooks: dict[str, bytes], kind: str) -> None:
    parts = package_parts(workbooks[kind])
    theme = theme_fonts(parts)
    wrong = [(n, s) for n, s in fonts(parts) if s is not None and theme.get(s) != n]
    assert not wrong, f"{kind}: fonts Excel would draw in {theme}: {wrong}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_cell_font_and_the_theme_are_times_new_roman(
    workbooks: dict[str, bytes], kind: str
) -> None:
    parts = package_parts(workbooks[kind])
    table = fonts(parts)
    used = {table[i][0] for i in cell_font_ids(parts)}
    assert used == {FONT}, kind
    assert theme_fonts(parts) == {"major": FONT, "minor": FONT}, kind
