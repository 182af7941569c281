"""The reminder source of rectification tasks past their deadline (hezuo.fieldwork.reminders).

Counselors (and anyone else) are reminded of the overdue tasks they own; district and city staff of every
overdue task in their reach. Read through the scoping chokepoint (rectification.overdue_tasks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from hezuo.fieldwork.reminders import SAMPLE, Group, Item, register_source

from .rectification import STAFF, overdue_tasks, role_of

SOURCE_KEY = "compliance.tasks"


def overdue_source(user: Any, today: dt.date) -> Iterable[Group]:
    qs = overdue_tasks(user, today)
    staff = role_of(user) in STAFF
    if not staff:
        qs = qs.filter(owner=user)
    count = qs.count()
    if not count:
        return []
    items = tuple(
        Item(
            f"{task.case.cooperative.name} · {task.item.key}",
            task.deadline,
            _("owner %(owner)s") % {"owner": task.owner} if staff else "",
            task.get_absolute_url(),
        )
        for task in qs[:SAMPLE]
    )
    if staff:
        label = _("Rectification tasks past their deadline")
    else:
        label = _("Your rectification tasks past their deadline")
    url = reverse("compliance:case_list") + "?status=active&overdue=1"
    return [Group(key="rectification-tasks", label=label, count=count, items=items, url=url)]


register_source(SOURCE_KEY, overdue_source)
