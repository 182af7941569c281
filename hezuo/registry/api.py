"""REST endpoints of the registry: /api/cooperatives/, /api/facts/, /api/titles/, …"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.urls import reverse
from django.utils.translation import gettext
from rest_framework import serializers
from rest_framework.routers import BaseRouter

from hezuo.core.api import RecordSerializer, ScopedViewSet
from hezuo.core.scoping import VIEW, mask_phone, restrict, sees_personal_data
from hezuo.geo.models import Division

from .filters import CooperativeFilterSet
from .models import (
    COOPERATIVE_EDIT_FIELDS,
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)
from .search import apply_search
from .validation import CreditCodeRefused, vet_credit_code

RECORD_FIELDS = ["id", "created_at", "updated_at", "retired_at"]


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A foreign key the caller may only point at records they can see."""

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = super().get_queryset()
        request = self.context.get("request")
        if qs is not None and request is not None:
            qs = restrict(qs, request.user, VIEW)
        return qs


class CooperativeSerializer(RecordSerializer):
    district = serializers.SlugRelatedField(
        slug_field="code", queryset=Division.objects.filter(level=Division.Level.DISTRICT)
    )
    town = serializers.SlugRelatedField(
        slug_field="code", queryset=Division.objects.filter(level=Division.Level.TOWN)
    )
    village = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Division.objects.filter(level=Division.Level.VILLAGE),
        required=False,
        allow_null=True,
    )
    confirm_warnings = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = Cooperative
        fields = [
            *RECORD_FIELDS,
            *COOPERATIVE_EDIT_FIELDS,
            "reason",
            "confirm_warnings",
        ]
        read_only_fields = RECORD_FIELDS
        # duplicates are answered by validate_credit_code (with a link when the caller may see the other one)
        extra_kwargs: dict[str, dict[str, Any]] = {"credit_code": {"validators": []}}

    def to_representation(self, instance: Cooperative) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if not sees_personal_data(user):
            data["phone"] = mask_phone(instance.phone)
        return data

    def validate_credit_code(self, value: str) -> str:
        user = getattr(self.context.get("request"), "user", None)
        try:
            result = vet_credit_code(value, user, self.instance.pk if self.instance is not None else None)
        except CreditCodeRefused as refused:
            other = refused.duplicate
            if other is None:
                raise serializers.ValidationError(refused.messages) from None
            raise serializers.ValidationError(
                f"{refused.messages[0]} {other.name} "
                f"{reverse('registry:cooperative_detail', args=[other.pk])}"
            ) from None
        self._credit_warnings = result.warnings
        return result.code

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        warnings = getattr(self, "_credit_warnings", [])
        if warnings and not attrs.get("confirm_warnings"):
            raise serializers.ValidationError(
                {
                    "credit_code": [
                        *warnings,
                        gettext("Send confirm_warnings=true to save despite the warning."),
                    ]
                }
            )
        attrs.pop("confirm_warnings", None)
        return super().validate(attrs)


class ChildSerializer(RecordSerializer):
    cooperative = ScopedPrimaryKeyField(queryset=Cooperative.objects.all())

    def validate_cooperative(self, value: Cooperative) -> Cooperative:
        if self.instance is not None and value.pk != self.instance.cooperative_id:
            raise serializers.ValidationError("A record cannot be moved to another cooperative.")
        return value


class YearlyFactSerializer(ChildSerializer):
    class Meta:
        model = YearlyFact
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class DemonstrationTitleSerializer(ChildSerializer):
    class Meta:
        model = DemonstrationTitle
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class FederationMembershipSerializer(ChildSerializer):
    federation = ScopedPrimaryKeyField(queryset=Organization.objects.all(), required=False, allow_null=True)

    class Meta:
        model = FederationMembership
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class SponsorshipSerializer(ChildSerializer):
    sponsor = ScopedPrimaryKeyField(queryset=Organization.objects.all())

    class Meta:
        model = Sponsorship
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class OrganizationSerializer(RecordSerializer):
    class Meta:
        model = Organization
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class CooperativeAPIFilterSet(CooperativeFilterSet):
    q = filters.CharFilter(method="filter_q", label="search")

    def filter_q(self, qs, name, value):  # type: ignore[no-untyped-def]
        return apply_search(qs, value)


class CooperativeViewSet(ScopedViewSet):
    """Cooperatives in the caller's scope.

    Filters as on the list page; `q` searches the name, its pinyin and initials, and the credit code."""

    model = Cooperative
    serializer_class = CooperativeSerializer
    filterset_class = CooperativeAPIFilterSet
    select_related = ("district", "town", "village")


class ChildFilterSet(filters.FilterSet):
    cooperative = filters.NumberFilter(field_name="cooperative_id")


class YearlyFactFilterSet(ChildFilterSet):
    class Meta:
        model = YearlyFact
        fields = ["cooperative", "year"]


class YearlyFactViewSet(ScopedViewSet):
    model = YearlyFact
    serializer_class = YearlyFactSerializer
    filterset_class = YearlyFactFilterSet


class DemonstrationTitleViewSet(ScopedViewSet):
    model = DemonstrationTitle
    serializer_class = DemonstrationTitleSerializer
    filterset_fields = ["cooperative", "level"]


class FederationMembershipViewSet(ScopedViewSet):
    model = FederationMembership
    serializer_class = FederationMembershipSerializer
    filterset_fields = ["cooperative", "level"]


class SponsorshipViewSet(ScopedViewSet):
    model = Sponsorship
    serializer_class = SponsorshipSerializer
    filterset_fields = ["cooperative", "kind", "mode"]


class OrganizationViewSet(ScopedViewSet):
    model = Organization
    serializer_class = OrganizationSerializer
    filterset_fields = ["kind", "district"]


def register(router: BaseRouter) -> None:
    router.register("cooperatives", CooperativeViewSet, basename="cooperative")
    router.register("facts", YearlyFactViewSet, basename="yearlyfact")
    router.register("titles", DemonstrationTitleViewSet, basename="demonstrationtitle")
    router.register("memberships", FederationMembershipViewSet, basename="federationmembership")
    router.register("sponsorships", SponsorshipViewSet, basename="sponsorship")
    router.register("organizations", OrganizationViewSet, basename="organization")
