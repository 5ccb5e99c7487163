"""Roll-up: two departments' consolidated exports → one national table, with the same tool.

Department A is the sample city; department B is the same submissions consolidated under
another department's settings (another city name), as a second Sở would send its export.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import pipeline.rollup as rollup_mod
from pipeline.aggregate import ratios
from pipeline.cli import main
from pipeline.collect import read_all
from pipeline.errors import StorageError
from pipeline.export import write_tables
from pipeline.registry import Registry
from pipeline.review import load_review, parse_phase
from pipeline.run import consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2025


@pytest.fixture(scope="module")
def departments(
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("departments")
    raws = read_all(ROOT / "samples" / str(YEAR), schemas, workers=1)
    out = {}
    for folder, city in (("so-a", settings.city_name), ("so-b", "Tỉnh Mẫu B")):
        result = consolidate(
            raws, YEAR, schemas, registry, dataclasses.replace(settings, city_name=city)
        )
        write_tables(result, base / folder / str(YEAR))
        out[city] = base / folder / str(YEAR)
    return out


def run(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(main, args)
    return res.exit_code, res.output


def agg(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig")


def test_rollup_of_two_departments(
    departments: dict[str, Path], schemas: Schemas, settings: Settings, tmp_path: Path
) -> None:
    code, output = run(
        ["rollup", *map(str, departments.values()), "--year", str(YEAR), "--output", str(tmp_path)]
    )
    assert code == 0, output
    national = agg(tmp_path / str(YEAR) / "data" / "aggregates.csv")
    assert set(national["level"]) == {"national", "department", "unit_type"}
    assert sorted(set(national.loc[national["level"] == "department", "key"])) == sorted(
        departments
    )
    one = agg(departments[settings.city_name] / "data" / "aggregates.csv")
    city = one[one["level"] == "city"].set_index("field")["value"]
    total = national[national["level"] == "national"]
    assert set(total["key"]) == {"Toàn quốc"}
    total = total.set_index("field")["value"]
    rates = {r.field for r in ratios(schemas)}
    for fld, value in city.items():
        if fld in rates:
            # Twice the numerator over twice the denominator: the same rate, recomputed.
            assert total[fld] == pytest.approx(value, rel=1e-6), fld
        else:
            assert total[fld] == pytest.approx(2 * value), fld
    types = national[national["level"] == "unit_type"].set_index(["key", "field"])["value"]
    one_types = one[one["level"] == "unit_type"].set_index(["key", "field"])["value"]
    assert types[("high_school", "units")] == 2 * one_types[("high_school", "units")]
    sources = agg(tmp_path / str(YEAR) / "data" / "departments.csv")
    assert list(sources["on_time"]) == [int(sources["on_time"][0])] * 2
    table = openpyxl.load_workbook(tmp_path / str(YEAR) / f"bang-tong-hop-{YEAR}.xlsx")
    rows = [r for r in table.active.iter_rows(values_only=True) if r[0]]
    assert rows[-1][0] == "Tổng cộng" and rows[-1][1] == total["units"]


def test_rates_are_never_averaged(schemas: Schemas, tmp_path: Path) -> None:
    """Two departments of different sizes: the national rate weighs them by their people."""
    from pipeline.rollup import Department, rollup

    def dept(name: str, recognised: float, members: float) -> Department:
        frame = pd.DataFrame(
            {
                "level": ["department"] * 3,
                "key": [name] * 3,
                "field": ["members_recognised", "members_total", "target.cdht_members"],
                "value": [recognised, members, recognised / members],
            }
        )
        return Department(name, name, name, frame, None)

    out = rollup([dept("A", 90, 100), dept("B", 100, 1000)], schemas, "X")
    rate = out[(out["level"] == "national") & (out["field"] == "target.cdht_members")]
    assert float(rate["value"].iloc[0]) == pytest.approx(190 / 1100)  # not (0.9 + 0.1) / 2


def test_the_same_export_twice_is_refused(departments: dict[str, Path], tmp_path: Path) -> None:
    one = str(next(iter(departments.values())))
    code, output = run(
        ["rollup", one, f"Khác={one}", "--year", str(YEAR), "--output", str(tmp_path)]
    )
    assert code == 2 and "cộng trùng" in output


def test_named_departments_and_a_rollup_of_rollups(
    departments: dict[str, Path], tmp_path: Path
) -> None:
    a, b = departments.values()
    first = tmp_path / "mien-nam"
    code, output = run(
        [
            "rollup",
            f"Sở A={a}",
            f"Sở B={b}",
            "--year",
            str(YEAR),
            "--name",
            "Miền Nam",
            "--output",
            str(first),
        ]
    )
    assert code == 0, output
    # The roll-up is an export of the same shape: it can be rolled up (and reviewed) again.
    second = tmp_path / "ca-nuoc"
    code, output = run(
        [
            "rollup",
            str(first / str(YEAR)),
            f"Sở C={a}",
            "--year",
            str(YEAR),
            "--output",
            str(second),
        ]
    )
    assert code == 0, output
    top = agg(second / str(YEAR) / "data" / "aggregates.csv")
    units = top[(top["level"] == "national") & (top["field"] == "units")]["value"].iloc[0]
    one = agg(a / "data" / "aggregates.csv")
    city_units = one[(one["level"] == "city") & (one["field"] == "units")]["value"].iloc[0]
    assert units == 3 * city_units
    assert set(top.loc[top["level"] == "department", "key"]) == {"Miền Nam", "Sở C"}
    review = load_review(second, parse_phase(f"{YEAR}-{YEAR}"))
    assert review.top_level == "national" and review.top_key == "Toàn quốc"


def test_missing_export_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run(["rollup", str(tmp_path / "khong-co"), "--year", str(YEAR)])
    assert code == 2 and "data/aggregates.csv" in output


def test_a_failed_rollup_keeps_the_last_one(
    departments: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roll-up folder is swapped in whole, like a year's (docs/dac-ta-ghi-ket-qua.md)."""

    args = ["rollup", *map(str, departments.values()), "--year", str(YEAR)]
    code, output = run([*args, "--output", str(tmp_path)])
    assert code == 0, output
    folder = tmp_path / str(YEAR)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "rollup" and manifest["year"] == YEAR
    assert sorted(manifest["departments"]) == sorted(departments)
    before = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }

    def read_only(*_args: object) -> bytes:
        raise StorageError("Không ghi được (ổ đĩa chỉ cho phép đọc).", errno.EROFS)

    monkeypatch.setattr(rollup_mod, "national_table", read_only)
    code, output = run([*args, "--name", "Vùng khác", "--output", str(tmp_path)])
    assert code == 2, output
    assert f"Ổ đĩa chứa thư mục kết quả {folder} chỉ cho phép đọc" in output
    assert "vẫn nguyên vẹn, không bị thay đổi" in output
    assert {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    } == before
