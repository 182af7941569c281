"""One timeline of a cooperative's fieldwork: visits, contact notes, cleanup cases, and what other apps add.

A *source* is a function `fn(user, cooperative) -> iterable of Entry`; it must read through the scoping
chokepoint (`restrict(..., user, "view")`), so a user only sees entries within reach. Another app adds its
source with `register_source("compliance.rectification", fn)` in its AppConfig.ready(); until the
compliance app registers one, a generic source shows its `RectificationCase` rows (if that model exists and
has a `cooperative` foreign key) by their creation date, string and link. Nothing here imports that app.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from hezuo.core.scoping import VIEW, can, restrict


@dataclass(frozen=True)
class Entry:
    date: dt.date
    kind: str  # visit, contact, cleanup, rectification, …
    title: str
    text: str = ""
    url: str = ""
    who: str = ""
    icon: str = "bi-dot"
    order: int = 0  # ties on a date and time: higher first
    extra: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None  # when it was recorded: ties on a date, the later first


Source = Callable[[Any, Any], Iterable[Entry]]
SOURCES: dict[str, Source] = {}
COMPLIANCE_KEY = "compliance.rectification"


def register_source(key: str, fn: Source) -> Source:
    """Add (or replace) a timeline source under a key."""
    SOURCES[key] = fn
    return fn


def _local(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(moment).date() if moment else None


def visits_source(user: Any, cooperative: Any) -> Iterable[Entry]:
    from .models import Visit

    qs = restrict(Visit.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW)
    for v in qs.select_related("visitor", "campaign").order_by("-date", "-id")[:200]:
        parts = [str(v.get_classification_display())] if v.classification else []
        if v.people_met:
            parts.append(_("met: %(p)s") % {"p": v.people_met})
        if v.campaign_id:
            parts.append(_("for %(c)s") % {"c": v.campaign})
        yield Entry(
            v.date, "visit", _("Visit"), " · ".join(parts), v.get_absolute_url(), str(v.visitor),
            "bi-geo-alt", 2, at=v.created_at,
        )  # fmt: skip


def contacts_source(user: Any, cooperative: Any) -> Iterable[Entry]:
    from .models import ContactNote

    qs = restrict(ContactNote.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW)
    icons = {"call": "bi-telephone", "meeting": "bi-people", "message": "bi-chat-dots", "other": "bi-journal"}
    for note in qs.select_related("author").order_by("-date", "-id")[:200]:
        title = str(note.get_kind_display())
        if note.people:
            title = f"{title} · {note.people}"
        yield Entry(
            note.date, "contact", title, note.text, "", str(note.author), icons.get(note.kind, ""), 1,
            at=note.created_at,
        )  # fmt: skip


def cleanup_source(user: Any, cooperative: Any) -> Iterable[Entry]:
    """Each step of each cleanup case: opened, verified, approved, actions carried out, closed or cleared."""
    from .models import CleanupCase

    qs = restrict(CleanupCase.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW)
    for case in qs.order_by("-created_at")[:50]:
        url = case.get_absolute_url()
        name = _("Cleanup case #%(n)s") % {"n": case.pk}
        steps: list[tuple[dt.datetime | None, str, str]] = [(case.created_at, _("opened"), "")]
        if case.verified_at:
            steps.append(
                (case.verified_at, pgettext("timeline step", "verified"), str(case.get_finding_display()))
            )
        if case.approved_at:
            steps.append((case.approved_at, _("approved by the city"), case.approval_note))
        if case.actions_at:
            steps.append((case.actions_at, _("actions carried out"), case.action_reason))
        if case.closed_at:
            label = _("cleared") if case.status == CleanupCase.Status.CLEARED else _("closed")
            steps.append((case.closed_at, label, case.clear_reason or case.closing_note))
        for moment, step, text in reversed(steps):  # newest first
            date = _local(moment)
            if date is not None:
                yield Entry(date, "cleanup", f"{name} {step}", text, url, "", "bi-trash", 0, at=moment)


def generic_compliance_source(user: Any, cooperative: Any) -> Iterable[Entry]:
    """Rectification cases, shown plainly until the compliance app registers its own source."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    try:
        model = apps.get_model("compliance", "RectificationCase")
        model._meta.get_field("cooperative")
    except (LookupError, FieldDoesNotExist):  # no such model or field (yet): nothing to show
        return []
    if not can(user, model, VIEW):
        return []
    qs = restrict(model._default_manager.filter(cooperative=cooperative), user, VIEW)
    if any(f.name == "retired_at" for f in model._meta.get_fields()):
        qs = qs.filter(retired_at__isnull=True)
    entries = []
    for obj in qs.order_by("-pk")[:50]:
        created = getattr(obj, "created_at", None)
        url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
        entries.append(
            Entry(_local(created) or timezone.localdate(), "rectification", str(obj), "", url, "",
                  "bi-clipboard-check")
        )  # fmt: skip
    return entries


register_source("fieldwork.visits", visits_source)
register_source("fieldwork.contacts", contacts_source)
register_source("fieldwork.cleanup", cleanup_source)


def timeline_for(user: Any, cooperative: Any, limit: int = 100) -> list[Entry]:
    """The cooperative's entries from every source, newest first."""
    sources = dict(SOURCES)
    if COMPLIANCE_KEY not in sources and not any(key.startswith("compliance.") for key in sources):
        sources[COMPLIANCE_KEY] = generic_compliance_source
    streams = [sorted(fn(user, cooperative), key=_key) for fn in sources.values()]
    return list(heapq.merge(*streams, key=_key))[:limit]


def _key(entry: Entry) -> tuple[int, float, int]:
    return (-entry.date.toordinal(), -(entry.at.timestamp() if entry.at else 0.0), -entry.order)
