"""Closing a plan's year (a snapshot of every metric per district, which locks its numbers) and reopening it.

The snapshot is taken over the whole city (not the acting user's scope); each row keeps the cooperatives
behind its number, so a closed year's drill-down lists still add up to its numbers when the registry
changes later. Both are recorded in the change history (the close row, and every snapshot row in bulk).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import CHANGE, can
from hezuo.core.services import record_bulk, save_record, snapshot
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative

from .metrics import SHARE, SUM, Actual, MetricContext, by_district, drilldown
from .models import Plan, Snapshot, YearClose


def _require(user: Any) -> None:
    if user is not None and getattr(user, "pk", None) and not can(user, YearClose, CHANGE):
        raise PermissionDenied(_("You may not do this."))


def closed_years(plan: Plan) -> set[int]:
    return set(
        YearClose.objects.filter(plan=plan, closed=True, retired_at__isnull=True).values_list(
            "year", flat=True
        )
    )


@transaction.atomic
def close_year(plan: Plan, year: int, *, user: Any = None, note: str = "", source: str = "web") -> YearClose:
    _require(user)
    if year not in plan.years:
        raise ValidationError(_("%(year)s is not a year of the plan.") % {"year": year})
    if year > timezone.localdate().year:
        raise ValidationError(_("%(year)s has not begun: it cannot be closed.") % {"year": year})
    row = YearClose.objects.select_for_update().filter(plan=plan, year=year).first()
    if row is not None and row.closed:
        raise ValidationError(_("%(year)s is already closed.") % {"year": year})
    base = Cooperative.objects.all()
    ctx = MetricContext(closely_linked=tuple(plan.closely_linked))
    districts = list(Division.objects.filter(level=Division.Level.DISTRICT).values_list("pk", flat=True))
    rows: list[Snapshot] = []
    with change_context(user=user, source=source, reason=note or _("year closed")):
        for metric in plan.metrics.filter(retired_at__isnull=True):
            definition = metric.definition
            if definition is None:
                continue
            mctx = ctx.with_config(metric.config)
            values = by_district(definition, base, year, mctx)
            members: dict[int, list[list[Any]]] = defaultdict(list)
            listed = drilldown(definition, base, year, mctx)
            fields = (
                ["pk", "district_id", "metric_value"] if definition.kind == SUM else ["pk", "district_id"]
            )
            for item in listed.values_list(*fields).order_by("pk"):
                value = item[2] if len(item) > 2 else None
                members[item[1]].append([item[0], _plain(value)])
            population: dict[int, list[int]] = defaultdict(list)
            if definition.kind == SHARE:
                for pk, district_id in drilldown(definition, base, year, mctx, "population").values_list(
                    "pk", "district_id"
                ):
                    population[district_id].append(pk)
            for district_id in districts:
                actual = values.get(district_id) or Actual(None if definition.kind == SHARE else 0, 0, None)
                rows.append(
                    Snapshot(
                        plan=plan,
                        year=year,
                        metric_key=metric.key,
                        district_id=district_id,
                        value=actual.value,
                        count=actual.count,
                        denominator=actual.denominator,
                        provisional=actual.provisional,
                        members=members.get(district_id, []),
                        population=population.get(district_id, []),
                    )
                )
        Snapshot.objects.bulk_create(rows, batch_size=500)
        record_bulk(rows, ChangeRecord.Action.CREATE)
        if row is None:
            row = YearClose(plan=plan, year=year, closed=True, note=note)
            save_record(row)
        else:
            before = snapshot(row)
            row.closed, row.note = True, note
            save_record(row, before=before)
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


@transaction.atomic
def reopen_year(plan: Plan, year: int, *, user: Any = None, note: str = "", source: str = "web") -> YearClose:
    _require(user)
    row = YearClose.objects.select_for_update().filter(plan=plan, year=year, closed=True).first()
    if row is None:
        raise ValidationError(_("%(year)s is not closed.") % {"year": year})
    with change_context(user=user, source=source, reason=note or _("year reopened")):
        stale = list(Snapshot.objects.filter(plan=plan, year=year, retired_at__isnull=True))
        befores = [snapshot(s) for s in stale]
        now = timezone.now()
        Snapshot.objects.filter(pk__in=[s.pk for s in stale]).update(retired_at=now)
        for s in stale:
            s.retired_at = now
        record_bulk(stale, ChangeRecord.Action.RETIRE, befores)
        before = snapshot(row)
        row.closed, row.note = False, note
        save_record(row, before=before)
    return row


def snapshot_actuals(plan: Plan, year: int, district_ids: set[int]) -> dict[str, dict[int, Actual]]:
    """A closed year's numbers: {metric key: {district id: Actual}} for the given districts."""
    result: dict[str, dict[int, Actual]] = defaultdict(dict)
    rows = Snapshot.objects.filter(
        plan=plan, year=year, retired_at__isnull=True, district_id__in=district_ids
    )
    for s in rows.only("metric_key", "district_id", "value", "count", "denominator", "provisional"):
        value: Any = s.value
        if value is not None and s.denominator is None and value == value.to_integral_value():
            value = int(value)
        result[s.metric_key][s.district_id] = Actual(value, s.count, s.denominator, s.provisional)
    return result


def snapshot_members(plan: Plan, year: int, key: str, district_ids: set[int], part: str) -> dict[int, Any]:
    """The cooperatives behind a closed year's number: {cooperative id: summed value or None}."""
    rows = Snapshot.objects.filter(
        plan=plan, year=year, metric_key=key, retired_at__isnull=True, district_id__in=district_ids
    )
    found: dict[int, Any] = {}
    for s in rows:
        if part == "population":
            found.update(dict.fromkeys(s.population))
        else:
            found.update({pk: value for pk, value in s.members})
    return found
