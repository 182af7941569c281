"""Forecast: for the plan's current year, each district's projected year-end value from the trend so far,
and the districts at risk of missing their target.

The trend is linear over the year: the value taken today (stocks on today's date, the year's ratings)
against the value at the start of the year (stocks on 31 December before), carried on to 31 December:
projected = now + (now − start) × days left ÷ days gone. Counts and sums only (shares are not projected).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from .metrics import SHARE, Actual, by_district
from .models import Plan
from .progress import base_queryset, compute, context_for


@dataclass
class Projection:
    code: str
    label: str
    key: str
    metric_label: str
    target: Decimal | None
    start: Any
    now: Any
    projected: float
    at_risk: bool
    provisional: bool


def forecast(plan: Plan, user: Any, today: dt.date | None = None) -> tuple[int | None, list[Projection]]:
    """(the year forecast, projections per district and metric), or (None, []) when no plan year runs now."""
    today = today or timezone.localdate()
    year = today.year
    if year not in plan.years:
        return None, []
    result = compute(plan, user, targets_only=True)
    base = base_queryset(user)
    start_of_year = dt.date(year, 1, 1)
    gone = (today - start_of_year).days + 1
    left = (dt.date(year, 12, 31) - today).days
    ctx_now = context_for(plan)
    ctx_now.as_of = today
    ctx_start = context_for(plan)
    ctx_start.as_of = start_of_year - dt.timedelta(days=1)
    out: list[Projection] = []
    for metric in result.all_metrics:
        definition = metric.definition
        if definition is None or definition.kind == SHARE:
            continue
        if not any(row.cell(metric.key, year).target is not None for row in result.rows):
            continue
        now = by_district(definition, base, year, ctx_now.with_config(metric.config))
        start = by_district(definition, base, year, ctx_start.with_config(metric.config))
        for row in result.rows:
            assert row.district is not None
            a_now = now.get(row.district.pk) or Actual(0)
            a_start = start.get(row.district.pk) or Actual(0)
            v_now, v_start = float(a_now.value or 0), float(a_start.value or 0)
            projected = round(v_now + (v_now - v_start) * left / gone, 1)
            target = row.cell(metric.key, year).target
            out.append(
                Projection(
                    row.code,
                    row.label,
                    metric.key,
                    metric.display_label,
                    target,
                    a_start.value or 0,
                    a_now.value or 0,
                    projected,
                    target is not None and projected < float(target),
                    a_now.provisional,
                )
            )
    out.sort(key=lambda p: (not p.at_risk, p.key, p.code))
    return year, out
