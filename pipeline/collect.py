"""Reading a whole folder: the per-file map of :func:`pipeline.read.read_entry`.

Kept apart from :mod:`pipeline.run` so that the reading workers, forked from this module's
importer, carry neither pandas nor pandera: the process that reads only needs the schema and
python-calamine, and the main process can import the heavy libraries of the later stages
while the workers read (see ``meanwhile``).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import InputFolderError
from pipeline.model import RawSubmission, is_mail_log
from pipeline.read import InputEntry, read_entry, scan_inputs
from pipeline.schema import Schemas
from pipeline.workers import process_pool, worker_count, worker_deaths

if TYPE_CHECKING:
    from pipeline.publish import OwnOutputs

log = logging.getLogger(__name__)

POOL_FROM = 8
"""Below this many files one process reads them: starting a pool would cost more."""


def read_all(
    root: Path,
    schemas: Schemas,
    workers: int | None = None,
    progress: Callable[[Iterable[RawSubmission], int], Iterable[RawSubmission]] | None = None,
    meanwhile: Callable[[], object] | None = None,
    own: OwnOutputs | None = None,
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

    `own` (:meth:`pipeline.publish.Publication.own_outputs`) names the product's own outputs:
    they are never submissions, even where the output folder lies inside the input folder.
    Folders of ours are not read at all; a file that is a byte-for-byte copy of one of our
    outputs is read (its digest is known only then) and dropped. Both are recorded in `own`
    and logged once, not listed as submissions.
    """
    if not root.is_dir():
        raise InputFolderError(f"Không tìm thấy thư mục dữ liệu vào: {root}")
    paths = [e for e in scan_inputs(root, own) if not is_mail_log(e.path)]
    raws = _read(paths, root, schemas, workers, progress, meanwhile)
    if own is not None:
        raws = _drop_own(raws, own)
    return raws


def _drop_own(raws: list[RawSubmission], own: OwnOutputs) -> list[RawSubmission]:
    kept = []
    for sub in raws:
        copy_of = own.hashes.get(sub.file.sha256) if sub.file.sha256 else None
        if copy_of is None:
            kept.append(sub)
        else:
            own.skipped_files.append((sub.file.path, copy_of))
    if own.skipped_folders or own.skipped_files:
        log.info(
            "not read as submissions, the product's own outputs: folders %s, files %s",
            own.skipped_folders,
            [f for f, _ in own.skipped_files],
        )
    return kept


def _read(
    paths: list[InputEntry],
    root: Path,
    schemas: Schemas,
    workers: int | None,
    progress: Callable[[Iterable[RawSubmission], int], Iterable[RawSubmission]] | None,
    meanwhile: Callable[[], object] | None,
) -> list[RawSubmission]:
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
