"""Worker processes that read their own batches: the id ranges cover every cooperative with facts exactly
once and give the rows read_batches() gives; a batch read by range is rated (and confirmed ratings left
alone) as a batch of rows is; in a run outside a transaction on a database other processes open, the
workers read and rate every cooperative once, and a dying worker leaves its ranges to this process."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.rating import adapter, engine, services
from hezuo.rating.models import Rating

from .conftest import YEAR, add_facts, make_top

World = dict[str, Any]
NAMES = ("coop_a", "coop_a2", "coop_b")


def _world(city_data: World) -> World:
    make_top(city_data["coop_a"])
    add_facts(city_data["coop_a"])
    add_facts(city_data["coop_a"], year=YEAR - 1)
    add_facts(city_data["coop_a2"], assembly_held=False, assembly_date=None, revenue=200_000.0)
    add_facts(city_data["coop_b"], income_uplift=None, annual_report_date=None)
    return city_data


@pytest.fixture
def committed_city(request: pytest.FixtureRequest) -> World:
    """The city with real commits (for a run outside any transaction); the divisions are loaded again when
    an earlier test of this kind flushed them."""
    from hezuo.geo.loader import load_divisions
    from hezuo.geo.models import Division

    if not Division.objects.exists():
        with change_context(source="cli"):
            load_divisions()
    return _world(request.getfixturevalue("city_data"))


def _by_ranges(where: Q | None = None, batch_size: int = 2000) -> list[list[tuple[Any, ...]]]:
    return [
        adapter.read_range(YEAR, after, upto, where=where)
        for after, upto in adapter.batch_bounds(YEAR, where=where, batch_size=batch_size)
    ]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 2000])
def test_id_ranges_read_every_cooperative_once_as_read_batches_does(
    city_data: World, batch_size: int
) -> None:
    world = _world(city_data)
    ranges = list(adapter.batch_bounds(YEAR, batch_size=batch_size))
    assert len(ranges) == -(-3 // batch_size)  # no empty range
    assert (ranges[-1][1] is None) == (3 % batch_size != 0)  # the last range is open when it holds fewer
    assert all(after < upto for after, upto in ranges[:-1])
    assert [after for after, _upto in ranges[1:]] == [upto for _after, upto in ranges[:-1]]  # contiguous
    by_ranges = [row for batch in _by_ranges(batch_size=batch_size) for row in batch]
    by_batches = [row for batch in adapter.read_batches(YEAR, batch_size=batch_size) for row in batch]
    assert by_ranges == by_batches
    assert [row[0] for row in by_ranges] == sorted(world[n].pk for n in NAMES)


def test_id_ranges_follow_the_filter_and_leave_out_retired_cooperatives(city_data: World) -> None:
    world = _world(city_data)
    where = Q(cooperative__district=world["coop_a"].district)
    rows = [row for batch in _by_ranges(where, batch_size=1) for row in batch]
    assert [row[0] for row in rows] == sorted(world[n].pk for n in ("coop_a", "coop_a2"))
    world["coop_a2"].__class__.objects.filter(pk=world["coop_a2"].pk).update(retired_at="2024-06-01T00:00Z")
    rows = [row for batch in _by_ranges(batch_size=1) for row in batch]
    assert [row[0] for row in rows] == sorted(world[n].pk for n in ("coop_a", "coop_b"))


def test_a_range_rated_here_is_rated_as_its_rows_and_skips_confirmed_ones(
    city_data: World, rubric: Any
) -> None:
    """What a worker does with a range (and this process, when the worker died)."""
    world = _world(city_data)
    job = services.rate_job(YEAR, rubric)
    here = engine.RowRater(job)
    raters = services._Raters(job, 0, True, None)
    rows = [row for batch in adapter.read_batches(YEAR) for row in batch]
    assert raters.submit_range(0, None, False) == (3, 0, here.rate(rows))
    with change_context(source="cli"):
        services.rate(YEAR)
    Rating.objects.filter(cooperative=world["coop_b"]).update(status=Rating.Status.CONFIRMED)
    assert services.confirmed_in(YEAR, 0, None) == {world["coop_b"].pk}
    assert services.confirmed_in(YEAR, 0, world["coop_b"].pk - 1) == set()
    left = [row for row in rows if row[0] != world["coop_b"].pk]
    assert raters.submit_range(0, None, False) == (3, 1, here.rate(left))
    assert raters.submit_range(0, None, True) == (3, 0, here.rate(rows))


def _rated_once(world: World, rubric: Any) -> None:
    ratings = list(Rating.objects.all())
    assert sorted(r.cooperative_id for r in ratings) == sorted(world[n].pk for n in NAMES)
    here = engine.RowRater(services.rate_job(YEAR, rubric))
    by_coop = {r.cooperative_id: r for r in ratings}
    for batch in adapter.read_batches(YEAR):
        for coop, *_values, text in here.rate(batch):
            assert by_coop[coop].explanation == json.loads(text)
    assert ChangeRecord.objects.filter(content_type__model="rating").count() == len(ratings)


def _workers_can_read() -> bool:
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


@pytest.mark.django_db(transaction=True)
def test_workers_read_their_own_batches_and_rate_every_cooperative_once(
    committed_city: World, rubric: Any, monkeypatch: Any
) -> None:
    ranges: list[tuple[int, int | None]] = []
    submit_range = services._Raters.submit_range

    def spy(self: Any, after: int, upto: int | None, skip: frozenset[int]) -> Any:
        ranges.append((after, upto))
        return submit_range(self, after, upto, skip)

    monkeypatch.setattr(services._Raters, "submit_range", spy)
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=1, workers=2)
    assert (counts.done, counts.created) == (3, 3)
    _rated_once(committed_city, rubric)
    if _workers_can_read():  # not in a private in-memory SQLite database: the workers see nothing there
        assert len(ranges) >= 3
    Rating.objects.filter(cooperative=committed_city["coop_b"]).update(status=Rating.Status.CONFIRMED)
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=2, workers=2)
    assert (counts.done, counts.unchanged, counts.skipped_confirmed, counts.created) == (3, 2, 1, 0)


def _die(rows: Any) -> Any:
    os._exit(1)


@pytest.mark.django_db(transaction=True)
def test_a_reading_worker_that_dies_leaves_its_ranges_to_this_process(
    committed_city: World, rubric: Any, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(engine, "rate_in_worker", _die)
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=1, workers=1)
    assert counts.created == 3
    _rated_once(committed_city, rubric)
    assert "worker process died" in caplog.text
