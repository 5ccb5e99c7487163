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
from pipeline.model import is_mail_log
from pipeline.schema import Schemas

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


def _pairs(rows: list[dict[str, str]], part: str, whole: str) -> tuple[float, float]:
    """Sums of part and whole over the rows where both are known and part ≤ whole."""
    num = den = 0.0
    for r in rows:
        if r[part] and r[whole] and float(r[part]) <= float(r[whole]):
            num += float(r[part])
            den += float(r[whole])
    return num, den


def test_people_rates_are_ratios_of_paired_sums(exports: Path) -> None:
    people = _rows(exports / "data" / "people.csv")
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    differs = False
    for group in ("managers", "teachers", "staff", "learners"):
        rows = [r for r in people if r["group"] == group]
        summed_total = sum(float(r["total"]) for r in rows if r["total"])
        summed_rec = sum(float(r["recognised"]) for r in rows if r["recognised"])
        # The counts are plain sums of what the units reported ...
        assert aggs[("city", city, f"people.{group}.total")] == pytest.approx(summed_total)
        assert aggs[("city", city, f"people.{group}.recognised")] == pytest.approx(summed_rec)
        # ... the rate is over the rows reporting both, never an average of unit rates.
        num, den = _pairs(rows, "recognised", "total")
        rate = aggs[("city", city, f"people.{group}.recognised_rate")]
        assert rate == pytest.approx(num / den)
        assert aggs[("city", city, f"people.{group}.recognised_rate.numerator")] == num
        assert aggs[("city", city, f"people.{group}.recognised_rate.denominator")] == den
        differs |= num / den != pytest.approx(summed_rec / summed_total)
    # The samples have rows with a blank recognised count: the pairing matters here.
    assert differs


def test_target_rate_members(exports: Path) -> None:
    members = [r for r in _rows(exports / "data" / "people.csv") if r["group"] != "learners"]
    aggs = _aggregates(exports)
    city = next(k for (lvl, k, f) in aggs if lvl == "city")
    tot = sum(float(r["total"]) for r in members if r["total"])
    rec = sum(float(r["recognised"]) for r in members if r["recognised"])
    assert aggs[("city", city, "members_total")] == pytest.approx(tot)
    assert aggs[("city", city, "members_recognised")] == pytest.approx(rec)
    num, den = _pairs(members, "recognised", "total")
    assert aggs[("city", city, "target.cdht_members")] == pytest.approx(num / den)


def test_no_year_is_summed(exports: Path, schemas: Schemas) -> None:
    """Only fields the schema marks summable are added up: no sum of a year or a code."""
    fields = {f for (_, _, f) in _aggregates(exports)}
    for lst, f in schemas.report.iter_all_fields():
        name = f.code if lst is None else None
        if f.summable or f.type in ("yes_no", "choice"):
            continue
        if name is not None:
            assert name not in fields, name
        else:
            assert not any(x.endswith(f".{f.code}") for x in fields), f"{lst}.{f.code}"
    assert "ldu_recognised_year" not in fields and "report_year" not in fields
    assert any(f.endswith(".total") for f in fields)


def test_every_file_accounted_for_once(exports: Path) -> None:
    rows = _rows(exports / "submissions.csv")
    files = [r["file"] for r in rows]
    on_disk = sorted(
        p.name for p in (ROOT / "samples" / "2026").iterdir() if p.is_file() and not is_mail_log(p)
    )
    assert sorted(files) == on_disk
    assert {r["status"] for r in rows} <= {
        "accepted",
        "accepted_with_warnings",
        "rejected",
        "superseded",
    }


def test_an_older_export_with_summed_years_is_not_carried_on(
    exports: Path, schemas: Schemas, tmp_path: Path
) -> None:
    """An aggregates.csv made before fields were marked summable holds “95,181” as the sum
    of recognition years: a roll-up does not add it up again, a review does not show it."""
    from pipeline.review import Phase, load_review, trends
    from pipeline.rollup import load_department, rollup

    old = tmp_path / "2026" / "data"
    old.mkdir(parents=True)
    rows = _rows(exports / "data" / "aggregates.csv")
    city = next(r["key"] for r in rows if r["level"] == "city")
    rows.append({"level": "city", "key": city, "field": "ldu_recognised_year", "value": "95181"})
    with (old / "aggregates.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["level", "key", "field", "value"])
        writer.writeheader()
        writer.writerows(rows)
    national = rollup([load_department(str(tmp_path / "2026"), 2026)], schemas, "Toàn quốc")
    assert "ldu_recognised_year" not in set(national["field"])
    assert "campaign_events" in set(national["field"])
    review = trends(load_review(tmp_path, Phase(2026, 2026)), schemas)
    assert "ldu_recognised_year" not in set(review["field"])
    assert "target.cdht_members" in set(review["field"])
