"""Shared fixtures: the repository's own schemas, registry and settings, loaded once."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Started as .venv/bin/pytest (not python -m pytest), the checkout is not on sys.path and the
# editable install can resolve `pipeline` as a namespace package without its __init__.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.registry import Registry, load_registry  # noqa: E402
from pipeline.schema import DEFAULT_SCHEMA_DIR, ReportSchema, Schemas, load_schemas  # noqa: E402
from pipeline.settings import DEFAULT_SETTINGS, Settings, load_settings  # noqa: E402


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    """Both schema files (report and criteria) as shipped in schemas/."""
    return load_schemas(DEFAULT_SCHEMA_DIR)


@pytest.fixture(scope="session")
def report_schema(schemas: Schemas) -> ReportSchema:
    return schemas.report


@pytest.fixture(scope="session")
def registry(report_schema: ReportSchema) -> Registry:
    """The sample registry in registry/ (units.csv and areas.csv)."""
    return load_registry(ROOT / "registry" / "units.csv", report_schema)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(DEFAULT_SETTINGS)


RUN_DATE = dt.date(2026, 12, 20)
"""The date every test consolidates on through the CLI: a report date after the run date is a
warning (report-date-future), so with the real date a test would pass today and fail later."""


@pytest.fixture(autouse=True)
def pinned_run_date(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SOURCE_DATE_EPOCH pins pipeline.cli.run_date, in this process and in the commands
    the tests start (pipeline.docs_images runs consolidate as a user would)."""
    noon = dt.datetime.combine(RUN_DATE, dt.time(12), dt.timezone(dt.timedelta(hours=7)))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(noon.timestamp())))
    yield
