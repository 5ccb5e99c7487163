"""Problems in the data, as records.

Following frictionless-py, an issue is data: a stable kebab-case code, a severity, where
it is (file, sheet, Excel cell, field), the raw value and a Vietnamese message telling the
unit what to do. The catalogue below lists every code the code itself can emit, so the
user guide and the tests can check that each one is explained; the cross-field rules of
schemas/report.yaml add their own codes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["error", "warning", "info"]

ISSUE_COLUMNS = [
    "code",
    "severity",
    "unit_code",
    "file",
    "sheet",
    "cell",
    "field",
    "value",
    "message",
]


@dataclass(frozen=True)
class IssueKind:
    """One entry of the catalogue: default severity and a short Vietnamese title."""

    severity: Severity
    title: str


CATALOGUE: dict[str, IssueKind] = {
    # Whole-file problems: the file is rejected (or set aside) with this reason.
    "file-empty": IssueKind("error", "Tệp rỗng (0 byte)"),
    "file-unreadable": IssueKind("error", "Không mở được tệp"),
    "file-encrypted": IssueKind("error", "Tệp có mật khẩu"),
    "file-unsupported-format": IssueKind("error", "Định dạng tệp không đọc được"),
    "file-too-large": IssueKind("error", "Tệp vượt giới hạn dung lượng hoặc số ô"),
    "file-duplicate": IssueKind("info", "Tệp trùng hệt một tệp khác"),
    "file-locked": IssueKind("error", "Tệp đang bị chương trình khác khóa"),
    "file-wrong-content": IssueKind("error", "Nội dung tệp không phải Excel dù mang đuôi Excel"),
    "file-temporary": IssueKind("error", "Tệp khóa tạm của Excel/LibreOffice, bỏ qua"),
    "file-symlink": IssueKind("error", "Liên kết (symlink) không được đọc"),
    "not-a-template": IssueKind("error", "Không phải biểu mẫu của Sở"),
    "wrong-year": IssueKind("error", "Biểu mẫu của năm khác"),
    "report-year-mismatch": IssueKind("error", "Ô “Năm báo cáo” ghi năm khác năm tổng hợp"),
    "unknown-unit": IssueKind("error", "Mã đơn vị không có trong danh mục"),
    "unit-code-normalised": IssueKind(
        "warning", "Mã đơn vị chỉ khớp danh mục khi bỏ qua chữ hoa/thường, dấu cách"
    ),
    "unsupported-version": IssueKind("error", "Phiên bản biểu mẫu không đọc được"),
    "wrong-template-for-unit": IssueKind("error", "Dùng nhầm biểu mẫu của loại đơn vị khác"),
    "empty-template": IssueKind("error", "Biểu mẫu chưa điền số liệu"),
    "identity-conflict": IssueKind("error", "Thông tin trong tệp chỉ tới nhiều đơn vị khác nhau"),
    "superseded": IssueKind("info", "Đã có bản gửi mới hơn"),
    "reporter-changed": IssueKind(
        "warning", "Người báo cáo khác người báo cáo năm trước và không dùng thư của đơn vị"
    ),
    "mail-time-future": IssueKind("warning", "Thời điểm thư sau ngày tổng hợp, không được dùng"),
    "resubmission-tie": IssueKind("warning", "Hai bản gửi không phân biệt được bản nào sau"),
    "report-date-future": IssueKind("warning", "Ngày báo cáo sau ngày tổng hợp"),
    "report-date-outside-window": IssueKind("warning", "Ngày báo cáo ngoài khoảng của năm báo cáo"),
    "legacy-format": IssueKind("info", "Tệp .ods/.xls đã được chuyển đổi để đọc"),
    "macros-ignored": IssueKind("info", "Tệp có macro; macro không được chạy"),
    "external-links": IssueKind("warning", "Tệp có liên kết tới tệp bên ngoài"),
    "structure-missing-name": IssueKind("error", "Thiếu ô đặt tên của biểu mẫu"),
    "structure-missing-table": IssueKind("error", "Thiếu bảng của biểu mẫu"),
    "structure-bad-table": IssueKind("error", "Bảng bị sửa cột"),
    "file-archive": IssueKind("error", "Tệp nén (.zip, .rar, .7z), chưa giải nén"),
    "strict-open-xml": IssueKind("info", "Tệp lưu dạng “Strict Open XML” đã được đọc"),
    "row-outside-table": IssueKind("warning", "Dòng nhập dưới bảng, ngoài vùng bảng, vẫn được đọc"),
    "cells-outside-table": IssueKind(
        "warning", "Số liệu nhập dưới bảng có dòng cố định, không được tính"
    ),
    "inserted-row": IssueKind(
        "warning", "Dòng thêm vào giữa bảng có dòng cố định, không được tính"
    ),
    # Values.
    "required-missing": IssueKind("error", "Bỏ trống ô bắt buộc"),
    "invalid-number": IssueKind("error", "Không phải số"),
    "not-whole-number": IssueKind("error", "Phải là số nguyên"),
    "ambiguous-number": IssueKind("warning", "Số có thể hiểu hai cách"),
    "below-minimum": IssueKind("error", "Nhỏ hơn giá trị cho phép"),
    "above-maximum": IssueKind("error", "Lớn hơn giá trị cho phép"),
    "invalid-percent": IssueKind("error", "Tỷ lệ phần trăm không hợp lệ"),
    "invalid-yes-no": IssueKind("error", "Không phải Có/Không"),
    "invalid-choice": IssueKind("error", "Không có trong danh sách chọn"),
    "invalid-date": IssueKind("error", "Ngày không hợp lệ"),
    "invalid-email": IssueKind("warning", "Địa chỉ thư điện tử không hợp lệ"),
    "date-from-serial": IssueKind("warning", "Số nhập vào ô ngày được hiểu là số ngày của Excel"),
    "formula-no-cache": IssueKind("error", "Công thức chưa có giá trị"),
    "formula-error": IssueKind("error", "Công thức báo lỗi"),
    "parts-without-whole": IssueKind("error", "Thiếu tổng số nên không tính các số thành phần"),
    "invalid-value": IssueKind("error", "Giá trị không hợp lệ"),
    "prefill-changed": IssueKind("warning", "Thông tin điền sẵn đã bị sửa"),
    # Across units.
    "wrong-area": IssueKind("warning", "Địa bàn khác với danh mục đơn vị"),
    "duplicate-nominee": IssueKind("warning", "Một người/tập thể được nhiều đơn vị đề nghị"),
    "duplicate-nominee-in-file": IssueKind("warning", "Một người/tập thể được đề nghị hai lần"),
    "claimed-level-unsupported": IssueKind(
        "warning", "Mức “Đơn vị học tập” cao hơn mức chỉ số cho phép"
    ),
    "recognition-lapsed": IssueKind("warning", "Công nhận “Đơn vị học tập” đã hết hiệu lực"),
    "level-2-without-level-1-year": IssueKind(
        "warning", "Ghi Mức 2 nhưng chưa ghi năm được công nhận Mức 1"
    ),
    "level-2-too-soon": IssueKind("warning", "Mức 2 chưa đủ 12 tháng sau Mức 1"),
    "implausible-change": IssueKind("warning", "Số liệu thay đổi bất thường so với năm trước"),
    # Mail intake.
    "sender-not-registered": IssueKind(
        "warning", "Thư gửi từ địa chỉ không phải địa chỉ đăng ký của đơn vị"
    ),
}


@dataclass(frozen=True)
class Issue:
    """A problem found in one input file (or across files), located to the cell."""

    code: str
    severity: Severity
    message: str
    file: str = ""
    unit_code: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    value: str = ""

    def with_context(self, **changes: Any) -> Issue:
        """Return a copy with location fields filled in (stages learn them at different times)."""
        return dataclasses.replace(self, **changes)


def make_issue(code: str, message: str, severity: Severity | None = None, **where: str) -> Issue:
    """Build an issue with the catalogue's default severity unless one is given."""
    if severity is None:
        severity = CATALOGUE[code].severity
    return Issue(code=code, severity=severity, message=message, **where)


def issues_frame(issues: Iterable[Issue]) -> pd.DataFrame:
    """Flatten issues to the `issues.csv` table, in a stable order."""
    # Imported here: the reading workers build issues and never need pandas (a third of a
    # second to import in every process).
    import pandas as pd

    rows = [dataclasses.asdict(i) for i in issues]
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    if frame.empty:
        return frame.astype(str)
    return frame.sort_values(["file", "sheet", "cell", "code"], kind="stable").reset_index(
        drop=True
    )
