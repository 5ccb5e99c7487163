"""The user guides (docs/) against the code: commands, options, issue codes and pictures.

The guides are for people who will type exactly what they read, so every command shown must
parse, every command and option the tool has must be documented, every issue code the code
can emit must be explained, and the pictures must be those of today's outputs. A command,
option or code added later makes these tests fail until the guide covers it.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from pathlib import Path

import click
import pytest

from pipeline import docs_images
from pipeline.cli import main
from pipeline.issues import CATALOGUE
from pipeline.schema import Schemas
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = DOCS / "huong-dan-su-dung.md"
UNIT_GUIDE = DOCS / "huong-dan-dien-bieu-mau.md"
GUIDES = (GUIDE, UNIT_GUIDE)
IMAGES = DOCS / "images"
MAX_IMAGES_BYTES = 3_000_000
MAX_UNIT_GUIDE_WORDS = 750
"""The unit guide is meant to be one page; this keeps it from growing into a manual."""

SEVERITY_LABELS = {"error": "Lỗi", "warning": "Cảnh báo", "info": "Thông tin"}
EXTRA_CODES: dict[str, str] = {}
"""Codes emitted outside the catalogue (none: every code the code emits is catalogued)."""

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
_INVOCATION = re.compile(r"(?:^|[\s/\\])python -m pipeline(?=\s|$)(.*)")
_MAKE = re.compile(r"^\s*make ([a-z][a-z-]*)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
_CODE_ROW = re.compile(r"^\|\s*`([a-z][a-z0-9-]*)`\s*\|(.*)\|\s*$", re.MULTILINE)
_HEADING = re.compile(r"^(#{2,3}) (.*)$", re.MULTILINE)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code_lines(text: str) -> list[str]:
    """Every line of every fenced block and every inline code span outside headings.

    Headings name a command (“`python -m pipeline validate`”); they are not examples.
    """
    lines = [line for block in _FENCE.findall(text) for line in block.splitlines()]
    prose = _HEADING.sub("", _FENCE.sub("", text))
    return lines + _INLINE.findall(prose)


def _without_code(text: str) -> str:
    return _INLINE.sub("", _FENCE.sub("", text))


def _commands() -> dict[str, click.Command]:
    assert isinstance(main, click.Group)
    return dict(main.commands)


def _long_options(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    }


def _invocations(text: str) -> list[str]:
    """What follows `python -m pipeline` on each code line, comments dropped."""
    found = []
    for line in _code_lines(text):
        m = _INVOCATION.search(line)
        if m:
            found.append(m.group(1).split(" #")[0].strip())
    return found


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every level-2 and level-3 section."""
    marks = list(_HEADING.finditer(text))
    return [
        (m.group(2), text[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)])
        for i, m in enumerate(marks)
    ]


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


# --------------------------------------------------------------------------- commands


def test_every_command_has_a_section_listing_each_of_its_options() -> None:
    sections = _sections(_text(GUIDE))
    for name, command in _commands().items():
        mine = [body for head, body in sections if f"`python -m pipeline {name}`" in head]
        assert mine, f"hướng dẫn thiếu mục “### `python -m pipeline {name}`”"
        missing = sorted(o for o in _long_options(command) if not _mentions(mine[0], o))
        assert not missing, f"mục của lệnh {name} chưa nói tới tùy chọn {missing}"


def test_every_command_has_an_example_that_parses() -> None:
    used = {shlex.split(call)[0] for call in _invocations(_text(GUIDE)) if call and call[0] != "-"}
    assert set(_commands()) <= used, f"lệnh chưa có ví dụ: {sorted(set(_commands()) - used)}"


def test_group_options_are_documented() -> None:
    text = _text(GUIDE)
    missing = sorted(o for o in _long_options(main) if not _mentions(text, o))
    assert not missing, f"hướng dẫn chưa nói tới tùy chọn chung {missing}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_command_shown_exists_and_parses(guide: Path) -> None:
    """Each `python -m pipeline …` in the guide is parsed by the real click app (not run)."""
    commands = _commands()
    group_options = {o for p in main.params for o in (*p.opts, *p.secondary_opts)}
    help_options = {"-h", "--help"}
    for call in _invocations(_text(guide)):
        args = shlex.split(call)
        while args and args[0].startswith("-"):
            option = args.pop(0)
            assert option in group_options | help_options, f"{call!r}: không có tùy chọn {option}"
        if not args or not re.fullmatch(r"[a-z][a-z0-9-]*", args[0]):
            continue  # `python -m pipeline --help`, or a placeholder such as <lệnh> / …
        name, rest = args[0], args[1:]
        assert name in commands, f"{call!r}: không có lệnh {name}"
        rest = [a for a in rest if a not in help_options]
        try:
            commands[name].make_context(name, rest, parent=click.Context(main))
        except click.BadParameter as exc:
            # Example folders (“thu-da-luu”) need not exist here; anything else is an error.
            kind = exc.param.type if exc.param is not None else None
            if not (isinstance(kind, click.Path) and kind.exists):
                pytest.fail(f"{call!r}: {exc.format_message()}")
        except click.ClickException as exc:
            pytest.fail(f"{call!r}: {exc.format_message()}")


def test_make_targets_shown_exist() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", _text(ROOT / "Makefile"), re.MULTILINE))
    for guide in GUIDES:
        for line in _code_lines(_text(guide)):
            for target in _MAKE.findall(line):
                assert target in targets, f"{guide.name}: Makefile không có mục “make {target}”"


# --------------------------------------------------------------------------- issue codes


def _documented_codes() -> dict[str, list[str]]:
    """Rows `| `code` | mức độ | ý nghĩa | cần làm gì |` of the guide's section 6."""
    section = "".join(body for head, body in _sections(_text(GUIDE)) if head.startswith("6."))
    rows: dict[str, list[str]] = {}
    for m in _CODE_ROW.finditer(section):
        assert m.group(1) not in rows, f"mã {m.group(1)} được giải thích hai lần"
        rows[m.group(1)] = [cell.strip() for cell in m.group(2).split("|")]
    return rows


def _emitted_codes(schemas: Schemas) -> dict[str, str]:
    codes = {code: kind.severity for code, kind in CATALOGUE.items()}
    codes.update({rule.code: rule.severity for rule in schemas.report.rules})
    codes.update(EXTRA_CODES)
    return codes


def test_every_issue_code_is_explained(schemas: Schemas) -> None:
    rows = _documented_codes()
    for code, severity in sorted(_emitted_codes(schemas).items()):
        assert code in rows, f"mục 6 của hướng dẫn chưa giải thích mã {code}"
        cells = rows[code]
        assert len(cells) == 3 and all(cells), f"mã {code}: cần mức độ, ý nghĩa, cần làm gì"
        assert cells[0] == SEVERITY_LABELS[severity], (
            f"mã {code}: hướng dẫn ghi mức độ “{cells[0]}”, chương trình dùng "
            f"“{SEVERITY_LABELS[severity]}”"
        )


def test_no_explained_code_is_stale(schemas: Schemas) -> None:
    stale = sorted(set(_documented_codes()) - set(_emitted_codes(schemas)))
    assert not stale, f"hướng dẫn giải thích mã chương trình không còn dùng: {stale}"


# --------------------------------------------------------------------------- style


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_vietnamese_text_is_nfc_with_dd_mm_yyyy_dates(guide: Path) -> None:
    text = _text(guide)
    assert unicodedata.is_normalized("NFC", text)
    iso = re.findall(r"\b\d{4}-\d{2}-\d{2}\b", _without_code(text))
    assert not iso, f"ngày phải viết dd/mm/yyyy: {iso}"


def test_unit_guide_is_short_and_gives_the_configured_deadline(settings: Settings) -> None:
    text = _text(UNIT_GUIDE)
    assert len(text.split()) <= MAX_UNIT_GUIDE_WORDS
    assert settings.deadline_day_month in text
    assert settings.deadline(docs_images.YEAR).strftime("%d/%m/%Y") in text


def _slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown viewers) give a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_links_lead_somewhere(guide: Path) -> None:
    text = _text(guide)
    anchors = {_slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.MULTILINE)}
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (guide.parent / path).is_file(), f"{guide.name}: liên kết hỏng {target}"
        elif anchor:
            assert anchor in anchors, f"{guide.name}: không có mục #{anchor}"


# --------------------------------------------------------------------------- pictures


def _record() -> dict[str, object]:
    data = json.loads(_text(docs_images.SOURCES_FILE))
    assert isinstance(data, dict)
    return data


def test_pictures_referenced_exist_and_every_picture_is_used() -> None:
    used: set[Path] = set()
    for guide in GUIDES:
        for ref in _IMAGE.findall(_text(guide)):
            path = (guide.parent / ref).resolve()
            assert path.is_file(), f"{guide.name}: không có hình {ref}"
            used.add(path)
    on_disk = {p.resolve() for p in IMAGES.glob("*.png")}
    assert on_disk - used == set(), f"hình không dùng tới: {sorted(p.name for p in on_disk - used)}"


def test_pictures_are_what_make_docs_writes() -> None:
    record = _record()
    pages = record["pages"]
    sources = record["sources"]
    assert isinstance(pages, dict) and isinstance(sources, dict)
    assert set(pages) == {s.name for s in docs_images.SHOTS}
    charts = {k for k in sources if k.startswith(docs_images.CHART_PREFIX)}
    expected = {f"{name}.png" for name in (*pages, *charts)}
    assert {p.name for p in IMAGES.glob("*.png")} == expected
    total = sum(p.stat().st_size for p in IMAGES.iterdir())
    assert total < MAX_IMAGES_BYTES, f"docs/images nặng {total} byte"


def test_sample_run_summary_in_the_guide_is_the_recorded_one() -> None:
    """The summary `consolidate` prints, quoted in step 6, is the one `make docs` recorded."""
    lines = _record()["consolidate_summary"]
    assert isinstance(lines, list) and lines
    text = _text(GUIDE)
    missing = [line for line in lines if line not in text]
    assert not missing, f"bước 6 của hướng dẫn cần chép lại tóm tắt trong nguon.json: {missing}"


def test_pictures_match_what_the_code_produces_today(tmp_path: Path) -> None:
    """The template, feedback, report, draft and charts are byte-reproducible: compare hashes.

    No LibreOffice needed. When this fails, the outputs changed since the pictures were made:
    run `make docs` and commit docs/images/ (and the summary quoted in the guide, if it moved).
    """
    sources = docs_images.build_sources(tmp_path, docs_images.YEAR)
    record = _record()
    stale = "Hình minh họa trong docs/images/ đã cũ: chạy `make docs` rồi commit docs/images/."
    assert sources.hashes() == record["sources"], stale
    assert sources.summary.splitlines() == record["consolidate_summary"], stale
