"""Fieldwork's permission matrix: every persona × every page and endpoint × objects in and out of reach.

Every URL name of the app (pages "fieldwork:" and its API routes) is listed in MATRIX_URL_NAMES (the
site-wide matrix in hezuo/core/tests/test_permission_matrix.py reads it). Out of reach or without the
permission: 404, never 403, except a case step refused to a user who sees the case (403 with the reason:
nothing is revealed); anonymous: the login page (pages) or 401/403 (API). Expectations are written by hand
from the brief, not read from roles.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import translation

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
    "fieldwork:ruleset_list",
    "fieldwork:ruleset_diff",
    "fieldwork:ruleset_yaml",
    "fieldwork:ruleset_load",
    "fieldwork:ruleset_copy",
    "fieldwork:ruleset_edit",
    "fieldwork:ruleset_activate",
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
# campaigns and the contact log: test_campaign_pages / test_campaign_api below
CAMPAIGN_PAGES = {
    "fieldwork:campaign_list",
    "fieldwork:campaign_add",
    "fieldwork:campaign_detail",
    "fieldwork:campaign_targets",
    "fieldwork:campaign_export",
    "fieldwork:campaign_edit",
    "fieldwork:campaign_cancel",
    "fieldwork:contact_add",
}
CAMPAIGN_API = {
    "campaign-list",
    "campaign-detail",
    "campaign-progress",
    "campaign-cancel",
    "campaigntarget-list",
    "campaigntarget-detail",
    "contactnote-list",
    "contactnote-detail",
}
MATRIX_URL_NAMES = PAGES | VISIT_PAGES | API | CAMPAIGN_PAGES | CAMPAIGN_API


def test_every_fieldwork_url_is_in_the_matrix() -> None:
    names: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "fieldwork":
            names = {f"fieldwork:{p.name}" for p in pattern.url_patterns}
    assert names == PAGES | VISIT_PAGES | CAMPAIGN_PAGES
    from hezuo.core.tests.test_permission_matrix import resolver_urls

    api_names = {
        n
        for n in resolver_urls()
        if n.split("-")[0]
        in {
            "flag",
            "cleanupcase",
            "detectionrun",
            "ruleset",
            "visit",
            "campaign",
            "campaigntarget",
            "contactnote",
        }
    }
    assert api_names == API | CAMPAIGN_API


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

    def check(method: str, url: str, ok: bool, good: int = 200, refused: int = 404) -> None:
        response = client.post(url, {}) if method == "POST" else client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], url
            return
        assert response.status_code == (good if ok else refused), (url, persona, response.status_code)

    check("GET", reverse("fieldwork:flag_list"), persona in READERS)
    check("GET", reverse("fieldwork:case_list"), persona in READERS)
    check("GET", reverse("fieldwork:run_list"), persona in RUN_READERS)
    ruleset = RuleSet.objects.get()
    check("GET", reverse("fieldwork:ruleset_detail", args=[ruleset.pk]), persona in READERS)
    check("GET", reverse("fieldwork:ruleset_list"), persona in READERS)
    check("GET", reverse("fieldwork:ruleset_diff") + f"?a={ruleset.pk}&b={ruleset.pk}", persona in READERS)
    check("GET", reverse("fieldwork:ruleset_yaml", args=[ruleset.pk]), persona in READERS)
    # rule sets are the city's policy: only city staff load, copy and activate versions
    check("GET", reverse("fieldwork:ruleset_load"), persona == "city")
    check("POST", reverse("fieldwork:ruleset_load"), persona == "city", 400)  # empty: refused
    check("GET", reverse("fieldwork:ruleset_copy", args=[ruleset.pk]), persona == "city")
    check("GET", reverse("fieldwork:ruleset_edit", args=[ruleset.pk]), persona == "city")
    check("POST", reverse("fieldwork:ruleset_edit", args=[ruleset.pk]), persona == "city", 400)  # empty
    check("POST", reverse("fieldwork:ruleset_activate", args=[ruleset.pk]), persona == "city", 302)
    assert RuleSet.objects.count() == 1
    for case in ("A", "A2", "B"):
        check("GET", reverse("fieldwork:flag_detail", args=[fw["flags"][case].pk]), persona in REACH[case])
        check("GET", reverse("fieldwork:case_detail", args=[fw["cases"][case].pk]), persona in REACH[case])
        for transition in ("verify", "approve"):
            # an empty verification is invalid (400); approving a flagged case is out of order (400)
            url = reverse("fieldwork:case_transition", args=[fw["cases"][case].pk, transition])
            allowed = persona in CHANGERS[case] and persona in ROLE_FOR[transition]
            check("POST", url, allowed, 400, 403 if persona in REACH[case] else 404)
        # a case is already open: refused with a message (302 back to the cooperative)
        url = reverse("fieldwork:case_open", args=[fw["coops"][case].pk])
        check("POST", url, persona in CHANGERS[case] and persona in OPENERS, 302)
    check("POST", reverse("fieldwork:run_start"), persona == "city", 302)
    assert set(CleanupCase.objects.values_list("status", flat=True)) == {"flagged"}
    assert CleanupCase.objects.count() == 3


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_api(persona: str, fw: dict[str, Any]) -> None:
    client = login(fw, persona)

    def check(method: str, url: str, ok: bool, good: int = 200, refused: int = 404) -> Any:
        response = (
            client.post(url, {}, content_type="application/json") if method == "POST" else client.get(url)
        )
        if persona == "anonymous":
            assert response.status_code in (401, 403), url
            return None
        assert response.status_code == (good if ok else refused), (url, persona, response.status_code)
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
        assert all(row["photo_urls"] == [] for row in listing.json()["results"])
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
            allowed = persona in CHANGERS[case] and persona in ROLE_FOR[transition]
            response = check("POST", url, allowed, 400, 403 if persona in REACH[case] else 404)
            if response is not None and response.status_code == 403:  # the reason names the step's role
                with translation.override(response["Content-Language"]):
                    reason = str(cleanup.refusal(fw[persona], transition, fw["cases"][case]))
                assert response.json()["detail"] == reason
    if persona != "anonymous":
        # nothing is written through the read-only endpoints
        assert client.post(reverse("flag-list"), {}).status_code in (404, 405)
        assert client.post(reverse("cleanupcase-list"), {}).status_code == 404
        assert client.post(reverse("detectionrun-list"), {}).status_code in (404, 405)
        assert client.post(reverse("visit-list"), {}).status_code in (404, 405)
    assert DetectionRun.objects.count() == 1
    assert set(CleanupCase.objects.values_list("status", flat=True)) == {"flagged"}


# ------------------------------------------------------------------------------------------------------
# campaigns and the contact log
CAMPAIGN_READERS = {"city", "viewer", "district_a", "district_b"}  # counselors follow theirs on my/
CAMPAIGN_OPENERS = {"city", "district_a", "district_b"}
# which campaign each persona reaches: the city's (every district, for its part), A's, B's
CAMPAIGN_REACH = {
    "city": {"city", "viewer", "district_a", "district_b"},
    "A": {"city", "viewer", "district_a"},
    "B": {"city", "viewer", "district_b"},
}
# who may change or cancel each campaign: city staff any, district staff their own district's
CAMPAIGN_MANAGERS = {"city": {"city"}, "A": {"city", "district_a"}, "B": {"city", "district_b"}}
NOTE_ADDERS = {
    "A": {"city", "district_a", "counselor"},
    "A2": {"city", "district_a"},
    "B": {"city", "district_b"},
}


@pytest.fixture
def cw(city_data: dict[str, Any]) -> dict[str, Any]:
    """A city campaign (all three cooperatives), one of district A and one of district B; a contact note on
    each cooperative."""
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record
    from hezuo.fieldwork.campaigns import open_campaign
    from hezuo.fieldwork.models import ContactNote

    start, end = dt.date(2025, 3, 1), dt.date(2025, 6, 30)
    everything = {"links": [], "statuses": []}
    campaigns = {
        "city": open_campaign(
            city_data["city"], name="全市摸底", district=None, start_date=start, end_date=end, rule=everything
        ),
        "A": open_campaign(
            city_data["district_a"],
            name="宁海摸底",
            district=city_data["division_a"],
            start_date=start,
            end_date=end,
            rule=everything,
        ),
        "B": open_campaign(
            city_data["district_b"],
            name="象山摸底",
            district=city_data["division_b"],
            start_date=start,
            end_date=end,
            rule=everything,
        ),
    }
    coops = {"A": city_data["coop_a"], "A2": city_data["coop_a2"], "B": city_data["coop_b"]}
    notes = {}
    for case, coop in coops.items():
        notes[case] = ContactNote(
            cooperative=coop, kind="call", date=dt.date(2025, 4, 1), text="电话回访", author=city_data["city"]
        )
        with change_context(source="cli"):
            save_record(notes[case])
    targets = {case: campaigns["city"].targets.get(cooperative=coop) for case, coop in coops.items()}
    return {**city_data, "campaigns": campaigns, "coops": coops, "notes": notes, "targets": targets}


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_campaign_pages(persona: str, cw: dict[str, Any]) -> None:
    from hezuo.fieldwork.models import Campaign, ContactNote

    client = login(cw, persona)

    def check(method: str, url: str, ok: bool, good: int = 200) -> Any:
        response = client.post(url, {}) if method == "POST" else client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], url
            return None
        assert response.status_code == (good if ok else 404), (url, persona, response.status_code)
        return response

    listing = check("GET", reverse("fieldwork:campaign_list"), persona in CAMPAIGN_READERS)
    if listing is not None and persona in CAMPAIGN_READERS:
        shown = {row["campaign"].pk for row in listing.context["rows"]}
        assert shown == {cw["campaigns"][k].pk for k, who in CAMPAIGN_REACH.items() if persona in who}
    check("GET", reverse("fieldwork:campaign_add"), persona in CAMPAIGN_OPENERS)
    check("POST", reverse("fieldwork:campaign_add"), persona in CAMPAIGN_OPENERS, 400)  # empty: refused
    for key, campaign in cw["campaigns"].items():
        ok = persona in CAMPAIGN_REACH[key]
        detail = check("GET", reverse("fieldwork:campaign_detail", args=[campaign.pk]), ok)
        check("GET", reverse("fieldwork:campaign_targets", args=[campaign.pk]), ok)
        manager = persona in CAMPAIGN_MANAGERS[key]
        check("GET", reverse("fieldwork:campaign_edit", args=[campaign.pk]), manager)
        check("POST", reverse("fieldwork:campaign_edit", args=[campaign.pk]), manager, 400)  # empty: refused
        check("GET", reverse("fieldwork:campaign_cancel", args=[campaign.pk]), manager)
        check("POST", reverse("fieldwork:campaign_cancel", args=[campaign.pk]), manager, 400)  # no reason
        if detail is not None and ok:
            page = detail.content.decode()
            assert ('data-testid="campaign-edit"' in page) is manager
            assert ('data-testid="campaign-cancel"' in page) is manager
        export = check("GET", reverse("fieldwork:campaign_export", args=[campaign.pk]), ok)
        if export is not None and ok:
            assert export["Content-Type"].startswith("application/vnd.openxmlformats")
        if detail is not None and ok and key == "city":
            # a city campaign: each district sees its own part only
            districts = {row.key for row in detail.context["progress"]["districts"]}
            expected = {"district_a": {"330226"}, "district_b": {"330225"}}.get(persona, {"330226", "330225"})
            assert districts == expected
            # nor the city-wide count
            assert ("3 cooperatives when opened" in detail.content.decode()) is (
                persona in {"city", "viewer"}
            )
    for case, coop in cw["coops"].items():
        url = reverse("fieldwork:contact_add", args=[coop.pk])
        check("GET", url, persona in NOTE_ADDERS[case])
        check("POST", url, persona in NOTE_ADDERS[case], 400)  # an empty note: refused
    assert Campaign.objects.count() == 3 and ContactNote.objects.count() == 3


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_campaign_api(persona: str, cw: dict[str, Any]) -> None:
    from hezuo.fieldwork.models import Campaign, CampaignTarget, ContactNote

    client = login(cw, persona)

    def check(method: str, url: str, ok: bool, good: int = 200) -> Any:
        response = (
            client.post(url, {}, content_type="application/json") if method == "POST" else client.get(url)
        )
        if persona == "anonymous":
            assert response.status_code in (401, 403), url
            return None
        assert response.status_code == (good if ok else 404), (url, persona, response.status_code)
        return response

    listing = check("GET", reverse("campaign-list"), persona in CAMPAIGN_READERS)
    if listing is not None and persona in CAMPAIGN_READERS:
        expected = {cw["campaigns"][k].pk for k, who in CAMPAIGN_REACH.items() if persona in who}
        assert api_ids(listing) == expected
    check("POST", reverse("campaign-list"), persona in CAMPAIGN_OPENERS, 400)
    for key, campaign in cw["campaigns"].items():
        ok = persona in CAMPAIGN_REACH[key]
        detail = check("GET", reverse("campaign-detail", args=[campaign.pk]), ok)
        if detail is not None and ok and key == "city":  # the city-wide count: only for the whole city
            assert detail.json()["target_count"] == {"district_a": 2, "district_b": 1}.get(persona, 3)
        manager = persona in CAMPAIGN_MANAGERS[key]
        check("POST", reverse("campaign-cancel", args=[campaign.pk]), manager, 400)  # no reason: refused
        if persona != "anonymous":
            url = reverse("campaign-detail", args=[campaign.pk])
            bad = client.patch(url, {"name": ""}, content_type="application/json")
            assert bad.status_code == (400 if manager else 404), (persona, key, bad.status_code)
        table = check("GET", reverse("campaign-progress", args=[campaign.pk]), ok)
        if table is not None and ok and key == "city":
            expected_total = {"district_a": 2, "district_b": 1}.get(persona, 3)
            assert table.json()["total"]["targets"] == expected_total
    reached = {case for case in REACH if persona in REACH[case]}
    listing = check("GET", reverse("campaigntarget-list"), persona in READERS)
    if listing is not None and persona in READERS:
        expected = set(
            CampaignTarget.objects.filter(cooperative__in=[cw["coops"][c] for c in reached]).values_list(
                "pk", flat=True
            )
        )
        assert api_ids(listing) == expected
    for case in ("A", "A2", "B"):
        check("GET", reverse("campaigntarget-detail", args=[cw["targets"][case].pk]), persona in REACH[case])
    listing = check("GET", reverse("contactnote-list"), persona in READERS)
    if listing is not None and persona in READERS:
        assert api_ids(listing) == {cw["notes"][c].pk for c in reached}
    for case in ("A", "A2", "B"):
        check("GET", reverse("contactnote-detail", args=[cw["notes"][case].pk]), persona in REACH[case])
    note_adders = {"city", "district_a", "district_b", "counselor", "counselor_unassigned"}
    check("POST", reverse("contactnote-list"), persona in note_adders, 400)  # empty: refused
    if persona != "anonymous":
        assert client.post(reverse("campaigntarget-list"), {}).status_code in (404, 405)
        for case in ("A", "A2", "B"):
            url = reverse("contactnote-detail", args=[cw["notes"][case].pk])
            assert client.patch(url, {}, content_type="application/json").status_code in (404, 405)
    assert Campaign.objects.count() == 3 and ContactNote.objects.count() == 3
