"""Command line: a thin click shell over the library; library errors become plain messages."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import PipelineError

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
    """Print a library error for the user and stop with exit code 2."""
    click.echo(f"Lỗi: {exc}", err=True)
    sys.exit(2)
