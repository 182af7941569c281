"""The importer on cooperatives and the records under them: create, update, unchanged, errors, scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hezuo.core.models import ChangeRecord
from hezuo.registry.models import Cooperative, YearlyFact
from hezuo.transfer.engine import run_import

from .helpers import COOP_HEADERS, coop_row, csv_file, xlsx

pytestmark = pytest.mark.django_db


def test_create_then_unchanged_then_update(city_data: dict[str, Any], tmp_path: Path) -> None:
    user = city_data["district_a"]
    path = xlsx(tmp_path / "coops.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2)])
    preview = run_import(path, "cooperatives", user, dry_run=True)
    assert preview.ok, (preview.fatal, preview.errors)
    assert (preview.created, preview.updated, preview.unchanged) == (2, 0, 0)
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()
    done = run_import(path, "cooperatives", user, dry_run=False)
    assert done.written and (done.created, done.updated) == (2, 0)
    coop = Cooperative.objects.get(name="宁海县导入测试1号专业合作社")
    assert coop.registered_capital == 1_000_000
    assert coop.town.code == "330226001" and coop.district.code == "330226"
    assert coop.search_text
    records = ChangeRecord.objects.filter(request_id=done.request_id)
    assert records.count() == 2 and {r.source for r in records} == {"import"}
    assert records.first().message == "coops.xlsx"
    again = run_import(path, "cooperatives", user, dry_run=False)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = xlsx(
        tmp_path / "coops2.xlsx", [COOP_HEADERS, coop_row(1, **{"注册资本（万元）": "12.5"}), coop_row(2)]
    )
    third = run_import(changed, "cooperatives", user, dry_run=False)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1), third.errors
    coop.refresh_from_db()
    assert coop.registered_capital == 125_000
    record = ChangeRecord.objects.get(request_id=third.request_id)
    assert record.diff() == {"registered_capital": ("1000000", "125000")}


def test_other_district_row_is_an_error(city_data: dict[str, Any], tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "c.xlsx", [COOP_HEADERS, coop_row(3), coop_row(4, district="330225", town="丹东街道")]
    )
    outcome = run_import(path, "cooperatives", city_data["district_a"], dry_run=False)
    assert not outcome.written and outcome.error_count == 1
    assert outcome.errors[0].row == 3 and "象山县" in outcome.errors[0].message
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()


def test_facts_csv_gbk(city_data: dict[str, Any], tmp_path: Path) -> None:
    coop = city_data["coop_a"]
    rows = [
        [
            "统一社会信用代码",
            "合作社名称",
            "年度",
            "成员数",
            "农民成员数",
            "经营收入（万元）",
            "召开成员大会",
        ],
        [coop.credit_code, coop.name, 2024, "1,200", 1100, "356.8", "是"],
    ]
    path = csv_file(tmp_path / "facts.csv", rows, encoding="gbk")
    outcome = run_import(path, "facts", city_data["district_a"], dry_run=False)
    assert outcome.written, (outcome.fatal, outcome.errors)
    fact = YearlyFact.objects.get(cooperative=coop, year=2024)
    assert fact.members == 1200 and fact.revenue == 3_568_000 and fact.assembly_held is True
    # the same file again changes nothing
    again = run_import(path, "facts", city_data["district_a"], dry_run=False)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    # district B cannot reach coop_a
    other = run_import(path, "facts", city_data["district_b"], dry_run=True)
    assert other.error_count == 1 and "scope" in other.errors[0].message


def test_problems_are_listed_by_row(city_data: dict[str, Any], tmp_path: Path) -> None:
    """A bad cell (found while reading) on row 4, a bad record (found when checking it) on row 3: the
    report lists row 3 first."""
    import datetime as dt

    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    path = xlsx(
        tmp_path / "c.xlsx",
        [
            COOP_HEADERS,
            coop_row(11),
            coop_row(12, **{"成立日期": future}),
            coop_row(13, **{"注册资本（万元）": "abc"}),
        ],
    )
    outcome = run_import(path, "cooperatives", city_data["district_a"], dry_run=True)
    assert [p.row for p in outcome.errors] == [3, 4], outcome.errors


def test_a_bad_cell_does_not_hide_the_rows_other_problems(city_data: dict[str, Any], tmp_path: Path) -> None:
    """One pass reports the row's other problems beside an unreadable cell: a capital that is not a number
    and a future date together, each in its column; nothing is written."""
    import datetime as dt

    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    path = xlsx(
        tmp_path / "c.xlsx",
        [
            COOP_HEADERS,
            coop_row(21, **{"注册资本（万元）": "abc", "成立日期": future}),
            coop_row(22, **{"注册资本（万元）": "abc"}),
        ],
    )
    outcome = run_import(path, "cooperatives", city_data["district_a"], dry_run=False)
    assert not outcome.written and outcome.created == 0
    found = {(p.row, p.column) for p in outcome.errors}
    assert {(2, "注册资本（万元）"), (2, "成立日期"), (3, "注册资本（万元）")} <= found, found
    # the unreadable cell is reported once, not also as missing
    assert sum(1 for p in outcome.errors if (p.row, p.column) == (3, "注册资本（万元）")) == 1
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()
