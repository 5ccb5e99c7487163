"""Publishing a run's results: all or nothing, one run at a time.

A result folder (``output/2026``, ``output/review-2023-2025``, ``output/rollup/2026``) always
holds the complete outputs of one successful run: the CSV exports, the workbook, the draft,
the charts, the feedback copies and the manifest that lists them. A run builds its results in
a staging folder beside the result folder (same file system, so a rename moves it whole) and
swaps it in at the very end. A run that fails, is interrupted or is killed leaves the result
folder exactly as the last successful run left it.

Beside a result folder ``N`` under its root::

    N/                      the last successful run's results
    .N.lock                 the lock file: the run holding its lock is the one writing N
    .N.staging-<random>/    the results the running run is building
    .N.previous/            the old results, only between the two renames of a swap

A run (:func:`publishing`):

1. takes the lock, or refuses at once (:class:`~pipeline.errors.RunInProgressError`) when
   another run holds it. The system releases the lock when its process dies, even on SIGKILL;
   worker processes forked from the run close their copy, so a worker left behind by a
   killed run never keeps the next run out;
2. repairs what a killed run left (:func:`recover`);
3. creates a fresh staging folder; the run writes every output there;
4. on success swaps: renames ``N`` → ``.N.previous``, renames the staging folder → ``N``,
   moves the files the user put in ``N`` themselves (anything not ours) into the new ``N``,
   deletes ``.N.previous``. On failure (any error, Ctrl-C) it deletes the staging folder.

Recovery (step 2) reads the state from the disk, under the lock, so no other run can be
mid-swap:

* ``.N.previous`` without ``N``: a run died between the two renames. Its new results were
  complete, but it never told its user it succeeded, so the last successful run's results
  come back: ``.N.previous`` → ``N``; the dead run's staging folder is deleted below.
* ``.N.previous`` beside ``N``: a run died after the second rename: its new results are in
  place, the swap is finished (the user's files carried over, ``.N.previous`` deleted).
* ``.N.staging-*``: left by a run that died (it held the lock, and now we do): deleted.

Which files are ours: those the manifest of the old folder lists, the manifest itself, the
product's sub-folders and everything the new run wrote. Anything else at the top of the old
folder (a note the specialist saved there) is carried into the new one, never deleted.

This module also recognises the product's own outputs when they sit inside an input folder
(:class:`OwnOutputs`): they are never read as submissions. It imports nothing heavy: the
reading stage uses it before its workers fork.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import re
import secrets
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import (
    OutputError,
    PipelineError,
    RunInProgressError,
    Stopped,
    StorageError,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
TOOL_NAME = "xhht-pipeline"
PRODUCT_FOLDERS = ("data", "charts", "feedback")
"""Sub-folders of a result folder that only the product writes (never carried over)."""
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

_OWN_ENTRY = re.compile(r"\.(?P<name>.+)\.(?:lock|previous|staging-[0-9a-f]+)")
"""The names this module gives its lock files, staging and previous folders."""

_HELD: set[int] = set()
"""Lock file descriptors this process holds; closed in every child forked from it."""


def _close_held_in_child() -> None:
    # A forked worker inherits the lock's descriptor. Closing its copy does not release the
    # parent's lock (that needs every copy closed), but a worker left running after its
    # parent was killed then no longer keeps the next run out.
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


# --------------------------------------------------------------------------- messages

_EDQUOT = getattr(errno, "EDQUOT", 0)  # not on every system


def storage_message(code: int, folder: Path) -> str | None:
    """The Vietnamese sentence for a storage refusal of `folder`, or None if not one."""
    where = f"thư mục kết quả {folder}"
    if code == errno.EROFS:
        return (
            f"Ổ đĩa chứa {where} chỉ cho phép đọc (read-only): không ghi được kết quả vào đó. "
            "Chọn thư mục kết quả khác (tùy chọn --output, hoặc OUTPUT=… khi chạy make) hoặc "
            "nhờ người quản trị máy cho phép ghi."
        )
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"Không có quyền ghi vào {where}. Xin quyền ghi vào thư mục đó, hoặc chọn thư mục "
            "kết quả khác (tùy chọn --output, hoặc OUTPUT=… khi chạy make)."
        )
    if code == errno.ENOSPC:
        return (
            f"Ổ đĩa chứa {where} đã hết chỗ trống (lần chạy cần chỗ cho bộ kết quả mới trong "
            "khi vẫn giữ bộ cũ đến khi xong). Xóa bớt tệp không cần trên ổ đó hoặc chọn thư mục "
            "kết quả trên ổ khác (--output), rồi chạy lại."
        )
    if _EDQUOT and code == _EDQUOT:
        return (
            f"Đã dùng hết dung lượng được cấp (quota) trên ổ chứa {where}. Xóa bớt tệp của bạn "
            "trên ổ đó hoặc chọn thư mục kết quả khác (--output), rồi chạy lại."
        )
    return None


STORAGE_ERRNOS = frozenset(
    c for c in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, _EDQUOT) if c
)
"""The refusals of a whole storage: one file failing so means every other will."""


def folder_error(exc: OSError, folder: Path, doing: str) -> OutputError:
    """An OSError met while `doing` something to `folder`, as the error the user reads."""
    code = exc.errno or 0
    message = storage_message(code, folder)
    if message is not None:
        return StorageError(message, code)
    name = errno.errorcode.get(code, "")
    cause = f"lỗi hệ thống {name} (số {code})" if code else "lỗi hệ thống"
    return OutputError(f"Không {doing} trong thư mục kết quả {folder} ({cause}).")


# --------------------------------------------------------------------------- the lock


def _lock(path: Path, target: Path) -> int:
    """Open and lock `path`; the descriptor, to keep open for as long as the run lasts."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise folder_error(exc, path.parent, "tạo được tệp khóa") from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif msvcrt is not None:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:  # pragma: no cover - no known platform
            log.warning("no file locking on this system: concurrent runs are not prevented")
    except OSError as exc:
        holder = _holder(path)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            raise RunInProgressError(
                f"Đang có một lần chạy khác ghi kết quả vào {target}{holder}. Đợi lần chạy đó "
                "xong rồi chạy lại; lần chạy này dừng ngay, không thay đổi gì."
            ) from exc
        raise folder_error(exc, path.parent, "khóa được tệp khóa") from exc
    _HELD.add(fd)
    # Who holds it, for the message another run shows; the lock alone is what counts.
    started = dt.datetime.now().strftime("%H:%M %d/%m/%Y")
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {started}\n".encode())
    return fd


def _holder(path: Path) -> str:
    """`` (tiến trình số 123, bắt đầu lúc 10:05 02/12/2026)`` from the lock file, if readable."""
    try:
        pid, _, started = path.read_text(encoding="utf-8").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        return ""
    if not pid.isdigit():
        return ""
    return f" (tiến trình số {pid}, bắt đầu lúc {started})" if started else ""


def _unlock(fd: int) -> None:
    _HELD.discard(fd)
    with contextlib.suppress(OSError):
        os.close(fd)


# --------------------------------------------------------------------------- manifests


def read_own_manifest(path: Path | str) -> dict[str, Any] | None:
    """The manifest at `path` if the product wrote it, else None (unreadable, not ours)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    tool = data.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != TOOL_NAME:
        return None
    return data


def manifest_outputs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(relative file, sha256) of every output a manifest lists."""
    rows = data.get("outputs")
    out = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("file"), str):
            out.append((row["file"], str(row.get("sha256", ""))))
    return out


@dataclass
class OwnOutputs:
    """The product's own outputs, met while scanning an input folder: never submissions.

    Skipped: the entries in `paths` (the output folder when it lies inside the input, the
    lock, staging and previous folders), any folder holding one of our manifests, and any
    file whose SHA-256 a manifest lists among its outputs. A unit that sends back its
    feedback copy fixed sends different bytes, and that file is read as usual.
    """

    paths: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)
    """Our working entries (lock, staging, previous): skipped without a word."""
    hashes: dict[str, str] = field(default_factory=dict)
    """sha256 → where the product wrote that file (for the message)."""
    skipped_folders: list[str] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    """(input file, the output it is a copy of)."""
    _names: set[str] = field(default_factory=set)

    def exclude(self, path: Path | str, quiet: bool = False) -> None:
        real = os.path.realpath(path)
        (self.quiet if quiet else self.paths).add(real)
        self._names.add(os.path.basename(real))

    def add_manifest(self, path: Path | str, label: str) -> bool:
        """Learn the outputs of the manifest at `path` if it is ours; True if it is."""
        data = read_own_manifest(path)
        if data is None:
            return False
        for rel, sha in manifest_outputs(data):
            if sha:
                self.hashes.setdefault(sha, f"{label}/{rel}" if label else rel)
        return True

    def claim_folder(self, dirpath: str, filenames: list[str], top: bool) -> str | None:
        """Whether the folder being walked is ours (then it is not read at all).

        ``"quiet"`` for our working folders, ``"told"`` for the folders to name in the
        message (the output folder, a folder holding our manifest), None if not ours.
        """
        if not top and os.path.basename(dirpath) in self._names:
            real = os.path.realpath(dirpath)
            if real in self.quiet:
                return "quiet"
            if real in self.paths:
                return "told"
        if MANIFEST_NAME in filenames and self.add_manifest(
            os.path.join(dirpath, MANIFEST_NAME), ""
        ):
            return "told"
        return None

    def claims_file(self, full: str) -> bool:
        """Whether a file met in the walk is ours (a lock file): a name test first, cheap."""
        if os.path.basename(full) not in self._names:
            return False
        real = os.path.realpath(full)
        return real in self.quiet or real in self.paths

    def summary(self) -> str | None:
        """One Vietnamese line for the CLI, or None when nothing was skipped."""
        parts = [f"thư mục “{f}”" for f in self.skipped_folders]
        parts += [f"tệp “{f}” (bản sao của “{src}”)" for f, src in self.skipped_files]
        if not parts:
            return None
        more = f"; và {len(parts) - 5} mục khác" if len(parts) > 5 else ""
        shown = "; ".join(parts[:5]) + more
        lead = "Không đọc kết quả do chính chương trình ghi ra (không phải báo cáo đơn vị)"
        return f"{lead}: {shown}."


# --------------------------------------------------------------------------- publishing


@dataclass
class Publication:
    """One run's result folder: where it writes (`stage`) and where that ends up (`target`)."""

    root: Path
    name: str
    target: Path
    stage: Path
    had_results: bool
    notes: list[str] = field(default_factory=list)
    """What recovery repaired, in Vietnamese, for the CLI to show."""
    carried: list[str] = field(default_factory=list)
    """The user's own entries carried from the old result folder into the new one."""
    lock_fd: int = -1

    @property
    def previous(self) -> Path:
        return previous_path(self.root, self.name)

    def final(self, staged: Path) -> Path:
        """Where a path inside the staging folder will be once the swap is done."""
        return self.target / staged.relative_to(self.stage)

    def intact(self) -> str:
        """The sentence a failed run ends with."""
        return intact_sentence(self.target, self.had_results)

    def own_outputs(self) -> OwnOutputs:
        """What a scan of the input folder must skip as the product's own (see OwnOutputs)."""
        own = OwnOutputs()
        own.exclude(self.root)
        own.exclude(self.target)
        for path in (self.stage, self.previous, lock_path(self.root, self.name)):
            own.exclude(path, quiet=True)
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root):
                if _OWN_ENTRY.fullmatch(entry.name):
                    own.exclude(entry.path, quiet=True)
        own.add_manifest(self.target / MANIFEST_NAME, self.target.name)
        return own


def intact_sentence(target: Path, had_results: bool) -> str:
    if had_results:
        return (
            f"Kết quả của lần chạy thành công trước trong {target} vẫn nguyên vẹn, "
            "không bị thay đổi."
        )
    return f"Chưa có kết quả nào được ghi vào {target}."


def lock_path(root: Path, name: str) -> Path:
    return root / f".{name}.lock"


def previous_path(root: Path, name: str) -> Path:
    return root / f".{name}.previous"


def _staging_prefix(name: str) -> str:
    return f".{name}.staging-"


_stop: list[int] = []
"""The signal that asked this process to stop, once one has (see :func:`request_stop`)."""


def request_stop(signum: int) -> None:
    """Remember that the user or the system asked the run to stop.

    The signal handler also raises at once; but Python swallows an exception raised while
    a finaliser or a library callback runs ("Exception ignored in …"), and the run would
    then go on to publish as if nothing had been asked. :func:`publishing` checks this
    before it swaps anything in.
    """
    if not _stop:
        _stop.append(signum)


def clear_stop() -> None:
    """Forget an earlier stop request (a new command starts)."""
    _stop.clear()


def _raise_if_stopped() -> None:
    if _stop:
        signum = _stop[0]
        raise KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


@contextlib.contextmanager
def publishing(root: Path, name: str) -> Iterator[Publication]:
    """Lock ``root/name``, repair it, and yield a staging folder swapped in on success.

    Any exception leaving the block (a PipelineError, a bug, Ctrl-C) deletes the staging
    folder, leaves ``root/name`` as it was and carries a note saying so (``add_note``); an
    output error met inside the staging folder is reworded for the result folder.
    """
    pub = _open(root, name)
    try:
        try:
            yield pub
            _raise_if_stopped()
        except BaseException as exc:
            _discard(pub.stage)
            raise _reworded(exc, pub)  # noqa: B904 - its cause is set when it is a new error
        try:
            _swap(pub)
        except BaseException as exc:
            _discard(pub.stage)
            raise _reworded(exc, pub)  # noqa: B904
    finally:
        _unlock(pub.lock_fd)


@contextlib.contextmanager
def reading(root: Path, name: str) -> Iterator[None]:
    """Hold ``root/name``'s lock while another command reads its results.

    A run of that year swapping its folder in at the same moment would leave the reader a
    folder half there, or none; and the last good results of a run killed mid-swap wait in
    ``.name.previous`` until the next run of that year puts them back, so the reader repairs
    that first (:func:`recover`). A folder that cannot be locked (a read-only shared drive)
    is read as it is: it cannot be changing under us through this program either.
    """
    target = root / name
    if not (os.path.lexists(target) or os.path.lexists(previous_path(root, name))):
        yield
        return
    try:
        fd = _lock(lock_path(root, name), target)
    except OutputError as exc:
        log.info("reading %s without its lock: %s", target, exc)
        yield
        return
    try:
        try:
            recover(root, name)
        except OutputError as exc:
            log.warning("%s", exc)
        yield
    finally:
        _unlock(fd)


def _reworded(exc: BaseException, pub: Publication) -> BaseException:
    """`exc`, about the result folder rather than the staging folder, noting what is intact."""
    new = exc
    if isinstance(exc, StorageError):
        message = storage_message(exc.errno, pub.target) or str(exc)
        new = StorageError(message, exc.errno)
        new.__cause__ = exc
    elif type(exc) is OutputError:
        new = OutputError(str(exc).replace(os.fspath(pub.stage), os.fspath(pub.target)))
        new.__cause__ = exc
    if isinstance(new, PipelineError | KeyboardInterrupt):
        new.add_note(pub.intact())
    return new


def _open(root: Path, name: str) -> Publication:
    # A result folder that is a link to a folder elsewhere (a shared drive) is published
    # there: renaming the link itself would leave the shared folder behind.
    target = root / name
    if target.is_symlink():
        real = Path(os.path.realpath(target))
        root, name = real.parent, real.name
        target = real
    if os.path.lexists(target) and not target.is_dir():
        # Replacing it would delete a file of the user's without a word.
        raise OutputError(
            f"Đã có một tệp (không phải thư mục) tên {target}, đúng chỗ chương trình cần ghi "
            "thư mục kết quả. Chương trình không xóa tệp đó: đổi tên hoặc chuyển nó đi, hoặc "
            "chọn thư mục kết quả khác (--output), rồi chạy lại."
        )
    try:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise folder_error(exc, root, "tạo được thư mục kết quả") from exc
        fd = _lock(lock_path(root, name), target)
    except OutputError as exc:
        exc.add_note(intact_sentence(target, os.path.lexists(target)))
        raise
    try:
        notes = recover(root, name)
        stage = _new_stage(root, name)
    except OutputError as exc:
        _unlock(fd)
        exc.add_note(intact_sentence(target, os.path.lexists(target)))
        raise
    except BaseException:
        _unlock(fd)
        raise
    return Publication(
        root=root,
        name=name,
        target=target,
        stage=stage,
        had_results=os.path.lexists(target),
        notes=notes,
        lock_fd=fd,
    )


def _new_stage(root: Path, name: str) -> Path:
    for _ in range(100):
        stage = root / f"{_staging_prefix(name)}{secrets.token_hex(4)}"
        try:
            # The user's umask decides the mode, as for any folder they create.
            os.mkdir(stage, 0o777)
        except FileExistsError:
            continue
        except OSError as exc:
            raise folder_error(exc, root, "tạo được thư mục tạm") from exc
        return stage
    raise OutputError(f"Không tạo được thư mục tạm trong {root}.")  # pragma: no cover


def recover(root: Path, name: str) -> list[str]:
    """Repair what a killed run left beside ``root/name`` (call it holding the lock)."""
    notes: list[str] = []
    target, previous = root / name, previous_path(root, name)
    try:
        if os.path.lexists(previous):
            if not os.path.lexists(target):
                os.rename(previous, target)
                notes.append(
                    f"Lần chạy trước bị dừng đúng lúc thay kết quả: đã khôi phục kết quả của lần "
                    f"chạy thành công trước đó vào {target}."
                )
            else:
                _finish(root, name)
        prefix = _staging_prefix(name)
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                notes.append(
                    f"Đã xóa thư mục tạm “{entry.name}” của một lần chạy bị dừng giữa chừng "
                    "(kết quả dở dang, chưa từng được dùng)."
                )
    except OSError as exc:
        raise folder_error(exc, root, "dọn được thư mục") from exc
    for note in notes:
        log.info("%s", note)
    return notes


def _swap(pub: Publication) -> None:
    target, previous = pub.target, pub.previous
    try:
        if os.path.lexists(target):
            os.rename(target, previous)
    except OSError as exc:
        raise _swap_error(exc, pub) from exc
    try:
        os.rename(pub.stage, target)
    except BaseException as exc:
        # Put the old results back now (Ctrl-C included); if even that fails, or the process
        # dies right here, the next run does it (recover).
        with contextlib.suppress(OSError):
            if os.path.lexists(previous) and not os.path.lexists(target):
                os.rename(previous, target)
        if isinstance(exc, OSError):
            raise _swap_error(exc, pub) from exc
        raise
    pub.carried = _finish(pub.root, pub.name)
    _fsync_dir(pub.root)


def _swap_error(exc: OSError, pub: Publication) -> OutputError:
    if isinstance(exc, PermissionError):
        # Windows refuses to rename a folder holding a file another program has open; having
        # written the staging folder beside it, a lack of permission is the rarer cause.
        return OutputError(
            f"Không thay được thư mục kết quả {pub.target}: có tệp trong đó đang được mở bởi "
            "chương trình khác (Excel, Word?) hoặc không có quyền ghi. Đóng các tệp trong thư "
            "mục đó rồi chạy lại."
        )
    return folder_error(exc, pub.root, "thay được thư mục kết quả")


def _finish(root: Path, name: str) -> list[str]:
    """The end of a swap: the user's entries into the new folder, the old one deleted."""
    target, previous = root / name, previous_path(root, name)
    carried: list[str] = []
    if not previous.is_dir():
        with contextlib.suppress(FileNotFoundError):
            previous.unlink()
        return carried
    old = read_own_manifest(previous / MANIFEST_NAME)
    ours = {MANIFEST_NAME, *PRODUCT_FOLDERS}
    ours |= {rel.split("/", 1)[0] for rel, _ in manifest_outputs(old or {})}
    for entry in sorted(os.scandir(previous), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name in ours:
            continue
        dest = target / entry.name
        if os.path.lexists(dest):
            continue
        os.rename(entry.path, dest)
        carried.append(entry.name)
    if carried:
        log.info("kept the user's own entries in %s: %s", target, ", ".join(carried))
    shutil.rmtree(previous, ignore_errors=True)
    return carried


def _discard(stage: Path) -> None:
    shutil.rmtree(stage, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    """Make the renames durable (POSIX; Windows cannot open a folder, and needs not)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "MANIFEST_NAME",
    "PRODUCT_FOLDERS",
    "TOOL_NAME",
    "OwnOutputs",
    "Publication",
    "folder_error",
    "intact_sentence",
    "lock_path",
    "manifest_outputs",
    "previous_path",
    "publishing",
    "read_own_manifest",
    "recover",
    "storage_message",
]
