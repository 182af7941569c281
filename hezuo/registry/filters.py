"""List filters (django-filter): one FilterSet serves the page and the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from hezuo.core.filters import ScopedFilterSet
from hezuo.core.years import DATES_FIRST, DATES_LAST
from hezuo.geo.models import Division

from .choices import Industry, OperatingStatus, TitleLevel
from .models import Cooperative, DemonstrationTitle, FederationMembership, Organization, Sponsorship, today

YES_NO = (("yes", _("Yes")), ("no", _("No")))


class DivisionOptions(filter_fields.ModelChoiceIterator):
    """A division filter's options as plain (code, name) rows: the options the model iterator gives (a
    division's str() is its name), without building a Division per option (a city user's town filter
    lists about 150 towns) or a server-side cursor on PostgreSQL."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        yield from self.queryset.values_list(self.field.to_field_name or "pk", "name")


class DivisionChoiceField(filter_fields.ModelChoiceField):
    iterator = DivisionOptions


class DivisionFilter(filters.ModelChoiceFilter):
    field_class = DivisionChoiceField


class CooperativeFilterSet(ScopedFilterSet):
    district = DivisionFilter(
        label=_("District"),
        queryset=Division.objects.filter(level=Division.Level.DISTRICT),
        to_field_name="code",
    )
    town = DivisionFilter(
        label=_("Town"), queryset=Division.objects.filter(level=Division.Level.TOWN), to_field_name="code"
    )
    industry = filters.ChoiceFilter(label=_("Industry"), choices=Industry.choices)
    operating_status = filters.ChoiceFilter(label=_("Operating status"), choices=OperatingStatus.choices)
    title = filters.ChoiceFilter(
        label=_("Demonstration title"), choices=TitleLevel.choices, method="filter_title"
    )
    member = filters.ChoiceFilter(label=_("Federation member"), choices=YES_NO, method="filter_member")
    sponsored = filters.ChoiceFilter(label=_("Sponsored"), choices=YES_NO, method="filter_sponsored")
    abnormal = filters.ChoiceFilter(label=_("Abnormal list"), choices=YES_NO, method="filter_abnormal")
    # a year the date functions can hold (a hand-typed 0 or 20230 is a field error, not a server error)
    registered_from = filters.NumberFilter(
        label=_("Registered from year"),
        field_name="registration_date",
        lookup_expr="year__gte",
        min_value=DATES_FIRST,
        max_value=DATES_LAST,
        decimal_places=0,
    )
    registered_to = filters.NumberFilter(
        label=_("Registered to year"),
        field_name="registration_date",
        lookup_expr="year__lte",
        min_value=DATES_FIRST,
        max_value=DATES_LAST,
        decimal_places=0,
    )

    class Meta:
        model = Cooperative
        fields: list[str] = []

    # "id IN (subquery)" rather than a correlated EXISTS: the subquery runs once (SQLite builds a temporary
    # index of it), instead of once per cooperative, which matters at 100,000 cooperatives
    def filter_title(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        holders = DemonstrationTitle.objects.filter(level=value).current().values("cooperative_id")
        return qs.filter(pk__in=holders)

    def filter_member(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        members = FederationMembership.objects.current(today()).values("cooperative_id")
        return qs.filter(pk__in=members) if value == "yes" else qs.exclude(pk__in=members)

    def filter_sponsored(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        sponsored = Sponsorship.objects.current(today()).values("cooperative_id")
        return qs.filter(pk__in=sponsored) if value == "yes" else qs.exclude(pk__in=sponsored)

    def filter_abnormal(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(on_abnormal_list=(value == "yes"))


class OrganizationFilterSet(ScopedFilterSet):
    class Meta:
        model = Organization
        fields = ["kind", "district"]
