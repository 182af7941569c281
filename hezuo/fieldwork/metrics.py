"""Fieldwork's metrics for the plan's progress table (registered with hezuo.targets.metrics.register).

Imported by FieldworkConfig.ready(), so the metrics exist wherever the plans are loaded or computed.

As-of rules, beside the definitions:

* ``campaign_visited`` — cooperatives visited in the year's survey campaigns. A campaign belongs to the year
  its period **starts** in (campaigns not retired). A cooperative counts once, if it is a target of at least
  one such campaign and has a visit (not retired) dated within that campaign's period and on or before the
  as-of date (31 December, or the forecast date). Cooperatives retired from the registry, or registered after
  the as-of date, are not counted (hezuo.targets.metrics.base_for).
* ``shells_cleaned`` — shell and dormant cooperatives cleaned out in the year: a cleanup case that is
  **closed** (its registry actions carried out: sponsorships ended, federation memberships ended, referral
  for deregistration recorded) whose actions are dated (``action_date``) in the year, on or before the as-of
  date. A cooperative counts once. Cleared cases ("not a shell") never count. The cooperative itself stays
  in the registry (its operating status says shell or dormant), so it is still in the base.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from hezuo.targets.metrics import COUNT, MetricContext, MetricDef, base_for, register

from .models import CampaignTarget, CleanupCase, Visit


def campaign_visited_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    on = ctx.on(year)
    visited = Visit.objects.filter(
        cooperative_id=OuterRef("cooperative_id"),
        retired_at__isnull=True,
        date__gte=OuterRef("campaign__start_date"),
        date__lte=OuterRef("campaign__end_date"),
    ).filter(date__lte=on)
    targets = CampaignTarget.objects.filter(
        cooperative=OuterRef("pk"),
        retired_at__isnull=True,
        campaign__retired_at__isnull=True,
        campaign__start_date__year=year,
        campaign__start_date__lte=on,
    ).filter(Exists(visited))
    return base_for(base, year, on).filter(Exists(targets))


def shells_cleaned_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    on = ctx.on(year)
    cases = CleanupCase.objects.filter(
        cooperative=OuterRef("pk"),
        retired_at__isnull=True,
        status=CleanupCase.Status.CLOSED,
        action_date__year=year,
        action_date__lte=on,
    )
    return base_for(base, year, on).filter(Exists(cases))


CAMPAIGN_AS_OF = _("visits on or before 31 December, within the period of a campaign starting in the year")
CLEANED_AS_OF = _("closed cases whose registry actions are dated in the year (up to 31 December)")

register(
    MetricDef(
        key="campaign_visited",
        label=_("Cooperatives visited in the year's campaigns"),
        meaning=_(
            "Cooperatives among the targets of a survey campaign starting in the year and visited within "
            "that campaign's period (each cooperative once)."
        ),
        kind=COUNT,
        as_of=CAMPAIGN_AS_OF,
        members=campaign_visited_members,
    )
)
register(
    MetricDef(
        key="shells_cleaned",
        label=_("Shell and dormant cooperatives cleaned out"),
        meaning=_(
            "Cooperatives whose cleanup case is closed with its registry actions (sponsorships and "
            "federation memberships ended, referral for deregistration) dated in the year."
        ),
        kind=COUNT,
        as_of=CLEANED_AS_OF,
        members=shells_cleaned_members,
    )
)
