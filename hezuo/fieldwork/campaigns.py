"""Survey campaigns (摸底排查): the selection rule, opening a campaign, and following its progress.

The selection rule is data (stored on the campaign as JSON):

    {"version": 1, "links": ["sponsored", "member"], "statuses": ["operating"]}

* `links`: the cooperative has at least one of these links with the system **on the campaign's start date**:
  `sponsored` (a sponsorship), `member` (a federation membership at any level), `counselor` (a counselor
  assignment). Empty: no condition on links.
* `statuses`: the cooperative's operating status is one of these (registry.choices.OperatingStatus) when the
  campaign is opened. Empty: any status.

Only cooperatives in the registry (not retired), registered on or before the start date, in the campaign's
district (or the whole city) and within the opening user's scope are chosen. The rule is resolved once, when
the campaign is opened, into CampaignTarget rows (with the links each one matched): the list is fixed and
auditable, later changes in the registry do not move it.

Progress: a target is **visited** when a visit to its cooperative (not retired) is dated within the period;
otherwise it is **due** until the period ends and **overdue** after. The counselor of a target is the one
assigned to its cooperative on the end of the period, or today while the campaign runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hezuo.accounts.models import CounselorAssignment
from hezuo.accounts.roles import Role
from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, RETIRE, VIEW, can, restrict
from hezuo.core.services import record_bulk, retire_record, save_record, snapshot
from hezuo.core.text import join_words
from hezuo.registry.choices import OperatingStatus
from hezuo.registry.models import Cooperative, FederationMembership, Sponsorship

from .models import Campaign, CampaignTarget, Visit

LINK_SPONSORED, LINK_MEMBER, LINK_COUNSELOR = "sponsored", "member", "counselor"
LINK_LABELS = {
    LINK_SPONSORED: gettext_lazy("sponsored"),
    LINK_MEMBER: gettext_lazy("federation member"),
    LINK_COUNSELOR: gettext_lazy("assigned a counselor"),
}
OPENERS = frozenset({Role.CITY, Role.DISTRICT})
VISITED, DUE, OVERDUE = "visited", "due", "overdue"
STATUS_LABELS = {VISITED: gettext_lazy("visited"), DUE: gettext_lazy("due"), OVERDUE: gettext_lazy("overdue")}


class RuleError(ValidationError):
    """The selection rule is not valid (the messages say why)."""


@dataclass(frozen=True)
class Rule:
    links: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def as_data(self) -> dict[str, Any]:
        return {"version": 1, "links": list(self.links), "statuses": list(self.statuses)}

    def describe(self) -> str:
        """The rule in words (in the active language)."""
        parts = []
        if self.links:
            parts.append(
                _("%(links)s on the start date")
                % {"links": _(" or ").join(str(LINK_LABELS[link]) for link in self.links)}
            )
        if self.statuses:
            labels = dict(OperatingStatus.choices)
            parts.append(
                _("operating status: %(s)s") % {"s": join_words(str(labels[s]) for s in self.statuses)}
            )
        if not parts:
            return _("every cooperative")
        return "; ".join(parts)


def parse_rule(data: Any) -> Rule:
    """Check a selection rule (see the module's docstring); raises RuleError with clear messages."""
    if not isinstance(data, dict):
        raise RuleError(_("The selection rule must be a mapping."))
    errors: list[str] = []
    unknown = sorted(set(data) - {"version", "links", "statuses"})
    if unknown:
        errors.append(_("Unknown keys in the selection rule: %(k)s.") % {"k": ", ".join(unknown)})
    if data.get("version", 1) != 1:
        errors.append(_("Unknown selection rule version: %(v)s.") % {"v": data.get("version")})
    links = data.get("links", [])
    statuses = data.get("statuses", [])
    if not isinstance(links, list) or any(link not in LINK_LABELS for link in links):
        errors.append(
            _("Links must be a list of: %(choices)s.") % {"choices": ", ".join(sorted(LINK_LABELS))}
        )
    if not isinstance(statuses, list) or any(s not in OperatingStatus.values for s in statuses):
        errors.append(
            _("Statuses must be a list of: %(choices)s.") % {"choices": ", ".join(OperatingStatus.values)}
        )
    if errors:
        raise RuleError(errors)
    order = list(LINK_LABELS)
    return Rule(
        links=tuple(sorted(set(links), key=order.index)),
        statuses=tuple(s for s in OperatingStatus.values if s in statuses),
    )


def role_of(user: Any) -> str:
    return Role.CITY if getattr(user, "is_superuser", False) else getattr(user, "role", "")


def whole_reach(user: Any, campaign: Campaign) -> bool:
    """Whether the user reaches every target of the campaign (else figures of the whole campaign, such as
    its `target_count`, are not shown: a district sees its own part of a city campaign only)."""
    from hezuo.core.scoping import scope_for

    return campaign.district_id is not None or scope_for(user).everything


def may_open(user: Any) -> bool:
    return role_of(user) in OPENERS and can(user, Campaign, ADD)


def may_manage(user: Any, campaign: Campaign, action: str = CHANGE) -> bool:
    """Whether the user may change (name, end, note) or cancel (action RETIRE) the campaign: city staff any
    campaign, district staff their own district's (never a city campaign, which they see only in part)."""
    if campaign.retired_at is not None or role_of(user) not in OPENERS or not can(user, Campaign, action):
        return False
    if role_of(user) == Role.DISTRICT and campaign.district_id != user.district_id:
        return False
    return restrict(Campaign.objects.filter(pk=campaign.pk), user, action).exists()


def _refuse_unless(user: Any, campaign: Campaign, action: str) -> None:
    if not may_manage(user, campaign, action):
        from .cleanup import TransitionRefused

        raise TransitionRefused(_("Your role may not do this."))


def change_campaign(
    user: Any,
    campaign: Campaign,
    *,
    name: str,
    end_date: dt.date,
    note: str = "",
    reason: str = "",
    today: dt.date | None = None,
) -> Campaign:
    """Rename a campaign, extend or shorten its period, or change its note. Its cooperatives and start stay
    as opened (the list is fixed). The new end may not lie before today when it moves: a period that has
    passed is not rewritten. Atomic, with history; raises ValidationError naming the field."""
    _refuse_unless(user, campaign, CHANGE)
    today = today or timezone.localdate()
    before = snapshot(campaign)
    if end_date != campaign.end_date and end_date < today:
        raise ValidationError({"end_date": _("A changed period may not end before today.")})
    campaign.name = (name or "").strip()
    campaign.end_date = end_date
    campaign.note = (note or "").strip()
    with transaction.atomic(), change_context(user=user, reason=reason or _("Survey campaign changed")):
        save_record(campaign, before=before)  # validates: the name, the period (end not before start)
    return campaign


def cancel_campaign(user: Any, campaign: Campaign, *, reason: str) -> Campaign:
    """Cancel a campaign (retire it with its cooperatives list): it leaves the lists, the reminders and the
    visit form; its page and history stay. A reason is required."""
    _refuse_unless(user, campaign, RETIRE)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the campaign is cancelled.")})
    with transaction.atomic(), change_context(user=user, reason=reason.strip()):
        retire_record(campaign)
    return campaign


# ------------------------------------------------------------------------------------------------------
# resolving the rule
def link_conditions(on: dt.date) -> dict[str, Exists]:
    return {
        LINK_SPONSORED: Exists(Sponsorship.objects.filter(cooperative=OuterRef("pk")).current(on)),
        LINK_MEMBER: Exists(FederationMembership.objects.filter(cooperative=OuterRef("pk")).current(on)),
        LINK_COUNSELOR: Exists(CounselorAssignment.objects.filter(cooperative=OuterRef("pk")).current(on)),
    }


def selection(rule: Rule, base: QuerySet[Any], district: Any, start: dt.date) -> QuerySet[Any]:
    """The cooperatives a rule chooses out of `base` (already bounded to the user's scope), annotated with
    one boolean per link of the rule (`link_<name>`)."""
    qs = base.filter(retired_at__isnull=True, registration_date__lte=start)
    if district is not None:
        qs = qs.filter(district=district)
    if rule.statuses:
        qs = qs.filter(operating_status__in=rule.statuses)
    conditions = link_conditions(start)
    if rule.links:
        qs = qs.annotate(**{f"link_{name}": conditions[name] for name in rule.links})
        any_link = Q()
        for name in rule.links:
            any_link |= Q(**{f"link_{name}": True})
        qs = qs.filter(any_link)
    return qs.order_by("pk")


def preview_count(user: Any, rule_data: Any, district: Any, start: dt.date) -> int:
    rule = parse_rule(rule_data)
    return selection(rule, restrict(Cooperative.objects.all(), user, VIEW), district, start).count()


def open_campaign(
    user: Any,
    *,
    name: str,
    district: Any,
    start_date: dt.date,
    end_date: dt.date,
    rule: dict[str, Any],
    note: str = "",
    reason: str = "",
    batch_size: int = 2000,
) -> Campaign:
    """Open a campaign and fix its cooperatives (city staff: any district or the whole city; district staff:
    their own district). All or nothing; raises ValidationError naming the field."""
    if not may_open(user):
        from .cleanup import TransitionRefused

        raise TransitionRefused(_("Your role may not do this."))
    if role_of(user) == Role.DISTRICT and (district is None or district.pk != user.district_id):
        raise ValidationError({"district": _("District staff open campaigns of their own district only.")})
    campaign = Campaign(
        name=(name or "").strip(),
        district=district,
        start_date=start_date,
        end_date=end_date,
        rule=rule,
        note=(note or "").strip(),
        opened_by=user,
    )
    campaign.full_clean()  # the period, the rule (before any query)
    parsed = parse_rule(rule)
    campaign.rule = parsed.as_data()
    campaign.rule_text = parsed.describe()[:500]
    chosen = selection(parsed, restrict(Cooperative.objects.all(), user, VIEW), district, start_date)
    with transaction.atomic(), change_context(user=user, reason=reason or _("Survey campaign opened")):
        campaign.target_count = chosen.count()
        if not campaign.target_count:
            raise ValidationError({"rule": _("The rule chooses no cooperative in this scope and period.")})
        save_record(campaign)
        fields = ["pk", "name", *(f"link_{name}" for name in parsed.links)]
        writer = _TargetWriter(campaign)
        batch: list[tuple[Any, ...]] = []
        written = 0
        for row in chosen.values_list(*fields).iterator(chunk_size=batch_size):
            batch.append(row)
            if len(batch) >= batch_size:
                written += writer.write(batch, parsed.links)
                batch = []
        written += writer.write(batch, parsed.links)
        if written != campaign.target_count:  # the registry moved between the count and the insert
            before = snapshot(campaign)
            campaign.target_count = written
            save_record(campaign, before=before, validate=False)
    return campaign


class _TargetWriter:
    """Writes a campaign's targets in bulk (`insert_rows`: one multi-row INSERT or a COPY per batch) and their
    history (`record_bulk`), with instances built without Model.__init__ (at 100,000 targets the instances
    cost more than the writes): the history reads the target's fields, its campaign and its cooperative's
    name only."""

    COLUMNS = ("created_at", "updated_at", "campaign", "cooperative", "matched")

    def __init__(self, campaign: Campaign) -> None:
        from django.db import connections, router

        self.campaign = campaign
        self.alias = router.db_for_write(CampaignTarget)
        self.connection = connections[self.alias]
        self.fields: list[Any] = [CampaignTarget._meta.get_field(name) for name in self.COLUMNS]

    def write(self, rows: list[tuple[Any, ...]], links: Iterable[str]) -> int:
        if not rows:
            return 0
        from hezuo.core.models import bare_instance
        from hezuo.core.services import insert_rows

        links = list(links)
        now = timezone.now()
        stamp = self.fields[0].get_db_prep_save(now, self.connection)
        matched_field = self.fields[4]
        chosen = [
            (pk, name, [link for link, hit in zip(links, row_hits, strict=True) if hit])
            for pk, name, *row_hits in rows
        ]
        values = [
            (stamp, stamp, self.campaign.pk, pk, matched_field.get_db_prep_save(matched, self.connection))
            for pk, _name, matched in chosen
        ]
        columns = [f.column for f in self.fields]
        keys = insert_rows(CampaignTarget, columns, values, returning=True, using=self.alias)
        targets = [
            bare_instance(
                CampaignTarget,
                self.alias,
                {
                    "id": key,
                    "created_at": now,
                    "updated_at": now,
                    "retired_at": None,
                    "campaign_id": self.campaign.pk,
                    "cooperative_id": pk,
                    "matched": matched,
                },
                {
                    "campaign": self.campaign,
                    "cooperative": bare_instance(Cooperative, self.alias, {"id": pk, "name": name}),
                },
            )
            for key, (pk, name, matched) in zip(keys, chosen, strict=True)
        ]
        record_bulk(targets, ChangeRecord.Action.CREATE)
        return len(targets)


# ------------------------------------------------------------------------------------------------------
# progress
def target_status(visited_on: dt.date | None, end: dt.date, today: dt.date) -> str:
    """visited, due (the period has not ended) or overdue: a pure function."""
    if visited_on is not None:
        return VISITED
    return DUE if today <= end else OVERDUE


def as_of(campaign: Campaign, today: dt.date) -> dt.date:
    """The date the counselor of each target is taken on: the end of the period, or today while it runs."""
    return min(today, campaign.end_date)


def visits_in_period(user: Any) -> QuerySet[Any]:
    """Visits (in the user's reach) to an outer CampaignTarget's cooperative, dated within its campaign."""
    return restrict(Visit.objects.all(), user, VIEW).filter(
        cooperative_id=OuterRef("cooperative_id"),
        retired_at__isnull=True,
        date__gte=OuterRef("campaign__start_date"),
        date__lte=OuterRef("campaign__end_date"),
    )


def counselor_on(on: dt.date) -> Subquery:
    return Subquery(
        CounselorAssignment.objects.current(on)
        .filter(cooperative_id=OuterRef("cooperative_id"))
        .order_by("-start_date", "-pk")
        .values("counselor_id")[:1]
    )


def targets_of(campaign: Campaign, user: Any, today: dt.date | None = None) -> QuerySet[Any]:
    """The campaign's targets in the user's reach, annotated with `visited_on` (the first visit in the
    period) and `counselor_id_on` (the counselor assigned on the as-of date)."""
    today = today or timezone.localdate()
    first_visit = visits_in_period(user).order_by().values("cooperative_id").annotate(d=Min("date"))
    return (
        CampaignTarget.objects.restrict(user, VIEW)
        .filter(campaign=campaign, retired_at__isnull=True)
        .annotate(
            visited_on=Subquery(first_visit.values("d")[:1]),
            counselor_id_on=counselor_on(as_of(campaign, today)),
        )
    )


def filter_status(qs: QuerySet[Any], status: str, campaign: Campaign, today: dt.date) -> QuerySet[Any]:
    if status == VISITED:
        return qs.filter(visited_on__isnull=False)
    if status in (DUE, OVERDUE):
        pending = qs.filter(visited_on__isnull=True)
        return pending if target_status(None, campaign.end_date, today) == status else pending.none()
    return qs


@dataclass
class ProgressRow:
    key: str  # district code, counselor id, "none", or "total"
    label: str
    targets: int = 0
    visited: int = 0
    due: int = 0
    overdue: int = 0

    @property
    def share(self) -> float | None:
        return round(100 * self.visited / self.targets, 1) if self.targets else None


def _row(key: str, label: str, n: int, visited: int, pending_status: str) -> ProgressRow:
    row = ProgressRow(key, label, n, visited)
    setattr(row, pending_status, n - visited)
    return row


def progress(campaign: Campaign, user: Any, today: dt.date | None = None) -> dict[str, Any]:
    """The progress table: totals, per district and per counselor (two GROUP BY queries)."""
    from hezuo.accounts.models import User

    today = today or timezone.localdate()
    pending = target_status(None, campaign.end_date, today)
    qs = targets_of(campaign, user, today)
    visited = Count("pk", filter=Q(visited_on__isnull=False))
    districts = [
        _row(r["cooperative__district__code"], r["cooperative__district__name"], r["n"], r["v"], pending)
        for r in qs.values("cooperative__district__code", "cooperative__district__name")
        .annotate(n=Count("pk"), v=visited)
        .order_by("cooperative__district__code")
    ]
    by_counselor = {
        r["counselor_id_on"]: (r["n"], r["v"])
        for r in qs.values("counselor_id_on").annotate(n=Count("pk"), v=visited).order_by()
    }
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=[k for k in by_counselor if k])}
    counselors = sorted(
        (_row(str(k), names.get(k, str(k)), n, v, pending) for k, (n, v) in by_counselor.items() if k),
        key=lambda r: (-(r.due + r.overdue), r.label),
    )
    if None in by_counselor:
        n, v = by_counselor[None]
        counselors.append(_row("none", _("No counselor assigned"), n, v, pending))
    total = ProgressRow("total", _("Total"))
    for row in districts:
        total.targets += row.targets
        total.visited += row.visited
        total.due += row.due
        total.overdue += row.overdue
    return {"total": total, "districts": districts, "counselors": counselors, "pending": pending}


def drilldown(
    campaign: Campaign,
    user: Any,
    *,
    district: str = "",
    counselor: str = "",
    status: str = "",
    today: dt.date | None = None,
) -> QuerySet[Any]:
    """The targets behind a number of the progress table (the same selection as the count)."""
    today = today or timezone.localdate()
    qs = targets_of(campaign, user, today)
    if district:
        qs = qs.filter(cooperative__district__code=district)
    if counselor == "none":
        qs = qs.filter(counselor_id_on__isnull=True)
    elif counselor.isdigit():
        qs = qs.filter(counselor_id_on=int(counselor))
    qs = filter_status(qs, status, campaign, today)
    return qs.select_related("cooperative", "cooperative__district", "cooperative__town").order_by(
        "cooperative__district__code", "cooperative__name", "pk"
    )


def overview(campaigns: Iterable[Campaign], user: Any) -> dict[int, tuple[int, int]]:
    """{campaign id: (targets in the user's reach, visited)} for a page of campaigns (one query)."""
    ids = [c.pk for c in campaigns]
    if not ids:
        return {}
    rows = (
        CampaignTarget.objects.restrict(user, VIEW)
        .filter(campaign_id__in=ids, retired_at__isnull=True)
        .annotate(visited=Exists(visits_in_period(user)))
        .values("campaign_id")
        .annotate(n=Count("pk"), v=Count("pk", filter=Q(visited=True)))
        .order_by()
    )
    return {r["campaign_id"]: (r["n"], r["v"]) for r in rows}


def pending_targets(user: Any, today: dt.date, *, window_days: int) -> QuerySet[Any]:
    """Targets in the user's reach not visited in their period, of campaigns that have started and ended no
    more than `window_days` ago (older campaigns no longer remind anyone)."""
    since = today - dt.timedelta(days=window_days)
    return (
        CampaignTarget.objects.restrict(user, VIEW)
        .filter(
            retired_at__isnull=True,
            campaign__retired_at__isnull=True,
            campaign__start_date__lte=today,
            campaign__end_date__gte=since,
            cooperative__retired_at__isnull=True,
        )
        .filter(~Exists(visits_in_period(user)))
        .annotate(end=F("campaign__end_date"))
    )
