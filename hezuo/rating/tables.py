"""List tables and filters of the rating."""

from __future__ import annotations

from typing import Any

import django_filters as filters
import django_tables2 as tables
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hezuo.core.tables import BaseTable
from hezuo.geo.models import Division
from hezuo.registry.filters import YES_NO, ScopedFilterSet

from .models import Alert, Rating


def stars_html(stars: int | None, low: int = 0) -> str:
    if stars is None:
        return format_html(
            '<span class="badge text-bg-warning" title="{}">≥{}★ ?</span>',
            _("Cannot be decided for missing data"),
            low,
        )
    if stars == 0:
        return format_html('<span class="badge text-bg-secondary">{}</span>', _("Not rated"))
    return format_html('<span class="text-warning" aria-label="{} ★">{}</span>', stars, "★" * stars)


class RatingTable(BaseTable):
    cooperative = tables.Column(
        accessor="cooperative__name",
        verbose_name=_("Cooperative"),
        linkify=lambda record: record.get_absolute_url(),
        attrs={"td": {"class": "wrap"}},
    )
    district = tables.Column(
        accessor="cooperative__district__name",
        verbose_name=_("District"),
        order_by=("cooperative__district__code",),
    )
    year = tables.Column()
    stars = tables.Column(order_by=("stars", "stars_low"))
    score = tables.Column()
    status = tables.Column()
    missing_count = tables.Column(verbose_name=_("Missing facts"))
    rerate_requested = tables.BooleanColumn(verbose_name=_("Re-rate requested"))
    rubric = tables.Column(
        accessor="rubric", verbose_name=_("Rubric"), order_by=("rubric__code", "rubric__version")
    )
    review_note = tables.Column(
        verbose_name=_("Review note"), orderable=False, attrs={"td": {"class": "wrap"}}
    )

    fixed = ("cooperative",)
    defaults = ("district", "year", "stars", "score", "status", "missing_count", "rerate_requested")

    class Meta(BaseTable.Meta):
        model = Rating
        fields = ()
        sequence = (
            "cooperative",
            "district",
            "year",
            "stars",
            "score",
            "status",
            "missing_count",
            "rerate_requested",
            "rubric",
            "review_note",
        )

    def render_stars(self, value: Any, record: Rating) -> str:
        return stars_html(record.stars, record.stars_low)

    def render_status(self, value: str, record: Rating) -> str:
        colour = "success" if record.is_confirmed else "secondary"
        return format_html('<span class="badge text-bg-{}">{}</span>', colour, value)


STARS_CHOICES = [(str(n), f"{n}★") for n in range(1, 6)] + [
    ("0", _("Not rated")),
    ("undecided", _("Undecided")),
]


class RatingFilterSet(ScopedFilterSet):
    year = filters.NumberFilter(label=_("Year"))
    district = filters.ModelChoiceFilter(
        label=_("District"),
        queryset=Division.objects.filter(level=Division.Level.DISTRICT),
        to_field_name="code",
        field_name="cooperative__district",
    )
    stars = filters.ChoiceFilter(label=_("Stars"), choices=STARS_CHOICES, method="filter_stars")
    min_stars = filters.NumberFilter(label=_("At least stars"), field_name="stars", lookup_expr="gte")
    status = filters.ChoiceFilter(label=_("Status"), choices=Rating.Status.choices)
    missing = filters.ChoiceFilter(label=_("Missing facts"), choices=YES_NO, method="filter_missing")
    rerate = filters.ChoiceFilter(label=_("Re-rate requested"), choices=YES_NO, method="filter_rerate")
    q = filters.CharFilter(label=_("Cooperative"), field_name="cooperative__name", lookup_expr="icontains")

    class Meta:
        model = Rating
        fields: list[str] = []

    def filter_stars(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "undecided":
            return qs.filter(stars__isnull=True)
        return qs.filter(stars=int(value))

    def filter_missing(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(missing_count__gt=0) if value == "yes" else qs.filter(missing_count=0)

    def filter_rerate(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(rerate_requested=(value == "yes"))


class AlertTable(BaseTable):
    cooperative = tables.Column(
        accessor="cooperative__name",
        verbose_name=_("Cooperative"),
        linkify=lambda record: record.get_absolute_url(),
        attrs={"td": {"class": "wrap"}},
    )
    district = tables.Column(accessor="cooperative__district__name", verbose_name=_("District"))
    created_at = tables.DateTimeColumn(verbose_name=_("Raised"), format="Y-m-d H:i")
    kind = tables.Column()
    stars_rated = tables.Column()
    stars_now = tables.Column()
    status = tables.Column()

    fixed = ("cooperative",)

    class Meta(BaseTable.Meta):
        model = Alert
        fields = ()
        sequence = ("cooperative", "district", "created_at", "kind", "stars_rated", "stars_now", "status")

    def render_status(self, value: str, record: Alert) -> str:
        colour = {"open": "danger", "acknowledged": "warning"}.get(record.status, "success")
        return format_html('<span class="badge text-bg-{}">{}</span>', colour, value)


class AlertFilterSet(ScopedFilterSet):
    status = filters.ChoiceFilter(label=_("Status"), choices=Alert.Status.choices)
    kind = filters.ChoiceFilter(label=_("Kind"), choices=Alert.Kind.choices)
    district = filters.ModelChoiceFilter(
        label=_("District"),
        queryset=Division.objects.filter(level=Division.Level.DISTRICT),
        to_field_name="code",
        field_name="cooperative__district",
    )

    class Meta:
        model = Alert
        fields: list[str] = []
