"""The declarative report schema (schemas/report.yaml) and criteria (schemas/criteria.yaml).

These two files are the single source of truth for the templates' layout, their Excel data
validation, the reader, the pandera checks and the report's labels. This module loads them
into small frozen dataclasses and refuses a broken file with a Vietnamese message naming the
file and the key, because the person editing them is a department specialist, not a
programmer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml

from pipeline.errors import SchemaError

FieldType = Literal["integer", "decimal", "percent", "money", "yes_no", "choice", "date", "text"]
FIELD_TYPES: tuple[str, ...] = (
    "integer",
    "decimal",
    "percent",
    "money",
    "yes_no",
    "choice",
    "date",
    "text",
)
NUMERIC_TYPES = frozenset({"integer", "decimal", "percent", "money"})
PREFILL_SOURCES = frozenset({"unit_code", "unit_name", "unit_type_label", "area_name", "year"})
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
RULE_CODE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
IDENT_RE = re.compile(r"(?<![@\w'\"])([A-Za-z_][A-Za-z0-9_]*)")
EXPR_KEYWORDS = frozenset({"and", "or", "not", "in", "True", "False", "None"})

DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def nfc(text: str) -> str:
    """Normalise to NFC: files written on macOS arrive decomposed (NFD)."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Choice:
    code: str
    label: str
    rank: int


@dataclass(frozen=True)
class Field:
    """One input cell (scalar) or one column of a list."""

    code: str
    label: str
    type: FieldType
    section: str
    required: bool = False
    help: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: str | None = None
    pattern: str | None = None
    prefill: str | None = None
    long: bool = False
    variants: tuple[str, ...] = ()
    source: str = ""
    summable: bool = False
    """A count or an amount: adding it over units means something (a year or a code does not)."""
    part_of: tuple[str, ...] = ()
    """The field(s) whose sum this one is a part of (``part_of`` in the schema), or ()."""
    not_part_of: str = ""
    """Why this count is not declared a part of another (``not_part_of``), or ""."""
    part_of_code: str = ""
    """The issue code of the declared relation ("" until the loader derives it)."""
    part_of_severity: Literal["error", "warning"] = "error"
    if_blank: str = ""
    """What a blank in this required cell means for the figures and what to do (``if_blank``,
    Vietnamese), said in its ``required-missing`` message instead of the generic one."""

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def in_variant(self, variant: str) -> bool:
        return not self.variants or variant in self.variants


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    sheet: str
    source: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class ListSpec:
    """A repeating table (initiatives, nominations) or the fixed-row people matrix."""

    code: str
    title: str
    sheet: str
    source: str
    fields: tuple[Field, ...]
    rows: int = 200
    fixed_field: str | None = None
    fixed_choices: str | None = None

    def field(self, code: str) -> Field:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(code)


@dataclass(frozen=True)
class Relation:
    """``part`` is a part of ``whole`` (one field, or the sum of several): part ≤ whole.

    Declared once in the schema with ``part_of``; the validation rule, the template's red
    mark and the rates' pairing all come from it. ``via`` is empty for a declared pair and
    names the fields in between for one implied by two or more declarations (recognised ⊂
    registered ⊂ total gives recognised ≤ total, checked even when registered is blank).
    """

    part: str
    whole: tuple[str, ...]
    code: str
    severity: Literal["error", "warning"]
    list: str | None = None
    via: tuple[str, ...] = ()

    @property
    def check(self) -> str:
        return f"{self.part} <= {' + '.join(self.whole)}"


@dataclass(frozen=True)
class Rule:
    """A cross-field rule: `check` must hold (where `when` holds), or `required` must be filled."""

    code: str
    severity: Literal["error", "warning"]
    message: str
    list: str | None = None
    check: str | None = None
    when: str | None = None
    required: str | None = None
    fields: tuple[str, ...] = ()
    relation: Relation | None = None
    """The part-of declaration this rule was made from (None: a hand-written rule)."""


@dataclass(frozen=True)
class Variant:
    code: str
    template_id: str
    label: str
    file_stem: str
    unit_types: tuple[str, ...]


@dataclass(frozen=True)
class Sheet:
    code: str
    name: str


@dataclass(frozen=True)
class ReportSchema:
    """schemas/report.yaml, loaded."""

    id: str
    version: str
    title: str
    variants: tuple[Variant, ...]
    unit_types: tuple[Choice, ...]
    sheets: tuple[Sheet, ...]
    choices: Mapping[str, tuple[Choice, ...]]
    sections: tuple[Section, ...]
    lists: tuple[ListSpec, ...]
    rules: tuple[Rule, ...]
    """The rules made from the part-of relations (declared, then implied), then the others."""
    relations: tuple[Relation, ...] = ()
    """Every part-of pair: the declared ones in schema order, then the implied ones."""
    path: Path = field(compare=False, default=Path("report.yaml"))

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Every scalar field, in template order."""
        return tuple(f for s in self.sections for f in s.fields)

    @cached_property
    def field_map(self) -> dict[str, Field]:
        return {f.code: f for f in self.fields}

    @cached_property
    def list_map(self) -> dict[str, ListSpec]:
        return {lst.code: lst for lst in self.lists}

    def sheet_name(self, code: str) -> str:
        for s in self.sheets:
            if s.code == code:
                return s.name
        raise KeyError(code)

    def variant(self, code: str) -> Variant:
        for v in self.variants:
            if v.code == code:
                return v
        raise KeyError(code)

    def variant_for_unit_type(self, unit_type: str) -> Variant:
        for v in self.variants:
            if unit_type in v.unit_types:
                return v
        raise KeyError(unit_type)

    def variant_for_template_id(self, template_id: str) -> Variant | None:
        for v in self.variants:
            if v.template_id == template_id:
                return v
        return None

    def fields_for(self, variant: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.in_variant(variant))

    def choice_label(self, choices: str, code: str) -> str:
        for c in self.choices[choices]:
            if c.code == code:
                return c.label
        return code

    def unit_type_label(self, code: str) -> str:
        for c in self.unit_types:
            if c.code == code:
                return c.label
        return code

    def iter_all_fields(self) -> Iterator[tuple[str | None, Field]]:
        """Scalars (list None) then every list column, with the list code."""
        for f in self.fields:
            yield None, f
        for lst in self.lists:
            for f in lst.fields:
                yield lst.code, f


@dataclass(frozen=True)
class Param:
    """A threshold the department sets. A choice param (`choice:` in the file) holds a code of
    a choice list; its `value` is that choice's rank, so expressions compare levels."""

    code: str
    value: float
    label: str
    source: str
    choice: str | None = None
    choices: str | None = None


@dataclass(frozen=True)
class Recognition:
    """A derived 1/0 metric: a recognised level still valid in the report year.

    With ``state: unknown`` instead: 1 when the recognition cannot be known (level blank or
    excluded, a recognised level without its year, a year excluded), else 0 — the count of
    units a target states as “chưa rõ” (docs/dac-ta-tieu-chi.md, mục 5.1)."""

    level: str
    year: str
    levels: tuple[str, ...]
    state: str = "valid"


@dataclass(frozen=True)
class Derived:
    code: str
    label: str
    list: str | None = None
    sum: str | None = None
    count: bool = False
    where: str | None = None
    expr: str | None = None
    level_at_least: tuple[str, str] | None = None
    """(choice column, choice param): rows whose level ranks at or above the param's."""
    year_within: tuple[str, str] | None = None
    """(year column, param n): rows of the report year or the n − 1 years before it."""
    filled: tuple[str, ...] = ()
    """Columns that must not be blank for a row to count."""
    recognition: Recognition | None = None

    @property
    def per_unit(self) -> bool:
        """A value per unit (an expression or a recognition), not a sum over a list: its
        city figure is a number of units."""
        return self.expr is not None or self.recognition is not None

    @property
    def filter_columns(self) -> tuple[str, ...]:
        """List columns the row filters read (beyond `where`)."""
        cols = [pair[0] for pair in (self.level_at_least, self.year_within) if pair]
        return (*cols, *self.filled)


@dataclass(frozen=True)
class Rate:
    """A share criterion: numerator ≥ threshold × denominator, the denominator above zero.

    The threshold is a param (`at_least`) or the milestone of a target in force for the report
    year (`target`), so a criterion and the target table state the same figure."""

    numerator: str
    denominator: str
    at_least: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    applies_to: tuple[str, ...]
    expr: str | None
    source: str
    rate: Rate | None = None

    @property
    def inputs(self) -> list[str]:
        """Field and derived-metric codes the criterion reads, in order."""
        if self.rate is not None:
            return [self.rate.numerator, self.rate.denominator]
        return expr_names(self.expr)


@dataclass(frozen=True)
class LevelSpec:
    code: str
    min_member_rate: float
    min_learner_rate: float
    min_emulation_title: str
    min_digital_level: str
    min_months_after_level_1: int = 0


@dataclass(frozen=True)
class LearningUnitLevels:
    source: str
    validity_years: int
    indicators: tuple[str, ...]
    levels: tuple[LevelSpec, ...]
    learners_expected: tuple[str, ...] = ()
    """Unit types that have learners: for them a missing learner rate is missing data."""

    def valid_through(self, recognised_year: int) -> int:
        """The last report year a recognition of `recognised_year` still counts for."""
        return recognised_year + self.validity_years - 1


@dataclass(frozen=True)
class Target:
    code: str
    label: str
    numerator: str
    denominator: str
    milestones: Mapping[int, float]
    source: str
    unknown: str | None = None
    """A derived count of units whose numerator is unknown. When set, such a unit stays in
    the denominator and counts as not met (the denominator is every unit that reported),
    and the report states how many they are (“trong đó N đơn vị chưa rõ”)."""

    def milestone_for(self, year: int) -> tuple[int, float] | None:
        """The nearest milestone at or after `year` (the one the year is working towards)."""
        ahead = sorted(y for y in self.milestones if y >= year)
        if not ahead:
            return None
        return ahead[0], self.milestones[ahead[0]]

    def in_force(self, year: int) -> tuple[int, float] | None:
        """The (milestone year, rate) a report of `year` is measured against.

        The next milestone at or after the year; past the last milestone that one still holds
        (80% "by 2025" is still the bar in 2026). The one rule for the criteria, Biểu 01 and
        the draft report, so they cannot state different targets for the same year.
        """
        found = self.milestone_for(year)
        if found is None and self.milestones:
            last = max(self.milestones)
            found = (last, self.milestones[last])
        return found


@dataclass(frozen=True)
class CriteriaSchema:
    """schemas/criteria.yaml, loaded."""

    version: str
    params: Mapping[str, Param]
    derived: tuple[Derived, ...]
    criteria: tuple[Criterion, ...]
    learning_unit_levels: LearningUnitLevels
    targets: tuple[Target, ...]
    path: Path = field(compare=False, default=Path("criteria.yaml"))

    @property
    def param_values(self) -> dict[str, float]:
        return {k: p.value for k, p in self.params.items()}

    @cached_property
    def target_map(self) -> dict[str, Target]:
        return {t.code: t for t in self.targets}


@dataclass(frozen=True)
class Schemas:
    report: ReportSchema
    criteria: CriteriaSchema


# --------------------------------------------------------------------------- loading


class _Ctx:
    """Carries the file name so every error can say where it is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> SchemaError:
        return SchemaError(f"Lỗi trong tệp {self.path.name}, mục “{key}”: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "phải là một bảng khóa: giá trị.")
        return value

    def seq(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, "phải là một danh sách.")
        return value

    def text(self, data: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if value is None:
            raise self.fail(f"{key}.{name}", "thiếu giá trị bắt buộc.")
        if not isinstance(value, str | int | float):
            raise self.fail(f"{key}.{name}", "phải là chữ hoặc số.")
        return nfc(str(value))

    def number(self, data: Mapping[str, Any], name: str, key: str) -> float | None:
        value = data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}.{name}", f"phải là số, không phải “{value}”.")
        return float(value)

    def flag(self, data: Mapping[str, Any], name: str, key: str) -> bool:
        # YAML reads `true`/`false`/`yes`/`no` as booleans; anything else (e.g. "không") is a
        # mistake that bool() would silently turn into True.
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"chỉ nhận true hoặc false, không phải “{value}”.")
        return value

    def code(self, data: Mapping[str, Any], key: str, pattern: re.Pattern[str] = CODE_RE) -> str:
        code = self.text(data, "code", key)
        if not pattern.match(code):
            sep = "“-”" if pattern is RULE_CODE_RE else "“_”"
            raise self.fail(
                f"{key}.code", f"mã “{code}” chỉ được gồm chữ thường không dấu, số, {sep}."
            )
        return code

    def unique(self, codes: list[str], key: str) -> None:
        seen: set[str] = set()
        for c in codes:
            if c in seen:
                raise self.fail(key, f"mã “{c}” bị trùng.")
            seen.add(c)


YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader, in C when libyaml is there: the schema files load in a fifth of the
time, and every run loads them before it can start reading."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"Không tìm thấy tệp cấu hình {path}.") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"Tệp {path.name} không phải văn bản UTF-8.") from exc
    try:
        data = yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1}, cột {mark.column + 1})" if mark else ""
        raise SchemaError(f"Tệp {path.name} sai cú pháp YAML{where}: {exc}") from exc
    if not isinstance(data, dict):
        raise SchemaError(f"Tệp {path.name} phải là một bảng khóa: giá trị ở cấp ngoài cùng.")
    return data


def _known(value: Any, names: Collection[str] | Mapping[str, Any]) -> TypeGuard[str]:
    """`value in names`, false (not TypeError) when a list or mapping was written instead."""
    return isinstance(value, str) and value in names


def expr_names(expr: str | None) -> list[str]:
    """Field names an expression uses, in order of first use (no keywords, no @params)."""
    if not expr:
        return []
    stripped = re.sub(r"'[^']*'|\"[^\"]*\"", "''", expr)
    found = [m for m in IDENT_RE.findall(stripped) if m not in EXPR_KEYWORDS]
    return list(dict.fromkeys(found))


def _expr_names(expr: str) -> set[str]:
    return set(expr_names(expr))


def _parse_field(
    ctx: _Ctx,
    raw: Any,
    key: str,
    section: str,
    choices: Mapping[str, tuple[Choice, ...]],
    variants: set[str],
) -> Field:
    data = ctx.mapping(raw, key)
    code = ctx.code(data, key)
    key = f"{key}[{code}]"
    known = {
        "code", "label", "type", "required", "help", "unit", "min", "max", "choices",
        "pattern", "prefill", "long", "variants", "source", "summable", "part_of",
        "not_part_of", "if_blank",
    }  # fmt: skip
    extra = sorted(set(data) - known)
    if extra:
        raise ctx.fail(f"{key}.{extra[0]}", "khóa không được hỗ trợ.")
    ftype = ctx.text(data, "type", key)
    if ftype not in FIELD_TYPES:
        raise ctx.fail(
            f"{key}.type", f"kiểu “{ftype}” không có; dùng một trong: {', '.join(FIELD_TYPES)}."
        )
    choice_set = data.get("choices")
    if ftype == "choice":
        if not _known(choice_set, choices):
            raise ctx.fail(f"{key}.choices", f"danh mục lựa chọn “{choice_set}” không có.")
    elif choice_set is not None:
        raise ctx.fail(f"{key}.choices", "chỉ dùng cho kiểu choice.")
    prefill = data.get("prefill")
    if prefill is not None and not _known(prefill, PREFILL_SOURCES):
        raise ctx.fail(f"{key}.prefill", f"“{prefill}” không phải nguồn điền sẵn hợp lệ.")
    field_variants = tuple(ctx.seq(data.get("variants", []), f"{key}.variants"))
    for v in field_variants:
        if not _known(v, variants):
            raise ctx.fail(f"{key}.variants", f"bản biểu mẫu “{v}” không có.")
    lo, hi = ctx.number(data, "min", key), ctx.number(data, "max", key)
    if lo is not None and hi is not None and lo > hi:
        raise ctx.fail(f"{key}.min", "min lớn hơn max.")
    if ftype == "percent" and lo is None:
        lo = 0.0
    if ftype == "percent" and hi is None:
        hi = 100.0
    summable = ctx.flag(data, "summable", key)
    if summable and ftype not in NUMERIC_TYPES:
        raise ctx.fail(
            f"{key}.summable", f"chỉ số liệu dạng số mới cộng được; “{code}” có kiểu {ftype}."
        )
    whole, rel_code, severity = _parse_part_of(ctx, data.get("part_of"), f"{key}.part_of")
    not_part_of = ctx.text(data, "not_part_of", key, "")
    if whole and ftype not in NUMERIC_TYPES:
        raise ctx.fail(f"{key}.part_of", "chỉ số liệu dạng số mới là một phần của số khác.")
    if whole and not_part_of:
        raise ctx.fail(f"{key}.not_part_of", "đã khai báo part_of thì không ghi not_part_of.")
    return Field(
        code=code,
        label=ctx.text(data, "label", key),
        type=ftype,  # type: ignore[arg-type]
        section=section,
        required=ctx.flag(data, "required", key),
        help=ctx.text(data, "help", key, ""),
        unit=ctx.text(data, "unit", key, ""),
        min=lo,
        max=hi,
        choices=choice_set,
        pattern=data.get("pattern"),
        prefill=prefill,
        long=ctx.flag(data, "long", key),
        variants=field_variants,
        source=ctx.text(data, "source", key, ""),
        summable=summable,
        part_of=whole,
        not_part_of=not_part_of,
        part_of_code=rel_code,
        part_of_severity=severity,  # type: ignore[arg-type]
        if_blank=ctx.text(data, "if_blank", key, ""),
    )


_WHOLE_RE = re.compile(r"^\s*([a-z][a-z0-9_]*)(\s*\+\s*[a-z][a-z0-9_]*)*\s*$")


def _parse_part_of(ctx: _Ctx, raw: Any, key: str) -> tuple[tuple[str, ...], str, str]:
    """``part_of: total`` / ``part_of: "a + b"`` / ``{whole: …, code: …, severity: …}``."""
    if raw is None:
        return (), "", "error"
    data = {"whole": raw} if isinstance(raw, str) else ctx.mapping(raw, key)
    extra = sorted(set(data) - {"whole", "code", "severity"})
    if extra:
        raise ctx.fail(f"{key}.{extra[0]}", "khóa không được hỗ trợ (dùng whole, code, severity).")
    whole = data.get("whole")
    if not isinstance(whole, str) or not _WHOLE_RE.match(whole):
        raise ctx.fail(
            key, f"“{whole}” phải là mã một chỉ tiêu hoặc tổng nhiều chỉ tiêu, ví dụ “a + b”."
        )
    names = tuple(n.strip() for n in whole.split("+"))
    ctx.unique(list(names), key)
    code = ""
    if data.get("code") is not None:
        code = ctx.code(data, key, RULE_CODE_RE)
    severity = ctx.text(data, "severity", key, "error")
    if severity not in ("error", "warning"):
        raise ctx.fail(f"{key}.severity", "chỉ nhận error hoặc warning.")
    return names, code, severity


def relation_code(part: str, whole: Sequence[str]) -> str:
    """The issue code of a part-of pair not named in the schema: ``<part>-gt-<whole>``.

    Underscores become hyphens and a sum's fields are joined by ``-plus-``, so the code of a
    pair can be read off the schema (``institutions_recognised`` ≤ ``institutions_total``
    → ``institutions-recognised-gt-institutions-total``).
    """
    return "-gt-".join((part, "-plus-".join(whole))).replace("_", "-")


def _parse_choices(ctx: _Ctx, raw: Any) -> dict[str, tuple[Choice, ...]]:
    out: dict[str, tuple[Choice, ...]] = {}
    for name, items in ctx.mapping(raw, "choices").items():
        key = f"choices.{name}"
        parsed = []
        for i, item in enumerate(ctx.seq(items, key)):
            d = ctx.mapping(item, f"{key}[{i}]")
            parsed.append(
                Choice(
                    code=ctx.code(d, f"{key}[{i}]"),
                    label=ctx.text(d, "label", f"{key}[{i}]"),
                    rank=int(ctx.number(d, "rank", f"{key}[{i}]") or 0),
                )
            )
        ctx.unique([c.code for c in parsed], key)
        ctx.unique([c.label for c in parsed], f"{key} (nhãn)")
        out[str(name)] = tuple(parsed)
    return out


def _parse_rule(
    ctx: _Ctx, raw: Any, i: int, scalars: set[str], lists: Mapping[str, set[str]]
) -> Rule:
    key = f"rules[{i}]"
    d = ctx.mapping(raw, key)
    code = ctx.code(d, key, RULE_CODE_RE)
    key = f"rules[{code}]"
    severity = ctx.text(d, "severity", key)
    if severity not in ("error", "warning"):
        raise ctx.fail(f"{key}.severity", "chỉ nhận error hoặc warning.")
    list_code = d.get("list")
    if list_code is not None and not _known(list_code, lists):
        raise ctx.fail(f"{key}.list", f"danh sách “{list_code}” không có.")
    check, when, required = d.get("check"), d.get("when"), d.get("required")
    if (check is None) == (required is None):
        raise ctx.fail(key, "cần đúng một trong hai khóa check hoặc required.")
    names: set[str] = set()
    local: set[str] = set()
    for part in (check, when):
        if part is not None:
            names |= _expr_names(str(part))
            local |= set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", str(part)))
    if required is not None:
        names.add(str(required))
    allowed = lists[list_code] if list_code else scalars
    for n in sorted(names):
        if n not in allowed:
            raise ctx.fail(f"{key}", f"quy tắc nhắc tới chỉ tiêu “{n}” không có trong biểu mẫu.")
    for n in sorted(local):
        if n not in scalars:
            raise ctx.fail(f"{key}", f"quy tắc nhắc tới chỉ tiêu “@{n}” không có trong biểu mẫu.")
    message = ctx.text(d, "message", key)
    return Rule(
        code=code,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        list=list_code,
        check=None if check is None else str(check),
        when=None if when is None else str(when),
        required=None if required is None else str(required),
        fields=tuple(sorted(names)),
    )


def _quoted(label: str) -> str:
    """A label inside Vietnamese quotes; its own quotes become single ones (“a ‘b’”)."""
    return "“" + label.replace("“", "‘").replace("”", "’") + "”"


def _relations(
    ctx: _Ctx, fields: Sequence[Field], list_code: str | None, key: str
) -> list[Relation]:
    """The declared part-of pairs of one scope (the scalars, or one list), then the implied.

    A pair is implied when a part's whole is itself a part of something: recognised ⊂
    registered ⊂ total gives recognised ≤ total. Only a single-field whole passes its own
    whole on (a part of ``a + b`` is not thereby a part of what ``a`` is a part of). An implied
    pair is a warning when any declaration on its way is one (it is only as sure as its
    weakest link).
    """
    by_code = {f.code: f for f in fields}
    declared: dict[str, Relation] = {}
    for f in fields:
        if not f.part_of:
            continue
        where = f"{key}[{f.code}].part_of"
        for name in f.part_of:
            whole = by_code.get(name)
            if whole is None:
                scope = f"danh sách “{list_code}”" if list_code else "các chỉ tiêu đơn lẻ"
                raise ctx.fail(where, f"chỉ tiêu “{name}” không có trong {scope}.")
            if name == f.code:
                raise ctx.fail(where, "một chỉ tiêu không thể là một phần của chính nó.")
            if not whole.is_numeric:
                raise ctx.fail(where, f"“{name}” không phải số liệu dạng số.")
        declared[f.code] = Relation(
            part=f.code,
            whole=f.part_of,
            code=f.part_of_code or relation_code(f.code, f.part_of),
            severity=f.part_of_severity,
            list=list_code,
        )
    implied: list[Relation] = []
    for rel in declared.values():
        current, severity = rel, rel.severity
        via: tuple[str, ...] = ()
        seen = {rel.part}
        while len(current.whole) == 1 and current.whole[0] in declared:
            step = current.whole[0]
            if step in seen:
                raise ctx.fail(
                    f"{key}[{rel.part}].part_of",
                    f"vòng lặp: “{rel.part}” là một phần của “{step}” và ngược lại.",
                )
            seen.add(step)
            via = (*via, step)
            current = declared[step]
            if current.severity == "warning":
                severity = "warning"
            implied.append(
                Relation(
                    part=rel.part,
                    whole=current.whole,
                    code=relation_code(rel.part, current.whole),
                    severity=severity,
                    list=list_code,
                    via=via,
                )
            )
    return [*declared.values(), *implied]


def _relation_rule(rel: Relation, fields: Mapping[str, Field], fixed: Field | None) -> Rule:
    """The validation rule of a part-of pair, with a message naming both labels and values."""
    prefix = f"{fixed.label} “{{{fixed.code}}}”: " if fixed is not None else ""
    part = f"{_quoted(fields[rel.part].label)} ({{{rel.part}}})"
    wholes = [_quoted(fields[w].label) for w in rel.whole]
    if len(wholes) == 1:
        whole = f"{wholes[0]} ({{{rel.whole[0]}}})"
        why = (
            "Số thứ nhất là một phần của số thứ hai nên không thể lớn hơn; kiểm tra lại hai ô này."
        )
    else:
        names = ", ".join(wholes[:-1]) + " và " + wholes[-1]
        whole = f"tổng của {names} ({{{' + '.join(rel.whole)}}})"
        why = "Số thứ nhất là một phần của tổng này nên không thể lớn hơn; kiểm tra lại các ô này."
    return Rule(
        code=rel.code,
        severity=rel.severity,
        message=f"{prefix}{part} lớn hơn {whole}. {why}",
        list=rel.list,
        check=rel.check,
        fields=tuple(sorted({rel.part, *rel.whole})),
        relation=rel,
    )


def load_report_schema(path: Path) -> ReportSchema:
    """Load and check schemas/report.yaml; raise SchemaError naming the file and key."""
    ctx = _Ctx(path)
    data = _read_yaml(path)
    choices = _parse_choices(ctx, data.get("choices", {}))
    unit_types = []
    for i, ut in enumerate(ctx.seq(data.get("unit_types"), "unit_types")):
        d = ctx.mapping(ut, f"unit_types[{i}]")
        unit_types.append(
            Choice(ctx.code(d, f"unit_types[{i}]"), ctx.text(d, "label", f"unit_types[{i}]"), 0)
        )
    ctx.unique([u.code for u in unit_types], "unit_types")
    ut_codes = {u.code for u in unit_types}
    variants = []
    for name, raw in ctx.mapping(data.get("variants"), "variants").items():
        key = f"variants.{name}"
        d = ctx.mapping(raw, key)
        types = tuple(ctx.seq(d.get("unit_types"), f"{key}.unit_types"))
        for t in types:
            if not _known(t, ut_codes):
                raise ctx.fail(f"{key}.unit_types", f"loại đơn vị “{t}” không có trong unit_types.")
        variants.append(
            Variant(
                code=str(name),
                template_id=ctx.text(d, "template_id", key),
                label=ctx.text(d, "label", key),
                file_stem=ctx.text(d, "file_stem", key),
                unit_types=types,
            )
        )
    covered = [t for v in variants for t in v.unit_types]
    ctx.unique(covered, "variants.*.unit_types")
    ctx.unique([v.template_id for v in variants], "variants.*.template_id")
    variant_codes = {v.code for v in variants}
    sheets = []
    for i, raw in enumerate(ctx.seq(data.get("sheets"), "sheets")):
        d = ctx.mapping(raw, f"sheets[{i}]")
        name = ctx.text(d, "name", f"sheets[{i}]")
        if len(name) > 31 or any(ch in name for ch in "[]:*?/\\"):
            raise ctx.fail(
                f"sheets[{i}].name", "tên trang tính Excel tối đa 31 ký tự, không có []:*?/\\."
            )
        sheets.append(Sheet(ctx.code(d, f"sheets[{i}]"), name))
    ctx.unique([s.code for s in sheets], "sheets")
    ctx.unique([s.name for s in sheets], "sheets (tên)")
    sheet_codes = {s.code for s in sheets}

    sections = []
    all_codes: list[str] = []
    defined_at: dict[str, str] = {}  # field code -> where it was first defined
    for i, raw in enumerate(ctx.seq(data.get("sections"), "sections")):
        d = ctx.mapping(raw, f"sections[{i}]")
        scode = ctx.code(d, f"sections[{i}]")
        key = f"sections[{scode}]"
        sheet = ctx.text(d, "sheet", key)
        if sheet not in sheet_codes:
            raise ctx.fail(f"{key}.sheet", f"trang tính “{sheet}” không có trong sheets.")
        fields = tuple(
            _parse_field(ctx, f, f"{key}.fields[{j}]", scode, choices, variant_codes)
            for j, f in enumerate(ctx.seq(d.get("fields"), f"{key}.fields"))
        )
        for j, f in enumerate(fields):
            if f.code in defined_at:
                raise ctx.fail(
                    f"{key}.fields[{j}].code", f"mã “{f.code}” bị trùng với {defined_at[f.code]}."
                )
            defined_at[f.code] = f"{key}.fields[{j}]"
        all_codes.extend(f.code for f in fields)
        sections.append(
            Section(scode, ctx.text(d, "title", key), sheet, ctx.text(d, "source", key, ""), fields)
        )
    lists = []
    for i, raw in enumerate(ctx.seq(data.get("lists", []), "lists")):
        d = ctx.mapping(raw, f"lists[{i}]")
        lcode = ctx.code(d, f"lists[{i}]")
        key = f"lists[{lcode}]"
        sheet = ctx.text(d, "sheet", key)
        if sheet not in sheet_codes:
            raise ctx.fail(f"{key}.sheet", f"trang tính “{sheet}” không có trong sheets.")
        fields = tuple(
            _parse_field(ctx, f, f"{key}.fields[{j}]", lcode, choices, variant_codes)
            for j, f in enumerate(ctx.seq(d.get("fields"), f"{key}.fields"))
        )
        ctx.unique([f.code for f in fields], f"{key}.fields")
        fixed = d.get("fixed_rows")
        fixed_field = fixed_choices = None
        if fixed is not None:
            fd = ctx.mapping(fixed, f"{key}.fixed_rows")
            fixed_field = ctx.text(fd, "field", f"{key}.fixed_rows")
            fixed_choices = ctx.text(fd, "choices", f"{key}.fixed_rows")
            if fixed_field not in {f.code for f in fields}:
                raise ctx.fail(f"{key}.fixed_rows.field", f"cột “{fixed_field}” không có.")
            if fixed_choices not in choices:
                raise ctx.fail(f"{key}.fixed_rows.choices", f"“{fixed_choices}” không có.")
        rows = int(ctx.number(d, "rows", key) or 200)
        lists.append(
            ListSpec(
                code=lcode,
                title=ctx.text(d, "title", key),
                sheet=sheet,
                source=ctx.text(d, "source", key, ""),
                fields=fields,
                rows=rows,
                fixed_field=fixed_field,
                fixed_choices=fixed_choices,
            )
        )
    ctx.unique(all_codes + [lst.code for lst in lists], "sections.*.fields / lists")
    scalars = set(all_codes)
    list_fields = {lst.code: {f.code for f in lst.fields} for lst in lists}
    scalar_fields = [f for s in sections for f in s.fields]
    relations = _relations(ctx, scalar_fields, None, "sections.*.fields")
    for lst in lists:
        relations += _relations(ctx, lst.fields, lst.code, f"lists[{lst.code}].fields")
    field_maps: dict[str | None, dict[str, Field]] = {None: {f.code: f for f in scalar_fields}}
    fixed_of: dict[str | None, Field | None] = {None: None}
    for lst in lists:
        field_maps[lst.code] = {f.code: f for f in lst.fields}
        fixed_of[lst.code] = lst.field(lst.fixed_field) if lst.fixed_field else None
    rules = tuple(
        _relation_rule(rel, field_maps[rel.list], fixed_of[rel.list]) for rel in relations
    ) + tuple(
        _parse_rule(ctx, r, i, scalars, list_fields)
        for i, r in enumerate(ctx.seq(data.get("rules", []), "rules"))
    )
    ctx.unique([r.code for r in rules], "rules")
    return ReportSchema(
        id=ctx.text(data, "id", "id"),
        version=ctx.text(data, "version", "version"),
        title=ctx.text(data, "title", "title"),
        variants=tuple(variants),
        unit_types=tuple(unit_types),
        sheets=tuple(sheets),
        choices=choices,
        sections=tuple(sections),
        lists=tuple(lists),
        rules=rules,
        relations=tuple(relations),
        path=path,
    )


def _parse_param(ctx: _Ctx, name: str, raw: Any, report: ReportSchema) -> Param:
    key = f"params.{name}"
    d = ctx.mapping(raw, key)
    label, source = ctx.text(d, "label", key), ctx.text(d, "source", key, "")
    if "choice" in d:
        choices = ctx.text(d, "choices", key)
        if choices not in report.choices:
            raise ctx.fail(f"{key}.choices", f"danh mục “{choices}” không có trong report.yaml.")
        code = ctx.text(d, "choice", key)
        found = [c for c in report.choices[choices] if c.code == code]
        if not found:
            allowed = ", ".join(c.code for c in report.choices[choices])
            raise ctx.fail(f"{key}.choice", f"“{code}” không có trong {choices} ({allowed}).")
        return Param(name, float(found[0].rank), label, source, choice=code, choices=choices)
    value = ctx.number(d, "value", key)
    if value is None:
        raise ctx.fail(f"{key}.value", "thiếu giá trị.")
    return Param(name, value, label, source)


def _parse_recognition(ctx: _Ctx, raw: Any, key: str, report: ReportSchema) -> Recognition:
    d = ctx.mapping(raw, f"{key}.recognition")
    level = ctx.text(d, "level", f"{key}.recognition")
    year = ctx.text(d, "year", f"{key}.recognition")
    fm = report.field_map
    if level not in fm or fm[level].type != "choice" or not fm[level].choices:
        raise ctx.fail(f"{key}.recognition.level", f"“{level}” không phải chỉ tiêu lựa chọn.")
    if year not in fm or fm[year].type != "integer":
        raise ctx.fail(f"{key}.recognition.year", f"“{year}” không phải chỉ tiêu năm (số nguyên).")
    codes = {c.code for c in report.choices[fm[level].choices or ""]}
    levels = tuple(str(x) for x in ctx.seq(d.get("levels"), f"{key}.recognition.levels"))
    for lv in levels:
        if lv not in codes:
            raise ctx.fail(f"{key}.recognition.levels", f"mức “{lv}” không có.")
    state = str(d.get("state", "valid"))
    if state not in ("valid", "unknown"):
        raise ctx.fail(f"{key}.recognition.state", "chỉ nhận “valid” hoặc “unknown”.")
    return Recognition(level, year, levels, state)


def _parse_row_filters(
    ctx: _Ctx, d: Mapping[str, Any], key: str, lst: ListSpec, params: Mapping[str, Param]
) -> tuple[tuple[str, str] | None, tuple[str, str] | None, tuple[str, ...]]:
    """`level_at_least`, `year_within` and `filled` of a derived count over a list."""
    cols = {f.code: f for f in lst.fields}
    level = year = None
    if d.get("level_at_least") is not None:
        k = f"{key}.level_at_least"
        m = ctx.mapping(d["level_at_least"], k)
        col, param = ctx.text(m, "field", k), ctx.text(m, "param", k)
        if col not in cols or not cols[col].choices:
            raise ctx.fail(f"{k}.field", f"cột “{col}” không phải cột lựa chọn của “{lst.code}”.")
        if param not in params or params[param].choices != cols[col].choices:
            raise ctx.fail(
                f"{k}.param", f"cần một tham số lựa chọn (choices: {cols[col].choices})."
            )
        level = (col, param)
    if d.get("year_within") is not None:
        k = f"{key}.year_within"
        m = ctx.mapping(d["year_within"], k)
        col, param = ctx.text(m, "field", k), ctx.text(m, "param", k)
        if col not in cols or cols[col].type != "integer":
            raise ctx.fail(f"{k}.field", f"cột “{col}” không phải cột năm của “{lst.code}”.")
        if param not in params or params[param].choices or params[param].value < 1:
            raise ctx.fail(f"{k}.param", "cần một tham số là số năm (từ 1 trở lên).")
        year = (col, param)
    filled = tuple(str(x) for x in ctx.seq(d.get("filled", []), f"{key}.filled"))
    for col in filled:
        if col not in cols:
            raise ctx.fail(f"{key}.filled", f"cột “{col}” không có trong “{lst.code}”.")
    return level, year, filled


def _parse_rate(
    ctx: _Ctx,
    raw: Any,
    key: str,
    known: Collection[str],
    params: Mapping[str, Param],
    targets: Mapping[str, Target],
) -> Rate:
    k = f"{key}.rate"
    d = ctx.mapping(raw, k)
    for part in ("numerator", "denominator"):
        if not _known(d.get(part), known):
            raise ctx.fail(f"{k}.{part}", f"chỉ tiêu “{d.get(part)}” không có.")
    at_least, target = d.get("at_least"), d.get("target")
    if (at_least is None) == (target is None):
        raise ctx.fail(k, "cần đúng một trong hai khóa at_least (tham số) hoặc target (chỉ tiêu).")
    if at_least is not None and (not _known(at_least, params) or params[at_least].choices):
        raise ctx.fail(f"{k}.at_least", f"tham số “{at_least}” chưa khai báo trong params.")
    if target is not None and not _known(target, targets):
        raise ctx.fail(f"{k}.target", f"chỉ tiêu “{target}” không có trong targets.")
    return Rate(str(d["numerator"]), str(d["denominator"]), at_least, target)


def _parse_targets(ctx: _Ctx, data: Mapping[str, Any], known: Collection[str]) -> list[Target]:
    targets = []
    for i, raw in enumerate(ctx.seq(data.get("targets", []), "targets")):
        d = ctx.mapping(raw, f"targets[{i}]")
        code = ctx.code(d, f"targets[{i}]")
        key = f"targets[{code}]"
        for part in ("numerator", "denominator"):
            if not _known(d.get(part), known):
                raise ctx.fail(f"{key}.{part}", f"chỉ tiêu “{d.get(part)}” không có.")
        if d.get("unknown") is not None and not _known(d.get("unknown"), known):
            raise ctx.fail(f"{key}.unknown", f"chỉ tiêu “{d.get('unknown')}” không có.")
        ms = ctx.mapping(d.get("milestones"), f"{key}.milestones")
        milestones: dict[int, float] = {}
        for y, v in ms.items():
            if not isinstance(y, int) or isinstance(v, bool) or not isinstance(v, int | float):
                raise ctx.fail(f"{key}.milestones", "dạng năm: tỷ lệ, ví dụ 2025: 0.6.")
            if not 0 <= v <= 1:
                raise ctx.fail(f"{key}.milestones.{y}", "tỷ lệ phải từ 0 đến 1 (ví dụ 0.6 = 60%).")
            milestones[y] = float(v)
        targets.append(
            Target(
                code,
                ctx.text(d, "label", key),
                str(d["numerator"]),
                str(d["denominator"]),
                milestones,
                ctx.text(d, "source", key, ""),
                None if d.get("unknown") is None else str(d["unknown"]),
            )
        )
    ctx.unique([t.code for t in targets], "targets")
    return targets


def load_criteria(path: Path, report: ReportSchema) -> CriteriaSchema:
    """Load schemas/criteria.yaml and check every name it uses exists in the report schema."""
    ctx = _Ctx(path)
    data = _read_yaml(path)
    params: dict[str, Param] = {
        str(name): _parse_param(ctx, str(name), raw, report)
        for name, raw in ctx.mapping(data.get("params", {}), "params").items()
    }
    known: set[str] = set(report.field_map)
    derived = []
    for i, raw in enumerate(ctx.seq(data.get("derived", []), "derived")):
        d = ctx.mapping(raw, f"derived[{i}]")
        code = ctx.code(d, f"derived[{i}]")
        key = f"derived[{code}]"
        # `count: <list>` counts the rows of that list; `sum: <column>` needs `list:`.
        lst = d.get("list") or (d["count"] if isinstance(d.get("count"), str) else None)
        level = year = recognition = None
        filled: tuple[str, ...] = ()
        if d.get("recognition") is not None:
            recognition = _parse_recognition(ctx, d["recognition"], key, report)
            lst = None
        elif d.get("expr") is not None:
            names = _expr_names(str(d["expr"]))
            missing = sorted(names - known)
            if missing:
                raise ctx.fail(key, f"biểu thức nhắc tới “{missing[0]}” không có.")
        else:
            if not _known(lst, report.list_map):
                raise ctx.fail(f"{key}.list", f"danh sách “{lst}” không có.")
            cols = {f.code for f in report.list_map[lst].fields}
            if d.get("sum") is not None and not _known(d["sum"], cols):
                raise ctx.fail(f"{key}.sum", f"cột “{d['sum']}” không có trong “{lst}”.")
            if d.get("sum") is None and not d.get("count"):
                raise ctx.fail(key, "cần một trong các khóa sum, count, expr hoặc recognition.")
            if d.get("where") is not None:
                bad = sorted(_expr_names(str(d["where"])) - cols)
                if bad:
                    raise ctx.fail(f"{key}.where", f"cột “{bad[0]}” không có trong “{lst}”.")
            level, year, filled = _parse_row_filters(ctx, d, key, report.list_map[lst], params)
        derived.append(
            Derived(
                code=code,
                label=ctx.text(d, "label", key),
                list=lst,
                sum=d.get("sum"),
                count=bool(d.get("count")),
                where=d.get("where"),
                expr=None if d.get("expr") is None else str(d["expr"]),
                level_at_least=level,
                year_within=year,
                filled=filled,
                recognition=recognition,
            )
        )
        known.add(code)
    ctx.unique([x.code for x in derived], "derived")
    targets = _parse_targets(ctx, data, known)
    target_map = {t.code: t for t in targets}
    ut_codes = {u.code for u in report.unit_types}
    criteria = []
    for i, raw in enumerate(ctx.seq(data.get("criteria", []), "criteria")):
        d = ctx.mapping(raw, f"criteria[{i}]")
        code = ctx.code(d, f"criteria[{i}]")
        key = f"criteria[{code}]"
        expr, rate = None, None
        if d.get("rate") is not None:
            rate = _parse_rate(ctx, d["rate"], key, known, params, target_map)
        else:
            expr = ctx.text(d, "expr", key)
            missing = sorted(_expr_names(expr) - known)
            if missing:
                raise ctx.fail(f"{key}.expr", f"chỉ tiêu “{missing[0]}” không có.")
            for p in re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", expr):
                if p not in params:
                    raise ctx.fail(f"{key}.expr", f"tham số “@{p}” chưa khai báo trong params.")
        applies = tuple(ctx.seq(d.get("applies_to"), f"{key}.applies_to"))
        for t in applies:
            if not _known(t, ut_codes):
                raise ctx.fail(f"{key}.applies_to", f"loại đơn vị “{t}” không có.")
        criteria.append(
            Criterion(
                code,
                ctx.text(d, "label", key),
                applies,
                expr,
                ctx.text(d, "source", key, ""),
                rate,
            )
        )
    ctx.unique([c.code for c in criteria], "criteria")
    lul = ctx.mapping(data.get("learning_unit_levels"), "learning_unit_levels")
    indicators = tuple(ctx.seq(lul.get("indicators"), "learning_unit_levels.indicators"))
    for ind in indicators:
        if not _known(ind, report.field_map):
            raise ctx.fail("learning_unit_levels.indicators", f"chỉ tiêu “{ind}” không có.")
    learners_expected = tuple(
        ctx.seq(lul.get("learners_expected", []), "learning_unit_levels.learners_expected")
    )
    for t in learners_expected:
        if not _known(t, ut_codes):
            raise ctx.fail("learning_unit_levels.learners_expected", f"loại đơn vị “{t}” không có.")
    levels = []
    ldu_codes = {c.code for c in report.choices.get("ldu_level", ())}
    titles = {c.code for c in report.choices.get("emulation_title", ())}
    digital = {c.code for c in report.choices.get("digital_level", ())}
    for i, raw in enumerate(ctx.seq(lul.get("levels"), "learning_unit_levels.levels")):
        key = f"learning_unit_levels.levels[{i}]"
        d = ctx.mapping(raw, key)
        lvl = LevelSpec(
            code=ctx.text(d, "code", key),
            min_member_rate=float(ctx.number(d, "min_member_rate", key) or 0),
            min_learner_rate=float(ctx.number(d, "min_learner_rate", key) or 0),
            min_emulation_title=ctx.text(d, "min_emulation_title", key),
            min_digital_level=ctx.text(d, "min_digital_level", key),
            min_months_after_level_1=int(ctx.number(d, "min_months_after_level_1", key) or 0),
        )
        if lvl.code not in ldu_codes:
            raise ctx.fail(f"{key}.code", f"mức “{lvl.code}” không có trong choices.ldu_level.")
        if lvl.min_emulation_title not in titles:
            raise ctx.fail(f"{key}.min_emulation_title", f"“{lvl.min_emulation_title}” không có.")
        if lvl.min_digital_level not in digital:
            raise ctx.fail(f"{key}.min_digital_level", f"“{lvl.min_digital_level}” không có.")
        levels.append(lvl)
    validity = ctx.number(lul, "validity_years", "learning_unit_levels")
    if validity is None or validity < 1 or not float(validity).is_integer():
        raise ctx.fail("learning_unit_levels.validity_years", "cần số năm nguyên, từ 1 trở lên.")
    return CriteriaSchema(
        version=ctx.text(data, "version", "version"),
        params=params,
        derived=tuple(derived),
        criteria=tuple(criteria),
        learning_unit_levels=LearningUnitLevels(
            source=ctx.text(lul, "source", "learning_unit_levels"),
            validity_years=int(validity),
            indicators=indicators,
            levels=tuple(levels),
            learners_expected=learners_expected,
        ),
        targets=tuple(targets),
        path=path,
    )


def load_schemas(schema_dir: Path = DEFAULT_SCHEMA_DIR) -> Schemas:
    """Load both schema files from a folder."""
    report = load_report_schema(schema_dir / "report.yaml")
    return Schemas(report=report, criteria=load_criteria(schema_dir / "criteria.yaml", report))
