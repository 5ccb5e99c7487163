"""Hostile and broken inputs: nothing crashes, nothing is lost, nothing gets in.

The corpus (tests/hostile_corpus.py) is generated here, never downloaded. Each kind of
file is checked on its own (status and reason code in submissions.csv), then all of them
together go through ``consolidate`` as a user runs it: exit code 0, every file listed once,
counts that add up, good files consolidated, inputs untouched, and no sender's formula in
any output. A hypothesis test mutates a valid filled template at random.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import os
import re
import stat
import sys
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.export as export
import pipeline.read as read_mod
from pipeline.cli import main
from pipeline.collect import read_all
from pipeline.export import FORMULA_PREFIXES, write_bytes, write_tables
from pipeline.feedback import write_feedback_all
from pipeline.issues import CATALOGUE
from pipeline.read import display_name, scan_inputs
from pipeline.registry import Registry
from pipeline.run import STATUSES, consolidate
from pipeline.schema import Schemas
from pipeline.settings import Settings
from pipeline.templates import template_bytes
from tests.hostile_corpus import CASES, MARKERS, PAYLOADS, Context, build_all

try:
    import pipeline.report  # noqa: F401

    HAVE_REPORT = True
except ImportError:  # the report module is another engineer's, maybe not there yet
    HAVE_REPORT = False

YEAR = "2026"
VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .,]*%?")
# Functions the report's own formulas may use: aggregation and arithmetic, nothing that
# reaches outside the workbook.
REPORT_FUNCTIONS = {
    "SUM", "IFERROR", "IF", "COUNTIF", "COUNTIFS", "SUMIF", "SUMIFS", "AND", "OR", "NOT",
    "ROUND", "MIN", "MAX", "AVERAGE", "SUBTOTAL", "COUNT", "COUNTA", "ISNUMBER", "ISBLANK",
    "ABS", "LEN", "TEXT", "ROUNDDOWN", "ROWS",
}  # fmt: skip


@pytest.fixture
def ctx(tmp_path: Path, schemas: Schemas, registry: Registry, settings: Settings) -> Context:
    return Context(schemas, registry, settings, outside=tmp_path / "ngoai")


@pytest.fixture
def lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Make files unreadable as another program's lock would.

    chmod 000 does it for a normal user; root reads through permissions, so there the
    reader's first open is patched to fail as Windows fails on a file Excel holds open.
    """
    changed: list[Path] = []

    def apply(paths: list[Path]) -> None:
        if not paths:
            return
        if os.geteuid() != 0:
            for p in paths:
                p.chmod(0)
                changed.append(p)
            return
        blocked = {os.fspath(p) for p in paths}
        original = read_mod._hash_and_head

        def refuse(path: Path) -> tuple[str, bytes]:
            if os.fspath(path) in blocked:
                raise PermissionError(13, "The process cannot access the file", os.fspath(path))
            return original(path)

        monkeypatch.setattr(read_mod, "_hash_and_head", refuse)

    yield apply
    for p in changed:
        p.chmod(stat.S_IRUSR | stat.S_IWUSR)


def _run(folder: Path, schemas: Schemas, registry: Registry, settings: Settings) -> Any:
    return consolidate(read_all(folder, schemas, workers=1), 2026, schemas, registry, settings)


def _outcome(result: Any) -> dict[str, tuple[str, str]]:
    return {
        str(r.file): (str(r.status), str(r.reason_code))
        for r in result.submissions.itertuples(index=False)
    }


# ---------------------------------------------------------------------------------------------
# One kind at a time


@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_has_its_status_and_reason(
    kind: str,
    tmp_path: Path,
    ctx: Context,
    lock: Any,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
) -> None:
    folder = tmp_path / "vao"
    folder.mkdir()
    expected = CASES[kind](folder, ctx)
    lock(ctx.locked)
    result = _run(folder, schemas, registry, settings)
    assert _outcome(result) == expected
    for row in result.submissions.itertuples(index=False):
        reason = str(row.reason)
        # A sentence a department user can act on, in Vietnamese, normalised.
        assert len(reason) > 5 and VIETNAMESE.search(reason), reason
        assert unicodedata.is_normalized("NFC", reason)
        assert row.reason_code == "" or row.reason_code in CATALOGUE


def test_rows_inserted_in_a_table_are_read(
    tmp_path: Path, ctx: Context, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    folder = tmp_path / "vao"
    folder.mkdir()
    CASES["row-inserted"](folder, ctx)
    result = _run(folder, schemas, registry, settings)
    titles = result.data.lists["initiatives"]["title"].tolist()
    assert titles == ["Sáng kiến chèn giữa bảng", "Câu lạc bộ đọc sách"]


def test_renamed_reordered_and_blank_padded_sheets_keep_every_value(
    tmp_path: Path, ctx: Context, schemas: Schemas, registry: Registry, settings: Settings
) -> None:
    folder = tmp_path / "vao"
    folder.mkdir()
    for kind in ("sheets-renamed", "sheets-reordered", "blank-rows", "blank-columns"):
        CASES[kind](folder, ctx)
    result = _run(folder, schemas, registry, settings)
    assert set(result.submissions["status"]) == {"accepted"}
    scalars = result.data.scalars
    assert scalars["campaign_events"].tolist() == [6] * 4
    assert scalars["reporter_name"].tolist() == ["Nguyễn Thị Lan"] * 4
    assert len(result.data.lists["people"]) == 4 * 4


def test_names_that_collide_after_normalisation_keep_one_line_each(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "Báo cáo.xlsx")
    nfd = unicodedata.normalize("NFD", "Báo cáo.xlsx")
    (tmp_path / nfc).write_bytes(b"a")
    (tmp_path / nfd).write_bytes(b"b")
    names = [e.name for e in scan_inputs(tmp_path)]
    assert sorted(names) == sorted([nfc, f"{nfc} (2)"])
    assert display_name("a\nb\udcff.xlsx") == "a\\x0ab\\xff.xlsx"


def test_empty_input_folder(tmp_path: Path) -> None:
    folder = tmp_path / "vao"
    folder.mkdir()
    out = tmp_path / "ra"
    command = "consolidate" if HAVE_REPORT else "validate"
    args = ["--input", str(folder)] if HAVE_REPORT else [str(folder)]
    res = CliRunner().invoke(main, [command, *args, "--output", str(out), "--year", YEAR, "-q"])
    assert res.exit_code == 0, res.output
    assert "đọc 0 tệp" in res.output
    rows = _csv(out / YEAR / "submissions.csv")
    assert rows[0][:4] == ["file", "unit_code", "status", "reason"] and len(rows) == 1


def test_libreoffice_conversion_is_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schemas: Schemas
) -> None:
    """A converter that hangs is killed, children and all, and the file is rejected."""
    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "soffice"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setattr(read_mod.shutil, "which", lambda name: str(fake))
    monkeypatch.setattr(read_mod, "CONVERT_TIMEOUT_S", 1)
    ods = tmp_path / "bao-cao.ods"
    ods.write_bytes(b"PK\x03\x04 not really an ods")
    sub = read_mod.read_submission(ods, tmp_path, schemas.report)
    assert sub.rejected and sub.issues[-1].code == "file-unreadable"
    assert "quá 1 giây" in sub.issues[-1].message
    child = int(pid_file.read_text())
    assert not _running(child)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may wait a while for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


# ---------------------------------------------------------------------------------------------
# Every kind in one folder, through the command a user runs


def _snapshot(folder: Path) -> dict[str, tuple[Any, ...]]:
    """What is in the input folder, to the byte, without following links."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[path] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode) and os.access(path, os.R_OK):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[path] = ("file", digest, st.st_mtime_ns, st.st_mode)
            else:
                out[path] = ("other", stat.S_IFMT(st.st_mode), st.st_mtime_ns, st.st_mode)
    return out


def _csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


_FORMULA = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*)?>(.*?)</(?:\w+:)?f>", re.S)
_DEFINED = re.compile(rb"<definedName\b[^>]*>(.*?)</definedName>", re.S)
_PLAIN_REF = re.compile(
    r"^(?:'(?:[^']|'')+'|[^'!\[\]|(),=\"]+)!"
    r"(?:\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?|\$?\d+:\$?\d+|\$?[A-Z]{1,3}:\$?[A-Z]{1,3})$"
)


def foreign_formulas(out_dir: Path) -> list[str]:
    """Everything in the outputs that could run as a formula but was not written by us.

    CSV: a cell starting with = + - @, tab or CR must carry the apostrophe (or be a plain
    number). Feedback workbooks: no cell formula at all (the templates have none), only
    plain references as defined names, no external links, DDE links or macros. The report:
    its own formulas only, i.e. aggregation functions over cells, none of the payloads.
    """
    found: list[str] = []
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir).as_posix()
        if path.suffix == ".csv":
            for row in _csv(path):
                for cell in row:
                    if cell.startswith(FORMULA_PREFIXES) and not PLAIN_NUMBER.fullmatch(cell):
                        found.append(f"{rel}: {cell!r}")
        if path.suffix == ".docx":
            # Word runs field codes (DDEAUTO, HYPERLINK): sender text must not become one.
            for part, body in _parts(path).items():
                for code in re.findall(
                    rb'<w:instrText[^>]*>(.*?)</w:instrText>|w:instr="([^"]*)"', body
                ):
                    text = html.unescape(b"".join(code).decode())
                    if "DDE" in text.upper() or any(m.lower() in text.lower() for m in MARKERS):
                        found.append(f"{rel}: field {text!r} in {part}")
        if path.suffix not in (".xlsx", ".xlsm"):
            continue
        report = not rel.startswith("feedback/")
        for part, body in _parts(path).items():
            if part.startswith("xl/externalLinks/") or part.endswith("vbaProject.bin"):
                found.append(f"{rel}: part {part}")
            if b"ddeLink" in body:
                found.append(f"{rel}: DDE link in {part}")
            for ref in _DEFINED.findall(body):
                text = html.unescape(ref.decode())
                if not _PLAIN_REF.match(text):
                    found.append(f"{rel}: defined name {text!r}")
            for formula in _FORMULA.findall(body):
                text = html.unescape(formula.decode())
                if not report:
                    found.append(f"{rel}: formula {text!r} in {part}")
                    continue
                functions = set(re.findall(r"([A-Z][A-Z0-9.]*)\(", text))
                if (
                    functions - REPORT_FUNCTIONS
                    or "|" in text
                    or "[" in text
                    or any(m.lower() in text.lower() for m in MARKERS)
                ):
                    found.append(f"{rel}: formula {text!r} in {part}")
    return found


def _texts(path: Path) -> str:
    """All the text of a workbook's shared strings and inline strings, unescaped."""
    parts = _parts(path)
    chunks = [
        body
        for name, body in parts.items()
        if name.endswith("sharedStrings.xml") or "sheet" in name
    ]
    text = b"".join(chunks).decode()
    text = re.sub(
        r"_x000([DdAa9])_", lambda m: {"d": "\r", "a": "\n", "9": "\t"}[m.group(1).lower()], text
    )
    return html.unescape(text)


def test_the_scan_finds_foreign_formulas(tmp_path: Path) -> None:
    """The scan is not vacuous: it flags what it exists to flag."""
    (tmp_path / "a.csv").write_text("file,value\nx.xlsx,=1+1\ny.xlsx,-4\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = '=HYPERLINK("http://x","bấm vào đây")'
    (tmp_path / "feedback").mkdir()
    wb.save(tmp_path / "feedback" / "b.xlsx")
    wb.save(tmp_path / "report.xlsx")
    formula = 'formula \'HYPERLINK("http://x","bấm vào đây")\' in xl/worksheets/sheet1.xml'
    assert foreign_formulas(tmp_path) == [
        "a.csv: '=1+1'",
        f"feedback/b.xlsx: {formula}",
        f"report.xlsx: {formula}",
    ]


def test_whole_folder_through_consolidate(
    tmp_path: Path,
    ctx: Context,
    lock: Any,
    schemas: Schemas,
) -> None:
    folder = tmp_path / "vao"
    expected = build_all(folder, ctx)
    lock(ctx.locked)
    before = _snapshot(folder)
    out = tmp_path / "ra"
    command = "consolidate" if HAVE_REPORT else "validate"
    args = ["--input", str(folder)] if HAVE_REPORT else [str(folder)]
    res = CliRunner().invoke(
        main, [command, *args, "--output", str(out), "--year", YEAR, "-q", "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    out_dir = out / YEAR

    # Inputs are never modified.
    assert _snapshot(folder) == before

    # Accounting: every file exactly once, with the expected status and reason.
    rows = _csv(out_dir / "submissions.csv")
    header, body = rows[0], rows[1:]
    records = [dict(zip(header, r, strict=True)) for r in body]
    names = [r["file"].removeprefix("'") for r in records]
    assert Counter(names).most_common(1)[0][1] == 1
    got = {n: (r["status"], r["reason_code"]) for n, r in zip(names, records, strict=True)}
    assert got == expected
    assert all(r["reason"] for r in records)
    counts = Counter(r["status"] for r in records)
    assert set(counts) <= set(STATUSES)
    m = re.search(
        r"đọc (\d+) tệp — hợp lệ (\d+), có lỗi/cảnh báo (\d+), bị từ chối (\d+), "
        r"bị thay thế (\d+)",
        res.output,
    )
    assert m, res.output
    read, accepted, warned, rejected, superseded = map(int, m.groups())
    assert read == len(expected) == accepted + warned + rejected + superseded
    assert (accepted, warned, rejected, superseded) == tuple(counts[s] for s in STATUSES)

    # The good files are consolidated: each clean unit's figures are in values.csv.
    values = _csv(out_dir / "data" / "values.csv")
    events = {r[1]: r[3] for r in values[1:] if r[2] == "campaign_events"}
    good = [r["unit_code"] for r in records if r["status"] == "accepted"]
    assert len(good) >= 12 and all(events[u] == "6" for u in good)
    initiatives = _csv(out_dir / "data" / "initiatives.csv")
    assert any("Sáng kiến chèn giữa bảng" in r for r in initiatives)

    # No sender's formula anywhere; the payloads are there, as text.
    assert foreign_formulas(out_dir) == []
    flat = "\n".join(",".join(r) for r in values)
    assert "'" + PAYLOADS[0] in flat and "'" + PAYLOADS[1] in flat
    feedback = [p for p in (out_dir / "feedback").rglob("*.xlsx")]
    injected = [p for p in feedback if p.name.startswith("=cmd")]
    assert len(injected) == 1, feedback
    assert PAYLOADS[0] in _texts(injected[0]) and PAYLOADS[1] in _texts(injected[0])
    assert not any(p.suffix == ".xlsm" for p in (out_dir / "feedback").rglob("*"))
    if HAVE_REPORT:
        reports = list(out_dir.glob("*.xlsx"))
        assert len(reports) == 1
        assert any(p in _texts(reports[0]) for p in PAYLOADS)


# ---------------------------------------------------------------------------------------------
# Atomic outputs


def test_interrupted_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bao-cao.xlsx"
    write_bytes(target, b"ban tot")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(export.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes(target, b"ban moi" * 1000)
    assert target.read_bytes() == b"ban tot"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


# A result held open by Excel, Ctrl-C and the other failures of a whole run: tests/test_publish.py.


# ---------------------------------------------------------------------------------------------
# Fuzz: a valid filled template, mutated at random


_BASE: dict[str, bytes] = {}


def _base(ctx: Context) -> bytes:
    if "base" not in _BASE:
        _BASE["base"] = ctx.good("THPT-Q01-01")[1]
    return _BASE["base"]


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFF), max_size=40
)
_VALUES = st.one_of(
    _TEXT,
    st.sampled_from(PAYLOADS),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.none(),
    st.dates(),
)
_SHEETS = ("Hướng dẫn", "Thông tin chung", "Con người", "Sáng kiến", "Đề nghị khen thưởng",
           "_lists", "_meta")  # fmt: skip
_MUTATION = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 200), _VALUES),
    st.tuples(st.just("table"), st.integers(0, 2), st.integers(0, 30), _VALUES),
    st.tuples(st.just("delete"), st.sampled_from(_SHEETS)),
    st.tuples(
        st.just("rename"),
        st.sampled_from(_SHEETS),
        st.text(alphabet="abcĐđẫ _-()'0123456789", min_size=1, max_size=31),
    ),
)


def _mutate(data: bytes, mutations: list[tuple[Any, ...]], schemas: Schemas) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    codes = [f.code for f in schemas.report.fields]
    for m in mutations:
        kind = m[0]
        if kind == "value":
            dn = wb.defined_names.get(codes[m[1] % len(codes)])
            if dn is not None:
                for sheet, ref in dn.destinations:
                    if sheet in wb.sheetnames:
                        wb[sheet][ref.replace("$", "")].value = m[2]
        elif kind == "table":
            lst = schemas.report.lists[m[1]]
            for ws in wb.worksheets:
                if lst.code in ws.tables:
                    first = ws.tables[lst.code].ref.split(":")[0]
                    cell = ws[first].offset(row=1 + m[2] % 10, column=m[2] % len(lst.fields))
                    cell.value = m[3]
        elif kind == "delete" and m[1] in wb.sheetnames and len(wb.sheetnames) > 1:
            del wb[m[1]]
        elif kind == "rename" and m[1] in wb.sheetnames and m[2] not in wb.sheetnames:
            wb[m[1]].title = m[2]
    return template_bytes(wb)


@settings(
    # Bounded for the shared CI machine; HOSTILE_FUZZ_EXAMPLES=500 for a deeper search.
    max_examples=int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mutations=st.lists(_MUTATION, max_size=5),
    damage=st.one_of(
        st.none(),
        st.tuples(st.just("truncate"), st.floats(0, 1)),
        st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 64)),
    ),
)
def test_fuzzed_templates_never_crash_and_are_all_accounted_for(
    tmp_path_factory: pytest.TempPathFactory,
    ctx: Context,
    schemas: Schemas,
    registry: Registry,
    settings: Settings,
    mutations: list[tuple[Any, ...]],
    damage: tuple[Any, ...] | None,
) -> None:
    base = _base(ctx)
    try:
        data = _mutate(base, mutations, schemas)
    except (ValueError, KeyError, TypeError):
        # openpyxl refuses some of our mutations; those are not inputs anyone can send.
        data = base
    if damage is not None and damage[0] == "truncate":
        data = data[: int(len(data) * damage[1])]
    elif damage is not None:
        start = int((len(data) - 1) * damage[1])
        raw = bytearray(data)
        for k in range(start, min(len(raw), start + damage[2])):
            raw[k] ^= 0xA5
        data = bytes(raw)
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "bien-doi.xlsx").write_bytes(data)
    (folder / "goc.xlsx").write_bytes(base)
    result = _run(folder, schemas, registry, settings)
    subs = result.submissions
    assert sorted(subs["file"]) == ["bien-doi.xlsx", "goc.xlsx"]
    assert set(subs["status"]) <= set(STATUSES)
    assert all(isinstance(r, str) and r for r in subs["reason"])
    assert sum(result.counts().values()) == len(subs) == 2
    out = folder / "ra"
    write_tables(result, out)
    write_feedback_all(result, folder, out)
    assert foreign_formulas(out) == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
