"""Reading a whole folder: the per-file map of :func:`pipeline.read.read_entry`.

Kept apart from :mod:`pipeline.run` so that the reading workers, forked from this module's
importer, carry neither pandas nor pandera: the process that reads only needs the schema and
python-calamine, and the main process can import the heavy libraries of the later stages
while the workers read (see ``meanwhile``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from pipeline.errors import InputFolderError
from pipeline.model import RawSubmission, is_mail_log
from pipeline.read import read_entry, scan_inputs
from pipeline.schema import Schemas
from pipeline.workers import process_pool, worker_count, worker_deaths

POOL_FROM = 8
"""Below this many files one process reads them: starting a pool would cost more."""


def read_all(
    root: Path,
    schemas: Schemas,
    workers: int | None = None,
    progress: Callable[[Iterable[RawSubmission], int], Iterable[RawSubmission]] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[RawSubmission]:
    """Read every entry under `root`; a process pool when there are enough files.

    Every entry of the folder yields exactly one submission, in the order of
    :func:`pipeline.read.scan_inputs`: entries that cannot be read come back rejected with
    their reason, so nothing the department put in the folder goes unaccounted for. The one
    exception is the mail log that ``pipeline inbox`` keeps in each year's folder
    (:func:`pipeline.model.is_mail_log`), at whatever depth under `root` it lies: it is the
    department's record of the mails, read by the CLI for the submission times
    (:func:`pipeline.inbox.load_mail_info`), not a submission.

    `meanwhile` runs in this process once the workers have started (before reading, when
    there is no pool): work that does not depend on the files, such as importing the
    libraries of the later stages, then costs no extra time.
    """
    if not root.is_dir():
        raise InputFolderError(f"Không tìm thấy thư mục dữ liệu vào: {root}")
    paths = [e for e in scan_inputs(root) if not is_mail_log(e.path)]
    reader = partial(read_entry, root=root, schema=schemas.report)
    workers = worker_count(workers)
    # The submissions coming back are millions of small objects that all live to the end of
    # the run: the cyclic collector would walk them over and over while they arrive (a tenth
    # of the reading time at 10,000 files). Read data holds no reference cycle, so it is
    # paused here, and switched back on in the workers, whose garbage is ordinary.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if workers <= 1 or len(paths) < POOL_FROM:
            if meanwhile:
                meanwhile()
            results: Iterable[RawSubmission] = map(reader, paths)
            if progress:
                results = progress(results, len(paths))
            return list(results)
        died = worker_deaths("đọc tệp", "Chưa có tệp kết quả nào được ghi.")
        with died, process_pool(workers, initializer=gc.enable) as pool:
            chunk = max(1, len(paths) // (workers * 8))
            results = pool.map(reader, paths, chunksize=chunk)
            if meanwhile:
                meanwhile()
            if progress:
                results = progress(results, len(paths))
            return list(results)
    finally:
        if collecting:
            gc.enable()


__all__ = ["POOL_FROM", "read_all"]
