"""Rating alerts not yet resolved, as a source of the counselor's home (hezuo.fieldwork.worklist): the
cooperatives in the user's reach whose stars would drop. Read through the scoping chokepoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hezuo.core.scoping import VIEW, restrict
from hezuo.fieldwork.worklist import Work, register_source

from .models import Alert
from .monitoring import OPEN  # not yet resolved

SOURCE_KEY = "rating.alerts"


def stars_text(stars: int | None) -> str:
    """Stars in words for a sentence: "3★", or "not rated" for none."""
    return f"{stars}★" if stars else str(_("not rated"))


def open_alerts(user: Any, today: dt.date, limit: int) -> tuple[list[Work], int]:
    alerts = restrict(Alert.objects.filter(status__in=OPEN, retired_at__isnull=True), user, VIEW)
    total = alerts.count()
    items = [
        Work(
            title=_("%(rated)s would become %(now)s")
            % {"rated": stars_text(a.stars_rated), "now": stars_text(a.stars_now)},
            cooperative=a.cooperative,
            url=a.get_absolute_url(),
            note=a.get_status_display(),
        )
        for a in alerts.select_related("cooperative").order_by("-created_at", "-pk")[:limit]
    ]
    return items, total


register_source(SOURCE_KEY, gettext_lazy("Star-rating alerts"), open_alerts)
