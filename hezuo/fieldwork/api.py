"""Fieldwork endpoints: flags, cleanup cases (with their transitions), detection runs and rule sets.

All read through the scoping chokepoint; transitions go through the same service functions as the pages
(POST /api/cleanup-cases/<id>/<transition>/). A transition the role may not make answers 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from hezuo.core.api import ScopedViewSet

from . import cleanup
from .forms import make_form
from .models import CleanupCase, DetectionRun, Flag, RuleSet, Visit

READ_ONLY = ["get", "head", "options"]


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = [
            "id", "cooperative", "rule", "kind", "year", "evidence", "explanation", "ruleset", "run",
            "status", "case", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class CleanupCaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CleanupCase
        exclude = ["retired_at"]
        read_only_fields = [f.name for f in CleanupCase._meta.concrete_fields]


class DetectionRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRun
        exclude = ["retired_at"]


class RuleSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleSet
        exclude = ["retired_at"]


class FlagViewSet(ScopedViewSet):
    """Shell and dormant flags in the caller's scope (never a verdict)."""

    model = Flag
    serializer_class = FlagSerializer
    filterset_fields = ["cooperative", "status", "kind", "rule", "year"]
    select_related = ("cooperative",)
    http_method_names = READ_ONLY


class TransitionSerializer(serializers.Serializer):
    """The fields of the transition (see the case page's forms)."""

    finding = serializers.CharField(required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    visit_date = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True)
    action_date = serializers.DateField(required=False)
    referral_date = serializers.DateField(required=False)
    referral_authority = serializers.CharField(required=False)
    referral_document = serializers.CharField(required=False)


class CleanupCaseViewSet(ScopedViewSet):
    """Cleanup cases in the caller's scope; POST …/<transition>/ (verify, clear, approve, carry_out…)."""

    model = CleanupCase
    serializer_class = CleanupCaseSerializer
    filterset_fields = ["cooperative", "status"]
    select_related = ("cooperative",)
    http_method_names = [*READ_ONLY, "post"]

    @extend_schema(exclude=True)
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    @extend_schema(operation_id="cleanup_cases_transition", responses=CleanupCaseSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"(?P<transition>[a-z_]+)",
        serializer_class=TransitionSerializer,
    )
    def transition(self, request: Request, pk: Any = None, transition: str = "") -> Response:
        if transition not in cleanup.TRANSITIONS:
            raise NotFound()
        self.action = "partial_update"  # reach: the cases the caller may change
        case = self.get_object()
        if not cleanup.may(request.user, transition):
            raise NotFound()
        form = make_form(transition, case, request.user, request.data)
        if not form.is_valid():
            raise ValidationError(form.errors)
        data = dict(form.cleaned_data)
        if transition == "verify":
            kwargs = {
                "finding": data["finding"],
                "note": data["note"],
                "visit_date": data["visit_date"],
                "visit": data["visit"],
            }
        elif transition == "clear":
            kwargs = {"reason": data["reason"]}
        elif transition == "carry_out":
            kwargs = data
        else:
            kwargs = {"note": data["note"]}
        try:
            case = getattr(cleanup, transition)(case, request.user, **kwargs)
        except PermissionDenied as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise ValidationError(detail) from exc
        return Response(CleanupCaseSerializer(case, context=self.get_serializer_context()).data)


class VisitSerializer(serializers.ModelSerializer):
    photo_url = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        exclude = ["retired_at", "photo"]

    def get_photo_url(self, obj: Visit) -> str | None:
        from django.urls import reverse

        return reverse("fieldwork:visit_photo", args=[obj.pk]) if obj.photo else None


class VisitViewSet(ScopedViewSet):
    """Visits in the caller's scope (recorded on the phone form); photos are served by their page."""

    model = Visit
    serializer_class = VisitSerializer
    filterset_fields = ["cooperative", "classification", "visitor"]
    select_related = ("cooperative",)
    http_method_names = READ_ONLY


class DetectionRunViewSet(ScopedViewSet):
    model = DetectionRun
    serializer_class = DetectionRunSerializer
    filterset_fields = ["year", "status"]
    http_method_names = READ_ONLY


class RuleSetViewSet(ScopedViewSet):
    model = RuleSet
    serializer_class = RuleSetSerializer
    http_method_names = READ_ONLY


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("flags", FlagViewSet, basename="flag")
    router.register("cleanup-cases", CleanupCaseViewSet, basename="cleanupcase")
    router.register("visits", VisitViewSet, basename="visit")
    router.register("detection-runs", DetectionRunViewSet, basename="detectionrun")
    router.register("detection-rulesets", RuleSetViewSet, basename="ruleset")
