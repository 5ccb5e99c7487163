"""The department's own settings (config/settings.yaml): names on the report, the deadline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import SettingsError
from pipeline.schema import nfc

DEFAULT_SETTINGS = Path(__file__).resolve().parent.parent / "config" / "settings.yaml"


@dataclass(frozen=True)
class Settings:
    city_name: str
    issuing_parent: str
    issuing_body: str
    issuing_body_short: str
    place: str
    report_number: str
    signer_authority: str
    signer_title: str
    signer_name: str
    advising_office: str
    submission_email: str
    deadline_day_month: str
    recipients: tuple[str, ...]

    def deadline(self, year: int) -> dt.date:
        """The yearly deadline (Kế hoạch mục VII.4: before 5 December) in `year`."""
        day, month = (int(x) for x in self.deadline_day_month.split("/"))
        return dt.date(year, month, day)


def load_settings(path: Path = DEFAULT_SETTINGS) -> Settings:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"Không tìm thấy tệp cài đặt {path}.") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"Tệp {path.name} không phải văn bản UTF-8; lưu lại dạng UTF-8."
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"Tệp {path.name} sai cú pháp YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"Tệp {path.name} phải là một bảng khóa: giá trị.")
    values: dict[str, object] = {}
    for name, ftype in Settings.__annotations__.items():
        if name not in data:
            raise SettingsError(f"Tệp {path.name} thiếu mục “{name}”.")
        value = data[name]
        if ftype.startswith("tuple"):
            if not isinstance(value, list):
                raise SettingsError(f"Tệp {path.name}, mục “{name}”: phải là danh sách.")
            values[name] = tuple(nfc(str(v)) for v in value)
        else:
            values[name] = nfc(str(value if value is not None else ""))
    settings = Settings(**values)  # type: ignore[arg-type]
    try:
        # A common (non-leap) year: 29/02 would pass in 2024 and fail every other year.
        settings.deadline(2023)
    except ValueError as exc:
        raise SettingsError(
            f"Tệp {path.name}, mục “deadline_day_month”: "
            f"“{settings.deadline_day_month}” không phải ngày dạng dd/mm."
        ) from exc
    return settings
