"""The rectification case's state machine and its recorded changes: one atomic service function each.

    open ──start──▶ in_progress ──close──▶ closed
      │                  │
      └─────cancel───────┴──▶ cancelled

Opening (`open_case`: district staff of the cooperative's district, or city staff; `open_from_visit`: from
a visit classified "needs rectification") judges every checklist item from the data where the rating
engine can, and opens a task (owner, deadline) for each failed item. While the case is open or in progress,
counselors of the cooperative and district or city staff record item outcomes (pass with evidence, fail
with a finding); only district or city staff waive an item (with a reason), change a task's owner or
deadline, and record special assistance. A case closes only when every item passes, does not apply, or is
waived; otherwise closing is refused with the list of open items.

Every function validates everything first and writes nothing on refusal (ValidationError naming the field;
TransitionRefused when the role may not act, which pages and the API answer with 404). Every write goes
through hezuo.core.services.save_record inside change_context, so it is in the case's history.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from hezuo.accounts.roles import Role, step_refused
from hezuo.core.context import change_context
from hezuo.core.scoping import CHANGE, VIEW, Scope, restrict
from hezuo.core.services import save_record, snapshot
from hezuo.registry.models import Cooperative

from . import evaluation
from .checklist import active_checklist
from .models import (
    ACTIVE_STATUSES,
    RectificationCase,
    RectificationItem,
    RectificationTask,
    SpecialAssistance,
)

logger = logging.getLogger(__name__)

S = RectificationCase.Status
I = RectificationItem.Status  # noqa: E741
T = RectificationTask.Status

STAFF = frozenset({Role.CITY, Role.DISTRICT})
# transition -> (roles allowed, statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], tuple[str, ...], str]] = {
    "start": (STAFF, (S.OPEN,), S.IN_PROGRESS),
    "close": (STAFF, (S.IN_PROGRESS,), S.CLOSED),
    "cancel": (STAFF, (S.OPEN, S.IN_PROGRESS), S.CANCELLED),
}
OPENERS = STAFF
# item outcomes -> roles that may record them
OUTCOMES: dict[str, frozenset[str]] = {
    "pass": frozenset({Role.CITY, Role.DISTRICT, Role.COUNSELOR}),
    "fail": frozenset({Role.CITY, Role.DISTRICT, Role.COUNSELOR}),
    "waive": STAFF,
}
STEP_NAMES = {  # the steps as the case page names them
    "start": pgettext_lazy("rectification step", "starting the work"),
    "close": pgettext_lazy("rectification step", "closing"),
    "cancel": pgettext_lazy("rectification step", "cancelling"),
}
ACTION_WORDS = {
    "start": pgettext_lazy("rectification action", "started"),
    "close": pgettext_lazy("rectification action", "closed"),
    "cancel": pgettext_lazy("rectification action", "cancelled"),
}
DATA_TO_STATUS = {
    evaluation.PASS: I.PASSED,
    evaluation.FAIL: I.FAILED,
    evaluation.NOT_APPLICABLE: I.NOT_APPLICABLE,
    evaluation.UNKNOWN: I.PENDING,
    evaluation.COUNSELOR: I.PENDING,
}


class TransitionRefused(PermissionDenied):
    """The user's role may not do this, or the record is out of reach. Pages and the API answer 404, but for
    a case step refused to a user who sees the case: 403 with the reason (`refusal`)."""


def role_of(user: Any) -> str:
    if getattr(user, "is_superuser", False):
        return Role.CITY
    return getattr(user, "role", "")


def _reaches(model: type[Model], pk: Any, user: Any, action: str) -> bool:
    return restrict(model._default_manager.filter(pk=pk), user, action).exists()


def may(user: Any, transition: str, case: RectificationCase | None = None) -> bool:
    """Whether the user's role may make the transition (and, given a case, from its current status)."""
    roles, sources, _target = TRANSITIONS[transition]
    if role_of(user) not in roles:
        return False
    return case is None or case.status in sources


def allowed_transitions(user: Any, case: RectificationCase) -> list[str]:
    if not _reaches(RectificationCase, case.pk, user, CHANGE):
        return []
    return [name for name in TRANSITIONS if may(user, name, case)]


def may_open(user: Any, cooperative: Cooperative) -> bool:
    return role_of(user) in OPENERS and _reaches(Cooperative, cooperative.pk, user, CHANGE)


def may_record(user: Any, item: RectificationItem, outcome: str) -> bool:
    """Whether the user may record this outcome on the item (role, reach, and the case still active)."""
    return (
        role_of(user) in OUTCOMES.get(outcome, ())
        and item.case.status in ACTIVE_STATUSES
        and _reaches(RectificationItem, item.pk, user, CHANGE)
    )


def may_manage(user: Any, case: RectificationCase) -> bool:
    """Whether the user may change tasks and record assistance on the case (district or city staff)."""
    return (
        role_of(user) in STAFF
        and case.status in ACTIVE_STATUSES
        and _reaches(RectificationCase, case.pk, user, CHANGE)
    )


def _refuse() -> TransitionRefused:
    return TransitionRefused(_("Your role may not do this."))


def _required(errors: dict[str, list[str]], name: str, value: Any, message: str) -> None:
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        errors.setdefault(name, []).append(message)


def _inactive(case: RectificationCase) -> ValidationError:
    return ValidationError(
        _("This case is %(status)s: nothing can be recorded on it.") % {"status": case.get_status_display()}
    )


def _locked(case: RectificationCase) -> RectificationCase:
    return (
        RectificationCase.objects.select_for_update()
        .select_related("cooperative", "checklist")
        .get(pk=case.pk)
    )


def default_owner(cooperative: Cooperative, fallback: Any) -> Any:
    """The counselor currently assigned to the cooperative (the longest-serving), else `fallback`."""
    from hezuo.accounts.models import CounselorAssignment

    assignment = (
        CounselorAssignment.objects.current()
        .filter(cooperative=cooperative, counselor__is_active=True)
        .select_related("counselor")
        .order_by("start_date", "pk")
        .first()
    )
    return assignment.counselor if assignment is not None else fallback


def default_deadline(case: RectificationCase, key: str) -> dt.date:
    days = int(case.checklist.item(key).get("deadline_days") or 90)
    return case.opened_on + dt.timedelta(days=days)


def _new_task(item: RectificationItem, owner: Any, note: str = "") -> RectificationTask:
    task = RectificationTask(
        case=item.case,
        item=item,
        owner=owner,
        deadline=default_deadline(item.case, item.key),
        note=note[:4000],
    )
    save_record(task)
    return task


def _finish_tasks(item: RectificationItem, status: str) -> None:
    for task in RectificationTask.objects.filter(item=item, status=T.OPEN, retired_at__isnull=True):
        before = snapshot(task)
        task.status, task.done_at = status, timezone.now()
        save_record(task, before=before, validate=False)


# ---------------------------------------------------------------------------------------------------------
# opening
def _check_year(errors: dict[str, list[str]], cooperative: Cooperative, year: Any, today: dt.date) -> None:
    if not isinstance(year, int) or isinstance(year, bool):
        errors.setdefault("year", []).append(_("Give the fiscal year."))
    elif year > today.year:
        errors.setdefault("year", []).append(_("The fiscal year is in the future."))
    elif year < cooperative.registration_date.year:
        errors.setdefault("year", []).append(
            _("The fiscal year is before the cooperative was registered (%(d)s).")
            % {"d": cooperative.registration_date.isoformat()}
        )


def _open(
    user: Any, cooperative: Cooperative, year: int, note: str, visit: Any, reason: str
) -> RectificationCase:
    today = timezone.localdate()
    checklist = active_checklist()
    judgements = evaluation.evaluate(cooperative, year, checklist.items)
    owner = default_owner(cooperative, user)
    case = RectificationCase(
        cooperative=cooperative,
        year=year,
        checklist=checklist,
        opened_on=today,
        opened_by=user,
        visit=visit,
        note=(note or "").strip(),
    )
    with change_context(user=user, reason=reason):
        save_record(case)
        for key, (result, detail) in judgements.items():
            status = DATA_TO_STATUS[result]
            item = RectificationItem(
                case=case,
                key=key,
                data_result=result,
                data_detail=detail,
                status=status,
                evidence=(_("From the data of %(year)d.") % {"year": year}) if status != I.PENDING else "",
            )
            item.case = case
            save_record(item)
            if status == I.FAILED:
                _new_task(item, owner)
    return case


def _check_no_active_case(cooperative: Cooperative) -> None:
    if RectificationCase.objects.filter(
        cooperative=cooperative, status__in=ACTIVE_STATUSES, retired_at__isnull=True
    ).exists():
        raise ValidationError(
            {"cooperative": [_("This cooperative already has an open rectification case.")]}
        )


@transaction.atomic
def open_case(
    user: Any, cooperative: Cooperative, *, year: int, note: str = "", reason: str = ""
) -> RectificationCase:
    """Open a rectification case (district staff of the cooperative's district, or city staff)."""
    if not may_open(user, cooperative):
        raise _refuse()
    coop = Cooperative.objects.select_for_update().get(pk=cooperative.pk)
    errors: dict[str, list[str]] = {}
    _check_year(errors, coop, year, timezone.localdate())
    if errors:
        raise ValidationError(errors)
    _check_no_active_case(coop)
    try:
        return _open(user, coop, year, note, None, reason or _("Rectification case opened"))
    except PermissionDenied as exc:
        raise TransitionRefused(str(exc)) from exc


@transaction.atomic
def open_after_visit(visit: Any) -> RectificationCase | None:
    """After-change hook of visits (registered in apps.py): a visit classified "needs rectification" opens
    a case for its cooperative in its visitor's name, once (an open case is reused). Runs after the visit is
    committed, in its own transaction: a case that cannot be opened (a refused year, a visitor who may no
    longer act) leaves the visit as recorded, and is logged."""
    from hezuo.fieldwork.models import Visit

    if visit.classification != Visit.Classification.NEEDS_RECTIFICATION or visit.retired_at is not None:
        return None
    try:
        with transaction.atomic():
            return open_from_visit(visit)
    except (ValidationError, PermissionDenied, TransitionRefused) as exc:
        logger.info("no rectification case opened from visit %s: %s", visit.pk, exc)
        return None


def open_from_visit(visit: Any, user: Any = None, *, year: int | None = None) -> RectificationCase:
    """Open a rectification case from a visit classified "needs rectification".

    `user` is the one acting: district or city staff reaching the cooperative, or the visit's own visitor
    (the counselor who classified it); by default the visitor. The fiscal year is the one before the visit.
    When the cooperative already has an open case, that case is returned and nothing is written."""
    from hezuo.fieldwork.models import Visit

    user = user if user is not None else visit.visitor
    visit = Visit.objects.select_related("cooperative").get(pk=visit.pk)
    if not _reaches(Visit, visit.pk, user, VIEW):
        raise _refuse()
    if not (may_open(user, visit.cooperative) or visit.visitor_id == getattr(user, "pk", None)):
        raise _refuse()
    if visit.classification != Visit.Classification.NEEDS_RECTIFICATION:
        raise ValidationError(
            {"classification": [_('Only a visit classified "needs rectification" opens a case.')]}
        )
    coop = Cooperative.objects.select_for_update().get(pk=visit.cooperative_id)
    existing = RectificationCase.objects.filter(
        cooperative=coop, status__in=ACTIVE_STATUSES, retired_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    year = year if year is not None else visit.date.year - 1
    errors: dict[str, list[str]] = {}
    _check_year(errors, coop, year, timezone.localdate())
    if errors:
        raise ValidationError(errors)
    reason = _("Rectification case opened from the visit of %(d)s") % {"d": visit.date.isoformat()}
    try:
        return _open(user, coop, year, visit.note or "", visit, reason)
    except PermissionDenied as exc:
        raise TransitionRefused(str(exc)) from exc


# ---------------------------------------------------------------------------------------------------------
# transitions
def refusal(user: Any, transition: str, case: RectificationCase) -> str | None:
    """Why the user may not make the transition on the case, whatever its status (None: the role and the
    reach allow it): the step and the roles it belongs to."""
    roles, _sources, _target = TRANSITIONS[transition]
    if role_of(user) in roles and _reaches(RectificationCase, case.pk, user, CHANGE):
        return None
    return step_refused(STEP_NAMES[transition], roles)


def _check(user: Any, transition: str, case: RectificationCase) -> None:
    _roles, sources, _target = TRANSITIONS[transition]
    refused = refusal(user, transition, case)
    if refused:
        raise TransitionRefused(refused)
    if case.status not in sources:
        raise ValidationError(
            {
                "status": [
                    _("This case is %(status)s: it cannot be %(action)s now.")
                    % {"status": case.get_status_display(), "action": ACTION_WORDS[transition]}
                ]
            }
        )


@transaction.atomic
def start(case: RectificationCase, user: Any, *, note: str = "") -> RectificationCase:
    case = _locked(case)
    _check(user, "start", case)
    before = snapshot(case)
    if note.strip():
        case.note = (case.note + "\n" + note.strip()).strip()[:4000]
    case.status, case.started_by, case.started_at = S.IN_PROGRESS, user, timezone.now()
    with change_context(user=user, reason=_("Rectification started")):
        save_record(case, before=before)
    return case


def open_items(case: RectificationCase) -> list[RectificationItem]:
    return list(
        case.items.filter(retired_at__isnull=True)
        .exclude(status__in=[I.PASSED, I.NOT_APPLICABLE, I.WAIVED])
        .order_by("key")
    )


@transaction.atomic
def close(case: RectificationCase, user: Any, *, note: str = "") -> RectificationCase:
    """Close the case: refused (with the open items) unless every item passes, does not apply or is waived."""
    case = _locked(case)
    _check(user, "close", case)
    remaining = open_items(case)
    if remaining:
        raise ValidationError(
            {
                "items": [
                    _("These items are neither passed nor waived: %(items)s.")
                    % {"items": ", ".join(f"{i.key} ({i.get_status_display()})" for i in remaining)}
                ]
            }
        )
    before = snapshot(case)
    now = timezone.now()
    case.status, case.closed_by, case.closed_at = S.CLOSED, user, now
    case.closed_on, case.closing_note = timezone.localdate(), note.strip()
    with change_context(user=user, reason=_("Rectification completed: case closed")):
        save_record(case, before=before)
        for task in case.tasks.filter(status=T.OPEN, retired_at__isnull=True):
            before = snapshot(task)
            task.status, task.done_at = T.DONE, now
            save_record(task, before=before, validate=False)
    return case


@transaction.atomic
def cancel(case: RectificationCase, user: Any, *, reason: str) -> RectificationCase:
    case = _locked(case)
    _check(user, "cancel", case)
    errors: dict[str, list[str]] = {}
    _required(errors, "cancel_reason", reason, _("Give the reason for cancelling the case."))
    if errors:
        raise ValidationError(errors)
    before = snapshot(case)
    now = timezone.now()
    case.status, case.cancel_reason, case.closed_by, case.closed_at = S.CANCELLED, reason.strip(), user, now
    with change_context(user=user, reason=_("Rectification case cancelled")):
        save_record(case, before=before)
        for task in case.tasks.filter(status=T.OPEN, retired_at__isnull=True):
            before = snapshot(task)
            task.status, task.done_at = T.CANCELLED, now
            save_record(task, before=before, validate=False)
    return case


# ---------------------------------------------------------------------------------------------------------
# items, tasks, assistance
@transaction.atomic
def record_outcome(item: RectificationItem, user: Any, *, outcome: str, note: str) -> RectificationItem:
    """Record an item's outcome: "pass" (with the evidence), "fail" (with the finding: a task is opened),
    or "waive" (district or city staff, with the reason)."""
    if outcome not in OUTCOMES:
        raise ValidationError({"outcome": [_("Choose pass, fail or waive.")]})
    case = _locked(item.case)
    item = RectificationItem.objects.select_for_update().get(pk=item.pk)
    item.case = case
    if role_of(user) not in OUTCOMES[outcome] or not _reaches(RectificationItem, item.pk, user, CHANGE):
        raise _refuse()
    if case.status not in ACTIVE_STATUSES:
        raise _inactive(case)
    errors: dict[str, list[str]] = {}
    if outcome == "waive":
        _required(errors, "waive_reason", note, _("Give the reason for waiving the item."))
    elif outcome == "pass":
        _required(errors, "evidence", note, _("Describe the evidence that the item now passes."))
    else:
        _required(errors, "evidence", note, _("Describe what was found."))
    if errors:
        raise ValidationError(errors)
    before = snapshot(item)
    text = note.strip()
    item.status = {"pass": I.PASSED, "fail": I.FAILED, "waive": I.WAIVED}[outcome]
    if outcome == "waive":
        item.waive_reason = text
    else:
        item.evidence, item.waive_reason = text, ""
    item.decided_by, item.decided_at = user, timezone.now()
    reasons = {
        "pass": _("Item %(key)s passed"),
        "fail": _("Item %(key)s failed"),
        "waive": _("Item %(key)s waived"),
    }
    with change_context(user=user, reason=reasons[outcome] % {"key": item.key}):
        save_record(item, before=before)
        if outcome == "fail":
            if not item.tasks.filter(status=T.OPEN, retired_at__isnull=True).exists():
                _new_task(item, default_owner(case.cooperative, user))
        else:
            _finish_tasks(item, T.DONE if outcome == "pass" else T.CANCELLED)
    return item


def _owner_reaches(owner: Any, case: RectificationCase) -> bool:
    return bool(
        owner is not None
        and getattr(owner, "is_active", False)
        and _reaches(RectificationCase, case.pk, owner, VIEW)
    )


@transaction.atomic
def update_task(
    task: RectificationTask,
    user: Any,
    *,
    owner: Any = None,
    deadline: dt.date | None = None,
    note: str | None = None,
) -> RectificationTask:
    """Change a task's owner, deadline or note (district or city staff, while the task is open)."""
    case = _locked(task.case)
    task = RectificationTask.objects.select_for_update().select_related("item").get(pk=task.pk)
    task.case = case
    if role_of(user) not in STAFF or not _reaches(RectificationTask, task.pk, user, CHANGE):
        raise _refuse()
    if case.status not in ACTIVE_STATUSES:
        raise _inactive(case)
    errors: dict[str, list[str]] = {}
    if task.status != T.OPEN:
        errors.setdefault("status", []).append(_("This task is no longer open."))
    if owner is not None and not _owner_reaches(owner, case):
        errors.setdefault("owner", []).append(_("Choose an active user who can see this case."))
    if deadline is not None and deadline < case.opened_on:
        errors.setdefault("deadline", []).append(
            _("The deadline is before the case was opened (%(d)s).") % {"d": case.opened_on.isoformat()}
        )
    if errors:
        raise ValidationError(errors)
    before = snapshot(task)
    if owner is not None:
        task.owner = owner
    if deadline is not None:
        task.deadline = deadline
    if note is not None:
        task.note = note.strip()
    with change_context(user=user, reason=_("Task of item %(key)s changed") % {"key": task.item.key}):
        save_record(task, before=before)
    return task


def _amount(value: Any, errors: dict[str, list[str]]) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault("amount", []).append(_("The amount is not a number."))
        return None
    if not amount.is_finite():
        errors.setdefault("amount", []).append(_("The amount is not a number."))
        return None
    if amount < 0:
        errors.setdefault("amount", []).append(_("The amount cannot be negative."))
    return amount


@transaction.atomic
def add_assistance(
    case: RectificationCase,
    user: Any,
    *,
    kind: str,
    description: str,
    date: dt.date | None,
    given_by: str,
    amount: Any = None,
) -> SpecialAssistance:
    """Record special assistance (专项帮扶) given under the case (district or city staff)."""
    case = _locked(case)
    if role_of(user) not in STAFF or not _reaches(RectificationCase, case.pk, user, CHANGE):
        raise _refuse()
    if case.status not in ACTIVE_STATUSES:
        raise _inactive(case)
    errors: dict[str, list[str]] = {}
    if kind not in SpecialAssistance.Kind.values:
        errors.setdefault("kind", []).append(_("Choose funding, training, consulting, equipment or other."))
    _required(errors, "description", description, _("Say what was given."))
    _required(errors, "given_by", given_by, _("Say who gave it."))
    value = _amount(amount, errors)
    if date is None:
        errors.setdefault("date", []).append(_("Give the date."))
    if errors:
        raise ValidationError(errors)
    assert date is not None  # refused above otherwise
    record = SpecialAssistance(
        case=case,
        kind=kind,
        description=description.strip(),
        amount=value,
        date=date,
        given_by=given_by.strip(),
        recorded_by=user,
    )
    with change_context(user=user, reason=_("Special assistance recorded")):
        save_record(record)
    return record


@transaction.atomic
def refresh_from_data(case: RectificationCase, user: Any) -> list[str]:
    """Judge again from the data the items still pending or failed (district or city staff): an item the
    data now passes is passed (its task done), one it now fails gets a task. Returns the changed keys."""
    case = _locked(case)
    if role_of(user) not in STAFF or not _reaches(RectificationCase, case.pk, user, CHANGE):
        raise _refuse()
    if case.status not in ACTIVE_STATUSES:
        raise _inactive(case)
    items = list(case.items.filter(retired_at__isnull=True, status__in=[I.PENDING, I.FAILED]))
    judgements = evaluation.evaluate(
        case.cooperative, case.year, {i.key: case.checklist.item(i.key) for i in items}
    )
    changed: list[str] = []
    with change_context(user=user, reason=_("Items judged again from the data")):
        for item in items:
            result, detail = judgements[item.key]
            status = DATA_TO_STATUS[result]
            if result in (evaluation.UNKNOWN, evaluation.COUNSELOR) or status == item.status:
                continue
            before = snapshot(item)
            item.case = case
            item.data_result, item.data_detail, item.status = result, detail, status
            item.evidence = _("From the data of %(year)d.") % {"year": case.year}
            item.decided_by, item.decided_at = user, timezone.now()
            save_record(item, before=before)
            if status == I.FAILED:
                _new_task(item, default_owner(case.cooperative, user))
            else:
                _finish_tasks(item, T.DONE)
            changed.append(item.key)
    return changed


# ---------------------------------------------------------------------------------------------------------
# reminders
def overdue_tasks(user_or_scope: Any, today: dt.date | None = None) -> QuerySet[RectificationTask]:
    """Open tasks of active cases past their deadline, bounded to a user's (or a Scope's) reach.

    For reminders: filter by `owner=user` for the tasks a user owns; district staff see their district's."""
    today = today or timezone.localdate()
    return open_tasks(user_or_scope).filter(deadline__lt=today)


def open_tasks(user_or_scope: Any) -> QuerySet[RectificationTask]:
    """Open tasks of active cases, bounded to a user's (or a Scope's) reach, by deadline."""
    qs: QuerySet[RectificationTask] = RectificationTask.objects.filter(
        status=T.OPEN,
        retired_at__isnull=True,
        case__status__in=ACTIVE_STATUSES,
        case__retired_at__isnull=True,
    )
    if isinstance(user_or_scope, Scope):
        scope = user_or_scope
        if not scope.allows(RectificationTask._meta.label_lower, VIEW):
            return qs.none()
        condition = scope.row_filter(RectificationTask)
        if condition is None:
            return qs.none()
        if condition:
            qs = qs.filter(condition)
    else:
        qs = restrict(qs, user_or_scope, VIEW)
    return qs.select_related("case__cooperative", "item", "owner").order_by("deadline", "pk")
