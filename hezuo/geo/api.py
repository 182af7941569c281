from __future__ import annotations

import django_filters as filters
from rest_framework import serializers, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.routers import BaseRouter

from hezuo.core.scoping import VIEW

from .models import Division


class DivisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Division
        fields = ["id", "code", "name", "level", "parent", "district"]


class DivisionFilterSet(filters.FilterSet):
    class Meta:
        model = Division
        fields = ["level", "parent", "district", "code"]


class LargePages(PageNumberPagination):
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000


class DivisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Divisions (public reference data: every signed-in user may read them)."""

    serializer_class = DivisionSerializer
    filterset_class = DivisionFilterSet
    pagination_class = LargePages

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Division.objects.restrict(self.request.user, VIEW).order_by("code")


def register(router: BaseRouter) -> None:
    router.register("divisions", DivisionViewSet, basename="division")
