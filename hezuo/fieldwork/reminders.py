"""Reminders: what is overdue for a user, on their home page and in a daily digest.

A *source* is a function `fn(user, today) -> iterable of Group`; each group is one kind of overdue work with
its count and a few sample items. Sources read through the scoping chokepoint, so a user is reminded only of
what lies in their reach. Fieldwork registers two sources:

* ``fieldwork.campaigns`` — campaign targets not visited by the end of the period, for campaigns that ended no
  more than ``HEZUO_CAMPAIGN_REMINDER_DAYS`` (default 60) days ago; one group per campaign;
* ``fieldwork.assigned`` — cooperatives with a counselor assigned and no visit for
  ``HEZUO_VISIT_INTERVAL_DAYS`` (default 90) days: a cooperative is due `interval` days after its last
  visit, or after the assignment began when it was never visited since (counselors: their own
  cooperatives; district and city staff: every assigned cooperative in reach).

Other apps add theirs (e.g. the compliance app's rectification tasks past their deadline) with
``register_source("compliance.tasks", fn)`` in their AppConfig.ready(). Composing the digest is a pure
function over groups (`compose_digest`), and so are the date rules (`due_date`, `is_overdue`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, DateField, F, Max, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hezuo.core.scoping import ADD, VIEW, can, restrict

SAMPLE = 10


@dataclass(frozen=True)
class Item:
    title: str
    due: dt.date
    detail: str = ""
    url: str = ""


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    count: int
    items: tuple[Item, ...] = ()
    url: str = ""

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.items))


@dataclass(frozen=True)
class Digest:
    subject: str
    body: str
    count: int
    groups: tuple[Group, ...] = field(default_factory=tuple)


Source = Callable[[Any, dt.date], Iterable[Group]]
SOURCES: dict[str, Source] = {}


def register_source(key: str, fn: Source) -> Source:
    """Add (or replace) a source of overdue work under a key."""
    SOURCES[key] = fn
    return fn


def visit_interval_days() -> int:
    return int(getattr(settings, "HEZUO_VISIT_INTERVAL_DAYS", 90))


def campaign_reminder_days() -> int:
    return int(getattr(settings, "HEZUO_CAMPAIGN_REMINDER_DAYS", 60))


# ------------------------------------------------------------------------------------------------------
# pure rules
def due_date(last_visit: dt.date | None, since: dt.date | None, interval: int) -> dt.date | None:
    """When an assigned cooperative is next due: `interval` days after its last visit, or after the assignment
    began if it has not been visited since (None if neither is known)."""
    base = last_visit if last_visit is not None else since
    return base + dt.timedelta(days=interval) if base is not None else None


def is_overdue(due: dt.date | None, today: dt.date) -> bool:
    return due is not None and due < today


def days_late(due: dt.date, today: dt.date) -> int:
    return max(0, (today - due).days)


def compose_digest(name: str, groups: Sequence[Group], today: dt.date, site_url: str = "") -> Digest | None:
    """The digest of one user (subject and plain-text body) from their overdue groups; None if nothing is
    overdue. Pure: no database, no clock (the caller activates the language)."""
    groups = tuple(g for g in groups if g.count > 0)
    if not groups:
        return None
    total = sum(g.count for g in groups)
    subject = ngettext(
        "[hezuo] %(n)d overdue item on %(date)s", "[hezuo] %(n)d overdue items on %(date)s", total
    ) % {"n": total, "date": today.isoformat()}
    base = site_url.rstrip("/")
    lines = [_("Hello %(name)s,") % {"name": name}, "", _("This is overdue in your work:"), ""]
    for group in groups:
        lines.append(f"■ {group.label} ({group.count})")
        for item in group.items:
            late = days_late(item.due, today)
            when = (
                ngettext("%(d)d day late", "%(d)d days late", late) % {"d": late} if late else _("due today")
            )
            text = f"  - {item.title} · {when}"
            if item.detail:
                text += f" · {item.detail}"
            lines.append(text)
            if item.url and base:
                lines.append(f"    {base}{item.url}")
        if group.more:
            lines.append("  " + _("… and %(n)d more") % {"n": group.more})
        if group.url and base:
            lines.append("  " + _("See all: %(url)s") % {"url": f"{base}{group.url}"})
        lines.append("")
    lines.append(_("You receive this digest because something in your reach is overdue."))
    return Digest(subject=subject, body="\n".join(lines), count=total, groups=groups)


# ------------------------------------------------------------------------------------------------------
# gathering (through the chokepoint)
def collect(user: Any, today: dt.date | None = None) -> list[Group]:
    today = today or timezone.localdate()
    groups: list[Group] = []
    for fn in SOURCES.values():
        groups.extend(g for g in fn(user, today) if g.count > 0)
    return groups


def _does_fieldwork(user: Any) -> bool:
    from .models import Visit

    return can(user, Visit, ADD)


def campaign_source(user: Any, today: dt.date) -> Iterable[Group]:
    from .campaigns import pending_targets
    from .models import Campaign

    if not _does_fieldwork(user):
        return []
    overdue = pending_targets(user, today, window_days=campaign_reminder_days()).filter(
        campaign__end_date__lt=today
    )
    per_campaign = list(
        overdue.values("campaign_id", "campaign__name", "campaign__end_date")
        .annotate(n=Count("pk"))
        .order_by("campaign__end_date", "campaign_id")
    )
    sees_campaigns = can(user, Campaign, VIEW)
    groups = []
    for row in per_campaign:
        sample = (
            overdue.filter(campaign_id=row["campaign_id"])
            .select_related("cooperative")
            .order_by("cooperative__name", "pk")[:SAMPLE]
        )
        items = tuple(
            Item(t.cooperative.name, row["campaign__end_date"], "", t.cooperative.get_absolute_url())
            for t in sample
        )
        url = (
            reverse("fieldwork:campaign_targets", args=[row["campaign_id"]]) + "?status=overdue"
            if sees_campaigns
            else reverse("fieldwork:my_cooperatives")
        )
        groups.append(
            Group(
                key=f"campaign-{row['campaign_id']}",
                label=_("Campaign “%(name)s”: not visited by the end of the period")
                % {"name": row["campaign__name"]},
                count=row["n"],
                items=items,
                url=url,
            )
        )
    return groups


def assigned_overdue(user: Any, today: dt.date, interval: int | None = None) -> Any:
    """Cooperatives in reach with a counselor (for a counselor: assigned to them) and no visit for the
    interval, annotated with `last_visit`, `since` (the assignment's start) and `due_base`."""
    from hezuo.accounts.models import CounselorAssignment
    from hezuo.accounts.roles import Role
    from hezuo.registry.models import Cooperative

    from .models import Visit

    interval = visit_interval_days() if interval is None else interval
    assignments = CounselorAssignment.objects.current(today).filter(cooperative_id=OuterRef("pk"))
    if getattr(user, "role", "") == Role.COUNSELOR and not user.is_superuser:
        assignments = assignments.filter(counselor=user)
    since = assignments.order_by().values("cooperative_id").annotate(d=Min("start_date")).values("d")[:1]
    last = (
        restrict(Visit.objects.filter(cooperative_id=OuterRef("pk"), retired_at__isnull=True), user, VIEW)
        .order_by()
        .values("cooperative_id")
        .annotate(d=Max("date"))
        .values("d")[:1]
    )
    cutoff = today - dt.timedelta(days=interval)
    return (
        Cooperative.objects.restrict(user, VIEW)
        .filter(retired_at__isnull=True)
        .annotate(since=Subquery(since, output_field=DateField()))
        .filter(since__isnull=False)
        .annotate(last_visit=Subquery(last, output_field=DateField()))
        .annotate(due_base=Coalesce(F("last_visit"), F("since")))
        .filter(due_base__lt=cutoff)
    )


def assigned_source(user: Any, today: dt.date) -> Iterable[Group]:
    if not _does_fieldwork(user):
        return []
    interval = visit_interval_days()
    qs = assigned_overdue(user, today, interval)
    count = qs.count()
    if not count:
        return []
    items = []
    for coop in qs.order_by("due_base", "name", "pk")[:SAMPLE]:
        due = due_date(coop.last_visit, coop.since, interval)
        assert due is not None
        detail = (
            _("last visit %(d)s") % {"d": coop.last_visit.isoformat()}
            if coop.last_visit
            else _("never visited")
        )
        items.append(Item(coop.name, due, detail, coop.get_absolute_url()))
    from hezuo.accounts.roles import Role

    counselor = getattr(user, "role", "") == Role.COUNSELOR
    url = reverse("fieldwork:my_cooperatives") if counselor else reverse("fieldwork:workload")
    label = ngettext(
        "Assigned cooperatives not visited for %(d)d day",
        "Assigned cooperatives not visited for %(d)d days",
        interval,
    ) % {"d": interval}
    return [Group(key="assigned", label=label, count=count, items=tuple(items), url=url)]


register_source("fieldwork.campaigns", campaign_source)
register_source("fieldwork.assigned", assigned_source)


# ------------------------------------------------------------------------------------------------------
# the daily digest
@dataclass
class DigestRun:
    users: int = 0
    sent: int = 0
    skipped_no_email: int = 0
    digests: list[tuple[Any, Digest]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "users_checked": self.users,
            "digests": len(self.digests),
            "sent": self.sent,
            "skipped_no_email": self.skipped_no_email,
        }


def recipients() -> Any:
    """Active users whose role may do fieldwork (the sources decide what each of them gets)."""
    from hezuo.accounts.models import User
    from hezuo.accounts.roles import Role

    return (
        User.objects.filter(is_active=True)
        .filter(Q(role__in=[Role.CITY, Role.DISTRICT, Role.COUNSELOR]) | Q(is_superuser=True))
        .order_by("pk")
    )


def send_digests(
    today: dt.date | None = None, *, dry_run: bool = False, users: Iterable[Any] | None = None
) -> DigestRun:
    """Compose each user's digest and send it with Django's email backend (nothing is sent in a dry run)."""
    from django.core.mail import EmailMessage, get_connection
    from django.utils import translation

    today = today or timezone.localdate()
    site_url = str(getattr(settings, "HEZUO_SITE_URL", ""))
    result = DigestRun()
    messages = []
    with translation.override(settings.LANGUAGE_CODE):
        for user in users if users is not None else recipients().iterator(chunk_size=500):
            result.users += 1
            digest = compose_digest(
                user.get_full_name() or user.username, collect(user, today), today, site_url
            )
            if digest is None:
                continue
            result.digests.append((user, digest))
            if not user.email:
                result.skipped_no_email += 1
                continue
            messages.append(EmailMessage(digest.subject, digest.body, None, [user.email]))
    if messages and not dry_run:
        with get_connection() as connection:
            result.sent = connection.send_messages(messages) or 0
    return result
