"""The phase review (sơ kết 2023-2025) built from the committed 2023-2025 samples.

One CLI run, ``consolidate --phase 2023-2025`` on an empty output folder, consolidates
each year from samples/<year> (so each year is compared with the one before) and writes
the review; the tests then hold the workbook to the yearly aggregates.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import pipeline.review as review
from pipeline import rates
from pipeline.cli import main
from pipeline.errors import StorageError
from pipeline.registry import Registry
from pipeline.review import (
    Labels,
    Phase,
    ReviewError,
    build_workbook,
    chart_specs,
    load_review,
    parse_phase,
    render_png,
)
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert

PHASE = Phase(2023, 2025)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("output")
    res = CliRunner().invoke(
        main, ["consolidate", "--phase", "2023-2025", "--output", str(out), "-q", "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "Báo cáo sơ kết giai đoạn 2023-2025" in res.output
    return out


@pytest.fixture(scope="module")
def book(output: Path) -> Path:
    return output / "review-2023-2025" / "bao-cao-so-ket-2023-2025.xlsx"


def aggregates(output: Path, year: int) -> pd.DataFrame:
    frame = pd.read_csv(output / str(year) / "data" / "aggregates.csv", encoding="utf-8-sig")
    return frame


def city(output: Path, year: int) -> dict[str, float]:
    aggs = aggregates(output, year)
    aggs = aggs[aggs["level"] == "city"]
    return dict(zip(aggs["field"], aggs["value"].astype(float), strict=True))


# --------------------------------------------------------------------------- phase


@pytest.mark.parametrize("text", ["2025-2023", "2023", "abc", "2023-2060"])
def test_bad_phase(text: str) -> None:
    with pytest.raises(ReviewError):
        parse_phase(text)


def test_phase_names() -> None:
    assert parse_phase("2023-2025") == PHASE
    assert PHASE.workbook_name == "bao-cao-so-ket-2023-2025.xlsx"
    assert parse_phase("2023 - 2030").workbook_name == "bao-cao-tong-ket-2023-2030.xlsx"


def test_no_year_at_all_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["consolidate", "--phase", "2010-2012", "--output", str(tmp_path), "--input", "nowhere"],
    )
    assert res.exit_code == 2
    assert "Chưa có số liệu tổng hợp" in res.output


# --------------------------------------------------------------------------- outputs


def test_outputs(output: Path, book: Path) -> None:
    review = output / "review-2023-2025"
    assert book.is_file()
    pngs = sorted(p.name for p in (review / "charts").glob("*.png"))
    assert pngs == [
        "chi-tieu-cdht-members.png",
        "chi-tieu-ldu-units.png",
        "cong-dan-hoc-tap-theo-loai-don-vi.png",
        "ket-qua-chinh-qua-cac-nam.png",
        "tinh-hinh-nop-bao-cao.png",
    ]
    trends = pd.read_csv(review / "data" / "trends.csv", encoding="utf-8-sig")
    assert sorted(set(trends["year"])) == [2023, 2024, 2025]
    for year in (2023, 2024, 2025):
        assert (output / str(year) / "data" / "aggregates.csv").is_file()


def test_sheets(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == [
        "Tổng quan",
        "1. Toàn thành phố",
        "2. Chỉ tiêu",
        "3. Theo địa bàn",
        "4. Theo loại đơn vị",
        "5. Nộp báo cáo",
        "6. Biểu đồ",
    ]
    cover = wb["Tổng quan"]
    texts = [c.value for row in cover.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("BÁO CÁO SƠ KẾT GIAI ĐOẠN 2023 - 2025" in t for t in texts)
    assert any("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in t for t in texts)


def test_city_trends_equal_the_yearly_aggregates(
    book: Path, output: Path, schemas: Schemas, registry: Registry
) -> None:
    labels = Labels(schemas, registry)
    ws = openpyxl.load_workbook(book)["1. Toàn thành phố"]
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Chỉ tiêu thống kê")
    assert list(header[1:4]) == ["Năm 2023", "Năm 2024", "Năm 2025"]
    rows = {r[0]: r[1:4] for r in ws.iter_rows(values_only=True) if r[0] and r[1] is not None}
    years = {y: city(output, y) for y in (2023, 2024, 2025)}
    checked = 0
    for code in (
        "units",
        "campaign_events",
        "ldu_recognised",
        "members_recognised",
        "funds_mobilised",
        "target.cdht_members",
        "target.ldu_units",
    ):
        got = rows[labels.measure(code)]
        want = [years[y][code] for y in (2023, 2024, 2025)]
        if labels.is_rate(code):
            # A rate is shown truncated to 0,1% (docs/dac-ta-tieu-chi.md, mục 1.4).
            want = [rates.shown(v) for v in want]
        assert got == pytest.approx(want), code
        checked += 1
    assert checked == 7
    # The samples trend upwards: the movement's headline rates grow every year.
    headline = [years[y]["target.cdht_members"] for y in (2023, 2024, 2025)]
    assert headline == sorted(headline) and headline[0] < headline[-1]


def test_targets_against_milestones(book: Path, output: Path, schemas: Schemas) -> None:
    ws = openpyxl.load_workbook(book)["2. Chỉ tiêu"]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if r[0]}
    for t in schemas.criteria.targets:
        row = rows[t.label]
        assert list(row[1:4]) == pytest.approx(
            [rates.shown(city(output, y)[f"target.{t.code}"]) for y in (2023, 2024, 2025)]
        )
        assert row[4] == t.milestones.get(2025)
        assert row[5] == t.milestones.get(2030)
        assert str(row[6]).startswith("Năm 2025:")


def test_groups_and_reporting(book: Path, output: Path, registry: Registry) -> None:
    wb = openpyxl.load_workbook(book)
    area_rows = [r for r in wb["3. Theo địa bàn"].iter_rows(values_only=True) if r[0]]
    aggs = aggregates(output, 2025)
    units = aggs[(aggs["level"] == "area") & (aggs["field"] == "units")]
    first_area = registry.areas[str(units.iloc[0]["key"])].name
    row = next(r for r in area_rows if r[0] == first_area)
    assert row[3] == float(units.iloc[0]["value"])
    rep = {r[0]: r for r in wb["5. Nộp báo cáo"].iter_rows(values_only=True) if r[0]}
    tracking = pd.read_csv(output / "2024" / "data" / "tracking.csv", encoding="utf-8-sig")
    counts = tracking["status"].value_counts()
    assert rep[2024][1:6] == (
        len(tracking),
        counts["on_time"],
        counts["late"],
        counts.get("rejected", 0),
        counts["missing"],
    )


def test_native_charts(book: Path) -> None:
    with zipfile.ZipFile(book) as zf:
        charts = sorted(n for n in zf.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
        assert len(charts) == 5
        for name in charts:
            xml = zf.read(name).decode("utf-8")
            assert "'6. Biểu đồ'!$B$" in xml, name


def test_png_charts_are_reproducible(output: Path, schemas: Schemas, registry: Registry) -> None:
    data = load_review(output, PHASE)
    for spec in chart_specs(data, Labels(schemas, registry), schemas):
        png = render_png(spec)
        assert png.startswith(b"\x89PNG")
        assert (output / "review-2023-2025" / "charts" / f"{spec.key}.png").read_bytes() == png


def test_bytes_are_deterministic(
    book: Path, output: Path, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    data = load_review(output, PHASE)
    first = build_workbook(data, schemas, registry, settings)
    assert first == build_workbook(data, schemas, registry, settings)
    # The CLI run noted how each year was obtained; the rest is the same workbook.
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        core = zf.read("docProps/core.xml").decode()
    assert "2025-12-31T00:00:00Z" in core


def test_missing_years_are_listed(output: Path, schemas: Schemas) -> None:
    data = load_review(output, Phase(2023, 2027))
    assert data.missing == [2026, 2027]
    assert data.present == [2023, 2024, 2025]


# --------------------------------------------------------------------------- history


def test_each_year_compared_with_the_year_before(output: Path) -> None:
    assert not (output / "2023" / "data" / "year_over_year.csv").exists()
    yoy = pd.read_csv(output / "2025" / "data" / "year_over_year.csv", encoding="utf-8-sig")
    assert len(yoy) > 100
    issues = pd.read_csv(output / "2025" / "issues.csv", encoding="utf-8-sig")
    jumps = issues[issues["code"] == "implausible-change"]
    # The samples plant one dropped digit in 2024: 2025 is a jump to explain.
    assert list(zip(jumps["unit_code"], jumps["field"], strict=True)) == [
        ("PTNCH-06", "campaign_participants")
    ]
    assert jumps.iloc[0]["severity"] == "warning" and jumps.iloc[0]["cell"]
    flagged = yoy[yoy["implausible"].astype(str).str.lower() == "true"]
    assert list(flagged["unit_code"]) == ["PTNCH-06"]


# --------------------------------------------------------------------------- LibreOffice


@pytest.mark.libreoffice
def test_libreoffice_opens_the_review(book: Path, tmp_path: Path) -> None:
    pdf = convert(book, "pdf", tmp_path / "pdf")
    assert pdf.is_file() and pdf.stat().st_size > 10_000


def test_a_failed_review_keeps_the_last_one(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review folder is swapped in whole, like a year's (docs/dac-ta-ghi-ket-qua.md)."""

    out = tmp_path / "output"
    shutil.copytree(output, out)
    folder = out / "review-2023-2025"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "review" and manifest["phase"] == "2023-2025"
    listed = sorted(o["file"] for o in manifest["outputs"])
    assert listed == sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    before = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }

    def full(*_args: object) -> bytes:
        raise StorageError("Không ghi được biểu đồ (ổ đĩa hết chỗ trống).", errno.ENOSPC)

    monkeypatch.setattr(review, "render_png", full)
    res = CliRunner().invoke(
        main, ["consolidate", "--phase", "2023-2025", "--output", str(out), "-q", "--workers", "1"]
    )
    assert res.exit_code == 2, res.output
    assert f"Ổ đĩa chứa thư mục kết quả {folder} đã hết chỗ trống" in res.output
    assert f"Kết quả của lần chạy thành công trước trong {folder} vẫn nguyên vẹn" in res.output
    assert {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    } == before
    assert not list(out.glob(".review-2023-2025.staging-*"))
