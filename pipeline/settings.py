"""The department's own settings (config/settings.yaml): names on the report, the deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
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
    report_date_earliest: str = "01/01"
    """The first plausible "Ngày báo cáo" of a year's report, dd/mm in the report year."""
    report_date_latest: str = "31/03"
    """The last plausible "Ngày báo cáo", dd/mm in the year after the report year."""

    def deadline(self, year: int) -> dt.date:
        """The yearly deadline (Kế hoạch mục VII.4: before 5 December) in `year`."""
        return _day_month(self.deadline_day_month, year)

    def report_window(self, year: int) -> tuple[dt.date, dt.date]:
        """The report dates a report of `year` can bear; any other is taken as a typo.

        A report of the year's work cannot be signed before the year begins; after the end
        of March of the next year the department's own report has long gone to UBND and the
        Ministry, so a later date is almost surely a mistyped year (2062 for 2026).
        """
        return (
            _day_month(self.report_date_earliest, year),
            _day_month(self.report_date_latest, year + 1),
        )


def _day_month(text: str, year: int) -> dt.date:
    day, month = (int(x) for x in text.split("/"))
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
    optional = {
        f.name for f in dataclasses.fields(Settings) if f.default is not dataclasses.MISSING
    }
    for name, ftype in Settings.__annotations__.items():
        if name not in data:
            # Keys added in later versions have defaults, so an older settings file still runs.
            if name in optional:
                continue
            raise SettingsError(f"Tệp {path.name} thiếu mục “{name}”.")
        value = data[name]
        if ftype.startswith("tuple"):
            if not isinstance(value, list):
                raise SettingsError(f"Tệp {path.name}, mục “{name}”: phải là danh sách.")
            values[name] = tuple(nfc(str(v)) for v in value)
        else:
            values[name] = nfc(str(value if value is not None else ""))
    settings = Settings(**values)  # type: ignore[arg-type]
    for name in ("deadline_day_month", "report_date_earliest", "report_date_latest"):
        text = getattr(settings, name)
        try:
            # A common (non-leap) year: 29/02 would pass in 2024 and fail every other year.
            if not re.fullmatch(r"\d{1,2}/\d{1,2}", text):
                raise ValueError(text)
            _day_month(text, 2023)
        except ValueError as exc:
            raise SettingsError(
                f"Tệp {path.name}, mục “{name}”: “{text}” không phải ngày dạng dd/mm."
            ) from exc
    return settings
