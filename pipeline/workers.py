"""Process pools for the two per-item maps of a run: reading files and writing outputs.

Both maps fork the running process where the system can (Linux, macOS by choice): a forked
worker starts in milliseconds with every module and every computed frame already in memory,
where a spawned one would re-import pandas and receive the data pickled. Where fork does not
exist (Windows) the system's default start method is used and callers pass everything a task
needs explicitly, so the work and its bytes are the same either way.

A worker whose parent is gone (killed, SIGKILL included) exits within a second: it would
otherwise wait for work forever, holding its memory (a worker's copy of the run's data) and
the parent's output pipes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any

from pipeline.errors import WorkerError

MAX_WORKERS = 8


def worker_count(workers: int | None) -> int:
    """The number of processes to use: the user's choice, else one per core (at most 8)."""
    if workers is not None:
        return max(1, workers)
    return min(os.cpu_count() or 1, MAX_WORKERS)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def fork_context() -> BaseContext | None:
    """The fork start method, or None where the system has none."""
    return multiprocessing.get_context("fork") if can_fork() else None


PARENT_CHECK_SECONDS = 0.5


def process_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of `workers` processes, forked where the system can.

    Each worker first starts watching its parent (:func:`_start_worker`), then runs
    `initializer`.
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=fork_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def _start_worker(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    # A forked worker inherits the CLI's stop-signal handlers; the pool ends its workers
    # with SIGTERM, which must end them at once rather than raise inside a task.
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_DFL)
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (the worker is then re-parented)."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


@contextlib.contextmanager
def worker_deaths(stage: str, consequence: str) -> Iterator[None]:
    """Turn a pool broken by a dead worker into a :class:`WorkerError` saying what it left."""
    try:
        yield
    except BrokenProcessPool as exc:
        raise WorkerError(
            f"Một tiến trình con bị hệ điều hành dừng đột ngột khi {stage} (thường do máy "
            f"thiếu bộ nhớ). {consequence} Hãy đóng bớt chương trình khác rồi chạy lại, hoặc "
            "chạy với --workers 1 để dùng ít bộ nhớ hơn."
        ) from exc


__all__ = [
    "MAX_WORKERS",
    "can_fork",
    "fork_context",
    "process_pool",
    "worker_count",
    "worker_deaths",
]
