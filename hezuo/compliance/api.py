"""REST endpoints of the compliance app (registered on the one router in hezuo/api_urls.py).

All read through the scoping chokepoint; every write goes through the same service functions as the pages
(hezuo.compliance.rectification):

    POST /api/rectification-cases/                       open a case {cooperative, year, note}
    POST /api/rectification-cases/<id>/<transition>/     start, close {note}; cancel {reason}
    POST /api/rectification-cases/<id>/refresh/          judge the open items again from the data
    POST /api/rectification-items/<id>/outcome/          {outcome: pass|fail|waive, note}
    PATCH /api/rectification-tasks/<id>/                 {owner, deadline, note}
    POST /api/rectification-assistance/                  {case, kind, description, amount, date, given_by}

Out of reach, or an action the role may not take: 404. Refused input: 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from hezuo.accounts.models import User
from hezuo.core.api import ScopedViewSet
from hezuo.core.scoping import ADD, CHANGE, can, restrict
from hezuo.registry.models import Cooperative

from . import rectification as rx
from .models import Checklist, RectificationCase, RectificationItem, RectificationTask, SpecialAssistance

READ_ONLY = ["get", "head", "options"]


def _refused(exc: DjangoValidationError) -> ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return ValidationError(detail)


class ChecklistSerializer(serializers.ModelSerializer):
    class Meta:
        model = Checklist
        exclude = ["retired_at"]


class CaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = RectificationCase
        exclude = ["retired_at"]
        read_only_fields = [f.name for f in RectificationCase._meta.concrete_fields]


class OpenCaseSerializer(serializers.Serializer):
    cooperative = serializers.IntegerField()
    year = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class CaseTransitionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class ItemSerializer(serializers.ModelSerializer):
    title = serializers.CharField(read_only=True)
    basis = serializers.CharField(read_only=True)

    class Meta:
        model = RectificationItem
        exclude = ["retired_at"]
        read_only_fields = [f.name for f in RectificationItem._meta.concrete_fields]


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=sorted(rx.OUTCOMES))
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class TaskSerializer(serializers.ModelSerializer):
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = RectificationTask
        exclude = ["retired_at"]
        read_only_fields = ["case", "item", "status", "done_at", "created_at", "updated_at"]

    def get_overdue(self, obj: RectificationTask) -> bool:
        return obj.is_overdue() and obj.case.status in rx.ACTIVE_STATUSES


class TaskChangeSerializer(serializers.Serializer):
    owner = serializers.IntegerField(required=False)
    deadline = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class AssistanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecialAssistance
        exclude = ["retired_at"]
        read_only_fields = ["recorded_by", "created_at", "updated_at"]


class ChecklistViewSet(ScopedViewSet):
    """Compliance checklists (K01–K23), versioned policy data."""

    model = Checklist
    serializer_class = ChecklistSerializer
    http_method_names = READ_ONLY


class RectificationCaseViewSet(ScopedViewSet):
    """Rectification cases in the caller's scope; POST opens one, POST …/<transition>/ moves it on."""

    model = RectificationCase
    serializer_class = CaseSerializer
    filterset_fields = ["cooperative", "status", "year"]
    select_related = ("cooperative",)
    http_method_names = [*READ_ONLY, "post"]

    @extend_schema(request=OpenCaseSerializer, responses=CaseSerializer)
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, RectificationCase, ADD) or rx.role_of(request.user) not in rx.OPENERS:
            raise NotFound()
        data = OpenCaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        coop = restrict(Cooperative.objects.filter(pk=values["cooperative"]), request.user, CHANGE).first()
        if coop is None or not rx.may_open(request.user, coop):
            raise NotFound()
        try:
            case = rx.open_case(request.user, coop, year=values["year"], note=values.get("note", ""))
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data, status=201)

    @extend_schema(operation_id="rectification_cases_transition", responses=CaseSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"(?P<transition>[a-z_]+)",
        serializer_class=CaseTransitionSerializer,
    )
    def transition(self, request: Request, pk: Any = None, transition: str = "") -> Response:
        if transition not in rx.TRANSITIONS and transition != "refresh":
            raise NotFound()
        # reach: the cases the caller may change for a refresh; for a step, those they see (a step their
        # role may not take on a case they see: 403 with the reason)
        self.action = "partial_update" if transition == "refresh" else "retrieve"
        case = self.get_object()
        if transition != "refresh":
            refused = rx.refusal(request.user, transition, case)
            if refused:
                raise PermissionDenied(refused)
        data = CaseTransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            if transition == "refresh":
                rx.refresh_from_data(case, request.user)
            elif transition == "cancel":
                rx.cancel(case, request.user, reason=values.get("reason", ""))
            else:
                getattr(rx, transition)(case, request.user, note=values.get("note", ""))
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        case.refresh_from_db()
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data)


class RectificationItemViewSet(ScopedViewSet):
    """Checklist items of the cases in reach; POST …/outcome/ records pass, fail or waive."""

    model = RectificationItem
    serializer_class = ItemSerializer
    filterset_fields = ["case", "key", "status", "data_result"]
    select_related = ("case__checklist",)
    http_method_names = [*READ_ONLY, "post"]

    @extend_schema(exclude=True)
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    @extend_schema(operation_id="rectification_items_outcome", responses=ItemSerializer)
    @action(detail=True, methods=["post"], serializer_class=OutcomeSerializer)
    def outcome(self, request: Request, pk: Any = None) -> Response:
        self.action = "partial_update"
        item = self.get_object()
        data = OutcomeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            item = rx.record_outcome(
                item, request.user, outcome=values["outcome"], note=values.get("note", "")
            )
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        return Response(ItemSerializer(item, context=self.get_serializer_context()).data)


class RectificationTaskViewSet(ScopedViewSet):
    """Tasks of the cases in reach; PATCH changes the owner, deadline or note (district or city staff)."""

    model = RectificationTask
    serializer_class = TaskSerializer
    filterset_fields = ["case", "owner", "status"]
    select_related = ("case", "item")
    http_method_names = [*READ_ONLY, "patch"]

    @extend_schema(request=TaskChangeSerializer, responses=TaskSerializer)
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        data = TaskChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        owner = None
        if "owner" in values:
            owner = User.objects.filter(pk=values["owner"]).first()
            if owner is None:
                raise ValidationError({"owner": [_("Choose an active user who can see this case.")]})
        try:
            task = rx.update_task(
                task, request.user, owner=owner, deadline=values.get("deadline"), note=values.get("note")
            )
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        return Response(TaskSerializer(task, context=self.get_serializer_context()).data)


class SpecialAssistanceViewSet(ScopedViewSet):
    """Special assistance (专项帮扶) under the cases in reach; POST records one (district or city staff)."""

    model = SpecialAssistance
    serializer_class = AssistanceSerializer
    filterset_fields = ["case", "kind"]
    select_related = ("case",)
    http_method_names = [*READ_ONLY, "post"]

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, SpecialAssistance, ADD) or rx.role_of(request.user) not in rx.STAFF:
            raise NotFound()
        case_id = request.data.get("case")
        case = (
            restrict(RectificationCase.objects.filter(pk=case_id), request.user, CHANGE).first()
            if str(case_id or "").isdigit()
            else None
        )
        if case is None:
            raise NotFound()
        date = request.data.get("date")
        try:
            parsed = serializers.DateField().to_internal_value(date) if date else None
        except serializers.ValidationError as exc:
            raise ValidationError({"date": exc.detail}) from exc
        try:
            record = rx.add_assistance(
                case,
                request.user,
                kind=str(request.data.get("kind") or ""),
                description=str(request.data.get("description") or ""),
                amount=request.data.get("amount"),
                date=parsed,
                given_by=str(request.data.get("given_by") or ""),
            )
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        return Response(AssistanceSerializer(record, context=self.get_serializer_context()).data, status=201)


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("compliance-checklists", ChecklistViewSet, basename="compliancechecklist")
    router.register("rectification-cases", RectificationCaseViewSet, basename="rectificationcase")
    router.register("rectification-items", RectificationItemViewSet, basename="rectificationitem")
    router.register("rectification-tasks", RectificationTaskViewSet, basename="rectificationtask")
    router.register("rectification-assistance", SpecialAssistanceViewSet, basename="rectificationassistance")
