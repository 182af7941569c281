"""The rating's permission matrix: every persona × every rating page and endpoint × in-scope and out-of-scope
objects. Every URL name of the rating (namespace "rating:" and its API routes) must be listed here.

Out of reach or without the permission: 404 (never 403); anonymous: the login page, or 401/403 (API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from hezuo.conftest import PERSONAS
from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.core.testing import is_login_redirect
from hezuo.rating import services
from hezuo.rating.models import Alert, Rating, RatingRun
from hezuo.rating.monitoring import reevaluate

from .conftest import YEAR

ANONYMOUS = "anonymous"
EVERYONE = set(PERSONAS)
STAFF_READ = {"city", "viewer", "district_a", "district_b"}  # view and export
CITY = {"city"}
CITY_READ = {"city", "viewer"}
# which objects each persona reaches: A = coop_a, A2 = coop_a2 (district A), B = coop_b (district B)
REACH = {
    "city": {"A", "A2", "B"},
    "viewer": {"A", "A2", "B"},
    "district_a": {"A", "A2"},
    "district_b": {"B"},
    "counselor": {"A"},
    "counselor_unassigned": set(),
    "coop_user": {"A"},
}
REVIEWERS = {"city", "district_a", "district_b"}
ALERT_ACTORS = {"city", "district_a", "district_b", "counselor"}
ALERT_READERS = EVERYONE - {"coop_user"}


@dataclass(frozen=True)
class Case:
    """One URL name: how to call it and who gets through (an object case: only where they reach it)."""

    name: str
    method: str = "GET"
    allowed: frozenset[str] = frozenset(EVERYONE)
    obj: str | None = None  # "rating", "coop", "alert", "run", "rubric", "draft"
    data: tuple[tuple[str, Any], ...] = ()
    ok: int = 200
    api: bool = False
    scoped: bool = True  # object cases: reach matters

    def url(self, world: dict[str, Any], case: str | None) -> str:
        kwargs: dict[str, Any] = {}
        if self.obj is not None:
            kwargs["pk"] = world["objects"][self.obj][case or "A"].pk
        if self.name == "rating:alert_action":
            kwargs["action"] = "acknowledge"
        return reverse(self.name, kwargs=kwargs or None)


CASES = [
    Case("rating:rating_list"),
    Case("rating:missing"),
    Case("rating:rating_export", allowed=frozenset(STAFF_READ)),
    Case("rating:rating_detail", obj="rating"),
    Case("rating:rating_history", obj="rating"),
    Case("rating:cooperative", obj="coop"),
    Case("rating:rating_review", "POST", frozenset(REVIEWERS), "rating", (("note", "matrix"),), ok=302),
    Case("rating:confirm", "POST", frozenset(CITY), data=(("year", YEAR),), ok=302),
    Case("rating:rerate", "POST", frozenset(CITY), data=(("year", YEAR),), ok=302),
    Case("rating:ratingrun_list", allowed=frozenset(CITY_READ)),
    Case("rating:ratingrun_detail", allowed=frozenset(CITY_READ), obj="run", scoped=False),
    Case("rating:ratingrun_progress", allowed=frozenset(CITY_READ), obj="run", scoped=False),
    Case("rating:rubric_list"),
    Case("rating:rubric_diff"),
    Case("rating:rubric_detail", obj="rubric", scoped=False),
    Case("rating:rubric_history", obj="rubric", scoped=False),
    Case("rating:rubric_yaml", allowed=frozenset(STAFF_READ), obj="rubric", scoped=False),
    Case("rating:rubric_load", allowed=frozenset(CITY)),
    Case("rating:rubric_edit", allowed=frozenset(CITY), obj="draft", scoped=False),
    Case("rating:rubric_copy", "POST", frozenset(CITY), "rubric", ok=302, scoped=False),
    Case("rating:rubric_publish", "POST", frozenset(CITY), "draft", (("year", 2031),), ok=302, scoped=False),
    Case("rating:alert_list", allowed=frozenset(ALERT_READERS)),
    Case("rating:alert_export", allowed=frozenset(STAFF_READ)),
    Case("rating:alert_detail", allowed=frozenset(ALERT_READERS), obj="alert"),
    Case("rating:alert_history", allowed=frozenset(ALERT_READERS), obj="alert"),
    Case("rating:alert_action", "POST", frozenset(ALERT_ACTORS), "alert", ok=302),
    # the API
    Case("rating-list", api=True),
    Case("rating-detail", obj="rating", api=True),
    Case("rating-review", "POST", frozenset(REVIEWERS), "rating", (("note", "api"),), api=True),
    Case("rubric-list", api=True),
    Case("rubric-detail", obj="rubric", api=True, scoped=False),
    Case("alert-list", allowed=frozenset(ALERT_READERS), api=True),
    Case("alert-detail", allowed=frozenset(ALERT_READERS), obj="alert", api=True),
    Case("alert-acknowledge", "POST", frozenset(ALERT_ACTORS), "alert", api=True),
    Case("alert-resolve", "POST", frozenset(ALERT_ACTORS), "alert", api=True),
]
API_BASENAMES = ("rating", "rubric", "alert")
# read by hezuo/core/tests/test_permission_matrix.py: the URL names this matrix covers
MATRIX_URL_NAMES = frozenset(c.name for c in CASES)


def rating_url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: Any, namespace: str) -> None:
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif pattern.name:
                names.add(f"{namespace}{pattern.name}")

    walk(get_resolver(), "")
    return {
        n
        for n in names
        if n.startswith("rating:") or any(n.startswith(f"{b}-") and ":" not in n for b in API_BASENAMES)
    }


def test_every_rating_url_is_in_the_matrix() -> None:
    listed = {c.name for c in CASES}
    assert rating_url_names() == listed, (rating_url_names() - listed, listed - rating_url_names())


@pytest.fixture
def world(rated_city: dict[str, Any]) -> dict[str, Any]:
    city = rated_city["city"]
    ratings = {r.cooperative_id: r for r in Rating.objects.all()}
    coops = {"A": rated_city["coop_a"], "A2": rated_city["coop_a2"], "B": rated_city["coop_b"]}
    alerts = {}
    for case in ("A", "B"):
        coop = coops[case]
        before = snapshot(coop)
        coop.illegal_finance = True
        with change_context(source="cli"):
            save_record(coop, before=before)
        alerts[case] = reevaluate(coop)
    v1 = services.published_rubric(YEAR)
    with change_context(user=city):
        draft = services.copy_rubric(v1, user=city)
    run = RatingRun.objects.create(year=YEAR, rubric=v1, status="done", total=3, done=3)
    objects = {
        "rating": {case: ratings[coop.pk] for case, coop in coops.items()},
        "coop": coops,
        "alert": alerts,
        "run": {"A": run},
        "rubric": {"A": v1},
        "draft": {"A": draft},
    }
    return {**rated_city, "objects": objects}


def _cases_for(case: Case) -> list[str | None]:
    if case.obj in ("rating", "coop"):
        return ["A", "A2", "B"]
    if case.obj == "alert":
        return ["A", "B"]
    return [None]


def expected(case: Case, persona: str, where: str | None) -> Any:
    if persona == ANONYMOUS:
        return {401, 403} if case.api else "login"
    if persona not in case.allowed:
        return {404, 405} if case.api and case.method == "POST" else 404
    if where is not None and case.scoped and where not in REACH[persona]:
        return 404
    return case.ok


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matrix(case: Case, world: dict[str, Any], client_for: Callable[[str], Client]) -> None:
    mismatches = []
    for persona in (*PERSONAS, ANONYMOUS):
        client = Client() if persona == ANONYMOUS else client_for(persona)
        for where in _cases_for(case):
            url = case.url(world, where)
            data = dict(case.data)
            if case.method == "POST":
                response = (
                    client.post(url, data, content_type="application/json")
                    if case.api
                    else client.post(url, data)
                )
            else:
                response = client.get(url)
            want = expected(case, persona, where)
            if want == "login":
                good = is_login_redirect(response)
            elif isinstance(want, set):
                good = response.status_code in want
            else:
                good = response.status_code == want
            if not good:
                mismatches.append(
                    f"{persona:22} {case.method} {url} [{where}]: expected {want}, got {response.status_code}"
                )
            if case.obj == "alert" and case.method == "POST" and good and want in (200, 302):
                Alert.objects.filter(pk=world["objects"]["alert"][where].pk).update(status="open")
    assert not mismatches, "\n" + "\n".join(mismatches)


def test_lists_show_only_the_rows_in_reach(
    world: dict[str, Any], client_for: Callable[[str], Client]
) -> None:
    objects = world["objects"]
    for persona in PERSONAS:
        client = client_for(persona)
        want = {objects["rating"][c].pk for c in REACH[persona]}
        assert {row["id"] for row in client.get("/api/ratings/").json()["results"]} == want, persona
        if persona in ALERT_READERS:
            want_alerts = {objects["alert"][c].pk for c in REACH[persona] if c in objects["alert"]}
            got = {row["id"] for row in client.get("/api/alerts/").json()["results"]}
            assert got == want_alerts, persona
