"""City staff change a plan in the UI: one target at a time (a district's or the city's, for a metric and a
year), and the next plan made from an existing one (its metrics, districts and settings, years shifted).

Every write goes through hezuo.core.services inside a change context, so each is recorded with who, when,
the reason and the values before and after. A closed year's targets are refused (reopen the year first).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, can
from hezuo.core.services import retire_record, save_record, snapshot
from hezuo.geo.models import Division

from .closing import closed_years
from .models import Metric, Plan, Target, YearClose


def closed_message(year: int) -> str:
    return _("%(year)s is closed: its targets cannot be changed until it is reopened.") % {"year": year}


def _require(user: Any, model: type[Any], action: str) -> None:
    if user is not None and getattr(user, "pk", None) and not can(user, model, action):
        raise PermissionDenied(_("You may not do this."))


def current_target(plan: Plan, metric: Metric, year: int, district: Division | None) -> Target | None:
    qs = Target.objects.filter(plan=plan, metric=metric, year=year, retired_at__isnull=True)
    qs = qs.filter(district=district) if district is not None else qs.filter(district__isnull=True)
    return qs.first()


def cell_history(plan: Plan, metric: Metric, year: int, district: Division | None) -> QuerySet[ChangeRecord]:
    """The change records of one target cell (every target row it ever had, retired ones included)."""
    from django.contrib.contenttypes.models import ContentType

    rows = Target.objects.filter(plan=plan, metric=metric, year=year)
    rows = rows.filter(district=district) if district is not None else rows.filter(district__isnull=True)
    return (
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(Target),
            object_id__in=list(rows.values_list("pk", flat=True)),
        )
        .select_related("content_type", "user")
        .order_by("-time", "-id")
    )


@transaction.atomic
def set_target(
    plan: Plan,
    metric: Metric,
    year: int,
    district: Division | None,
    value: Decimal | None,
    *,
    user: Any = None,
    reason: str = "",
    source: str = "web",
) -> Target | None:
    """Set (or, with value None, remove) the target of one cell; returns the target (None when removed or
    when there was nothing to remove). Refused (ValidationError) for a closed year, a year outside the plan,
    a negative value or a share above 1."""
    _require(user, Target, CHANGE)
    if metric.plan_id != plan.pk:
        raise ValidationError(_("This metric belongs to another plan."))
    if year not in (plan.years or []):
        raise ValidationError(_("%(year)s is not a year of the plan.") % {"year": year})
    if district is not None and district.level != Division.Level.DISTRICT:
        raise ValidationError(_("Choose a district."))
    # lock the year's close row (when there is one) so that a close cannot slip in between
    YearClose.objects.select_for_update().filter(plan=plan, year=year).first()
    if year in closed_years(plan):
        raise ValidationError(closed_message(year))
    existing = current_target(plan, metric, year, district)
    with change_context(user=user, source=source, reason=reason or _("target edited")):
        if value is None:
            if existing is not None:
                retire_record(existing)
            return None
        if existing is None:
            existing = Target(plan=plan, metric=metric, year=year, district=district, value=value)
            save_record(existing)
            return existing
        if existing.value == value:
            return existing
        before = snapshot(existing)
        existing.value = value
        save_record(existing, before=before)
        return existing


@dataclass
class CopyRequest:
    code: str
    name: str
    first_year: int
    issuer: str = ""
    issued_on: Any = None
    copy_values: bool = False


@transaction.atomic
def copy_plan(source: Plan, request: CopyRequest, *, user: Any = None, source_name: str = "web") -> Plan:
    """A new plan with `source`'s structure: its metrics (labels, annex columns, settings), its districts
    (order and short names) and its settings, its years shifted to start at `request.first_year`; with
    `copy_values`, its targets too (shifted by the same number of years), to be edited afterwards."""
    _require(user, Plan, ADD)
    years = list(source.years or [])
    if not years:
        raise ValidationError(_("The plan has no years to copy."))
    if Plan.objects.filter(code=request.code).exists():
        raise ValidationError({"code": _("A plan with the code %(code)s exists.") % {"code": request.code}})
    shift = request.first_year - years[0]
    reason = _("plan made from %(code)s") % {"code": source.code}
    with change_context(user=user, source=source_name, reason=reason):
        plan = Plan(
            code=request.code,
            name=request.name,
            issuer=request.issuer,
            issued_on=request.issued_on,
            years=[y + shift for y in years],
            config=dict(source.config or {}),
            district_labels=[list(pair) for pair in (source.district_labels or [])],
        )
        save_record(plan)
        metrics: dict[int, Metric] = {}
        for metric in source.metrics.filter(retired_at__isnull=True).order_by("pk"):
            copy = Metric(
                plan=plan,
                key=metric.key,
                label=metric.label,
                annex_order=metric.annex_order,
                config=dict(metric.config or {}),
            )
            save_record(copy)
            metrics[metric.pk] = copy
        if request.copy_values:
            targets = source.targets.filter(retired_at__isnull=True, metric_id__in=list(metrics))
            for target in targets.order_by("pk"):
                save_record(
                    Target(
                        plan=plan,
                        metric=metrics[target.metric_id],
                        district_id=target.district_id,
                        year=target.year + shift,
                        value=target.value,
                    )
                )
    return plan


def plan_districts(plan: Plan) -> list[tuple[Division, str]]:
    """The districts of a plan's table in its order with their short names (every district of the city
    when the plan names none)."""
    districts = {d.code: d for d in Division.objects.filter(level=Division.Level.DISTRICT)}
    order = plan.district_order
    if not order:
        return [(d, d.name) for d in sorted(districts.values(), key=lambda d: d.code)]
    found = [(districts[code], label) for code, label in order if code in districts]
    listed = {code for code, _label in order}
    found += [(d, d.name) for code, d in sorted(districts.items()) if code not in listed]
    return found


def targets_grid(plan: Plan, year: int) -> dict[tuple[int | None, int], Target]:
    """{(district id or None, metric id): target} of one year."""
    rows = Target.objects.filter(plan=plan, year=year, retired_at__isnull=True).filter(
        Q(district__isnull=True) | Q(district__level=Division.Level.DISTRICT)
    )
    return {(t.district_id, t.metric_id): t for t in rows}
