"""REST endpoints of the plans: /api/plans/ (with …/progress/) and /api/targets/ — read-only, same scoping as
the pages (a district user's progress counts their district only; counselors and cooperative users: none).
Plans are loaded from files (page or `hezuo load_plan`), not written through the API."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from hezuo.core.api import ScopedViewSet

from .models import Plan, Target
from .progress import compute

READ_ONLY = ["get", "head", "options"]


class PlanSerializer(serializers.ModelSerializer):
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "name",
            "issuer",
            "issued_on",
            "years",
            "config",
            "district_labels",
            "metrics",
        ]

    def get_metrics(self, obj: Plan) -> list[dict[str, Any]]:
        out = []
        for m in obj.metrics.filter(retired_at__isnull=True):
            d = m.definition
            out.append(
                {
                    "key": m.key,
                    "label": m.display_label,
                    "kind": d.kind if d else None,
                    "meaning": str(d.meaning) if d else "",
                    "annex_order": m.annex_order,
                    "config": m.config,
                }
            )
        return out


class TargetSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.code", read_only=True)
    metric = serializers.CharField(source="metric.key", read_only=True)
    district = serializers.SerializerMethodField()

    class Meta:
        model = Target
        fields = ["id", "plan", "metric", "district", "year", "value"]

    def get_district(self, obj: Target) -> str | None:
        return obj.district.code if obj.district_id and obj.district is not None else None


def _num(value: Any) -> Any:
    return None if value is None else float(value)


class PlanViewSet(ScopedViewSet):
    """Plans with their metrics; GET …/progress/ gives the progress table in the caller's scope."""

    model = Plan
    serializer_class = PlanSerializer
    http_method_names = READ_ONLY

    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: Any = None) -> Response:
        plan = self.get_object()
        try:
            result = compute(plan, request.user)
        except Http404 as exc:
            raise NotFound() from exc
        rows = [*result.rows, *([result.total] if result.total else [])]
        cells = []
        for row in rows:
            for metric in result.all_metrics:
                for year in result.years:
                    cell = row.cell(metric.key, year)
                    actual = cell.actual
                    cells.append(
                        {
                            "district": row.code,
                            "metric": metric.key,
                            "year": year,
                            "target": _num(cell.target),
                            "actual": _num(actual.value) if actual else None,
                            "count": actual.count if actual else None,
                            "denominator": actual.denominator if actual else None,
                            "provisional": bool(actual and actual.provisional),
                            "ratio": cell.ratio,
                            "closed": year in result.closed_years,
                        }
                    )
        return Response({"plan": plan.code, "years": result.years, "cells": cells})


class TargetViewSet(ScopedViewSet):
    """Targets in the caller's scope (their district's and the city-wide ones)."""

    model = Target
    serializer_class = TargetSerializer
    filterset_fields = ["plan", "year"]
    select_related = ("plan", "metric", "district")
    http_method_names = READ_ONLY


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the one API router."""
    router.register("plans", PlanViewSet, basename="plan")
    router.register("targets", TargetViewSet, basename="target")
