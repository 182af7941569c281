"""The annual rating's fast path: rows read in bulk give the same inputs as one cooperative's read; the
stored explanation (format 3) expands to exactly the engine's result; new ratings' history is the core
snapshot; worker processes rate as this process does, and a dying worker leaves its batch to this one."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import snapshot
from hezuo.rating import adapter, describe, engine, services
from hezuo.rating.models import Rating
from hezuo.registry.models import Cooperative

from .conftest import YEAR, add_facts, make_top, top_input

World = dict[str, Any]
REF = {"id": 1, "code": "star-rating", "version": 1, "hash": "h"}


def _inputs() -> list[engine.CoopInput]:
    return [
        top_input(),
        top_input(minutes_signed=False, surplus_returned=156_000.0, revenue=600_000.0),  # 2 stars, G3
        top_input(income_uplift=None, revenue=600_000.0),  # undecided
        top_input(
            distributable_surplus=-20_000.0, surplus_returned=0.0, loss_plan_approved=None
        ),  # alt missing
        top_input(distributable_surplus=-20_000.0, surplus_returned=0.0, loss_plan_approved=True),  # alt
        top_input(industry="machinery", member_households=20),  # relaxed tiers
        top_input(annual_report_date=None, registration_date=None, operating_status="suspended"),
        engine.CoopInput(cooperative_id=2, year=YEAR, credit_code="91330226MA2H00006U", facts=None),
    ]


@pytest.mark.parametrize("index", range(len(_inputs())))
def test_the_stored_explanation_expands_to_the_engine_result(
    compiled: Any, definition: dict[str, Any], index: int
) -> None:
    inp = _inputs()[index]
    result = engine.evaluate(inp, compiled)
    stored = json.loads(engine.explanation_text(result.evaluation))
    assert stored["format"] == engine.EXPLANATION_FORMAT and set(stored) == {"format", "indicators", "gates"}
    expected = json.loads(json.dumps({**result.as_json(), "rubric": REF}))
    assert describe.expand(stored, definition, rubric_ref=REF) == expected
    # the words shown are the same as for an explanation stored with names (format 1)
    assert describe.indicator_rows(stored, definition) == describe.indicator_rows(expected, definition)
    assert describe.gate_rows(stored, definition) == describe.gate_rows(expected, definition)
    assert len(json.dumps(stored, separators=(",", ":"))) < 2000


def _world(city_data: World) -> World:
    make_top(city_data["coop_a"])
    add_facts(city_data["coop_a"])
    add_facts(city_data["coop_a"], year=YEAR - 1)
    add_facts(city_data["coop_a2"], assembly_held=False, assembly_date=None, revenue=200_000.0)
    add_facts(city_data["coop_b"], income_uplift=None, annual_report_date=None)
    return city_data


def test_the_history_of_new_ratings_written_by_the_database_is_the_records_snapshot(
    city_data: World, rubric: Any
) -> None:
    """The change records of new ratings are written by one INSERT ... SELECT (adapter.NewRatingHistory):
    their after-snapshot is the rating's snapshot() and their label its str(), whatever the name holds."""
    world = _world(city_data)
    Cooperative.objects.filter(pk=world["coop_a"].pk).update(name='甲 "引号" \\ back\tslash 🌾 合作社')
    with change_context(source="cli", reason="annual rating"):
        services.rate(YEAR, batch_size=2)
    ratings = list(Rating.objects.select_related("cooperative", "rubric"))
    assert len(ratings) == 3
    for rating in ratings:
        record = ChangeRecord.objects.get(content_type__model="rating", object_id=rating.pk)
        assert record.after == snapshot(rating)
        assert record.object_repr == str(rating)[:200]
        assert record.before is None and record.request_id and record.user_name == "cli"


def test_a_rating_made_during_the_first_annual_rating_is_not_inserted_twice(
    city_data: World, rubric: Any
) -> None:
    """With no rating of the year at the start, batches are inserted without reading the year's ratings;
    one made meanwhile (an edit re-rates its cooperative) makes the batch fall back to reading them."""
    world = _world(city_data)
    job = services.rate_job(YEAR, rubric)
    counts = services.RateCounts()
    with change_context(source="cli", reason="annual rating") as ctx:
        writer = services._BatchWriter(YEAR, rubric, counts, ctx, False, engine.snapshot_parts(job.snapshot))
        assert writer.none_before
        services.rate_one(world["coop_a"], YEAR)  # meanwhile
        rows = [row for batch in adapter.read_batches(YEAR) for row in batch]
        writer.write(len(rows), 0, engine.row_rater(job).rate(rows))
    assert (counts.created, counts.updated + counts.unchanged) == (2, 1)
    assert Rating.objects.filter(year=YEAR).count() == 3
    assert ChangeRecord.objects.filter(content_type__model="rating", action="create").count() == 3


def test_rows_read_in_bulk_give_the_inputs_of_one_cooperative(city_data: World, rubric: Any) -> None:
    world = _world(city_data)
    rater = engine.RowRater(services.rate_job(YEAR, rubric))
    rows = [row for batch in adapter.read_batches(YEAR, batch_size=2) for row in batch]
    assert [row[0] for row in rows] == sorted(world[n].pk for n in ("coop_a", "coop_a2", "coop_b"))
    for row in rows:
        coop = next(world[n] for n in ("coop_a", "coop_a2", "coop_b") if world[n].pk == row[0])
        coop.refresh_from_db()
        assert rater.input(row) == adapter.input_for(coop, YEAR)
    assert rater.input(rows[0]).previous is not None and rater.input(rows[0]).title_rank == 3


def test_new_ratings_are_stored_with_their_explanation_and_the_core_history(
    city_data: World, rubric: Any
) -> None:
    world = _world(city_data)
    with change_context(source="cli", reason="annual rating"):
        counts = services.rate(YEAR, batch_size=2)
    assert (counts.done, counts.created, counts.undecided) == (3, 3, 1)
    for rating in Rating.objects.select_related("cooperative", "rubric"):
        record = ChangeRecord.objects.get(content_type__model="rating", object_id=rating.pk)
        assert record.after == snapshot(rating)
        assert (record.action, record.parent_id, record.message) == (
            "create",
            rating.cooperative_id,
            "annual rating",
        )
        assert record.object_repr == str(rating)
        inp = adapter.input_for(rating.cooperative, YEAR)
        result = engine.evaluate(inp, rubric.compiled())
        assert rating.explanation == services.explanation_of(result, rubric)
        assert (rating.stars, float(rating.score), rating.missing_count) == (
            result.stars,
            result.score,
            len(result.missing),
        )
    assert Rating.objects.get(cooperative=world["coop_a"]).stars == 5


def test_worker_processes_rate_as_this_process_does(city_data: World, rubric: Any) -> None:
    _world(city_data)
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=1, workers=2)
    assert counts.created == 3
    here = engine.RowRater(services.rate_job(YEAR, rubric))
    by_coop = {r.cooperative_id: r for r in Rating.objects.all()}
    for batch in adapter.read_batches(YEAR):
        for coop, *_values, text in here.rate(batch):
            assert by_coop[coop].explanation == json.loads(text)


def _die(rows: Any) -> Any:
    os._exit(1)


def test_a_worker_that_dies_leaves_its_batches_to_this_process(
    city_data: World, rubric: Any, monkeypatch: Any, caplog: Any
) -> None:
    _world(city_data)
    monkeypatch.setattr(engine, "rate_in_worker", _die)
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=1, workers=1)
    assert counts.created == 3 and Rating.objects.count() == 3
    assert "worker process died" in caplog.text


def test_rating_again_updates_what_changed_and_leaves_confirmed_ratings(
    city_data: World, rubric: Any
) -> None:
    world = _world(city_data)
    with change_context(source="cli"):
        services.rate(YEAR)
    confirmed = Rating.objects.get(cooperative=world["coop_b"])
    Rating.objects.filter(pk=confirmed.pk).update(status=Rating.Status.CONFIRMED)
    weak = Rating.objects.get(cooperative=world["coop_a2"])
    fact = world["coop_a2"].yearlyfact_set.get(year=YEAR)
    fact.revenue = 6_000_000
    fact.save()
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=2, workers=1)
    assert (counts.created, counts.updated, counts.unchanged, counts.skipped_confirmed) == (0, 1, 1, 1)
    weak.refresh_from_db()
    assert weak.explanation["format"] == engine.EXPLANATION_FORMAT and weak.score > 60
    update = ChangeRecord.objects.get(object_id=weak.pk, content_type__model="rating", action="update")
    assert "score" in update.diff()
    assert Rating.objects.get(pk=confirmed.pk).explanation == confirmed.explanation


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


@pytest.mark.django_db(transaction=True)
def test_a_big_run_writes_in_threads_and_stops_at_a_writer_error(
    committed_city: World, rubric: Any, monkeypatch: Any
) -> None:
    """Outside a transaction, writer threads write the batches (each on its own connection) while this
    thread reads; an error in one of them stops the run and reaches the caller."""
    writers: set[str] = set()
    write = services._BatchWriter.write

    def spy(self: Any, *args: Any) -> None:
        writers.add(threading.current_thread().name)
        write(self, *args)

    monkeypatch.setattr(services._BatchWriter, "write", spy)
    seen: list[int] = []
    with change_context(source="cli"):
        counts = services.rate(YEAR, batch_size=1, workers=1, progress=lambda c: seen.append(c.done))
    assert (counts.done, counts.created) == (3, 3) and sorted(seen) == [1, 2, 3]
    assert writers and all(name.startswith("rating-writer-") for name in writers)
    assert Rating.objects.get(cooperative=committed_city["coop_a"]).stars == 5
    assert ChangeRecord.objects.filter(content_type__model="rating").count() == 3

    def fail(self: Any, *args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services._BatchWriter, "write", fail)
    Rating.objects.all().delete()
    with pytest.raises(RuntimeError, match="disk full"), change_context(source="cli"):
        services.rate(YEAR, batch_size=1, workers=1)
    assert not [t for t in threading.enumerate() if t.name.startswith("rating-writer-")]
