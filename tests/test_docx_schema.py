"""The .docx draft as Word reads it: children in ECMA-376 order, Word 2013+ mode, no stale parts.

Word validates WordprocessingML against the schema's sequences: an element out of its
sequence (a ``w:pBdr`` after ``w:spacing``, a ``w:tblBorders`` after ``w:tblLook``) is
ignored or "repaired" away, and the rules under the letterhead and the grid of the criteria
table vanish, while LibreOffice, which forgives the order, shows them.

The sequences below are the specification, copied from ECMA-376 Part 1 (5th edition,
Transitional, the complex types named), on purpose independently of the table the code
inserts by (:data:`pipeline.ooxml.WML_SEQUENCES`): a wrong entry there is caught here.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Iterator

import pytest
from lxml import etree

from pipeline import narrative as nv
from pipeline.registry import Registry
from pipeline.run import RunResult
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.report_data import build_result


def names(text: str) -> list[str]:
    return text.split()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

PPR_BASE = names(
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers "
    "pBdr shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE "
    "autoSpaceDN bidi adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents "
    "suppressOverlap jc textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle"
)
RPR_BASE = names(
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint "
    "noProof snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u "
    "effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"
)
SEQUENCES: dict[str, list[str]] = {
    # CT_PPr (§17.3.1.26): the base, then the paragraph mark's rPr, sectPr, pPrChange.
    "pPr": [*PPR_BASE, "rPr", "sectPr", "pPrChange"],
    # CT_RPr (§17.3.2.28); a paragraph mark's CT_ParaRPr starts with ins/del/moveFrom/moveTo.
    "rPr": ["ins", "del", "moveFrom", "moveTo", *RPR_BASE, "rPrChange"],
    # CT_TblPr (§17.4.60).
    "tblPr": names(
        "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
        "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption "
        "tblDescription tblPrChange"
    ),
    # CT_TcPr (§17.4.70).
    "tcPr": names(
        "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection tcFitText "
        "vAlign hideMark headers cellIns cellDel cellMerge tcPrChange"
    ),
    # CT_SectPr (§17.6.17): header/footer references (any order among themselves) first.
    "sectPr": names(
        "headerReference footerReference footnotePr endnotePr type pgSz pgMar paperSrc pgBorders "
        "lnNumType pgNumType cols formProt vAlign noEndnote titlePg textDirection bidi "
        "rtlGutter docGrid printerSettings sectPrChange"
    ),
    # CT_PBdr (§17.3.1.24) and CT_TblBorders (§17.4.39).
    "pBdr": names("top left bottom right between bar"),
    "tblBorders": names("top left start bottom right end insideH insideV"),
}
REPEATABLE = {"headerReference", "footerReference"}
"""Children that may occur more than once, in any order among themselves."""
WORD_PARTS = ("word/document.xml", "word/styles.xml", "word/header1.xml")


def order_problems(xml: bytes, part: str) -> Iterator[str]:
    """Every element whose children break its schema sequence (or are not in it)."""
    root = etree.fromstring(xml)
    for parent, sequence in SEQUENCES.items():
        rank = {name: i for i, name in enumerate(sequence)}
        rank.update({name: -1 for name in REPEATABLE if name in rank})
        for el in root.iter(f"{{{W}}}{parent}"):
            children = [etree.QName(c).localname for c in el if etree.QName(c).namespace == W]
            for name in children:
                if name not in rank:
                    yield f"{part}: w:{name} is no child of w:{parent}"
            for a, b in itertools.pairwise(children):
                if a not in rank or b not in rank:
                    continue
                if rank[b] < rank[a] or (a == b and a not in REPEATABLE):
                    yield f"{part}: w:{b} after w:{a} in w:{parent} {children}"


def test_order_checker_finds_what_word_repairs() -> None:
    """The checker itself: the two faults of issue 16, and a clean paragraph."""
    bad = (
        f'<w:body xmlns:w="{W}"><w:p><w:pPr><w:spacing/><w:pBdr><w:bottom/></w:pBdr></w:pPr>'
        "</w:p><w:tbl><w:tblPr><w:tblW/><w:tblLayout/><w:tblLook/><w:tblBorders/></w:tblPr>"
        "</w:tbl></w:body>"
    ).encode()
    found = list(order_problems(bad, "x"))
    assert len(found) == 2
    assert "w:pBdr after w:spacing" in found[0] and "w:tblBorders after w:tblLook" in found[1]
    good = f'<w:p xmlns:w="{W}"><w:pPr><w:pBdr/><w:spacing/><w:ind/><w:jc/></w:pPr></w:p>'
    assert not list(order_problems(good.encode(), "x"))


@pytest.fixture(scope="module")
def result(schemas: Schemas, registry: Registry, settings: Settings) -> RunResult:
    return build_result(schemas, registry, settings)


@pytest.fixture(scope="module")
def package(result: RunResult) -> bytes:
    return nv.build_narrative(result, None, {})


@pytest.fixture(scope="module")
def parts(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_every_property_element_in_schema_order(parts: dict[str, bytes]) -> None:
    problems = [p for name in WORD_PARTS for p in order_problems(parts[name], name)]
    assert not problems, "\n".join(problems)


def test_rules_and_grid_are_there(parts: dict[str, bytes]) -> None:
    """What the order protects: the rules under the letterhead and title, the table grid."""
    root = etree.fromstring(parts["word/document.xml"])
    ns = {"w": W}
    rules = root.findall(".//w:pPr/w:pBdr/w:bottom", ns)
    assert len(rules) >= 3  # under the two letterhead blocks and under the title
    assert all(r.get(f"{{{W}}}val") == "single" for r in rules)
    grids = [
        t
        for t in root.findall(".//w:tblPr/w:tblBorders", ns)
        if t.find("w:insideH", ns).get(f"{{{W}}}val") == "single"  # type: ignore[union-attr]
    ]
    assert grids, "no table with a grid"


def test_word_2013_compatibility_mode(parts: dict[str, bytes]) -> None:
    root = etree.fromstring(parts["word/settings.xml"])
    modes = [
        s.get(f"{{{W}}}val")
        for s in root.iter(f"{{{W}}}compatSetting")
        if s.get(f"{{{W}}}name") == "compatibilityMode"
    ]
    assert modes == ["15"]


def test_no_stale_thumbnail_or_styles_with_effects(parts: dict[str, bytes]) -> None:
    names = set(parts)
    assert not any("thumbnail" in n for n in names), names
    assert "word/stylesWithEffects.xml" not in names
    for name in ("[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels"):
        text = parts[name].decode()
        assert "thumbnail" not in text and "stylesWithEffects" not in text, name


def test_every_relationship_target_exists(parts: dict[str, bytes]) -> None:
    """Dropping parts must not leave a relationship pointing at nothing."""
    for rels in (n for n in parts if n.endswith(".rels")):
        base = rels.replace("_rels/", "").removesuffix(".rels").rsplit("/", 1)[0]
        for rel in etree.fromstring(parts[rels]):
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else f"{base}/{target}"
            parts_path = "/".join(_resolve(path.lstrip("/").split("/")))
            assert parts_path in parts, f"{rels}: {target}"


def _resolve(segments: list[str]) -> list[str]:
    out: list[str] = []
    for s in segments:
        if s == "..":
            out.pop()
        elif s and s != ".":
            out.append(s)
    return out


def test_bytes_reproducible(result: RunResult, package: bytes) -> None:
    assert nv.build_narrative(result, None, {}) == package
