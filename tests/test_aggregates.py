"""aggregates.csv checked against an independent computation from the tidy exports.

The recomputation reads only the CSV files a third party would get (values.csv, people.csv,
the registry) with the csv module, so it shares no code with pipeline.aggregate.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agg")
    result = CliRunner().invoke(
        main,
        [
            "validate",
            str(ROOT / "samples" / "2026"),
            "--year",
            "2026",
            "--output",
            str(out),
            "-q",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    return out / "2026"


def _aggregates(exports: Path) -> dict[tuple[str, str, str], float]:
    return {
        (r["level"], r["key"], r["field"]): float(r["value"])
        for r in _rows(exports / "data" / "aggregates.csv")
    }


def _unit_area() -> dict[str, str]:
    return {r["code"]: r["area_code"] for r in _rows(ROOT / "registry" / "units.csv")}


@pytest.mark.parametrize("field", ["campaign_events", "funds_mobilised", "res_elearning"])
def test_scalar_sums_by_area_and_city(exports: Path, field: str) -> None:
    area_of = _unit_area()
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for r in _rows(exports / "data" / "values.csv"):
        if r["field"] == field:
            by_area[area_of[r["unit_code"]]] += float(r["value"])
            total += float(r["value"])
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    assert aggs[("city", city, field)] == pytest.approx(total)
    assert total > 0
    for area, value in by_area.items():
        assert aggs[("area", area, field)] == pytest.approx(value)


def test_yes_counts(exports: Path) -> None:
    yes = sum(
        1
        for r in _rows(exports / "data" / "values.csv")
        if r["field"] == "steering_committee" and r["value"] == "true"
    )
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    assert aggs[("city", city, "steering_committee")] == yes


def test_people_rates_are_ratios_of_sums(exports: Path) -> None:
    num: dict[str, float] = defaultdict(float)
    den: dict[str, float] = defaultdict(float)
    for r in _rows(exports / "data" / "people.csv"):
        num[r["group"]] += float(r["recognised"] or 0)
        den[r["group"]] += float(r["total"] or 0)
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    for group in ("managers", "teachers", "staff", "learners"):
        # The rate is recomputed from the summed columns, never an average of unit rates.
        summed_total = aggs[("city", city, f"people.{group}.total")]
        summed_rec = aggs[("city", city, f"people.{group}.recognised")]
        rate = aggs[("city", city, f"people.{group}.recognised_rate")]
        assert rate == pytest.approx(summed_rec / summed_total)
        assert summed_rec == pytest.approx(num[group])
        assert summed_total == pytest.approx(den[group])


def test_target_rate_members(exports: Path) -> None:
    rec = tot = 0.0
    for r in _rows(exports / "data" / "people.csv"):
        if r["group"] != "learners" and r["total"]:
            tot += float(r["total"])
            rec += float(r["recognised"] or 0)
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    assert aggs[("city", city, "members_total")] == pytest.approx(tot)
    assert aggs[("city", city, "target.cdht_members")] == pytest.approx(
        aggs[("city", city, "members_recognised")] / tot
    )
    assert aggs[("city", city, "members_recognised")] == pytest.approx(rec)


def test_every_file_accounted_for_once(exports: Path) -> None:
    rows = _rows(exports / "submissions.csv")
    files = [r["file"] for r in rows]
    on_disk = sorted(p.name for p in (ROOT / "samples" / "2026").iterdir() if p.is_file())
    assert sorted(files) == on_disk
    assert {r["status"] for r in rows} <= {
        "accepted",
        "accepted_with_warnings",
        "rejected",
        "superseded",
    }
