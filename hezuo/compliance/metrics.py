"""The plan's progress metric of this app: rectifications completed (issue 5, point 9).

Registered on hezuo.targets.metrics (imported from ComplianceConfig.ready()).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from hezuo.targets.metrics import COUNT, MetricContext, MetricDef, base_for, register

from .models import RectificationCase


def rectified_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    """Cooperatives with a rectification case closed (every item passed or waived) in the year, up to the
    as-of date; counted once however many cases closed."""
    on = ctx.on(year)
    closed = RectificationCase.objects.filter(
        cooperative=OuterRef("pk"),
        status=RectificationCase.Status.CLOSED,
        retired_at__isnull=True,
        closed_on__gte=dt.date(year, 1, 1),
        closed_on__lte=on,
    )
    return base_for(base, year, on).filter(Exists(closed))


RECTIFICATIONS_COMPLETED = register(
    MetricDef(
        key="rectifications_completed",
        label=_("Rectifications completed"),
        meaning=_(
            "Cooperatives whose rectification case was closed in the year: every item of the compliance "
            "checklist passed, did not apply, or was waived with a reason."
        ),
        kind=COUNT,
        as_of=_("cases closed in the year"),
        members=rectified_members,
    )
)
