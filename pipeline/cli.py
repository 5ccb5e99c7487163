"""Command line: a thin click shell over the library; library errors become plain messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from pipeline import __version__
from pipeline.errors import PipelineError, Stopped
from pipeline.registry import Registry, load_registry
from pipeline.schema import DEFAULT_SCHEMA_DIR, Schemas, load_schemas
from pipeline.settings import DEFAULT_SETTINGS, Settings, load_settings

if TYPE_CHECKING:
    from pipeline.publish import OwnOutputs, Publication
    from pipeline.run import RunResult

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline")
@click.option("-v", "--verbose", is_flag=True, help="In thêm thông tin chẩn đoán.")
def main(verbose: bool) -> None:
    """Tổng hợp báo cáo Phong trào thi đua xây dựng xã hội học tập 2023-2030."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def fail(exc: PipelineError) -> None:
    """Print a library error for the user and stop with exit code 2.

    Its notes follow it: a run that had started writing says there what became of the
    last good results (:func:`pipeline.publish.publishing`).
    """
    click.echo(f"Lỗi: {exc}", err=True)
    for note in getattr(exc, "__notes__", ()):
        click.echo(note, err=True)
    sys.exit(2)


INTERRUPTED_EXIT = 130
"""Exit code of a run stopped by Ctrl-C, as shells report a process ended by SIGINT."""


STOP_SIGNALS: dict[str, str] = {
    "SIGTERM": "hệ thống hoặc một chương trình khác yêu cầu dừng (SIGTERM)",
    "SIGHUP": "cửa sổ dòng lệnh hoặc phiên làm việc đã đóng (SIGHUP)",
}
"""Signals that stop a run like Ctrl-C does, and why a user would have sent them.

By default Python dies on them at once, leaving its staging folder for the next run to
clean and the user without a word about the last good results.
"""


def _stop(signum: int, frame: object) -> None:
    from pipeline.publish import request_stop

    request_stop(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(signum)


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP stop the run, and are remembered while the block runs.

    Remembered (:func:`pipeline.publish.request_stop`) as well as raised, so that a stop
    Python swallows inside a finaliser still keeps the run from publishing.
    """
    from pipeline.publish import clear_stop

    clear_stop()
    previous: dict[signal.Signals, object] = {}
    for name in ("SIGINT", *STOP_SIGNALS):
        signum = getattr(signal, name, None)
        if signum is None:  # Windows has no SIGHUP
            continue
        try:
            previous[signum] = signal.signal(signum, _stop)
        except ValueError:  # not the main thread (an embedding program): leave it be
            break
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def stop_message(exc: KeyboardInterrupt) -> tuple[str, int]:
    """What to tell the user of a run stopped by `exc`, and the exit code."""
    if isinstance(exc, Stopped):
        name = signal.Signals(exc.signum).name
        return f"Đã dừng vì {STOP_SIGNALS.get(name, name)}.", 128 + exc.signum
    return "Đã dừng theo yêu cầu (Ctrl-C).", INTERRUPTED_EXIT


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Library errors, Ctrl-C and stop signals as a Vietnamese message and an exit code."""
    try:
        with _stop_signals():
            yield
    except PipelineError as exc:
        fail(exc)
    except KeyboardInterrupt as exc:
        message, code = stop_message(exc)
        click.echo(message, err=True)
        for note in getattr(exc, "__notes__", ()):
            click.echo(note, err=True)
        sys.exit(code)


@contextlib.contextmanager
def _publishing(root: Path, name: str) -> Iterator[Publication]:
    """:func:`pipeline.publish.publishing`, telling the user what it repaired or kept."""
    from pipeline.publish import publishing

    with publishing(root, name) as pub:
        for note in pub.notes:
            click.echo(note)
        yield pub
    if pub.carried:
        kept = ", ".join(pub.carried)
        click.echo(f"Giữ nguyên trong {pub.target} các mục không do chương trình tạo: {kept}.")


DEFAULT_YEAR = 2026


def _load_config(
    schemas_dir: Path, registry_path: Path, settings_path: Path
) -> tuple[Schemas, Registry, Settings]:
    schemas = load_schemas(schemas_dir)
    return schemas, load_registry(registry_path, schemas.report), load_settings(settings_path)


def config_options(func: Callable[..., None]) -> Callable[..., None]:
    """Options every data command shares: where the department's configuration lives."""
    func = click.option(
        "--settings",
        "settings_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_SETTINGS,
        show_default=True,
        help="Tệp cài đặt của Sở (tên cơ quan, người ký, hạn nộp).",
    )(func)
    func = click.option(
        "--registry",
        "registry_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=ROOT / "registry" / "units.csv",
        show_default=True,
        help="Danh mục đơn vị (units.csv; areas.csv nằm cùng thư mục).",
    )(func)
    func = click.option(
        "--schemas",
        "schemas_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_SCHEMA_DIR,
        show_default=True,
        help="Thư mục chứa report.yaml và criteria.yaml.",
    )(func)
    return func


def _progress(quiet: bool, label: str) -> Callable[[Iterable[T], int], Iterable[T]]:
    def wrap(items: Iterable[T], total: int) -> Iterable[T]:
        if quiet:
            return items
        # Imported only for a bar that shows: tqdm's import costs more than a small run's
        # start-up, before any file is read.
        from tqdm import tqdm

        return tqdm(items, total=total, desc=label, unit="tệp", leave=False)

    return wrap


def _run(
    input_dir: Path,
    year: int,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
    workers: int | None,
    quiet: bool,
    output_root: Path | None = None,
    own: OwnOutputs | None = None,
) -> RunResult:
    """Read and consolidate; the mail log of the folder and last year's exports join in.

    `own` names the product's own outputs, never read as submissions.
    """
    # Only the light reading modules are imported before the reading workers start; pandas,
    # pandera and the writers are imported while they read (see _preload).
    from pipeline.collect import read_all

    schemas, registry, settings = _load_config(schemas_dir, registry_path, settings_path)
    raws = read_all(input_dir, schemas, workers, _progress(quiet, "Đọc tệp"), _preload, own)
    # The submissions just read (millions of small objects at 10,000 files) live to the end
    # of the run and hold no reference cycles: out of the cyclic collector's sight, its later
    # passes cost little, and forked workers do not copy the pages it would have touched.
    gc.freeze()
    from pipeline.history import load_previous
    from pipeline.inbox import load_mail_info
    from pipeline.run import consolidate as consolidate_run

    mail = load_mail_info(input_dir, {s.file.path: s.file.sha256 for s in raws})
    from pipeline.publish import reading

    previous = None
    if output_root is not None:
        with reading(output_root, str(year - 1)):
            previous = load_previous(output_root, year)
    # Consolidation makes many short-lived objects and few cycles: collecting meanwhile
    # costs it about a twentieth of its time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return consolidate_run(
            raws,
            year,
            schemas,
            registry,
            settings,
            mail_times=mail.times,
            mail_senders=mail.senders,
            previous=previous,
            mail_sources=mail.sources,
            today=run_date(),
        )
    finally:
        if collecting:
            gc.enable()


def run_date() -> dt.date:
    """The date of the run: a report date after it is not believed.

    Today, unless SOURCE_DATE_EPOCH (seconds since 1970, the reproducible-builds convention)
    says otherwise: a run can then be repeated exactly as it ran on an earlier day.
    """
    # In the deadline's time zone, as mail and file times are, whatever the machine's.
    from pipeline.model import VIETNAM_TZ

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), VIETNAM_TZ).date()
    return dt.datetime.now(VIETNAM_TZ).date()


def _preload() -> None:
    """What the later stages load on first use, done while the reading workers read."""
    from pipeline.render import preload
    from pipeline.validate import warm_up

    warm_up()
    preload()


def _summary(result: RunResult, out_dir: Path, own: OwnOutputs | None = None) -> None:
    skipped = own.summary() if own is not None else None
    if skipped:
        click.echo(skipped)
    counts = result.counts()
    click.echo(
        f"Năm {result.year}: đọc {len(result.submissions)} tệp — "
        f"hợp lệ {counts['accepted']}, có lỗi/cảnh báo {counts['accepted_with_warnings']}, "
        f"bị từ chối {counts['rejected']}, bị thay thế {counts['superseded']}."
    )
    status = result.tracking["status"].value_counts()
    missing, late, rejected = (int(status.get(k, 0)) for k in ("missing", "late", "rejected"))
    click.echo(
        f"Đơn vị: {len(result.tracking)} trong danh mục, chưa nộp {missing}, "
        f"chỉ có tệp bị từ chối {rejected}, nộp muộn {late}."
    )
    click.echo(f"Vấn đề dữ liệu: {len(result.issues)} (xem {out_dir / 'issues.csv'}).")


year_option = click.option(
    "--year", type=int, default=DEFAULT_YEAR, show_default=True, help="Năm báo cáo."
)
workers_option = click.option(
    "--workers",
    type=int,
    default=None,
    help="Số tiến trình chạy song song để đọc tệp và ghi kết quả (mặc định: số nhân CPU).",
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="Không hiện thanh tiến trình.")
output_option = click.option(
    "--output",
    "output_root",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / "output",
    show_default=True,
    help="Thư mục kết quả; kết quả ghi vào <output>/<năm>/.",
)


@main.command("validate")
@click.argument("input_dir", type=click.Path(path_type=Path, file_okay=False))
@year_option
@output_option
@config_options
@workers_option
@quiet_option
def validate_cmd(
    input_dir: Path,
    year: int,
    output_root: Path,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
    workers: int | None,
    quiet: bool,
) -> None:
    """Đọc và kiểm tra các tệp báo cáo trong INPUT_DIR; ghi submissions.csv, issues.csv, data/.

    Kết quả (kể cả feedback/ và manifest.json) thay trọn bộ kết quả cũ của năm trong
    <output>/<năm>/, như lệnh consolidate: bảng tổng hợp của một lần consolidate trước đó
    không còn nằm cạnh các bảng mới không khớp với nó.
    """
    config = (schemas_dir, registry_path, settings_path)
    with _year_run(input_dir, year, output_root, config, workers, quiet) as (pub, result, own):
        from pipeline.render import write_checks

        write_checks(result, input_dir, pub.stage, workers)
    click.echo(_file_table(result))
    _summary(result, pub.target, own)


@contextlib.contextmanager
def _year_run(
    input_dir: Path,
    year: int,
    output_root: Path,
    config: tuple[Path, Path, Path],
    workers: int | None,
    quiet: bool,
) -> Iterator[tuple[Publication, RunResult, OwnOutputs]]:
    """Lock and stage output_root/<year>, read and consolidate; the block writes the stage.

    On leaving the block the stage replaces the year's results; any failure, reported as a
    message, leaves them as they were.
    """
    with _reported(), _publishing(output_root, str(year)) as pub:
        own = pub.own_outputs()
        result = _run(input_dir, year, *config, workers, quiet, output_root, own)
        yield pub, result, own


def _file_table(result: RunResult) -> str:
    labels = {
        "accepted": "hợp lệ",
        "accepted_with_warnings": "có lỗi/cảnh báo",
        "rejected": "bị từ chối",
        "superseded": "bị thay thế",
    }
    lines = []
    for row in result.submissions.itertuples(index=False):
        lines.append(
            f"{row.file}  [{labels[str(row.status)]}]  {row.unit_code or '-'}  {row.reason}"
        )
    return "\n".join(lines)


@main.command("consolidate")
@year_option
@click.option(
    "--input",
    "input_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Thư mục các tệp báo cáo đơn vị gửi (mặc định: samples/<năm>). Với --phase: thư mục "
    "chứa các thư mục năm (mặc định: samples).",
)
@click.option(
    "--phase",
    default=None,
    metavar="NĂM-NĂM",
    help="Lập báo cáo sơ kết/tổng kết giai đoạn (ví dụ 2023-2025, 2023-2030) từ kết quả tổng "
    "hợp các năm; năm nào chưa tổng hợp mà có thư mục dữ liệu thì tổng hợp trước.",
)
@output_option
@config_options
@workers_option
@quiet_option
def consolidate_cmd(
    year: int,
    input_dir: Path | None,
    phase: str | None,
    output_root: Path,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
    workers: int | None,
    quiet: bool,
) -> None:
    """Tổng hợp báo cáo năm: kiểm tra, đánh giá tiêu chí, thống kê, ghi bảng tổng hợp."""
    if phase is not None:
        _review(
            phase, input_dir, output_root, schemas_dir, registry_path, settings_path, workers, quiet
        )
        return
    _consolidate_year(
        year, input_dir, output_root, schemas_dir, registry_path, settings_path, workers, quiet
    )


def _consolidate_year(
    year: int,
    input_dir: Path | None,
    output_root: Path,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
    workers: int | None,
    quiet: bool,
) -> None:
    input_dir = input_dir or ROOT / "samples" / str(year)
    config = (schemas_dir, registry_path, settings_path)
    with _year_run(input_dir, year, output_root, config, workers, quiet) as (pub, result, own):
        from pipeline.narrative import narrative_name
        from pipeline.render import write_outputs

        report_path = pub.final(write_outputs(result, input_dir, pub.stage, workers))
    _summary(result, pub.target, own)
    click.echo(f"Báo cáo tổng hợp: {report_path}")
    click.echo(f"Dự thảo báo cáo (Word): {report_path.with_name(narrative_name(year))}")


def _review(
    phase: str,
    input_root: Path | None,
    output_root: Path,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
    workers: int | None,
    quiet: bool,
) -> None:
    """The phase review; years not yet consolidated are, when their input folder exists."""
    from pipeline.review import load_review, load_year, parse_phase, write_review

    root = input_root or ROOT / "samples"
    with _reported():
        ph = parse_phase(phase)
        notes = {}
        for year in ph.years:
            if load_year(output_root, year) is None and (root / str(year)).is_dir():
                click.echo(f"Năm {year}: chưa có kết quả tổng hợp, tổng hợp từ {root / str(year)}.")
                _consolidate_year(
                    year,
                    root / str(year),
                    output_root,
                    schemas_dir,
                    registry_path,
                    settings_path,
                    workers,
                    quiet,
                )
                notes[year] = f"tổng hợp khi lập báo cáo giai đoạn, từ thư mục {root.name}/{year}"
        schemas, registry, settings = _load_config(schemas_dir, registry_path, settings_path)
        data = load_review(output_root, ph)
        data.notes.update(notes)
        with _publishing(output_root, ph.folder_name) as pub:
            book = pub.final(write_review(data, schemas, registry, settings, pub.stage))
    if data.missing:
        years = ", ".join(str(y) for y in data.missing)
        click.echo(f"Chưa có số liệu các năm: {years} (bỏ trống trong báo cáo giai đoạn).")
    click.echo(f"Báo cáo {ph.kind} giai đoạn {ph.start}-{ph.end}: {book}")


@main.command("rollup")
@click.argument("departments", nargs=-1, required=True, metavar="[TÊN=]THƯ_MỤC...")
@year_option
@click.option(
    "--name",
    default="Toàn quốc",
    show_default=True,
    help="Tên của cấp tổng hợp (dòng tổng cộng).",
)
@click.option(
    "--output",
    "output_root",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / "output" / "rollup",
    show_default=True,
    help="Thư mục kết quả; ghi vào <output>/<năm>/.",
)
@click.option(
    "--schemas",
    "schemas_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_SCHEMA_DIR,
    show_default=True,
    help="Thư mục chứa report.yaml và criteria.yaml.",
)
def rollup_cmd(
    departments: tuple[str, ...], year: int, name: str, output_root: Path, schemas_dir: Path
) -> None:
    """Cộng kết quả tổng hợp của nhiều Sở thành bảng tổng hợp cấp trên (không nhập lại số liệu).

    Mỗi THƯ_MỤC là thư mục kết quả output/<năm> của một Sở (có data/aggregates.csv);
    TÊN=THƯ_MỤC đặt tên cho Sở đó. Tỷ lệ được tính lại từ tổng tử số và tổng mẫu số.
    """
    from pipeline.rollup import write_rollup

    with _reported(), _publishing(output_root, str(year)) as pub:
        schemas = load_schemas(schemas_dir)
        table = pub.final(write_rollup(list(departments), year, schemas, name, pub.stage))
    click.echo(f"Đã cộng {len(departments)} kết quả tổng hợp năm {year}: {table}")
    click.echo(f"Số liệu: {table.parent / 'data' / 'aggregates.csv'}")


@main.command("inbox")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / "submissions",
    show_default=True,
    help="Thư mục nhận báo cáo; tệp được lưu vào <dest>/<năm báo cáo>/.",
)
@click.option(
    "--year",
    "default_year",
    type=int,
    default=None,
    help="Năm dùng cho thư không có ngày gửi/nhận (mặc định: năm hiện tại).",
)
@config_options
def inbox_cmd(
    sources: tuple[Path, ...],
    dest: Path,
    default_year: int | None,
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
) -> None:
    """Lấy tệp báo cáo đính kèm từ thư đã lưu (thư mục .eml, tệp mbox, tệp Outlook .msg).

    Mỗi tệp bảng tính đính kèm (kể cả trong tệp .zip) được lưu vào thư mục năm báo cáo
    của nó; người gửi, ngày gửi, ngày nhận và tiêu đề thư ghi vào _inbox_log.csv của thư
    mục đó. Lệnh consolidate dùng ngày nhận thư để xét nộp đúng hạn hay muộn.
    """
    from pipeline.inbox import STATUS_LABELS, run_inbox

    try:
        schemas = load_schemas(schemas_dir)
        result = run_inbox(list(sources), dest, schemas.report, default_year)
    except PipelineError as exc:
        fail(exc)
        return
    except OSError as exc:
        click.echo(f"Lỗi: không ghi được vào {dest} ({exc.strerror or exc}).", err=True)
        sys.exit(2)
    for row in result.rows:
        what = row.file or row.attachment or row.source
        label = STATUS_LABELS.get(row.status, row.status)
        click.echo(f"[{label}] {what}  ({row.sender or '-'}, {row.source})  {row.reason}".rstrip())
    counts = result.counts()
    click.echo(
        f"Thêm mới: lưu {counts['saved']} tệp, trùng {counts['duplicate']}, "
        f"bỏ qua {counts['skipped']}, không mở được {counts['unreadable']}."
    )
    for year, path in sorted(result.logs.items()):
        click.echo(f"Năm {year}: nhật ký {path}")


@main.command("samples")
@year_option
@click.option(
    "--output",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Thư mục ghi tệp mẫu (mặc định: samples/<năm>).",
)
@config_options
def samples_cmd(
    year: int, out_dir: Path | None, schemas_dir: Path, registry_path: Path, settings_path: Path
) -> None:
    """Tạo bộ tệp báo cáo mẫu (dữ liệu giả lập) cho danh mục đơn vị mẫu."""
    from pipeline.samples import generate, write_samples

    try:
        schemas, registry, settings = _load_config(schemas_dir, registry_path, settings_path)
        out_dir = out_dir or ROOT / "samples" / str(year)
        files = generate(year, schemas, registry, settings)
        written = write_samples(files, out_dir, schemas.report)
    except PipelineError as exc:
        fail(exc)
        return
    click.echo(f"Đã tạo {len(written)} tệp mẫu trong {out_dir}.")


@main.command("templates")
@year_option
@click.option(
    "--output",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / "input_templates",
    show_default=True,
    help="Thư mục ghi biểu mẫu.",
)
@click.option(
    "--per-unit",
    is_flag=True,
    help="Tạo một biểu mẫu riêng cho từng đơn vị trong danh mục, điền sẵn và khóa thông tin "
    "đơn vị, thay cho biểu mẫu trống.",
)
@click.option(
    "--units",
    "unit_codes",
    multiple=True,
    metavar="MÃ",
    help="Chỉ tạo cho các đơn vị này (lặp lại tùy chọn hoặc ngăn bằng dấu phẩy); "
    "ngầm bật --per-unit.",
)
@config_options
def templates_cmd(
    year: int,
    out_dir: Path,
    per_unit: bool,
    unit_codes: tuple[str, ...],
    schemas_dir: Path,
    registry_path: Path,
    settings_path: Path,
) -> None:
    """Tạo biểu mẫu Excel chuẩn cho đơn vị điền (biểu mẫu trống hoặc riêng từng đơn vị)."""
    import time

    from pipeline.templates import write_all

    codes = [c for value in unit_codes for c in value.replace(",", " ").split()]
    started = time.perf_counter()
    try:
        schemas, registry, settings = _load_config(schemas_dir, registry_path, settings_path)
        written = write_all(
            schemas.report,
            year,
            settings,
            registry,
            out_dir,
            per_unit=per_unit or bool(codes),
            unit_codes=codes or None,
        )
    except PipelineError as exc:
        fail(exc)
        return
    seconds = f"{time.perf_counter() - started:.1f}".replace(".", ",")
    labels = {v.code: v.label for v in schemas.report.variants}
    if not any(w.unit_code for w in written):
        click.echo(f"Đã tạo {len(written)} biểu mẫu trống năm {year} trong {out_dir}:")
        for w in written:
            click.echo(f"  {w.path.name}  ({labels[w.variant]})")
        return
    click.echo(
        f"Đã tạo {len(written)} biểu mẫu điền sẵn cho từng đơn vị, năm {year}, "
        f"trong {out_dir} ({seconds} giây):"
    )
    for code, label in labels.items():
        count = sum(1 for w in written if w.variant == code)
        if count:
            click.echo(f"  {count} biểu mẫu {label}")
