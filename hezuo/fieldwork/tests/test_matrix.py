"""Fieldwork's permission matrix: every persona × every page and endpoint × objects in and out of reach.

Every URL name of the app (pages "fieldwork:" and its API routes) is listed in MATRIX_URL_NAMES (the
site-wide matrix in hezuo/core/tests/test_permission_matrix.py reads it). Out of reach or without the
permission: 404, never 403; anonymous: the login page (pages) or 401/403 (API). Expectations are written
by hand from the brief, not read from roles.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from hezuo.conftest import PERSONAS
from hezuo.core.testing import api_ids
from hezuo.fieldwork import cleanup, runs
from hezuo.fieldwork.models import CleanupCase, DetectionRun, Flag, RuleSet

from .helpers import no_business

pytestmark = pytest.mark.django_db

ALL = set(PERSONAS)
READERS = ALL - {"coop_user"}  # fieldwork: city all, district own district, counselor assigned, viewer read
RUN_READERS = {"city", "viewer", "district_a", "district_b"}
OPENERS = {"city", "district_a", "district_b"}
# who reaches the records of each cooperative (A: coop_a, the counselor's; A2: coop_a2; B: coop_b)
REACH = {
    "A": {"city", "viewer", "district_a", "counselor"},
    "A2": {"city", "viewer", "district_a"},
    "B": {"city", "viewer", "district_b"},
}
CHANGERS = {"A": {"city", "district_a"}, "A2": {"city", "district_a"}, "B": {"city", "district_b"}}
ROLE_FOR = {"verify": {"district_a", "district_b"}, "approve": {"city"}}

PAGES = {
    "fieldwork:flag_list",
    "fieldwork:flag_detail",
    "fieldwork:case_list",
    "fieldwork:case_detail",
    "fieldwork:case_transition",
    "fieldwork:case_open",
    "fieldwork:run_list",
    "fieldwork:run_start",
    "fieldwork:ruleset_detail",
}
# visits, the counselor's home and the workload: per persona in test_visits.py
# (test_visit_pages_and_photos_only_within_scope, test_the_counselor_home, test_the_workload)
VISIT_PAGES = {
    "fieldwork:visit_add",
    "fieldwork:visit_detail",
    "fieldwork:visit_photo",
    "fieldwork:my_cooperatives",
    "fieldwork:workload",
}
API = {
    "flag-list",
    "flag-detail",
    "cleanupcase-list",
    "cleanupcase-detail",
    "cleanupcase-transition",
    "detectionrun-list",
    "detectionrun-detail",
    "ruleset-list",
    "ruleset-detail",
    "visit-list",
    "visit-detail",
}
MATRIX_URL_NAMES = PAGES | VISIT_PAGES | API


def test_every_fieldwork_url_is_in_the_matrix() -> None:
    names: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "fieldwork":
            names = {f"fieldwork:{p.name}" for p in pattern.url_patterns}
    assert names == PAGES | VISIT_PAGES
    from hezuo.core.tests.test_permission_matrix import resolver_urls

    api_names = {
        n
        for n in resolver_urls()
        if n.split("-")[0] in {"flag", "cleanupcase", "detectionrun", "ruleset", "visit"}
    }
    assert api_names == API


@pytest.fixture
def fw(city_data: dict[str, Any]) -> dict[str, Any]:
    """Flags on coop_a, coop_a2 and coop_b; an open case (flagged) on each; one city-wide run."""
    coops = {"A": city_data["coop_a"], "A2": city_data["coop_a2"], "B": city_data["coop_b"]}
    for coop in coops.values():
        no_business(coop, 2023, 2024)
    run = runs.run_detection(year=2024, as_of=dt.date(2025, 11, 1))
    flags = {case: Flag.objects.filter(cooperative=coop).first() for case, coop in coops.items()}
    cases = {
        "A": cleanup.open_case(city_data["district_a"], coops["A"]),
        "A2": cleanup.open_case(city_data["district_a"], coops["A2"]),
        "B": cleanup.open_case(city_data["district_b"], coops["B"]),
    }
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record
    from hezuo.fieldwork.models import Visit

    visits = {}
    for case, coop in coops.items():
        visits[case] = Visit(cooperative=coop, visitor=city_data["city"], date=dt.date(2025, 10, 1))
        with change_context(source="cli"):
            save_record(visits[case])
    return {**city_data, "coops": coops, "flags": flags, "cases": cases, "run": run, "visits": visits}


def login(world: dict[str, Any], persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world[persona])
    return client


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_pages(persona: str, fw: dict[str, Any]) -> None:
    client = login(fw, persona)

    def check(method: str, url: str, ok: bool, good: int = 200) -> None:
        response = client.post(url, {}) if method == "POST" else client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], url
            return
        assert response.status_code == (good if ok else 404), (url, persona, response.status_code)

    check("GET", reverse("fieldwork:flag_list"), persona in READERS)
    check("GET", reverse("fieldwork:case_list"), persona in READERS)
    check("GET", reverse("fieldwork:run_list"), persona in RUN_READERS)
    ruleset = RuleSet.objects.get()
    check("GET", reverse("fieldwork:ruleset_detail", args=[ruleset.pk]), persona in READERS)
    for case in ("A", "A2", "B"):
        check("GET", reverse("fieldwork:flag_detail", args=[fw["flags"][case].pk]), persona in REACH[case])
        check("GET", reverse("fieldwork:case_detail", args=[fw["cases"][case].pk]), persona in REACH[case])
        for transition in ("verify", "approve"):
            # an empty verification is invalid (400); approving a flagged case is out of order (400)
            url = reverse("fieldwork:case_transition", args=[fw["cases"][case].pk, transition])
            check("POST", url, persona in CHANGERS[case] and persona in ROLE_FOR[transition], 400)
        # a case is already open: refused with a message (302 back to the cooperative)
        url = reverse("fieldwork:case_open", args=[fw["coops"][case].pk])
        check("POST", url, persona in CHANGERS[case] and persona in OPENERS, 302)
    check("POST", reverse("fieldwork:run_start"), persona == "city", 302)
    assert set(CleanupCase.objects.values_list("status", flat=True)) == {"flagged"}
    assert CleanupCase.objects.count() == 3


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_api(persona: str, fw: dict[str, Any]) -> None:
    client = login(fw, persona)

    def check(method: str, url: str, ok: bool, good: int = 200) -> Any:
        response = (
            client.post(url, {}, content_type="application/json") if method == "POST" else client.get(url)
        )
        if persona == "anonymous":
            assert response.status_code in (401, 403), url
            return None
        assert response.status_code == (good if ok else 404), (url, persona, response.status_code)
        return response

    reached = {case for case in REACH if persona in REACH[case]}
    listing = check("GET", reverse("flag-list"), persona in READERS)
    if listing is not None and persona in READERS:
        expected = set(
            Flag.objects.filter(cooperative__in=[fw["coops"][c] for c in reached]).values_list(
                "pk", flat=True
            )
        )
        assert api_ids(listing) == expected
    listing = check("GET", reverse("cleanupcase-list"), persona in READERS)
    if listing is not None and persona in READERS:
        assert api_ids(listing) == {fw["cases"][c].pk for c in reached}
    listing = check("GET", reverse("visit-list"), persona in READERS)
    if listing is not None and persona in READERS:
        assert api_ids(listing) == {fw["visits"][c].pk for c in reached}
        assert all(row["photo_url"] is None for row in listing.json()["results"])
    for case in ("A", "A2", "B"):
        check("GET", reverse("visit-detail", args=[fw["visits"][case].pk]), persona in REACH[case])
    check("GET", reverse("detectionrun-list"), persona in RUN_READERS)
    # the run is city-wide (no district): city staff and the city-wide viewer reach it
    check("GET", reverse("detectionrun-detail", args=[fw["run"].pk]), persona in {"city", "viewer"})
    check("GET", reverse("ruleset-list"), persona in READERS)
    check("GET", reverse("ruleset-detail", args=[RuleSet.objects.get().pk]), persona in READERS)
    for case in ("A", "A2", "B"):
        check("GET", reverse("flag-detail", args=[fw["flags"][case].pk]), persona in REACH[case])
        check("GET", reverse("cleanupcase-detail", args=[fw["cases"][case].pk]), persona in REACH[case])
        for transition in ("verify", "approve"):
            url = reverse("cleanupcase-transition", args=[fw["cases"][case].pk, transition])
            check("POST", url, persona in CHANGERS[case] and persona in ROLE_FOR[transition], 400)
    if persona != "anonymous":
        # nothing is written through the read-only endpoints
        assert client.post(reverse("flag-list"), {}).status_code in (404, 405)
        assert client.post(reverse("cleanupcase-list"), {}).status_code == 404
        assert client.post(reverse("detectionrun-list"), {}).status_code in (404, 405)
        assert client.post(reverse("visit-list"), {}).status_code in (404, 405)
    assert DetectionRun.objects.count() == 1
    assert set(CleanupCase.objects.values_list("status", flat=True)) == {"flagged"}
