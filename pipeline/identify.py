"""Who sent what: identify each file by its hidden metadata, then settle resubmissions.

The file name says nothing reliable (units rename, forward and re-save files), so identity
comes from the template's hidden sheet: template id and version, report year and unit code,
checked against the schema and the registry. Pure functions over read submissions.

Resubmission rule: among several accepted files of one unit, the kept one has the latest
report date typed in the file (`report_date`), then the latest submission time (mail date
or file modification time), then the greater file path; the others become `superseded`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.issues import Issue, make_issue
from pipeline.model import RawSubmission
from pipeline.registry import Registry
from pipeline.schema import ReportSchema


@dataclass(frozen=True)
class Identity:
    """The outcome of identifying one file."""

    variant: str | None
    issues: tuple[Issue, ...]

    @property
    def rejected(self) -> bool:
        return self.variant is None


def identify(sub: RawSubmission, registry: Registry, schema: ReportSchema, year: int) -> Identity:
    """Check the metadata of a read file; a rejection carries exactly one reason issue."""
    if sub.rejected:
        return Identity(None, ())
    where: dict[str, Any] = {"file": sub.file.path, "unit_code": sub.unit_code}

    def reject(code: str, message: str) -> Identity:
        return Identity(None, (make_issue(code, message, **where),))

    meta = sub.meta
    variant = schema.variant_for_template_id(meta.get("template_id", ""))
    if variant is None or meta.get("schema_id") not in (None, "", schema.id):
        return reject(
            "not-a-template",
            "Không phải biểu mẫu báo cáo Phong trào thi đua của Sở. "
            "Dùng biểu mẫu Sở gửi, điền số liệu rồi gửi lại.",
        )
    version = meta.get("template_version", "")
    if version != schema.version:
        return reject(
            "unsupported-version",
            f"Biểu mẫu phiên bản “{version or 'không rõ'}”, chương trình cần phiên bản "
            f"“{schema.version}”. Tải biểu mẫu mới của Sở, chép số liệu sang rồi gửi lại.",
        )
    file_year = meta.get("report_year", "")
    if file_year != str(year):
        return reject(
            "wrong-year",
            f"Biểu mẫu của năm {file_year or 'không rõ'}, không phải năm {year}. "
            f"Dùng biểu mẫu năm {year}.",
        )
    code = meta.get("unit_code", "")
    if not code:
        typed = sub.scalars.get("unit_code")
        code = str(typed.value).strip() if typed is not None and typed.value is not None else ""
        sub.meta["unit_code"] = code
        where["unit_code"] = code
    found = registry.match(code)
    if found is None:
        return reject(
            "unknown-unit",
            f"Mã đơn vị “{code or 'để trống'}” không có trong danh mục đơn vị của Sở. "
            "Chọn đúng mã đơn vị ở ô “Mã đơn vị” (hoặc liên hệ Sở để được cấp mã).",
        )
    unit = found.unit
    code_issues: list[Issue] = []
    if not found.exact:
        loc = sub.scalars.get("unit_code")
        code_issues.append(
            make_issue(
                "unit-code-normalised",
                f"Mã đơn vị trong tệp là “{code}”, danh mục của Sở ghi “{unit.code}” "
                f"({unit.name}): chỉ khác chữ hoa/thường hoặc dấu cách nên vẫn được ghi nhận "
                f"cho đơn vị này. Lần sau dùng đúng mã “{unit.code}”; nếu danh mục của Sở "
                "ghi sai, báo Sở để sửa.",
                file=sub.file.path,
                unit_code=unit.code,
                sheet=loc.sheet if loc is not None else "",
                cell=loc.cell if loc is not None else "",
                field="unit_code",
                value=code,
            )
        )
    # The file is credited to the registry's unit under the registry's spelling (even when
    # only surrounding spaces differed), so every later stage sees one code.
    sub.meta["unit_code"] = unit.code
    where["unit_code"] = unit.code
    if unit.type not in variant.unit_types:
        expected = schema.variant_for_unit_type(unit.type)
        return reject(
            "wrong-template-for-unit",
            f"Đơn vị {unit.name} phải dùng biểu mẫu “{expected.label}”, "
            f"không phải “{variant.label}”. Tải đúng biểu mẫu rồi gửi lại.",
        )
    prefilled = {f.code for f in schema.fields if f.prefill}
    typed_any = any(
        loc.value is not None
        for k, loc in sub.scalars.items()
        if k not in prefilled and schema.field_map[k].in_variant(variant.code)
    )
    if not typed_any and not any(sub.lists.values()):
        return reject(
            "empty-template",
            "Biểu mẫu chưa có số liệu nào. Điền số liệu của đơn vị rồi gửi lại.",
        )
    issues = [
        make_issue(
            "structure-missing-name",
            f"Không tìm thấy ô “{f.label}” (tên ô “{f.code}” trong biểu mẫu đã bị xóa hoặc "
            "hỏng khi sao chép). Dùng lại biểu mẫu gốc của Sở và chép số liệu sang.",
            field=f.code,
            **where,
        )
        for f in schema.fields_for(variant.code)
        if f.code not in sub.scalars
    ]
    issues += [
        make_issue(
            "structure-missing-table",
            f"Không tìm thấy bảng “{lst.title}” (bảng tên “{lst.code}”). "
            "Dùng lại biểu mẫu gốc của Sở và chép số liệu sang.",
            field=lst.code,
            **where,
        )
        for lst in schema.lists
        if lst.code not in sub.lists
    ]
    return Identity(variant.code, tuple(code_issues + issues))


@dataclass(frozen=True)
class Resolution:
    kept: dict[str, str]
    """unit code → kept file path."""
    superseded: dict[str, str]
    """superseded file path → the file that replaces it."""
    duplicates: dict[str, str]
    """file path → an identical earlier file (same SHA-256)."""


def resolve_resubmissions(
    subs: Sequence[RawSubmission],
    report_dates: Mapping[str, dt.date | None],
    submitted_at: Mapping[str, dt.datetime],
) -> Resolution:
    """Pick one file per unit among accepted files; byte-identical copies are duplicates."""
    duplicates: dict[str, str] = {}
    first_by_hash: dict[str, str] = {}
    unique: list[RawSubmission] = []
    for sub in sorted(subs, key=lambda s: s.file.path):
        first = first_by_hash.setdefault(sub.file.sha256, sub.file.path)
        if first != sub.file.path:
            duplicates[sub.file.path] = first
        else:
            unique.append(sub)
    by_unit: dict[str, list[RawSubmission]] = {}
    for sub in unique:
        by_unit.setdefault(sub.unit_code, []).append(sub)
    kept: dict[str, str] = {}
    superseded: dict[str, str] = {}
    for unit, group in by_unit.items():

        def order(s: RawSubmission) -> tuple[dt.date, dt.datetime, str]:
            return (
                report_dates.get(s.file.path) or dt.date.min,
                submitted_at.get(s.file.path, s.file.mtime),
                s.file.path,
            )

        group.sort(key=order)
        kept[unit] = group[-1].file.path
        for older in group[:-1]:
            superseded[older.file.path] = group[-1].file.path
    return Resolution(kept, superseded, duplicates)
