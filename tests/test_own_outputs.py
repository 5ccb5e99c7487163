"""The product never reads its own outputs as submissions (docs/dac-ta-ghi-ket-qua.md, 2).

`consolidate --input X --output X/ket-qua` is a natural layout (results beside the
submissions). Before, the second run read its own report, CSVs, charts and feedback copies as
submissions, and the feedback copies superseded the units' real files. Skipped now: the
output folder under the input, any folder holding one of our manifests, any file that is a
byte-for-byte copy of an output a manifest lists. A unit's fixed feedback copy (other bytes)
is read as usual.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.publish import OwnOutputs
from pipeline.read import scan_inputs
from pipeline.templates import template_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "2026"
YEAR = "2026"
SKIPPED = "Không đọc kết quả do chính chương trình ghi ra (không phải báo cáo đơn vị)"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "X"
    folder.mkdir()
    for path in sorted(SAMPLES.glob("*.xlsx"))[:12]:
        shutil.copy2(path, folder / path.name)
    return folder


def _consolidate(inputs: Path, out: Path) -> str:
    argv = ["consolidate", "--year", YEAR, "--input", str(inputs), "--output", str(out), "-q"]
    res = CliRunner().invoke(main, [*argv, "--workers", "1"])
    assert res.exit_code == 0, res.output
    return res.output


def _files_read(out: Path) -> list[str]:
    text = (out / YEAR / "submissions.csv").read_text(encoding="utf-8-sig")
    return [row["file"] for row in csv.DictReader(io.StringIO(text))]


def test_output_inside_the_input_is_never_read(inputs: Path) -> None:
    units = sorted(p.name for p in inputs.iterdir())
    out = inputs / "ket-qua"
    first = _consolidate(inputs, out)
    assert any((out / YEAR / "feedback").iterdir()), "the run should write feedback copies"
    submissions = (out / YEAR / "submissions.csv").read_bytes()
    second = _consolidate(inputs, out)
    # The second run reads exactly the units' files, as the first did.
    assert _files_read(out) == units
    assert (out / YEAR / "submissions.csv").read_bytes() == submissions
    for output in (first, second):
        assert f"{SKIPPED}: thư mục “ket-qua”." in output
    manifest = json.loads((out / YEAR / "manifest.json").read_text(encoding="utf-8"))
    assert [i["file"] for i in manifest["inputs"]] == units


def test_output_equal_to_the_input(inputs: Path) -> None:
    units = sorted(p.name for p in inputs.iterdir())
    _consolidate(inputs, inputs)
    output = _consolidate(inputs, inputs)
    assert _files_read(inputs) == units  # neither 2026/… nor the lock file .2026.lock
    assert f"{SKIPPED}: thư mục “2026”." in output


def test_a_copied_feedback_copy_is_skipped_a_fixed_one_is_read(
    inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ra"
    _consolidate(inputs, out)
    copy = sorted((out / YEAR / "feedback").iterdir())[0]
    # The specialist drops the feedback copy into the input folder, as it is.
    (inputs / "phan-hoi").mkdir()
    dropped = inputs / "phan-hoi" / copy.name
    shutil.copy2(copy, dropped)
    output = _consolidate(inputs, out)
    assert f"phan-hoi/{copy.name}" not in _files_read(out)
    assert f"tệp “phan-hoi/{copy.name}” (bản sao của “{YEAR}/feedback/{copy.name}”)" in output
    # The unit fixes that copy and sends it back: other bytes, a submission like any other.
    wb = openpyxl.load_workbook(dropped)
    wb["Thông tin chung"]["A1"].value = "Đã sửa theo phản hồi của Sở"
    dropped.write_bytes(template_bytes(wb))
    output = _consolidate(inputs, out)
    assert f"phan-hoi/{copy.name}" in _files_read(out)
    assert SKIPPED not in output


def test_a_folder_holding_our_manifest_is_not_read(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "ra"
    _consolidate(inputs, out)
    units = sorted(p.name for p in inputs.iterdir())
    # Last year's results, copied among this year's submissions.
    shutil.copytree(out / YEAR, inputs / "ket-qua-nam-truoc")
    output = _consolidate(inputs, out)
    assert _files_read(out) == units
    assert "thư mục “ket-qua-nam-truoc”" in output


def test_a_foreign_manifest_does_not_hide_a_folder(inputs: Path, tmp_path: Path) -> None:
    sub = inputs / "don-vi"
    sub.mkdir()
    first = sorted(inputs.glob("*.xlsx"))[0]
    shutil.move(first, sub / first.name)
    (sub / "manifest.json").write_text(json.dumps({"tool": {"name": "khac"}}), encoding="utf-8")
    out = tmp_path / "ra"
    output = _consolidate(inputs, out)
    read = _files_read(out)
    assert f"don-vi/{first.name}" in read and "don-vi/manifest.json" in read
    assert SKIPPED not in output


def test_the_scan_skips_an_input_that_is_itself_our_output(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"x")
    manifest = {"tool": {"name": "xhht-pipeline"}, "outputs": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    own = OwnOutputs()
    assert scan_inputs(tmp_path, own) == []
    assert own.skipped_folders == [str(tmp_path)]
    assert [e.name for e in scan_inputs(tmp_path)] == ["a.xlsx", "manifest.json"]
