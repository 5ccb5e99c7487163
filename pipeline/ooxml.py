"""Office Open XML packages (.xlsx, .docx) made byte-reproducible.

openpyxl and python-docx stamp every zip member with the current time, and openpyxl also
sets the document's modified date to now on save. The manifest hashes every output and the
tests compare reruns byte for byte, so packages are re-zipped here with one fixed timestamp
taken from the document itself (its "created" date), never from the clock.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable

import xlsxwriter

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def repack(package: bytes, when: dt.datetime) -> bytes:
    """Re-zip `package` with fixed timestamps, and pin docProps/core.xml's modified date."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts = []
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            parts.append((name, data))
    return zip_parts(parts, when)


def zip_parts(parts: Iterable[tuple[str, bytes]], when: dt.datetime) -> bytes:
    """A deflated zip of `parts`, in the given order, every member stamped `when`."""
    date_time = (max(1980, when.year), when.month, when.day, when.hour, when.minute, when.second)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            zf.writestr(info, data)
    return buf.getvalue()


def text_safe_workbook(
    buffer: io.BytesIO, font_name: str | None = None, font_size: float | None = None
) -> xlsxwriter.Workbook:
    """An in-memory xlsxwriter workbook that never reinterprets strings.

    Text from submissions must reach the reader as text: even a stray ``write()`` of
    ``=HYPERLINK(...)`` must not become a formula, a number or a link.
    """
    options: dict[str, object] = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    if font_name is not None:
        options["default_format_properties"] = {"font_name": font_name, "font_size": font_size}
    return xlsxwriter.Workbook(buffer, options)
