"""Writing every output of a consolidated year, several at a time.

The outputs are independent of each other until the manifest, which lists them all: the
report workbook, the chart pictures and the draft report that shows them, one feedback copy
per file with problems, and the CSV exports. With more than one worker they are written by a
pool of processes forked from this one, so each worker already holds the run's frames and
nothing is pickled but the feedback tasks; each output is made by the same function from the
same data whatever the number of workers, so the bytes do not change with it (tests check).

These functions fill the folder they are given; the CLI gives them the staging folder of
:func:`pipeline.publish.publishing`, which swaps it in whole once they have all succeeded.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from pathlib import Path

from pipeline.charts import write_chart_pngs
from pipeline.export import write_bytes, write_tables
from pipeline.feedback import feedback_task, feedback_tasks, write_feedback_all
from pipeline.history import write_history
from pipeline.manifest import write_manifest
from pipeline.narrative import write_narrative
from pipeline.report import build_workbook, workbook_path
from pipeline.run import RunResult
from pipeline.workers import can_fork, process_pool, worker_count, worker_deaths

log = logging.getLogger(__name__)

_RUN: RunResult | None = None
"""The run being written, for forked workers: they inherit it instead of receiving it."""


def preload() -> None:
    """Import what writing the outputs needs, so forked workers start with it loaded.

    ``consolidate`` calls this while the reading workers read: the imports then cost no
    time of their own.
    """
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


def _workbook(out_dir: Path, result: RunResult | None = None) -> Path:
    result = result or _current()
    book = workbook_path(out_dir, result.year)
    write_bytes(book, build_workbook(result))
    log.info("report workbook %s", book)
    return book


def _documents(out_dir: Path, result: RunResult | None = None) -> Path:
    """The chart pictures, then the draft report (.docx) that includes them."""
    result = result or _current()
    charts = write_chart_pngs(result, out_dir / "charts")
    return write_narrative(result, out_dir, charts)


def _current() -> RunResult:
    if _RUN is None:
        raise RuntimeError("no run to render: _RUN is set by write_outputs before forking")
    return _RUN


def write_outputs(
    result: RunResult, input_dir: Path, out_dir: Path, workers: int | None = None
) -> Path:
    """Write every output under `out_dir`, the manifest last; return the workbook's path.

    One process writes them in turn when `workers` is 1 or the system cannot fork.
    """
    global _RUN
    workers = worker_count(workers)
    if workers <= 1 or not can_fork():
        write_tables(result, out_dir)
        write_history(result, out_dir)
        for task in feedback_tasks(result, input_dir, out_dir):
            feedback_task(task)
        _workbook(out_dir, result)
        _documents(out_dir, result)
    else:
        _RUN = result
        try:
            died = worker_deaths(
                "ghi kết quả",
                "Các kết quả đang ghi dở của lần chạy này đã bị bỏ.",
            )
            with died, process_pool(workers) as pool:
                # Longest first: the workbook, and the charts with the draft that shows them.
                jobs: list[Future[object]] = [
                    pool.submit(_workbook, out_dir),
                    pool.submit(_documents, out_dir),
                ]
                # Listed once the workers are busy: finding each file with problems on disk
                # takes a scan of the input folder.
                feedback = feedback_tasks(result, input_dir, out_dir)
                jobs += [pool.submit(feedback_task, task) for task in feedback]
                # The exports are quick: this process writes them while the workers work.
                write_tables(result, out_dir)
                write_history(result, out_dir)
                for job in jobs:
                    job.result()
        finally:
            _RUN = None
    write_manifest(result, input_dir, out_dir)
    return workbook_path(out_dir, result.year)


def write_checks(
    result: RunResult, input_dir: Path, out_dir: Path, workers: int | None = None
) -> None:
    """What ``validate`` writes: submissions.csv, issues.csv, data/, feedback/, a manifest.

    A complete set of its own, swapped in like consolidate's: a workbook or a draft from an
    earlier consolidate would not match these tables, so the folder never keeps one beside
    them (the manifest says the set came from ``validate``).
    """
    write_tables(result, out_dir)
    write_feedback_all(result, input_dir, out_dir, workers)
    write_manifest(result, input_dir, out_dir, command="validate")


__all__ = ["preload", "write_checks", "write_outputs"]
