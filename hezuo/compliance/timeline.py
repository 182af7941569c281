"""The cooperative timeline's source of rectification cases (hezuo.fieldwork.timeline): each case's
opening, start, closing or cancellation, and the special assistance given under it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from hezuo.core.scoping import VIEW, can, restrict
from hezuo.fieldwork.timeline import COMPLIANCE_KEY, Entry, register_source

from .models import RectificationCase, SpecialAssistance


def _local(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(moment).date() if moment else None


def rectification_source(user: Any, cooperative: Any) -> Iterable[Entry]:
    if not can(user, RectificationCase, VIEW):
        return []
    cases = restrict(
        RectificationCase.objects.filter(cooperative=cooperative, retired_at__isnull=True), user, VIEW
    ).order_by("-opened_on", "-pk")[:50]
    entries: list[Entry] = []
    for case in cases:
        url = case.get_absolute_url()
        name = _("Rectification case #%(n)s (%(year)s)") % {"n": case.pk, "year": case.year}
        steps: list[tuple[dt.date | None, str, str]] = [(case.opened_on, _("opened"), case.note)]
        if case.started_at:
            steps.append((_local(case.started_at), pgettext("timeline step", "started"), ""))
        if case.status == RectificationCase.Status.CLOSED:
            steps.append((case.closed_on or _local(case.closed_at), _("closed"), case.closing_note))
        elif case.status == RectificationCase.Status.CANCELLED:
            steps.append((_local(case.closed_at), _("cancelled"), case.cancel_reason))
        for date, step, text in steps:
            if date is not None:
                entries.append(
                    Entry(date, "rectification", f"{name} {step}", text, url, "", "bi-clipboard-check")
                )
    if can(user, SpecialAssistance, VIEW):
        assistance = restrict(
            SpecialAssistance.objects.filter(case__cooperative=cooperative, retired_at__isnull=True),
            user,
            VIEW,
        ).select_related("case")[:100]
        for record in assistance:
            title = _("Special assistance: %(kind)s") % {"kind": record.get_kind_display()}
            entries.append(
                Entry(
                    record.date, "rectification", title, record.description, record.case.get_absolute_url(),
                    record.given_by, "bi-hand-thumbs-up",
                )
            )  # fmt: skip
    return entries


register_source(COMPLIANCE_KEY, rectification_source)
