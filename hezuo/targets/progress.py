"""The progress table: targets beside actuals per district, year and metric, bounded to the user's scope.

A district user's table has their district's row only, and the counts come from their cooperatives
(`Cooperative.objects.restrict(user, VIEW)`); the city total row and the city goals are shown to users who
reach the whole city.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, FloatField, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from hezuo.core.scoping import VIEW, can, restrict, scope_for
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative

from . import cache
from .closing import closed_years, snapshot_actuals, snapshot_members
from .metrics import Actual, MetricContext, MetricDef, by_district, drilldown, total
from .models import Metric, Plan, Target


@dataclass
class Cell:
    target: Decimal | None = None
    actual: Actual | None = None
    ratio: float | None = None
    band: dict[str, Any] | None = None


@dataclass
class Row:
    code: str  # a district code, or "city"
    label: str
    district: Division | None
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)

    def cell(self, key: str, year: int) -> Cell:
        return self.cells.get((key, year)) or Cell()


@dataclass
class Progress:
    plan: Plan
    metrics: list[Metric]  # the table's columns (the annex's), in order
    all_metrics: list[Metric]
    years: list[int]
    computed_years: list[int]
    rows: list[Row]
    total: Row | None  # for users who reach the whole city
    kpis: list[tuple[Metric, int, Cell]]  # the city goals (city-wide targets)
    city_wide: bool
    city_targets: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    closed_years: set[int] = field(default_factory=set)


def band_for(plan: Plan, ratio: float | None) -> dict[str, Any] | None:
    if ratio is None:
        return None
    chosen = None
    for band in plan.legend:
        if ratio >= float(band["from"]):
            chosen = band
    return chosen


def _cell(plan: Plan, target: Decimal | None, actual: Actual | None) -> Cell:
    ratio = None
    if target is not None and actual is not None and actual.value is not None:
        ratio = float(actual.value) / float(target) if target else (1.0 if actual.value >= 0 else None)
    return Cell(target, actual, ratio, band_for(plan, ratio))


def visible_districts(user: Any) -> QuerySet[Division]:
    scope = scope_for(user)
    districts = Division.objects.filter(level=Division.Level.DISTRICT).order_by("code")
    if scope.everything:
        return districts
    return districts.filter(pk__in=sorted(scope.district_ids))


def base_queryset(user: Any) -> QuerySet[Cooperative]:
    return Cooperative.objects.restrict(user, VIEW)


def context_for(plan: Plan) -> MetricContext:
    return MetricContext(closely_linked=tuple(plan.closely_linked))


def city_actuals(
    plan: Plan, metric: Metric, definition: MetricDef, year: int, ctx: MetricContext
) -> dict[int, Actual]:
    """The metric's values of a year for every district of the city, from the cache when the data has not
    changed since they were computed."""
    if not ctx.version:
        ctx.version.append(cache.data_version())
    mctx = ctx.with_config(metric.config)
    return cache.city_actuals(
        plan.pk,
        metric.pk,
        year,
        ctx.version[0],
        lambda: by_district(definition, Cooperative.objects.all(), year, mctx),
    )


def computed_years(plan: Plan) -> list[int]:
    """The plan's years up to the current one (later years have no actuals yet)."""
    this_year = timezone.localdate().year
    return [y for y in plan.years if y <= this_year]


@dataclass
class Frame:
    """What a plan's table is laid on: its metrics in order, its targets, its closed years, the districts."""

    metrics: list[Metric]
    district_targets: dict[tuple[int, str, int], Decimal]
    city_targets: dict[tuple[str, int], Decimal]
    closed: set[int]
    districts: list[Division]


def _frame(plan: Plan, user: Any | None) -> Frame:
    """The plan's frame, for the whole city (user None) or through the user's scope."""
    metrics = sorted(
        plan.metrics.filter(retired_at__isnull=True),
        key=lambda m: (m.annex_order is None, m.annex_order or 0, m.pk),
    )
    targets: QuerySet[Target] = Target.objects.filter(plan=plan, retired_at__isnull=True)
    if user is not None:
        targets = restrict(targets, user, VIEW)
    district_targets: dict[tuple[int, str, int], Decimal] = {}
    city_targets: dict[tuple[str, int], Decimal] = {}
    for t in targets.select_related("metric"):
        if t.district_id is None:
            city_targets[(t.metric.key, t.year)] = t.value
        else:
            district_targets[(t.district_id, t.metric.key, t.year)] = t.value
    districts: QuerySet[Division] = Division.objects.filter(level=Division.Level.DISTRICT).order_by("code")
    if user is not None:
        districts = visible_districts(user)
    return Frame(metrics, district_targets, city_targets, closed_years(plan), list(districts))


def own_district(user: Any) -> Division | None:
    """The one district a district user works in (None for users who reach the city or nothing)."""
    scope = scope_for(user)
    if scope.everything or len(scope.district_ids) != 1:
        return None
    return Division.objects.filter(pk=next(iter(scope.district_ids)), level=Division.Level.DISTRICT).first()


def compute(
    plan: Plan,
    user: Any,
    *,
    targets_only: bool = False,
    district: Division | None = None,
    metric_keys: Collection[str] | None = None,
) -> Progress:
    """The progress table in the user's scope; `district` bounds it to one district (a district's page),
    `metric_keys` computes the actuals of these metrics only (a dashboard showing one metric)."""
    if not can(user, Plan, VIEW):
        raise Http404
    scope = scope_for(user)
    # users who reach the whole city or whole districts share the city-wide values, and the plan's metrics,
    # targets and closed years (cached per data version); anyone else's are read through their scope
    shared = scope.everything or (bool(scope.district_ids) and scope.cooperative_ids is None)
    ctx = context_for(plan)
    if shared:
        ctx.version.append(cache.data_version())
        frame = cache.plan_frame(plan.pk, ctx.version[0], lambda: _frame(plan, None))
        all_districts = frame.districts
        if not scope.everything:
            all_districts = [d for d in all_districts if d.pk in scope.district_ids]
        reach = {d.pk for d in all_districts}
        district_targets = {k: v for k, v in frame.district_targets.items() if k[0] in reach}
    else:
        frame = _frame(plan, user)
        all_districts, district_targets = frame.districts, frame.district_targets
    metrics, city_targets, closed = frame.metrics, frame.city_targets, frame.closed
    columns = [m for m in metrics if m.annex_order]
    if targets_only:  # the plan's own table: the metrics it sets targets for (not those only followed)
        with_targets = {key for key, _year in city_targets} | {key for _d, key, _y in frame.district_targets}
        columns = [m for m in columns if m.key in with_targets]
    order = {code: (i, label) for i, (code, label) in enumerate(plan.district_order)}
    reachable = [d for d in all_districts if district is None or d.pk == district.pk]
    districts = sorted(reachable, key=lambda d: (order.get(d.code, (len(order), ""))[0], d.code))
    years = list(plan.years)
    actual_years = [] if targets_only else computed_years(plan)
    base = base_queryset(user)
    if district is not None:
        base = base.filter(district=district)
    actuals: dict[tuple[str, int], dict[int, Actual]] = {}
    definitions: dict[str, MetricDef] = {}
    district_ids = {d.pk for d in districts}
    frozen = {year: snapshot_actuals(plan, year, district_ids) for year in actual_years if year in closed}
    for metric in metrics:
        definition = metric.definition
        if definition is None:
            continue
        definitions[metric.key] = definition
        if metric_keys is not None and metric.key not in metric_keys:
            continue
        for year in actual_years:
            if year in frozen:
                actuals[(metric.key, year)] = frozen[year].get(metric.key, {})
            elif shared:
                values = city_actuals(plan, metric, definition, year, ctx)
                actuals[(metric.key, year)] = {d: a for d, a in values.items() if d in district_ids}
            else:
                actuals[(metric.key, year)] = by_district(
                    definition, base, year, ctx.with_config(metric.config)
                )
    rows: list[Row] = []
    for division in districts:
        row = Row(division.code, order.get(division.code, (0, division.name))[1], division)
        for metric in metrics:
            for year in years:
                target = district_targets.get((division.pk, metric.key, year))
                actual = None
                if (metric.key, year) in actuals:
                    actual = actuals[(metric.key, year)].get(division.pk) or Actual(
                        0 if definitions[metric.key].kind != "share" else None, 0, 0, False
                    )
                row.cells[(metric.key, year)] = _cell(plan, target, actual)
        rows.append(row)
    total_row: Row | None = None
    kpis: list[tuple[Metric, int, Cell]] = []
    city_wide = scope.everything and district is None
    if city_wide:
        total_row = Row("city", "", None)
        for metric in metrics:
            for year in years:
                # the total row adds up the district targets (as the annex does); a metric with city-wide
                # targets only shows those. The city goals themselves are the KPI cards.
                parts = [v for (_d, k, y), v in district_targets.items() if k == metric.key and y == year]
                target = sum(parts, Decimal(0)) if parts else city_targets.get((metric.key, year))
                actual = None
                if (metric.key, year) in actuals and metric.key in definitions:
                    by_d = {d: a for d, a in actuals[(metric.key, year)].items() if d in district_ids}
                    actual = total(definitions[metric.key], by_d)
                total_row.cells[(metric.key, year)] = _cell(plan, target, actual)
        for metric in metrics:
            for year in years:
                if (metric.key, year) in city_targets:
                    cell = total_row.cell(metric.key, year)
                    kpis.append((metric, year, _cell(plan, city_targets[(metric.key, year)], cell.actual)))
    return Progress(
        plan,
        columns,
        metrics,
        years,
        actual_years,
        rows,
        total_row,
        kpis,
        city_wide,
        city_targets,
        closed,
    )


def drilldown_queryset(
    plan: Plan, user: Any, metric: Metric, year: int, district: Division | None, part: str
) -> Any:
    """The cooperatives behind one number of the table (the same selection that made the number)."""
    if not can(user, Plan, VIEW) or metric.definition is None or year not in plan.years:
        raise Http404
    base = base_queryset(user)
    if district is not None:
        base = base.filter(district=district)
    if year in closed_years(plan):
        # a closed year: the cooperatives its snapshot counted (still bounded by the user's scope)
        district_ids = {district.pk} if district is not None else {d.pk for d in visible_districts(user)}
        members = snapshot_members(plan, year, metric.key, district_ids, part)
        qs = base.filter(pk__in=list(members))
        if metric.definition.kind == "sum" and part == "members":
            whens = [When(pk=pk, then=Value(v)) for pk, v in members.items() if v is not None]
            qs = qs.annotate(metric_value=Case(*whens, default=Value(None), output_field=FloatField()))
        return qs
    ctx = context_for(plan).with_config(metric.config)
    return drilldown(metric.definition, base, year, ctx, part)
