"""The metrics: each defined once, with its meaning beside it, as pure queryset functions.

A metric selects cooperatives (`members`) out of a base queryset (already bounded to the user's scope) for
a year; its value per district is an aggregate of that selection (count, or a sum of a yearly fact), or
for a share the count of the selection over the count of its `population`. The drill-down list of a
number is the very same selection, so the list and the number always agree.

As-of rules: stocks (sponsorships, memberships, counselor assignments) are taken on 31 December of the
year; titles count when held in the year; ratings are the year's ratings, confirmed ones where the
district has any confirmed rating for that year, else the provisional ones (and the number is marked
provisional). Cooperatives retired from the registry, or registered after the year, are not counted.

Every value is computed with one GROUP BY query per metric and year (two for shares and rating-based
metrics), never with a loop over cooperatives: the number of queries does not grow with the districts.

Later features add their metrics with `register(MetricDef(...))`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from hezuo.accounts.models import CounselorAssignment
from hezuo.rating.models import Rating
from hezuo.registry.choices import TitleLevel
from hezuo.registry.models import DemonstrationTitle, FederationMembership, Sponsorship

from .models import LINK_CHOICES, LINK_COUNSELOR, LINK_MEMBER, LINK_SPONSORED

COUNT, SUM, SHARE = "count", "sum", "share"
YEAR_END = _("on 31 December of the year")
KIND_LABELS = {COUNT: _("count"), SUM: _("sum"), SHARE: _("share")}


def year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


@dataclass
class MetricContext:
    """What a metric function may read besides the base queryset: the plan's and the metric's settings,
    and, per year, the districts whose ratings are confirmed (computed once per year, shared)."""

    closely_linked: tuple[str, ...] = LINK_CHOICES
    config: dict[str, Any] = field(default_factory=dict)
    # year -> {district_id: number of confirmed ratings}; a district present has ratings that year
    rating_status: dict[int, dict[int, int]] = field(default_factory=dict)
    # take stocks on this date instead of 31 December (forecasts: the state so far in the current year)
    as_of: dt.date | None = None
    # the data version the cached rating status is read under (hezuo.targets.cache); read once, shared
    version: list[str] = field(default_factory=list)

    def with_config(self, config: dict[str, Any] | None) -> MetricContext:
        return MetricContext(
            self.closely_linked, dict(config or {}), self.rating_status, self.as_of, self.version
        )

    def on(self, year: int) -> dt.date:
        end = year_end(year)
        return min(end, self.as_of) if self.as_of is not None else end

    def ratings_of(self, base: QuerySet[Any], year: int) -> dict[int, int]:
        """{district id: confirmed ratings of the year} for the districts with ratings that year. The status
        is the district's own (over all its cooperatives, whoever asks), cached per data version."""
        if year not in self.rating_status:
            from . import cache

            if not self.version:
                self.version.append(cache.data_version())
            self.rating_status[year] = cache.rating_status(year, self.version[0])
        return self.rating_status[year]

    def confirmed_districts(self, base: QuerySet[Any], year: int) -> list[int]:
        return sorted(d for d, n in self.ratings_of(base, year).items() if n)

    def provisional_districts(self, base: QuerySet[Any], year: int) -> set[int]:
        return {d for d, n in self.ratings_of(base, year).items() if not n}


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: Any
    meaning: Any
    kind: str  # count, sum, share
    as_of: Any
    members: Callable[[QuerySet[Any], int, MetricContext], QuerySet[Any]]
    population: Callable[[QuerySet[Any], int, MetricContext], QuerySet[Any]] | None = None
    sum_field: str = ""  # for sums: a YearlyFact field of the year, summed over the members
    rating_based: bool = False

    @property
    def kind_label(self) -> Any:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Actual:
    """One computed number: value, and what it is made of."""

    value: Decimal | int | None
    count: int = 0  # cooperatives behind the number (the numerator of a share)
    denominator: int | None = None
    provisional: bool = False


REGISTRY: dict[str, MetricDef] = {}


def register(definition: MetricDef) -> MetricDef:
    REGISTRY[definition.key] = definition
    return definition


# ------------------------------------------------------------------------------------------------------
# building blocks (conditions on a Cooperative queryset)
def base_for(queryset: QuerySet[Any], year: int, on: dt.date | None = None) -> QuerySet[Any]:
    """Cooperatives that count for a year: in the registry (not retired) and registered by its end."""
    return queryset.filter(retired_at__isnull=True, registration_date__lte=on or year_end(year))


# Conditions are `id IN (SELECT cooperative_id FROM … WHERE …)`, not correlated EXISTS: the database then
# starts from the (few) sponsorships, memberships, titles or ratings and looks the cooperatives up by primary
# key, instead of probing every cooperative (on SQLite 5-10x faster at 100,000 cooperatives).
def sponsored_on(on: dt.date) -> Q:
    return Q(pk__in=Sponsorship.objects.current(on).values("cooperative_id"))


def member_on(on: dt.date) -> Q:
    return Q(pk__in=FederationMembership.objects.current(on).values("cooperative_id"))


def counselor_on(on: dt.date) -> Q:
    return Q(pk__in=CounselorAssignment.objects.current(on).values("cooperative_id"))


LINKS: dict[str, Callable[[dt.date], Q]] = {
    LINK_MEMBER: member_on,
    LINK_SPONSORED: sponsored_on,
    LINK_COUNSELOR: counselor_on,
}


def closely_linked_on(on: dt.date, links: tuple[str, ...] | list[str]) -> Q:
    condition = Q(pk__in=[])
    for link in links:
        condition |= LINKS[link](on)
    return condition


def rated(base: QuerySet[Any], year: int, ctx: MetricContext, min_stars: int) -> QuerySet[Any]:
    """Cooperatives with at least `min_stars` in the year's ratings: the confirmed ones in districts that
    have confirmed ratings for the year, else the provisional ones."""
    ratings = Rating.objects.filter(year=year, retired_at__isnull=True, stars__gte=min_stars)
    confirmed = ctx.confirmed_districts(base, year)
    any_rating = Q(pk__in=ratings.values("cooperative_id"))
    if not confirmed:
        return base.filter(any_rating)
    provisional = sorted(ctx.provisional_districts(base, year))
    confirmed_rating = Q(pk__in=ratings.filter(status=Rating.Status.CONFIRMED).values("cooperative_id"))
    if not provisional:
        # every district with ratings has confirmed ones (the usual case once the year is confirmed)
        return base.filter(confirmed_rating)
    return base.filter(
        (Q(district_id__in=confirmed) & confirmed_rating) | (Q(district_id__in=provisional) & any_rating)
    )


def titled(base: QuerySet[Any], year: int, levels: list[str]) -> QuerySet[Any]:
    titles = DemonstrationTitle.objects.filter(level__in=levels).current(year)
    return base.filter(pk__in=titles.values("cooperative_id"))


# ------------------------------------------------------------------------------------------------------
# the metrics
def star_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    linked = base_for(base, year, ctx.on(year)).filter(closely_linked_on(ctx.on(year), ctx.closely_linked))
    return rated(linked, year, ctx, int(ctx.config.get("min_stars", 3)))


def sponsored_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    return base_for(base, year, ctx.on(year)).filter(sponsored_on(ctx.on(year)))


def sponsored_five_star_members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
    return rated(sponsored_members(base, year, ctx), year, ctx, int(ctx.config.get("min_stars", 5)))


def _titled_population(
    default_levels: Sequence[str],
) -> Callable[[QuerySet[Any], int, MetricContext], QuerySet[Any]]:
    def population(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
        return titled(
            base_for(base, year, ctx.on(year)), year, list(ctx.config.get("title_levels", default_levels))
        )

    return population


def _sponsored_among(
    default_levels: Sequence[str],
) -> Callable[[QuerySet[Any], int, MetricContext], QuerySet[Any]]:
    population = _titled_population(default_levels)

    def members(base: QuerySet[Any], year: int, ctx: MetricContext) -> QuerySet[Any]:
        return population(base, year, ctx).filter(sponsored_on(ctx.on(year)))

    return members


COUNTY_AND_ABOVE = [
    TitleLevel.COUNTY_STANDARD,
    TitleLevel.CITY_DEMO,
    TitleLevel.PROVINCIAL_DEMO,
    TitleLevel.NATIONAL_DEMO,
    TitleLevel.NATIONAL_SMC_DEMO,
]
PROVINCIAL = [TitleLevel.PROVINCIAL_DEMO]
NATIONAL = [TitleLevel.NATIONAL_DEMO, TitleLevel.NATIONAL_SMC_DEMO]

register(
    MetricDef(
        key="star_coops",
        label=_("Star cooperatives"),
        meaning=_(
            "Cooperatives closely linked with the system on 31 December (as the plan defines it: federation "
            "member, sponsored, or assigned a counselor) and rated three stars or more for the year."
        ),
        kind=COUNT,
        as_of=YEAR_END,
        members=star_members,
        rating_based=True,
    )
)
register(
    MetricDef(
        key="sponsored_coops",
        label=_("Sponsored cooperatives"),
        meaning=_(
            "Cooperatives the system leads or takes part in running, by a sponsorship active on 31 December."
        ),
        kind=COUNT,
        as_of=YEAR_END,
        members=sponsored_members,
    )
)
register(
    MetricDef(
        key="sponsored_five_star",
        label=_("Sponsored five-star cooperatives"),
        meaning=_("Sponsored cooperatives (on 31 December) rated five stars for the year."),
        kind=COUNT,
        as_of=YEAR_END,
        members=sponsored_five_star_members,
        rating_based=True,
    )
)
register(
    MetricDef(
        key="member_households",
        label=_("Member households"),
        meaning=_("Member households of the star cooperatives, from their facts of the year."),
        kind=SUM,
        as_of=YEAR_END,
        members=star_members,
        sum_field="member_households",
        rating_based=True,
    )
)
register(
    MetricDef(
        key="sponsored_share_county_standard",
        label=_("Share sponsored among county-standardised and above"),
        meaning=_(
            "Sponsored cooperatives (on 31 December) among the cooperatives holding a county standardised "
            "or higher title in the year."
        ),
        kind=SHARE,
        as_of=YEAR_END,
        members=_sponsored_among(COUNTY_AND_ABOVE),
        population=_titled_population(COUNTY_AND_ABOVE),
    )
)
register(
    MetricDef(
        key="sponsored_share_provincial_demo",
        label=_("Share sponsored among provincial demonstration"),
        meaning=_(
            "Sponsored cooperatives (on 31 December) among the provincial demonstration cooperatives "
            "of the year."
        ),
        kind=SHARE,
        as_of=YEAR_END,
        members=_sponsored_among(PROVINCIAL),
        population=_titled_population(PROVINCIAL),
    )
)
register(
    MetricDef(
        key="sponsored_share_national_demo",
        label=_("Share sponsored among national demonstration"),
        meaning=_(
            "Sponsored cooperatives (on 31 December) among the national demonstration cooperatives of the "
            "year, national SMC-system demonstration cooperatives included."
        ),
        kind=SHARE,
        as_of=YEAR_END,
        members=_sponsored_among(NATIONAL),
        population=_titled_population(NATIONAL),
    )
)


# ------------------------------------------------------------------------------------------------------
# computing
def drilldown(
    definition: MetricDef, base: QuerySet[Any], year: int, ctx: MetricContext, part: str = "members"
) -> QuerySet[Any]:
    """The cooperatives behind a number (members; for a share also its population); sums carry the
    summed fact of each cooperative as `metric_value`."""
    if part == "population" and definition.population is not None:
        return definition.population(base, year, ctx)
    qs = definition.members(base, year, ctx)
    if definition.kind == SUM:
        qs = qs.filter(yearlyfact__year=year, yearlyfact__retired_at__isnull=True).annotate(
            metric_value=F(f"yearlyfact__{definition.sum_field}")
        )
    return qs


def by_district(
    definition: MetricDef, base: QuerySet[Any], year: int, ctx: MetricContext
) -> dict[int, Actual]:
    """The metric's value for each district with any data: {district_id: Actual}."""
    provisional = ctx.provisional_districts(base, year) if definition.rating_based else set()
    members = drilldown(definition, base, year, ctx).values("district_id")
    result: dict[int, Actual] = {}
    if definition.kind == COUNT:
        for row in members.annotate(n=Count("pk")).order_by():
            d = row["district_id"]
            result[d] = Actual(row["n"], row["n"], None, d in provisional)
    elif definition.kind == SUM:
        for row in members.annotate(n=Count("pk"), s=Sum("metric_value")).order_by():
            d = row["district_id"]
            result[d] = Actual(row["s"] or 0, row["n"], None, d in provisional)
    else:
        assert definition.population is not None
        counts = {r["district_id"]: r["n"] for r in members.annotate(n=Count("pk")).order_by()}
        population = definition.population(base, year, ctx).values("district_id").annotate(n=Count("pk"))
        for row in population.order_by():
            d, den = row["district_id"], row["n"]
            num = counts.get(d, 0)
            result[d] = Actual(share(num, den), num, den, False)
    for d in provisional:
        if d not in result and definition.kind != SHARE:
            result[d] = Actual(0, 0, None, True)
    return result


def share(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def total(definition: MetricDef, parts: dict[int, Actual]) -> Actual:
    """The city's value from its districts' (the districts partition the city)."""
    values = list(parts.values())
    provisional = any(a.provisional for a in values)
    count = sum(a.count for a in values)
    if definition.kind == SHARE:
        den = sum(a.denominator or 0 for a in values)
        return Actual(share(count, den), count, den, provisional)
    return Actual(sum((a.value or 0) for a in values), count, None, provisional)
