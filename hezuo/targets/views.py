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
from django.core.validators import MaxValueValidator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from hezuo.core.forms import ReasonMixin
from hezuo.core.history import field_changes
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, EXPORT, VIEW, can, get_scoped_or_404, restrict, scope_for
from hezuo.core.years import FISCAL_FIRST, FISCAL_LAST
from hezuo.geo.models import Division

from . import closing, editing, forecast, loader, review
from . import progress as progress_service
from .export import xlsx_bytes
from .metrics import SHARE, SUM
from .models import Metric, Plan, Target, YearClose


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
    landing = _district_landing(request, plan)
    if landing is not None:
        return landing
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
            "can_edit": can(request.user, Target, CHANGE),
            "can_copy": can(request.user, Plan, ADD),
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
    landing = _district_landing(request, plan)
    if landing is not None:
        return landing
    metrics, key = _chosen_metric(request, plan)
    metric = next((m for m in metrics if m.key == key), None)
    result = progress_service.compute(plan, request.user, metric_keys={key})
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
                    "url": reverse("targets:district", args=[plan.code, row.code])
                    + f"?metric={key}&year={year}",
                    "drill": reverse("targets:drilldown", args=[plan.code, key, year, row.code])
                    if year in result.computed_years
                    else "",
                }
            )
        whole = (
            result.total if result.total is not None else (result.rows[0] if len(result.rows) == 1 else None)
        )
        for y in result.years:
            point = whole.cell(key, y) if whole is not None else None
            trend["years"].append(str(y))
            trend["targets"].append(num(point.target) if point else None)
            trend["actuals"].append(num(point.actual.value) if point and point.actual else None)
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


# ------------------------------------------------------------------------------------------------------
# a district's page (district staff land here), the way in from the home page
def _chosen_metric(request: HttpRequest, plan: Plan) -> tuple[list[Metric], str]:
    """The plan's metrics that have a definition, and the one asked for (default: the annex's first)."""
    metrics = sorted(
        (m for m in plan.metrics.filter(retired_at__isnull=True) if m.definition is not None),
        key=lambda m: (m.annex_order is None, m.annex_order or 0, m.pk),
    )
    keys = [m.key for m in metrics]
    asked = request.GET.get("metric")
    return metrics, asked if asked in keys else (keys[0] if keys else "")


def _district_landing(request: HttpRequest, plan: Plan) -> HttpResponse | None:
    """District staff opening the plan's table or dashboard see their own district's page (rendered in
    place: no extra round trip)."""
    district = progress_service.own_district(request.user)
    if district is None:
        return None
    return _render_district(request, plan, district)


def current_plan(user: Any) -> Plan | None:
    """The plan running this year (else the latest one) among those the user sees."""
    this_year = timezone.localdate().year
    plans = list(_plans(user))
    if not plans:
        return None
    return max(plans, key=lambda p: (this_year in (p.years or []), max(p.years or [0]), p.pk))


@login_required
def my_progress(request: HttpRequest) -> HttpResponse:
    """The way in (home page, menu): the current plan's table, or a district user's own district page."""
    _login_required_404(request)
    plan = current_plan(request.user)
    if plan is None:
        return redirect("targets:plan_list")
    district = progress_service.own_district(request.user)
    if district is not None:
        return redirect("targets:district", code=plan.code, district=district.code)
    return redirect("targets:progress", code=plan.code)


@login_required
def district_page(request: HttpRequest, code: str, district: str) -> HttpResponse:
    """One district: its metrics × years (actual, target, attainment, drill-downs), the trend of a metric,
    and the map with the district highlighted. Only that district's numbers are on the page."""
    _login_required_404(request)
    plan = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    division = progress_service.visible_districts(request.user).filter(code=district).first()
    if division is None:
        raise Http404
    return _render_district(request, plan, division)


def _render_district(request: HttpRequest, plan: Plan, division: Division) -> HttpResponse:
    metrics, key = _chosen_metric(request, plan)
    result = progress_service.compute(plan, request.user, district=division)
    row = result.rows[0] if result.rows else progress_service.Row(division.code, division.name, division)
    computed = set(result.computed_years)
    years = result.computed_years or result.years
    try:
        year = int(request.GET.get("year") or years[-1])
    except (ValueError, IndexError):
        year = 0
    if year not in result.years:
        year = years[-1] if years else 0
    table = []
    for m in metrics:
        table.append(
            {
                "metric": m,
                "key": m.key,
                "kind": m.definition.kind_label,
                "chosen": m.key == key,
                "cells": [
                    _cell_view(plan, m, y, division.code, row.cell(m.key, y), y in computed)
                    for y in result.years
                ],
            }
        )
    metric = next((m for m in metrics if m.key == key), None)
    trend: dict[str, Any] = {"years": [], "targets": [], "actuals": []}
    regions: list[dict[str, Any]] = []
    share = False
    if metric is not None:
        kind = metric.definition.kind
        share = kind == SHARE
        scale = 100 if share else 1

        def num(value: Any) -> float | None:
            return None if value is None else round(float(value) * scale, 2)

        for y in result.years:
            cell = row.cell(key, y)
            trend["years"].append(str(y))
            trend["targets"].append(num(cell.target))
            trend["actuals"].append(num(cell.actual.value if cell.actual else None))
        cell = row.cell(key, year)
        regions.append(
            {
                "name": division.name,
                "value": round(cell.ratio * 100, 1) if cell.ratio is not None else None,
                "actual": fmt(cell.actual.value, kind) if cell.actual else "",
                "target": fmt(cell.target, kind) if cell.target is not None else "",
                "color": (cell.band or {}).get("color", "#e9ecef"),
                "url": reverse("targets:drilldown", args=[plan.code, key, year, division.code])
                if year in computed
                else "",
            }
        )
    # the other districts the user reaches: names and links only, never their numbers
    city_wide = scope_for(request.user).everything
    others = progress_service.visible_districts(request.user).exclude(pk=division.pk) if city_wide else []
    links = {
        d.name: reverse("targets:district", args=[plan.code, d.code]) + f"?metric={key}&year={year}"
        for d in others
    }
    labels = {
        "target": _("Target"),
        "actual": _("Actual"),
        "attainment": _("Attainment"),
        "unit": "%" if share else "",
    }
    return render(
        request,
        "targets/district.html",
        {
            "plan": plan,
            "division": division,
            "label": row.label or division.name,
            "progress": result,
            "table": table,
            "metrics": metrics,
            "metric": metric,
            "years": result.years,
            "year": year,
            "legend": plan.legend,
            "city_wide": city_wide,
            "can_export": can(request.user, Plan, EXPORT),
            "data": {
                "chart": None,
                "trend": trend,
                "regions": regions,
                "highlight": division.name,
                "links": links,
                "labels": labels,
                "legend": plan.legend,
            },
        },
    )


# ------------------------------------------------------------------------------------------------------
# city staff edit targets and make the next plan
def _editable_plan(request: HttpRequest, code: str) -> Plan:
    if not can(request.user, Target, CHANGE):
        raise Http404
    return get_scoped_or_404(_plans(request.user), request.user, CHANGE, code=code)


@login_required
def plan_targets(request: HttpRequest, code: str) -> HttpResponse:
    """A year's targets of a plan: districts (and the city) × metrics, each cell opening its edit page."""
    plan = _editable_plan(request, code)
    try:
        year = int(request.GET.get("year") or plan.years[0])
    except (ValueError, IndexError):
        raise Http404 from None
    if year not in plan.years:
        raise Http404
    metrics = sorted(
        plan.metrics.filter(retired_at__isnull=True),
        key=lambda m: (m.annex_order is None, m.annex_order or 0, m.pk),
    )
    grid = editing.targets_grid(plan, year)
    closed = year in closing.closed_years(plan)

    def cells(district: Division | None, where: str) -> list[dict[str, Any]]:
        out = []
        for m in metrics:
            target = grid.get((district.pk if district else None, m.pk))
            kind = m.definition.kind if m.definition else "count"
            out.append(
                {
                    "value": fmt(target.value, kind) if target is not None else "",
                    "url": reverse("targets:target_edit", args=[plan.code, m.key, year, where]),
                }
            )
        return out

    rows = [
        {"label": label, "code": d.code, "cells": cells(d, d.code)}
        for d, label in editing.plan_districts(plan)
    ]
    rows.append({"label": _("City (city-wide targets)"), "code": "city", "cells": cells(None, "city")})
    return render(
        request,
        "targets/plan_targets.html",
        {"plan": plan, "year": year, "years": plan.years, "metrics": metrics, "rows": rows, "closed": closed},
    )


class TargetForm(ReasonMixin, forms.Form):
    value = forms.DecimalField(
        label=gettext_lazy("Target"),
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=4,
        help_text=gettext_lazy("Empty: no target for this cell (the target is removed)."),
    )

    def __init__(self, *args: Any, share: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if share:
            value = self.fields["value"]
            assert isinstance(value, forms.DecimalField)
            # django-stubs types DecimalField.max_value as IntegerField's `int | None`, although
            # DecimalField.__init__ accepts a Decimal max_value (and Django stores it as given).
            value.max_value = Decimal(1)  # type: ignore[assignment]
            value.validators.append(MaxValueValidator(Decimal(1)))
            value.help_text = gettext_lazy(
                "A share as a fraction: 0.7 is 70%. Empty: no target for this cell."
            )
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


@login_required
def target_edit(request: HttpRequest, code: str, metric: str, year: int, where: str) -> HttpResponse:
    """One target cell (a district's or the city's, a metric, a year): its value, changed with a reason and
    recorded; refused while the year is closed."""
    plan = _editable_plan(request, code)
    metric_row = plan.metrics.filter(key=metric, retired_at__isnull=True).first()
    if metric_row is None or year not in plan.years:
        raise Http404
    district: Division | None = None
    if where != "city":
        district = progress_service.visible_districts(request.user).filter(code=where).first()
        if district is None:
            raise Http404
    share = bool(metric_row.definition and metric_row.definition.kind == SHARE)
    target = editing.current_target(plan, metric_row, year, district)
    closed = year in closing.closed_years(plan)
    initial = {"value": target.value.normalize() if target is not None else None}
    form = TargetForm(request.POST or None, initial=initial, share=share)
    if request.method == "POST":
        if closed:
            form.is_valid()
            form.add_error(None, editing.closed_message(year))
        elif form.is_valid():
            try:
                editing.set_target(
                    plan,
                    metric_row,
                    year,
                    district,
                    form.cleaned_data["value"],
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, _("Target saved."))
                return redirect(reverse("targets:plan_targets", args=[plan.code]) + f"?year={year}")
    page = Paginator(editing.cell_history(plan, metric_row, year, district), 30).get_page(
        request.GET.get("page")
    )
    entries = [(record, field_changes(record, request.user)) for record in page.object_list]
    return render(
        request,
        "targets/target_edit.html",
        {
            "plan": plan,
            "metric": metric_row,
            "year": year,
            "district": district,
            "where": where,
            "target": target,
            "closed": closed,
            "form": form,
            "page": page,
            "entries": entries,
            "can_view_changes": can(request.user, ChangeRecord, VIEW),
        },
    )


class PlanCopyForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code of the new plan"), max_length=60)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    issuer = forms.CharField(label=gettext_lazy("Issuer"), max_length=200, required=False)
    issued_on = forms.DateField(
        label=gettext_lazy("Issued on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    first_year = forms.IntegerField(
        label=gettext_lazy("First year"), min_value=FISCAL_FIRST, max_value=FISCAL_LAST
    )
    copy_values = forms.BooleanField(
        label=gettext_lazy("Copy the target values too (shifted by the same number of years)"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.setdefault(
                "class", "form-check-input" if name == "copy_values" else "form-control"
            )


@login_required
def plan_copy(request: HttpRequest, code: str) -> HttpResponse:
    """The next plan from this one: its metrics, districts and settings, the years shifted; then its targets
    are edited cell by cell (or loaded from a file)."""
    if not can(request.user, Plan, ADD):
        raise Http404
    source = get_scoped_or_404(_plans(request.user), request.user, VIEW, code=code)
    years = list(source.years or [])
    span = len(years)
    first = (years[-1] + 1) if years else timezone.localdate().year
    initial = {"first_year": first, "code": f"{source.code.rsplit('-', 2)[0]}-{first}-{first + span - 1}"}
    form = PlanCopyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = editing.copy_plan(
                source,
                editing.CopyRequest(
                    code=data["code"],
                    name=data["name"],
                    first_year=data["first_year"],
                    issuer=data["issuer"],
                    issued_on=data["issued_on"],
                    copy_values=data["copy_values"],
                ),
                user=request.user,
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Plan %(code)s made: now set its targets.") % {"code": plan.code})
            return redirect(reverse("targets:plan_targets", args=[plan.code]) + f"?year={plan.years[0]}")
    return render(request, "targets/plan_copy.html", {"source": source, "form": form, "span": span})
