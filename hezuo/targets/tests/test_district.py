"""District staff land on their own district's page: its metrics × years, its drill-downs, its map highlight,
and no other district's numbers anywhere (page, map data, export). City staff open any district's page."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from hezuo.conftest import DISTRICT_A, DISTRICT_B
from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.rating.models import Rating
from hezuo.targets import cache
from hezuo.targets.loader import ensure_shipped_plans
from hezuo.targets.progress import compute

from . import world

pytestmark = pytest.mark.django_db

CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def plan(city_data: dict[str, Any]) -> Any:
    (plan,) = ensure_shipped_plans()
    world.build(counselor=city_data["counselor"])
    return plan


def district_url(code: str, query: str = "") -> str:
    return reverse("targets:district", args=[CODE, code]) + query


@pytest.mark.parametrize("name", ["targets:progress", "targets:dashboard"])
def test_district_staff_land_on_their_district(plan: Any, client_for: Any, name: str) -> None:
    client = client_for("district_b")
    page = client.get(reverse(name, args=[CODE]) + "?metric=sponsored_coops&year=2023")
    assert page.status_code == 200  # their district's page, in place
    assert page.context["division"].code == DISTRICT_B and page.context["metric"].key == "sponsored_coops"
    assert page.context["year"] == 2023
    assert [r.code for r in page.context["progress"].rows] == [DISTRICT_B]


def test_the_way_in_from_the_home_page(plan: Any, client_for: Any) -> None:
    url = reverse("targets:mine")
    assert client_for("district_a").get(url)["Location"] == district_url(DISTRICT_A)
    assert client_for("city").get(url)["Location"] == reverse("targets:progress", args=[CODE])
    assert client_for("viewer").get(url)["Location"] == reverse("targets:progress", args=[CODE])
    assert client_for("counselor").get(url).status_code == 404


def test_no_plan_yet_leads_to_the_plan_list(city_data: dict[str, Any], client_for: Any) -> None:
    assert client_for("district_a").get(reverse("targets:mine"))["Location"] == reverse("targets:plan_list")


def test_the_district_page_shows_only_that_district(plan: Any, client_for: Any) -> None:
    page = client_for("district_a").get(district_url(DISTRICT_A, "?metric=star_coops&year=2024"))
    assert page.status_code == 200
    table = {r["key"]: r["cells"] for r in page.context["table"]}
    years = page.context["years"]
    star_2024 = table["star_coops"][years.index(2024)]
    assert star_2024["actual"] == "2" and star_2024["target"] == "200"  # c1, c4 (not 象山's c5)
    assert star_2024["url"] == reverse("targets:drilldown", args=[CODE, "star_coops", 2024, DISTRICT_A])
    assert table["member_households"][years.index(2024)]["actual"] == "80"
    data = page.context["data"]
    assert [r["name"] for r in data["regions"]] == ["宁海县"] and data["highlight"] == "宁海县"
    assert data["links"] == {}  # district staff reach no other district
    assert data["trend"]["actuals"][years.index(2024)] == 2.0
    html = page.content.decode()
    assert "象山" not in html  # not a name, not a number of another district
    assert page.context["progress"].total is None and not page.context["progress"].kpis
    # another district's page: 404, as is an unknown one
    assert client_for("district_a").get(district_url(DISTRICT_B)).status_code == 404
    assert client_for("district_a").get(district_url("330299")).status_code == 404


def test_city_staff_open_any_district_page(plan: Any, client_for: Any) -> None:
    page = client_for("city").get(district_url(DISTRICT_B, "?metric=star_coops&year=2024"))
    assert page.status_code == 200
    data = page.context["data"]
    assert [r["name"] for r in data["regions"]] == ["象山县"]
    assert data["regions"][0]["actual"] == "1"
    assert len(data["links"]) == 9 and "宁海县" in data["links"]  # names and links, no numbers
    assert all(set(r) >= {"name", "url"} for r in data["regions"])
    # the same numbers as the city's table
    row = {r.code: r for r in compute(plan, page.wsgi_request.user).rows}[DISTRICT_B]
    assert row.cell("star_coops", 2024).actual.value == 1
    # the dashboard's map and table link each district to its page
    dash = client_for("city").get(reverse("targets:dashboard", args=[CODE]) + "?metric=star_coops&year=2024")
    regions = {r["name"]: r for r in dash.context["data"]["regions"]}
    assert regions["宁海县"]["url"] == district_url(DISTRICT_A, "?metric=star_coops&year=2024")
    assert regions["宁海县"]["drill"] == reverse(
        "targets:drilldown", args=[CODE, "star_coops", 2024, DISTRICT_A]
    )


def test_a_district_users_map_data_and_export_count_only_their_district(plan: Any, client_for: Any) -> None:
    client = client_for("district_b")
    page = client.get(reverse("targets:dashboard", args=[CODE]) + "?metric=star_coops&year=2024", follow=True)
    data = page.context["data"]
    assert [r["name"] for r in data["regions"]] == ["象山县"] and data["links"] == {}
    assert data["regions"][0]["actual"] == "1" and data["regions"][0]["target"] == "190"
    ws = load_workbook(io.BytesIO(client.get(reverse("targets:export", args=[CODE])).content)).active
    assert [ws.cell(r, 1).value for r in range(6, ws.max_row + 1)] == ["象山"]
    # the API's progress too
    from hezuo.targets.models import Plan

    api = client.get(reverse("plan-progress", args=[Plan.objects.get(code=CODE).pk])).json()
    assert {c["district"] for c in api["cells"]} == {DISTRICT_B}


def test_the_cached_rating_status_follows_the_data(plan: Any, city_data: dict[str, Any]) -> None:
    """象山 has provisional ratings only; confirming one makes its numbers confirmed at once."""
    city = city_data["city"]
    cache.clear()
    cell = {r.code: r for r in compute(plan, city).rows}[DISTRICT_B].cell("star_coops", 2024)
    assert cell.actual.provisional and cell.actual.value == 1
    rating = Rating.objects.get(cooperative__name="c5号合作社", year=2024)
    before = snapshot(rating)
    rating.status = Rating.Status.CONFIRMED
    with change_context(source="cli"):
        save_record(rating, before=before)
    cell = {r.code: r for r in compute(plan, city).rows}[DISTRICT_B].cell("star_coops", 2024)
    assert not cell.actual.provisional and cell.actual.value == 1
    assert cache.rating_status(2024)[city_data["division_b"].pk] == 1
    assert Decimal(cell.target) == 190
