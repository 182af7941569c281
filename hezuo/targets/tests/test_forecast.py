"""Forecast: the current year's projection from the trend so far, and the districts at risk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hezuo.conftest import DISTRICT_A
from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.registry.models import Organization, Sponsorship
from hezuo.targets.forecast import forecast
from hezuo.targets.loader import ensure_shipped_plans

from . import world

pytestmark = pytest.mark.django_db


def test_projection_from_the_trend_so_far(city_data: dict[str, Any]) -> None:
    (plan,) = ensure_shipped_plans()
    coops = world.build(counselor=city_data["counselor"])
    with change_context(source="cli"):
        save_record(
            Sponsorship(
                cooperative=coops["c1"],
                kind="lead",
                mode="services",
                sponsor=Organization.objects.first(),
                start_date=dt.date(2024, 4, 1),
            )
        )
    year, rows = forecast(plan, city_data["city"], today=dt.date(2024, 7, 1))
    assert year == 2024
    found = {(p.code, p.key): p for p in rows}
    a = found[(DISTRICT_A, "sponsored_coops")]
    # start of 2024: c2 and c4; on 1 July: c1, c2, c4; 183 days gone, 183 left -> 3 + 1 x 183/183
    assert (a.start, a.now, a.projected) == (2, 3, 4.0)
    assert a.at_risk and a.target == 130
    assert rows[0].at_risk  # at risk first
    assert forecast(plan, city_data["city"], today=dt.date(2027, 3, 1)) == (None, [])
    # a district user forecasts their district only
    _year, mine = forecast(plan, city_data["district_a"], today=dt.date(2024, 7, 1))
    assert {p.code for p in mine} == {DISTRICT_A}
