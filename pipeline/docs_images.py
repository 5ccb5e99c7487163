"""Pictures for the user guides (docs/images/), made from the real outputs: ``make docs``.

The guides show the template a unit receives, the feedback workbook it gets back and the
report workbook the department signs. Screenshots taken by hand drift as soon as the code
changes, so this script makes every picture from what the code produces today:

1. run the real commands (``python -m pipeline templates --units …`` and
   ``python -m pipeline consolidate`` on the bundled samples) into a temporary folder;
2. convert the chosen documents to PDF with LibreOffice headless;
3. find each wanted page by its text (``pdftotext``), never by a fixed page number, so a
   longer table does not silently shift a picture onto the wrong page;
4. render that page with ``pdftoppm``, trim the white margin, reduce to a palette PNG;
5. copy the chart PNGs as they are.

``docs/images/nguon.json`` records the SHA-256 of every workbook and chart the pictures were
made from. tests/test_docs.py rebuilds the sources (no LibreOffice needed: the outputs are
byte-reproducible) and compares, so a change to the templates, feedback or report that is not
followed by ``make docs`` fails the tests instead of leaving stale pictures in the guide.

Needs LibreOffice (``soffice``) and poppler-utils (``pdftoppm``, ``pdftotext``) on PATH.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image, ImageChops

from pipeline.errors import PipelineError
from pipeline.registry import load_registry
from pipeline.report import workbook_path
from pipeline.schema import DEFAULT_SCHEMA_DIR, load_schemas

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"
IMAGES_DIR = DOCS_DIR / "images"
SOURCES_FILE = IMAGES_DIR / "nguon.json"
YEAR = 2026
"""The year of the bundled samples (samples/<year>/) the pictures are made from."""
RUN_DAY = (20, 12)
"""Day and month of YEAR the pictured run is made on (SOURCE_DATE_EPOCH, see
pipeline.cli.run_date): after every sample's report date and mail, and pinned, so the pictures
do not change with the day `make docs` runs."""
TEMPLATE_UNIT_TYPE = "high_school"
"""The per-unit template shown is the first unit of this type in the registry."""
MARGIN_PX = 14
LOCALE = "vi_VN.UTF-8"
PORTRAIT_DPI = 85
LANDSCAPE_DPI = 100
TIMEOUT_S = 300

# Source documents, by key.
TEMPLATE = "template"
FEEDBACK = "feedback"
REPORT = "report"
NARRATIVE = "narrative"


@dataclass(frozen=True)
class Shot:
    """One picture: a page of a source workbook, found by a text on that page."""

    name: str
    """File stem in docs/images/ (stable: the guides link to it)."""
    source: str
    marker: str
    """Text on the wanted page; the first page containing it is taken."""
    dpi: int = PORTRAIT_DPI
    whole_line: bool = False
    """The marker must be a whole line of the page (for “Biểu 04”, not “… Biểu 04 …”)."""


SHOTS: tuple[Shot, ...] = (
    Shot("bieu-mau-huong-dan", TEMPLATE, "HƯỚNG DẪN ĐIỀN BIỂU MẪU BÁO CÁO"),
    Shot("bieu-mau-thong-tin-chung", TEMPLATE, "I. THÔNG TIN ĐƠN VỊ"),
    Shot("bieu-mau-con-nguoi", TEMPLATE, "THAM GIA HỌC TẬP SUỐT ĐỜI", LANDSCAPE_DPI),
    Shot(
        "bieu-mau-sang-kien", TEMPLATE, "SÁNG KIẾN, GIẢI PHÁP THỰC HIỆN PHONG TRÀO", LANDSCAPE_DPI
    ),
    Shot("phan-hoi-danh-sach-loi", FEEDBACK, "CÁC VẤN ĐỀ CẦN SỬA TRONG TỆP", LANDSCAPE_DPI),
    Shot("phan-hoi-o-to-mau", FEEDBACK, "I. THÔNG TIN ĐƠN VỊ"),
    Shot("bao-cao-bia", REPORT, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    Shot("bao-cao-bieu-01", REPORT, "Biểu 01", LANDSCAPE_DPI, whole_line=True),
    Shot("bao-cao-bieu-03", REPORT, "Biểu 03", LANDSCAPE_DPI, whole_line=True),
    Shot("bao-cao-bieu-04", REPORT, "Biểu 04", LANDSCAPE_DPI, whole_line=True),
    Shot("bao-cao-bieu-09", REPORT, "Biểu 09", LANDSCAPE_DPI, whole_line=True),
    Shot("bao-cao-bieu-10", REPORT, "Biểu 10", LANDSCAPE_DPI, whole_line=True),
    Shot("bao-cao-bieu-11", REPORT, "Biểu 11", LANDSCAPE_DPI, whole_line=True),
    Shot("du-thao-trang-dau", NARRATIVE, "Độc lập - Tự do - Hạnh phúc"),
    Shot("du-thao-chuyen-vien-viet", NARRATIVE, "[Chuyên viên viết"),
)
GUIDE = DOCS_DIR / "huong-dan-su-dung.md"
SUMMARY_START = "<!-- tom-tat-mau: bat-dau (make docs ghi lai) -->"
SUMMARY_END = "<!-- tom-tat-mau: het -->"
"""The guide quotes the sample run's summary between these markers; `make docs` rewrites it."""
CHART_PREFIX = "bieu-do-"
"""Chart PNGs are copied as docs/images/bieu-do-<chart file name>."""


@dataclass(frozen=True)
class Sources:
    """The real outputs the pictures are made from."""

    documents: dict[str, Path]
    charts: tuple[Path, ...]
    summary: str
    """What `consolidate` printed, with the temporary output folder shown as ``output``."""

    def hashes(self) -> dict[str, dict[str, str]]:
        """What nguon.json records: each source's file name and SHA-256."""
        files = {**self.documents, **{CHART_PREFIX + p.stem: p for p in self.charts}}
        return {
            key: {"file": path.name, "sha256": _sha256(path)} for key, path in sorted(files.items())
        }


class DocsError(PipelineError):
    """The pictures could not be made (a tool is missing or a page was not found)."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a tool; return what it printed (stdout)."""
    log.info("%s", " ".join(command))
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()
        raise DocsError(f"Lệnh thất bại: {' '.join(command)}\n{detail}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DocsError(f"Không chạy được lệnh {command[0]}: {exc}") from exc
    return done.stdout.decode("utf-8", errors="replace")


def _pipeline(*args: str) -> str:
    """Run a real command of the tool, exactly as a user types it; return its output."""
    day, month = RUN_DAY
    noon = dt.datetime(YEAR, month, day, 12, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(noon.timestamp()))}
    return _run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env)


def template_unit(year: int = YEAR) -> str:
    """Code of the unit whose pre-filled template the guide shows."""
    schemas = load_schemas(DEFAULT_SCHEMA_DIR)
    registry = load_registry(ROOT / "registry" / "units.csv", schemas.report)
    for unit in registry.units.values():
        if unit.type == TEMPLATE_UNIT_TYPE:
            return unit.code
    raise DocsError(f"Danh mục không có đơn vị loại {TEMPLATE_UNIT_TYPE}.")


def pick_feedback(out_dir: Path) -> Path:
    """The feedback workbook with the most errors and warnings (ties: by file name).

    The guides use it to show red and yellow cells and the list of problems, so the richer
    the better; the choice depends only on the run's issues.csv, hence is stable.
    """
    issues = pd.read_csv(out_dir / "issues.csv", dtype=str, encoding="utf-8-sig")
    issues = issues[issues["severity"].isin(["error", "warning"])]
    counts = issues.groupby("file").size()
    feedback_dir = out_dir / "feedback"
    candidates = sorted(
        (-int(n), file) for file, n in counts.items() if (feedback_dir / str(file)).exists()
    )
    if not candidates:
        raise DocsError(f"Không có tệp phản hồi nào trong {feedback_dir}.")
    return feedback_dir / candidates[0][1]


def build_sources(work: Path, year: int = YEAR) -> Sources:
    """Write the per-unit template and a consolidated sample run into `work`."""
    unit = template_unit(year)
    templates_dir = work / "templates"
    _pipeline("templates", "--year", str(year), "--units", unit, "--output", str(templates_dir))
    found = sorted(templates_dir.glob(f"{unit}_*.xlsx"))
    if len(found) != 1:
        raise DocsError(f"Không thấy biểu mẫu của đơn vị {unit} trong {templates_dir}.")
    output = work / "output"
    samples = ROOT / "samples" / str(year)
    printed = _pipeline(
        "consolidate", "--year", str(year), "--input", str(samples), "--output", str(output), "-q"
    )
    summary = printed.replace(str(output), "output").replace(os.sep, "/").strip()
    out_dir = output / str(year)
    charts = tuple(sorted((out_dir / "charts").glob("*.png")))
    if not charts:
        raise DocsError(f"Không thấy biểu đồ trong {out_dir / 'charts'}.")
    drafts = sorted(out_dir.glob("*.docx"))
    if len(drafts) != 1:
        raise DocsError(f"Cần đúng một dự thảo báo cáo .docx trong {out_dir}, thấy {len(drafts)}.")
    return Sources(
        documents={
            TEMPLATE: found[0],
            FEEDBACK: pick_feedback(out_dir),
            REPORT: workbook_path(out_dir, year),
            NARRATIVE: drafts[0],
        },
        charts=charts,
        summary=summary,
    )


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DocsError(
            f"Cần chương trình {tool} (LibreOffice, poppler-utils) để tạo hình minh họa."
        )
    return path


def to_pdf(workbook: Path, out_dir: Path) -> Path:
    """Convert a workbook or the .docx draft with LibreOffice headless, in a throw-away profile."""
    soffice = shutil.which("soffice") or _need("libreoffice")
    profile = Path(tempfile.gettempdir()) / f"lo-docs-{os.getpid()}"
    # Vietnamese locale: numbers print as 8.453 and 83,6% (as in Excel at the department),
    # not in the build machine's English style.
    env = {**os.environ, "LC_ALL": LOCALE, "LANG": LOCALE, "LANGUAGE": "vi"}
    try:
        _run(
            [
                soffice,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(workbook),
            ],
            env=env,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pdf = out_dir / f"{workbook.stem}.pdf"
    if not pdf.exists():
        raise DocsError(f"LibreOffice không tạo được {pdf.name}.")
    return pdf


def page_texts(pdf: Path) -> list[str]:
    """The text of each page (pdftotext separates pages with a form feed)."""
    result = subprocess.run(
        [_need("pdftotext"), "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    return result.stdout.decode("utf-8", errors="replace").split("\f")


def find_page(texts: list[str], shot: Shot) -> int:
    """1-based number of the first page showing the shot's marker."""
    for number, text in enumerate(texts, start=1):
        if shot.whole_line:
            if any(line.strip() == shot.marker for line in text.splitlines()):
                return number
        elif shot.marker in " ".join(text.split()):
            return number
    raise DocsError(f"Không thấy trang có “{shot.marker}” cho hình {shot.name}.")


def render_page(pdf: Path, page: int, dpi: int, target: Path) -> None:
    """Render one page to PNG, trim the white margin and store it as a palette PNG."""
    stem = target.parent / f"{target.stem}-raw"
    _run(
        [
            _need("pdftoppm"),
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(stem),
        ]
    )
    raw = stem.with_suffix(".png")
    with Image.open(raw) as opened:
        image = opened.convert("RGB")
    raw.unlink()
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box is not None:
        left, top, right, bottom = box
        image = image.crop(
            (
                max(0, left - MARGIN_PX),
                max(0, top - MARGIN_PX),
                min(image.width, right + MARGIN_PX),
                min(image.height, bottom + MARGIN_PX),
            )
        )
    # Palette PNGs are about half the size and look the same for rendered sheets.
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, optimize=True
    )


def update_guide_summary(summary: str, guide: Path = GUIDE) -> bool:
    """Put the sample run's summary between the markers of the guide; True if it changed."""
    text = guide.read_text(encoding="utf-8")
    start, end = text.find(SUMMARY_START), text.find(SUMMARY_END)
    if start < 0 or end < start:
        raise DocsError(f"{guide.name} thiếu cặp dấu {SUMMARY_START} … {SUMMARY_END}.")
    block = f"{SUMMARY_START}\n```\n{summary}\n```\n"
    new = text[:start] + block + text[end:]
    if new != text:
        guide.write_text(new, encoding="utf-8")
    return new != text


def make_images(images_dir: Path = IMAGES_DIR, year: int = YEAR) -> list[Path]:
    """Build the sources, render every shot, copy the charts; return the files written."""
    images_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="xhht-docs-") as tmp:
        work = Path(tmp)
        sources = build_sources(work, year)
        pdf_dir = work / "pdf"
        pdf_dir.mkdir()
        pages: dict[str, dict[str, object]] = {}
        for key, workbook in sorted(sources.documents.items()):
            log.info("chuyển %s sang PDF", workbook.name)
            pdf = to_pdf(workbook, pdf_dir)
            texts = page_texts(pdf)
            for shot in (s for s in SHOTS if s.source == key):
                page = find_page(texts, shot)
                target = images_dir / f"{shot.name}.png"
                render_page(pdf, page, shot.dpi, target)
                pages[shot.name] = {"source": key, "page": page, "dpi": shot.dpi}
                written.append(target)
        for chart in sources.charts:
            target = images_dir / f"{CHART_PREFIX}{chart.name}"
            shutil.copyfile(chart, target)
            written.append(target)
        wanted = {p.name for p in written}
        for old in images_dir.glob("*.png"):
            if old.name not in wanted:
                log.info("xóa hình cũ %s", old.name)
                old.unlink()
        record = {
            "year": year,
            "sources": sources.hashes(),
            "pages": dict(sorted(pages.items())),
            "consolidate_summary": sources.summary.splitlines(),
        }
        record_path = images_dir / SOURCES_FILE.name
        record_path.write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        written.append(record_path)
    if images_dir == IMAGES_DIR and update_guide_summary(sources.summary):
        written.append(GUIDE)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.docs_images",
        description="Tạo lại hình minh họa của hướng dẫn sử dụng (docs/images/) từ kết quả thật.",
    )
    parser.add_argument("--output", type=Path, default=IMAGES_DIR, help="Thư mục ghi hình.")
    parser.add_argument("-v", "--verbose", action="store_true", help="In từng bước.")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        written = make_images(args.output)
    except PipelineError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    size = f"{sum(p.stat().st_size for p in written) / 1e6:.2f}".replace(".", ",")
    print(f"Đã ghi {len(written)} tệp vào {args.output} ({size} MB).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
