"""REST API bases: the same scoping chokepoint and service functions as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from .context import change_context
from .scoping import ADD, CHANGE, RETIRE, VIEW, can, restrict
from .services import ScopeViolation, retire_record, save_record, snapshot

ACTION_FOR_METHOD = {
    "list": VIEW,
    "retrieve": VIEW,
    "create": ADD,
    "update": CHANGE,
    "partial_update": CHANGE,
    "destroy": RETIRE,
}


class RecordSerializer(serializers.ModelSerializer):
    """Validates through the model's own clean() so that the API answers exactly like the forms."""

    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in attrs.items() if k != "reason"}
        model: Any = self.Meta.model
        instance = self.instance or model()
        if self.instance is not None:
            instance = type(self.instance)._default_manager.get(pk=self.instance.pk)
        for key, value in data.items():
            setattr(instance, key, value)
        self.prepare_instance(instance)
        try:
            instance.full_clean(exclude=self.full_clean_exclude())
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc
        return attrs

    def prepare_instance(self, instance: models.Model) -> None:
        """Hook: set fields the client does not send (e.g. the parent) before validation."""

    def full_clean_exclude(self) -> list[str]:
        return []


class ScopedViewSet(viewsets.ModelViewSet):
    """A model's endpoints. `destroy` retires (nothing is hard-deleted)."""

    model: type[models.Model]
    select_related: tuple[str, ...] = ()

    def get_queryset(self) -> models.QuerySet:
        action = ACTION_FOR_METHOD.get(self.action or "list", VIEW)
        qs: models.QuerySet = restrict(self.model._default_manager.all(), self.request.user, action)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if (
            self.action == "list"
            and self.request.query_params.get("retired") != "1"
            and hasattr(self.model, "retired_at")
        ):
            qs = qs.filter(retired_at__isnull=True)
        return qs.order_by(*(self.model._meta.ordering or ["pk"]), "pk")

    def _save(self, serializer: Any, before: dict[str, Any] | None) -> None:
        reason = serializer.validated_data.pop("reason", "") or self.request.headers.get(
            "X-Change-Reason", ""
        )
        model: Any = serializer.Meta.model  # type: ignore[attr-defined]
        instance = serializer.instance or model()
        for key, value in serializer.validated_data.items():
            setattr(instance, key, value)
        serializer.prepare_instance(instance)  # type: ignore[attr-defined]
        try:
            with change_context(user=self.request.user, reason=reason):
                save_record(instance, before=before)
        except ScopeViolation as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        except DjangoPermissionDenied as exc:
            raise NotFound() from exc
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc
        serializer.instance = instance

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, self.model, VIEW):
            raise NotFound()  # like the pages: a list the role may not see does not exist for it
        return super().list(request, *args, **kwargs)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, self.model, ADD):
            raise NotFound()
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        assert serializer.instance is not None
        before = snapshot(type(serializer.instance)._default_manager.get(pk=serializer.instance.pk))
        self._save(serializer, before)

    def perform_destroy(self, instance: Any) -> None:
        reason = self.request.headers.get("X-Change-Reason", "")
        try:
            with change_context(user=self.request.user, reason=reason):
                retire_record(instance)
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc
