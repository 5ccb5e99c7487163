"""manifest.json: which inputs produced which outputs, with what tool and schema versions.

The manifest lets the department prove later which files a figure came from: every input
file with its SHA-256 and how it was treated, every output file with its SHA-256, and the
versions of everything that shapes the bytes. It deliberately holds no time stamp and no
absolute path, so rerunning on the same inputs reproduces it byte for byte (and a diff
between two manifests shows exactly what changed).
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
from pipeline.run import RunResult

MANIFEST_NAME = "manifest.json"


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


def build_manifest(result: RunResult, input_dir: Path, out_dir: Path) -> dict[str, Any]:
    report, criteria = result.schemas.report, result.schemas.criteria
    return {
        "year": result.year,
        "tool": {"name": "xhht-pipeline", "version": __version__},
        "schema": {
            "id": report.id,
            "version": report.version,
            "criteria_version": criteria.version,
        },
        "environment": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "xlsxwriter": xlsxwriter.__version__,
            # From its metadata: most runs never import openpyxl (feedback copies of plain
            # packages do without it) and its import would cost a run 0.2 s.
            "openpyxl": metadata.version("openpyxl"),
            "matplotlib": matplotlib.__version__,
        },
        "input_folder": input_dir.name,
        "inputs": _inputs(result),
        "outputs": _outputs(out_dir),
    }


def write_manifest(result: RunResult, input_dir: Path, out_dir: Path) -> Path:
    """Write out_dir/manifest.json (call it last: it hashes the other outputs)."""
    target = out_dir / MANIFEST_NAME
    data = build_manifest(result, input_dir, out_dir)
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    write_bytes(target, text.encode("utf-8"))
    return target
