"""LibreOffice headless, as the tests use it: open what the pipeline writes the way a user's
office suite would, and convert it (to PDF, to .xlsx, to the legacy formats)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""
"""A profile setting that makes Calc recalculate every formula of an .xlsx it opens."""


def soffice() -> str:
    """The LibreOffice executable; the test is skipped where LibreOffice is not installed."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.skip("LibreOffice (soffice) not installed")
    return exe


def convert(
    source: Path, fmt: str, out: Path, *, exe: str | None = None, recalc: bool = False
) -> Path:
    """Convert `source` to `fmt` into the folder `out`; return the converted file."""
    return convert_all([source], fmt, out, exe=exe, recalc=recalc)[0]


def convert_all(
    sources: list[Path], fmt: str, out: Path, *, exe: str | None = None, recalc: bool = False
) -> list[Path]:
    """Convert every file of `sources` to `fmt` into the folder `out`, in one LibreOffice
    call (each call costs seconds); return the converted files, in order.

    Each call gets a fresh profile beside `out` (parallel runs must not share one, and a
    profile inside `out` would be one more entry in a folder the test may go on to read).
    """
    profile = out.parent / f".lo-{uuid.uuid4().hex}"
    if recalc:
        user = profile / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            exe or soffice(),
            "--headless",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            fmt,
            "--outdir",
            str(out),
            *map(str, sources),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    targets = [out / f"{source.stem}.{fmt.split(':')[0]}" for source in sources]
    for target in targets:
        assert target.is_file(), f"LibreOffice produced no {target.name}"
    return targets
