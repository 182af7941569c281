from __future__ import annotations

from rest_framework import serializers
from rest_framework.routers import BaseRouter

from hezuo.core.api import RecordSerializer, ScopedViewSet
from hezuo.core.scoping import scope_for
from hezuo.registry.api import ScopedPrimaryKeyField
from hezuo.registry.models import Cooperative

from .models import CounselorAssignment, User
from .roles import Role


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "district",
            "cooperative",
            "is_active",
        ]
        read_only_fields = fields


class UserViewSet(ScopedViewSet):
    """Users (city staff only). Read-only here: users are managed on the Users page."""

    model = User
    serializer_class = UserSerializer
    http_method_names = ["get", "head", "options"]


class CounselorField(serializers.PrimaryKeyRelatedField):
    """Only counselors of the caller's part of the city: other users' ids do not exist for it."""

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = User.objects.filter(role=Role.COUNSELOR)
        request = self.context.get("request")
        scope = scope_for(getattr(request, "user", None))
        if not scope.everything:
            qs = qs.filter(district_id__in=sorted(scope.district_ids))
        return qs


class CounselorAssignmentSerializer(RecordSerializer):
    cooperative = ScopedPrimaryKeyField(queryset=Cooperative.objects.all())
    counselor = CounselorField()

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
