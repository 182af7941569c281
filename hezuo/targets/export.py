"""The progress table as an Excel workbook in the layout of the plan's annex (任务进度表).

Row 1 the title, row 2 the unit, then the header: the district column, and for each year a merged cell over
that year's columns with the metric labels below (with actuals: each metric merged over its target and actual
columns, with a third header row). One row per district, then the total row (users who reach the whole city).
A metric with a city-wide target only (the sponsored five-star cooperatives) has its target in one cell
merged over all district rows, as in the annex.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from .metrics import SHARE
from .progress import Progress

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _number(value: Decimal | int | None, share: bool = False) -> Any:
    if value is None:
        return None
    value = Decimal(value)
    if share:
        return float(value)
    return int(value) if value == value.to_integral_value() else float(value)


def city_only(progress: Progress) -> set[str]:
    """Metrics of the table that have no district targets (their target is one merged city cell)."""
    with_district = {
        key for row in progress.rows for (key, _y), cell in row.cells.items() if cell.target is not None
    }
    return {m.key for m in progress.metrics} - with_district


def workbook(progress: Progress, *, targets_only: bool) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = _("Progress")[:31]
    metrics = progress.metrics
    parts = ["target"] if targets_only else ["target", "actual"]
    per_year = len(metrics) * len(parts)
    last_col = 1 + per_year * len(progress.years)
    header_rows = 2 if targets_only else 3
    ws.cell(1, 1, _("%(plan)s: progress table") % {"plan": progress.plan.name})
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last_col)
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = CENTER
    ws.cell(2, 1, _("Unit: cooperatives"))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=last_col)
    ws.cell(2, 1).alignment = Alignment(horizontal="right")
    top = 3
    ws.cell(top, 1, _("District"))
    ws.merge_cells(start_row=top, start_column=1, end_row=top + header_rows - 1, end_column=1)
    columns: dict[tuple[str, int, str], int] = {}
    col = 2
    for year in progress.years:
        ws.cell(top, col, _("%(year)s") % {"year": year})
        ws.merge_cells(start_row=top, start_column=col, end_row=top, end_column=col + per_year - 1)
        for metric in metrics:
            ws.cell(top + 1, col, metric.display_label)
            if len(parts) > 1:
                ws.merge_cells(
                    start_row=top + 1, start_column=col, end_row=top + 1, end_column=col + len(parts) - 1
                )
            for part in parts:
                if len(parts) > 1:
                    ws.cell(top + 2, col, _("Target") if part == "target" else _("Actual"))
                columns[(metric.key, year, part)] = col
                col += 1
    first = top + header_rows
    merged_only = city_only(progress)
    rows = list(progress.rows)
    shares = {m.key for m in metrics if m.definition is not None and m.definition.kind == SHARE}
    for i, row in enumerate(rows):
        r = first + i
        ws.cell(r, 1, row.label)
        for (key, year, part), c in columns.items():
            cell = row.cell(key, year)
            if part == "target":
                if key in merged_only:
                    continue
                ws.cell(r, c, _number(cell.target, key in shares))
            else:
                ws.cell(r, c, _number(cell.actual.value if cell.actual else None, key in shares))
    if (
        rows and progress.total is not None
    ):  # the city's own targets: only in the city's table, not a district's
        for key in merged_only:
            for year in progress.years:
                c = columns[(key, year, "target")]
                value = progress.city_targets.get((key, year))
                ws.cell(first, c, _number(value, key in shares))
                if len(rows) > 1:
                    ws.merge_cells(
                        start_row=first, start_column=c, end_row=first + len(rows) - 1, end_column=c
                    )
    end = first + len(rows) - 1
    if progress.total is not None:
        end += 1
        ws.cell(end, 1, _("Total"))
        for (key, year, part), c in columns.items():
            cell = progress.total.cell(key, year)
            if part == "target":
                if key not in merged_only:
                    ws.cell(end, c, _number(cell.target, key in shares))
            else:
                ws.cell(end, c, _number(cell.actual.value if cell.actual else None, key in shares))
    for r in range(top, end + 1):
        for c in range(1, last_col + 1):
            ws.cell(r, c).border = BOX
            ws.cell(r, c).alignment = CENTER
    ws.column_dimensions["A"].width = 12
    for c in range(2, last_col + 1):
        ws.column_dimensions[get_column_letter(c)].width = 11
    return wb


def xlsx_bytes(progress: Progress, *, targets_only: bool) -> bytes:
    buffer = io.BytesIO()
    workbook(progress, targets_only=targets_only).save(buffer)
    return buffer.getvalue()
