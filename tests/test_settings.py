"""config/settings.yaml: the department's names for the report and the yearly deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.errors import SettingsError
from pipeline.settings import DEFAULT_SETTINGS, Settings, load_settings

VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)
KEYS = [f.name for f in dataclasses.fields(Settings)]
REQUIRED = [f.name for f in dataclasses.fields(Settings) if f.default is dataclasses.MISSING]
OPTIONAL = [k for k in KEYS if k not in REQUIRED]
"""Keys added after the first release: an older settings file without them still loads."""


def real() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_SETTINGS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dump(data: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def assert_vietnamese(message: str) -> None:
    assert VIETNAMESE_LETTERS.search(message), message
    assert "tệp" in message.lower(), message


def test_shipped_settings_load() -> None:
    settings = load_settings()
    assert settings.issuing_body == "SỞ GIÁO DỤC VÀ ĐÀO TẠO"
    assert settings.issuing_parent.startswith("UBND")
    assert settings.deadline_day_month == "05/12"
    assert len(settings.recipients) >= 2
    assert all(isinstance(r, str) and r for r in settings.recipients)
    for key in KEYS:
        value = getattr(settings, key)
        for text in value if isinstance(value, tuple) else (value,):
            assert unicodedata.is_normalized("NFC", text), key


def test_deadline() -> None:
    settings = load_settings(DEFAULT_SETTINGS)
    assert settings.deadline(2026) == dt.date(2026, 12, 5)
    assert settings.deadline(2025) == dt.date(2025, 12, 5)
    assert settings.deadline(2030) == dt.date(2030, 12, 5)


def test_dumped_copy_loads(tmp_path: Path) -> None:
    assert load_settings(dump(real(), tmp_path / "settings.yaml")) == load_settings()


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_key(tmp_path: Path, key: str) -> None:
    data = real()
    del data[key]
    with pytest.raises(SettingsError) as info:
        load_settings(dump(data, tmp_path / "settings.yaml"))
    message = str(info.value)
    assert "settings.yaml" in message and f"“{key}”" in message
    assert_vietnamese(message)


@pytest.mark.parametrize("key", OPTIONAL)
def test_missing_optional_key_takes_its_default(tmp_path: Path, key: str) -> None:
    data = real()
    del data[key]
    settings = load_settings(dump(data, tmp_path / "settings.yaml"))
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == key)
    assert getattr(settings, key) == default


def test_report_window() -> None:
    """Report dates of the 2026 report: 01/01/2026 to 31/03/2027 (settings.yaml says why)."""
    assert load_settings().report_window(2026) == (dt.date(2026, 1, 1), dt.date(2027, 3, 31))


@pytest.mark.parametrize("key", ["report_date_earliest", "report_date_latest"])
@pytest.mark.parametrize("bad", ["31/02", "1 tháng 1", "01/01/2026", ""])
def test_bad_report_window(tmp_path: Path, key: str, bad: str) -> None:
    data = real()
    data[key] = bad
    with pytest.raises(SettingsError) as info:
        load_settings(dump(data, tmp_path / "settings.yaml"))
    assert key in str(info.value)
    assert_vietnamese(str(info.value))


@pytest.mark.parametrize(
    "bad",
    [
        "31/02",
        "29/02",  # a valid date in leap years only: must not pass and then fail in 2025
        "00/12",
        "05/13",
        "12/31",
        "5 tháng 12",
        "05/12/2026",
        "05-12",
        "",
    ],
)
def test_bad_deadline(tmp_path: Path, bad: str) -> None:
    data = real()
    data["deadline_day_month"] = bad
    with pytest.raises(SettingsError) as info:
        load_settings(dump(data, tmp_path / "settings.yaml"))
    message = str(info.value)
    assert "settings.yaml" in message and "deadline_day_month" in message
    assert_vietnamese(message)


def test_deadline_other_day(tmp_path: Path) -> None:
    data = real()
    data["deadline_day_month"] = "1/12"
    settings = load_settings(dump(data, tmp_path / "settings.yaml"))
    assert settings.deadline(2027) == dt.date(2027, 12, 1)


def test_recipients_must_be_a_list(tmp_path: Path) -> None:
    data = real()
    data["recipients"] = "UBND thành phố"
    with pytest.raises(SettingsError) as info:
        load_settings(dump(data, tmp_path / "settings.yaml"))
    assert "recipients" in str(info.value)
    assert_vietnamese(str(info.value))


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"city_name: [\n", id="bad-yaml"),
        pytest.param(b"- a\n- b\n", id="not-a-mapping"),
        # "Thành phố" as Excel/Notepad save it in code page 1258 (tone mark as a separate byte)
        pytest.param(b"city_name: Th\xe0nh ph\xf4\xec\n", id="not-utf8"),
    ],
)
def test_unreadable_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "settings.yaml"
    path.write_bytes(content)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "settings.yaml" in str(info.value)
    assert_vietnamese(str(info.value))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path / "khong-co.yaml")
    assert "khong-co.yaml" in str(info.value)
    assert_vietnamese(str(info.value))


def test_nfd_text_is_normalised(tmp_path: Path) -> None:
    text = DEFAULT_SETTINGS.read_text(encoding="utf-8")
    path = tmp_path / "settings.yaml"
    path.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    assert load_settings(path) == load_settings()
