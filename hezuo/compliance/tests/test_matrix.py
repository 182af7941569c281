"""Compliance's permission matrix: every persona × every page, API call and export × objects in and out of
reach.

Every URL name of the app (pages "compliance:" and its API routes) is listed in MATRIX_URL_NAMES (the
site-wide matrix in hezuo/core/tests/test_permission_matrix.py reads it). Out of reach or without the
permission: 404, never 403, except a case step refused to a user who sees the case (403 with the reason:
nothing is revealed); anonymous: the login page (pages) or 401/403 (API). Expectations are written
by hand from the brief, not read from roles.py: city staff reach every case, district staff their
district's, a counselor the cases of the cooperatives assigned to them, a cooperative user their own
cooperative's (read-only), the viewer every case (read-only). District and city staff open, move on and
manage cases; counselors also record item outcomes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import translation

from hezuo.compliance import rectification as rx
from hezuo.compliance.models import (
    Checklist,
    RectificationCase,
    RectificationItem,
    RectificationTask,
    SpecialAssistance,
)
from hezuo.conftest import PERSONAS
from hezuo.core.models import ChangeRecord
from hezuo.core.testing import api_ids

from .helpers import YEAR, facts

pytestmark = pytest.mark.django_db

ALL = set(PERSONAS)
EXPORTERS = {"city", "viewer", "district_a", "district_b"}
# who reaches the records of each cooperative's case (A: coop_a, the counselor's and the coop user's)
REACH = {
    "A": {"city", "viewer", "district_a", "counselor", "coop_user"},
    "A2": {"city", "viewer", "district_a"},
    "B": {"city", "viewer", "district_b"},
}
STAFF = {"A": {"city", "district_a"}, "A2": {"city", "district_a"}, "B": {"city", "district_b"}}
# who records item outcomes
RECORDERS = {"A": {"city", "district_a", "counselor"}, "A2": STAFF["A2"], "B": STAFF["B"]}

PAGES = {
    "compliance:case_list",
    "compliance:case_export",
    "compliance:case_detail",
    "compliance:case_transition",
    "compliance:case_open",
    "compliance:assistance_add",
    "compliance:item_detail",
    "compliance:task_detail",
    "compliance:checklist_detail",
}
API = {
    "compliancechecklist-list",
    "compliancechecklist-detail",
    "rectificationcase-list",
    "rectificationcase-detail",
    "rectificationcase-transition",
    "rectificationitem-list",
    "rectificationitem-detail",
    "rectificationitem-outcome",
    "rectificationtask-list",
    "rectificationtask-detail",
    "rectificationassistance-list",
    "rectificationassistance-detail",
}
MATRIX_URL_NAMES = PAGES | API


def test_every_compliance_url_is_in_the_matrix() -> None:
    names: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "compliance":
            names = {f"compliance:{p.name}" for p in pattern.url_patterns}
    assert names == PAGES
    from hezuo.core.tests.test_permission_matrix import resolver_urls

    prefixes = ("compliancechecklist-", "rectification")
    assert {n for n in resolver_urls() if n.startswith(prefixes)} == API


@pytest.fixture
def cw(city_data: dict[str, Any]) -> dict[str, Any]:
    """A case on coop_a, coop_a2 and coop_b (each fails K01 and K02: two tasks), with one assistance."""
    coops = {"A": city_data["coop_a"], "A2": city_data["coop_a2"], "B": city_data["coop_b"]}
    cases, items, tasks, aid = {}, {}, {}, {}
    for key, coop in coops.items():
        facts(coop, members=3, farmer_members=1, members_with_accounts=3)
        staff = city_data["district_b"] if key == "B" else city_data["district_a"]
        cases[key] = rx.open_case(staff, coop, year=YEAR)
        items[key] = cases[key].items.get(key="K01")
        tasks[key] = cases[key].tasks.get(item__key="K01")
        aid[key] = rx.add_assistance(
            cases[key],
            staff,
            kind="training",
            description="Bookkeeping course",
            date=dt.date.today(),
            given_by="区供销社",
        )
    return {
        **city_data,
        "coops": coops,
        "cases": cases,
        "items": items,
        "tasks": tasks,
        "aid": aid,
        "checklist": Checklist.objects.get(),
    }


def login(world: dict[str, Any], persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world[persona])
    return client


def unchanged(world: dict[str, Any], before: int) -> None:
    assert ChangeRecord.objects.count() == before
    assert set(RectificationCase.objects.values_list("status", flat=True)) == {"open"}
    assert RectificationCase.objects.count() == 3 and SpecialAssistance.objects.count() == 3


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_pages(persona: str, cw: dict[str, Any]) -> None:
    client = login(cw, persona)
    before = ChangeRecord.objects.count()

    def check(method: str, url: str, ok: bool, good: int = 200, data: Any = None, refused: int = 404) -> Any:
        response = client.post(url, data or {}) if method == "POST" else client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], url
            return None
        assert response.status_code == (good if ok else refused), (url, persona, response.status_code)
        return response

    listing = check("GET", reverse("compliance:case_list"), True)
    if listing is not None:
        shown = {int(pk) for pk in re.findall(r'<tr data-pk="(\d+)"', listing.content.decode())}
        assert shown == {cw["cases"][c].pk for c in REACH if persona in REACH[c]}
    export = check("GET", reverse("compliance:case_export"), persona in EXPORTERS)
    if export is not None and persona in EXPORTERS:
        from hezuo.core.testing import xlsx_text

        text = xlsx_text(export)
        for case, coop in cw["coops"].items():
            assert (coop.name in text) == (persona in REACH[case])
    check("GET", reverse("compliance:checklist_detail", args=[cw["checklist"].pk]), True)
    for case in ("A", "A2", "B"):
        reach, staff = persona in REACH[case], persona in STAFF[case]
        pk = cw["cases"][case].pk
        check("GET", reverse("compliance:case_detail", args=[pk]), reach)
        # closing an open case is out of order (400); the refresh changes nothing (302)
        url = reverse("compliance:case_transition", args=[pk, "close"])
        check("POST", url, staff, 400, refused=403 if reach else 404)
        check("POST", reverse("compliance:case_transition", args=[pk, "refresh"]), staff, 302)
        check("POST", reverse("compliance:case_transition", args=[pk, "nonsense"]), False)
        coop_pk = cw["coops"][case].pk
        check("GET", reverse("compliance:case_open", args=[coop_pk]), staff)
        check("POST", reverse("compliance:case_open", args=[coop_pk]), staff, 400)  # no year
        check("GET", reverse("compliance:assistance_add", args=[pk]), staff)
        check("POST", reverse("compliance:assistance_add", args=[pk]), staff, 400)  # nothing filled in
        item = cw["items"][case].pk
        check("GET", reverse("compliance:item_detail", args=[item]), reach)
        check("POST", reverse("compliance:item_detail", args=[item]), persona in RECORDERS[case], 400)
        task = cw["tasks"][case].pk
        check("GET", reverse("compliance:task_detail", args=[task]), reach)
        check("POST", reverse("compliance:task_detail", args=[task]), staff, 400)
    unchanged(cw, before)


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_api(persona: str, cw: dict[str, Any]) -> None:
    client = login(cw, persona)
    before = ChangeRecord.objects.count()

    def check(method: str, url: str, ok: bool, good: int = 200, data: Any = None, refused: int = 404) -> Any:
        if method == "GET":
            response = client.get(url)
        else:
            response = getattr(client, method.lower())(url, data or {}, content_type="application/json")
        if persona == "anonymous":
            assert response.status_code in (401, 403), url
            return None
        assert response.status_code == (good if ok else refused), (url, persona, response.status_code)
        return response

    reached = {case for case in REACH if persona in REACH[case]}
    lists = {
        "rectificationcase-list": {cw["cases"][c].pk for c in reached},
        "rectificationitem-list": set(
            RectificationItem.objects.filter(
                case__in=[cw["cases"][c] for c in reached], key="K01"
            ).values_list("pk", flat=True)
        ),
        "rectificationtask-list": set(
            RectificationTask.objects.filter(case__in=[cw["cases"][c] for c in reached]).values_list(
                "pk", flat=True
            )
        ),
        "rectificationassistance-list": {cw["aid"][c].pk for c in reached},
        "compliancechecklist-list": {cw["checklist"].pk},
    }
    for name, expected in lists.items():
        query = "?key=K01" if name == "rectificationitem-list" else ""  # one page: an item per case
        response = check("GET", reverse(name) + query, True)
        if response is not None:
            assert api_ids(response) == expected, name
    check("GET", reverse("compliancechecklist-detail", args=[cw["checklist"].pk]), True)
    openers = {"city", "district_a", "district_b"}
    check("POST", reverse("rectificationcase-list"), persona in openers, 400)  # no cooperative, no year
    for case in ("A", "A2", "B"):
        reach, staff = persona in REACH[case], persona in STAFF[case]
        pk = cw["cases"][case].pk
        check("GET", reverse("rectificationcase-detail", args=[pk]), reach)
        refused = 403 if reach else 404  # a step refused on a case the user sees: 403 with the reason
        check(
            "POST", reverse("rectificationcase-transition", args=[pk, "close"]), staff, 400, refused=refused
        )
        if not staff:  # (staff would start it: the state machine's tests cover that)
            response = check(
                "POST", reverse("rectificationcase-transition", args=[pk, "start"]), False, refused=refused
            )
            if response is not None and reach:
                with translation.override(response["Content-Language"]):
                    reason = str(rx.refusal(cw[persona], "start", cw["cases"][case]))
                assert response.json()["detail"] == reason
        # a case on a cooperative that has one open already: 400 for its staff, 404 for anyone else
        payload = {"cooperative": cw["coops"][case].pk, "year": YEAR}
        check("POST", reverse("rectificationcase-list"), staff, 400, payload)
        item = cw["items"][case].pk
        check("GET", reverse("rectificationitem-detail", args=[item]), reach)
        check("POST", reverse("rectificationitem-outcome", args=[item]), persona in RECORDERS[case], 400)
        check(
            "POST",
            reverse("rectificationitem-outcome", args=[item]),
            persona in RECORDERS[case],
            400,
            {"outcome": "pass", "note": ""},
        )
        task = cw["tasks"][case].pk
        check("GET", reverse("rectificationtask-detail", args=[task]), reach)
        check(
            "PATCH", reverse("rectificationtask-detail", args=[task]), staff, 400, {"deadline": "2000-01-01"}
        )
        check("GET", reverse("rectificationassistance-detail", args=[cw["aid"][case].pk]), reach)
        check(
            "POST",
            reverse("rectificationassistance-list"),
            staff,
            400,
            {"case": pk, "kind": "funding", "amount": "-5", "description": "x", "given_by": "y"},
        )
    if persona != "anonymous":
        # nothing is written or deleted through the read-only endpoints
        assert client.post(reverse("compliancechecklist-list"), {}).status_code in (404, 405)
        assert client.post(reverse("rectificationitem-list"), {}).status_code in (404, 405)
        assert client.delete(reverse("rectificationcase-detail", args=[cw["cases"]["A"].pk])).status_code in (
            404,
            405,
        )
    unchanged(cw, before)
