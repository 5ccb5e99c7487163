"""Every kind of file the product writes, checked by tools that are not the ones that wrote it.

LibreOffice forgives constructs Microsoft Office repairs or refuses. Two independent checks:

* **openxml-audit** (PyPI ``openxml-audit``): the Open XML SDK's validation rules (schema,
  semantics, package, security) ported to Python. Zero findings, except those in
  :data:`ALLOWED`: each entry names the finding exactly, says why it is the validator's
  strictness and not something Office refuses, and gives the evidence.
* **Gnumeric** (``ssconvert``, Debian package gnumeric): a second real spreadsheet program
  opens every workbook; anything it says on stderr fails the test unless it is in
  :data:`GNUMERIC_ALLOWED` (Gnumeric's notes on elements it does not implement), and the
  comments and sheets it read are counted against the package.

The .docx is checked by openxml-audit and opened by LibreOffice Writer (to PDF). The kinds:
the consolidated report, the phase review, the roll-up, the blank and per-unit templates,
feedback copies from both paths (plain; Excel 2016 form with a formula; a copy sent back;
converted from .ods and .xls) and the .docx draft.

Tests skip, with the reason, only where a tool is missing; .ci/run installs them all.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from lxml import etree  # type: ignore[import-untyped]
from openpyxl.comments import Comment

from pipeline import feedback, feedback_package
from pipeline.cli import main
from pipeline.collect import read_all
from pipeline.export import write_tables
from pipeline.registry import Registry
from pipeline.render import write_outputs
from pipeline.review import build_workbook, load_review, parse_phase
from pipeline.run import consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import build_template, template_bytes
from tests.excel_forms import excel2016_validations
from tests.libreoffice import convert
from tests.submission_factory import CLEAN_SCHOOL, save, school_workbook
from tests.test_feedback_package import ISSUE_CASES

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2026

# --------------------------------------------------------------------------- allow-lists


@dataclass(frozen=True)
class Allowed:
    """One kind of finding that Office accepts: matched on the finding's part, id and text."""

    part: str
    """Regular expression on the part's name (``/xl/styles.xml``)."""
    finding: str
    """Regular expression on ``<id>: <description>`` (the id is empty for schema findings)."""
    reason: str
    evidence: str
    kinds: frozenset[str] | None = None
    """The kinds of file it may appear in; None for any."""

    def matches(self, kind: str, part: str, finding: str) -> bool:
        return (
            (self.kinds is None or kind in self.kinds)
            and re.fullmatch(self.part, part) is not None
            and re.fullmatch(self.finding, finding) is not None
        )


FONT_CHILDREN = (
    "b|i|strike|condense|extend|outline|shadow|u|vertAlign|sz|color|name|family|charset|scheme"
)
ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        part=r"/xl/styles\.xml",
        finding=rf": Unexpected element '(?:{FONT_CHILDREN})' found",
        reason=(
            "The order of a <font>'s children. The Open XML SDK models CT_Font as a sequence "
            "(b, i, …, sz, color, name, family, charset, scheme); ECMA-376 does not: its schema "
            "declares CT_Font as <xsd:choice maxOccurs='unbounded'>, any order. openpyxl (the "
            "templates, the openpyxl feedback path) writes name, family, b, i, color, sz, u; "
            "LibreOffice writes its own order too; Excel reads both as any spreadsheet tool does."
        ),
        evidence=(
            "ECMA-376 Part 1, sml.xsd, complexType CT_Font (xsd:choice, maxOccurs unbounded); "
            "every workbook openpyxl has ever written uses this order, and Gnumeric and "
            "LibreOffice show these fonts (the Gnumeric test below opens each file)."
        ),
    ),
    Allowed(
        part=r"/xl/worksheets/sheet\d+\.xml",
        finding=r"Excel_InlineStrCells: Worksheet sheet\d+\.xml has \d+ inline-string cell\(s\).*",
        reason=(
            "Cells written as inline strings (<c t='inlineStr'><is>…), as the templates are so "
            "that per-unit values can be stamped in. A valid cell form (ECMA-376 Part 1 "
            "18.3.1.4, c@t='inlineStr'; 18.3.1.53 is) that Excel opens and shows; the finding "
            "itself says only that Excel moves the strings to a shared-string table when it "
            "next saves the file (a warning of the validator's Excel app-compat class)."
        ),
        evidence=(
            "The finding's own text (severity warning, source class excel_app_compat: Excel "
            "rewrites on its next save); Gnumeric and LibreOffice read every such cell (the "
            "reading tests read the templates' values back)."
        ),
        kinds=frozenset(
            {
                "template-blank",
                "template-unit",
                "feedback-direct",
                "feedback-openpyxl",
                "feedback-resent",
            }
        ),
    ),
    Allowed(
        part=r"/xl/workbook\.xml",
        finding=(
            r"Sem_MissingRelationshipType: A required relationship type "
            r"'http://schemas\.openxmlformats\.org/officeDocument/2006/relationships/theme' "
            r"is missing\."
        ),
        reason=(
            "No theme part in the copy of an .ods or .xls: LibreOffice writes none when it "
            "converts one (neither format has an Office theme), and the direct path keeps the "
            "converted package's parts. ECMA-376 makes a workbook's theme part optional; "
            "openxml-audit asks for one only in its strict mode (validator.py, "
            "_spreadsheet_required_relationships), not as a rule of the Open XML SDK."
        ),
        evidence=(
            "openxml_audit/validator.py: the theme is required only when strict=True; every "
            "font of the copy names its face (no scheme font needs the theme)."
        ),
        kinds=frozenset({"feedback-ods", "feedback-xls"}),
    ),
)


@dataclass(frozen=True)
class GnumericAllowed:
    line: str
    """Regular expression on one line of ssconvert's stderr."""
    reason: str


GNUMERIC_ALLOWED: tuple[GnumericAllowed, ...] = (
    GnumericAllowed(
        r"Unexpected element '(?:evenHeader|evenFooter|firstHeader|firstFooter)' in state : ",
        "Gnumeric's .xlsx reader knows only oddHeader and oddFooter in <headerFooter> "
        "(plugins/excel/xlsx-read.c); libgsf prints this for any element a reader does not "
        "declare and skips it. openpyxl writes the even/first headers empty.",
    ),
    GnumericAllowed(
        r"Unexpected element '(?:tableParts|workbookProtection)' in state : ",
        "Excel tables and workbook-structure protection are not implemented by Gnumeric "
        "(skipped as above); the cells of the tables are read (the sheet count and the "
        "comments are checked below).",
    ),
    GnumericAllowed(
        r"\t(?:workbook|worksheet)(?: -> headerFooter)?",
        "The second line of libgsf's note above: the element path.",
    ),
    GnumericAllowed(
        r"Undefined number format id '4[1-4]'",
        "LibreOffice's copy of an .ods/.xls declares Excel's built-in cell styles Comma, "
        "Comma [0], Currency and Currency [0] as Excel itself does: with the built-in "
        "accounting formats 41-44, which Excel defines implicitly (openpyxl's BUILTIN_FORMATS "
        "lists them) and ECMA-376's table of built-ins leaves out; no cell uses them.",
    ),
    GnumericAllowed(
        r"\*\* \(ssconvert:\d+\): WARNING \*\*: [\d:.]+: Damn\.  Someone just declared the "
        r"same namespace 'urn:schemas-microsoft-com:(?:vml|office:office)' with a different "
        r"prefix 'ns\d+:'",
        "openpyxl's VML for comments (the note shapes beside the comments part) declares the "
        "v and o namespaces again on each shape, under prefixes ns0-ns3 (openpyxl/comments/"
        "shape_writer.py). A namespace is its URI, whatever the prefix (Namespaces in XML "
        "1.0); libgsf only remarks on its own prefix table, and every comment is read "
        "(counted below).",
    ),
    GnumericAllowed(
        r"Unhandled object of type Note",
        "The VML shape of a cell comment: Gnumeric draws comments from the comments part, "
        "not from VML (each comment is counted in its .gnumeric output below).",
    ),
)

# --------------------------------------------------------------------------- the files


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[Path], Path]
    spreadsheet: bool = True
    libreoffice: bool = False


@pytest.fixture(scope="module")
def consolidated(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Output root with 2023-2026 consolidated from the samples: 2026 in full, the earlier
    years' exports, the 2023-2025 review and a roll-up of two departments."""
    root = tmp_path_factory.mktemp("output")
    for year in (2023, 2024, 2025):
        raws = read_all(ROOT / "samples" / str(year), schemas, workers=1)
        write_tables(consolidate(raws, year, schemas, registry, settings), root / str(year))
    phase = parse_phase("2023-2025")
    review = root / "review.xlsx"
    review.write_bytes(build_workbook(load_review(root, phase), schemas, registry, settings))
    raws = read_all(ROOT / "samples" / str(YEAR), schemas, workers=1)
    result = consolidate(raws, YEAR, schemas, registry, settings)
    write_outputs(result, ROOT / "samples" / str(YEAR), root / str(YEAR), workers=1)
    other = consolidate(
        raws, YEAR, schemas, registry, dataclasses.replace(settings, city_name="Tỉnh Mẫu B")
    )
    write_tables(other, root / "so-b" / str(YEAR))
    res = CliRunner().invoke(
        main,
        [
            "rollup",
            str(root / str(YEAR)),
            str(root / "so-b" / str(YEAR)),
            "--year",
            str(YEAR),
            "--output",
            str(root / "rollup"),
        ],
    )
    assert res.exit_code == 0, res.output
    return root


def _only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


@pytest.fixture(scope="module")
def files(
    consolidated: Path,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Path]:
    """Each kind's file, made on first use."""
    work = tmp_path_factory.mktemp("kinds")
    made: dict[str, Path] = {}
    wb = school_workbook(schemas, registry, settings)
    issues = ISSUE_CASES["error-and-warning"](wb)
    filled = template_bytes(wb)

    def feedback_copy(name: str, package: bytes, direct: bool) -> Path:
        source = work / f"{name}-gui.xlsx"
        source.write_bytes(package)
        why = feedback_package.ineligible(package, feedback.plain_name, feedback.FEEDBACK_SHEET)
        assert (why is None) == direct, why
        return feedback.write_feedback(source, issues, work / f"{name}.xlsx", "don-vi.xlsx")

    def openpyxl_source() -> bytes:
        # Excel 2016's x14 dropdowns, a unit's comment and a formula: the openpyxl path.
        book = openpyxl.load_workbook(io.BytesIO(filled))
        book["Thông tin chung"]["F23"] = "=1+1"
        book["Thông tin chung"]["D14"].comment = Comment("Thư của cô Lan.", "Cô Lan")
        return excel2016_validations(template_bytes(book))

    def legacy(fmt: str) -> Path:
        values = dict(CLEAN_SCHOOL, campaign_events="mười hai")
        src = save(school_workbook(schemas, registry, settings, values=values), work / "src.xlsx")
        converted = convert(src, fmt, work / fmt)
        task: feedback.FeedbackTask = (
            converted.name,
            converted,
            issues,
            work / "feedback" / feedback.feedback_name(converted.name),
            {},
        )
        out = feedback.feedback_task(task)
        assert out is not None
        return out

    year = consolidated / str(YEAR)
    makers: dict[str, Callable[[], Path]] = {
        "report": lambda: _only(year, "bao-cao-tong-hop-*.xlsx"),
        "docx": lambda: _only(year, "*.docx"),
        "review": lambda: consolidated / "review.xlsx",
        "rollup": lambda: _only(consolidated / "rollup" / str(YEAR), "*.xlsx"),
        "template-blank": lambda: _template(work / "blank.xlsx", schemas, settings, registry),
        "template-unit": lambda: _template(
            work / "unit.xlsx", schemas, settings, registry, "PGD-Q01"
        ),
        "feedback-direct": lambda: feedback_copy("direct", filled, direct=True),
        "feedback-openpyxl": lambda: feedback_copy("openpyxl", openpyxl_source(), direct=False),
        "feedback-resent": lambda: feedback_copy(
            "resent", feedback_copy("first", filled, direct=True).read_bytes(), direct=False
        ),
        "feedback-ods": lambda: legacy("ods"),
        "feedback-xls": lambda: legacy("xls"),
    }

    def get(kind: str) -> Path:
        if kind not in made:
            made[kind] = makers[kind]()
        return made[kind]

    return get


def _template(
    path: Path,
    schemas: Schemas,
    settings: Settings,
    registry: Registry,
    unit_code: str | None = None,
) -> Path:
    unit = registry.units[unit_code] if unit_code else None
    variant = (
        schemas.report.variant_for_unit_type(unit.type).code
        if unit
        else schemas.report.variants[0].code
    )
    wb = build_template(schemas.report, variant, YEAR, settings, registry, unit)
    path.write_bytes(template_bytes(wb))
    return path


SPREADSHEETS = [
    "report",
    "review",
    "rollup",
    "template-blank",
    "template-unit",
    "feedback-direct",
    "feedback-openpyxl",
    "feedback-resent",
    pytest.param("feedback-ods", marks=pytest.mark.libreoffice),
    pytest.param("feedback-xls", marks=pytest.mark.libreoffice),
]
KINDS = [
    *SPREADSHEETS,
    "docx",
]
LEGACY = {"feedback-ods": "ods", "feedback-xls": "xls"}


def _needs(kind: str) -> None:
    if kind in LEGACY and shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) not installed: no .ods/.xls to convert")


# --------------------------------------------------------------------------- openxml-audit


def _validator() -> Any:
    audit = pytest.importorskip(
        "openxml_audit", reason="openxml-audit not installed (pip install -e '.[dev]')"
    )
    # Office 2013: the oldest Office the units are expected to open the files in.
    return audit.OpenXmlValidator(
        file_format=audit.FileFormat.OFFICE_2013, max_errors=0, security_validation=True
    )


@dataclass(frozen=True)
class Finding:
    part: str
    text: str
    where: str

    def __str__(self) -> str:
        return f"{self.part} {self.where}: {self.text}"


def audit(path: Path) -> list[Finding]:
    """Every finding of openxml-audit on `path`, warnings included."""
    result = _validator().validate(path)
    return [
        Finding(e.part_uri, f"{e.id}: {e.description}", f"{e.path} {e.node or ''}".strip())
        for e in result.errors
    ]


def not_allowed(kind: str, findings: Iterable[Finding]) -> list[str]:
    return [str(f) for f in findings if not any(a.matches(kind, f.part, f.text) for a in ALLOWED)]


@pytest.mark.parametrize("kind", KINDS)
def test_openxml_audit_finds_nothing_office_refuses(
    kind: str, files: Callable[[str], Path]
) -> None:
    _needs(kind)
    _validator()
    assert not_allowed(kind, audit(files(kind))) == []


def test_the_allow_list_is_exact(files: Callable[[str], Path], tmp_path: Path) -> None:
    """Each entry is still needed, and a finding outside it fails: the check has teeth."""
    _validator()
    kinds = [k for k in ("template-blank", "feedback-direct", "feedback-openpyxl")]
    findings = {k: audit(files(k)) for k in kinds}
    used = {
        a.finding
        for k, found in findings.items()
        for f in found
        for a in ALLOWED
        if a.matches(k, f.part, f.text)
    }
    assert used >= {ALLOWED[0].finding, ALLOWED[1].finding}
    # A sheet whose <legacyDrawing> comes before <sheetData>: Excel repairs such a file.
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(files("feedback-direct")) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = next(n for n, d in parts.items() if b"<legacyDrawing" in d)
    root = etree.fromstring(parts[sheet])
    legacy = root.find("{*}legacyDrawing")
    root.find("{*}sheetData").addprevious(legacy)
    parts[sheet] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    with zipfile.ZipFile(broken, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    found = not_allowed("feedback-direct", audit(broken))
    assert found, "a misplaced <legacyDrawing> went unnoticed"
    assert any("Unexpected element" in f for f in found), found


@pytest.mark.libreoffice
def test_libreoffice_writer_opens_the_docx(files: Callable[[str], Path], tmp_path: Path) -> None:
    pdf = convert(files("docx"), "pdf", tmp_path / "pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", data)) >= 2


# --------------------------------------------------------------------------- Gnumeric


def _ssconvert() -> str:
    exe = shutil.which("ssconvert")
    if exe is None:
        pytest.skip("Gnumeric (ssconvert, Debian package gnumeric) not installed")
    return exe


def gnumeric(path: Path, out: Path) -> tuple[bytes, list[str]]:
    """The .gnumeric XML Gnumeric makes of `path`, and its stderr lines it does not allow."""
    run = subprocess.run(
        [_ssconvert(), str(path), str(out)],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    lines = run.stderr.decode("utf-8", "replace").splitlines()
    unexpected = [
        line
        for line in lines
        if line.strip() and not any(re.fullmatch(a.line, line) for a in GNUMERIC_ALLOWED)
    ]
    assert run.returncode == 0, lines
    return gzip.decompress(out.read_bytes()), unexpected


def _package_comments(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        # xl/comments1.xml (the direct path, LibreOffice), xl/comments/comment1.xml (openpyxl).
        return sum(
            len(re.findall(rb"<(?:\w+:)?comment ", zf.read(n)))
            for n in zf.namelist()
            if re.fullmatch(r"xl/comments[^/]*\.xml|xl/comments/[^/]+\.xml", n)
        )


def _package_sheets(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return len(re.findall(rb"<(?:\w+:)?sheet [^>]*r:id=", zf.read("xl/workbook.xml")))


@pytest.mark.parametrize("kind", SPREADSHEETS)
def test_gnumeric_opens_it_without_a_word(
    kind: str, files: Callable[[str], Path], tmp_path: Path
) -> None:
    _needs(kind)
    _ssconvert()
    path = files(kind)
    xml, unexpected = gnumeric(path, tmp_path / "out.gnumeric")
    assert unexpected == []
    # What the allowed notes skip is not content: every sheet and every comment is there.
    assert xml.count(b"<gnm:Sheet ") == _package_sheets(path)
    assert xml.count(b"<gnm:CellComment ") == _package_comments(path)


def test_gnumeric_speaks_up_about_a_link_written_as_a_target(tmp_path: Path) -> None:
    """The check has teeth: the openpyxl path's old links (a target "#'Sheet'!A1", an
    external relationship) are what Gnumeric called "Unknown type of hyperlink"."""
    _ssconvert()
    wb = openpyxl.Workbook()
    wb.active.title = "Trang"
    wb.active["A1"] = "đi tới"
    wb.active["A1"].hyperlink = "#'Trang'!B2"
    path = tmp_path / "lien-ket.xlsx"
    wb.save(path)
    _, unexpected = gnumeric(path, tmp_path / "out.gnumeric")
    assert any("Unknown type of hyperlink" in line for line in unexpected)
