"""Speed at scale, measured against baselines (`make bench`, `python -m pipeline.bench`).

This is a benchmark script, not a timed test: numbers depend on the machine and on what else
runs on it, so it prints them (and writes them to output/bench/bench.md and the README's
"Tốc độ" section) rather than asserting them.

For each size N it times, in one run:

(a) ``consolidate`` end to end, as a user runs it (a fresh ``python -m pipeline`` process,
    imports and every output included), with the peak memory (PSS) of that process tree;
(b) the reading stage alone (``pipeline.collect.read_all``), with the default worker count and
    with one worker;
(c) the baseline a data officer would write: ``pandas.read_excel(path, sheet_name=None)``
    with its default engine over every file;
(d) the floor: python-calamine reading every sheet of every file and nothing else;

plus ``templates --per-unit`` for the N units of the synthetic registry.

Test data: filling a template with openpyxl costs about 0.2 s a file, far too slow for ten
thousand files. So a few hundred *base* files are filled that way (the sample generator's
value functions, for the first units of a synthetic registry), and every other unit's file is
derived from a base of the same unit type by rewriting cells directly in the package XML: the
unit's identity (code in the hidden metadata sheet and the form, name, area, e-mail), some
counts, the people matrix scaled by a per-file factor (so every rule still holds) and the
nominees. A small share of files carries a typical mistake. Every file is a distinct, valid
submission of a distinct registry unit. Data sets are cached under ``.bench-cache/`` (ignored
by git), keyed by N and a hash of the schema files and the template version.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import click

from pipeline.model import INSTRUCTIONS_SHEET, META_SHEET
from pipeline.registry import Area, Registry, Unit
from pipeline.schema import DEFAULT_SCHEMA_DIR, Schemas, load_schemas
from pipeline.settings import DEFAULT_SETTINGS, load_settings

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_VERSION = "2"
"""Bump when the generated data changes, so cached data sets are rebuilt."""
DEFAULT_SIZES = (300, 1_000, 10_000)
BASE_FILES = 240
"""Files filled with openpyxl; the rest are derived from them."""
UNITS_PER_AREA = 25
PROBLEM_EVERY = 100
"""One file in this many carries a mistake (and so gets a feedback workbook)."""
BASELINE_LIMIT_S = 600.0
"""Above this estimated duration the pandas baseline is extrapolated, not measured."""
REPEATS = 3
REPEAT_BUDGET_S = 20.0
"""A measurement is repeated (best of REPEATS) only while its runs add up to less."""
YEAR = 2026

# Counts varied per derived file (no cross-field rule involves them).
VARIED_COUNTS = (
    "campaign_events",
    "campaign_participants",
    "news_items",
    "res_elearning",
    "res_videos",
    "res_question_banks",
    "res_other",
    "res_shared",
    "scholarships",
    "cultural_activities",
    "learning_families",
    "awards_collective",
    "awards_individual",
)
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Lý",
          "Hồ", "Phan", "Trương", "Võ", "Đinh", "Lâm", "Mai", "Tô"]  # fmt: skip
MIDDLE = ["Văn", "Thị", "Minh", "Thu", "Quang", "Đức", "Ngọc", "Thanh", "Hữu", "Kim", "Bảo",
          "Gia", "Hoài", "Khánh", "Mạnh", "Nhật", "Phương", "Quốc", "Tuấn", "Xuân"]  # fmt: skip
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Linh", "Nga", "Phúc", "Quân",
         "Sơn", "Trang", "Vy", "Yến", "Anh", "Bích", "Cường", "Duy", "Hạnh", "Hiếu", "Hòa",
         "Hùng", "Lan", "Long", "Mai", "Nam", "Ngân", "Oanh", "Phong", "Tâm", "Thảo", "Thắng",
         "Thủy", "Tiến", "Trí", "Tú", "Uyên", "Vân", "Việt"]  # fmt: skip


# --------------------------------------------------------------------------- synthetic registry


def synthetic_unit(i: int) -> Unit:
    """Unit number `i` of the synthetic registry; the registry of N units is the first N."""
    area = i // UNITS_PER_AREA
    area_code = f"KV{area:04d}"
    if i % UNITS_PER_AREA == 0:
        code, utype = f"PGD-{area:04d}", "area_office"
        name = f"Phòng Văn hóa - Xã hội phường Thử Nghiệm {area:04d}"
    elif i % 10 == 3:
        code, utype = f"PTNC-{i:05d}", "multi_level_school"
        name = f"Trường phổ thông nhiều cấp học Thử Nghiệm {i:05d}"
    elif i % 15 == 7:
        code, utype = f"DVTT-{i:05d}", "affiliated_unit"
        name = f"Trung tâm Giáo dục thường xuyên Thử Nghiệm {i:05d}"
    else:
        code, utype = f"THPT-{i:05d}", "high_school"
        name = f"Trường THPT Thử Nghiệm {i:05d}"
    return Unit(code, name, utype, area_code, f"{code.lower()}@bench.gddt.vn")


def synthetic_area(code: str) -> Area:
    return Area(code, f"Phường Thử Nghiệm {code[2:]}", "phường")


def synthetic_registry(n: int) -> Registry:
    units = [synthetic_unit(i) for i in range(n)]
    areas = {code: synthetic_area(code) for code in dict.fromkeys(u.area_code for u in units)}
    return Registry(areas=areas, units={u.code: u for u in units})


def write_registry(registry: Registry, folder: Path) -> Path:
    """units.csv and areas.csv, in the format the department edits."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "areas.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name", "kind"])
        w.writerows([a.code, a.name, a.kind] for a in registry.areas.values())
    with (folder / "units.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name", "type", "area_code", "email"])
        w.writerows([u.code, u.name, u.type, u.area_code, u.email] for u in registry.units.values())
    return folder / "units.csv"


# --------------------------------------------------------------------------- base files


@dataclass
class Base:
    """A filled file and where its cells are, so derived files can be written from it."""

    unit: Unit
    content: bytes
    sheet_parts: dict[str, str]
    scalars: dict[str, tuple[str, str, Any]]
    """field → (sheet, cell, raw value)."""
    lists: dict[str, list[dict[str, tuple[str, str, Any]]]]


def _rng(*parts: object) -> random.Random:
    seed = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return random.Random(int(seed[:16], 16))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _nominee(number: int) -> str:
    """A distinct four-part name per number (a permutation of all combinations), so that
    derived files do not nominate the same person by chance."""
    size = len(FAMILY) * len(MIDDLE) ** 2 * len(GIVEN)
    k = (number * 7_919 + 104_729) % size
    k, given = divmod(k, len(GIVEN))
    k, second = divmod(k, len(MIDDLE))
    family, first = divmod(k, len(MIDDLE))
    return f"{FAMILY[family]} {MIDDLE[first]} {MIDDLE[second]} {GIVEN[given]}"


def _build_base(i: int) -> bytes:
    """Fill the template of synthetic unit `i` the way the sample generator does."""
    from pipeline import samples
    from pipeline.templates import build_template, template_bytes

    schemas, settings = load_schemas(DEFAULT_SCHEMA_DIR), load_settings(DEFAULT_SETTINGS)
    unit = synthetic_unit(i)
    registry = synthetic_registry(i + 1)
    rng = _rng(unit.code, YEAR, "base")
    level = rng.choices(["none", "level_1", "level_2"], weights=[5, 4, 1])[0]
    values = samples.unit_values(unit, YEAR, schemas, rng, level)
    lists = {
        "people": samples.people_rows(unit, schemas, rng, level),
        "initiatives": samples.initiative_rows(YEAR, schemas, rng),
        "nominations": samples.nomination_rows(unit, schemas, rng),
    }
    for row in lists["nominations"]:
        if row["nominee_name"] != unit.name:
            row["nominee_name"] = _person(rng)
    if rng.random() < 0.12:
        values["report_date"] = dt.datetime(YEAR, 12, rng.randint(6, 12))
    variant = schemas.report.variant_for_unit_type(unit.type).code
    wb = build_template(schemas.report, variant, YEAR, settings, registry, unit)
    samples.fill_template(wb, values, lists)
    return template_bytes(wb)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    }
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    rels = {
        r.get("Id", ""): "xl/" + r.get("Target", "").removeprefix("/xl/")
        for r in ET.fromstring(zf.read("xl/_rels/workbook.xml.rels")).findall(
            "rel:Relationship", ns
        )
    }
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    return {s.get("name", ""): rels[s.get(rid, "")] for s in wb.findall("m:sheets/m:sheet", ns)}


def _locate(unit: Unit, content: bytes, schemas: Schemas) -> Base:
    """Where every value of a base file sits, found by the pipeline's own reader."""
    from pipeline.read import read_submission

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.xlsx"
        path.write_bytes(content)
        sub = read_submission(path, Path(tmp), schemas.report)
        with zipfile.ZipFile(path) as zf:
            parts = _sheet_parts(zf)
    if sub.rejected:
        raise RuntimeError(f"generated base file for {unit.code} rejected: {sub.issues}")
    scalars = {k: (loc.sheet, loc.cell, loc.value) for k, loc in sub.scalars.items()}
    lists = {
        code: [{k: (loc.sheet, loc.cell, loc.value) for k, loc in row.items()} for row in rows]
        for code, rows in sub.lists.items()
    }
    return Base(unit, content, parts, scalars, lists)


# --------------------------------------------------------------------------- derived files

_STYLE = re.compile(rb'\ss="(\d+)"')


def _cell_xml(ref: str, style: bytes | None, value: Any) -> bytes:
    s = b' s="' + style + b'"' if style else b""
    if isinstance(value, str):
        text = escape(value).encode("ascii", "xmlcharrefreplace")
        return (
            b'<c r="'
            + ref.encode()
            + b'"'
            + s
            + b' t="inlineStr"><is><t>'
            + text
            + b"</t></is></c>"
        )
    return b'<c r="' + ref.encode() + b'"' + s + b' t="n"><v>' + str(value).encode() + b"</v></c>"


def patch_cells(xml: bytes, values: dict[str, Any]) -> bytes:
    """Rewrite the given cells (A1 refs) of a worksheet, keeping each cell's style."""
    if not values:
        return xml
    refs = b"|".join(re.escape(r.encode()) for r in values)
    pattern = re.compile(rb'<c r="(' + refs + rb')"([^>]*?)(?:/>|>.*?</c>)', re.S)

    def repl(m: re.Match[bytes]) -> bytes:
        style = _STYLE.search(m.group(2))
        return _cell_xml(
            m.group(1).decode(), style.group(1) if style else None, values[m.group(1).decode()]
        )

    out, count = pattern.subn(repl, xml)
    if count != len(values):
        raise RuntimeError(f"patched {count} of {len(values)} cells")
    return out


def _xml_text(text: str) -> bytes:
    return escape(text).encode("ascii", "xmlcharrefreplace")


def derive(base: Base, unit: Unit, area_name: str, index: int, problem: bool) -> bytes:
    """The submission of `unit`, written from `base` (a file of a unit of the same type)."""
    rng = _rng(unit.code, YEAR, "derive")
    cells: dict[str, dict[str, Any]] = {}

    def put(sheet: str, cell: str, value: Any) -> None:
        cells.setdefault(sheet, {})[cell] = value

    def scalar(code: str, value: Any) -> None:
        if code in base.scalars:
            sheet, cell, _ = base.scalars[code]
            put(sheet, cell, value)

    scalar("unit_code", unit.code)
    scalar("unit_name", unit.name)
    scalar("area_name", area_name)
    scalar("reporter_email", unit.email)
    for code in VARIED_COUNTS:
        raw = base.scalars.get(code, ("", "", None))[2]
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            scalar(code, round(raw * rng.uniform(0.5, 1.6)))
    factor = rng.uniform(0.7, 1.4)
    for row in base.lists.get("people", []):
        for col, (sheet, cell, raw) in row.items():
            if col != "group" and isinstance(raw, int | float) and not isinstance(raw, bool):
                # round() is monotone, so recognised ≤ registered ≤ total still holds.
                put(sheet, cell, round(raw * factor))
    for k, row in enumerate(base.lists.get("nominations", [])):
        sheet, cell, name = row["nominee_name"]
        put(sheet, cell, unit.name if name == base.unit.name else _nominee(index * 4 + k))
        sheet, cell, position = row.get("position", ("", "", None))
        if isinstance(position, str) and base.unit.name in position:
            put(sheet, cell, position.replace(base.unit.name, unit.name))
    if problem:
        kind = index % 3
        if kind == 0:
            scalar("campaign_events", "khoảng mười")
        elif kind == 1:
            scalar("news_items", -rng.randint(1, 9))
        elif base.lists.get("people"):
            row = base.lists["people"][0]
            sheet, cell, _ = row["recognised"]
            registered = row["registered"][2]
            put(sheet, cell, round(registered * factor) + 3)
    part_cells = {base.sheet_parts[sheet]: values for sheet, values in cells.items()}
    meta_part = base.sheet_parts[META_SHEET]
    help_part = base.sheet_parts.get(INSTRUCTIONS_SHEET)
    old_code, new_code = _xml_text(base.unit.code), _xml_text(unit.code)
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base.content)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename in part_cells:
                data = patch_cells(data, part_cells[info.filename])
            if info.filename == meta_part:
                data = data.replace(b"<t>" + old_code + b"</t>", b"<t>" + new_code + b"</t>")
            if info.filename == help_part:
                data = data.replace(_xml_text(base.unit.name), _xml_text(unit.name))
                data = data.replace(old_code, new_code)
            out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out.compress_type = zipfile.ZIP_DEFLATED
            out.create_system = info.create_system
            out.external_attr = info.external_attr
            dst.writestr(out, data)
    return buf.getvalue()


# --------------------------------------------------------------------------- data sets


def dataset_key(schemas_dir: Path = DEFAULT_SCHEMA_DIR) -> str:
    """Changes when the schemas, the template version or this generator change."""
    digest = hashlib.sha256(f"generator {GENERATOR_VERSION} year {YEAR}".encode())
    for path in sorted(schemas_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(load_schemas(schemas_dir).report.version.encode())
    return digest.hexdigest()[:12]


def _pool_map(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> list[Any]:
    if workers <= 1 or len(items) < 4:
        if initializer is not None:
            initializer(*initargs)
        return [func(x) for x in items]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=initializer, initargs=initargs
    ) as pool:
        return list(pool.map(func, items, chunksize=max(1, len(items) // (workers * 8))))


def base_files(cache: Path, workers: int, log: Callable[[str], None]) -> list[Base]:
    folder = cache / "base"
    done = folder / "done"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        log(f"Tạo {BASE_FILES} tệp gốc bằng openpyxl (chỉ một lần)...")
        started = time.perf_counter()
        contents = _pool_map(_build_base, list(range(BASE_FILES)), workers)
        for i, content in enumerate(contents):
            (folder / f"{i:04d}.xlsx").write_bytes(content)
        done.write_text(f"{time.perf_counter() - started:.1f}\n")
    schemas = load_schemas(DEFAULT_SCHEMA_DIR)
    return [
        _locate(synthetic_unit(i), (folder / f"{i:04d}.xlsx").read_bytes(), schemas)
        for i in range(BASE_FILES)
    ]


_BASES: list[Base] = []
"""The base files, in each process that derives files (set by :func:`_use_bases`)."""


def _use_bases(bases: list[Base]) -> None:
    global _BASES
    _BASES = bases


def _derive_one(i: int) -> tuple[str, bytes]:
    """File `i` of every data set (data sets are prefixes of one another)."""
    from pipeline.templates import unit_file_name

    unit = synthetic_unit(i)
    same = [b for b in _BASES if b.unit.type == unit.type]
    if i < BASE_FILES:
        base = _BASES[i]
        content = base.content
    else:
        base = same[_rng(unit.code, "base-pick").randrange(len(same))]
        content = b""
    problem = i % PROBLEM_EVERY == PROBLEM_EVERY // 2
    if problem or not content:
        content = derive(base, unit, synthetic_area(unit.area_code).name, i, problem)
    return unit_file_name(unit, YEAR), content


@dataclass
class DataSet:
    n: int
    folder: Path
    input_dir: Path
    registry_path: Path

    @property
    def files(self) -> list[Path]:
        return sorted(self.input_dir.iterdir())


def dataset(n: int, cache: Path, workers: int, log: Callable[[str], None]) -> DataSet:
    """The cached data set of `n` submissions (generated on first use)."""
    key = dataset_key()
    root = cache / key
    folder = root / f"n{n}"
    ds = DataSet(n, folder, folder / "input", folder / "registry" / "units.csv")
    if (folder / "done").exists():
        return ds
    bases = base_files(root, workers, log)
    shutil.rmtree(folder, ignore_errors=True)
    ds.input_dir.mkdir(parents=True)
    registry = synthetic_registry(n)
    write_registry(registry, ds.registry_path.parent)
    log(f"Tạo bộ dữ liệu {n} tệp trong {folder}...")
    started = time.perf_counter()
    # Derive in chunks so memory stays flat for large N.
    step = 1_000
    for lo in range(0, n, step):
        batch = list(range(lo, min(n, lo + step)))
        for name, content in _pool_map(_derive_one, batch, workers, _use_bases, (bases,)):
            (ds.input_dir / name).write_bytes(content)
    (folder / "done").write_text(f"{time.perf_counter() - started:.1f}\n")
    return ds


# --------------------------------------------------------------------------- measurements


def _memory_kb(pid: int) -> int:
    """A process's share of physical memory (PSS), else its resident size (RSS), in kB.

    Forked workers share the parent's pages until they write to them. Adding up resident
    sizes would count each shared page once per process; the proportional set size splits
    it among them, so the sum over a process tree is the memory the tree really holds.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_memory_kb(pid: int) -> int:
    """Physical memory of a process and all its descendants (Linux /proc), in kB."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += _memory_kb(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", "rb") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Timed:
    seconds: float
    peak_mb: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


def run_process(cmd: list[str], cwd: Path, *, memory: bool = False) -> Timed:
    """Run `cmd`; its wall time and, with `memory`, the peak memory of its process tree.

    The peak is sampled from /proc every 0.1 s (and floored by ru_maxrss). Sampling takes
    CPU from the run it watches on a two-core machine, so timed runs do not sample: memory
    is measured in a run of its own.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            if os.path.isdir("/proc"):
                peak = max(peak, _tree_memory_kb(proc.pid))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    if memory:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    if not memory:
        return Timed(seconds, 0.0, {"stdout": out.decode()})
    # ru_maxrss of children is the largest single descendant: a floor for the tree's peak.
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_kb = max(peak, largest if largest > before else 0)
    return Timed(seconds, peak_kb / 1024, {"stdout": out.decode()})


def time_consolidate(
    ds: DataSet, out_dir: Path, workers: int | None, *, memory: bool = False
) -> Timed:
    cmd = [sys.executable, "-m", "pipeline", "consolidate", "--year", str(YEAR)]
    cmd += ["--input", str(ds.input_dir), "--output", str(out_dir), "-q"]
    cmd += ["--registry", str(ds.registry_path)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return run_process(cmd, ROOT, memory=memory)


def time_templates(ds: DataSet, out_dir: Path) -> Timed:
    cmd = [sys.executable, "-m", "pipeline", "templates", "--per-unit", "--year", str(YEAR)]
    cmd += ["--registry", str(ds.registry_path), "--output", str(out_dir)]
    return run_process(cmd, ROOT)


def time_read(ds: DataSet, workers: int | None) -> float:
    from pipeline.collect import read_all

    schemas = load_schemas(DEFAULT_SCHEMA_DIR)
    started = time.perf_counter()
    raws = read_all(ds.input_dir, schemas, workers)
    seconds = time.perf_counter() - started
    bad = [r.file.path for r in raws if r.rejected]
    if bad:
        raise RuntimeError(f"{len(bad)} generated files rejected, e.g. {bad[:3]}")
    return seconds


def time_pandas(files: Iterable[Path]) -> float:
    import pandas as pd

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            pd.read_excel(path, sheet_name=None)
    return time.perf_counter() - started


def time_calamine(files: Iterable[Path]) -> float:
    import python_calamine as pc

    started = time.perf_counter()
    for path in files:
        wb = pc.CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
    return time.perf_counter() - started


@dataclass
class Row:
    n: int
    consolidate: float
    peak_mb: float
    read: float
    read_1: float
    pandas: float
    pandas_estimated: bool
    calamine: float
    templates: float | None
    statuses: dict[str, int]
    feedback_files: int
    load: tuple[float, float] = (0.0, 0.0)
    """1-minute load average before and after this size was measured (other work running)."""

    @property
    def a_over_c(self) -> float:
        return self.consolidate / self.pandas

    @property
    def b_over_d(self) -> float:
        return self.read / self.calamine

    @property
    def per_file_ms(self) -> float:
        return self.consolidate / self.n * 1000


def _statuses(out_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    path = out_dir / str(YEAR) / "submissions.csv"
    with path.open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def best_of(run: Callable[[], Timed], budget: float = REPEAT_BUDGET_S) -> Timed:
    """The fastest of up to REPEATS runs, repeating only while the runs are cheap.

    Other work on a shared machine only ever slows a run down, so the minimum is the least
    noisy estimate.
    """
    runs = [run()]
    while len(runs) < REPEATS and sum(r.seconds for r in runs) < budget:
        runs.append(run())
    best = min(runs, key=lambda r: r.seconds)
    return Timed(best.seconds, 0.0, best.detail | {"runs": len(runs)})


def measure(
    ds: DataSet,
    workers: int | None,
    pandas_per_file: float | None,
    baseline_limit: float,
    log: Callable[[str], None],
) -> Row:
    files = ds.files
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="xhht-bench-") as tmp:
        out = Path(tmp) / "out"

        def consolidate(memory: bool = False) -> Timed:
            shutil.rmtree(out, ignore_errors=True)
            return time_consolidate(ds, out, workers, memory=memory)

        def templates() -> Timed:
            shutil.rmtree(Path(tmp) / "templates", ignore_errors=True)
            return time_templates(ds, Path(tmp) / "templates")

        log(f"[N={ds.n}] (a) consolidate...")
        a = best_of(consolidate)
        log(f"[N={ds.n}] (a) bộ nhớ...")
        peak_mb = consolidate(memory=True).peak_mb
        statuses = _statuses(out)
        feedback = sum(1 for p in (out / str(YEAR) / "feedback").rglob("*.xlsx"))
        log(f"[N={ds.n}] templates --per-unit...")
        t = best_of(templates)
    log(f"[N={ds.n}] (b) đọc...")
    b = best_of(lambda: Timed(time_read(ds, workers)))
    b1 = best_of(lambda: Timed(time_read(ds, 1)))
    log(f"[N={ds.n}] (d) calamine...")
    d = best_of(lambda: Timed(time_calamine(files)))
    estimate = pandas_per_file * ds.n if pandas_per_file is not None else 0.0
    if pandas_per_file is not None and estimate > baseline_limit:
        c, estimated = estimate, True
    else:
        log(f"[N={ds.n}] (c) pandas.read_excel...")
        c, estimated = best_of(lambda: Timed(time_pandas(files))).seconds, False
    return Row(
        n=ds.n,
        consolidate=a.seconds,
        peak_mb=peak_mb,
        read=b.seconds,
        read_1=b1.seconds,
        pandas=c,
        pandas_estimated=estimated,
        calamine=d.seconds,
        templates=t.seconds,
        statuses=statuses,
        feedback_files=feedback,
        load=(load_before, _load()),
    )


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


# --------------------------------------------------------------------------- report


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", RAM {int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return (
        f"Đo ngày {dt.date.today():%d/%m/%Y} trên máy {os.cpu_count()} nhân ({cpu}){ram}, "
        f"Python {platform.python_version()}, {platform.system()}."
    )


def _s(seconds: float) -> str:
    return f"{seconds:,.1f}".replace(",", "\0").replace(".", ",").replace("\0", ".") + " s"


def _x(ratio: float, decimals: int = 2) -> str:
    return f"{ratio:.{decimals}f}".replace(".", ",")


def _n(count: int) -> str:
    return f"{count:,}".replace(",", ".")


def render(rows: list[Row], workers: int | None) -> str:
    w = workers if workers is not None else min(os.cpu_count() or 1, 8)
    lines = [
        "| số tệp N | (a) consolidate đầu-cuối | (b) chỉ đọc | (b₁) đọc, 1 tiến trình "
        "| (c) pandas.read_excel | (d) calamine (sàn) | a/c | b/d | bộ nhớ đỉnh "
        "| thời gian/tệp | templates --per-unit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = _s(r.pandas) + (" (ước lượng)" if r.pandas_estimated else "")
        lines.append(
            f"| {_n(r.n)} | {_s(r.consolidate)} | {_s(r.read)} | {_s(r.read_1)} | {c} "
            f"| {_s(r.calamine)} | {_x(r.a_over_c)} | {_x(r.b_over_d)} "
            f"| {_n(round(r.peak_mb))} MB | {_x(r.per_file_ms, 1)} ms "
            f"| {_s(r.templates) if r.templates is not None else '-'} |"
        )
    lines.append("")
    lines.append(
        f"(a) `python -m pipeline consolidate` trong tiến trình mới (gồm khởi động, mọi tệp "
        f"kết quả), {w} tiến trình đọc và ghi; bộ nhớ đỉnh là tổng bộ nhớ thực (PSS: trang "
        "dùng chung giữa tiến trình cha và các tiến trình con chỉ tính một lần) của tiến trình "
        "đó và các tiến trình con, đo trong một lần chạy riêng (việc lấy mẫu bộ nhớ cũng tốn "
        "CPU nên không làm trong các lần đo thời gian). (b) `read_all` với cùng số tiến "
        "trình; (b₁) một tiến trình. "
        "(c) `pandas.read_excel(tệp, sheet_name=None)`, engine mặc định, đọc tuần tự. "
        "(d) python-calamine đọc mọi trang của mọi tệp, tuần tự, không làm gì khác. "
        + (
            "“ước lượng”: ngoại suy từ thời gian mỗi tệp đo ở N nhỏ hơn vì đo thật quá lâu. "
            if any(r.pandas_estimated for r in rows)
            else ""
        )
        + f"Mỗi số là lần nhanh nhất trong tối đa {REPEATS} lần đo (chỉ đo lại khi các lần đo "
        f"cộng lại dưới {REPEAT_BUDGET_S:.0f} s): máy dùng chung, việc khác chỉ làm chậm đi."
    )
    lines.append("")
    for r in rows:
        st = ", ".join(f"{k} {v}" for k, v in sorted(r.statuses.items()))
        lines.append(
            f"- N = {_n(r.n)}: {st} (cứ {PROBLEM_EVERY} tệp có một tệp mắc lỗi cố ý); "
            f"{r.feedback_files} bảng tính phản hồi; tải máy (load "
            f"average 1 phút) {_x(r.load[0])} trước khi đo, {_x(r.load[1])} sau."
        )
    lines.append("")
    lines.extend(targets(rows))
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[str]:
    by_n = {r.n: r for r in rows}
    out = ["Mục tiêu:", ""]

    def mark(ok: bool) -> str:
        return "đạt" if ok else "**chưa đạt**"

    for r in rows:
        out.append(
            f"- đọc ≤ 2× sàn calamine, N = {_n(r.n)}: b/d = {_x(r.b_over_d)} — "
            f"{mark(r.b_over_d <= 2)} (một tiến trình đọc: b₁/d = "
            f"{_x(r.read_1 / r.calamine)})"
        )
    if 1_000 in by_n:
        r = by_n[1_000]
        speedup = r.pandas / r.consolidate
        out.append(
            f"- đầu-cuối nhanh ≥ 10× pandas ở N = 1.000: {_x(speedup)}× — {mark(speedup >= 10)}"
        )
        if r.templates is not None:
            out.append(
                f"- `templates --per-unit` 1.000 đơn vị < 30 s: {_s(r.templates)} — "
                f"{mark(r.templates < 30)}"
            )
    if 10_000 in by_n:
        r = by_n[10_000]
        out.append(
            f"- 10.000 tệp đầu-cuối < 60 s: {_s(r.consolidate)} — {mark(r.consolidate < 60)}"
        )
        out.append(
            f"- bộ nhớ đỉnh < 2 GB ở 10.000 tệp: {_n(round(r.peak_mb))} MB — "
            f"{mark(r.peak_mb < 2048)}"
        )
        if 1_000 in by_n:
            ratio = r.consolidate / by_n[1_000].consolidate
            out.append(
                f"- thời gian/tệp không tăng (10.000 tệp ≤ 11× 1.000 tệp): {_x(ratio)}× — "
                f"{mark(ratio <= 11)}"
            )
    return out


README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def update_readme(readme: Path, body: str) -> None:
    """Replace the generated part of the "Tốc độ" section; nothing else is touched."""
    text = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{body.rstrip()}\n{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        m = re.search(r"^## Tốc độ\n(.*?)(?=^## |^---$|\Z)", text, re.S | re.M)
        if m is None:
            raise click.ClickException("README không có mục “## Tốc độ”.")
        text = text[: m.start(1)] + "\n" + block + "\n\n" + text[m.end(1) :]
    readme.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- CLI


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(x.replace("_", "").replace(".", "")) for x in value.split(",") if x.strip()]
    except ValueError as exc:
        raise click.BadParameter("ví dụ: 300,1000,10000") from exc
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("ví dụ: 300,1000,10000")
    return sorted(set(sizes))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--sizes",
    default=",".join(map(str, DEFAULT_SIZES)),
    show_default=True,
    help="Các số tệp cần đo, ngăn bằng dấu phẩy.",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / ".bench-cache",
    show_default=True,
    help="Thư mục lưu bộ dữ liệu sinh ra (dùng lại giữa các lần chạy).",
)
@click.option("--workers", type=int, default=None, help="Số tiến trình đọc (mặc định: số nhân).")
@click.option(
    "--output",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=ROOT / "output" / "bench" / "bench.md",
    show_default=True,
    help="Tệp ghi bảng kết quả.",
)
@click.option(
    "--readme",
    type=click.Path(path_type=Path, dir_okay=False),
    default=ROOT / "README.md",
    show_default=True,
    help="README cần cập nhật mục “Tốc độ”.",
)
@click.option("--no-readme", is_flag=True, help="Không sửa README.")
@click.option(
    "--baseline-limit",
    type=float,
    default=BASELINE_LIMIT_S,
    show_default=True,
    help="Giây: nếu ước tính baseline pandas lâu hơn thì ngoại suy thay vì đo.",
)
@click.option("--generate-only", is_flag=True, help="Chỉ tạo bộ dữ liệu, không đo.")
@click.option(
    "--render",
    "render_from",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Không đo: lập lại bảng từ bench.json của một lần đo trước.",
)
def main(
    sizes: str,
    cache: Path,
    workers: int | None,
    out_file: Path,
    readme: Path,
    no_readme: bool,
    baseline_limit: float,
    generate_only: bool,
    render_from: Path | None,
) -> None:
    """Đo tốc độ tổng hợp với 300, 1.000, 10.000 tệp so với pandas.read_excel và calamine."""
    if render_from is not None:
        saved = json.loads(render_from.read_text(encoding="utf-8"))
        again = [Row(**{**r, "load": tuple(r.get("load", (0.0, 0.0)))}) for r in saved["rows"]]
        _publish(again, saved["workers"], saved["machine"], out_file, None if no_readme else readme)
        return
    ns = _sizes(sizes)
    gen_workers = workers if workers is not None else (os.cpu_count() or 1)

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    sets = [dataset(n, cache, gen_workers, log) for n in ns]
    if generate_only:
        for ds in sets:
            click.echo(f"{ds.n} tệp: {ds.input_dir}")
        return
    rows: list[Row] = []
    pandas_per_file: float | None = None
    for ds in sets:
        row = measure(ds, workers, pandas_per_file, baseline_limit, log)
        if not row.pandas_estimated:
            pandas_per_file = row.pandas / row.n
        rows.append(row)
        click.echo(
            f"N={row.n}: a={row.consolidate:.1f}s b={row.read:.1f}s c={row.pandas:.1f}s "
            f"d={row.calamine:.1f}s a/c={row.a_over_c:.3f} b/d={row.b_over_d:.2f} "
            f"peak={row.peak_mb:.0f}MB {row.per_file_ms:.1f}ms/file",
            err=True,
        )
    update = not no_readme and set(DEFAULT_SIZES) <= set(ns)
    _publish(rows, workers, machine_line(), out_file, readme if update else None)


def _publish(
    rows: list[Row], workers: int | None, machine: str, out_file: Path, readme: Path | None
) -> None:
    """Print the table; write bench.md and bench.json; update the README's section."""
    body = render(rows, workers) + "\n\n" + machine + "\n"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text("# Đo tốc độ (`make bench`)\n\n" + body, encoding="utf-8")
    saved = {"workers": workers, "machine": machine, "rows": [r.__dict__ for r in rows]}
    out_file.with_suffix(".json").write_text(
        json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    click.echo(body)
    if readme is not None:
        update_readme(readme, body)
        click.echo(f"Đã cập nhật mục “Tốc độ” trong {readme}.", err=True)


if __name__ == "__main__":
    main()
