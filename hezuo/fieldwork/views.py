"""Fieldwork pages: flags, cleanup cases and their transitions, detection runs and rule sets.

Every query goes through the scoping chokepoint; an object out of reach, or an action the role lacks,
answers 404 (never 403).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, models
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hezuo.core.scoping import ADD, CHANGE, VIEW, can, get_scoped_or_404, restrict
from hezuo.core.services import history_for
from hezuo.core.text import join_words
from hezuo.core.years import is_fiscal_year
from hezuo.registry.models import Cooperative

from . import cleanup
from .forms import make_form
from .models import CleanupCase, DetectionRun, Flag, RuleSet
from .timeline import timeline_for

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from hezuo.accounts.models import AssignmentQuerySet, User

PER_PAGE = 50


def _need(user: Any, model: type, action: str = VIEW) -> None:
    if not can(user, model, action):
        raise Http404


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind login_required)."""
    return cast("User", request.user)


def _verbose_name(model: type[models.Model], name: str) -> StrOrPromise:
    """The verbose name of a model's concrete field."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.verbose_name


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
    labels: dict[Any, Any] = dict(OperatingStatus.choices)  # keys: the JSON values of the summary
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
    # a case out of reach: 404 (nothing revealed); one the user sees but may not move: 403 with the reason
    case = get_scoped_or_404(CleanupCase.objects.select_related("cooperative"), request.user, VIEW, pk=pk)
    refused = cleanup.refusal(request.user, transition, case)
    if refused:
        raise PermissionDenied(refused)
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
        for message in form.non_field_errors():
            messages.error(request, str(message))
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
    run = start_run(year=int(year) if year.isdigit() and is_fiscal_year(int(year)) else None)
    detect_task.enqueue(run.pk)
    messages.success(request, _("Detection run started."))
    return redirect("fieldwork:run_list")


@login_required
def ruleset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from . import rulesets, suspicion

    ruleset = get_scoped_or_404(RuleSet, request.user, pk=pk)
    rules = sorted((ruleset.rules or {}).get("rules", {}).items())
    context = {
        "object": ruleset,
        "rules": rules,
        "can_manage": rulesets.may_manage(request.user),
        "runs": DetectionRun.objects.filter(ruleset=ruleset).count(),
        "suspicion": suspicion.of_ruleset(ruleset).as_data(),
        "history": history_for(ruleset)[:20],
    }
    return render(request, "fieldwork/ruleset_detail.html", context)


@login_required
def ruleset_list(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count

    from . import rulesets

    _need(request.user, RuleSet)
    versions = (
        restrict(RuleSet.objects.all(), request.user, VIEW)
        .annotate(run_count=Count("detectionrun", distinct=True))
        .order_by("-is_active", "-created_at")
    )
    context = {"versions": versions, "can_manage": rulesets.may_manage(request.user)}
    return render(request, "fieldwork/ruleset_list.html", context)


def _ruleset_form(request: HttpRequest, initial_text: str, source: Any = None) -> HttpResponse:
    """Load a new version (a YAML file or the text), or save an edited copy of `source`."""
    from . import rulesets
    from .forms import RuleSetForm

    if not rulesets.may_manage(request.user):
        raise Http404
    form = RuleSetForm(request.POST or None, request.FILES or None, initial={"document": initial_text})
    if request.method == "POST" and form.is_valid():
        try:
            document = rulesets.parse_document(form.document_text())
            ruleset = rulesets.create_ruleset(
                request.user,
                document,
                activate=form.cleaned_data["activate"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error("document", f"{field}: {error}" if field != "document" else error)
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(request, _("Rule set %(version)s stored.") % {"version": ruleset.version})
            return redirect("fieldwork:ruleset_detail", pk=ruleset.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "source": source}
    return render(request, "fieldwork/ruleset_form.html", context, status=status)


@login_required
def ruleset_load(request: HttpRequest) -> HttpResponse:
    return _ruleset_form(request, "")


@login_required
def ruleset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A new version from a stored one, rule by rule (each rule on or off, its parameters), as a form."""
    from . import rulesets
    from .forms import RuleSetRulesForm

    source = get_scoped_or_404(RuleSet, request.user, pk=pk)
    if not rulesets.may_manage(request.user):
        raise Http404
    form = RuleSetRulesForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            document = rulesets.edited_document(
                source, form.cleaned_data["version"].strip(), form.cleaned_data["name"], form.settings()
            )
            ruleset = rulesets.create_ruleset(
                request.user,
                document,
                activate=form.cleaned_data["activate"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error("version" if field == "version" else None, error)
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(request, _("Rule set %(version)s stored.") % {"version": ruleset.version})
            return redirect("fieldwork:ruleset_detail", pk=ruleset.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "source": source}
    return render(request, "fieldwork/ruleset_rules_form.html", context, status=status)


@login_required
def ruleset_copy(request: HttpRequest, pk: int) -> HttpResponse:
    """A new version from a stored one: its document, to edit (with a new version label)."""
    from . import rulesets

    source = get_scoped_or_404(RuleSet, request.user, pk=pk)
    text = rulesets.as_document(source).replace(
        f"version: {source.version}", f"version: {source.version}-{_('copy')}", 1
    )
    return _ruleset_form(request, text, source)


@require_POST
@login_required
def ruleset_activate(request: HttpRequest, pk: int) -> HttpResponse:
    from . import rulesets

    ruleset = get_scoped_or_404(RuleSet, request.user, pk=pk)
    if not rulesets.may_manage(request.user):
        raise Http404
    try:
        rulesets.activate_ruleset(request.user, ruleset, reason=request.POST.get("reason", "")[:500])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Rule set %(version)s is active.") % {"version": ruleset.version})
    return redirect("fieldwork:ruleset_detail", pk=ruleset.pk)


@login_required
def ruleset_yaml(request: HttpRequest, pk: int) -> HttpResponse:
    from . import rulesets

    ruleset = get_scoped_or_404(RuleSet, request.user, pk=pk)
    response = HttpResponse(rulesets.as_document(ruleset), content_type="application/x-yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ruleset.version}.yaml"'
    return response


@login_required
def ruleset_diff(request: HttpRequest) -> HttpResponse:
    from . import rulesets

    _need(request.user, RuleSet)
    versions = list(restrict(RuleSet.objects.all(), request.user, VIEW).order_by("-created_at"))
    by_pk = {str(v.pk): v for v in versions}
    a, b = by_pk.get(request.GET.get("a", "")), by_pk.get(request.GET.get("b", ""))
    rows = rulesets.diff(a, b) if a is not None and b is not None else []
    context = {"versions": versions, "a": a, "b": b, "rows": [r for r in rows if r["changes"]]}
    return render(request, "fieldwork/ruleset_diff.html", context)


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
        "fieldwork_timeline": timeline_for(user, cooperative),
        "fieldwork_can_note": _may_add_note(user, cooperative),
    }


# visits -----------------------------------------------------------------------------------------------
def _visit_campaigns(user: Any, cooperative: Cooperative) -> Any:
    """The campaigns a visit to this cooperative may be made for: those that list it among their targets
    (in the user's reach) and have started."""
    from django.utils import timezone

    from .models import Campaign, CampaignTarget

    targets = restrict(
        CampaignTarget.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW
    )
    return Campaign.objects.filter(
        pk__in=targets.values("campaign_id"), retired_at__isnull=True, start_date__lte=timezone.localdate()
    ).order_by("-start_date")


def _may_add_visit(user: Any, cooperative: Cooperative) -> bool:
    from .models import Visit

    return (
        can(user, Visit, ADD) and Cooperative.objects.restrict(user, VIEW).filter(pk=cooperative.pk).exists()
    )


@login_required
def visit_add(request: HttpRequest, pk: int) -> HttpResponse:
    """The phone form: a visit to a cooperative (pk: the cooperative)."""
    from django.utils import timezone

    from .forms import VisitForm
    from .models import Visit

    if not can(request.user, Visit, ADD):
        raise Http404
    coop = get_scoped_or_404(Cooperative, request.user, VIEW, pk=pk)
    if not _may_add_visit(request.user, coop):
        raise Http404
    initial: dict[str, Any] = {"date": timezone.localdate(), "client_token": uuid.uuid4()}
    if request.GET.get("campaign", "").isdigit():
        initial["campaign"] = int(request.GET["campaign"])
    form = VisitForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        campaigns=_visit_campaigns(request.user, coop),
    )
    if request.method == "POST" and form.is_valid():
        from .visits import record_visit, sent_before

        token = form.cleaned_data.get("client_token")
        earlier = sent_before(request.user, coop, token)
        if earlier is not None:  # the same visit sent again (a lost reply, the offline queue): saved once
            messages.info(request, _("This visit was saved already."))
            return redirect(earlier)
        try:
            visit = record_visit(
                _user(request),
                coop,
                form.visit_values(),
                form.cleaned_data.get("photos") or [],
                reason=form.cleaned_data["reason"],
            )
        except IntegrityError:
            earlier = sent_before(request.user, coop, token)
            if earlier is None:
                raise
            messages.info(request, _("This visit was saved already."))  # sent twice at the same moment
            return redirect(earlier)
        except ValidationError as exc:
            _form_errors(form, exc, {})
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(request, _("Visit recorded."))
            return redirect(visit)
    status = 400 if request.method == "POST" else 200
    from .forms import PHOTOS_PER_VISIT

    context = {"form": form, "cooperative": coop, "photos_per_visit": PHOTOS_PER_VISIT}
    return render(request, "fieldwork/visit_form.html", context, status=status)


@login_required
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import Visit

    visit = get_scoped_or_404(Visit.objects.select_related("cooperative", "visitor"), request.user, pk=pk)
    checklist = [(_verbose_name(Visit, name), getattr(visit, name)) for name in Visit.CHECKLIST]
    photos = visit.photos.filter(retired_at__isnull=True).order_by("position", "pk")
    return render(
        request,
        "fieldwork/visit_detail.html",
        {"object": visit, "checklist": checklist, "photos": list(photos)},
    )


@login_required
def visit_photo(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A visit's photo (`?n=`: its position, the first by default), served only to those who reach the
    visit."""
    from django.http import FileResponse

    from .models import Visit

    visit = get_scoped_or_404(Visit, request.user, pk=pk)
    position = request.GET.get("n", "0")
    photo = (
        visit.photos.filter(retired_at__isnull=True, position=int(position)).order_by("pk").first()
        if position.isdigit() and len(position) < 4
        else None
    )
    if photo is None or not photo.image:
        raise Http404
    try:
        handle = photo.image.open("rb")
    except OSError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def visit_interval_days() -> int:
    from .reminders import visit_interval_days as interval

    return interval()


@login_required
def my_cooperatives(request: HttpRequest) -> HttpResponse:
    """A counselor's home: their cooperatives, the last visit of each, the visits due, and the open work other
    apps register (rectification tasks they own, rating alerts on their cooperatives: fieldwork.worklist)."""

    from django.db.models import Count, Max, Q
    from django.utils import timezone

    from hezuo.accounts.models import CounselorAssignment

    from .models import Visit

    if cleanup.role_of(request.user) != "counselor":
        raise Http404
    from django.db.models import Min, OuterRef, Subquery

    from .campaigns import pending_targets, target_status
    from .reminders import campaign_reminder_days, due_date

    today = timezone.localdate()
    interval = visit_interval_days()
    mine = CounselorAssignment.objects.current(today).filter(counselor=_user(request))
    assigned = mine.values("cooperative_id")
    since = (
        mine.filter(cooperative_id=OuterRef("pk"))
        .order_by()
        .values("cooperative_id")
        .annotate(d=Min("start_date"))
        .values("d")[:1]
    )
    coops = (
        Cooperative.objects.restrict(request.user, VIEW)
        .filter(pk__in=assigned, retired_at__isnull=True)
        .annotate(
            since=Subquery(since),
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
    rows: list[dict[str, Any]] = []
    for coop in coops:
        due = due_date(coop.last_visit, coop.since, interval) or today
        rows.append({"coop": coop, "due": due, "overdue": due < today, "due_now": due <= today})
    rows.sort(key=lambda r: (not r["due_now"], r["due"], r["coop"].name))
    recent = (
        Visit.objects.restrict(request.user, VIEW)
        .filter(visitor=_user(request))
        .select_related("cooperative")[:10]
    )
    from .worklist import sections

    campaign_rows = [
        {"target": t, "status": target_status(None, t.end, today)}
        for t in pending_targets(request.user, today, window_days=campaign_reminder_days())
        .select_related("campaign", "cooperative")
        .order_by("campaign__end_date", "cooperative__name", "pk")[:200]
    ]
    return render(
        request,
        "fieldwork/my_cooperatives.html",
        {
            "rows": rows,
            "due_count": sum(r["due_now"] for r in rows),
            "interval": interval,
            "recent": recent,
            "campaign_rows": campaign_rows,
            "work": sections(request.user, today),
            "today": today,
        },
    )


WORKLOAD_ROLES = frozenset({"city", "district", "viewer"})


@login_required
def workload(request: HttpRequest) -> HttpResponse:
    """Per counselor (of the user's district, or the whole city): cooperatives, recent visits, visits due,
    cooperatives with open flags, and open tasks (fieldwork.worklist's counters, e.g. rectification tasks)."""
    import datetime as dt
    from collections import defaultdict

    from django.db.models import Count, Max
    from django.utils import timezone

    from hezuo.accounts.models import CounselorAssignment

    from .models import Visit
    from .reminders import due_date, is_overdue

    user = request.user
    # staff and read-only leaders; counselors follow their own work on their home
    if cleanup.role_of(user) not in WORKLOAD_ROLES or not (
        can(user, CounselorAssignment, VIEW) and can(user, Visit, VIEW)
    ):
        raise Http404
    today = timezone.localdate()
    interval = visit_interval_days()
    since = today - dt.timedelta(days=interval)
    # restrict() returns a queryset of the same class (ScopedQuerySet.restrict is typed as the base class)
    assignments = (
        cast("AssignmentQuerySet", CounselorAssignment.objects.restrict(user, VIEW))
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
            a.counselor_id, {"counselor": a.counselor, "coops": {}, "districts": set()}
        )
        row["coops"][a.cooperative_id] = a.start_date  # due from the assignment's start until first visited
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
    from .worklist import open_per_owner

    open_tasks = open_per_owner(user, by_counselor)
    rows = []
    for counselor_id, row in by_counselor.items():
        coops = row["coops"]
        rows.append(
            {
                "counselor": row["counselor"],
                "districts": join_words(sorted(row["districts"])),
                "cooperatives": len(coops),
                "visits": recent[counselor_id],
                # the same rule as the reminders: due `interval` days after the last visit or the assignment
                "due": sum(
                    1
                    for c, start in coops.items()
                    if is_overdue(due_date(last.get(c), start, interval), today)
                ),
                "flagged": len(coops.keys() & flagged),
                "open_tasks": open_tasks.get(counselor_id, 0),
            }
        )
    rows.sort(key=lambda r: (-r["due"], str(r["counselor"])))
    return render(
        request, "fieldwork/workload.html", {"rows": rows, "interval": interval, "district": district}
    )


# campaigns --------------------------------------------------------------------------------------------
CAMPAIGN_PHASES = ("planned", "running", "ended")


def _campaign_phase(campaign: Any, today: Any) -> str:
    if campaign.start_date > today:
        return "planned"
    return "running" if campaign.end_date >= today else "ended"


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    from django.utils import timezone

    from .campaigns import may_open, overview
    from .models import Campaign

    _need(request.user, Campaign)
    today = timezone.localdate()
    qs = (
        Campaign.objects.restrict(request.user, VIEW)
        .filter(retired_at__isnull=True)
        .select_related("district")
        .order_by("-start_date", "-pk")
    )
    phase = request.GET.get("phase", "")
    if phase == "planned":
        qs = qs.filter(start_date__gt=today)
    elif phase == "running":
        qs = qs.filter(start_date__lte=today, end_date__gte=today)
    elif phase == "ended":
        qs = qs.filter(end_date__lt=today)
    page = _page(request, qs)
    stats = overview(page.object_list, request.user)
    rows = []
    for campaign in page.object_list:
        n, visited = stats.get(campaign.pk, (0, 0))
        rows.append(
            {
                "campaign": campaign,
                "phase": _campaign_phase(campaign, today),
                "targets": n,
                "visited": visited,
                "share": round(100 * visited / n, 1) if n else None,
            }
        )
    return render(
        request,
        "fieldwork/campaign_list.html",
        {"page": page, "rows": rows, "phase": phase, "can_open": may_open(request.user)},
    )


def _form_errors(form: Any, exc: ValidationError, aliases: dict[str, str]) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, " ".join(exc.messages))
        return
    for field, errors in exc.message_dict.items():
        target = aliases.get(field, field)
        for error in errors:
            form.add_error(target if target in form.fields else None, error)


@login_required
def campaign_add(request: HttpRequest) -> HttpResponse:
    from .campaigns import may_open, open_campaign
    from .forms import CampaignForm

    if not may_open(request.user):
        raise Http404
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid() and request.POST.get("preview"):
        from .campaigns import RuleError, preview_count

        data = form.cleaned_data
        try:
            count = preview_count(request.user, form.rule(), data["district"], data["start_date"])
        except RuleError as exc:
            form.add_error("links", exc)
        else:
            return render(request, "fieldwork/campaign_form.html", {"form": form, "preview": count})
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = open_campaign(
                request.user,
                name=data["name"],
                district=data["district"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                rule=form.rule(),
                note=data["note"],
                reason=data["reason"],
            )
        except cleanup.TransitionRefused as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _form_errors(form, exc, {"rule": "links"})
        else:
            messages.success(
                request,
                _("Campaign opened with %(n)s cooperatives.") % {"n": campaign.target_count},
            )
            return redirect(campaign)
    status = 400 if request.method == "POST" else 200
    return render(request, "fieldwork/campaign_form.html", {"form": form}, status=status)


def _managed_campaign(request: HttpRequest, pk: int, action: str) -> Any:
    """The campaign if the user may change or cancel it; 404 otherwise (out of reach or not theirs)."""
    from .campaigns import may_manage
    from .models import Campaign

    campaign = get_scoped_or_404(Campaign.objects.select_related("district"), request.user, pk=pk)
    if not may_manage(request.user, campaign, action):
        raise Http404
    return campaign


@login_required
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    from .campaigns import change_campaign
    from .forms import CampaignChangeForm

    campaign = _managed_campaign(request, pk, CHANGE)
    initial = {"name": campaign.name, "end_date": campaign.end_date, "note": campaign.note}
    form = CampaignChangeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            change_campaign(
                request.user,
                campaign,
                name=data["name"],
                end_date=data["end_date"],
                note=data["note"],
                reason=data["reason"],
            )
        except cleanup.TransitionRefused as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _form_errors(form, exc, {})
        else:
            messages.success(request, _("Campaign changed."))
            return redirect(campaign)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "object": campaign, "mode": "edit"}
    return render(request, "fieldwork/campaign_change.html", context, status=status)


@login_required
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    from hezuo.core.scoping import RETIRE

    from .campaigns import cancel_campaign
    from .forms import CampaignCancelForm

    campaign = _managed_campaign(request, pk, RETIRE)
    form = CampaignCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cancel_campaign(request.user, campaign, reason=form.cleaned_data["reason"])
        except cleanup.TransitionRefused as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _form_errors(form, exc, {})
        else:
            messages.success(request, _("Campaign cancelled."))
            return redirect("fieldwork:campaign_list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "object": campaign, "mode": "cancel"}
    return render(request, "fieldwork/campaign_change.html", context, status=status)


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from django.utils import timezone

    from hezuo.core.scoping import RETIRE

    from .campaigns import may_manage, progress, whole_reach
    from .models import Campaign

    campaign = get_scoped_or_404(
        Campaign.objects.select_related("district", "opened_by"), request.user, pk=pk
    )
    today = timezone.localdate()
    return render(
        request,
        "fieldwork/campaign_detail.html",
        {
            "object": campaign,
            "phase": _campaign_phase(campaign, today),
            "progress": progress(campaign, request.user, today),
            "whole": whole_reach(request.user, campaign),
            "history": history_for(campaign).filter(content_type__model="campaign")[:20],
            "can_export": _may_export(request.user, campaign),
            "can_change": may_manage(request.user, campaign, CHANGE),
            "can_cancel": may_manage(request.user, campaign, RETIRE),
        },
    )


def _may_export(user: Any, campaign: Any) -> bool:
    from .models import Campaign, CampaignTarget

    return (
        can(user, CampaignTarget, "export")
        and restrict(Campaign.objects.filter(pk=campaign.pk), user, "export").exists()
    )


def _drilldown_args(request: HttpRequest) -> dict[str, str]:
    return {
        "district": request.GET.get("district", "")[:12],
        "counselor": request.GET.get("counselor", "")[:12],
        "status": request.GET.get("status", "")[:10],
    }


@login_required
def campaign_targets(request: HttpRequest, pk: int) -> HttpResponse:
    """The cooperatives behind a number of the progress table (district, counselor, status)."""
    from django.utils import timezone

    from .campaigns import STATUS_LABELS, drilldown, target_status
    from .models import Campaign

    campaign = get_scoped_or_404(Campaign, request.user, pk=pk)
    today = timezone.localdate()
    args = _drilldown_args(request)
    page = _page(request, drilldown(campaign, request.user, today=today, **args))
    from hezuo.accounts.models import User

    counselors = {
        u.pk: u for u in User.objects.filter(pk__in=[t.counselor_id_on for t in page if t.counselor_id_on])
    }
    rows = [
        {
            "target": t,
            "status": target_status(t.visited_on, campaign.end_date, today),
            "counselor": counselors.get(t.counselor_id_on),
        }
        for t in page
    ]
    return render(
        request,
        "fieldwork/campaign_targets.html",
        {
            "object": campaign,
            "page": page,
            "rows": rows,
            "args": args,
            "statuses": list(STATUS_LABELS.items()),
            "status_labels": STATUS_LABELS,
            "can_export": _may_export(request.user, campaign),
        },
    )


@login_required
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The drill-down list as an Excel file (the same selection, bounded to what the user may export)."""
    from io import BytesIO

    from django.conf import settings
    from django.utils import timezone
    from openpyxl import Workbook

    from hezuo.accounts.models import User

    from .campaigns import STATUS_LABELS, drilldown, target_status
    from .models import Campaign, CampaignTarget

    if not can(request.user, CampaignTarget, "export"):
        raise Http404
    campaign = get_scoped_or_404(Campaign, request.user, "export", pk=pk)
    today = timezone.localdate()
    qs = drilldown(campaign, request.user, today=today, **_drilldown_args(request))
    limit = int(getattr(settings, "HEZUO_EXPORT_MAX_ROWS", 200000))
    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(_("Cooperatives"))[:31])
    sheet.append(
        [
            str(_("District")),
            str(_("Cooperative")),
            str(_("Unified social credit code")),
            str(_("Town")),
            str(_("Counselor")),
            str(_("Status")),
            str(_("Visited on")),
        ]
    )
    # the counselors' names in one query (not one per counselor met in the rows)
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=qs.values("counselor_id_on"))}
    for target in qs[:limit].iterator(chunk_size=2000):
        counselor = target.counselor_id_on
        coop = target.cooperative
        sheet.append(
            [
                coop.district.name,
                coop.name,
                coop.credit_code,
                coop.town.name if coop.town_id else "",
                names.get(counselor, "") if counselor else "",
                str(STATUS_LABELS[target_status(target.visited_on, campaign.end_date, today)]),
                target.visited_on.isoformat() if target.visited_on else "",
            ]
        )
    out = BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-{today:%Y%m%d}.xlsx"'
    return response


# the contact log --------------------------------------------------------------------------------------
def _may_add_note(user: Any, cooperative: Cooperative) -> bool:
    from .models import ContactNote

    return (
        can(user, ContactNote, ADD)
        and restrict(Cooperative.objects.filter(pk=cooperative.pk), user, VIEW).exists()
    )


@login_required
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    """A note in a cooperative's contact log (pk: the cooperative): district or city staff, or a counselor
    assigned to it."""
    from django.utils import timezone

    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    from .forms import ContactNoteForm
    from .models import ContactNote

    if not can(request.user, ContactNote, ADD):
        raise Http404
    coop = get_scoped_or_404(Cooperative, request.user, VIEW, pk=pk)
    if not _may_add_note(request.user, coop):
        raise Http404
    form = ContactNoteForm(request.POST or None, initial={"date": timezone.localdate(), "kind": "call"})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason", "")
        note = ContactNote(cooperative=coop, author=_user(request), **data)
        try:
            with change_context(user=request.user, reason=reason):
                save_record(note)
        except PermissionDenied as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _form_errors(form, exc, {})
        else:
            messages.success(request, _("Note added to the contact log."))
            return redirect(f"{coop.get_absolute_url()}?tab=cleanup")
    status = 400 if request.method == "POST" else 200
    return render(request, "fieldwork/contact_form.html", {"form": form, "cooperative": coop}, status=status)
