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
"""The date every test run of the CLI consolidates on: a report date after it is a warning
(report-date-future), so the real date would make the same test pass today and fail later."""


@pytest.fixture(autouse=True)
def pinned_run_date(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import pipeline.cli

    monkeypatch.setattr(pipeline.cli, "run_date", lambda: RUN_DATE)
    yield
