"""Rectification pages: the case list (filters, export), a case with its items, tasks, assistance and
transitions, the open-case form, the item, task and assistance forms (usable on a 360-px phone), the
checklist, and the cooperative page's list of cases.

Every query goes through the scoping chokepoint; an object out of reach, or an action the role lacks,
answers 404 (never 403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hezuo.core.export import write_xlsx, xlsx_response
from hezuo.core.filters import districts_of
from hezuo.core.scoping import EXPORT, VIEW, can, get_scoped_or_404, restrict
from hezuo.core.services import history_for
from hezuo.geo.models import Division
from hezuo.rating.describe import field_label
from hezuo.registry.models import Cooperative

from . import rectification as rx
from .forms import TRANSITION_FORMS, AssistanceForm, OpenCaseForm, OutcomeForm, TaskForm
from .models import (
    ACTIVE_STATUSES,
    Checklist,
    RectificationCase,
    RectificationItem,
    RectificationTask,
    SpecialAssistance,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PER_PAGE = 50


def _need(user: Any, model: type, action: str = VIEW) -> None:
    if not can(user, model, action):
        raise Http404


def _verbose_name(model: type[models.Model], name: str) -> StrOrPromise:
    """The verbose name of a model's concrete field (FieldDoesNotExist if there is no such field)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.verbose_name


def _apply_errors(form: Any, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form, each message on the field it names."""
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = aliases.get(field, field)
            for error in errors:
                form.add_error(target if target in form.fields else None, error)
    else:
        form.add_error(None, " ".join(exc.messages))


# ---------------------------------------------------------------------------------------------------------
# the list and its export
def filtered_cases(request: HttpRequest, action: str = VIEW) -> tuple[QuerySet[Any], dict[str, str]]:
    today = timezone.localdate()
    qs: QuerySet[RectificationCase] = RectificationCase.objects.restrict(request.user, action).filter(
        retired_at__isnull=True
    )
    filters = {key: request.GET.get(key, "") for key in ("district", "status", "overdue", "year")}
    if filters["district"].isdigit():
        qs = qs.filter(cooperative__district__code=filters["district"])
    if filters["status"] == "active":
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif filters["status"] in RectificationCase.Status.values:
        qs = qs.filter(status=filters["status"])
    if filters["year"].isdigit():
        qs = qs.filter(year=int(filters["year"]))
    overdue = RectificationTask.objects.filter(
        case=OuterRef("pk"), status=RectificationTask.Status.OPEN, retired_at__isnull=True, deadline__lt=today
    )
    if filters["overdue"] == "1":
        qs = qs.filter(Exists(overdue), status__in=ACTIVE_STATUSES)
    # counted in subqueries (a join of both relations would multiply the rows)
    open_items = (
        RectificationItem.objects.filter(
            case=OuterRef("pk"),
            retired_at__isnull=True,
            status__in=[RectificationItem.Status.PENDING, RectificationItem.Status.FAILED],
        )
        .order_by()
        .values("case")
        .annotate(n=Count("pk"))
        .values("n")
    )
    late = overdue.order_by().values("case").annotate(n=Count("pk")).values("n")
    qs = qs.annotate(
        open_items=Coalesce(Subquery(open_items, output_field=IntegerField()), 0),
        overdue_tasks=Case(
            When(status__in=ACTIVE_STATUSES, then=Coalesce(Subquery(late, output_field=IntegerField()), 0)),
            default=Value(0),
            output_field=IntegerField(),
        ),
    )
    qs = qs.select_related("cooperative", "cooperative__district").order_by("-opened_on", "-pk")
    return qs, filters


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    _need(request.user, RectificationCase)
    qs, filters = filtered_cases(request)
    districts = Division.objects.filter(level=Division.Level.DISTRICT).order_by("code")
    within = districts_of(request.user)  # the filter offers the districts the user works in
    if within is not None:
        districts = districts.filter(pk__in=within)
    return render(
        request,
        "compliance/case_list.html",
        {
            "page": Paginator(qs, PER_PAGE).get_page(request.GET.get("page")),
            "filters": filters,
            "statuses": RectificationCase.Status.choices,
            "districts": districts,
            "can_export": can(request.user, RectificationCase, EXPORT),
            "query": request.GET.urlencode(),
        },
    )


EXPORT_COLUMNS = [
    ("id", _("Case"), lambda c: c.pk),
    ("cooperative", _("Cooperative"), lambda c: c.cooperative.name),
    ("credit_code", _("Unified social credit code"), lambda c: c.cooperative.credit_code),
    ("district", _("District"), lambda c: c.cooperative.district.name),
    ("year", _("Fiscal year"), lambda c: c.year),
    ("status", _("Status"), lambda c: c.get_status_display()),
    ("opened_on", _("Opened on"), lambda c: c.opened_on),
    ("closed_on", _("Closed on"), lambda c: c.closed_on),
    ("open_items", _("Open items"), lambda c: c.open_items),
    ("overdue_tasks", _("Overdue tasks"), lambda c: c.overdue_tasks),
]


@login_required
def case_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as .xlsx (the same filters and the same scope as the page)."""
    _need(request.user, RectificationCase, EXPORT)
    qs, _filters = filtered_cases(request, EXPORT)
    limit = int(getattr(settings, "HEZUO_EXPORT_MAX_ROWS", 100000))
    if qs.count() > limit:
        messages.error(request, _("The export is limited to %(n)d rows; narrow the filters.") % {"n": limit})
        return redirect(f"{request.path.rsplit('export/', 1)[0]}?{request.GET.urlencode()}")
    handle = write_xlsx(qs.iterator(chunk_size=2000), EXPORT_COLUMNS, str(_("Rectification cases")))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(handle, f"rectification-cases-{stamp}.xlsx")


# ---------------------------------------------------------------------------------------------------------
# a case
def _case_context(request: HttpRequest, case: RectificationCase, bound: dict[str, Any] | None = None) -> dict:
    user = request.user
    today = timezone.localdate()
    items = list(
        restrict(case.items.filter(retired_at__isnull=True), user, VIEW).select_related("decided_by")
    )
    for item in items:
        item.case = case
        item.can_record = any(rx.may_record(user, item, o) for o in rx.OUTCOMES)
    tasks = list(
        restrict(case.tasks.filter(retired_at__isnull=True), user, VIEW).select_related("item", "owner")
    )
    for task in tasks:
        task.overdue = task.is_overdue(today) and case.is_active
    assistance = restrict(case.assistance.filter(retired_at__isnull=True), user, VIEW).select_related(
        "recorded_by"
    )
    transitions = rx.allowed_transitions(user, case)
    forms = {name: (bound or {}).get(name) or TRANSITION_FORMS[name]() for name in transitions}
    manage = rx.may_manage(user, case)
    return {
        "object": case,
        "items": items,
        "tasks": tasks,
        "assistance": list(assistance),
        "forms": forms,
        "can_manage": manage,
        # the items' creation is the checklist above: the history shows what happened since
        "history": history_for(case)
        .exclude(action="create", content_type=ContentType.objects.get_for_model(RectificationItem))
        .select_related("content_type")[:50],
        "open_count": sum(1 for i in items if not i.is_resolved),
    }


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_scoped_or_404(
        RectificationCase.objects.select_related("cooperative", "checklist", "visit"), request.user, pk=pk
    )
    return render(request, "compliance/case_detail.html", _case_context(request, case))


@login_required
@require_POST
def case_transition(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    if transition not in rx.TRANSITIONS and transition != "refresh":
        raise Http404
    # a case out of reach: 404 (nothing revealed); a step the user's role may not take on a case they see:
    # 403 with the reason
    case = get_scoped_or_404(
        RectificationCase.objects.select_related("cooperative", "checklist"),
        request.user,
        "change" if transition == "refresh" else VIEW,
        pk=pk,
    )
    if transition == "refresh":
        try:
            changed = rx.refresh_from_data(case, request.user)
        except rx.TransitionRefused as exc:
            raise Http404 from exc
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Judged again from the data: %(items)s.") % {"items": ", ".join(changed) or _("no change")},
            )
        return redirect(case)
    refused = rx.refusal(request.user, transition, case)
    if refused:
        raise PermissionDenied(refused)
    form = TRANSITION_FORMS[transition](request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if transition == "cancel":
                rx.cancel(case, request.user, reason=data["reason"])
            else:
                getattr(rx, transition)(case, request.user, note=data["note"])
        except ValidationError as exc:
            _apply_errors(form, exc, {"cancel_reason": "reason"})
        else:
            messages.success(request, _("Done."))
            return redirect(case)
    case.refresh_from_db()
    if transition not in rx.allowed_transitions(request.user, case):
        for message in form.non_field_errors():
            messages.error(request, str(message))
    context = _case_context(request, case, {transition: form})
    context["failed"] = transition
    return render(request, "compliance/case_detail.html", context, status=400)


@login_required
def case_open(request: HttpRequest, pk: int) -> HttpResponse:
    """The open-case form for a cooperative (pk: the cooperative): district or city staff."""
    _need(request.user, RectificationCase, "add")
    coop = get_scoped_or_404(Cooperative, request.user, "change", pk=pk)
    if not rx.may_open(request.user, coop):
        raise Http404
    form = OpenCaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = rx.open_case(
                request.user,
                coop,
                year=form.cleaned_data["year"],
                note=form.cleaned_data["note"],
                reason=form.cleaned_data["reason"],
            )
        except rx.TransitionRefused as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Rectification case opened."))
            return redirect(case)
    active = (
        RectificationCase.objects.restrict(request.user, VIEW)
        .filter(cooperative=coop, status__in=ACTIVE_STATUSES, retired_at__isnull=True)
        .first()
    )
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "compliance/case_open.html",
        {"form": form, "cooperative": coop, "active": active},
        status=status,
    )


# ---------------------------------------------------------------------------------------------------------
# items, tasks, assistance
@login_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An item: what the data said, its outcome, and the outcome form (the user's allowed outcomes)."""
    item = get_scoped_or_404(
        RectificationItem.objects.select_related("case__cooperative", "case__checklist", "decided_by"),
        request.user,
        pk=pk,
    )
    outcomes = [o for o in rx.OUTCOMES if rx.may_record(request.user, item, o)]
    form = None
    status = 200
    if request.method == "POST":
        if not outcomes:
            raise Http404
        form = OutcomeForm(request.POST, outcomes=outcomes)
        if form.is_valid():
            try:
                rx.record_outcome(
                    item, request.user, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
                )
            except (rx.TransitionRefused, PermissionDenied) as exc:
                raise Http404 from exc
            except ValidationError as exc:
                _apply_errors(form, exc, {"evidence": "note", "waive_reason": "note"})
            else:
                messages.success(request, _("Outcome recorded."))
                return redirect(item.case)
        status = 400
    elif outcomes:
        form = OutcomeForm(outcomes=outcomes)
    tasks = restrict(item.tasks.filter(retired_at__isnull=True), request.user, VIEW).select_related("owner")
    detail = item.data_detail or {}
    facts = {
        "missing": [field_label(name) for name in detail.get("missing") or []],
        "seen": [(field_label(k), v) for k, v in (detail.get("seen") or {}).items()],
        "needed": [(field_label(k), v) for k, v in (detail.get("needed") or {}).items()],
    }
    return render(
        request,
        "compliance/item_detail.html",
        {
            "object": item,
            "case": item.case,
            "form": form,
            "tasks": tasks,
            "today": timezone.localdate(),
            "facts": facts,
        },
        status=status,
    )


def owner_choices(case: RectificationCase, current: Any = None) -> QuerySet[Any]:
    """Who may own a task: the cooperative's current counselors, its district's staff, city staff."""
    from hezuo.accounts.models import CounselorAssignment, User
    from hezuo.accounts.roles import Role

    counselors = (
        CounselorAssignment.objects.current()
        .filter(cooperative_id=case.cooperative_id)
        .values("counselor_id")
    )
    condition = (
        Q(pk__in=counselors)
        | Q(role=Role.DISTRICT, district_id=case.cooperative.district_id)
        | Q(role=Role.CITY)
    )
    if current is not None:
        condition |= Q(pk=current.pk)
    return User.objects.filter(condition, is_active=True).order_by("role", "username")


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A task; district or city staff change its owner, deadline or note."""
    task = get_scoped_or_404(
        RectificationTask.objects.select_related("case__cooperative", "case__checklist", "item", "owner"),
        request.user,
        pk=pk,
    )
    editable = task.status == RectificationTask.Status.OPEN and rx.may_manage(request.user, task.case)
    form = None
    status = 200
    if editable:
        initial = {"owner": task.owner_id, "deadline": task.deadline, "note": task.note}
        form = TaskForm(request.POST or None, owners=owner_choices(task.case, task.owner), initial=initial)
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            try:
                rx.update_task(
                    task, request.user, owner=data["owner"], deadline=data["deadline"], note=data["note"]
                )
            except (rx.TransitionRefused, PermissionDenied) as exc:
                raise Http404 from exc
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Task saved."))
                return redirect(task.case)
        status = 400
    return render(
        request,
        "compliance/task_detail.html",
        {
            "object": task,
            "case": task.case,
            "form": form,
            "overdue": task.is_overdue() and task.case.is_active,
        },
        status=status,
    )


@login_required
def assistance_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Record special assistance on a case (pk: the case): district or city staff."""
    _need(request.user, SpecialAssistance, "add")
    case = get_scoped_or_404(
        RectificationCase.objects.select_related("cooperative"), request.user, "change", pk=pk
    )
    if not rx.may_manage(request.user, case):
        raise Http404
    form = AssistanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rx.add_assistance(case, request.user, **form.cleaned_data)
        except (rx.TransitionRefused, PermissionDenied) as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Assistance recorded."))
            return redirect(case)
    status = 400 if request.method == "POST" else 200
    return render(request, "compliance/assistance_form.html", {"form": form, "case": case}, status=status)


# ---------------------------------------------------------------------------------------------------------
# the checklist, and the cooperative page's hook
@login_required
def checklist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import item_title

    checklist = get_scoped_or_404(Checklist, request.user, pk=pk)
    from hezuo.rating.engine import COMPLIANCE

    rows = [
        {
            "key": key,
            "title": item_title(info),
            "basis": info.get("basis", ""),
            "from_data": bool(info.get("evaluable")) and key in COMPLIANCE,
            "days": info.get("deadline_days"),
            "region": info.get("region", ""),
        }
        for key, info in sorted((checklist.items or {}).items())
    ]
    return render(request, "compliance/checklist_detail.html", {"object": checklist, "rows": rows})


def cooperative_cases_context(user: Any, cooperative: Cooperative) -> dict[str, Any]:
    """Context of templates/compliance/coop_cases.html: the cooperative's rectification cases in the
    user's reach, and whether the user may open one."""
    visible = can(user, RectificationCase, VIEW)
    found = (
        restrict(
            RectificationCase.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW
        ).order_by("-opened_on", "-pk")
        if visible
        else RectificationCase.objects.none()
    )
    cases = list(found)
    has_active = any(c.is_active for c in cases)
    return {
        "compliance_visible": visible,
        "compliance_cases": cases,
        "compliance_can_open": not has_active
        and can(user, RectificationCase, "add")
        and rx.may_open(user, cooperative),
    }
