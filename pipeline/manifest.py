"""manifest.json: which inputs produced which outputs, with what tool and schema versions.

The manifest lets the department prove later which files a figure came from: every input
file with its SHA-256 and how it was treated, every output file with its SHA-256, and the
versions of everything that shapes the bytes. It deliberately holds no time stamp and no
absolute path, so rerunning on the same inputs reproduces it byte for byte (and a diff
between two manifests shows exactly what changed).

Every command that fills a result folder writes one (``consolidate``, ``validate``, the
phase review, ``rollup``), naming the command: it is also how a later run recognises the
product's own outputs when they lie inside an input folder (:mod:`pipeline.publish`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import xlsxwriter

from pipeline import __version__
from pipeline.export import write_bytes
from pipeline.publish import MANIFEST_NAME, TOOL_NAME
from pipeline.run import RunResult


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _outputs(out_dir: Path) -> list[dict[str, Any]]:
    """Every file under out_dir except the manifest and in-flight temporary files."""
    rows = []
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(out_dir).as_posix()
        if rel == MANIFEST_NAME or path.name.startswith("."):
            # Dot files are the atomic writer's temporaries (or system clutter).
            continue
        rows.append({"file": rel, "sha256": sha256_file(path), "size": path.stat().st_size})
    return rows


def _inputs(result: RunResult) -> list[dict[str, Any]]:
    rows = []
    for x in result.submissions.sort_values("file", kind="stable").itertuples(index=False):
        rows.append(
            {
                "file": str(x.file),
                "sha256": str(x.sha256),
                "size": int(x.size),
                "unit_code": str(x.unit_code or ""),
                "status": str(x.status),
                "reason": str(x.reason),
            }
        )
    return rows


def _environment() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "xlsxwriter": xlsxwriter.__version__,
        # From its metadata: most runs never import openpyxl (feedback copies of plain
        # packages do without it) and its import would cost a run 0.2 s.
        "openpyxl": metadata.version("openpyxl"),
        "matplotlib": matplotlib.__version__,
    }


def build_manifest(
    result: RunResult, input_dir: Path, out_dir: Path, command: str = "consolidate"
) -> dict[str, Any]:
    report, criteria = result.schemas.report, result.schemas.criteria
    return {
        "year": result.year,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "command": command,
        "schema": {
            "id": report.id,
            "version": report.version,
            "criteria_version": criteria.version,
        },
        "environment": _environment(),
        "input_folder": input_dir.name,
        "inputs": _inputs(result),
        "outputs": _outputs(out_dir),
    }


def write_manifest(
    result: RunResult, input_dir: Path, out_dir: Path, command: str = "consolidate"
) -> Path:
    """Write out_dir/manifest.json (call it last: it hashes the other outputs)."""
    return _write(out_dir, build_manifest(result, input_dir, out_dir, command))


def write_folder_manifest(out_dir: Path, command: str, about: dict[str, Any]) -> Path:
    """The manifest of a folder made from other results (phase review, roll-up), last.

    `about` says what it was made from (the phase, the departments' folders).
    """
    data = {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "command": command,
        **about,
        "environment": _environment(),
        "outputs": _outputs(out_dir),
    }
    return _write(out_dir, data)


def _write(out_dir: Path, data: dict[str, Any]) -> Path:
    target = out_dir / MANIFEST_NAME
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    write_bytes(target, text.encode("utf-8"))
    return target


__all__ = [
    "MANIFEST_NAME",
    "build_manifest",
    "sha256_file",
    "write_folder_manifest",
    "write_manifest",
]
