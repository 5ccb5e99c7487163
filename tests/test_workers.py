"""Nothing traded for speed: one process or several give byte-identical outputs.

`consolidate` reads files in a process pool (pipeline.collect.read_all) when there are enough
of them, and writes its outputs in another (pipeline.render.write_outputs); results must not
depend on how many processes work or in which order they finish. Twelve sample submissions
(a resubmission and files with problems among them) are consolidated with --workers 1 and
--workers 2 and every output file is compared byte for byte: the CSV exports, issues.csv,
the report workbook, the feedback workbooks, charts and the manifest. A worker that dies
(killed by the system) stops the run with a message, not a traceback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline import collect, render
from pipeline import workers as workers_mod
from pipeline.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "2026"
FILES = 12
POOL_MIN_FILES = 8
"""pipeline.collect.read_all reads in a process pool from this many files on."""


@pytest.fixture(scope="module")
def input_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("in")
    names = sorted(p.name for p in SAMPLES.glob("*.xlsx"))
    # A window of the samples that holds a resubmission (…_ban-dau.xlsx) and its newer file.
    first = next(i for i, n in enumerate(names) if n.endswith("_ban-dau.xlsx"))
    start = max(0, min(first - FILES // 2, len(names) - FILES))
    for name in names[start : start + FILES]:
        shutil.copy2(SAMPLES / name, folder / name)
    return folder


def _consolidate(input_dir: Path, out: Path, workers: int) -> dict[str, bytes]:
    result = CliRunner().invoke(
        main,
        [
            "consolidate",
            "--year",
            "2026",
            "--input",
            str(input_dir),
            "--output",
            str(out),
            "--workers",
            str(workers),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


POOLS: list[int] = []


class _CountingPool(workers_mod.ProcessPoolExecutor):
    """The real pool, counted, so the test knows --workers 2 did work in parallel."""

    def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
        POOLS.append(max_workers or 0)
        super().__init__(max_workers=max_workers, **kwargs)


@pytest.fixture(scope="module")
def outputs(input_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, bytes]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workers_mod, "ProcessPoolExecutor", _CountingPool)
        return [
            _consolidate(input_dir, tmp_path_factory.mktemp(f"out{w}"), workers=w) for w in (1, 2)
        ]


def test_the_pool_was_used(input_dir: Path, outputs: list[dict[str, bytes]]) -> None:
    assert len(list(input_dir.iterdir())) >= POOL_MIN_FILES
    # One pool reads, one writes the outputs; --workers 1 does both in this process.
    assert POOLS == [2, 2], "--workers 1 must work in-process, --workers 2 in pools of two"


def test_same_files_written(outputs: list[dict[str, bytes]]) -> None:
    one, two = outputs
    assert sorted(one) == sorted(two)
    assert "2026/issues.csv" in one
    assert "2026/submissions.csv" in one
    assert any(name.startswith("2026/feedback/") for name in one), "no file with problems"


@pytest.mark.parametrize("kind", [".csv", ".xlsx", ".png", ".json", ".docx"])
def test_byte_identical(outputs: list[dict[str, bytes]], kind: str) -> None:
    one, two = outputs
    names = [n for n in sorted(one) if n.endswith(kind)]
    if kind in (".csv", ".xlsx"):
        assert names, f"no {kind} output"
    different = [n for n in names if one[n] != two.get(n)]
    assert not different, f"differ between --workers 1 and --workers 2: {different}"


def _die(*_args: Any, **_kwargs: Any) -> None:
    """What the system's out-of-memory killer does to a worker, as far as the pool sees."""
    os._exit(9)


@pytest.mark.parametrize(
    ("module", "name", "stage"),
    [(collect, "read_entry", "đọc tệp"), (render, "_workbook", "ghi kết quả")],
)
def test_a_dead_worker_stops_the_run_with_a_message(
    input_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    stage: str,
) -> None:
    monkeypatch.setattr(module, name, _die)
    args = ["consolidate", "--year", "2026", "--input", str(input_dir)]
    result = CliRunner().invoke(main, [*args, "--output", str(tmp_path), "--workers", "2", "-q"])
    assert result.exit_code == 2, result.output
    assert f"bị hệ điều hành dừng đột ngột khi {stage}" in result.output
    assert "--workers 1" in result.output
    assert "Traceback" not in result.output
