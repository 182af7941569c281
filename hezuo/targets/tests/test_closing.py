"""Closing a year keeps its numbers (and drill-down lists) when the registry changes; reopening makes it
live again; a closed year's targets cannot be edited; both are recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from hezuo.conftest import DISTRICT_A
from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import save_record, snapshot
from hezuo.registry.models import Organization, Sponsorship
from hezuo.targets import closing
from hezuo.targets.loader import ensure_shipped_plans
from hezuo.targets.models import Snapshot, Target
from hezuo.targets.progress import compute

from . import world

pytestmark = pytest.mark.django_db
CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def setup(city_data: dict[str, Any]) -> dict[str, Any]:
    (plan,) = ensure_shipped_plans()
    coops = world.build(counselor=city_data["counselor"])
    return {"plan": plan, "coops": coops, **city_data}


def numbers(plan: Any, user: Any, year: int) -> dict[tuple[str, str], Any]:
    result = compute(plan, user)
    rows = [*result.rows, result.total] if result.total else result.rows
    return {(row.code, m.key): row.cell(m.key, year).actual.value for row in rows for m in result.all_metrics}


def sponsor_c1(coops: dict[str, Any]) -> None:
    with change_context(source="cli"):
        save_record(
            Sponsorship(
                cooperative=coops["c1"],
                kind="lead",
                mode="services",
                sponsor=Organization.objects.first(),
                start_date=dt.date(2023, 1, 1),
            )
        )


def test_a_closed_year_does_not_change_when_data_changes(setup: dict[str, Any], client_for: Any) -> None:
    plan, city = setup["plan"], setup["city"]
    live = numbers(plan, city, 2024)
    closing.close_year(plan, 2024, user=city, note="year-end")
    assert numbers(plan, city, 2024) == live
    sponsor_c1(setup["coops"])
    assert numbers(plan, city, 2024) == live  # closed: the snapshot
    assert numbers(plan, city, 2023)[(DISTRICT_A, "sponsored_coops")] == 3  # open: live
    # the closed year's drill-down is the snapshot's list and adds up to its number
    url = reverse("targets:drilldown", args=[CODE, "sponsored_coops", 2024, DISTRICT_A])
    response = client_for("district_a").get(url)
    assert response.context["total_count"] == live[(DISTRICT_A, "sponsored_coops")] == 1
    url = reverse("targets:drilldown", args=[CODE, "member_households", 2024, DISTRICT_A])
    page = client_for("district_a").get(url).context["page"]
    assert sum(c.metric_value for c in page) == live[(DISTRICT_A, "member_households")] == 80
    # reopening: live again, recorded
    closing.reopen_year(plan, 2024, user=city, note="late data")
    assert numbers(plan, city, 2024)[(DISTRICT_A, "sponsored_coops")] == 2
    assert not Snapshot.objects.filter(retired_at__isnull=True).exists()
    close_records = ChangeRecord.objects.filter(content_type__model="yearclose").order_by("pk")
    assert [r.action for r in close_records] == ["create", "update"]
    assert close_records.last().message == "late data"
    assert (
        ChangeRecord.objects.filter(content_type__model="snapshot", action="retire").count()
        == Snapshot.objects.count()
    )


def test_district_user_sees_their_districts_snapshot(setup: dict[str, Any]) -> None:
    closing.close_year(setup["plan"], 2024, user=setup["city"])
    result = compute(setup["plan"], setup["district_a"])
    assert [r.code for r in result.rows] == [DISTRICT_A]
    assert result.rows[0].cell("star_coops", 2024).actual.value == 2


def test_closed_years_targets_are_locked(setup: dict[str, Any]) -> None:
    plan = setup["plan"]
    closing.close_year(plan, 2024, user=setup["city"])
    target = Target.objects.get(plan=plan, metric__key="star_coops", district__code=DISTRICT_A, year=2024)
    before = snapshot(target)
    target.value = 1
    with pytest.raises(ValidationError), change_context(user=setup["city"]):
        save_record(target, before=before)
    with pytest.raises(ValidationError):
        closing.close_year(plan, 2024, user=setup["city"])  # already closed
    with pytest.raises(ValidationError):
        closing.reopen_year(plan, 2023, user=setup["city"])  # not closed
    with pytest.raises(ValidationError):
        closing.close_year(plan, 2031, user=setup["city"])  # not a plan year


def test_only_city_staff_close(setup: dict[str, Any]) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        closing.close_year(setup["plan"], 2024, user=setup["district_a"])
