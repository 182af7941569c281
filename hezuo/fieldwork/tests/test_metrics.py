"""Fieldwork's metrics for the plan's progress table: campaign_visited and shells_cleaned, with their as-of
rules (registered when the app is ready)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.fieldwork import cleanup, runs
from hezuo.fieldwork.campaigns import open_campaign
from hezuo.fieldwork.models import Visit
from hezuo.registry.models import Cooperative
from hezuo.targets.metrics import REGISTRY, MetricContext, by_district, drilldown, total

from .helpers import links, no_business

pytestmark = pytest.mark.django_db


def test_the_metrics_are_registered() -> None:
    assert {"campaign_visited", "shells_cleaned"} <= set(REGISTRY)
    assert REGISTRY["campaign_visited"].kind == "count" and REGISTRY["shells_cleaned"].as_of


def visit(world: dict[str, Any], coop: str, date: dt.date) -> None:
    with change_context(source="cli"):
        save_record(Visit(cooperative=world[coop], visitor=world["city"], date=date))


def test_campaign_visited(city_data: dict[str, Any]) -> None:
    every = {"links": [], "statuses": []}
    city = city_data["city"]
    open_campaign(
        city,
        name="2024",
        district=None,
        start_date=dt.date(2024, 3, 1),
        end_date=dt.date(2024, 6, 30),
        rule=every,
    )
    # a campaign starting in 2024 and running into 2025 belongs to 2024
    open_campaign(
        city,
        name="2024冬",
        district=city_data["division_a"],
        start_date=dt.date(2024, 11, 1),
        end_date=dt.date(2025, 2, 28),
        rule=every,
    )
    visit(city_data, "coop_a", dt.date(2024, 4, 1))  # in the first campaign
    visit(city_data, "coop_a", dt.date(2024, 11, 5))  # in both: counted once
    visit(city_data, "coop_a2", dt.date(2025, 1, 10))  # in the winter campaign, after 31 December
    visit(city_data, "coop_b", dt.date(2024, 8, 1))  # outside every period
    metric = REGISTRY["campaign_visited"]
    base = Cooperative.objects.restrict(city, "view")
    parts = by_district(metric, base, 2024, MetricContext())
    assert {d: a.value for d, a in parts.items()} == {city_data["division_a"].pk: 1}
    # coop_a2's visit of 10 January 2025 is after 31 December: not in 2024's number (as of 31 December)
    assert total(metric, parts).value == 1
    members = drilldown(metric, base, 2024, MetricContext())
    assert list(members.values_list("pk", flat=True)) == [city_data["coop_a"].pk]
    # as of 31 March 2024: nothing yet (the visit of 1 April is later)
    early = by_district(metric, base, 2024, MetricContext(as_of=dt.date(2024, 3, 31)))
    assert sum(a.value or 0 for a in early.values()) == 0
    # district B staff: their part only
    parts_b = by_district(
        metric, Cooperative.objects.restrict(city_data["district_b"], "view"), 2024, MetricContext()
    )
    assert sum(a.value or 0 for a in parts_b.values()) == 0
    assert by_district(metric, base, 2025, MetricContext()) == {}


def test_shells_cleaned(city_data: dict[str, Any]) -> None:
    coops = [city_data["coop_a"], city_data["coop_a2"], city_data["coop_b"]]
    for coop in coops:
        no_business(coop, 2023, 2024)
        links(coop)
    runs.run_detection(year=2024, as_of=dt.date(2025, 11, 1))
    district = {
        c.pk: city_data["district_a" if c.district_id == city_data["division_a"].pk else "district_b"]
        for c in coops
    }
    city = city_data["city"]

    def through(coop: Cooperative, action_date: dt.date, to: str) -> None:
        case = cleanup.open_case(district[coop.pk], coop)
        case = cleanup.verify(case, district[coop.pk], finding="shell", note="走访无人")
        if to == "cleared":
            cleanup.clear(case, district[coop.pk], reason="仍在经营")
            return
        case = cleanup.approve(case, city)
        case = cleanup.carry_out(
            case,
            city,
            action_date=action_date,
            reason="空壳社清理",
            referral_date=action_date,
            referral_authority="market_regulator",
            referral_document="甬市监〔2025〕1号",
        )
        if to == "closed":
            cleanup.close(case, city)

    through(coops[0], dt.date(2025, 3, 1), "closed")  # counts for 2025
    through(coops[1], dt.date(2025, 4, 1), "actions_done")  # not closed yet: not counted
    through(coops[2], dt.date(2025, 5, 1), "cleared")  # not a shell: never counted
    metric = REGISTRY["shells_cleaned"]
    base = Cooperative.objects.restrict(city, "view")
    parts = by_district(metric, base, 2025, MetricContext())
    assert {d: a.value for d, a in parts.items()} == {city_data["division_a"].pk: 1}
    assert by_district(metric, base, 2024, MetricContext()) == {}
    assert by_district(metric, base, 2025, MetricContext(as_of=dt.date(2025, 2, 28))) == {}
    assert list(drilldown(metric, base, 2025, MetricContext()).values_list("pk", flat=True)) == [coops[0].pk]
