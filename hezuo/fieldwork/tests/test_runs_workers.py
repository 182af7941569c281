"""Detection runs with screening workers, and the history a run writes without record_bulk.

The batches are id ranges covering every screened cooperative once; a run's history is one change record
per new flag, as record_bulk would write it (who, when, request id, reason, the cooperative as parent, the
after-snapshot of core.services.snapshot); worker processes (forked, reading on their own connections)
raise the flags a run in this process raises; a dying worker leaves its batches to this process; a
failing run is marked failed."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.db import connection

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import snapshot
from hezuo.fieldwork import runs
from hezuo.fieldwork.detection import parse_rules
from hezuo.fieldwork.models import DetectionRun, Flag

from .test_runs import AS_OF, _flag_set, _varied

pytestmark = pytest.mark.django_db
World = dict[str, Any]


def _screener(district: Any = None) -> runs._Screener:
    with change_context(source="cli"):
        run = runs.start_run(year=2024, as_of=AS_OF, district=district)
    return runs._Screener(runs._job(run, parse_rules(run.ruleset.rules)))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5000])
def test_id_ranges_cover_every_screened_cooperative_once(city_data: World, batch_size: int) -> None:
    for district, names in (
        (None, ("coop_a", "coop_a2", "coop_b")),
        (city_data["division_a"], ("coop_a", "coop_a2")),
    ):
        screener = _screener(district)
        ranges = list(screener.ranges(batch_size))
        assert ranges[-1][1] is None and all(after < upto for after, upto in ranges[:-1])  # type: ignore[operator]
        assert [after for after, _upto in ranges[1:]] == [upto for _after, upto in ranges[:-1]]
        checked = [screener.screen(after, upto)[0] for after, upto in ranges]
        assert sum(checked) == len(names) and all(n == batch_size for n in checked[:-1])


def test_the_history_of_each_new_flag_is_what_record_bulk_writes(city_data: World) -> None:
    _varied(city_data)
    with change_context(source="task"):
        run = runs.run_detection(year=2024, as_of=AS_OF, batch_size=2)
    flags = list(Flag.objects.select_related("cooperative", "ruleset", "run"))
    assert len(flags) == run.flags_created >= 8
    records = {r.object_id: r for r in ChangeRecord.objects.filter(content_type__model="flag")}
    assert sorted(records) == sorted(f.pk for f in flags)  # one record per new flag
    assert len({r.request_id for r in records.values()}) == 1
    running = str(DetectionRun(year=run.year, ruleset=run.ruleset, status=DetectionRun.Status.RUNNING))
    for flag in flags:
        record = records[flag.pk]
        assert (record.action, record.user, record.user_name, record.source) == (
            "create",
            None,
            "task",
            "task",
        )
        assert record.message == f"detection run {run.pk} ({run.ruleset.version})"
        assert record.object_repr == str(flag) and record.before is None
        assert (record.parent_type.model, record.parent_id) == ("cooperative", flag.cooperative_id)
        # the snapshot of the flag as written (the run: as it was while running); the evidence and the
        # explanation stay on the flag, not repeated in its history
        expected = snapshot(flag)
        expected["run"]["label"] = running
        assert record.after == expected and "evidence" not in record.after
        assert json.loads(json.dumps(record.after)) == record.after
    # the cooperative's history shows its flags
    from hezuo.core.services import history_for

    coop = city_data["coop_a"]
    shown = history_for(coop).filter(content_type__model="flag").count()
    assert shown == Flag.objects.filter(cooperative=coop).count()


def test_the_after_format_gives_the_snapshot_with_any_field_kept(city_data: World) -> None:
    """Were the evidence and explanation kept in the history, the template would fill them in too."""
    encode = runs._encoder(None)
    after = {
        "a": None,
        "cooperative": {},
        "rule": "",
        "b": {"x": 1},
        "evidence": {},
        "explanation": "",
        "z": 2,
    }
    template = runs._after_format(after, encode)
    values = {
        "cooperative": {"id": 7, "label": '某"社{x}\\'},
        "rule": "DO1",
        "evidence": {"year": 2024, "note": "{}"},
        "explanation": "没有 {营业}",
    }
    text = template.format(
        cooperative=encode(values["cooperative"]),
        rule=encode(values["rule"]),
        kind=encode("dormant"),
        evidence=encode(values["evidence"]),
        explanation=encode(values["explanation"]),
    )
    assert json.loads(text) == {**after, **values} and text == encode({**after, **values})


def test_no_workers_inside_a_transaction_or_for_a_small_run(city_data: World) -> None:
    screener = _screener()
    assert runs.worker_count(screener) == 0  # three cooperatives
    assert runs.worker_count(screener, 2) == 0  # the test's transaction: workers would not see its data


# ----------------------------------------------------------------------------------------------------
# worker processes, on data committed (outside any transaction)


@pytest.fixture
def committed_city(request: pytest.FixtureRequest) -> World:
    """The city with real commits; the divisions are loaded again when an earlier test of this kind
    flushed them."""
    from hezuo.geo.loader import load_divisions
    from hezuo.geo.models import Division

    if not Division.objects.exists():
        with change_context(source="cli"):
            load_divisions()
    world = request.getfixturevalue("city_data")
    _varied(world)
    return world


def _workers_can_read() -> bool:
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


@pytest.mark.django_db(transaction=True)
def test_workers_raise_the_flags_a_run_here_raises(committed_city: World, monkeypatch: Any) -> None:
    here = runs.run_detection(year=2024, as_of=AS_OF, batch_size=1, workers=0)
    expected = _flag_set()
    Flag.objects.all().delete()  # test data: start again
    ChangeRecord.objects.filter(content_type__model="flag").delete()
    used: list[int] = []
    count = runs.worker_count
    monkeypatch.setattr(runs, "worker_count", lambda s, w=None: used.append(count(s, w)) or used[-1])
    seen: list[int] = []
    run = runs.run_detection(
        year=2024, as_of=AS_OF, batch_size=1, workers=2, progress=lambda r: seen.append(r.checked)
    )
    assert used == [2 if _workers_can_read() else 0]
    assert _flag_set() == expected
    assert (run.status, run.checked, run.flags_created) == ("done", 3, here.flags_created)
    assert seen == [1, 2, 3, 3]  # after each batch, in order (the last range is empty)
    assert ChangeRecord.objects.filter(content_type__model="flag").count() == run.flags_created
    again = runs.run_detection(year=2024, as_of=AS_OF, batch_size=2, workers=2)
    assert (again.flags_created, again.flags_existing) == (0, run.flags_created)


def _die(after: int, upto: int | None) -> Any:
    os._exit(1)


@pytest.mark.django_db(transaction=True)
def test_a_dying_worker_leaves_its_batches_to_this_process(
    committed_city: World, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(runs, "_screen_in_worker", _die)
    run = runs.run_detection(year=2024, as_of=AS_OF, batch_size=1, workers=1)
    assert run.status == "done" and run.checked == 3 and run.flags_created == Flag.objects.count() >= 8
    if _workers_can_read():
        assert "worker process died" in caplog.text


def test_a_failing_run_is_marked_failed(city_data: World, monkeypatch: Any) -> None:
    _varied(city_data)

    def fail(self: Any, after: int, upto: int | None) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs._Screener, "screen", fail)
    with pytest.raises(RuntimeError):
        runs.run_detection(year=2024, as_of=AS_OF)
    run = DetectionRun.objects.get()
    assert run.status == DetectionRun.Status.FAILED and "disk full" in run.error and run.finished_at
    assert not Flag.objects.exists()


def test_the_benchmarks_writes_alone_write_the_runs_rows_again(city_data: World) -> None:
    from benchmarks.bench_detection import run_writes_only

    _varied(city_data)
    run = runs.run_detection(year=2024, as_of=AS_OF)
    flags = _flag_set()
    history = sorted(
        (r.object_repr, json.dumps(r.after, sort_keys=True), r.parent_id)
        for r in ChangeRecord.objects.filter(content_type__model="flag")
    )
    seconds, _cpu = run_writes_only(2024, run.ruleset_id, batch_size=3)
    assert seconds > 0 and _flag_set() == flags
    again = ChangeRecord.objects.filter(content_type__model="flag")
    assert sorted((r.object_repr, json.dumps(r.after, sort_keys=True), r.parent_id) for r in again) == history
    assert {r.object_id for r in again} == set(Flag.objects.values_list("pk", flat=True))
