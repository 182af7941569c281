"""Small files made at run time for the import tests."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from hezuo.registry.creditcode import make_code

COOP_HEADERS = [
    "合作社名称",
    "统一社会信用代码",
    "成立日期",
    "注册资本（万元）",
    "区县",
    "乡镇（街道）",
    "行业",
]


def code(district: str, n: int) -> str:
    return make_code(district, f"TX{n:07d}")


def coop_row(n: int, district: str = "330226", town: str = "跃龙街道", **over: Any) -> list[Any]:
    row = {
        "合作社名称": f"宁海县导入测试{n}号专业合作社",
        "统一社会信用代码": code(district, n),
        "成立日期": "2018-03-01",
        "注册资本（万元）": "100",
        "区县": "宁海县" if district == "330226" else "象山县",
        "乡镇（街道）": town,
        "行业": "水果",
    }
    row.update(over)
    return [row[h] for h in COOP_HEADERS]


def xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    sheets: dict[str, Any] | None = None,
    merge_title: bool = False,
) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "名录"
    if title is not None:
        sheet.append([title])
        if merge_title:
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(rows[0]), 2))
        sheet.append([])
    for row in rows:
        sheet.append(list(row))
    for name, spec in (sheets or {}).items():
        other = workbook.create_sheet(name)
        for row in spec.get("rows", []):
            other.append(list(row))
        if spec.get("hidden"):
            other.sheet_state = "hidden"
    workbook.save(path)
    return path


def csv_file(
    path: Path, rows: Sequence[Sequence[Any]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in rows:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path
