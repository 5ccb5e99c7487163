"""The draft narrative report (.docx) written next to the workbook.

The sample submissions (samples/<year>) are read and consolidated once per module, then the
real outputs are written (CSV exports, workbook, charts, draft, manifest), so the figures in
the draft are checked against the very aggregates.csv the department receives.

Tests marked ``libreoffice`` need LibreOffice with Writer (``soffice`` and the
libreoffice-writer package) and are skipped without it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import docx
import pandas as pd
import pytest
from docx.shared import Mm

from pipeline import narrative as nv
from pipeline import rates as rates_module
from pipeline.collect import read_all
from pipeline.registry import Registry
from pipeline.render import write_outputs
from pipeline.run import RunResult, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2026
SAMPLES = ROOT / "samples" / str(YEAR)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def result(schemas: Schemas, registry: Registry, settings: Settings) -> RunResult:
    if not SAMPLES.is_dir():
        pytest.skip(f"no sample submissions in {SAMPLES}")
    raws = read_all(SAMPLES, schemas, workers=2)
    return consolidate(raws, YEAR, schemas, registry, settings)


@pytest.fixture(scope="module")
def out_dir(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("output") / str(YEAR)
    write_outputs(result, SAMPLES, out, workers=1)
    return out


@pytest.fixture(scope="module")
def draft(out_dir: Path) -> Path:
    return out_dir / f"du-thao-bao-cao-xhht-{YEAR}.docx"


@pytest.fixture(scope="module")
def document(draft: Path) -> docx.document.Document:
    return docx.Document(str(draft))


@pytest.fixture(scope="module")
def config() -> nv.NarrativeConfig:
    return nv.load_narrative_config()


def paragraphs(doc: docx.document.Document) -> list[str]:
    """Body paragraphs, then every table cell's paragraphs, in document order per kind."""
    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                out.extend(p.text for p in cell.paragraphs)
    return out


def body_text(doc: docx.document.Document) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def headings(doc: docx.document.Document, level: int) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


# --------------------------------------------------------------------------- numbers check

LEGAL_NUMBER = re.compile(r"\d+/(?:\d{4}/)?[A-ZĐ][\wĐđ&-]*")
DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b")
FORM = re.compile(r"\bBiểu \d{2}\b|\bHình \d+\b|\bMức \d\b|\b[IVX]+\.\d+[a-z]?\b")
HEADING_NUMBER = re.compile(r"^\d+\. ")
RATIO = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+)/(\d{1,3}(?:\.\d{3})+|\d+)(?![\d,])")
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(%?)")


def vn_number(whole: str, frac: str | None = None) -> float:
    return float(whole.replace(".", "") + ("." + frac if frac else ""))


@dataclasses.dataclass
class Allowed:
    """Every figure the draft may print, each taken from an output file of the run."""

    counts: set[float]
    rates: list[float]
    years: set[int]

    def count_ok(self, value: float) -> bool:
        return value in self.counts or (value.is_integer() and int(value) in self.years)

    def rate_ok(self, percent: float) -> bool:
        # Shown truncated to 0,1% by the one formatter (docs/dac-ta-tieu-chi.md, mục 1.4).
        return any(abs(percent - rates_module.shown(r) * 100) <= 1e-9 for r in self.rates)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)


def allowed_figures(
    out_dir: Path,
    result: RunResult,
    config: nv.NarrativeConfig,
    previous: pd.DataFrame | None = None,
) -> Allowed:
    aggs = _csv(out_dir / "data" / "aggregates.csv")
    aggs["value"] = pd.to_numeric(aggs["value"])
    city = aggs[aggs["level"] == "city"]
    frames = [city]
    if previous is not None:
        frames.append(previous[previous["level"] == "city"])
    counts: set[float] = set()
    rates: list[float] = []
    for frame in frames:
        for field, value in zip(frame["field"], frame["value"], strict=True):
            # A rate's pair sums (".numerator", ".denominator") are counts.
            is_pair = field.endswith((".numerator", ".denominator"))
            if (field.endswith("_rate") or field.startswith("target.")) and not is_pair:
                rates.append(float(value))
            else:
                counts.add(float(value))
    by_type = aggs[(aggs["level"] == "unit_type") & (aggs["field"] == "units")]
    counts.update(float(v) for v in by_type["value"])
    counts.add(float(by_type["value"].sum()))
    # Biểu 04: units per criterion and status, and units passing every criterion.
    crit = _csv(out_dir / "data" / "criteria.csv")
    counts.update(float(v) for v in crit.groupby(["criterion", "status"]).size())
    counts.update(float(v) for v in crit.groupby("criterion").size())
    all_pass = crit.groupby("unit_code")["status"].agg(lambda s: bool((s == "đạt").all()))
    counts.update({float(all_pass.sum()), float(len(all_pass))})
    # Biểu 09: reporting compliance.
    track = _csv(out_dir / "data" / "tracking.csv")
    status = track["status"].value_counts()
    sent = float(status.get("on_time", 0) + status.get("late", 0))
    counts.update(float(v) for v in status)
    counts.update({float(len(track)), sent})
    rates.append(sent / len(track))
    # Biểu 11, 12: files and problems found.
    subs = _csv(out_dir / "submissions.csv")
    counts.add(float(len(subs)))
    counts.update(float(v) for v in subs["status"].value_counts())
    issues = _csv(out_dir / "issues.csv")
    counts.update(float(v) for v in issues["severity"].value_counts())
    flagged = issues.loc[issues["code"] == "claimed-level-unsupported", "unit_code"].nunique()
    counts.add(float(flagged))
    # Biểu 05: recognitions that have lapsed, and how long a recognition lasts.
    lapsed = issues.loc[issues["code"] == "recognition-lapsed", "unit_code"].nunique()
    counts.update(
        {float(lapsed), float(result.schemas.criteria.learning_unit_levels.validity_years)}
    )
    # Biểu 08: units quoted per theme (the grouping itself is tested on its own below).
    for field in ("difficulties", "proposals"):
        entries = unit_texts(out_dir, field)
        counts.add(float(len(entries)))
        for g in nv.group_texts(entries, config):
            counts.add(float(len(g.units)))
            for q in g.quotes:
                counts.add(float(len(q.units) - config.max_units_named))
    for t in result.schemas.criteria.targets:
        rates.extend(t.milestones.values())
    if previous is not None:
        # Changes from last year (mục 7): counts by their difference, rates in points.
        before = previous[previous["level"] == "city"].set_index("field")["value"]
        for field, value in zip(city["field"], city["value"], strict=True):
            if field not in before.index or pd.isna(before[field]):
                continue
            is_pair = field.endswith((".numerator", ".denominator"))
            if (field.endswith("_rate") or field.startswith("target.")) and not is_pair:
                change = abs(rates_module.shown_change(float(value), float(before[field])))
                counts.add(round(change * 100, 1))
            else:
                counts.add(abs(float(value) - float(before[field])))
    years = {YEAR - 1, YEAR, YEAR + 1, 2023, 2030}
    years.update(y for t in result.schemas.criteria.targets for y in t.milestones)
    return Allowed(counts, rates, years)


def unit_texts(out_dir: Path, field: str) -> list[tuple[str, str]]:
    values = _csv(out_dir / "data" / "values.csv")
    names = dict(zip(values["unit_code"], values["unit_code"], strict=False))
    track = _csv(out_dir / "data" / "tracking.csv")
    names.update(zip(track["unit_code"], track["unit_name"], strict=True))
    rows = values[(values["field"] == field) & (values["value"].str.strip() != "")]
    return [(names[c], v) for c, v in zip(rows["unit_code"], rows["value"], strict=True)]


def strip_known(text: str, out_dir: Path, result: RunResult) -> str:
    """Remove what may hold digits without being a figure: names, quotes, references."""
    names = [u.name for u in result.registry.units.values()]
    names += [a.name for a in result.registry.areas.values()]
    for field in ("difficulties", "proposals"):
        for _, value in unit_texts(out_dir, field):
            names.extend(nv.split_points(value))
    for name in sorted(set(names), key=len, reverse=True):
        text = text.replace(name, "«»")
    text = LEGAL_NUMBER.sub("«»", text)
    text = DATE.sub("«»", text)
    return FORM.sub("«»", text)


def check_numbers(
    doc: docx.document.Document, allowed: Allowed, out_dir: Path, r: RunResult
) -> int:
    """Assert every number in the draft is an allowed figure; return how many were checked."""
    checked = 0
    bad = []
    for para in paragraphs(doc):
        text = strip_known(HEADING_NUMBER.sub("", para), out_dir, r)
        for a, b in RATIO.findall(text):
            for side in (a, b):
                checked += 1
                if not allowed.count_ok(vn_number(side)):
                    bad.append((side, para))
        text = RATIO.sub("«»", text)
        for whole, frac, pct in NUMBER.findall(text):
            value = vn_number(whole, frac)
            checked += 1
            ok = allowed.rate_ok(value) if pct else allowed.count_ok(value)
            if not ok:
                bad.append((whole + ("," + frac if frac else "") + pct, para))
    assert not bad, "figures not in the aggregates:\n" + "\n".join(f"{n}: {p}" for n, p in bad)
    return checked


# --------------------------------------------------------------------------- outputs


def test_draft_sits_next_to_the_workbook_and_in_the_manifest(out_dir: Path, draft: Path) -> None:
    assert draft.is_file()
    assert (out_dir / f"bao-cao-tong-hop-xhht-{YEAR}.xlsx").is_file()
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert draft.name in [o["file"] for o in manifest["outputs"]]


def test_layout_follows_decree_30(document: docx.document.Document, settings: Settings) -> None:
    section = document.sections[0]
    assert abs(section.page_width - Mm(210)) < Mm(1)
    assert abs(section.page_height - Mm(297)) < Mm(1)

    # Stored in twentieths of a point: compare in millimetres, to a tenth.
    def mm(length: int) -> float:
        return round(length / 36_000, 1)

    assert 20 <= mm(section.top_margin) <= 25
    assert 20 <= mm(section.bottom_margin) <= 25
    assert 30 <= mm(section.left_margin) <= 35
    assert 15 <= mm(section.right_margin) <= 20
    normal = document.styles["Normal"].font
    assert normal.name == "Times New Roman" and 13 <= normal.size.pt <= 14
    for name in ("Heading 1", "Heading 2"):
        assert document.styles[name].font.name == "Times New Roman"
    assert "asciiTheme" not in document.styles["Normal"].element.xml
    assert "Calibri" not in document.element.xml
    # Page numbers in the header, none on the first page.
    assert section.different_first_page_header_footer
    assert 'w:instr="PAGE"' in section.header._element.xml
    head = document.tables[0]
    left, right = (c.text for c in head.rows[0].cells)
    assert settings.issuing_parent.upper() in left and settings.issuing_body.upper() in left
    assert f"Số: {settings.report_number}" in left
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in right
    assert "Độc lập - Tự do - Hạnh phúc" in right
    assert f"{settings.place}, ngày …… tháng …… năm {YEAR}" in right
    body = body_text(document)
    assert "BÁO CÁO\nKết quả thực hiện Phong trào thi đua “Cả nước thi đua xây dựng xã hội " in body
    assert f"đẩy mạnh học tập suốt đời” năm {YEAR}" in body
    sign = document.tables[-1]
    left, right = (c.text for c in sign.rows[0].cells)
    assert left.startswith("Nơi nhận:")
    assert "UBND thành phố" in left and "Bộ Giáo dục và Đào tạo" in left
    for recipient in settings.recipients:
        assert recipient in left
    assert settings.signer_title.upper() in right and settings.signer_name in right
    sizes = {
        run.font.size.pt for p in document.paragraphs for run in p.runs if run.font.size is not None
    }
    assert sizes <= {11, 12, 13, 14}
    assert unicodedata.normalize("NFC", body) == body


def test_sections_follow_the_plan(document: docx.document.Document) -> None:
    assert headings(document, 1) == [
        "I. CÔNG TÁC TỔ CHỨC, CHỈ ĐẠO",
        "II. KẾT QUẢ THỰC HIỆN CÁC NỘI DUNG CỦA PHONG TRÀO THI ĐUA",
        "III. ĐÁNH GIÁ THEO TIÊU CHÍ THI ĐUA VÀ ĐỀ NGHỊ KHEN THƯỞNG",
        "IV. TÌNH HÌNH GỬI BÁO CÁO CỦA CÁC ĐƠN VỊ",
        "V. KHÓ KHĂN, VƯỚNG MẮC CỦA CÁC ĐƠN VỊ",
        "VI. ĐỀ XUẤT, KIẾN NGHỊ CỦA CÁC ĐƠN VỊ",
        "VII. ĐÁNH GIÁ CHUNG",
        f"VIII. PHƯƠNG HƯỚNG, NHIỆM VỤ NĂM {YEAR + 1}",
        "IX. ĐỀ XUẤT, KIẾN NGHỊ",
    ]
    subs = headings(document, 2)
    assert [s.split(".")[0] for s in subs[:8]] == [str(i) for i in range(1, 9)]
    for word in ("Tuyên truyền", "Sáng kiến", "Công dân học tập", "Đơn vị học tập", "học liệu"):
        assert any(word in s for s in subs[:8]), word
    assert any("hoàn cảnh khó khăn" in s for s in subs)
    assert any("quốc tế" in s for s in subs)


def test_every_number_matches_the_aggregates(
    document: docx.document.Document, out_dir: Path, result: RunResult, config: nv.NarrativeConfig
) -> None:
    allowed = allowed_figures(out_dir, result, config)
    assert check_numbers(document, allowed, out_dir, result) > 120


def test_key_figures_are_stated_with_their_form(
    document: docx.document.Document, out_dir: Path
) -> None:
    aggs = _csv(out_dir / "data" / "aggregates.csv")
    city = dict(
        zip(
            aggs.loc[aggs["level"] == "city", "field"],
            aggs.loc[aggs["level"] == "city", "value"],
            strict=True,
        )
    )
    body = body_text(document)
    units = nv.count_text(float(city["units"]))
    plan = nv.count_text(float(city["annual_plan"]))
    assert f"{plan}/{units} đơn vị đã ban hành kế hoạch" in body
    assert f"vận động được {nv.count_text(float(city['funds_mobilised']))} đồng" in body
    assert f"đạt {nv.pct_text(float(city['target.cdht_members']))}" in body
    for form in ("Biểu 01", "Biểu 04", "Biểu 05", "Biểu 06", "Biểu 07", "Biểu 08", "Biểu 09"):
        assert form in body, form
    # Three charts, each with a caption.
    assert len(document.inline_shapes) == 3
    assert len(re.findall(r"^Hình \d\. ", body, re.M)) == 3


def test_criteria_table_counts_units_as_biểu_04(
    document: docx.document.Document, result: RunResult
) -> None:
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "Mã")
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    for c in result.schemas.criteria.criteria:
        subset = result.criteria[result.criteria["criterion"] == c.code]
        if subset.empty:
            assert c.code not in rows
            continue
        statuses = subset["status"].value_counts()
        assert rows[c.code][2:] == [
            nv.count_text(len(subset)),
            nv.count_text(statuses.get("đạt", 0)),
            nv.count_text(statuses.get("không đạt", 0)),
            nv.count_text(statuses.get("chưa đủ số liệu", 0)),
        ]


def test_only_the_specialists_placeholders_are_left(document: docx.document.Document) -> None:
    texts = paragraphs(document)
    joined = "\n".join(texts)
    for leftover in ("{", "}", "None", "nan", "<NA>", "NaN", "[]"):
        assert leftover not in joined, leftover
    marks = [t for t in texts if "[" in t or "]" in t]
    assert len(marks) == 4
    assert all(t.startswith(nv.SPECIALIST_MARK) and t.endswith("]") for t in marks)
    highlighted = [p for p in document.paragraphs if any(r.font.highlight_color for r in p.runs)]
    assert [p.text for p in highlighted] == marks
    # The clerk's blanks: the number (from settings) and the day and month of signing.
    assert joined.count(nv.DATE_BLANK) == 2


def test_no_trend_without_an_earlier_year(document: docx.document.Document) -> None:
    body = body_text(document)
    for phrase in ("so với năm", "bằng năm", f"năm {YEAR - 1}:", "tăng", "giảm"):
        assert phrase not in body, phrase


def test_themes_quote_the_units(document: docx.document.Document, out_dir: Path) -> None:
    body = body_text(document)
    assert "a) Về kinh phí (" in body
    entries = unit_texts(out_dir, "difficulties")
    _, some_text = entries[0]
    assert f"“{nv.split_points(some_text)[0]}”" in body
    assert "đơn vị khác)" in body


# --------------------------------------------------------------------------- last year


def fake_previous(result: RunResult) -> pd.DataFrame:
    """Last year's aggregates: the same table with a few figures moved either way."""
    prev = result.aggregates.copy()
    prev["value"] = prev["value"].astype("float64")
    city = prev["level"] == "city"

    def move(field: str, by: float) -> None:
        prev.loc[city & (prev["field"] == field), "value"] += by

    move("campaign_events", -12)  # up this year
    move("news_items", 100)  # down this year
    move("target.cdht_members", -0.05)
    move("units", -3)
    # steering_committee unchanged: "bằng năm trước"
    prev.loc[city & (prev["field"] == "international_activities"), "value"] = 94.0
    return prev


@pytest.fixture(scope="module")
def with_previous(result: RunResult, out_dir: Path) -> docx.document.Document:
    charts = {p.stem: p.read_bytes() for p in (out_dir / "charts").glob("*.png")}
    data = nv.build_narrative(result, fake_previous(result), charts)
    return docx.Document(io.BytesIO(data))


def test_change_from_last_year_when_history_exists(
    with_previous: docx.document.Document, result: RunResult
) -> None:
    body = body_text(with_previous)
    city = dict(
        zip(
            result.aggregates.loc[result.aggregates["level"] == "city", "field"],
            result.aggregates.loc[result.aggregates["level"] == "city", "value"],
            strict=True,
        )
    )
    # docs/dac-ta-tieu-chi.md, mục 7: the change, then last year's figure in brackets.
    before = YEAR - 1
    events = nv.count_text(float(city["campaign_events"]) - 12)
    assert f", tăng 12 hoạt động so với năm {before} (năm {before}: {events} hoạt động)" in body
    news = nv.count_text(float(city["news_items"]) + 100)
    assert f", giảm 100 tin, bài so với năm {before} (năm {before}: {news} tin, bài)" in body
    assert f"thành lập Ban Chỉ đạo Phong trào thi đua, bằng năm {before}" in body
    now = float(city["target.cdht_members"])
    rate, then = nv.pct_text(now), nv.pct_text(now - 0.05)
    points = rates_module.points_text(rates_module.shown_change(now, now - 0.05))
    assert f"đạt {rate} (" in body
    assert f"người), tăng {points} so với năm {before} (năm {before}: {then})" in body
    assert f"năm {before}: " in body  # per-group figures carry last year's rate
    prev_units = nv.count_text(float(city["units"]) - 3)
    assert f"kết quả tổng hợp năm {before} ({prev_units} đơn vị có báo cáo)" in body


def test_numbers_with_history_still_match(
    with_previous: docx.document.Document,
    result: RunResult,
    out_dir: Path,
    config: nv.NarrativeConfig,
) -> None:
    allowed = allowed_figures(out_dir, result, config, fake_previous(result))
    check_numbers(with_previous, allowed, out_dir, result)


def test_previous_year_is_read_from_the_output_folder(result: RunResult, tmp_path: Path) -> None:
    assert nv.previous_aggregates(tmp_path, YEAR) is None
    data = tmp_path / str(YEAR - 1) / "data"
    data.mkdir(parents=True)
    fake_previous(result).to_csv(data / "aggregates.csv", index=False, encoding="utf-8-sig")
    loaded = nv.previous_aggregates(tmp_path, YEAR)
    assert loaded is not None
    path = nv.write_narrative(result, tmp_path / str(YEAR))
    body = body_text(docx.Document(str(path)))
    assert f"so với năm {YEAR - 1}" in body


def test_previous_year_loaded_by_the_run_is_used(result: RunResult, tmp_path: Path) -> None:
    """A run that loaded last year's exports carries them in extra["previous"].aggregates."""
    loaded = SimpleNamespace(year=YEAR - 1, aggregates=fake_previous(result))
    run = dataclasses.replace(result, extra={**result.extra, "previous": loaded})
    path = nv.write_narrative(run, tmp_path / str(YEAR))
    assert f"so với năm {YEAR - 1}" in body_text(docx.Document(str(path)))


# --------------------------------------------------------------------------- zero, one, none


def _with_city(result: RunResult, values: dict[str, float]) -> RunResult:
    aggs = result.aggregates.copy()
    aggs["value"] = aggs["value"].astype("float64")
    city = aggs["level"] == "city"
    for field, value in values.items():
        aggs.loc[city & (aggs["field"] == field), "value"] = value
    return dataclasses.replace(result, aggregates=aggs)


def test_zero_and_one_read_as_sentences(result: RunResult) -> None:
    zeros = {
        f: 0.0
        for f in (
            "steering_committee",
            "campaign_events",
            "campaign_participants",
            "news_items",
            "initiatives_count",
            "initiatives_effective",
            "ldu_recognised",
            "res_shared",
            "scholarships",
            "funds_mobilised",
            "international_activities",
            "nominations_count",
            "documents_advised",
        )
    }
    zeros["annual_plan"] = 1.0
    doc = docx.Document(io.BytesIO(nv.build_narrative(_with_city(result, zeros))))
    body = body_text(doc)
    assert "chưa có đơn vị nào thành lập Ban Chỉ đạo" in body.replace("Chưa", "chưa")
    assert "1/" in body and "đơn vị đã ban hành kế hoạch" in body
    assert "chưa tổ chức hoạt động, sự kiện tuyên truyền nào" in body
    assert "chưa báo cáo sáng kiến, giải pháp nào" in body
    assert "Chưa có đơn vị nào được công nhận “Đơn vị học tập”" in body
    assert "chưa trao suất học bổng nào" in body
    assert "Chưa có đơn vị nào báo cáo hoạt động quốc tế" in body
    assert "Các đơn vị chưa gửi đề nghị khen thưởng nào." in body
    # A zero is never printed as a figure in running text.
    assert not re.search(r"(?<![\d.,/])0 (?:hoạt động|đơn vị|sáng kiến|suất|đồng|văn bản)", body)


def test_empty_run_still_drafts(schemas: Schemas, registry: Registry, settings: Settings) -> None:
    empty = consolidate([], YEAR, schemas, registry, settings)
    doc = docx.Document(io.BytesIO(nv.build_narrative(empty)))
    body = body_text(doc)
    assert "chưa nhận được báo cáo hợp lệ nào" in body
    assert "Chưa có đơn vị nào gửi báo cáo." in body
    assert "Chưa có số liệu" in body
    assert not re.search(r"(?<![\d.,/])0 đơn vị", body)
    assert len(headings(doc, 1)) == 9


# --------------------------------------------------------------------------- grouping


def test_group_texts_by_theme(config: nv.NarrativeConfig) -> None:
    entries = [
        ("Trường A", "- Kinh phí còn hạn chế.\n- Thiếu thiết bị phục vụ chuyển đổi số."),
        ("Trường B", "kinh phi con han che"),  # typed without diacritics
        ("Trường C", "Kinh phí còn hạn chế."),
        ("Trường C", "Kinh phí còn hạn chế"),  # the same unit twice counts once
        ("Phòng D", "1. Đề nghị tập huấn tiêu chí mới\n2) Giáo viên lớn tuổi ngại học"),
    ]
    groups = nv.group_texts(entries, config)
    labels = [g.label for g in groups]
    assert labels == [
        "kinh phí",
        "cơ sở vật chất, chuyển đổi số",
        "tập huấn, hướng dẫn",
        config.other_label,
    ]
    funding = groups[0]
    # One point, however it was typed: quoted as first written, every unit named once.
    assert funding.quotes == (
        nv.Quote("Kinh phí còn hạn chế.", ("Trường A", "Trường B", "Trường C")),
    )
    assert funding.units == ("Trường A", "Trường B", "Trường C")
    assert groups[2].quotes[0].text == "Đề nghị tập huấn tiêu chí mới"
    assert groups[3].quotes[0] == nv.Quote("Giáo viên lớn tuổi ngại học", ("Phòng D",))


def test_theme_keywords_match_whole_words(config: nv.NarrativeConfig) -> None:
    assert nv.theme_of("Kinh phí thấp", config.themes).code == "funding"  # type: ignore[union-attr]
    assert nv.theme_of("Không có gì", config.themes) is None
    # "văn bản" is a keyword, "văn bảng" is not a word it should match inside.
    assert nv.theme_of("văn bảng", config.themes) is None


# --------------------------------------------------------------------------- bytes


def test_two_runs_give_identical_bytes(result: RunResult, draft: Path, out_dir: Path) -> None:
    charts = {p.stem: p.read_bytes() for p in (out_dir / "charts").glob("*.png")}
    again = nv.build_narrative(result, None, charts)
    assert again == draft.read_bytes()
    with zipfile.ZipFile(io.BytesIO(again)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(YEAR, 12, 31, 0, 0, 0)}
        core = zf.read("docProps/core.xml").decode()
    assert core.count(f"{YEAR}-12-31T00:00:00Z") == 3  # created, modified, last printed
    assert "python-docx" not in core


# --------------------------------------------------------------------------- LibreOffice


def _writer() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.skip("LibreOffice (soffice) not installed")
    program = Path(exe).resolve().parent
    if not any(program.glob("libswlo.*")) and not any(program.glob("swlo.*")):
        pytest.skip("LibreOffice Writer not installed (package libreoffice-writer-nogui)")
    return exe


@pytest.fixture(scope="module")
def pdf(draft: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("pdf")
    target = convert(draft, "pdf", work, exe=_writer())
    yield target


@pytest.mark.libreoffice
def test_libreoffice_opens_and_converts_to_pdf(pdf: Path, result: RunResult) -> None:
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 50_000
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        return
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    flat = " ".join(text.split())
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in flat
    assert "KẾT QUẢ THỰC HIỆN CÁC NỘI DUNG" in flat
    assert result.settings.signer_name in flat
    pages = subprocess.run(
        ["pdfinfo", str(pdf)], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    count = int(re.search(r"Pages:\s+(\d+)", pages).group(1))  # type: ignore[union-attr]
    assert 3 <= count <= 12
