"""REST endpoints of the rating: /api/ratings/, /api/rubrics/, /api/alerts/ — same scoping as the pages.

Ratings and rubrics are read-only here (ratings are written by rating runs; rubrics are loaded and edited
on their pages); a rating takes a district review, an alert is acknowledged or resolved, by POST actions.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from hezuo.core.api import ScopedViewSet
from hezuo.core.context import change_context

from . import describe, monitoring, services
from .models import Alert, Rating, Rubric

READ_ONLY = ["get", "head", "options"]


class RubricSerializer(serializers.ModelSerializer):
    published_years = serializers.SerializerMethodField()

    class Meta:
        model = Rubric
        fields = [
            "id",
            "code",
            "version",
            "title",
            "status",
            "provisional",
            "source_note",
            "content_hash",
            "copied_from",
            "published_years",
            "definition",
            "created_at",
            "updated_at",
        ]

    def get_published_years(self, obj: Rubric) -> list[int]:
        return obj.published_years()


class RatingSerializer(serializers.ModelSerializer):
    cooperative_name = serializers.CharField(source="cooperative.name", read_only=True)
    district = serializers.CharField(source="cooperative.district.code", read_only=True)
    rubric_label = serializers.CharField(source="rubric.__str__", read_only=True)
    explanation = serializers.SerializerMethodField()

    class Meta:
        model = Rating
        fields = [
            "id",
            "cooperative",
            "cooperative_name",
            "district",
            "year",
            "rubric",
            "rubric_label",
            "score",
            "score_max",
            "stars",
            "stars_low",
            "missing_count",
            "status",
            "explanation",
            "review_note",
            "reviewed_at",
            "rerate_requested",
            "confirmed_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_explanation(self, rating: Rating) -> dict[str, Any]:
        """The explanation with every part named (score, stars, dimensions, indicators, gates with their
        checks, missing facts, what caps the stars, the rubric version), whatever form it is stored in."""
        return describe.rating_explanation(rating)


class AlertSerializer(serializers.ModelSerializer):
    cooperative_name = serializers.CharField(source="cooperative.name", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "cooperative",
            "cooperative_name",
            "rating",
            "kind",
            "stars_rated",
            "stars_now",
            "reasons",
            "status",
            "note",
            "acknowledged_at",
            "resolved_at",
            "created_at",
        ]


class ReviewSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    request_rerate = serializers.BooleanField(required=False, default=False)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RatingFilterSet(filters.FilterSet):
    cooperative = filters.NumberFilter(field_name="cooperative_id")
    district = filters.CharFilter(field_name="cooperative__district__code")

    class Meta:
        model = Rating
        fields = ["cooperative", "year", "stars", "status", "rerate_requested", "district"]


class RatingViewSet(ScopedViewSet):
    """Ratings in the caller's scope, with the full explanation. POST …/review/ records a district review."""

    model = Rating
    serializer_class = RatingSerializer
    filterset_class = RatingFilterSet
    select_related = ("cooperative", "cooperative__district", "rubric")
    http_method_names = [*READ_ONLY, "post"]

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    @action(detail=True, methods=["post"], serializer_class=ReviewSerializer)
    def review(self, request: Request, pk: Any = None) -> Response:
        rating = self.get_object()
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with change_context(user=request.user, reason=data.validated_data["note"][:500]):
                rating = services.review(
                    rating,
                    user=request.user,
                    note=data.validated_data["note"],
                    request_rerate=data.validated_data["request_rerate"],
                )
        except PermissionDenied as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise ValidationError({"non_field_errors": exc.messages}) from exc
        return Response(RatingSerializer(rating, context=self.get_serializer_context()).data)


class RubricViewSet(ScopedViewSet):
    """Rubric versions with their definitions (read-only; load and edit them on the rubric pages)."""

    model = Rubric
    serializer_class = RubricSerializer
    filterset_fields = ["code", "status", "provisional"]
    http_method_names = READ_ONLY


class AlertViewSet(ScopedViewSet):
    """Monitoring alerts in the caller's scope. POST …/acknowledge/ or …/resolve/ with an optional note."""

    model = Alert
    serializer_class = AlertSerializer
    filterset_fields = ["cooperative", "status", "kind"]
    select_related = ("cooperative",)
    http_method_names = [*READ_ONLY, "post"]

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    def _act(self, request: Request, fn: Any) -> Response:
        alert = self.get_object()
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert = fn(alert, user=request.user, note=data.validated_data["note"])
        except PermissionDenied as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise ValidationError({"non_field_errors": exc.messages}) from exc
        return Response(AlertSerializer(alert, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["post"], serializer_class=NoteSerializer)
    def acknowledge(self, request: Request, pk: Any = None) -> Response:
        return self._act(request, monitoring.acknowledge)

    @action(detail=True, methods=["post"], serializer_class=NoteSerializer)
    def resolve(self, request: Request, pk: Any = None) -> Response:
        return self._act(request, monitoring.resolve)


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("ratings", RatingViewSet, basename="rating")
    router.register("rubrics", RubricViewSet, basename="rubric")
    router.register("alerts", AlertViewSet, basename="alert")
