"""How a worksheet prints, read from the .xlsx alone: an independent model for the print tests.

Built from what the file says (column widths, row heights, page set-up, manual breaks, print
titles, cell styles), not from pipeline.printing, so a wrong rule there shows here. The
conventions are the programs' own:

* a column ``width`` (characters, as stored) prints ``trunc(((256 w + trunc(128/7)) / 256) 7)``
  pixels wide at 96 dpi in Excel (ECMA-376 §18.3.1.13, digit width 7 px); LibreOffice takes
  the digit of the default font itself, 7.33 px for Times New Roman 11 pt, so its columns are
  :data:`LIBREOFFICE_WIDER` times as wide (measured on its PDF): fitting a page is checked
  against the wider of the two;
* a row without a height of its own is the sheet's default height (``sheetFormatPr``);
* print titles repeat on the pages after the one they are on (as Excel and LibreOffice do).
"""

from __future__ import annotations

import html
import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

A4_IN = (8.27, 11.69)
LIBREOFFICE_WIDER = 7.33 / 7
MIN_PT = 8.0
HEADER_FILL = "FFDDEBF7"


@dataclass
class Cell:
    row: int  # 0-based
    col: int
    style: int
    text: bool
    value: str


@dataclass
class SheetPrint:
    name: str
    cols: dict[int, float]
    heights: dict[int, float]
    default_height: float
    cells: list[Cell]
    landscape: bool
    margins: tuple[float, float, float, float]  # left, right, top, bottom
    scale: int | None
    fit: tuple[int, int] | None  # fitToWidth, fitToHeight when "fit to pages" is on
    breaks: list[int]  # rows starting a new page, 0-based
    titles: tuple[int, int] | None
    title_cols: tuple[int, int] | None
    footer: str
    header: str
    chart_pt: list[float] = field(default_factory=list)

    @property
    def last_row(self) -> int:
        return max((c.row for c in self.cells), default=0)

    @property
    def last_col(self) -> int:
        return max((c.col for c in self.cells), default=0)

    def width_px(self) -> float:
        """Printed width of the used columns at 100 %, as LibreOffice (the wider) prints."""
        total = 0
        for c in range(self.last_col + 1):
            w = self.cols.get(c)
            total += 64 if w is None else math.trunc(((256 * w + math.trunc(128 / 7)) / 256) * 7)
        return total * LIBREOFFICE_WIDER

    def page_px(self) -> float:
        paper = A4_IN[1] if self.landscape else A4_IN[0]
        return (paper - self.margins[0] - self.margins[1]) * 96

    def page_pt(self) -> float:
        paper = A4_IN[0] if self.landscape else A4_IN[1]
        return (paper - self.margins[2] - self.margins[3]) * 72

    def height(self, row: int) -> float:
        return self.heights.get(row, self.default_height)

    def effective_scale(self) -> float:
        """The scale the sheet prints at (the smaller of Excel's and LibreOffice's)."""
        if self.fit is None:
            return (self.scale or 100) / 100
        scale = 1.0
        width, height = self.fit
        if width:
            scale = min(scale, self.page_px() / (self.width_px() / width))
        if height:
            rows = sum(self.height(r) for r in range(self.last_row + 1))
            scale = min(scale, self.page_pt() / (rows / height))
        return max(scale, 0.1)

    def pages(self) -> list[list[int]]:
        """Rows of each printed page (one page across), manual breaks first, then natural."""
        scale = self.effective_scale()
        capacity = self.page_pt() / scale
        title_pt = 0.0
        if self.titles is not None:
            title_pt = sum(self.height(r) for r in range(self.titles[0], self.titles[1] + 1))
        pages: list[list[int]] = [[]]
        used = 0.0
        manual = set(self.breaks)
        for r in range(self.last_row + 1):
            h = self.height(r)
            if pages[-1] and (r in manual or used + h > capacity):
                pages.append([])
                used = title_pt if self.titles is not None and r > self.titles[1] else 0.0
            pages[-1].append(r)
            used += h
        return pages


def _attr(tag: str, name: str) -> str | None:
    m = re.search(rf'\b{name}="([^"]*)"', tag)
    return html.unescape(m.group(1)) if m else None


def _ref(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", ref)
    assert m, ref
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _col(letters: str) -> int:
    col = 0
    for ch in letters.strip("$"):
        col = col * 26 + ord(ch) - 64
    return col - 1


class Workbook:
    """The parts of an .xlsx the print model needs."""

    def __init__(self, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self.parts = {n: zf.read(n) for n in zf.namelist()}
        styles = self.parts["xl/styles.xml"].decode()
        fonts_xml = re.search(r"<fonts[^>]*>(.*?)</fonts>", styles, re.S)
        assert fonts_xml
        self.font_sizes: list[float] = []
        self.font_bold: list[bool] = []
        for font in re.findall(r"<font>.*?</font>|<font/>", fonts_xml.group(1), re.S):
            sz = re.search(r'<sz val="([\d.]+)"', font)
            self.font_sizes.append(float(sz.group(1)) if sz else 11.0)
            self.font_bold.append(bool(re.search(r"<b/>|<b val=\"(1|true)\"/>", font)))
        fills_xml = re.search(r"<fills[^>]*>(.*?)</fills>", styles, re.S)
        assert fills_xml
        self.fill_rgb = [
            (re.search(r'<fgColor rgb="([0-9A-F]+)"', f) or re.search("()", "")).group(1)
            for f in re.findall(r"<fill>.*?</fill>|<fill/>", fills_xml.group(1), re.S)
        ]
        xfs_xml = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)
        assert xfs_xml
        self.xfs = [
            (int(_attr(x, "fontId") or 0), int(_attr(x, "fillId") or 0))
            for x in re.findall(r"<xf [^>]*>", xfs_xml.group(1))
        ]

    def xf_font_pt(self, style: int) -> float:
        return self.font_sizes[self.xfs[style][0]] if style < len(self.xfs) else 11.0

    def xf_bold(self, style: int) -> bool:
        return self.font_bold[self.xfs[style][0]] if style < len(self.xfs) else False

    def xf_fill(self, style: int) -> str:
        return self.fill_rgb[self.xfs[style][1]] if style < len(self.xfs) else ""

    def _rels(self, part: str) -> dict[str, str]:
        folder, name = part.rsplit("/", 1)
        rels = self.parts.get(f"{folder}/_rels/{name}.rels", b"").decode()
        out = {}
        for rel in re.findall(r"<Relationship [^>]*>", rels):
            target = _attr(rel, "Target") or ""
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                segments = folder.split("/")
                for s in target.split("/"):
                    if s == "..":
                        segments.pop()
                    else:
                        segments.append(s)
                path = "/".join(segments)
            out[_attr(rel, "Id") or ""] = path
        return out

    def sheets(self) -> Iterator[SheetPrint]:
        workbook = self.parts["xl/workbook.xml"].decode()
        targets = self._rels("xl/workbook.xml")
        names: dict[int, dict[str, str]] = {}
        for m in re.finditer(r"<definedName ([^>]*)>([^<]*)</definedName>", workbook):
            local = _attr(m.group(1), "localSheetId")
            if local is not None:
                names.setdefault(int(local), {})[_attr(m.group(1), "name") or ""] = html.unescape(
                    m.group(2)
                )
        for index, tag in enumerate(re.findall(r"<sheet [^>]*>", workbook)):
            if _attr(tag, "state") in ("hidden", "veryHidden"):
                continue
            part = targets[_attr(tag, "r:id") or ""]
            yield self._sheet(_attr(tag, "name") or "", part, names.get(index, {}))

    def _sheet(self, name: str, part: str, names: dict[str, str]) -> SheetPrint:
        xml = self.parts[part].decode()
        cols: dict[int, float] = {}
        for tag in re.findall(r"<col [^>]*>", xml):
            for c in range(int(_attr(tag, "min") or 1), int(_attr(tag, "max") or 1) + 1):
                if c > 200:
                    break
                cols[c - 1] = float(_attr(tag, "width") or 8.43)
        heights = {}
        for tag in re.findall(r"<row [^>]*>", xml):
            ht = _attr(tag, "ht")
            if ht is not None:
                heights[int(_attr(tag, "r") or 1) - 1] = float(ht)
        fmt = re.search(r"<sheetFormatPr [^>]*>", xml)
        default = float((_attr(fmt.group(0), "defaultRowHeight") if fmt else None) or 15)
        cells = []
        for m in re.finditer(r'<c r="([A-Z]+\d+)"([^>]*?)(/>|>(.*?)</c>)', xml, re.S):
            row, col = _ref(m.group(1))
            body = m.group(4) or ""
            value = re.search(r"<v>(.*?)</v>|<t[^>]*>(.*?)</t>", body, re.S)
            text = ""
            if value:
                text = html.unescape(value.group(1) or value.group(2) or "")
            if (_attr(m.group(2), "t") or "") == "s" and text:
                text = self.shared_string(int(text))
            cells.append(
                Cell(row, col, int(_attr(m.group(2), "s") or 0), bool(body and value), text)
            )
        setup = re.search(r"<pageSetup [^>]*>", xml)
        setup_tag = setup.group(0) if setup else ""
        margins = re.search(r"<pageMargins [^>]*>", xml)
        margin_tag = margins.group(0) if margins else ""
        fit_on = bool(re.search(r'<pageSetUpPr [^>]*fitToPage="(1|true)"', xml))
        fit = None
        if fit_on:
            fit = (
                int(_attr(setup_tag, "fitToWidth") or 1),
                int(_attr(setup_tag, "fitToHeight") or 1),
            )
        breaks_xml = re.search(r"<rowBreaks[^>]*>(.*?)</rowBreaks>", xml, re.S)
        breaks = []
        if breaks_xml:
            breaks = sorted(
                int(_attr(b, "id") or 0) for b in re.findall(r"<brk [^>]*>", breaks_xml.group(1))
            )
        titles = title_cols = None
        for ref in (names.get("_xlnm.Print_Titles") or "").split(","):
            rows = re.search(r"!\$?(\d+):\$?(\d+)$", ref)
            cols_ref = re.search(r"!\$?([A-Z]+):\$?([A-Z]+)$", ref)
            if rows:
                titles = (int(rows.group(1)) - 1, int(rows.group(2)) - 1)
            elif cols_ref:
                title_cols = (_col(cols_ref.group(1)), _col(cols_ref.group(2)))
        footer = re.search(r"<oddFooter>(.*?)</oddFooter>", xml, re.S)
        header = re.search(r"<oddHeader>(.*?)</oddHeader>", xml, re.S)
        sheet = SheetPrint(
            name=name,
            cols=cols,
            heights=heights,
            default_height=default,
            cells=cells,
            landscape=_attr(setup_tag, "orientation") == "landscape",
            margins=tuple(  # type: ignore[arg-type]
                float(_attr(margin_tag, k) or d)
                for k, d in (("left", 0.7), ("right", 0.7), ("top", 0.75), ("bottom", 0.75))
            ),
            scale=int(_attr(setup_tag, "scale") or 100),
            fit=fit,
            breaks=breaks,
            titles=titles,
            title_cols=title_cols,
            footer=html.unescape(footer.group(1)) if footer else "",
            header=html.unescape(header.group(1)) if header else "",
        )
        sheet.chart_pt = self._chart_sizes(part)
        return sheet

    def shared_string(self, index: int) -> str:
        if not hasattr(self, "_strings"):
            sst = self.parts.get("xl/sharedStrings.xml", b"").decode()
            self._strings = [
                html.unescape("".join(re.findall(r"<t[^>]*>(.*?)</t>", si, re.S)))
                for si in re.findall(r"<si>(.*?)</si>", sst, re.S)
            ]
        return self._strings[index]

    def _chart_sizes(self, part: str) -> list[float]:
        """Text sizes (points) of the charts drawn on the sheet."""
        sizes = []
        for drawing in self._rels(part).values():
            if "/drawings/" not in drawing or not drawing.endswith(".xml"):
                continue
            for chart in self._rels(drawing).values():
                if "/charts/" in chart:
                    xml = self.parts[chart].decode()
                    sizes += [int(s) / 100 for s in re.findall(r'\bsz="(\d+)"', xml)]
        return sizes

    # -- what the sheet shows

    def smallest_pt(self, sheet: SheetPrint) -> float:
        sizes = [self.xf_font_pt(c.style) for c in sheet.cells if c.value.strip()]
        return min([*sizes, *sheet.chart_pt], default=11.0)

    def header_rows(self, sheet: SheetPrint) -> list[int]:
        """Rows of table headers: two cells or more in the header fill."""
        count: dict[int, int] = {}
        for c in sheet.cells:
            if self.xf_fill(c.style) == HEADER_FILL:
                count[c.row] = count.get(c.row, 0) + 1
        return sorted(r for r, n in count.items() if n >= 2)

    def headings(self, sheet: SheetPrint) -> list[int]:
        """Section headings: a row whose only text is a bold cell in column A, right above
        a table header row (the sheet's first rows, its title band, excepted)."""
        headers = set(self.header_rows(sheet))
        texts: dict[int, list[Cell]] = {}
        for c in sheet.cells:
            if c.value.strip():
                texts.setdefault(c.row, []).append(c)
        out = []
        for row, cells in texts.items():
            if (
                row + 1 in headers
                and len(cells) == 1
                and cells[0].col == 0
                and self.xf_bold(cells[0].style)
                and self.xf_fill(cells[0].style) != HEADER_FILL
            ):
                out.append(row)
        return sorted(out)

    def tables(self, sheet: SheetPrint) -> list[tuple[int, int]]:
        """(header row, end row) of each table: the header and the rows under it down to
        the next blank row or the next table."""
        used = {c.row for c in sheet.cells if c.value.strip()}
        headers = self.header_rows(sheet)
        out = []
        for i, h in enumerate(headers):
            stop = headers[i + 1] if i + 1 < len(headers) else sheet.last_row + 1
            end = h + 1
            while end < stop and end in used:
                end += 1
            out.append((h, end))
        return out
