"""The rating's pages: ratings (list, distribution, detail, review, confirmation), the cooperative's rating
tab, runs with their progress, rubrics (versions, editor, diff, publication), missing data, alerts.

Every query starts from `restrict(user, action)`; anything out of scope answers 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from hezuo.core import views as generic
from hezuo.core.context import change_context
from hezuo.core.scoping import ADD, CHANGE, EXPORT, VIEW, can, get_scoped_or_404
from hezuo.core.ui import ModelUI
from hezuo.core.years import DATES_FIRST, DATES_LAST, FISCAL_FIRST, FISCAL_LAST
from hezuo.geo.models import Division
from hezuo.registry.choices import Industry, OperatingStatus
from hezuo.registry.models import Cooperative, YearlyFact

from . import describe, services
from .engine import evaluate, what_it_takes
from .models import Alert, Confirmation, Rating, RatingRun, Rubric
from .rubric import RubricError, diff, label_text
from .tables import AlertFilterSet, AlertTable, RatingFilterSet, RatingTable


def _stars_label(stars: int | None) -> str:
    return "★" * stars if stars else ""


class RatingUI(ModelUI):
    model = Rating
    filterset_class = RatingFilterSet
    table_class = RatingTable
    select_related = ("cooperative", "cooperative__district", "rubric")
    list_template = "rating/rating_list.html"
    default_ordering = ("-year", "cooperative__district__code", "-stars", "cooperative__name", "pk")
    export_columns = [
        ("cooperative", gettext_lazy("Cooperative"), lambda r: r.cooperative.name),
        ("credit_code", gettext_lazy("Unified social credit code"), lambda r: r.cooperative.credit_code),
        ("district", gettext_lazy("District"), lambda r: r.cooperative.district.name),
        ("year", gettext_lazy("Year"), lambda r: r.year),
        ("stars", gettext_lazy("Stars"), lambda r: r.stars),
        ("score", gettext_lazy("Score"), lambda r: r.score),
        ("status", gettext_lazy("Status"), lambda r: r.get_status_display()),
        (
            "missing",
            gettext_lazy("Missing facts"),
            lambda r: describe.missing_text(describe.rating_explanation(r).get("missing")),
        ),
        ("rubric", gettext_lazy("Rubric"), lambda r: str(r.rubric)),
        ("review_note", gettext_lazy("Review note"), lambda r: r.review_note),
    ]


class AlertUI(ModelUI):
    model = Alert
    filterset_class = AlertFilterSet
    table_class = AlertTable
    select_related = ("cooperative", "cooperative__district")
    default_ordering = ("-created_at", "-pk")
    export_columns = [
        ("cooperative", gettext_lazy("Cooperative"), lambda a: a.cooperative.name),
        ("district", gettext_lazy("District"), lambda a: a.cooperative.district.name),
        ("created_at", gettext_lazy("Raised"), lambda a: a.created_at),
        ("kind", gettext_lazy("Kind"), lambda a: a.get_kind_display()),
        ("stars_rated", gettext_lazy("Stars rated"), lambda a: a.stars_rated),
        ("stars_now", gettext_lazy("Stars now"), lambda a: a.stars_now),
        ("status", gettext_lazy("Status"), lambda a: a.get_status_display()),
    ]


class AlertListView(generic.ObjectListView):
    def base_context(self, **extra: Any) -> dict[str, Any]:
        context = super().base_context(**extra)
        context["can_add"] = False  # alerts are raised by monitoring, not added by hand
        return context


class HistoryView(generic.ObjectHistoryView):
    """The generic History page; the rating's records are changed by their own actions, not an edit form."""

    def base_context(self, **extra: Any) -> dict[str, Any]:
        extra.update(can_change=False, can_retire=False)
        return super().base_context(**extra)


class RubricUI(ModelUI):
    model = Rubric
    has_list = True


class RatingRunUI(ModelUI):
    model = RatingRun
    slug = "runs"


# ---------------------------------------------------------------------------------------------------
# ratings


def _years(user: Any) -> list[int]:
    return sorted(
        set(
            Rating.objects.restrict(user, VIEW)
            .filter(retired_at__isnull=True)
            .values_list("year", flat=True)
            .distinct()
        ),
        reverse=True,
    )


def distribution(user: Any, year: int | None) -> dict[str, Any]:
    """Stars per district for a year, in the user's scope: rows, totals and the chart's series."""
    if year is None:
        return {"rows": [], "chart": None}
    qs = Rating.objects.restrict(user, VIEW).filter(year=year, retired_at__isnull=True)
    counts = qs.values(
        "cooperative__district__code", "cooperative__district__name", "stars", "status"
    ).annotate(n=Count("pk"))
    rows: dict[str, dict[str, Any]] = {}
    for row in counts:
        code = row["cooperative__district__code"]
        entry = rows.setdefault(
            code,
            {
                "code": code,
                "name": row["cooperative__district__name"],
                "stars": {s: 0 for s in range(6)},
                "undecided": 0,
                "total": 0,
                "provisional": 0,
                "three_plus": 0,
            },
        )
        if row["stars"] is None:
            entry["undecided"] += row["n"]
        else:
            entry["stars"][row["stars"]] += row["n"]
            if row["stars"] >= 3:
                entry["three_plus"] += row["n"]
        entry["total"] += row["n"]
        if row["status"] == Rating.Status.PROVISIONAL:
            entry["provisional"] += row["n"]
    ordered = [rows[k] for k in sorted(rows)]
    for entry in ordered:
        entry["star_counts"] = [entry["stars"][s] for s in range(1, 6)]
    chart = {
        "districts": [r["name"] for r in ordered],
        "series": [{"name": f"{s}★", "data": [r["stars"][s] for r in ordered]} for s in range(1, 6)]
        + [
            {"name": str(_("Not rated")), "data": [r["stars"][0] for r in ordered]},
            {"name": str(_("Undecided")), "data": [r["undecided"] for r in ordered]},
        ],
    }
    return {"rows": ordered, "chart": chart}


class RatingListView(generic.ObjectListView):
    def base_context(self, **extra: Any) -> dict[str, Any]:
        context = super().base_context(**extra)
        user = self.request.user
        years = _years(user)
        try:
            year = int(self.request.GET.get("year") or (years[0] if years else 0)) or None
        except ValueError:
            year = None
        context.update(
            years=years,
            year=year,
            dist=distribution(user, year),
            can_confirm=can(user, Confirmation, ADD) and can(user, Rating, CHANGE),
            can_run=can(user, RatingRun, ADD),
            rerate_pending=Rating.objects.restrict(user, VIEW)
            .filter(year=year, rerate_requested=True, retired_at__isnull=True)
            .count()
            if year
            else 0,
        )
        return context


def rating_view_context(rating: Rating, user: Any) -> dict[str, Any]:
    definition = rating.rubric.definition
    explanation = describe.rating_explanation(rating)
    dims = {d["key"]: label_text(d.get("label")) for d in definition.get("dimensions", [])}
    chart = {
        "labels": [f"{d['key']} {dims.get(d['key'], '')}" for d in explanation.get("dimensions", [])],
        "points": [d["points"] for d in explanation.get("dimensions", [])],
        "max": [d["max"] for d in explanation.get("dimensions", [])],
        "pointsLabel": _("Points"),
        "maxLabel": _("Maximum"),
    }
    floors = dict((int(s), f) for s, f in definition.get("star_floors", []))
    return {
        "rating": rating,
        "indicators": describe.indicator_rows(explanation, definition),
        "gates": describe.gate_rows(explanation, definition),
        "missing": describe.missing_text(explanation.get("missing")),
        "breakdown_chart": chart,
        "floors": sorted(floors.items()),
        "capped_by": explanation.get("capped_by", []),
    }


def advice_context(cooperative: Cooperative, rubric: Rubric, year: int) -> dict[str, Any]:
    """What it takes, from the cooperative's current facts for the year and the rubric."""
    from . import adapter

    inp = adapter.input_for(cooperative, year)
    compiled = rubric.compiled()
    result = evaluate(inp, compiled)
    advice = what_it_takes(inp, compiled, result).as_json()
    return {
        "advice": advice,
        "advice_lines": describe.advice_lines(advice, rubric.definition),
        "advice_blocked": describe.blocked_lines(advice, rubric.definition),
        "advice_missing": describe.missing_text(advice.get("missing")),
        "now_stars": result.stars,
        "now_low": result.stars_low,
        "now_score": result.score,
    }


class RatingDetailView(generic.UIView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rating = get_scoped_or_404(
            RatingUI().queryset(request.user, VIEW).select_related("reviewed_by", "confirmed_by"),
            request.user,
            VIEW,
            pk=pk,
        )
        user = request.user
        can_review = (
            Rating.objects.restrict(user, CHANGE).filter(pk=rating.pk).exists() and not rating.is_confirmed
        )
        context = self.base_context(
            object=rating,
            parent=rating.cooperative,
            can_review=can_review,
            review_form=ReviewForm(initial={"note": rating.review_note}),
            **rating_view_context(rating, user),
            **advice_context(rating.cooperative, rating.rubric, rating.year),
        )
        return render(request, "rating/rating_detail.html", context)


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Review note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )
    request_rerate = forms.BooleanField(
        label=gettext_lazy("Facts were corrected: request a re-rate"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


@login_required
@require_POST
def review_rating(request: HttpRequest, pk: int) -> HttpResponse:
    rating = get_scoped_or_404(Rating.objects.all(), request.user, CHANGE, pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(rating.get_absolute_url())
    try:
        with change_context(user=request.user, reason=form.cleaned_data["note"][:500]):
            services.review(
                rating,
                user=request.user,
                note=form.cleaned_data["note"],
                request_rerate=form.cleaned_data["request_rerate"],
            )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Review saved.")
            + (" " + _("A re-rate is requested.") if form.cleaned_data["request_rerate"] else ""),
        )
    return redirect(rating.get_absolute_url())


def _district_from(request: HttpRequest) -> Division | None:
    code = request.POST.get("district") or ""
    if not code:
        return None
    district = Division.objects.filter(code=code, level=Division.Level.DISTRICT).first()
    if district is None:
        raise Http404
    return district


def _year_from(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("year", ""))
    except ValueError:
        raise Http404 from None


@login_required
@require_POST
def confirm_ratings(request: HttpRequest) -> HttpResponse:
    """City staff confirm a year's provisional ratings, for one district or all."""
    user = request.user
    if not (can(user, Confirmation, ADD) and can(user, Rating, CHANGE)):
        raise Http404
    year, district = _year_from(request), _district_from(request)
    try:
        confirmation = services.confirm(year, user=user, district=district, note=request.POST.get("note", ""))
    except PermissionDenied:
        raise Http404 from None
    messages.success(
        request,
        _("%(n)d ratings of %(year)d confirmed; they are final.") % {"n": confirmation.count, "year": year},
    )
    left = services.confirmable(year, user, district).count()
    if left:
        messages.warning(
            request,
            _(
                "%(n)d ratings stay provisional: a re-rate is requested or the stars cannot "
                "be decided for missing data."
            )
            % {"n": left},
        )
    return redirect(f"{reverse('rating:rating_list')}?year={year}")


@login_required
@require_POST
def rerate_requested(request: HttpRequest) -> HttpResponse:
    """City staff re-rate the ratings whose district asked for it (after correcting facts)."""
    if not can(request.user, RatingRun, ADD):
        raise Http404
    year, district = _year_from(request), _district_from(request)
    try:
        counts = services.rerate_requested(year, user=request.user, district=district)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)d ratings re-rated.") % {"n": counts.done})
    # the year's list (the re-rated results are no longer "re-rate requested": that filter would be empty)
    return redirect(f"{reverse('rating:rating_list')}?year={year}")


# ---------------------------------------------------------------------------------------------------
# the cooperative's rating tab


def rating_tab_context(user: Any, cooperative: Cooperative, year: int | None = None) -> dict[str, Any]:
    """Context of the rating tab of a cooperative's page (templates/rating/coop_tab.html)."""
    ratings = list(
        Rating.objects.restrict(user, VIEW)
        .filter(cooperative=cooperative, retired_at__isnull=True)
        .select_related("rubric", "confirmed_by", "reviewed_by")
        .order_by("year")
    )
    chosen = None
    if ratings:
        chosen = next((r for r in ratings if r.year == year), ratings[-1])
    context: dict[str, Any] = {
        "ratings": ratings,
        "chosen": chosen,
        "years_chart": {
            "years": [r.year for r in ratings],
            "stars": [r.stars for r in ratings],
            "scores": [float(r.score) for r in ratings],
            "starsLabel": _("Stars"),
            "scoreLabel": _("Score"),
        },
        "rating_alerts": Alert.objects.restrict(user, VIEW)
        .filter(cooperative=cooperative)
        .exclude(status=Alert.Status.RESOLVED)
        .order_by("-created_at")[:5],
    }
    if chosen is not None:
        context.update(rating_view_context(chosen, user))
        context.update(advice_context(cooperative, chosen.rubric, chosen.year))
    else:
        latest_fact = (
            YearlyFact.objects.restrict(user, VIEW)
            .filter(cooperative=cooperative, retired_at__isnull=True)
            .order_by("-year")
            .values_list("year", flat=True)
            .first()
        )
        rubric = services.published_rubric(latest_fact) if latest_fact else None
        if rubric is not None and latest_fact is not None:
            context.update(
                advice_context(cooperative, rubric, latest_fact),
                advice_year=latest_fact,
                advice_rubric=rubric,
            )
    return context


class CooperativeRatingView(generic.UIView):
    """The rating of one cooperative as its own page (the same content as the tab of its page)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        coop = get_scoped_or_404(Cooperative.objects.select_related("district"), request.user, VIEW, pk=pk)
        if not can(request.user, Rating, VIEW):
            raise Http404
        try:
            year = int(request.GET.get("year", "")) or None
        except ValueError:
            year = None
        context = self.base_context(object=coop, **rating_tab_context(request.user, coop, year))
        return render(request, "rating/coop_rating.html", context)


# ---------------------------------------------------------------------------------------------------
# runs


class RunForm(forms.Form):
    year = forms.IntegerField(
        label=gettext_lazy("Year"),
        min_value=FISCAL_FIRST,
        max_value=FISCAL_LAST,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    district = forms.ModelChoiceField(
        label=gettext_lazy("District"),
        required=False,
        to_field_name="code",
        queryset=Division.objects.filter(level=Division.Level.DISTRICT),
        empty_label=gettext_lazy("Whole city"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, RatingRun, VIEW):
        raise Http404
    can_run = can(user, RatingRun, ADD)
    form = RunForm(request.POST or None, initial={"year": _default_year()})
    if request.method == "POST":
        if not can_run:
            raise Http404
        if form.is_valid():
            try:
                run = services.start_run(
                    form.cleaned_data["year"], user=user, district=form.cleaned_data["district"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("rating:ratingrun_detail", pk=run.pk)
    runs = RatingRun.objects.restrict(user, VIEW).select_related("rubric", "started_by", "district")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    return render(request, "rating/run_list.html", {"form": form, "page": page, "can_run": can_run})


def _default_year() -> int:
    latest = (
        YearlyFact.objects.filter(retired_at__isnull=True)
        .order_by("-year")
        .values_list("year", flat=True)
        .first()
    )
    from django.utils import timezone

    return latest or timezone.localdate().year - 1


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_scoped_or_404(
        RatingRun.objects.select_related("rubric", "started_by", "district"), request.user, VIEW, pk=pk
    )
    return render(request, "rating/run_detail.html", {"run": run})


@login_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_scoped_or_404(RatingRun.objects.all(), request.user, VIEW, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "done": run.done,
            "total": run.total,
            "percent": run.percent,
            "created": run.created,
            "updated": run.updated,
            "undecided": run.undecided,
            "message": run.message,
            "finished": run.status in (RatingRun.Status.DONE, RatingRun.Status.FAILED),
        }
    )


# ---------------------------------------------------------------------------------------------------
# missing data


@login_required
def missing_list(request: HttpRequest) -> HttpResponse:
    """Cooperatives that cannot be rated for missing data, and what is missing; and those with no facts."""
    user = request.user
    if not can(user, Rating, VIEW):
        raise Http404
    years = _years(user)
    try:
        year = int(request.GET.get("year") or (years[0] if years else 0)) or None
    except ValueError:
        year = None
    if year is not None and not DATES_FIRST <= year <= DATES_LAST:
        year = None  # a hand-typed year the date functions cannot hold: no year chosen
    undecided = (
        Rating.objects.restrict(user, VIEW)
        .filter(year=year or 0, retired_at__isnull=True, stars__isnull=True)
        .select_related("cooperative", "cooperative__district", "rubric")
        .order_by("cooperative__district__code", "cooperative__name")
    )
    page = Paginator(undecided, 50).get_page(request.GET.get("page"))
    rows = []
    for r in page.object_list:
        explanation = describe.rating_explanation(r)
        rows.append(
            {
                "rating": r,
                "missing": describe.missing_text(explanation.get("missing")),
                "stars_low": r.stars_low,
                "stars_high": explanation.get("stars_high"),
            }
        )
    no_facts = (
        Cooperative.objects.restrict(user, VIEW)
        .filter(retired_at__isnull=True)
        .exclude(operating_status__in=("revoked", "deregistered"))
    )
    if year:
        no_facts = no_facts.filter(registration_date__year__lte=year).exclude(
            Exists(YearlyFact.objects.filter(cooperative=OuterRef("pk"), year=year, retired_at__isnull=True))
        )
    no_facts_page = Paginator(
        no_facts.select_related("district").order_by("district__code", "name"), 50
    ).get_page(request.GET.get("nf_page"))
    return render(
        request,
        "rating/missing_list.html",
        {
            "years": years,
            "year": year,
            "page": page,
            "rows": rows,
            "no_facts": no_facts_page,
        },
    )


# ---------------------------------------------------------------------------------------------------
# rubrics


@login_required
def rubric_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, Rubric, VIEW):
        raise Http404
    rubrics = list(
        Rubric.objects.restrict(user, VIEW)
        .filter(retired_at__isnull=True)
        .annotate(n_ratings=Count("ratings"))
    )
    from .models import RubricPublication

    publications = (
        RubricPublication.objects.restrict(user, VIEW)
        .filter(retired_at__isnull=True)
        .select_related("rubric")
    )
    return render(
        request,
        "rating/rubric_list.html",
        {
            "rubrics": rubrics,
            "publications": publications,
            "can_add": can(user, Rubric, ADD),
            "verbose_name_plural": Rubric._meta.verbose_name_plural,
        },
    )


def _otherwise_text(otherwise: Any) -> dict[str, str] | None:
    """An indicator's fallback measure ("otherwise: …") in words: its label and its tiers."""
    from .engine import MEASURES

    if not isinstance(otherwise, dict) or otherwise.get("measure") not in MEASURES:
        return None
    measure = MEASURES[otherwise["measure"]]
    return {
        "measure": describe.field_label(otherwise["measure"]),
        "tiers": describe.tier_text(measure.kind, measure.better == "lower", otherwise.get("tiers")),
    }


class RubricDetailView(generic.UIView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rubric = get_scoped_or_404(Rubric.objects.all(), request.user, VIEW, pk=pk)
        user = request.user
        definition = rubric.definition
        dims = []
        for dim in definition.get("dimensions", []):
            rows = []
            for ind in dim.get("indicators", []):
                from .engine import MEASURES

                measure = MEASURES[ind["measure"]]
                lower = measure.better == "lower"
                rows.append(
                    {
                        "key": ind["key"],
                        "label": label_text(ind.get("label")),
                        "measure": describe.measure_text(ind["measure"]),
                        "measure_code": ind["measure"],
                        "tiers": describe.tier_text(measure.kind, lower, ind.get("tiers")),
                        "relaxed": describe.tier_text(measure.kind, lower, ind.get("relaxed_tiers"))
                        if ind.get("relaxed_tiers")
                        else "",
                        "otherwise": _otherwise_text(ind.get("otherwise")),
                        "max": max([p for _t, p in ind.get("tiers", [])] + [0]),
                    }
                )
            dims.append(
                {
                    "key": dim["key"],
                    "label": label_text(dim.get("label")),
                    "rows": rows,
                    "max": sum(r["max"] for r in rows),
                }
            )
        gates = [
            {
                "key": g["key"],
                "label": label_text(g.get("label")),
                "star": g["star"],
                "checks": [
                    describe.check_text(
                        c["check"] if isinstance(c, dict) else c,
                        c.get("params") if isinstance(c, dict) else None,
                        definition,
                    )
                    for c in g.get("checks", [])
                ],
            }
            for g in definition.get("gates", [])
        ]
        others = Rubric.objects.restrict(user, VIEW).filter(retired_at__isnull=True).exclude(pk=rubric.pk)
        has_results = rubric.has_results()
        return render(
            request,
            "rating/rubric_detail.html",
            self.base_context(
                object=rubric,
                dims=dims,
                gates=gates,
                floors=definition.get("star_floors", []),
                relaxed=[
                    str(dict(Industry.choices).get(code, code))
                    for code in definition.get("relaxed_industries", [])
                ],
                has_results=has_results,
                n_ratings=rubric.ratings.count(),
                years=rubric.published_years(),
                others=others,
                can_change=can(user, Rubric, CHANGE) and services.editable_problem(rubric) is None,
                can_copy=can(user, Rubric, ADD),
                can_publish=can(user, Rubric, CHANGE),
                edit_problem=services.editable_problem(rubric),
            ),
        )


class RubricTextForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Rubric (YAML)"),
        widget=forms.Textarea(
            attrs={"rows": 30, "class": "form-control font-monospace", "spellcheck": "false"}
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the change"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class RubricFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Rubric file (.yaml)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".yaml,.yml"}),
    )
    text = forms.CharField(
        label=gettext_lazy("or paste the rubric (YAML)"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 16, "class": "form-control font-monospace", "spellcheck": "false"}
        ),
    )
    publish = forms.BooleanField(
        label=gettext_lazy("Publish it for the years the file lists"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


@login_required
def rubric_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rubric = get_scoped_or_404(Rubric.objects.all(), request.user, CHANGE, pk=pk)
    problem = services.editable_problem(rubric)
    if problem:
        messages.error(request, problem)
        return redirect(rubric.get_absolute_url())
    form = RubricTextForm(request.POST or None, initial={"text": services.rubric_yaml(rubric)})
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            with change_context(user=request.user, reason=form.cleaned_data["reason"]):
                services.update_rubric(rubric, form.cleaned_data["text"], user=request.user)
        except RubricError as exc:
            errors = exc.errors
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("Saved: %(obj)s") % {"obj": rubric})
            return redirect(rubric.get_absolute_url())
    return render(request, "rating/rubric_edit.html", {"form": form, "object": rubric, "errors": errors})


@login_required
def rubric_load(request: HttpRequest) -> HttpResponse:
    if not can(request.user, Rubric, ADD):
        raise Http404
    form = RubricFileForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        text = (
            upload.read().decode("utf-8", errors="replace") if upload else form.cleaned_data.get("text") or ""
        )
        if not text.strip():
            errors = [_("Choose a file or paste the rubric.")]
        else:
            try:
                with change_context(user=request.user):
                    rubric = services.load_rubric(
                        text, user=request.user, publish=form.cleaned_data["publish"]
                    )
            except RubricError as exc:
                errors = exc.errors
            except PermissionDenied:
                raise Http404 from None
            else:
                messages.success(request, _("Loaded: %(obj)s") % {"obj": rubric})
                return redirect(rubric.get_absolute_url())
    return render(request, "rating/rubric_load.html", {"form": form, "errors": errors})


@login_required
@require_POST
def rubric_copy(request: HttpRequest, pk: int) -> HttpResponse:
    if not can(request.user, Rubric, ADD):
        raise Http404
    rubric = get_scoped_or_404(Rubric.objects.all(), request.user, VIEW, pk=pk)
    with change_context(user=request.user):
        copy = services.copy_rubric(rubric, user=request.user)
    messages.success(request, _("New draft %(obj)s copied from %(src)s.") % {"obj": copy, "src": rubric})
    return redirect("rating:rubric_edit", pk=copy.pk)


@login_required
@require_POST
def rubric_publish(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import RubricPublication

    if not can(request.user, RubricPublication, ADD):
        raise Http404
    rubric = get_scoped_or_404(Rubric.objects.all(), request.user, CHANGE, pk=pk)
    year = _year_from(request)
    try:
        with change_context(user=request.user):
            services.publish_rubric(rubric, year, user=request.user)
    except (ValidationError, RubricError) as exc:
        messages.error(
            request, " ".join(getattr(exc, "messages", None) or getattr(exc, "errors", [str(exc)]))
        )
    else:
        messages.success(request, _("%(obj)s is the rubric of %(year)d.") % {"obj": rubric, "year": year})
    return redirect(rubric.get_absolute_url())


@login_required
def rubric_yaml(request: HttpRequest, pk: int) -> HttpResponse:
    rubric = get_scoped_or_404(Rubric.objects.all(), request.user, EXPORT, pk=pk)
    response = HttpResponse(services.rubric_yaml(rubric), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{rubric.code}-v{rubric.version}.yaml"'
    return response


@login_required
def rubric_diff(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, Rubric, VIEW):
        raise Http404
    rubrics = Rubric.objects.restrict(user, VIEW).filter(retired_at__isnull=True)
    left = right = None
    rows: list[dict[str, str]] = []
    try:
        if request.GET.get("a"):
            left = rubrics.get(pk=int(request.GET["a"]))
        if request.GET.get("b"):
            right = rubrics.get(pk=int(request.GET["b"]))
    except (Rubric.DoesNotExist, ValueError):
        raise Http404 from None
    if left is not None and right is not None:
        rows = diff(left.definition, right.definition)
        # compared on the definitions' exact text, shown in words
        words_a, words_b = describe.readable_rows(left.definition), describe.readable_rows(right.definition)
        for row in rows:
            path = row["path"]
            row["label"] = (words_a.get(path) or words_b.get(path) or (path, ""))[0]
            row["left"] = words_a[path][1] if path in words_a else ""
            row["right"] = words_b[path][1] if path in words_b else ""
    only_changes = request.GET.get("all") != "1"
    shown = [r for r in rows if r["status"] != "same"] if only_changes else rows
    return render(
        request,
        "rating/rubric_diff.html",
        {
            "rubrics": rubrics,
            "left": left,
            "right": right,
            "rows": shown,
            "only_changes": only_changes,
            "n_same": sum(1 for r in rows if r["status"] == "same"),
        },
    )


# ---------------------------------------------------------------------------------------------------
# alerts


class AlertDetailView(generic.UIView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        alert = get_scoped_or_404(
            AlertUI()
            .queryset(request.user, VIEW)
            .select_related("rating", "rating__rubric", "acknowledged_by", "resolved_by"),
            request.user,
            VIEW,
            pk=pk,
        )
        can_act = (
            Alert.objects.restrict(request.user, CHANGE).filter(pk=alert.pk).exists()
            and alert.status != Alert.Status.RESOLVED
        )
        reasons = []
        definition = alert.rating.rubric.definition
        gates = {g["key"]: g for g in definition.get("gates", [])}
        for reason in alert.reasons:
            if "gate" in reason:
                spec = gates.get(reason["gate"], {})
                checks = [c if isinstance(c, dict) else {"check": c} for c in spec.get("checks", [])]
                texts = []
                for name in reason.get("checks", []):
                    params = next((c.get("params") for c in checks if c["check"] == name), None)
                    texts.append(describe.check_text(name, params, definition))
                reasons.append(
                    _("Gate %(gate)s (%(label)s) fails: %(checks)s")
                    % {
                        "gate": reason["gate"],
                        "label": label_text(spec.get("label")),
                        "checks": "; ".join(texts),
                    }
                )
            elif "floor" in reason:
                reasons.append(
                    _("The score %(score)s is below the floor %(floor)s of %(star)s stars.") % reason
                )
            elif "flags" in reason:
                reasons.append(
                    _("Detection flags %(flags)s are open: evaluated as if the cooperative were %(status)s.")
                    % {
                        "flags": ", ".join(reason["flags"]),
                        "status": OperatingStatus(reason["assumed_status"]).label,
                    }
                )
        return render(
            request,
            "rating/alert_detail.html",
            self.base_context(object=alert, reasons=reasons, can_act=can_act, parent=alert.cooperative),
        )


@login_required
@require_POST
def alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    from . import monitoring

    alert = get_scoped_or_404(Alert.objects.all(), request.user, CHANGE, pk=pk)
    note = request.POST.get("note", "")[:2000]
    try:
        if action == "acknowledge":
            monitoring.acknowledge(alert, user=request.user, note=note)
        elif action == "resolve":
            monitoring.resolve(alert, user=request.user, note=note)
        else:
            raise Http404
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(alert.get_absolute_url())
