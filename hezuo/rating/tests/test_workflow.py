"""The annual rating and its review: rate (task, command, page) → district review and re-rate request →
city confirmation; confirmed results final under a new rubric; nothing to rate writes nothing; each
persona sees and does exactly their part (404 outside it), in pages and in the API."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import save_record, snapshot
from hezuo.core.testing import ChangeLog, listed
from hezuo.rating import describe, services
from hezuo.rating.models import Confirmation, Rating, RatingRun

from .conftest import YEAR, add_facts

World = dict[str, Any]


def ratings(world: World) -> dict[str, Rating]:
    by_coop = {r.cooperative_id: r for r in Rating.objects.all()}
    return {
        name: by_coop[world[name].pk] for name in ("coop_a", "coop_a2", "coop_b") if world[name].pk in by_coop
    }


# rating a year ----------------------------------------------------------------------------------------


def test_rating_writes_provisional_ratings_with_their_history(rated_city: World) -> None:
    rows = ratings(rated_city)
    assert rows["coop_a"].stars == 5 and rows["coop_b"].stars == 5
    assert rows["coop_a2"].stars == 2
    assert {r.status for r in rows.values()} == {"provisional"}
    created = ChangeRecord.objects.filter(action="create", content_type__model="rating")
    assert created.count() == 3
    record = created.get(object_id=rows["coop_a"].pk)
    assert record.parent_id == rated_city["coop_a"].pk  # shows on the cooperative's History tab
    assert "explanation" not in record.after and record.after["stars"] == 5
    explanation = describe.rating_explanation(rows["coop_a2"])
    assert explanation["rubric"]["hash"] == rows["coop_a2"].rubric.content_hash
    assert "G3" in explanation["capped_by"]


def test_rating_again_leaves_unchanged_ratings_alone(rated_city: World) -> None:
    with ChangeLog() as log, change_context(source="cli"):
        counts = services.rate(YEAR)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 3)
    assert log.records == []


def test_a_year_without_facts_says_so_and_writes_nothing(rated_city: World) -> None:
    before = (Rating.objects.count(), RatingRun.objects.count(), ChangeRecord.objects.count())
    with pytest.raises(services.RatingError) as info:
        services.start_run(2019, user=rated_city["city"])
    assert "No cooperative has facts for 2019" in " ".join(info.value.messages)
    with pytest.raises(CommandError, match="No cooperative has facts for 2019"):
        call_command("rate", "--year", "2019")
    response = _client(rated_city["city"]).post("/rating/runs/", {"year": 2019})
    assert response.status_code == 200
    assert "No cooperative has facts for 2019" in response.content.decode()
    assert (Rating.objects.count(), RatingRun.objects.count(), ChangeRecord.objects.count()) == before


def test_the_rate_command(city_data: World, rubric: Any) -> None:
    add_facts(city_data["coop_a"])
    out = io.StringIO()
    call_command("rate", "--year", str(YEAR), stdout=out)
    assert f"rated 1 cooperatives for {YEAR}" in out.getvalue()
    run = RatingRun.objects.get()
    assert (run.status, run.done, run.created) == ("done", 1, 1)


def test_city_starts_a_run_from_the_page_and_sees_its_progress(city_data: World, rubric: Any) -> None:
    add_facts(city_data["coop_a"])
    add_facts(city_data["coop_b"])
    client = _client(city_data["city"])
    response = client.post("/rating/runs/", {"year": YEAR})  # the immediate task backend runs it at once
    assert response.status_code == 302
    run = RatingRun.objects.get()
    progress = client.get(f"/rating/runs/{run.pk}/progress/").json()
    assert progress == {**progress, "status": "done", "done": 2, "total": 2, "percent": 100, "finished": True}
    page = client.get(f"/rating/runs/{run.pk}/").content.decode()
    assert 'id="run-progress"' in page and "100%" in page
    assert Rating.objects.count() == 2
    # district staff can neither start a run nor see the runs
    district = _client(city_data["district_a"])
    assert district.post("/rating/runs/", {"year": YEAR}).status_code == 404
    assert district.get(f"/rating/runs/{run.pk}/").status_code == 404
    assert district.get(f"/rating/runs/{run.pk}/progress/").status_code == 404


def test_a_run_goes_through_the_task_queue(city_data: World, rubric: Any, settings: Any) -> None:
    """With the database backend the run waits in the queue until a worker takes it."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    add_facts(city_data["coop_a"])
    run = services.start_run(YEAR, user=city_data["city"])
    assert run.status == "queued" and run.task_id
    assert Rating.objects.count() == 0
    services.execute_run(run.pk)  # what the worker does
    run.refresh_from_db()
    assert run.status == "done" and Rating.objects.count() == 1


# review and confirmation ------------------------------------------------------------------------------


def test_review_rerate_and_confirm(rated_city: World) -> None:
    world = rated_city
    rows = ratings(world)
    weak = rows["coop_a2"]
    district = _client(world["district_a"])
    page = district.get(f"/rating/ratings/{weak.pk}/").content.decode()
    assert 'id="review-card"' in page and 'id="advice"' in page
    # the district corrects the facts and asks for a re-rate
    fact = world["coop_a2"].yearlyfact_set.get(year=YEAR)
    before = snapshot(fact)
    fact.assembly_held, fact.assembly_quorum_met, fact.minutes_signed = True, True, True
    fact.assembly_date = fact.assembly_date or __import__("datetime").date(YEAR, 3, 1)
    fact.surplus_returned = fact.distributable_surplus
    fact.revenue = 6_000_000
    with change_context(user=world["district_a"]):
        save_record(fact, before=before)
    response = district.post(
        f"/rating/ratings/{weak.pk}/review/", {"note": "assembly minutes found", "request_rerate": "on"}
    )
    assert response.status_code == 302
    weak.refresh_from_db()
    assert (weak.review_note, weak.rerate_requested, weak.reviewed_by) == (
        "assembly minutes found",
        True,
        world["district_a"],
    )
    # district B cannot review it; district A cannot confirm
    assert (
        _client(world["district_b"]).post(f"/rating/ratings/{weak.pk}/review/", {"note": "x"}).status_code
        == 404
    )
    assert district.post("/rating/confirm/", {"year": YEAR, "district": "330226"}).status_code == 404
    assert district.post("/rating/rerate/", {"year": YEAR}).status_code == 404
    city = _client(world["city"])
    # confirming leaves the re-rate request provisional
    response = city.post("/rating/confirm/", {"year": YEAR, "district": "330226"})
    assert response.status_code == 302
    rows = ratings(world)
    assert rows["coop_a"].status == "confirmed" and rows["coop_a2"].status == "provisional"
    assert rows["coop_b"].status == "provisional"  # another district
    assert Confirmation.objects.get().count == 1
    # the city re-rates what was requested, then confirms the rest in bulk
    response = city.post("/rating/rerate/", {"year": YEAR})
    assert response.status_code == 302
    weak.refresh_from_db()
    assert weak.rerate_requested is False and weak.stars > 2
    update = ChangeRecord.objects.filter(
        object_id=weak.pk, content_type__model="rating", action="update"
    ).latest("id")
    assert "stars" in update.diff()
    with ChangeLog() as log:
        city.post("/rating/confirm/", {"year": YEAR})
    assert {r.status for r in ratings(world).values()} == {"confirmed"}
    confirmed = [r for r in log.records if r.content_type.model == "rating"]
    assert len(confirmed) == 2 and all(r.diff()["status"] == ("provisional", "confirmed") for r in confirmed)
    # a confirmed rating is final: no review, and a new run leaves it alone
    assert district.post(f"/rating/ratings/{weak.pk}/review/", {"note": "x"}).status_code == 302
    weak.refresh_from_db()
    assert weak.review_note == "assembly minutes found"


def test_confirmed_results_are_unchanged_by_a_new_rubric(rated_city: World) -> None:
    world = rated_city
    city = world["city"]
    services.confirm(YEAR, user=city, district=world["coop_a"].district)
    before = {r.pk: (r.stars, r.score, r.rubric_id, r.explanation) for r in Rating.objects.all()}
    v1 = services.published_rubric(YEAR)
    with change_context(user=city):
        v2 = services.copy_rubric(v1, user=city)
        doc = yaml.safe_load(services.rubric_yaml(v2))
        doc["star_floors"] = [[1, 50], [2, 65], [3, 80], [4, 95], [5, 99]]
        services.update_rubric(v2, yaml.safe_dump(doc, allow_unicode=True), user=city)
        services.publish_rubric(v2, YEAR, user=city)
        counts = services.rate(YEAR)
    assert counts.skipped_confirmed == 2 and counts.updated == 1
    after = {r.pk: (r.stars, r.score, r.rubric_id, r.explanation) for r in Rating.objects.all()}
    rows = ratings(world)
    for name in ("coop_a", "coop_a2"):
        assert after[rows[name].pk] == before[rows[name].pk]
    assert rows["coop_b"].rubric_id == v2.pk  # provisional: re-rated under the new version
    assert before[rows["coop_a"].pk][2] == v1.pk  # still explained under the version it was rated with
    assert describe.rating_explanation(rows["coop_a"])["rubric"]["hash"] == v1.content_hash


class _Undo(Exception):
    """Raised to roll one hypothesis example's writes back."""


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example is rolled back
)
@given(
    floors=st.lists(st.integers(min_value=1, max_value=19), min_size=5, max_size=5),
    scale=st.sampled_from([0.5, 1.0, 1.5, 3.0]),
)
def test_property_no_later_rubric_alters_a_confirmed_result(
    rated_city: World, floors: list[int], scale: float
) -> None:
    """Whatever the next version says (other star floors, other revenue tiers), rating the year again under
    it leaves every confirmed rating as it was: its stars, score, rubric version and explanation."""
    world = rated_city
    city = world["city"]
    # rising floors (each step 1 to 19 points: at most 95), the revenue tiers (D1) scaled
    star_floors = [[i + 1, sum(floors[: i + 1])] for i in range(5)]
    try:
        with transaction.atomic():
            services.confirm(YEAR, user=city, district=world["coop_a"].district)
            before = {r.pk: (r.stars, r.score, r.rubric_id, r.explanation) for r in Rating.objects.all()}
            confirmed = set(Rating.objects.filter(status="confirmed").values_list("pk", flat=True))
            v1 = services.published_rubric(YEAR)
            with change_context(user=city):
                v2 = services.copy_rubric(v1, user=city)
                doc = yaml.safe_load(services.rubric_yaml(v2))
                doc["star_floors"] = star_floors
                for dim in doc["dimensions"]:
                    for ind in dim["indicators"]:
                        if ind["key"] == "D1":
                            ind["tiers"] = [[round(t * scale, 2), p] for t, p in ind["tiers"]]
                services.update_rubric(v2, yaml.safe_dump(doc, allow_unicode=True), user=city)
                services.publish_rubric(v2, YEAR, user=city)
                counts = services.rate(YEAR)
            assert counts.skipped_confirmed == len(confirmed) == 2
            after = {r.pk: (r.stars, r.score, r.rubric_id, r.explanation) for r in Rating.objects.all()}
            for pk in confirmed:
                assert after[pk] == before[pk]
            raise _Undo
    except _Undo:
        pass


# who sees and does what ----------------------------------------------------------------------------------


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


VISIBLE = {
    "city": {"coop_a", "coop_a2", "coop_b"},
    "viewer": {"coop_a", "coop_a2", "coop_b"},
    "district_a": {"coop_a", "coop_a2"},
    "district_b": {"coop_b"},
    "counselor": {"coop_a"},
    "counselor_unassigned": set(),
    "coop_user": {"coop_a"},
}
PERSONAS = tuple(VISIBLE)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_sees_exactly_its_ratings(
    rated_city: World, client_for: Callable[[str], Client], persona: str
) -> None:
    world = rated_city
    rows = ratings(world)
    client = client_for(persona)
    visible = {rows[name].pk for name in VISIBLE[persona]}
    response = client.get("/rating/", {"per_page": 100, "year": YEAR})
    assert response.status_code == 200
    assert {r.pk for r in listed(response)} == visible
    dist = response.context["dist"]["rows"]
    assert sum(row["total"] for row in dist) == len(visible)
    api = client.get("/api/ratings/").json()
    assert {row["id"] for row in api["results"]} == visible and api["count"] == len(visible)
    for name, rating in rows.items():
        status = 200 if name in VISIBLE[persona] else 404
        for url in (
            f"/rating/ratings/{rating.pk}/",
            f"/rating/ratings/{rating.pk}/history/",
            f"/api/ratings/{rating.pk}/",
            f"/rating/cooperatives/{world[name].pk}/",
        ):
            assert client.get(url).status_code == status, (persona, url)
    missing = client.get("/rating/missing/", {"year": YEAR})
    assert missing.status_code == 200
    export = client.get("/rating/export/")
    if persona in ("counselor", "counselor_unassigned", "coop_user"):
        assert export.status_code == 404
    else:
        assert export.status_code == 200


REVIEWERS = {
    "city": {"coop_a", "coop_a2", "coop_b"},
    "district_a": {"coop_a", "coop_a2"},
    "district_b": {"coop_b"},
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_district_and_city_staff_review_in_their_scope(
    rated_city: World, client_for: Callable[[str], Client], persona: str
) -> None:
    rows = ratings(rated_city)
    client = client_for(persona)
    allowed = REVIEWERS.get(persona, set())
    with ChangeLog() as log:
        for name, rating in rows.items():
            page = client.post(f"/rating/ratings/{rating.pk}/review/", {"note": f"{persona} note"})
            api = client.post(
                f"/api/ratings/{rating.pk}/review/",
                {"note": f"{persona} api"},
                content_type="application/json",
            )
            if name in allowed:
                assert (page.status_code, api.status_code) == (302, 200), (persona, name)
            else:
                assert page.status_code == 404 and api.status_code in (404, 405), (
                    persona,
                    name,
                    api.status_code,
                )
    assert len(log.records) == 2 * len(allowed)
    # nobody confirms, re-rates or starts runs but city staff
    for url, data in (
        ("/rating/confirm/", {"year": YEAR}),
        ("/rating/rerate/", {"year": YEAR}),
        ("/rating/runs/", {"year": YEAR}),
    ):
        status = client.post(url, data).status_code
        assert (status != 404) == (persona == "city"), (persona, url, status)


@pytest.mark.parametrize("persona", PERSONAS)
def test_ratings_cannot_be_written_through_the_api(
    rated_city: World, client_for: Callable[[str], Client], persona: str
) -> None:
    rating = ratings(rated_city)["coop_a"]
    client = client_for(persona)
    assert client.post(
        "/api/ratings/",
        {"cooperative": rated_city["coop_a"].pk, "year": 2023},
        content_type="application/json",
    ).status_code in (404, 405)
    assert client.patch(
        f"/api/ratings/{rating.pk}/", {"stars": 1}, content_type="application/json"
    ).status_code in (404, 405)
    assert client.delete(f"/api/ratings/{rating.pk}/").status_code in (404, 405)
    assert client.post("/api/rubrics/", {}, content_type="application/json").status_code in (404, 405)
    rating.refresh_from_db()
    assert rating.stars == 5 and rating.retired_at is None


def test_anonymous_users_are_sent_to_login(rated_city: World) -> None:
    rating = ratings(rated_city)["coop_a"]
    client = Client()
    for url in (
        "/rating/",
        f"/rating/ratings/{rating.pk}/",
        "/rating/rubrics/",
        "/rating/alerts/",
        "/rating/missing/",
        "/rating/runs/",
        f"/rating/cooperatives/{rated_city['coop_a'].pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert client.get("/api/ratings/").status_code in (401, 403)


def test_the_cooperative_page_shows_the_explained_result(rated_city: World) -> None:
    client = _client(rated_city["coop_user"])
    page = client.get(f"/rating/cooperatives/{rated_city['coop_a'].pk}/").content.decode()
    assert 'id="indicator-table"' in page and 'id="gate-list"' in page and "breakdown-data" in page
    assert "star-rating v1" in page
    assert 'id="review-card"' not in page
    weak = client_for_weak = (
        _client(rated_city["district_a"])
        .get(f"/rating/cooperatives/{rated_city['coop_a2'].pk}/")
        .content.decode()
    )
    assert "What it takes" in weak and "G3" in client_for_weak
    assert "hold the annual general assembly with a two-thirds quorum and signed minutes" in weak


def test_distribution_per_district(rated_city: World) -> None:
    response = _client(rated_city["city"]).get("/rating/", {"year": YEAR})
    rows = {row["code"]: row for row in response.context["dist"]["rows"]}
    assert rows["330226"]["stars"][5] == 1 and rows["330226"]["stars"][2] == 1
    assert rows["330226"]["three_plus"] == 1 and rows["330225"]["three_plus"] == 1
    assert 'id="distribution-chart"' in response.content.decode()
