"""The cleanup case's state machine: one service function per transition, each open to one role.

    flagged ──verify (district)──▶ verified ──approve (city)──▶ approved ──carry_out (city)──▶ actions_done
       │                              │                                                           │
       └──────clear (district)────────┴──▶ cleared                                  close (city) ─┘──▶ closed

District staff verify or clear cases of their own district; city staff approve, carry out and close.
`carry_out` does every registry action in one transaction: current sponsorships ended with their date and
reason, federation memberships ended at every level, the referral for deregistration recorded (date,
authority, document number), and the cooperative's operating status set to the finding (shell or dormant).
Every change goes through the core services, so it is in the history of the case and of the cooperative.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from hezuo.accounts.roles import Role, step_refused
from hezuo.core.context import change_context
from hezuo.core.scoping import CHANGE, restrict
from hezuo.core.services import save_record, snapshot
from hezuo.registry.models import Cooperative, FederationMembership, Sponsorship

from .models import OPEN_CASE_STATUSES, CleanupCase, Flag

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

S = CleanupCase.Status

# transition -> (roles allowed, statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], tuple[str, ...], str]] = {
    "verify": (frozenset({Role.DISTRICT}), (S.FLAGGED,), S.VERIFIED),
    "clear": (frozenset({Role.DISTRICT}), (S.FLAGGED, S.VERIFIED), S.CLEARED),
    "approve": (frozenset({Role.CITY}), (S.VERIFIED,), S.APPROVED),
    "carry_out": (frozenset({Role.CITY}), (S.APPROVED,), S.ACTIONS_DONE),
    "close": (frozenset({Role.CITY}), (S.ACTIONS_DONE,), S.CLOSED),
}
OPENERS = frozenset({Role.CITY, Role.DISTRICT})
BEFORE_REGISTRATION = gettext_lazy("The date is before the cooperative was registered.")


class TransitionRefused(PermissionDenied):
    """The user's role may not make this transition. Pages and the API answer 403 with the message to a user
    who can see the case, 404 to one who cannot (core.scoping.refused)."""


def role_of(user: Any) -> str:
    if getattr(user, "is_superuser", False):
        return Role.CITY
    return getattr(user, "role", "")


def may(user: Any, transition: str, case: CleanupCase | None = None) -> bool:
    """Whether the user's role may make the transition (and, given a case, from its current status)."""
    roles, sources, _target = TRANSITIONS[transition]
    if role_of(user) not in roles:
        return False
    return case is None or case.status in sources


def allowed_transitions(user: Any, case: CleanupCase) -> list[str]:
    if not restrict(CleanupCase.objects.filter(pk=case.pk), user, CHANGE).exists():
        return []
    return [name for name in TRANSITIONS if may(user, name, case)]


def refusal(user: Any, transition: str, case: CleanupCase) -> str | None:
    """Why the user may not make the transition on the case, whatever its status (None: the role and the
    reach allow it): the step and the role it belongs to."""
    roles, _sources, _target = TRANSITIONS[transition]
    if role_of(user) in roles and restrict(CleanupCase.objects.filter(pk=case.pk), user, CHANGE).exists():
        return None
    return step_refused(STEP_NAMES[transition], roles)


def _check(user: Any, transition: str, case: CleanupCase) -> None:
    _roles, sources, _target = TRANSITIONS[transition]
    refused = refusal(user, transition, case)
    if refused:
        raise TransitionRefused(refused)
    if case.status not in sources:
        raise ValidationError(
            _("This case is %(status)s: it cannot be %(action)s now.")
            % {"status": case.get_status_display(), "action": ACTION_WORDS.get(transition, transition)}
        )


STEP_NAMES = {  # the steps as the case page names them
    "verify": pgettext_lazy("case step", "verification"),
    "clear": pgettext_lazy("case step", "clearing (not a shell)"),
    "approve": pgettext_lazy("case step", "approval"),
    "carry_out": pgettext_lazy("case step", "carrying out the actions"),
    "close": pgettext_lazy("case step", "closing"),
}
ACTION_WORDS = {
    "verify": pgettext_lazy("case action", "verified"),
    "clear": pgettext_lazy("case action", "cleared"),
    "approve": pgettext_lazy("case action", "approved"),
    "carry_out": pgettext_lazy("case action", "acted on"),
    "close": pgettext_lazy("case action", "closed"),
}


def _required(errors: dict[str, list[StrOrPromise]], name: str, value: Any, message: str) -> None:
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        errors.setdefault(name, []).append(message)


def _set_flags(case: CleanupCase, status: str) -> None:
    for flag in Flag.objects.filter(case=case, retired_at__isnull=True).exclude(status=status):
        before = snapshot(flag)
        flag.status = status
        save_record(flag, before=before, validate=False)


def _locked(case: CleanupCase) -> CleanupCase:
    return CleanupCase.objects.select_for_update().select_related("cooperative").get(pk=case.pk)


@transaction.atomic
def open_case(user: Any, cooperative: Cooperative, flags: list[Flag] | None = None) -> CleanupCase:
    """Open a cleanup case on a flagged cooperative (district staff of its district, or city staff)."""
    if role_of(user) not in OPENERS:
        raise TransitionRefused(_("Your role may not do this."))
    if not restrict(Cooperative.objects.filter(pk=cooperative.pk), user, CHANGE).exists():
        raise TransitionRefused(_("Your role may not do this."))
    if CleanupCase.objects.filter(
        cooperative=cooperative, status__in=OPEN_CASE_STATUSES, retired_at__isnull=True
    ).exists():
        raise ValidationError(_("This cooperative already has an open cleanup case."))
    flags = (
        flags
        if flags is not None
        else list(
            Flag.objects.filter(cooperative=cooperative, status=Flag.Status.OPEN, retired_at__isnull=True)
        )
    )
    if not flags:
        raise ValidationError(_("A cleanup case is opened on an open flag; this cooperative has none."))
    if any(f.cooperative_id != cooperative.pk or f.status != Flag.Status.OPEN for f in flags):
        raise ValidationError(_("Only open flags of this cooperative can start a case."))
    case = CleanupCase(cooperative=cooperative, opened_by=user)
    with change_context(user=user):
        save_record(case)
        for flag in flags:
            before = snapshot(flag)
            flag.case = case
            flag.status = Flag.Status.UNDER_REVIEW
            save_record(flag, before=before, validate=False)
    return case


@transaction.atomic
def verify(
    case: CleanupCase,
    user: Any,
    *,
    finding: str,
    note: str,
    visit_date: dt.date | None = None,
    visit: Any = None,
) -> CleanupCase:
    """The district confirms the cooperative is a shell or dormant, with its evidence (a visit or other)."""
    from .models import Visit

    case = _locked(case)
    _check(user, "verify", case)
    errors: dict[str, list[StrOrPromise]] = {}
    if visit is not None:
        reachable = restrict(
            Visit.objects.filter(pk=visit.pk, cooperative_id=case.cooperative_id), user, "view"
        )
        if not reachable.exists():
            errors.setdefault("visit", []).append(_("Choose a visit to this cooperative."))
        elif visit_date is None:
            visit_date = visit.date
    if finding not in CleanupCase.Finding.values:
        errors.setdefault("finding", []).append(_("Choose shell or dormant."))
    _required(errors, "verification_note", note, _("Describe the evidence (a visit or other)."))
    if visit_date is not None:
        if visit_date > timezone.localdate():
            errors.setdefault("visit_date", []).append(_("The date is in the future."))
        elif visit_date < case.cooperative.registration_date:
            errors.setdefault("visit_date", []).append(
                _("The date is before the cooperative was registered.")
            )
    if errors:
        raise ValidationError(errors)
    before = snapshot(case)
    case.finding, case.verification_note, case.visit_date = finding, note.strip(), visit_date
    case.visit = visit
    case.status, case.verified_by, case.verified_at = S.VERIFIED, user, timezone.now()
    with change_context(user=user, reason=_("Cleanup case verified")):
        save_record(case, before=before)
    return case


@transaction.atomic
def clear(case: CleanupCase, user: Any, *, reason: str) -> CleanupCase:
    """The district finds the cooperative is not a shell: the case and its flags are cleared."""
    case = _locked(case)
    _check(user, "clear", case)
    errors: dict[str, list[StrOrPromise]] = {}
    _required(errors, "clear_reason", reason, _("Give the reason the cooperative is not a shell."))
    if errors:
        raise ValidationError(errors)
    before = snapshot(case)
    case.clear_reason, case.status = reason.strip(), S.CLEARED
    case.closed_by, case.closed_at = user, timezone.now()
    with change_context(user=user, reason=_("Cleared: not a shell")):
        save_record(case, before=before)
        _set_flags(case, Flag.Status.CLEARED)
    return case


@transaction.atomic
def approve(case: CleanupCase, user: Any, *, note: str = "") -> CleanupCase:
    case = _locked(case)
    _check(user, "approve", case)
    before = snapshot(case)
    case.approval_note, case.status = note.strip(), S.APPROVED
    case.approved_by, case.approved_at = user, timezone.now()
    with change_context(user=user, reason=_("Cleanup approved by the city")):
        save_record(case, before=before)
    return case


@transaction.atomic
def carry_out(
    case: CleanupCase,
    user: Any,
    *,
    action_date: dt.date,
    reason: str,
    referral_date: dt.date,
    referral_authority: str,
    referral_document: str,
) -> CleanupCase:
    """Every registry action of an approved case, in one transaction (all or nothing)."""
    case = _locked(case)
    _check(user, "carry_out", case)
    coop = Cooperative.objects.select_for_update().get(pk=case.cooperative_id)
    today = timezone.localdate()
    errors: dict[str, list[StrOrPromise]] = {}
    _required(errors, "action_reason", reason, _("Give the reason the links end."))
    _required(errors, "referral_document", referral_document, _("Give the referral's document number."))
    from .models import Authority

    if referral_authority not in Authority.values:
        errors.setdefault("referral_authority", []).append(
            _("Choose the market regulator or the agriculture bureau.")
        )
    for name, value in (("action_date", action_date), ("referral_date", referral_date)):
        if value is None:
            errors.setdefault(name, []).append(_("Give the date."))
        elif value > today:
            errors.setdefault(name, []).append(_("The date is in the future."))
        elif value < coop.registration_date:
            errors.setdefault(name, []).append(BEFORE_REGISTRATION)
    # every link not ended by the action date (a link that began after it is refused below, never skipped)
    on = action_date or today
    sponsorships = list(
        Sponsorship.objects.filter(cooperative=coop, retired_at__isnull=True).filter(
            Q(end_date__isnull=True) | Q(end_date__gt=on)
        )
    )
    memberships = list(
        FederationMembership.objects.filter(cooperative=coop, retired_at__isnull=True).filter(
            Q(until__isnull=True) | Q(until__gt=on)
        )
    )
    for link in sponsorships:
        if action_date and action_date < link.start_date:
            errors.setdefault("action_date", []).append(
                _("The date is before the sponsorship by %(s)s began.") % {"s": link.sponsor}
            )
    for link in memberships:
        if action_date and action_date < link.since:
            errors.setdefault("action_date", []).append(
                _("The date is before the %(m)s membership began.") % {"m": link.get_level_display()}
            )
    if errors:
        raise ValidationError(errors)
    text = reason.strip()[:200]
    with change_context(user=user, reason=_("Cleanup case #%(n)s: %(r)s") % {"n": case.pk, "r": text}):
        for link in sponsorships:
            before = snapshot(link)
            link.end_date, link.end_reason = action_date, text
            save_record(link, before=before)
        for link in memberships:
            before = snapshot(link)
            link.until, link.end_reason = action_date, text
            save_record(link, before=before)
        before, old_status = snapshot(coop), coop.operating_status
        coop.operating_status = case.finding or CleanupCase.Finding.SHELL
        save_record(coop, before=before)
        before = snapshot(case)
        case.action_date, case.action_reason = action_date, text
        case.referral_date, case.referral_authority = referral_date, referral_authority
        case.referral_document = referral_document.strip()
        case.actions_summary = {
            "sponsorships_ended": [link.pk for link in sponsorships],
            "memberships_ended": [{"id": link.pk, "level": link.level} for link in memberships],
            "operating_status": {"before": old_status, "after": coop.operating_status},
        }
        case.status, case.actions_by, case.actions_at = S.ACTIONS_DONE, user, timezone.now()
        save_record(case, before=before)
    return case


@transaction.atomic
def close(case: CleanupCase, user: Any, *, note: str = "") -> CleanupCase:
    case = _locked(case)
    _check(user, "close", case)
    before = snapshot(case)
    case.closing_note = note.strip()
    case.status, case.closed_by, case.closed_at = S.CLOSED, user, timezone.now()
    with change_context(user=user, reason=_("Cleanup case closed")):
        save_record(case, before=before)
        _set_flags(case, Flag.Status.CONFIRMED)
    return case
