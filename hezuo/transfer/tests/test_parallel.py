"""A long file's rows are read and parsed by a second process (HEZUO_IMPORT_PARALLEL_ROWS): the outcome and
everything written are the same as when one process does it all.

Each file is imported twice inside a transaction that is rolled back, once on each path, in small chunks
(so that several chunks go through the pipe), and the outcomes, the records and their history compared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import save_record
from hezuo.registry.models import YearlyFact
from hezuo.transfer import engine
from hezuo.transfer.engine import run_import

from .helpers import COOP_HEADERS, coop_row, csv_file, xlsx

pytestmark = pytest.mark.django_db

FACT_HEADERS = [
    "统一社会信用代码",
    "合作社名称",
    "年度",
    "成员数",
    "农民成员数",
    "单位成员数",
    "经营收入（万元）",
    "可分配盈余（万元）",
    "按交易量返还盈余（万元）",
    "召开成员大会",
    "报送年度报告",
]


def fact(coop: Any, year: Any, members: Any = 120, **over: Any) -> list[Any]:
    row = {
        "统一社会信用代码": coop.credit_code,
        "合作社名称": coop.name,
        "年度": year,
        "成员数": members,
        "农民成员数": 100,
        "单位成员数": 2,
        "经营收入（万元）": 356.8,
        "可分配盈余（万元）": "12.5",
        "按交易量返还盈余（万元）": 7.5,
        "召开成员大会": "是",
        "报送年度报告": "否",
    }
    row.update(over)
    return [row[h] for h in FACT_HEADERS]


def summary(outcome: engine.Outcome) -> dict[str, Any]:
    return {
        "counts": (outcome.rows, outcome.created, outcome.updated, outcome.unchanged, outcome.written),
        "problems": (outcome.error_count, outcome.warning_count, sorted(outcome.error_rows)),
        "errors": [p.as_dict() for p in outcome.errors],
        "warnings": [p.as_dict() for p in outcome.warnings],
        "notices": outcome.notices,
        "fatal": outcome.fatal,
    }


def written() -> dict[str, Any]:
    facts = sorted(
        tuple((k, v) for k, v in row.items() if k not in ("id", "created_at", "updated_at"))
        for row in YearlyFact.objects.values()
    )
    changes = sorted(
        (r.action, r.object_repr, r.parent_id, r.user_name, r.source, r.message, r.before, r.after)
        for r in ChangeRecord.objects.filter(source="import")
    )
    return {"facts": [dict(f) for f in facts], "changes": changes}


def both(path: Path, user: Any, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, what was written) of the import, on each path; asserts the paths agree and the worker ran."""
    results = []
    for threshold in (0, 1):
        calls = []
        original = engine.Importer.loop_parallel

        def spy(self: Any, *args: Any, original: Any = original, calls: list[int] = calls) -> None:
            calls.append(1)
            original(self, *args)

        with (
            override_settings(HEZUO_IMPORT_PARALLEL_ROWS=threshold, HEZUO_IMPORT_CHUNK_ROWS=3),
            pytest.MonkeyPatch.context() as patch,
            transaction.atomic(),
        ):
            patch.setattr(engine.Importer, "loop_parallel", spy)
            outcome = run_import(path, "facts", user, **kw)
            results.append((summary(outcome), written()))
            transaction.set_rollback(True)
        assert bool(calls) == (threshold == 1)
    assert results[0] == results[1]
    return results[1]


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cores: the reader process is used whatever the machine running the tests."""
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


@pytest.fixture
def facts_data(city_data: dict[str, Any]) -> dict[str, Any]:
    with change_context(source="cli"):
        save_record(YearlyFact(cooperative=city_data["coop_a"], year=2022, members=50))
    return city_data


def test_good_file_new_and_changed_records(facts_data: dict[str, Any], tmp_path: Path) -> None:
    a, a2 = facts_data["coop_a"], facts_data["coop_a2"]
    rows = [
        FACT_HEADERS,
        fact(a, 2022, 160),  # an update
        fact(a, 2023),
        fact(a, 2024, **{"报送年度报告": None, "经营收入（万元）": ""}),  # empty cells
        fact(a2, 2023, "1,200", **{"农民成员数": "1100人"}),
        fact(a2, 2024, **{"按交易量返还盈余（万元）": "3万元"}),
        [None, "合计", None, 500],  # a total row: ignored with a notice
        fact(a2, 2022),
        fact(a2, 2021, **{"合作社名称": "宁海县长街镇蛏子养殖专业合作社 "}),
    ]
    path = xlsx(tmp_path / "facts.xlsx", rows, title="2024年度数据")
    result, stored = both(path, facts_data["district_a"], dry_run=False)
    assert result["counts"] == (7, 6, 1, 0, True), result
    assert len(stored["changes"]) == 7
    assert any("total row" in n for n in result["notices"])
    preview, _stored = both(path, facts_data["district_a"], dry_run=True)
    assert preview["counts"] == (7, 6, 1, 0, False)


def test_bad_file_reports_the_same_problems(facts_data: dict[str, Any], tmp_path: Path) -> None:
    a, a2, b = facts_data["coop_a"], facts_data["coop_a2"], facts_data["coop_b"]
    future = dt.date.today().year + 1
    rows = [
        FACT_HEADERS,
        fact(a, 2023),
        fact(a, "abc"),  # a bad year (a key column)
        fact(a, 2024, "many"),  # a bad number, and other problems on the same row
        fact(a, 2023),  # the same record twice
        fact(a2, 2023, 10, **{"农民成员数": 20}),  # the model's own check
        fact(a2, 2024, -3),  # a field check
        fact(a2, future),
        fact(b, 2023),  # outside the scope
        fact(a2, 2022, **{"合作社名称": "别的名字"}),  # a warning
        fact(a2, None),  # a key cell empty
        fact(a2, 2021, **{"召开成员大会": "也许"}),
    ]
    for path in (
        xlsx(tmp_path / "bad.xlsx", rows),
        csv_file(tmp_path / "bad.csv", [[None if c is None else str(c) for c in r] for r in rows]),
    ):
        for dry_run in (True, False):
            result, stored = both(path, facts_data["district_a"], dry_run=dry_run)
            assert result["problems"][0] >= 9 and result["warnings"], result
            assert not stored["changes"]


def test_cooperatives_are_read_here(city_data: dict[str, Any], tmp_path: Path) -> None:
    """Cooperatives are read in this process (the reader would only parse their cells: no gain)."""
    path = xlsx(tmp_path / "c.xlsx", [COOP_HEADERS, *[coop_row(n) for n in range(1, 8)], coop_row(3)])
    with (
        override_settings(HEZUO_IMPORT_PARALLEL_ROWS=1),
        pytest.MonkeyPatch.context() as patch,
        transaction.atomic(),
    ):
        patch.setattr(engine.Importer, "loop_parallel", lambda *args: pytest.fail("read by a reader"))
        outcome = run_import(path, "cooperatives", city_data["district_a"], dry_run=False)
        assert outcome.error_count == 1 and outcome.created == 0
        transaction.set_rollback(True)


def test_a_failing_reader_is_an_error_and_writes_nothing(
    facts_data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = xlsx(tmp_path / "f.xlsx", [FACT_HEADERS, fact(facts_data["coop_a"], 2023)])
    monkeypatch.setattr(engine, "parse_decimal", lambda raw, unit=None: 1 / 0)
    count = YearlyFact.objects.count()
    with override_settings(HEZUO_IMPORT_PARALLEL_ROWS=1), pytest.raises(RuntimeError, match="ZeroDivision"):
        run_import(path, "facts", facts_data["district_a"], dry_run=False)
    assert YearlyFact.objects.count() == count


def test_no_reader_process_on_one_core(
    facts_data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = xlsx(tmp_path / "f.xlsx", [FACT_HEADERS, fact(facts_data["coop_a"], 2023)])
    calls = []
    monkeypatch.setattr(engine.Importer, "loop_parallel", lambda *args: calls.append(1))
    with override_settings(HEZUO_IMPORT_PARALLEL_ROWS=1):
        monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0}, raising=False)
        assert run_import(path, "facts", facts_data["district_a"], dry_run=True).created == 1
    assert not calls
