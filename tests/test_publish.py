"""A run completes or leaves the last good results untouched (docs/dac-ta-ghi-ket-qua.md, 1).

The previous results in every test come from another set of inputs than the run that fails,
so a failed run that had rewritten even one file would show: each test hashes every file of
the result folder before and after. The real things are used where they can be: a tmpfs
too small for the run and a read-only mount (as root; skipped otherwise), a permission
refused (chmod; as root with the capability that overrides it dropped), a consolidate
process killed by its pid with SIGKILL, interrupted with SIGINT, two runs at once, a
process that dies between the two renames of the swap. Each then reruns and checks the
rerun recovers.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline.publish as publish
from pipeline.cli import main
from pipeline.errors import RegistryError, RunInProgressError, Stopped, StorageError
from pipeline.publish import MANIFEST_NAME, TOOL_NAME, publishing, recover

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "2026"
YEAR = "2026"
VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]")
INTACT = "vẫn nguyên vẹn, không bị thay đổi"
POLL = 0.005


# --------------------------------------------------------------------------- helpers


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under `folder`: relative path → SHA-256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _consistent(folder: Path, users: tuple[str, ...] = ()) -> dict[str, Any]:
    """The folder's manifest lists exactly its files (but the user's own); the manifest."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    listed = {o["file"]: o["sha256"] for o in manifest["outputs"]}
    on_disk = {k: v for k, v in _hashes(folder).items() if k not in (MANIFEST_NAME, *users)}
    assert listed == on_disk
    return manifest


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(f".{YEAR}.*") if not p.name.endswith(".lock"))


def _copy_inputs(target: Path, names: list[str]) -> Path:
    target.mkdir(parents=True)
    for name in names:
        shutil.copy2(SAMPLES / name, target / name)
    return target


@pytest.fixture(scope="module")
def sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.xlsx"))


@pytest.fixture(scope="module")
def old_inputs(tmp_path_factory: pytest.TempPathFactory, sample_names: list[str]) -> Path:
    return _copy_inputs(tmp_path_factory.mktemp("cu") / "vao", sample_names[:12])


@pytest.fixture(scope="module")
def new_inputs(tmp_path_factory: pytest.TempPathFactory, sample_names: list[str]) -> Path:
    """More files than the old run: every output of a run on them differs from the old."""
    return _copy_inputs(tmp_path_factory.mktemp("moi") / "vao", sample_names[:30])


def _consolidate_argv(inputs: Path, out: Path, workers: int = 1) -> list[str]:
    return [
        "consolidate",
        "--year",
        YEAR,
        "--input",
        str(inputs),
        "--output",
        str(out),
        "-q",
        "--workers",
        str(workers),
    ]


@pytest.fixture(scope="module")
def good(old_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output root of one successful run on the old inputs."""
    out = tmp_path_factory.mktemp("tot")
    res = CliRunner().invoke(main, _consolidate_argv(old_inputs, out))
    assert res.exit_code == 0, res.output
    assert any((out / YEAR / "feedback").iterdir()), "the old run should have feedback copies"
    return out


def _previous(good: Path, root: Path) -> dict[str, str]:
    """Put the good results in `root`/2026; their hashes."""
    shutil.copytree(good / YEAR, root / YEAR)
    return _hashes(root / YEAR)


def _child(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`python -m pipeline …` in its own session, as a user starts it from a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **kwargs,
    )


def _wait_for(proc: subprocess.Popen[bytes], pattern: str, limit: float = 120.0) -> None:
    """Poll until a path matching `pattern` exists; fail if the process ends first."""
    deadline = time.monotonic() + limit
    while not glob.glob(pattern):
        assert proc.poll() is None, "the run ended before the moment the test waits for"
        assert time.monotonic() < deadline, f"nothing matched {pattern}"
        time.sleep(POLL)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for `proc`; its exit code and everything it printed. No process of it remains."""
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, (out + err).decode("utf-8", "replace")


def _group_gone(pgid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _rerun_recovers(inputs: Path, root: Path) -> str:
    res = CliRunner().invoke(main, _consolidate_argv(inputs, root, workers=2))
    assert res.exit_code == 0, res.output
    assert _leftovers(root) == []
    manifest = _consistent(root / YEAR)
    assert len(manifest["inputs"]) == len(list(inputs.iterdir()))
    return res.output


def _says_intact(output: str) -> None:
    assert INTACT in output, output
    assert "Traceback" not in output, output
    assert VIETNAMESE.search(output)


# --------------------------------------------------------------------------- recovery


def _files(folder: Path, names: dict[str, str]) -> None:
    for rel, text in names.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")


def _manifest(outputs: list[str]) -> str:
    rows = [{"file": f, "sha256": "0" * 64, "size": 1} for f in outputs]
    return json.dumps({"tool": {"name": TOOL_NAME}, "outputs": rows})


@pytest.mark.parametrize(
    ("state", "expected", "note"),
    [
        # Only N: nothing to do.
        ({"2026/a.csv": "cu"}, {"2026/a.csv": "cu"}, None),
        # Killed between the renames: the last successful run's results come back.
        ({".2026.previous/a.csv": "cu"}, {"2026/a.csv": "cu"}, "đã khôi phục"),
        # Killed after the second rename: the new results stay, the swap is finished, a
        # file the user kept in the old folder is carried over, our old outputs are not.
        (
            {
                "2026/a.csv": "moi",
                ".2026.previous/a.csv": "cu",
                ".2026.previous/bao-cao.xlsx": "cu",
                ".2026.previous/manifest.json": _manifest(["a.csv", "bao-cao.xlsx"]),
                ".2026.previous/ghi-chu.txt": "của chuyên viên",
            },
            {"2026/a.csv": "moi", "2026/ghi-chu.txt": "của chuyên viên"},
            None,
        ),
        # A staging folder of a killed run: deleted.
        (
            {"2026/a.csv": "cu", ".2026.staging-0a1b2c3d/a.csv": "dở"},
            {"2026/a.csv": "cu"},
            "Đã xóa thư mục tạm",
        ),
    ],
    ids=["clean", "between-renames", "after-renames", "staging-left"],
)
def test_recovery(
    tmp_path: Path, state: dict[str, str], expected: dict[str, str], note: str | None
) -> None:
    _files(tmp_path, state)
    notes = recover(tmp_path, YEAR)
    got = {
        p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
    }
    assert got == expected
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and note in notes[0]


_DIE_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
import pipeline.publish as publish
real = os.rename
calls = []
def rename(src, dst):
    calls.append(src)
    if len(calls) == 2:
        os._exit(9)  # the process dies: no cleanup, no finally
    real(src, dst)
os.rename = rename
with publish.publishing(Path(sys.argv[1]), "2026") as pub:
    (pub.stage / "a.csv").write_text("moi", encoding="utf-8")
"""


def test_a_crash_between_the_renames_is_undone_by_the_next_run(tmp_path: Path) -> None:
    _files(tmp_path, {"2026/a.csv": "cu", "2026/manifest.json": _manifest(["a.csv"])})
    before = _hashes(tmp_path / YEAR)
    proc = subprocess.run(
        [sys.executable, "-c", _DIE_BETWEEN_RENAMES, str(tmp_path)], cwd=ROOT, check=False
    )
    assert proc.returncode == 9
    # What the dead process left: the old results aside, the new ones not in place.
    assert not (tmp_path / YEAR).exists() and (tmp_path / ".2026.previous").is_dir()
    with publishing(tmp_path, YEAR) as pub:
        assert "đã khôi phục kết quả của lần chạy thành công trước" in pub.notes[0]
        assert "Đã xóa thư mục tạm" in pub.notes[1]
        assert _hashes(tmp_path / YEAR) == before
        raise_later = pub.target
    assert raise_later == tmp_path / YEAR


def test_a_failure_inside_leaves_the_folder_untouched(tmp_path: Path) -> None:
    _files(tmp_path, {"2026/a.csv": "cu"})
    before = _hashes(tmp_path / YEAR)
    with pytest.raises(RegistryError) as caught, publishing(tmp_path, YEAR) as pub:
        (pub.stage / "a.csv").write_text("dở", encoding="utf-8")
        raise RegistryError("Danh mục đơn vị sai.")
    assert _hashes(tmp_path / YEAR) == before
    assert _leftovers(tmp_path) == []
    assert any(INTACT in n for n in caught.value.__notes__)


@pytest.mark.parametrize(
    ("signame", "raised"),
    [("SIGINT", KeyboardInterrupt), ("SIGTERM", Stopped)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_swallowed_inside_a_finaliser_still_publishes_nothing(
    tmp_path: Path, signame: str, raised: type[BaseException]
) -> None:
    """Python swallows what a signal handler raises while a finaliser runs ("Exception
    ignored in …"; seen with matplotlib's): before, the run went on and published as if
    Ctrl-C had not been pressed. The request is remembered and checked before the swap."""
    _files(tmp_path, {"2026/a.csv": "cu"})
    before = _hashes(tmp_path / YEAR)
    publish.clear_stop()
    try:
        with pytest.raises(raised) as caught, publishing(tmp_path, YEAR) as pub:
            (pub.stage / "a.csv").write_text("moi", encoding="utf-8")
            publish.request_stop(getattr(signal, signame))  # its exception never surfaced
    finally:
        publish.clear_stop()
    assert _hashes(tmp_path / YEAR) == before
    assert _leftovers(tmp_path) == []
    assert any(INTACT in n for n in caught.value.__notes__)


def test_a_storage_error_is_told_about_the_result_folder(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught, publishing(tmp_path, YEAR) as pub:
        raise StorageError(f"Không ghi được {pub.stage}/data/values.csv", errno.ENOSPC)
    message = str(caught.value)
    assert "đã hết chỗ trống" in message and str(tmp_path / YEAR) in message
    assert ".staging-" not in message
    assert caught.value.__notes__ == [f"Chưa có kết quả nào được ghi vào {tmp_path / YEAR}."]


def test_a_file_where_the_result_folder_goes_is_never_deleted(tmp_path: Path) -> None:
    """`--output D` with a file of the user's named D/2026: before, the run deleted it."""
    (tmp_path / YEAR).write_text("bản ghi chép của chuyên viên", encoding="utf-8")
    (tmp_path / "vao").mkdir()
    res = CliRunner().invoke(
        main,
        ["consolidate", "--year", YEAR, "--input", str(tmp_path / "vao"),
         "--output", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert f"Đã có một tệp (không phải thư mục) tên {tmp_path / YEAR}" in res.output
    assert "Traceback" not in res.output
    assert (tmp_path / YEAR).read_text(encoding="utf-8") == "bản ghi chép của chuyên viên"
    assert _leftovers(tmp_path) == []


def test_user_files_are_carried_over_and_stale_outputs_are_not(tmp_path: Path) -> None:
    _files(
        tmp_path,
        {
            "2026/bao-cao.xlsx": "cu",
            "2026/feedback/A.xlsx": "cu",
            "2026/submissions.csv": "cu",
            "2026/manifest.json": _manifest(["bao-cao.xlsx", "feedback/A.xlsx", "submissions.csv"]),
            "2026/ghi-chu.txt": "của chuyên viên",
            "2026/tu-lieu/anh.png": "của chuyên viên",
        },
    )
    with publishing(tmp_path, YEAR) as pub:
        _files(pub.stage, {"submissions.csv": "moi", "manifest.json": _manifest([])})
    assert pub.carried == ["ghi-chu.txt", "tu-lieu"]
    assert sorted(_hashes(tmp_path / YEAR)) == [
        "ghi-chu.txt",
        "manifest.json",
        "submissions.csv",
        "tu-lieu/anh.png",
    ]
    assert (tmp_path / YEAR / "submissions.csv").read_text(encoding="utf-8") == "moi"


# --------------------------------------------------------------------------- the lock


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    with (
        publishing(tmp_path, YEAR),
        pytest.raises(RunInProgressError) as caught,
        publishing(tmp_path, YEAR),
    ):
        pass  # pragma: no cover - never entered
    message = str(caught.value)
    assert f"tiến trình số {os.getpid()}" in message and "Đợi lần chạy đó xong" in message
    with publishing(tmp_path, YEAR):
        pass  # released on leaving


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork needed")
def test_a_forked_worker_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A worker left behind by its parent must not keep the next run out."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    with publishing(tmp_path, YEAR):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.write(ready_w, b"r")  # running: the fork hooks have run
            os.read(go_r, 1)  # alive until the test says
            os._exit(0)
        assert os.read(ready_r, 1) == b"r"
    try:
        # The parent let go; the child still runs, holding everything it inherited.
        with publishing(tmp_path, YEAR):
            pass
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)


def test_the_lock_without_fcntl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where fcntl does not exist (Windows) msvcrt.locking takes its place."""
    held: set[int] = set()

    def locking(fd: int, mode: int, nbytes: int) -> None:
        inode = os.fstat(fd).st_ino
        if inode in held:
            raise OSError(errno.EACCES, "Permission denied")
        held.add(inode)

    fake = types.SimpleNamespace(LK_NBLCK=2, locking=locking)
    monkeypatch.setattr(publish, "fcntl", None)
    monkeypatch.setattr(publish, "msvcrt", fake)
    with (
        publishing(tmp_path, YEAR),
        pytest.raises(RunInProgressError),
        publishing(tmp_path, YEAR),
    ):
        pass  # pragma: no cover - never entered
    assert held


LAST_YEAR = str(int(YEAR) - 1)


def _last_year_run(root: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["consolidate", "--year", LAST_YEAR, "--input", str(ROOT / "samples" / LAST_YEAR),
         "--output", str(root), "-q", "--workers", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output


def _year_before_shown(root: Path) -> bool:
    """Whether this year's report has its comparison with the year before (Biểu 13)."""
    import openpyxl

    book = root / YEAR / f"bao-cao-tong-hop-xhht-{YEAR}.xlsx"
    return "Biểu 13" in openpyxl.load_workbook(book, read_only=True).sheetnames


def test_last_year_left_aside_by_a_killed_swap_is_still_last_year(
    tmp_path: Path, new_inputs: Path
) -> None:
    """A run of last year killed between its two renames leaves its good results in
    .<year>.previous. Before, this year's run then found no year before: Biểu 13 and every
    year-over-year warning vanished without a word until last year was run again."""
    _last_year_run(tmp_path)
    os.rename(tmp_path / LAST_YEAR, tmp_path / f".{LAST_YEAR}.previous")
    res = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
    assert res.exit_code == 0, res.output
    assert _year_before_shown(tmp_path)
    assert (tmp_path / LAST_YEAR / "data" / "values.csv").is_file()
    assert not os.path.lexists(tmp_path / f".{LAST_YEAR}.previous")


def test_last_year_being_written_is_not_read_half_done(tmp_path: Path, new_inputs: Path) -> None:
    """While a run of last year holds its folder, this year's run refuses, changing nothing,
    rather than read a folder that may vanish or change halfway through."""
    _last_year_run(tmp_path)
    # Last year's run, holding its folder, then failing: its results stay as they were.
    with pytest.raises(RegistryError), publishing(tmp_path, LAST_YEAR):
        res = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
        raise RegistryError("lần chạy năm trước dừng")
    assert res.exit_code == 2, res.output
    assert f"Đang có một lần chạy khác ghi kết quả vào {tmp_path / LAST_YEAR}" in res.output
    assert "Traceback" not in res.output
    assert not os.path.lexists(tmp_path / YEAR)
    assert _leftovers(tmp_path) == []
    # Once it is done, the same run reads it.
    res = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
    assert res.exit_code == 0, res.output
    assert _year_before_shown(tmp_path)


def test_two_concurrent_runs(tmp_path: Path, good: Path, new_inputs: Path) -> None:
    before = _previous(good, tmp_path)
    first = _child(_consolidate_argv(new_inputs, tmp_path, workers=1))
    try:
        _wait_for(first, str(tmp_path / f".{YEAR}.staging-*"))
        second = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
        assert second.exit_code == 2
        assert "Đang có một lần chạy khác ghi kết quả vào" in second.output
        assert f"tiến trình số {first.pid}" in second.output
        assert _hashes(tmp_path / YEAR) == before
    finally:
        code, output = _finish(first)
    assert code == 0, output
    assert _leftovers(tmp_path) == []
    assert len(_consistent(tmp_path / YEAR)["inputs"]) == len(list(new_inputs.iterdir()))


# --------------------------------------------------------------------------- killed, Ctrl-C


def test_killed_run(tmp_path: Path, good: Path, new_inputs: Path) -> None:
    before = _previous(good, tmp_path)
    proc = _child(_consolidate_argv(new_inputs, tmp_path, workers=2))
    try:
        # Mid-write: the exports are in the staging folder, the workbook not yet.
        _wait_for(proc, str(tmp_path / f".{YEAR}.staging-*" / "data" / "values.csv"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        # The workers it leaves behind exit by themselves.
        assert _group_gone(proc.pid), "worker processes outlived their parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what outlived it would hold the pipes
        _finish(proc)
    assert _hashes(tmp_path / YEAR) == before
    assert len(_leftovers(tmp_path)) == 1  # the staging folder the killed run left
    output = _rerun_recovers(new_inputs, tmp_path)
    assert "Đã xóa thư mục tạm" in output and "lần chạy bị dừng giữa chừng" in output


@pytest.mark.parametrize(
    ("to_group", "workers"),
    [(True, 2), (False, 1)],
    ids=["terminal-ctrl-c-workers", "sigint-to-pid"],
)
def test_ctrl_c(tmp_path: Path, good: Path, new_inputs: Path, to_group: bool, workers: int) -> None:
    before = _previous(good, tmp_path)
    proc = _child(_consolidate_argv(new_inputs, tmp_path, workers=workers))
    try:
        _wait_for(proc, str(tmp_path / f".{YEAR}.staging-*" / "data" / "values.csv"))
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        else:
            os.kill(proc.pid, signal.SIGINT)
    finally:
        code, output = _finish(proc)
    assert code == 130, output
    assert "Đã dừng theo yêu cầu (Ctrl-C)." in output
    _says_intact(output)
    assert _hashes(tmp_path / YEAR) == before
    assert _leftovers(tmp_path) == []
    _rerun_recovers(new_inputs, tmp_path)


@pytest.mark.parametrize(
    ("signame", "says"),
    [
        ("SIGTERM", "Đã dừng vì hệ thống hoặc một chương trình khác yêu cầu dừng (SIGTERM)."),
        ("SIGHUP", "Đã dừng vì cửa sổ dòng lệnh hoặc phiên làm việc đã đóng (SIGHUP)."),
    ],
    ids=["sigterm", "sighup"],
)
def test_stop_signal(tmp_path: Path, good: Path, new_inputs: Path, signame: str, says: str) -> None:
    """`kill PID`, a shutdown or a closed terminal stop a run as Ctrl-C does.

    Before, Python died on them at once: no message, the staging folder left behind.
    """
    signum = getattr(signal, signame)
    before = _previous(good, tmp_path)
    proc = _child(_consolidate_argv(new_inputs, tmp_path, workers=2))
    try:
        _wait_for(proc, str(tmp_path / f".{YEAR}.staging-*" / "data" / "values.csv"))
        os.kill(proc.pid, signum)
    finally:
        code, output = _finish(proc)
    assert code == 128 + signum, output
    assert says in output
    assert "Traceback" not in output
    _says_intact(output)
    assert _hashes(tmp_path / YEAR) == before
    assert _leftovers(tmp_path) == []
    _rerun_recovers(new_inputs, tmp_path)


# --------------------------------------------------------------------------- storage refusals


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount(where: Path, mode: str, bind: bool = False) -> None:
    opts = f"remount,bind,{mode}" if bind else f"remount,{mode}"
    subprocess.run(["mount", "-o", opts, str(where)], check=True)


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_read_only_output(tmp_path: Path, good: Path, new_inputs: Path, kind: str) -> None:
    with _tmpfs(tmp_path / "o", "64m") as disk:
        root = disk / "ket-qua"
        before = _previous(good, root)
        if kind == "bind":
            view = tmp_path / "chi-doc"
            view.mkdir()
            subprocess.run(["mount", "--bind", str(root), str(view)], check=True)
            try:
                _remount(view, "ro", bind=True)
                _read_only_refused(new_inputs, view, before)
            finally:
                subprocess.run(["umount", "-l", str(view)], check=False)
        else:
            _remount(disk, "ro")
            _read_only_refused(new_inputs, root, before)
            _remount(disk, "rw")
        _rerun_recovers(new_inputs, root)


def _read_only_refused(inputs: Path, root: Path, before: dict[str, str]) -> None:
    res = CliRunner().invoke(main, _consolidate_argv(inputs, root))
    assert res.exit_code == 2, res.output
    assert "chỉ cho phép đọc (read-only)" in res.output and str(root) in res.output
    assert "--output" in res.output
    assert "lỗi hệ thống số" not in res.output
    _says_intact(res.output)
    assert _hashes(root / YEAR) == before


def test_disk_full(tmp_path: Path, good: Path, new_inputs: Path) -> None:
    with _tmpfs(tmp_path / "o", "32m") as disk:
        root = disk / "ket-qua"
        before = _previous(good, root)
        # Leave less room than the new results need, more than the run needs to start.
        stat = os.statvfs(disk)
        filler = disk / "day.bin"
        with filler.open("wb") as fh:
            fh.truncate(0)
            fh.write(b"\0" * (stat.f_bavail * stat.f_frsize - 256 * 1024))
        res = CliRunner().invoke(main, _consolidate_argv(new_inputs, root, workers=2))
        assert res.exit_code == 2, res.output
        assert f"Ổ đĩa chứa thư mục kết quả {root / YEAR} đã hết chỗ trống" in res.output
        _says_intact(res.output)
        assert _hashes(root / YEAR) == before
        assert _leftovers(root) == []
        filler.unlink()
        _rerun_recovers(new_inputs, root)


def test_no_permission(tmp_path: Path, good: Path, new_inputs: Path) -> None:
    before = _previous(good, tmp_path)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # Root writes through permissions: without the capability that lets it, it cannot.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, needs setpriv to drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    tmp_path.chmod(0o555)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "pipeline", *_consolidate_argv(new_inputs, tmp_path)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
    finally:
        tmp_path.chmod(0o755)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 2, output
    assert f"Không có quyền ghi vào thư mục kết quả {tmp_path}" in output
    _says_intact(output)
    assert _hashes(tmp_path / YEAR) == before
    _rerun_recovers(new_inputs, tmp_path)


def test_a_result_held_open_keeps_the_good_results(
    tmp_path: Path, good: Path, new_inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to rename a folder holding a file Excel has open; so does Ctrl-C."""
    before = _previous(good, tmp_path)
    target = os.fspath(tmp_path / YEAR)
    real = os.rename

    def held_open(src: Any, dst: Any) -> None:
        if os.fspath(src) == target:
            raise PermissionError(13, "The process cannot access the file", target)
        real(src, dst)

    monkeypatch.setattr(publish.os, "rename", held_open)
    res = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
    assert res.exit_code == 2, res.output
    assert "đang được mở bởi chương trình khác (Excel, Word?)" in res.output
    _says_intact(res.output)
    assert _hashes(tmp_path / YEAR) == before and _leftovers(tmp_path) == []

    interrupted: list[str] = []

    def ctrl_c(src: Any, dst: Any) -> None:
        # Once, at the second rename (the new results into place); the old come back.
        if os.fspath(dst) == target and not interrupted:
            interrupted.append(os.fspath(src))
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(publish.os, "rename", ctrl_c)
    res = CliRunner().invoke(main, _consolidate_argv(new_inputs, tmp_path))
    assert ".staging-" in interrupted[0]
    assert res.exit_code == 130, res.output
    assert "Đã dừng theo yêu cầu (Ctrl-C)." in res.output
    _says_intact(res.output)
    assert _hashes(tmp_path / YEAR) == before and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- what is written


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_follow_the_umask(tmp_path: Path, old_inputs: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        res = CliRunner().invoke(main, _consolidate_argv(old_inputs, tmp_path, workers=2))
    finally:
        os.umask(previous)
    assert res.exit_code == 0, res.output
    modes = {
        p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
        for p in [tmp_path / YEAR, *sorted(tmp_path.rglob("*"))]
    }
    files = {k for k in modes if (tmp_path / k).is_file()}
    assert any(k.startswith(f"{YEAR}/feedback/") for k in files)
    assert {k: m for k, m in modes.items() if k in files and m != 0o666 & ~umask} == {}
    assert {k: m for k, m in modes.items() if k not in files and m != 0o777 & ~umask} == {}


def test_validate_replaces_the_whole_set(tmp_path: Path, good: Path, new_inputs: Path) -> None:
    _previous(good, tmp_path)
    (tmp_path / YEAR / "ghi-chu.txt").write_text("của chuyên viên", encoding="utf-8")
    argv = ["validate", str(new_inputs), "--year", YEAR, "--output", str(tmp_path), "-q"]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 0, res.output
    manifest = _consistent(tmp_path / YEAR, users=("ghi-chu.txt",))
    assert manifest["command"] == "validate"
    names = set(_hashes(tmp_path / YEAR))
    # No workbook, draft or chart of the earlier consolidate beside the new tables.
    left = [n for n in names if n.endswith((".xlsx", ".docx", ".png"))]
    assert left and all(n.startswith("feedback/") for n in left)
    assert {"submissions.csv", "issues.csv", "data/values.csv", "ghi-chu.txt"} <= names
    assert "Giữ nguyên trong" in res.output and "ghi-chu.txt" in res.output
