"""The consolidated report workbook, its charts and the manifest.

The RunResult comes from in-memory submissions (tests/report_data.py) run through the real
``consolidate``; nothing is read from disk.

Golden file: ``tests/golden/bao-cao-tong-hop-xhht-2026.xlsx`` is compared part by part, the
way XlsxWriter's own test suite compares workbooks (unzip both, same list of parts, each XML
part equal after normalising volatile bits). When a change to the report (or to the schemas,
messages or sample data it shows) is intended, regenerate the golden file and review the
diff of the rendered workbook before committing it::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report.py -k golden

Tests marked ``libreoffice`` need LibreOffice (``soffice``) and are skipped without it.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline import rates
from pipeline import report as rp
from pipeline.charts import chart_specs, city_values, render_png
from pipeline.manifest import MANIFEST_NAME
from pipeline.registry import Registry
from pipeline.render import write_outputs
from pipeline.run import RunResult
from pipeline.schema import Schemas
from pipeline.settings import Settings
from tests.libreoffice import convert
from tests.report_data import INJECTION_DDE, INJECTION_LINK, YEAR, build_result

GOLDEN = Path(__file__).parent / "golden" / f"bao-cao-tong-hop-xhht-{YEAR}.xlsx"
INPUT_DIR = Path("bao-cao-don-vi")

ALLOWED_FORMULA = re.compile(
    r"^(?:"
    r"SUM\([A-Z]+\d+:[A-Z]+\d+\)"
    r'|IFERROR\(ROUNDDOWN\([A-Z]+\d+/[A-Z]+\d+,3\),""\)'
    r'|IFERROR\(ROUNDDOWN\(\([A-Z]+\d+(?:\+[A-Z]+\d+)*\)/[A-Z]+\d+,3\),""\)'
    r'|IF\(COUNT\([A-Z]+\d+,[A-Z]+\d+\)<2,"",IFERROR\(ROUNDDOWN\([A-Z]+\d+/[A-Z]+\d+,3\),""\)\)'
    r'|COUNTIF\([A-Z]+\d+:[A-Z]+\d+,"[^"=]+"\)'
    r"|ROWS\([A-Z]+\d+:[A-Z]+\d+\)"
    r"|[A-Z]+\d+-SUM\([A-Z]+\d+(?:,[A-Z]+\d+)*\)"
    r")$"
)
CELL_RE = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


# --------------------------------------------------------------------------- fixtures


def write_all(result: RunResult, out: Path) -> Path:
    """Every output, as ``consolidate`` writes them, with an (empty) input folder beside."""
    inputs = out.parent / INPUT_DIR.name
    inputs.mkdir(exist_ok=True)
    return write_outputs(result, inputs, out, workers=1)


@pytest.fixture(scope="module")
def result(schemas: Schemas, registry: Registry, settings: Settings) -> RunResult:
    return build_result(schemas, registry, settings)


@pytest.fixture(scope="module")
def out_dir(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_all(result, out)
    return out


@pytest.fixture(scope="module")
def book(out_dir: Path) -> Path:
    return out_dir / f"bao-cao-tong-hop-xhht-{YEAR}.xlsx"


# --------------------------------------------------------------------------- xlsx helpers


def parts(path: Path | bytes) -> dict[str, bytes]:
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    with zipfile.ZipFile(source) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def xml_elements(text: str) -> list[str]:
    """Split XML into tags and text runs, one per line (XlsxWriter's _xml_to_list idea)."""
    return [t for t in re.findall(r"<[^>]*>|[^<]+", text) if t.strip()]


def normalise(name: str, data: bytes) -> list[str]:
    text = data.decode("utf-8")
    if name == "docProps/core.xml":
        text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*", r"\1", text)
    elements = xml_elements(text)
    if name == "[Content_Types].xml" or name.endswith(".rels"):
        # Order of declarations carries no meaning.
        elements = sorted(elements)
    return elements


def sheet_parts(path: Path | bytes) -> dict[str, str]:
    """Sheet name → worksheet XML."""
    p = parts(path)
    workbook = p["xl/workbook.xml"].decode()
    rels = p["xl/_rels/workbook.xml.rels"].decode()
    targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels))
    targets.update({k: v for v, k in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)})
    out = {}
    for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', workbook):
        out[html.unescape(name)] = p["xl/" + targets[rid]].decode()
    return out


def cells(sheet_xml: str) -> dict[str, tuple[str | None, str | None, str]]:
    """Cell ref → (formula, cached value, type attribute) from worksheet XML."""
    out = {}
    for col, row, attrs, body in CELL_RE.findall(sheet_xml):
        body = body or ""
        f = re.search(r"<f>(.*?)</f>", body, re.S)
        v = re.search(r"<v>(.*?)</v>", body, re.S)
        t = re.search(r't="(\w+)"', attrs)
        out[f"{col}{row}"] = (
            html.unescape(f.group(1)) if f else None,
            html.unescape(v.group(1)) if v else None,
            t.group(1) if t else "n",
        )
    return out


def ref_cells(rng: str) -> list[str]:
    from openpyxl.utils.cell import get_column_letter as letter
    from openpyxl.utils.cell import range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(rng)
    return [
        f"{letter(c)}{r}" for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)
    ]


def number(value: str | None) -> float:
    return float(value) if value not in (None, "") else 0.0


# --------------------------------------------------------------------------- (a) golden


def test_workbook_matches_golden(book: Path) -> None:
    """Part-by-part comparison with the committed golden workbook (see module docstring)."""
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(book, GOLDEN)
        pytest.skip(f"golden file rewritten: {GOLDEN}")
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1 once and commit it"
    got, want = parts(book), parts(GOLDEN)
    assert sorted(got) == sorted(want), "the workbook's list of parts changed"
    problems = []
    for name in sorted(want):
        if not name.endswith((".xml", ".rels", ".vml")):
            if got[name] != want[name]:
                problems.append(f"{name}: binary part differs")
            continue
        a, b = normalise(name, want[name]), normalise(name, got[name])
        if a != b:
            diff = difflib.unified_diff(a, b, "golden/" + name, "new/" + name, n=2, lineterm="")
            problems.append("\n".join(list(diff)[:60]))
    assert not problems, "workbook differs from the golden file:\n" + "\n\n".join(problems)


# --------------------------------------------------------------------------- structure


def test_sheets_in_order(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["Bìa"] + [f"Biểu {n}" for n, _ in rp.FORMS]
    for n, title in rp.FORMS:
        ws = wb[f"Biểu {n}"]
        assert ws["A1"].value == f"Biểu {n}"
        assert ws["A2"].value == title.upper()
        assert str(ws["A4"].value).startswith(("Nguồn:", "Biểu đồ"))


def test_cover_follows_decree_30(book: Path, result: RunResult) -> None:
    s = result.settings
    ws = openpyxl.load_workbook(book)["Bìa"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert texts[:4] == [
        s.issuing_parent,
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        s.issuing_body,
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert ws["A2"].font.b and ws["E2"].font.b
    assert f"Số: {s.report_number}" in texts
    place = f"{s.place}, ngày …… tháng …… năm {YEAR}"
    assert place in texts
    assert next(c for row in ws.iter_rows() for c in row if c.value == place).font.i
    assert "BÁO CÁO TỔNG HỢP" in texts
    assert any("Cả nước thi đua xây dựng xã hội học tập" in t and str(YEAR) in t for t in texts)
    assert "Kính gửi: UBND thành phố; Bộ Giáo dục và Đào tạo" in texts
    assert "Nơi nhận:" in texts
    assert all(any(r in t for t in texts) for r in s.recipients)
    assert {s.signer_authority, s.signer_title, s.signer_name} <= set(texts)
    # The summary figures are numbers taken from the result.
    label = next(c for row in ws.iter_rows() for c in row if c.value == "Số tệp báo cáo đã nhận")
    assert ws.cell(label.row, 9).value == len(result.submissions)
    assert ws.page_setup.orientation == "portrait" and ws.page_setup.paperSize == 9


def test_times_new_roman_and_print_setup(book: Path) -> None:
    p = parts(book)
    styles = p["xl/styles.xml"].decode()
    # XlsxWriter declares Tahoma for the (hidden) comment style; every cell uses TNR.
    assert set(re.findall(r'<name val="([^"]+)"', styles)) - {"Tahoma"} == {"Times New Roman"}
    comments = b"".join(v for n, v in p.items() if n.startswith("xl/comments")).decode()
    assert set(re.findall(r'<rFont val="([^"]+)"', comments)) == {"Times New Roman"}
    for name, xml in sheet_parts(book).items():
        setup = re.search(r"<pageSetup [^>]*>", xml)
        assert setup and 'paperSize="9"' in setup.group(0), name
        if name == "Bìa":
            continue
        assert 'orientation="landscape"' in setup.group(0), name
        assert "Trang &amp;P/&amp;N" in xml, name
        # Scaled explicitly ("fit to pages" would make Excel drop the page breaks that keep
        # headings with their tables); tests/test_print_layout.py checks the scale itself.
        assert re.search(r' scale="\d+"', setup.group(0)), name


def test_frozen_headers_filters_and_repeated_titles(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    for n in ("02", "03", "04", "05", "06", "07", "08", "11", "12"):
        ws = wb[f"Biểu {n}"]
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith(str(rp.HEADER_ROW + 2))
        assert ws.auto_filter.ref and ws.auto_filter.ref.split(":")[0].endswith(
            str(rp.HEADER_ROW + 1)
        )
        assert ws.print_title_rows == f"${rp.HEADER_ROW + 1}:${rp.HEADER_ROW + 1}"


def test_deterministic_properties(book: Path, result: RunResult) -> None:
    core = parts(book)["docProps/core.xml"].decode()
    assert f"{YEAR}-12-31T00:00:00Z" in core
    assert result.settings.issuing_body in core


# --------------------------------------------------------------------------- (b) totals


def test_every_total_is_a_sum_whose_cached_value_adds_up(book: Path) -> None:
    """Each =SUM(...) caches the sum of its range; each rate caches the quotient."""
    checked = 0
    for name, xml in sheet_parts(book).items():
        grid = cells(xml)
        for ref, (formula, cached, _t) in grid.items():
            if formula is None:
                continue
            if formula.startswith("SUM("):
                rng = formula[4:-1]
                expected = sum(number(grid.get(c, (None, None, ""))[1]) for c in ref_cells(rng))
                assert number(cached) == pytest.approx(expected), f"{name}!{ref} {formula}"
                checked += 1
            elif formula.startswith("IFERROR("):
                # A rate shown truncated to 0,1% (docs/dac-ta-tieu-chi.md, mục 1.4):
                # IFERROR(ROUNDDOWN(n/d,3),"") where n may be a sum (A1+A2).
                m = re.fullmatch(
                    r'IFERROR\(ROUNDDOWN\(\(?([A-Z0-9+]+?)\)?/([A-Z]+\d+),3\),""\)', formula
                )
                assert m, f"{name}!{ref} {formula}"
                n = sum(number(grid[c][1]) for c in m.group(1).split("+"))
                d = number(grid[m.group(2)][1])
                want = "" if d == 0 else rates.shown_ratio(n, d)
                got = cached if want == "" else number(cached)
                assert got == pytest.approx(want) if want != "" else got in ("", None), ref
    assert checked > 30


def _header_columns(ws: openpyxl.worksheet.worksheet.Worksheet, row: int) -> dict[str, int]:
    return {str(c.value): c.column for c in ws[row] if c.value is not None}


def _totals_row(ws: openpyxl.worksheet.worksheet.Worksheet, start: int) -> int:
    for row in range(start, ws.max_row + 1):
        if ws.cell(row, 1).value == "Tổng cộng":
            return row
    raise AssertionError(f"no totals row in {ws.title}")


def test_totals_equal_the_pipeline_aggregates(book: Path, result: RunResult) -> None:
    city = city_values(result)
    labels = rp.Labels(result)
    xml = sheet_parts(book)
    wb = openpyxl.load_workbook(book)
    for n in ("02", "03"):
        ws = wb[f"Biểu {n}"]
        header = _header_columns(ws, rp.HEADER_ROW + 1)
        total = _totals_row(ws, rp.HEADER_ROW + 2)
        grid = cells(xml[ws.title])
        for key in rp.TABLE_HEADLINES:
            if isinstance(key, tuple):
                continue
            col = header[labels.measure(key)]
            cell = ws.cell(total, col)
            assert str(cell.value).startswith("=SUM("), (n, key)
            cached = number(grid[cell.coordinate][1])
            assert cached == pytest.approx(float(city.get(key, 0.0))), (n, key)
        # The rate of the totals row is the rate the pipeline computed for the city, over the
        # rows reporting both figures: a value, since those pairs are not columns here.
        members = header[labels.measure("members_recognised")]
        rate_cell = ws.cell(total, members + 1)
        # Shown truncated to 0,1% (docs/dac-ta-tieu-chi.md, mục 1.4).
        assert rate_cell.value == rates.shown(float(city["target.cdht_members"]))
    ws = wb["Biểu 02"]
    grid = cells(xml["Biểu 02"])
    total = _totals_row(ws, rp.HEADER_ROW + 2)
    expected_col = _header_columns(ws, rp.HEADER_ROW + 1)["Số đơn vị phải báo cáo"]
    assert number(grid[ws.cell(total, expected_col).coordinate][1]) == len(result.registry.units)


def test_form_01_totals(book: Path, result: RunResult) -> None:
    city = city_values(result)
    ws = openpyxl.load_workbook(book)["Biểu 01"]
    grid = cells(sheet_parts(book)["Biểu 01"])
    sums = {
        ref: number(v) for ref, (f, v, _t) in grid.items() if f is not None and f.startswith("SUM(")
    }
    # People matrix total, initiatives and nominations totals all appear as cached sums.
    assert float(city["people_total"]) in sums.values()
    assert float(city["people_recognised"]) in sums.values()
    assert float(city["initiatives_count"]) in sums.values()
    assert float(city["nominations_count"]) in sums.values()
    texts = [str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for t in result.targets.itertuples(index=False):
        assert t.label in texts


# --------------------------------------------------------------------------- content


def test_criteria_matrix(book: Path, result: RunResult) -> None:
    ws = openpyxl.load_workbook(book)["Biểu 04"]
    header = _header_columns(ws, rp.HEADER_ROW + 1)
    rows = {
        ws.cell(r, 2).value: r
        for r in range(rp.HEADER_ROW + 2, ws.max_row + 1)
        if ws.cell(r, 2).value in result.units.index
    }
    assert set(rows) == set(result.units.index)
    for x in result.criteria.itertuples(index=False):
        cell = ws.cell(rows[x.unit_code], header[x.criterion])
        assert cell.value == rp.CRITERION_STATUS[x.status]
        assert cell.comment is not None and x.reason in cell.comment.text
    # A criterion that does not apply to a unit type is shown as such.
    assert ws.cell(rows["PGD-H01"], header["b1"]).value == "—"
    xml = sheet_parts(book)["Biểu 04"]
    assert xml.count('type="cellIs"') == 3
    counts = [f for f, _v, _t in cells(xml).values() if f and f.startswith("COUNTIF(")]
    assert len(counts) >= 3 * len(result.schemas.criteria.criteria)


def test_learning_units_flagged(book: Path, result: RunResult) -> None:
    ws = openpyxl.load_workbook(book)["Biểu 05"]
    flagged = set(result.learning_unit.loc[result.learning_unit["flagged"], "unit_code"])
    assert flagged == {"THPT-H01-01"}
    for r in range(rp.HEADER_ROW + 2, ws.max_row + 1):
        code = ws.cell(r, 2).value
        if code in result.units.index:
            fill = ws.cell(r, 3).fill.fgColor.rgb
            assert (fill == "FFFCE4D6") == (code in flagged), code


def test_nominations_warnings(book: Path) -> None:
    ws = openpyxl.load_workbook(book)["Biểu 07"]
    header = _header_columns(ws, rp.HEADER_ROW + 1)
    warn = header["Cảnh báo"]
    name = header["Tên tập thể / họ tên cá nhân / chủ hộ"]
    by_name: dict[str, list[str]] = {}
    for r in range(rp.HEADER_ROW + 2, ws.max_row + 1):
        by_name.setdefault(str(ws.cell(r, name).value), []).append(
            str(ws.cell(r, warn).value or "")
        )
    # The same teacher proposed by two schools: both rows warned.
    assert len(by_name["Nguyễn Thị Lan"]) == 2
    assert all("cũng được đơn vị" in w for w in by_name["Nguyễn Thị Lan"])
    # A school failing criteria proposes a Bằng khen: flagged; a Giấy khen is not.
    assert "không đạt" in by_name["Hoàng Thị Mai"][0]
    assert by_name[INJECTION_DDE] == [""]


def test_tracking_and_chase_list(book: Path, result: RunResult) -> None:
    ws = openpyxl.load_workbook(book)["Biểu 09"]
    texts = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    status = result.tracking["status"]
    missing = result.tracking[status == "missing"]
    rejected = result.tracking[status == "rejected"]
    # The fixture's last-year template and borrowed file leave two units with refused files.
    assert len(rejected) == 2
    assert (
        "II. DANH SÁCH ĐƠN VỊ CHƯA CÓ BÁO CÁO ĐƯỢC TỔNG HỢP (cần đôn đốc): "
        f"{len(missing) + 2} đơn vị ({len(missing)} chưa gửi, 2 chỉ có tệp bị từ chối)"
    ) in texts
    assert set(missing["email"]) | set(rejected["email"]) <= set(texts)
    # A rejected unit's file and the reason it was refused, in one cell.
    for x in rejected.itertuples():
        assert f"{x.file}. Lý do: {x.reason}" in texts, x.unit_code
    assert {"Tệp bị từ chối", "Ngày Sở nhận thư", "Ngày báo cáo ghi trong tệp"} <= set(texts)
    dates = [c for row in ws.iter_rows() for c in row if getattr(c, "is_date", False) and c.value]
    assert dates and all(c.number_format == "dd/mm/yyyy" for c in dates)


def test_biểu_09_lists_have_one_header(book: Path, result: RunResult) -> None:
    """Section II (units to chase) and III (every unit) have the very same columns, so the
    header repeated on every printed page (the first list's) is right for both."""
    ws = openpyxl.load_workbook(book)["Biểu 09"]
    headers = [
        r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "STT" and r > rp.HEADER_ROW
    ]
    area, chase, every = headers
    row = lambda r: [c.value for c in ws[r]]  # noqa: E731
    assert row(chase) == row(every) != row(area)
    assert ws.print_title_rows == f"${chase}:${chase}"
    header = _header_columns(ws, every)
    assert {"Ngày gửi", "Nguồn ngày gửi", "Thư điện tử"} <= set(header)
    codes = (ws.cell(r, header["Mã đơn vị"]).value for r in range(chase + 1, every))
    listed = [c for c in codes if c is not None]
    chased = result.tracking["status"].isin(["missing", "rejected"])
    assert sorted(listed) == sorted(result.tracking.loc[chased, "unit_code"])


def test_biểu_12_says_where_each_submission_time_came_from(book: Path, result: RunResult) -> None:
    """A submission time is a mail's, a report date or a file time: the column says which."""
    ws = openpyxl.load_workbook(book)["Biểu 12"]
    header = _header_columns(ws, rp.HEADER_ROW + 1)
    assert "Ngày nhận" not in header
    shown = {
        ws.cell(r, header["Tệp"]).value: (
            ws.cell(r, header["Ngày gửi"]).value,
            ws.cell(r, header["Nguồn ngày gửi"]).value,
        )
        for r in range(rp.HEADER_ROW + 2, ws.max_row + 1)
    }
    labels = {
        "mail_received": "Ngày Sở nhận thư",
        "report_date": "Ngày báo cáo ghi trong tệp",
        "": None,
    }
    for x in result.submissions.itertuples():
        # The day, as dd/mm/yyyy (the time of a mail is in submissions.csv).
        when = None if pd.isna(x.submitted_at) else x.submitted_at.normalize().to_pydatetime()
        assert shown[x.file] == (when, labels[str(x.submitted_at_source)]), x.file
    sources = {source for _, source in shown.values()}
    assert {"Ngày Sở nhận thư", "Ngày báo cáo ghi trong tệp"} <= sources


def test_identity_conflict_is_listed_in_forms_11_and_12(book: Path, result: RunResult) -> None:
    """The borrowed file of the fixture: an error row in Biểu 11, a refused file in Biểu 12."""
    wb = openpyxl.load_workbook(book)
    issues = wb["Biểu 11"]
    header = _header_columns(issues, rp.HEADER_ROW + 1)
    rows = [
        {h: issues.cell(r, c).value for h, c in header.items()}
        for r in range(rp.HEADER_ROW + 2, issues.max_row + 1)
    ]
    [row] = [r for r in rows if r["Mã vấn đề"] == "identity-conflict"]
    assert row["Mức độ"] == "Lỗi"
    assert row["Loại vấn đề"] == "Thông tin trong tệp chỉ tới nhiều đơn vị khác nhau"
    assert row["Tệp"] == "truong/THPT-Q01-03_bao-cao-xhht.xlsx"
    assert "THPT-Q01-03 (Trường THPT Trần Phú)" in row["Nội dung, cách sửa"]
    files = wb["Biểu 12"]
    header = _header_columns(files, rp.HEADER_ROW + 1)
    status = {
        files.cell(r, header["Tệp"]).value: files.cell(r, header["Tình trạng"]).value
        for r in range(rp.HEADER_ROW + 2, files.max_row + 1)
    }
    assert status["truong/THPT-Q01-03_bao-cao-xhht.xlsx"] == "Bị từ chối"


def test_issues_and_sources(book: Path, result: RunResult) -> None:
    wb = openpyxl.load_workbook(book)
    issues = wb["Biểu 11"]
    header = _header_columns(issues, rp.HEADER_ROW + 1)
    assert {"Mức độ", "Vị trí", "Chỉ tiêu", "Nội dung, cách sửa"} <= set(header)
    assert issues.max_row - (rp.HEADER_ROW + 1) == len(result.issues)
    sources = wb["Biểu 12"]
    header = _header_columns(sources, rp.HEADER_ROW + 1)
    shas = {
        sources.cell(r, header["Mã SHA-256"]).value
        for r in range(rp.HEADER_ROW + 2, sources.max_row + 1)
    }
    assert shas == set(result.submissions["sha256"])
    statuses = {
        sources.cell(r, header["Tình trạng"]).value
        for r in range(rp.HEADER_ROW + 2, sources.max_row + 1)
    }
    assert {"Bị từ chối", "Bị thay thế", "Hợp lệ"} <= statuses


def test_labels_come_from_the_schema(book: Path, result: RunResult) -> None:
    wb = openpyxl.load_workbook(book)
    report = result.schemas.report
    texts = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value}
    for lst in ("initiatives", "nominations"):
        for f in report.list_map[lst].fields:
            assert f.label in texts, f.code
    for f in report.fields:
        if f.type == "text" and f.long:
            assert f.label in texts, f.code
    for c in result.schemas.criteria.criteria:
        # Biểu 04's legend: the label, then the condition for the year.
        assert any(t.startswith(c.label) for t in texts), c.code
    for choice in report.choices["initiative_level"]:
        assert choice.label in texts


def test_native_charts_point_at_sheet_cells(book: Path, result: RunResult) -> None:
    p = parts(book)
    charts = sorted(n for n in p if re.match(r"xl/charts/chart\d+\.xml$", n))
    # Four charts; the one with a target line is a column chart combined with a line chart.
    assert len(charts) == 4
    refs = [
        html.unescape(r) for n in charts for r in re.findall(r"<c:f>(.*?)</c:f>", p[n].decode())
    ]
    assert refs and all(r.startswith("'Biểu 10'!$") for r in refs)
    assert sum("<c:lineChart>" in p[n].decode() for n in charts) == 1
    assert len(chart_specs(result)) == 4


# --------------------------------------------------------------------------- (d) injection


def test_no_formula_from_submitted_text(book: Path) -> None:
    """Only the report's own SUM/IFERROR/COUNTIF formulas; submitted text stays text."""
    p = parts(book)
    formulas = [
        html.unescape(f)
        for name, data in p.items()
        if name.startswith("xl/worksheets/sheet")
        for f in re.findall(r"<f>(.*?)</f>", data.decode(), re.S)
    ]
    assert formulas
    bad = [f for f in formulas if not ALLOWED_FORMULA.match(f)]
    assert not bad, bad
    shared = html.unescape(p["xl/sharedStrings.xml"].decode())
    assert INJECTION_LINK in shared and INJECTION_DDE in shared
    assert not [n for n in p if "externalLink" in n or "hyperlink" in n.lower()]
    assert all(b"<hyperlink" not in data for data in p.values())


# --------------------------------------------------------------------------- (e, f) determinism


def test_rerun_is_byte_identical(result: RunResult, out_dir: Path, tmp_path: Path) -> None:
    write_all(result, tmp_path)
    first = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (out_dir / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_chart_pngs(out_dir: Path, result: RunResult) -> None:
    pngs = sorted((out_dir / "charts").glob("*.png"))
    assert [p.stem for p in pngs] == sorted(s.key for s in chart_specs(result))
    for path in pngs:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000
        assert b"tEXtSoftware" not in data
    spec = chart_specs(result)[1]
    assert render_png(spec) == render_png(spec)


def test_manifest(out_dir: Path, result: RunResult) -> None:
    data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert data["year"] == YEAR
    assert data["schema"] == {
        "id": result.schemas.report.id,
        "version": result.schemas.report.version,
        "criteria_version": result.schemas.criteria.version,
    }
    assert {"python", "pandas", "xlsxwriter"} <= set(data["environment"])
    assert [i["file"] for i in data["inputs"]] == sorted(result.submissions["file"])
    statuses = {i["file"]: i["status"] for i in data["inputs"]}
    assert statuses == dict(
        zip(result.submissions["file"], result.submissions["status"], strict=True)
    )
    outputs = [o["file"] for o in data["outputs"]]
    assert outputs == sorted(outputs) and MANIFEST_NAME not in outputs
    on_disk = sorted(
        p.relative_to(out_dir).as_posix()
        for p in out_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
    )
    assert outputs == on_disk
    for o in data["outputs"]:
        assert o["sha256"] == hashlib.sha256((out_dir / o["file"]).read_bytes()).hexdigest()
    text = (out_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text), "no timestamps"


def test_empty_run_still_renders(
    schemas: Schemas, registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    from pipeline.run import consolidate

    empty = consolidate([], YEAR, schemas, registry, settings)
    path = write_all(empty, tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb["Biểu 03"].cell(rp.HEADER_ROW + 2, 1).value == "Không có dữ liệu."


# --------------------------------------------------------------------------- (c) LibreOffice


@pytest.mark.libreoffice
def test_libreoffice_opens_and_prints(book: Path, tmp_path: Path) -> None:
    pdf = convert(book, "pdf", tmp_path / "pdf", recalc=True)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000


@pytest.mark.libreoffice
def test_libreoffice_recalculates_the_cached_totals(book: Path, tmp_path: Path) -> None:
    """Blank every cached formula value, let LibreOffice recompute: it finds ours again."""
    p = parts(book)
    original = {name: cells(xml) for name, xml in sheet_parts(book).items()}
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in p.items():
            if name.startswith("xl/worksheets/sheet"):
                data = re.sub(rb"(</f>)<v>[^<]*</v>", rb"\1<v>0</v>", data)
            zf.writestr(name, data)
    source = tmp_path / "blanked.xlsx"
    source.write_bytes(tampered.getvalue())
    converted = convert(source, "xlsx", tmp_path / "out", recalc=True)
    wb = openpyxl.load_workbook(converted, data_only=True)
    checked = 0
    for name, grid in original.items():
        ws = wb[name]
        for ref, (formula, cached, kind) in grid.items():
            if formula is None:
                continue
            value = ws[ref].value
            if kind == "str" or cached in (None, ""):
                assert value in (None, ""), f"{name}!{ref} {formula}: {value!r}"
            else:
                assert value == pytest.approx(float(str(cached))), f"{name}!{ref} {formula}"
            checked += 1
    assert checked > 60


def test_measuring_shortcuts_give_the_full_measures() -> None:
    """Widths and line counts with the shortcuts equal measuring every text in full."""
    texts = [
        "",
        "Đạt",
        "Trường Trung học cơ sở Nguyễn Văn Trỗi, phường Bến Thành",
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
        "ill.;:|' " * 12,
        "dòng một\ndòng hai rất dài " * 4,
        "  khoảng   trắng\tvà tab  ",
        *(f"Mã {i:05d} {'x' * (i % 37)}" for i in range(200)),
    ]
    for cap in (8.0, 16.0, 30.0, 60.0):
        widest = max(rp._display_width(t, "text") for t in texts)
        assert min(rp._widest_text(texts, cap), cap) == min(widest, cap)
    numbers = [None, float("nan"), 0.0, -0.4, 7, 12.5, -1234.0, 1e9, "12", "n/a"]
    for kind in ("int", "num", "money", "year"):
        widest = max(rp._display_width(v, kind) for v in numbers)
        assert rp._widest_number(numbers, kind) == widest
    for text in texts:
        for width in (4.0, 9.0, 16.0, 34.0, 52.0, 80.0):
            for bold, size in ((False, 11), (True, 11), (False, 13)):
                expected = _lines_measured(text, width, bold, size)
                assert rp._lines(text, width, bold=bold, size=size) == expected, (text, width)


def _lines_measured(text: str, width_units: float, bold: bool, size: float) -> int:
    """`report._lines` before its shortcut: every word measured."""
    room = max(width_units * rp.UNIT_PX - 4.0, 1.0)
    space = rp._px(" ", bold=bold, size=size)
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        current = 0.0
        for word in paragraph.split():
            size_px = rp._px(word, bold=bold, size=size)
            if current == 0:
                current = size_px
            elif current + space + size_px <= room:
                current += space + size_px
            else:
                lines += 1
                current = size_px
            while current > room:
                lines += 1
                current -= room
    return max(lines, 1)
