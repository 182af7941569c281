"""The plans' pages: the list of plans, the progress table, the drill-down lists and the Excel export.

Every number comes from `Cooperative.objects.restrict(user, VIEW)`: a district user's table, drill-downs
and export count their district only. Without the permission, or out of reach: 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from hezuo.core.scoping import ADD, CHANGE, EXPORT, VIEW, can, get_scoped_or_404, restrict, scope_for
from hezuo.geo.models import Division

from . import closing, forecast, loader, review
from . import progress as progress_service
from .export import xlsx_bytes
from .metrics import SHARE, SUM
from .models import Metric, Plan, YearClose


def _plans(user: Any) -> Any:
    return restrict(Plan.objects.filter(retired_at__isnull=True), user, VIEW)


def _login_required_404(request: HttpRequest) -> None:
    if not can(request.user, Plan, VIEW):
        raise Http404


def fmt(value: Decimal | int | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind == SHARE:
        return f"{float(value) * 100:.1f}%"
    value = Decimal(value)
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,.2f}"


def pct(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio * 100:.1f}%" if ratio < 0.1 else f"{ratio * 100:.0f}%"


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    _login_required_404(request)
    return render(
        request,
        "targets/plan_list.html",
        {"plans": _plans(request.user), "can_load": can(request.user, Plan, ADD)},
    )


def _cell_view(
    plan: Plan, metric: Metric, year: int, where: str, cell: Any, computed: bool
) -> dict[str, Any]:
    kind = metric.definition.kind if metric.definition else "count"
    actual = cell.actual
    return {
        "target": fmt(cell.target, kind) if cell.target is not None else "",
        "actual": fmt(actual.value, kind) if actual is not None else "",
        "count": actual.count if actual is not None else None,
        "pct": pct(cell.ratio),
        "color": (cell.band or {}).get("color", ""),
        "provisional": bool(actual and actual.provisional),
        "url": reverse("targets:drilldown", args=[plan.code, metric.key, year, where]) if computed else "",
    }


@login_required
def progress_page(request: HttpRequest, code: str) -> HttpResponse:
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    result = progress_service.compute(plan, request.user)
    computed = set(result.computed_years)
    rows = []
    for row in [*result.rows, *([result.total] if result.total else [])]:
        cells = [
            _cell_view(plan, m, y, row.code, row.cell(m.key, y), y in computed)
            for y in result.years
            for m in result.metrics
        ]
        rows.append(
            {
                "label": row.label or _("City total"),
                "code": row.code,
                "cells": cells,
                "total": not row.district,
            }
        )
    kpis = [
        {"metric": m, "year": y, **_cell_view(plan, m, y, "city", cell, y in computed)}
        for m, y, cell in result.kpis
    ]
    definitions = [(m, m.definition) for m in result.all_metrics if m.definition is not None]
    return render(
        request,
        "targets/progress.html",
        {
            "plan": plan,
            "progress": result,
            "rows": rows,
            "kpis": kpis,
            "definitions": definitions,
            "legend": plan.legend,
            "can_export": can(request.user, Plan, EXPORT),
            "can_close": can(request.user, YearClose, CHANGE),
        },
    )


@login_required
def drilldown_page(request: HttpRequest, code: str, metric: str, year: int, where: str) -> HttpResponse:
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    metric_row = plan.metrics.filter(key=metric, retired_at__isnull=True).first()
    if (
        metric_row is None
        or metric_row.definition is None
        or year not in progress_service.computed_years(plan)
    ):
        raise Http404
    district: Division | None = None
    if where != "city":
        district = progress_service.visible_districts(request.user).filter(code=where).first()
        if district is None:
            raise Http404
    elif not scope_for(request.user).everything:
        raise Http404
    part = "population" if request.GET.get("part") == "population" else "members"
    definition = metric_row.definition
    qs = (
        progress_service.drilldown_queryset(plan, request.user, metric_row, year, district, part)
        .select_related("district", "town")
        .order_by("district__code", "name", "pk")
    )
    total_count = qs.count()
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "targets/drilldown.html",
        {
            "plan": plan,
            "metric": metric_row,
            "definition": definition,
            "year": year,
            "district": district,
            "where": where,
            "part": part,
            "page": page,
            "total_count": total_count,
            "is_sum": definition.kind == SUM and part == "members",
            "is_share": definition.kind == SHARE,
        },
    )


@login_required
def export_xlsx(request: HttpRequest, code: str) -> HttpResponse:
    _login_required_404(request)
    if not can(request.user, Plan, EXPORT):
        raise Http404
    plan = get_scoped_or_404(_plans(request.user), request.user, EXPORT, code=code)
    targets_only = request.GET.get("targets_only") in ("1", "true", "yes")
    result = progress_service.compute(plan, request.user, targets_only=targets_only)
    data = xlsx_bytes(result, targets_only=targets_only)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    suffix = "targets" if targets_only else "progress"
    response["Content-Disposition"] = f'attachment; filename="{plan.code}-{suffix}.xlsx"'
    return response


@login_required
def dashboard(request: HttpRequest, code: str) -> HttpResponse:
    """Charts of one metric per district and over the years, and the districts' map coloured by attainment."""
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    result = progress_service.compute(plan, request.user)
    metrics = [m for m in result.all_metrics if m.definition is not None]
    keys = [m.key for m in metrics]
    columns = [m.key for m in result.metrics if m.definition is not None] or keys
    key = request.GET.get("metric") if request.GET.get("metric") in keys else (columns[0] if columns else "")
    metric = next((m for m in metrics if m.key == key), None)
    years = result.computed_years or result.years
    try:
        year = int(request.GET.get("year") or years[-1])
    except (ValueError, IndexError):
        year = 0
    if year not in result.years:
        year = years[-1] if years else 0
    chart: dict[str, Any] = {"districts": [], "targets": [], "actuals": [], "share": False}
    trend: dict[str, Any] = {"years": [], "targets": [], "actuals": []}
    regions: list[dict[str, Any]] = []
    if metric is not None:
        kind = metric.definition.kind
        scale = 100 if kind == SHARE else 1
        chart["share"] = kind == SHARE

        def num(value: Any) -> float | None:
            return None if value is None else round(float(value) * scale, 2)

        for row in result.rows:
            cell = row.cell(key, year)
            chart["districts"].append(row.label)
            chart["targets"].append(num(cell.target))
            chart["actuals"].append(num(cell.actual.value if cell.actual else None))
            assert row.district is not None
            regions.append(
                {
                    "name": row.district.name,
                    "value": round(cell.ratio * 100, 1) if cell.ratio is not None else None,
                    "actual": fmt(cell.actual.value, kind) if cell.actual else "",
                    "target": fmt(cell.target, kind) if cell.target is not None else "",
                    "color": (cell.band or {}).get("color", "#e9ecef"),
                    "url": reverse("targets:drilldown", args=[plan.code, key, year, row.code])
                    if year in result.computed_years
                    else "",
                }
            )
        whole = (
            result.total if result.total is not None else (result.rows[0] if len(result.rows) == 1 else None)
        )
        for y in result.years:
            cell = whole.cell(key, y) if whole is not None else None
            trend["years"].append(str(y))
            trend["targets"].append(num(cell.target) if cell else None)
            trend["actuals"].append(num(cell.actual.value) if cell and cell.actual else None)
    labels = {
        "target": _("Target"),
        "actual": _("Actual"),
        "attainment": _("Attainment"),
        "unit": "%" if chart["share"] else "",
    }
    return render(
        request,
        "targets/dashboard.html",
        {
            "plan": plan,
            "metrics": metrics,
            "metric": metric,
            "years": result.years,
            "year": year,
            "data": {
                "chart": chart,
                "trend": trend,
                "regions": regions,
                "labels": labels,
                "legend": plan.legend,
            },
            "regions": regions,
        },
    )


@login_required
@require_POST
def close_year(request: HttpRequest, code: str, year: int) -> HttpResponse:
    return _close_or_reopen(
        request, code, year, closing.close_year, _("%(year)s closed: its numbers are kept.")
    )


@login_required
@require_POST
def reopen_year(request: HttpRequest, code: str, year: int) -> HttpResponse:
    return _close_or_reopen(
        request, code, year, closing.reopen_year, _("%(year)s reopened: its numbers are live.")
    )


def _close_or_reopen(request: HttpRequest, code: str, year: int, action: Any, done: str) -> HttpResponse:
    if not can(request.user, YearClose, CHANGE):
        raise Http404
    plan = get_scoped_or_404(_plans(request.user), request.user, CHANGE, code=code)
    try:
        action(plan, year, user=request.user, note=request.POST.get("note", "")[:500])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done % {"year": year})
    return redirect("targets:progress", code=plan.code)


@login_required
def review_page(request: HttpRequest, code: str) -> HttpResponse:
    """The district review of a year: scores from attainment, ranked, with how each was made."""
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    result = progress_service.compute(plan, request.user)
    years = result.computed_years or result.years
    try:
        year = int(request.GET.get("year") or years[-1])
    except (ValueError, IndexError):
        year = 0
    if year not in result.years:
        raise Http404
    weights, cap = review.settings_of(plan)
    return render(
        request,
        "targets/review.html",
        {
            "plan": plan,
            "year": year,
            "years": result.years,
            "scores": review.scores(plan, request.user, year, result),
            "cap": cap,
            "custom_weights": bool(weights),
        },
    )


class PlanFileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Plan file (YAML)"))


@login_required
def plan_load(request: HttpRequest) -> HttpResponse:
    """City staff load a plan (a new one, e.g. 2026-2028, or changed targets of one) from a YAML file."""
    if not can(request.user, Plan, ADD):
        raise Http404
    form = PlanFileForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            text = form.cleaned_data["file"].read().decode("utf-8")
            plan = loader.load_plan_text(text, user=request.user, source="web")
        except UnicodeDecodeError:
            problems = [_("The file is not UTF-8 text.")]
        except ValidationError as exc:
            problems = list(exc.messages)
        else:
            messages.success(request, _("Plan %(code)s loaded.") % {"code": plan.code})
            return redirect("targets:progress", code=plan.code)
    return render(request, "targets/plan_load.html", {"form": form, "problems": problems})


@login_required
def forecast_page(request: HttpRequest, code: str) -> HttpResponse:
    """The current year's projected year-end values per district, those at risk first."""
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    year, projections = forecast.forecast(plan, request.user)
    return render(request, "targets/forecast.html", {"plan": plan, "year": year, "projections": projections})
