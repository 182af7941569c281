"""Templates and exports with the import's columns, so that an exported file re-imports with zero changes.

Money is written in the unit its header states (万元 by default), choices by their Chinese name, yes/no as
是/否, divisions and organisations by name, dates as dates. Exports are streamed: constant memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from hezuo.core.scoping import EXPORT, mask_phone
from hezuo.core.views import filtered_queryset
from hezuo.registry.models import Cooperative

from .specs import (
    BOOL,
    CHOICE,
    CODE,
    COOPERATIVE_NAME,
    DATE,
    DECIMAL,
    DIVISION,
    INTEGER,
    MONEY,
    ORGANIZATION,
    PERCENT,
    TEXT,
    WAN,
    YEAR,
    YUAN,
    Column,
    Kind,
)
from .values import TEN_THOUSAND

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
TYPE_NAMES = {
    TEXT: "文本",
    DATE: "日期",
    MONEY: "金额",
    DECIMAL: "数字",
    INTEGER: "整数",
    YEAR: "年份",
    BOOL: "是/否",
    CHOICE: "选项",
    DIVISION: "行政区划",
    CODE: "代码",
    ORGANIZATION: "单位名称",
}
UNIT_NAMES = {WAN: "万元", YUAN: "元", PERCENT: "%"}
EXAMPLES = {
    "name": "宁海县岔路镇白枇杷专业合作社",
    "credit_code": "93330226MA2H5XXXXX",
    "registration_date": "2016-05-01",
    "registered_capital": "120",
    "district": "宁海县",
    "town": "岔路镇",
    "village": "",
    "industry": "水果",
    "year": "2024",
    "members": "86",
    "revenue": "356.8",
    "level": "",
    "since": "2022-03-01",
    "phone": "13912345678",
}


# the rows ------------------------------------------------------------------------------------------------
def export_queryset(kind: Kind, user: Any, params: dict[str, Any] | None = None) -> QuerySet:
    """The records of `kind` the user may export, limited by the cooperative list's filters (`params` are the
    list page's query parameters: district, town, industry, q, …)."""
    from hezuo.registry.views import CooperativeUI

    request = _request(user, params or {})
    coops, _filterset = filtered_queryset(CooperativeUI(), request, EXPORT)
    if kind.model is Cooperative:
        return coops.select_related("district", "town", "village").order_by("district__code", "name", "pk")
    qs = kind.model._default_manager.restrict(user, EXPORT)  # type: ignore[attr-defined]
    if request.GET.get("retired") != "1":
        qs = qs.filter(retired_at__isnull=True)
    related = ["cooperative"] + [c.key for c in kind.columns if c.type == ORGANIZATION]
    filtered = bool(params) and any(v not in (None, "") for k, v in (params or {}).items() if k != "retired")
    if filtered:
        qs = qs.filter(cooperative__in=coops.order_by().values("pk"))
    order = ["cooperative__name", "cooperative_id", *[k for k in kind.key[1:]], "pk"]
    return qs.select_related(*related).order_by(*order)


def _request(user: Any, params: dict[str, Any]) -> HttpRequest:
    request = RequestFactory().get("/", {k: v for k, v in params.items() if v not in (None, "")})
    request.user = user
    return request


def cell(column: Column, obj: Any, *, for_csv: bool = False) -> Any:
    """The value written for `column` of record `obj` (what the importer reads back unchanged)."""
    key = column.key
    if column.type == CODE:
        return obj.cooperative.credit_code if hasattr(obj, "cooperative_id") else obj.credit_code
    if key == COOPERATIVE_NAME:
        return obj.cooperative.name
    if column.type == DIVISION:
        division = getattr(obj, key)
        return division.name if division is not None else ""
    if column.type == ORGANIZATION:
        org = getattr(obj, key)
        return org.name if org is not None else ""
    value = getattr(obj, key)
    if value is None:
        return "" if for_csv else None
    if column.type == CHOICE:
        return column.choice_zh(value)
    if column.type == BOOL:
        return "是" if value else "否"
    if column.type in (MONEY, DECIMAL):
        number = Decimal(value)
        if column.unit == WAN:
            number = number / TEN_THOUSAND
        number = number.normalize() if number != number.to_integral_value() else number.quantize(Decimal(1))
        if for_csv:
            return format(number, "f")
        as_float = float(number)
        return as_float if Decimal(repr(as_float)) == number else format(number, "f")
    if column.type == DATE:
        return value.isoformat() if for_csv else value
    return value


def rows_for(
    kind: Kind, records: Iterable[Any], *, for_csv: bool = False, masked: bool = False
) -> Iterator[list[Any]]:
    """The export rows; with `masked`, personal data (the model's `masked_fields`) is masked, as for a user
    who sees it masked everywhere else (such an export is for reading, not for re-import)."""
    columns = kind.export_columns
    hidden = set(getattr(kind.model, "masked_fields", ())) if masked else set()
    for obj in records:
        row = [cell(c, obj, for_csv=for_csv) for c in columns]
        if hidden:
            row = [mask_phone(v) if c.key in hidden else v for c, v in zip(columns, row, strict=True)]
        yield row


# files ---------------------------------------------------------------------------------------------------
def write_xlsx(
    kind: Kind, rows: Iterable[list[Any]], *, notes: bool = False
) -> tempfile.SpooledTemporaryFile:
    """An .xlsx with the kind's Chinese headers (and, for templates, a notes sheet)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=kind.sheet_title)
    sheet.freeze_panes = "A2"
    columns = kind.export_columns
    for index, column in enumerate(columns):
        letter = _letter(index)
        sheet.column_dimensions[letter].width = max(10, min(40, len(column.title) * 2 + 2))
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E2EFDA")
    header = []
    for column in columns:
        head = WriteOnlyCell(sheet, value=column.title)
        head.font = bold
        if column.required:
            head.fill = fill
        header.append(head)
    sheet.append(header)
    date_columns = {i for i, c in enumerate(columns) if c.type == DATE}
    for row in rows:
        if date_columns:
            out: list[Any] = []
            for i, value in enumerate(row):
                if i in date_columns and isinstance(value, dt.date):
                    date_cell = WriteOnlyCell(sheet, value=value)
                    date_cell.number_format = "yyyy-mm-dd"
                    out.append(date_cell)
                else:
                    out.append(value)
            sheet.append(out)
        else:
            sheet.append(row)
    if notes:
        _notes_sheet(workbook, kind)
    handle = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    workbook.save(handle)
    handle.seek(0)
    return handle


def _notes_sheet(workbook: Workbook, kind: Kind) -> None:
    sheet = workbook.create_sheet(title="填写说明")
    widths = [26, 8, 8, 10, 60, 50, 40, 24]
    for index, width in enumerate(widths):
        sheet.column_dimensions[_letter(index)].width = width
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    title = WriteOnlyCell(sheet, value=_("How to fill in this template: %(kind)s") % {"kind": kind.label})
    title.font = Font(bold=True, size=13)
    sheet.append([title])
    sheet.append(
        [
            _(
                "One row per record. Keep the header row; columns may be in any order, and a column you do "
                "not need may be left out. Rows are matched by the credit code (and, below a cooperative, by "
                "the columns marked as key): a match is updated, anything else is created. The first sheet "
                "is "
                "read; other and hidden sheets are ignored."
            )
        ]
    )
    sheet.append([])
    heads = [
        "列名 Column",
        "必填 Required",
        "单位 Unit",
        "类型 Type",
        "说明 Meaning",
        "允许的值 Allowed values",
        "也可用的列名 Also recognised",
        "示例 Example",
    ]
    row = []
    for text in heads:
        head = WriteOnlyCell(sheet, value=text)
        head.font = bold
        row.append(head)
    sheet.append(row)
    for column in kind.columns:
        required = "是" if column.required else ""
        if column.key in kind.key:
            required = (required + " " + _("(key)")).strip()
        meaning = str(kind.verbose(column))
        if column.help:
            meaning = f"{meaning}: {column.help}"
        aliases = "、".join(a for a in column.aliases if a)
        values = [
            column.title,
            required,
            UNIT_NAMES.get(column.unit or "", ""),
            TYPE_NAMES[column.type],
            meaning,
            column.allowed_values(),
            aliases,
            EXAMPLES.get(column.key, ""),
        ]
        cells = []
        for value in values:
            out = WriteOnlyCell(sheet, value=value)
            out.alignment = wrap
            cells.append(out)
        sheet.append(cells)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(kind: Kind, rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """UTF-8 with a BOM (so that Excel opens it as UTF-8), header first; one bytes chunk per row."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode() + writer.writerow([c.title for c in kind.export_columns]).encode("utf-8")
    for row in rows:
        yield writer.writerow(row).encode("utf-8")


def write_csv(kind: Kind, rows: Iterable[list[Any]]) -> io.BytesIO:
    buffer = io.BytesIO()
    for chunk in csv_lines(kind, rows):
        buffer.write(chunk)
    buffer.seek(0)
    return buffer
