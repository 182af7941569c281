"""Fieldwork pages: flags, cleanup cases and their transitions, detection runs and rule sets.

Every query goes through the scoping chokepoint; an object out of reach, or an action the role lacks,
answers 404 (never 403).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hezuo.core.scoping import ADD, CHANGE, VIEW, can, get_scoped_or_404, restrict
from hezuo.core.services import history_for
from hezuo.registry.models import Cooperative

from . import cleanup
from .forms import make_form
from .models import CleanupCase, DetectionRun, Flag, RuleSet

PER_PAGE = 50


def _need(user: Any, model: type, action: str = VIEW) -> None:
    if not can(user, model, action):
        raise Http404


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))


@login_required
def flag_list(request: HttpRequest) -> HttpResponse:
    _need(request.user, Flag)
    qs = Flag.objects.restrict(request.user, VIEW).filter(retired_at__isnull=True)
    filters = {key: request.GET.get(key, "") for key in ("status", "kind", "rule", "year")}
    if filters["status"] in Flag.Status.values:
        qs = qs.filter(status=filters["status"])
    if filters["kind"] in Flag.Kind.values:
        qs = qs.filter(kind=filters["kind"])
    if filters["rule"]:
        qs = qs.filter(rule=filters["rule"][:10])
    if filters["year"].isdigit():
        qs = qs.filter(year=int(filters["year"]))
    qs = qs.select_related("cooperative", "cooperative__district", "ruleset").order_by(
        "-year", "cooperative__name", "rule"
    )
    return render(
        request,
        "fieldwork/flag_list.html",
        {
            "page": _page(request, qs),
            "filters": filters,
            "statuses": Flag.Status.choices,
            "kinds": Flag.Kind.choices,
        },
    )


def _rule_info(flag: Flag) -> dict[str, Any]:
    return dict((flag.ruleset.rules or {}).get("rules", {}).get(flag.rule) or {})


@login_required
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_scoped_or_404(
        Flag.objects.select_related("cooperative", "ruleset", "case"), request.user, pk=pk
    )
    can_open = (
        flag.status == Flag.Status.OPEN
        and cleanup.role_of(request.user) in cleanup.OPENERS
        and can(request.user, CleanupCase, ADD)
        and Cooperative.objects.restrict(request.user, CHANGE).filter(pk=flag.cooperative_id).exists()
    )
    return render(
        request,
        "fieldwork/flag_detail.html",
        {"object": flag, "rule": _rule_info(flag), "can_open": can_open},
    )


@login_required
@require_POST
def case_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a cleanup case on a cooperative's open flags (pk: the cooperative)."""
    _need(request.user, CleanupCase, ADD)
    coop = get_scoped_or_404(Cooperative, request.user, CHANGE, pk=pk)
    try:
        case = cleanup.open_case(request.user, coop)
    except cleanup.TransitionRefused as exc:
        raise Http404 from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{coop.get_absolute_url()}?tab=cleanup")
    messages.success(request, _("Cleanup case opened."))
    return redirect(case)


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    _need(request.user, CleanupCase)
    qs = CleanupCase.objects.restrict(request.user, VIEW).filter(retired_at__isnull=True)
    status = request.GET.get("status", "")
    if status == "open":
        qs = qs.filter(status__in=cleanup.OPEN_CASE_STATUSES)
    elif status in CleanupCase.Status.values:
        qs = qs.filter(status=status)
    qs = qs.select_related("cooperative", "cooperative__district").order_by("-created_at")
    return render(
        request,
        "fieldwork/case_list.html",
        {"page": _page(request, qs), "status": status, "statuses": CleanupCase.Status.choices},
    )


def _case_context(request: HttpRequest, case: CleanupCase, bound: dict[str, Any] | None = None) -> dict:
    user = request.user
    transitions = cleanup.allowed_transitions(user, case)
    forms = {name: (bound or {}).get(name) or make_form(name, case, user) for name in transitions}
    flags = case.flags.filter(retired_at__isnull=True).select_related("ruleset")
    return {
        "object": case,
        "flags": flags,
        "forms": forms,
        "history": history_for(case)[:50],
        "summary": case.summary(),
        "status_change": _status_change(case),
    }


def _status_change(case: CleanupCase) -> tuple[str, str]:
    from hezuo.registry.choices import OperatingStatus

    change = case.summary().get("operating_status") or {}
    labels = dict(OperatingStatus.choices)
    return (
        str(labels.get(change.get("before"), change.get("before") or "")),
        str(labels.get(change.get("after"), change.get("after") or "")),
    )


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_scoped_or_404(CleanupCase.objects.select_related("cooperative"), request.user, pk=pk)
    return render(request, "fieldwork/case_detail.html", _case_context(request, case))


@login_required
@require_POST
def case_transition(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    if transition not in cleanup.TRANSITIONS:
        raise Http404
    case = get_scoped_or_404(CleanupCase.objects.select_related("cooperative"), request.user, CHANGE, pk=pk)
    if not cleanup.may(request.user, transition):
        raise Http404
    form = make_form(transition, case, request.user, request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        kwargs: dict[str, Any]
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
        fn = getattr(cleanup, transition)
        try:
            fn(case, request.user, **kwargs)
        except (cleanup.TransitionRefused, PermissionDenied) as exc:
            raise Http404 from exc
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    target = field if field in form.fields else None
                    if field == "action_reason":
                        target = "reason"
                    elif field in ("verification_note",):
                        target = "note"
                    elif field == "clear_reason":
                        target = "reason"
                    for error in errors:
                        form.add_error(target if target in form.fields else None, error)
            else:
                form.add_error(None, " ".join(exc.messages))
        else:
            messages.success(request, _("Done."))
            return redirect(case)
    if transition not in cleanup.allowed_transitions(request.user, case):
        for error in form.non_field_errors():
            messages.error(request, error)
    case.refresh_from_db()
    context = _case_context(request, case, {transition: form})
    context["failed"] = transition
    return render(request, "fieldwork/case_detail.html", context, status=400)


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    _need(request.user, DetectionRun)
    runs = DetectionRun.objects.restrict(request.user, VIEW).select_related("ruleset", "district")
    rulesets = RuleSet.objects.restrict(request.user, VIEW).filter(retired_at__isnull=True)
    return render(
        request,
        "fieldwork/run_list.html",
        {
            "page": _page(request, runs.order_by("-created_at")),
            "rulesets": rulesets,
            "can_run": can(request.user, DetectionRun, ADD) and cleanup.role_of(request.user) == "city",
        },
    )


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    """City staff start a detection run; it runs as a background task."""
    if not can(request.user, DetectionRun, ADD) or cleanup.role_of(request.user) != "city":
        raise Http404
    from .runs import start_run
    from .tasks import detect_task

    year = request.POST.get("year", "")
    run = start_run(year=int(year) if year.isdigit() and 1990 <= int(year) <= 2100 else None)
    detect_task.enqueue(run.pk)
    messages.success(request, _("Detection run started."))
    return redirect("fieldwork:run_list")


@login_required
def ruleset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_scoped_or_404(RuleSet, request.user, pk=pk)
    rules = sorted((ruleset.rules or {}).get("rules", {}).items())
    return render(request, "fieldwork/ruleset_detail.html", {"object": ruleset, "rules": rules})


def cooperative_tab_context(user: Any, cooperative: Cooperative) -> dict[str, Any]:
    """Context of the cleanup tab of a cooperative's page (templates/fieldwork/coop_tab.html)."""
    flags = (
        restrict(Flag.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW)
        .select_related("ruleset")
        .order_by("-year", "rule")
    )
    cases = restrict(
        CleanupCase.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW
    ).order_by("-created_at")
    has_open_case = any(c.is_open for c in cases)
    from .models import Visit

    visits = restrict(Visit.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW)
    can_open = (
        not has_open_case
        and any(f.status == Flag.Status.OPEN for f in flags)
        and cleanup.role_of(user) in cleanup.OPENERS
        and can(user, CleanupCase, ADD)
        and Cooperative.objects.restrict(user, CHANGE).filter(pk=cooperative.pk).exists()
    )
    return {
        "fieldwork_flags": list(flags),
        "fieldwork_cases": list(cases),
        "fieldwork_can_open": can_open,
        "fieldwork_visible": can(user, Flag, VIEW),
        "fieldwork_visits": list(visits.select_related("visitor")[:20]),
        "fieldwork_can_visit": _may_add_visit(user, cooperative),
    }


# visits -----------------------------------------------------------------------------------------------
def _may_add_visit(user: Any, cooperative: Cooperative) -> bool:
    from .models import Visit

    return (
        can(user, Visit, ADD) and Cooperative.objects.restrict(user, VIEW).filter(pk=cooperative.pk).exists()
    )


@login_required
def visit_add(request: HttpRequest, pk: int) -> HttpResponse:
    """The phone form: a visit to a cooperative (pk: the cooperative)."""
    from django.db import transaction
    from django.utils import timezone

    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    from .forms import VisitForm
    from .models import Visit

    if not can(request.user, Visit, ADD):
        raise Http404
    coop = get_scoped_or_404(Cooperative, request.user, VIEW, pk=pk)
    if not _may_add_visit(request.user, coop):
        raise Http404
    form = VisitForm(request.POST or None, request.FILES or None, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        visit = Visit(cooperative=coop, visitor=request.user, **form.visit_values())
        photo = form.cleaned_data.get("photo")
        try:
            with transaction.atomic(), change_context(user=request.user):
                if photo:
                    visit.photo.save(photo.name, photo, save=False)
                save_record(visit)
        except ValidationError as exc:
            if visit.photo:
                visit.photo.delete(save=False)  # nothing is partly written
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        except PermissionDenied as exc:
            if visit.photo:
                visit.photo.delete(save=False)
            raise Http404 from exc
        else:
            messages.success(request, _("Visit recorded."))
            return redirect(visit)
    status = 400 if request.method == "POST" else 200
    return render(request, "fieldwork/visit_form.html", {"form": form, "cooperative": coop}, status=status)


@login_required
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import Visit

    visit = get_scoped_or_404(Visit.objects.select_related("cooperative", "visitor"), request.user, pk=pk)
    checklist = [(Visit._meta.get_field(name).verbose_name, getattr(visit, name)) for name in Visit.CHECKLIST]
    return render(request, "fieldwork/visit_detail.html", {"object": visit, "checklist": checklist})


@login_required
def visit_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """A visit's photo, served only to those who reach the visit."""
    from django.http import FileResponse

    from .models import Visit

    visit = get_scoped_or_404(Visit, request.user, pk=pk)
    if not visit.photo:
        raise Http404
    try:
        handle = visit.photo.open("rb")
    except OSError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def visit_interval_days() -> int:
    from django.conf import settings

    return int(getattr(settings, "HEZUO_VISIT_INTERVAL_DAYS", 90))


@login_required
def my_cooperatives(request: HttpRequest) -> HttpResponse:
    """A counselor's home: their cooperatives, the last visit of each, and the visits due."""
    import datetime as dt

    from django.db.models import Count, Max, Q
    from django.utils import timezone

    from hezuo.accounts.models import CounselorAssignment

    from .models import Visit

    if cleanup.role_of(request.user) != "counselor":
        raise Http404
    today = timezone.localdate()
    interval = visit_interval_days()
    assigned = CounselorAssignment.objects.current().filter(counselor=request.user).values("cooperative_id")
    coops = (
        Cooperative.objects.restrict(request.user, VIEW)
        .filter(pk__in=assigned, retired_at__isnull=True)
        .annotate(
            last_visit=Max("visits__date", filter=Q(visits__retired_at__isnull=True)),
            open_flags=Count(
                "flags",
                filter=Q(flags__status=Flag.Status.OPEN, flags__retired_at__isnull=True),
                distinct=True,
            ),
        )
        .select_related("town")
        .order_by("name")
    )
    rows = []
    for coop in coops:
        due = (coop.last_visit + dt.timedelta(days=interval)) if coop.last_visit else today
        rows.append({"coop": coop, "due": due, "overdue": due < today, "due_now": due <= today})
    rows.sort(key=lambda r: (not r["due_now"], r["due"], r["coop"].name))
    recent = (
        Visit.objects.restrict(request.user, VIEW)
        .filter(visitor=request.user)
        .select_related("cooperative")[:10]
    )
    return render(
        request,
        "fieldwork/my_cooperatives.html",
        {"rows": rows, "due_count": sum(r["due_now"] for r in rows), "interval": interval, "recent": recent},
    )


@login_required
def workload(request: HttpRequest) -> HttpResponse:
    """Per counselor (of the user's district, or the whole city): cooperatives, recent visits, visits due."""
    import datetime as dt
    from collections import defaultdict

    from django.db.models import Count, Max
    from django.utils import timezone

    from hezuo.accounts.models import CounselorAssignment

    from .models import Visit

    user = request.user
    if not (can(user, CounselorAssignment, VIEW) and can(user, Visit, VIEW)):
        raise Http404
    today = timezone.localdate()
    interval = visit_interval_days()
    since = today - dt.timedelta(days=interval)
    assignments = (
        CounselorAssignment.objects.restrict(user, VIEW)
        .current()
        .filter(cooperative__retired_at__isnull=True)
        .select_related("counselor", "cooperative__district")
    )
    district = request.GET.get("district", "")
    if district.isdigit():
        assignments = assignments.filter(cooperative__district__code=district)
    by_counselor: dict[int, dict[str, Any]] = {}
    coop_ids: set[int] = set()
    for a in assignments:
        row = by_counselor.setdefault(
            a.counselor_id, {"counselor": a.counselor, "coops": set(), "districts": set()}
        )
        row["coops"].add(a.cooperative_id)
        row["districts"].add(a.cooperative.district.name)
        coop_ids.add(a.cooperative_id)
    visits = Visit.objects.restrict(user, VIEW).filter(retired_at__isnull=True, cooperative_id__in=coop_ids)
    last = dict(
        visits.values("cooperative_id").annotate(last=Max("date")).values_list("cooperative_id", "last")
    )
    recent: dict[int, int] = defaultdict(int)
    for visitor_id, n in (
        visits.filter(date__gte=since, visitor_id__in=list(by_counselor))
        .values("visitor_id")
        .annotate(n=Count("id"))
        .values_list("visitor_id", "n")
    ):
        recent[visitor_id] = n
    flagged = set(
        Flag.objects.restrict(user, VIEW)
        .filter(cooperative_id__in=coop_ids, status=Flag.Status.OPEN, retired_at__isnull=True)
        .values_list("cooperative_id", flat=True)
    )
    rows = []
    for counselor_id, row in by_counselor.items():
        coops = row["coops"]
        rows.append(
            {
                "counselor": row["counselor"],
                "districts": "、".join(sorted(row["districts"])),
                "cooperatives": len(coops),
                "visits": recent[counselor_id],
                "due": sum(1 for c in coops if last.get(c) is None or last[c] < since),
                "flagged": len(coops & flagged),
            }
        )
    rows.sort(key=lambda r: (-r["due"], str(r["counselor"])))
    return render(
        request, "fieldwork/workload.html", {"rows": rows, "interval": interval, "district": district}
    )
