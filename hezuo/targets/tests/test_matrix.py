"""The plans' pages: every persona × every URL of the app × districts in and out of reach.

Every URL name of the app ("targets:") is listed in MATRIX_URL_NAMES (the site-wide matrix in
hezuo/core/tests/test_permission_matrix.py reads it). City staff and the city-wide viewer see everything;
district staff see and export their own district only (another district's or the city's drill-down: 404);
counselors and cooperative users have no access (404); anonymous users go to the login page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from hezuo.conftest import DISTRICT_A, DISTRICT_B, PERSONAS
from hezuo.core.testing import is_login_redirect
from hezuo.targets.loader import ensure_shipped_plans

pytestmark = pytest.mark.django_db

CODE = "zhuzhendi-2023-2025"
READERS = {"city", "viewer", "district_a", "district_b"}
# the drill-down's where -> who reaches it
WHERE = {
    DISTRICT_A: {"city", "viewer", "district_a"},
    DISTRICT_B: {"city", "viewer", "district_b"},
    "city": {"city", "viewer"},
}
MATRIX_URL_NAMES = {
    "targets:plan_list",
    "targets:progress",
    "targets:export",
    "targets:drilldown",
    "targets:dashboard",
    "targets:review",
    "targets:plan_load",
    "targets:forecast",
    "targets:close_year",
    "targets:reopen_year",
    "targets:mine",
    "targets:district",
    "targets:plan_targets",
    "targets:target_edit",
    "targets:plan_copy",
    # the API (read-only)
    "plan-list",
    "plan-detail",
    "plan-progress",
    "target-list",
    "target-detail",
}
API_NAMES = {"plan-list", "plan-detail", "plan-progress", "target-list", "target-detail"}
CLOSERS = {"city"}
EDITORS = {"city"}  # edit targets, make the next plan
# district staff opening the plan's table or dashboard see their own district's page
LANDING = {"district_a": DISTRICT_A, "district_b": DISTRICT_B}


def urls() -> list[tuple[str, str, set[str]]]:
    found = [
        ("targets:plan_list", reverse("targets:plan_list"), READERS),
        ("targets:plan_load", reverse("targets:plan_load"), {"city"}),
        ("targets:progress", reverse("targets:progress", args=[CODE]), READERS),
        ("targets:export", reverse("targets:export", args=[CODE]), READERS),
        ("targets:dashboard", reverse("targets:dashboard", args=[CODE]), READERS),
        ("targets:review", reverse("targets:review", args=[CODE]), READERS),
        ("targets:forecast", reverse("targets:forecast", args=[CODE]), READERS),
        ("targets:review", reverse("targets:review", args=[CODE]) + "?year=2024", READERS),
        ("targets:review", reverse("targets:review", args=[CODE]) + "?year=2031", set()),
        (
            "targets:dashboard",
            reverse("targets:dashboard", args=[CODE]) + "?metric=sponsored_coops&year=2023",
            READERS,
        ),
        ("targets:export", reverse("targets:export", args=[CODE]) + "?targets_only=1", READERS),
        ("targets:mine", reverse("targets:mine"), READERS),
        ("targets:district", reverse("targets:district", args=[CODE, DISTRICT_A]), WHERE[DISTRICT_A]),
        ("targets:district", reverse("targets:district", args=[CODE, DISTRICT_B]), WHERE[DISTRICT_B]),
        (
            "targets:district",
            reverse("targets:district", args=[CODE, DISTRICT_B]) + "?metric=sponsored_coops&year=2023",
            WHERE[DISTRICT_B],
        ),
        ("targets:district", reverse("targets:district", args=[CODE, "330299"]), set()),
        ("targets:district", reverse("targets:district", args=["no-such-plan", DISTRICT_A]), set()),
        ("targets:plan_targets", reverse("targets:plan_targets", args=[CODE]), EDITORS),
        ("targets:plan_targets", reverse("targets:plan_targets", args=[CODE]) + "?year=2024", EDITORS),
        ("targets:plan_targets", reverse("targets:plan_targets", args=[CODE]) + "?year=2031", set()),
        (
            "targets:target_edit",
            reverse("targets:target_edit", args=[CODE, "star_coops", 2024, DISTRICT_A]),
            EDITORS,
        ),
        (
            "targets:target_edit",
            reverse("targets:target_edit", args=[CODE, "sponsored_five_star", 2025, "city"]),
            EDITORS,
        ),
        (
            "targets:target_edit",
            reverse("targets:target_edit", args=[CODE, "star_coops", 2031, "city"]),
            set(),
        ),
        ("targets:target_edit", reverse("targets:target_edit", args=[CODE, "no_such", 2024, "city"]), set()),
        ("targets:plan_copy", reverse("targets:plan_copy", args=[CODE]), EDITORS),
        ("targets:progress", reverse("targets:progress", args=["no-such-plan"]), set()),
        ("targets:drilldown", reverse("targets:drilldown", args=[CODE, "no_such", 2024, DISTRICT_A]), set()),
        (
            "targets:drilldown",
            reverse("targets:drilldown", args=[CODE, "star_coops", 2030, DISTRICT_A]),
            set(),
        ),
    ]
    for where, who in WHERE.items():
        for metric in ("star_coops", "member_households", "sponsored_share_county_standard"):
            found.append(
                ("targets:drilldown", reverse("targets:drilldown", args=[CODE, metric, 2024, where]), who)
            )
    return found


def test_every_targets_url_is_in_the_matrix() -> None:
    names: set[str] = set()
    api: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "targets":
            names = {f"targets:{p.name}" for p in pattern.url_patterns}
        for sub in getattr(pattern, "url_patterns", []):
            for leaf in getattr(sub, "url_patterns", [sub]):
                name = getattr(leaf, "name", None) or ""
                if name.split("-")[0] in ("plan", "target"):
                    api.add(name)
    assert names | api == MATRIX_URL_NAMES
    assert api == API_NAMES
    assert {name for name, _u, _w in urls()} | {"targets:close_year", "targets:reopen_year"} | API_NAMES == (
        MATRIX_URL_NAMES
    )
    assert {name for name, _u, _w in writes()} == {"targets:target_edit", "targets:plan_copy"}


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_matrix(persona: str, city_data: dict[str, Any]) -> None:
    ensure_shipped_plans()
    client = Client()
    if persona != "anonymous":
        client.force_login(city_data[persona])
    for name, address, allowed in urls():
        response = client.get(address)
        if persona == "anonymous":
            assert is_login_redirect(response), (name, address)
            continue
        if persona in LANDING and name in ("targets:progress", "targets:dashboard") and persona in allowed:
            assert response.status_code == 200, (name, persona)
            assert response.context["division"].code == LANDING[persona], (name, persona)  # their page
        elif name == "targets:mine" and persona in allowed:
            landing = (
                reverse("targets:district", args=[CODE, LANDING[persona]])
                if persona in LANDING
                else reverse("targets:progress", args=[CODE])
            )
            assert response.status_code == 302 and response["Location"] == landing, (persona, response)
            response = client.get(response["Location"])
        expected = 200 if persona in allowed else 404
        assert response.status_code == expected, (name, address, persona, response.status_code)


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_close_and_reopen_matrix(persona: str, city_data: dict[str, Any]) -> None:
    from hezuo.targets.models import YearClose

    ensure_shipped_plans()
    client = Client()
    if persona != "anonymous":
        client.force_login(city_data[persona])
    for name in ("targets:close_year", "targets:reopen_year"):
        address = reverse(name, args=[CODE, 2024])
        response = client.post(address)
        if persona == "anonymous":
            assert is_login_redirect(response), name
        else:
            assert response.status_code == (302 if persona in CLOSERS else 404), (name, persona)
        assert client.get(address).status_code in (302, 404, 405)  # never a GET action
        if name == "targets:close_year":
            assert YearClose.objects.filter(closed=True).exists() == (persona in CLOSERS)
    assert not YearClose.objects.filter(closed=True).exists()


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_api_matrix(persona: str, city_data: dict[str, Any]) -> None:
    from hezuo.targets.models import Target

    (plan,) = ensure_shipped_plans()
    client = Client()
    if persona != "anonymous":
        client.force_login(city_data[persona])
    target_a = Target.objects.get(plan=plan, district__code=DISTRICT_A, metric__key="star_coops", year=2024)
    target_b = Target.objects.get(plan=plan, district__code=DISTRICT_B, metric__key="star_coops", year=2024)
    addresses = {
        "plan-list": reverse("plan-list"),
        "plan-detail": reverse("plan-detail", args=[plan.pk]),
        "plan-progress": reverse("plan-progress", args=[plan.pk]),
        "target-list": reverse("target-list"),
        "target-a": reverse("target-detail", args=[target_a.pk]),
        "target-b": reverse("target-detail", args=[target_b.pk]),
    }
    reach = {
        "target-a": {"city", "viewer", "district_a"},
        "target-b": {"city", "viewer", "district_b"},
    }
    for name, address in addresses.items():
        response = client.get(address)
        if persona == "anonymous":
            assert response.status_code in (401, 403), name
            continue
        if name.endswith("-list"):
            assert response.status_code == (200 if persona in READERS else 404), (name, persona)
            if persona not in READERS:
                continue
            count = response.json()["count"]
            if name == "plan-list":
                assert count == (1 if persona in READERS else 0), persona
            else:
                want = {"city": 69, "viewer": 69, "district_a": 15, "district_b": 15}.get(persona, 0)
                assert count == want, (persona, count)
            continue
        allowed = reach.get(name, READERS)
        assert response.status_code == (200 if persona in allowed else 404), (name, persona)
        if name == "plan-progress" and persona in READERS:
            districts = {c["district"] for c in response.json()["cells"]}
            if persona.startswith("district"):
                assert districts == {DISTRICT_A if persona == "district_a" else DISTRICT_B}
            else:
                assert len(districts) == 11
    # read-only
    if persona == "city":
        assert client.post(reverse("plan-list"), {}).status_code == 405
        assert client.delete(addresses["target-a"]).status_code == 405


def writes() -> list[tuple[str, str, dict[str, str]]]:
    return [
        (
            "targets:target_edit",
            reverse("targets:target_edit", args=[CODE, "star_coops", 2024, DISTRICT_A]),
            {"value": "123", "reason": "matrix"},
        ),
        (
            "targets:plan_copy",
            reverse("targets:plan_copy", args=[CODE]),
            {"code": "next-2026-2028", "name": "next", "first_year": "2026"},
        ),
    ]


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_write_matrix(persona: str, city_data: dict[str, Any]) -> None:
    """Editing a target and making the next plan: city staff only (302 after the change); anyone else 404
    and nothing written; anonymous users go to the login page."""
    from hezuo.targets.models import Plan, Target

    ensure_shipped_plans()
    client = Client()
    if persona != "anonymous":
        client.force_login(city_data[persona])
    for name, address, data in writes():
        response = client.post(address, data)
        if persona == "anonymous":
            assert is_login_redirect(response), name
        else:
            assert response.status_code == (302 if persona in EDITORS else 404), (name, persona)
    changed = Target.objects.filter(
        district__code=DISTRICT_A, metric__key="star_coops", year=2024, retired_at__isnull=True, value=123
    ).exists()
    assert changed == (persona in EDITORS)
    assert Plan.objects.filter(code="next-2026-2028").exists() == (persona in EDITORS)
