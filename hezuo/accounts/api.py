from __future__ import annotations

from rest_framework import serializers
from rest_framework.routers import BaseRouter

from hezuo.core.api import RecordSerializer, ScopedViewSet
from hezuo.registry.api import ScopedPrimaryKeyField
from hezuo.registry.models import Cooperative

from .models import CounselorAssignment, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "district", "cooperative", "is_active"]
        read_only_fields = fields


class UserViewSet(ScopedViewSet):
    """Users (city staff only). Read-only here: users are managed on the Users page."""

    model = User
    serializer_class = UserSerializer
    http_method_names = ["get", "head", "options"]


class CounselorAssignmentSerializer(RecordSerializer):
    cooperative = ScopedPrimaryKeyField(queryset=Cooperative.objects.all())

    class Meta:
        model = CounselorAssignment
        exclude = ["created_at", "updated_at"]
        read_only_fields = ["retired_at"]


class CounselorAssignmentViewSet(ScopedViewSet):
    model = CounselorAssignment
    serializer_class = CounselorAssignmentSerializer
    filterset_fields = ["cooperative", "counselor"]


def register(router: BaseRouter) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("assignments", CounselorAssignmentViewSet, basename="counselorassignment")
