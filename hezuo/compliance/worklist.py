"""Open rectification tasks as a source of the counselor's home and the workload (hezuo.fieldwork.worklist).

A user's section lists the open tasks of active cases that they own; the workload counts them per owner.
Read through the scoping chokepoint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from hezuo.fieldwork.worklist import Work, register_source

from . import rectification

SOURCE_KEY = "compliance.tasks"


def open_tasks(user: Any, today: dt.date, limit: int) -> tuple[list[Work], int]:
    mine = rectification.open_tasks(user).filter(owner=user)
    total = mine.count()
    items = [
        Work(
            title=f"{task.item.key} {task.item.title}",
            cooperative=task.case.cooperative,
            url=task.get_absolute_url(),
            due=task.deadline,
        )
        for task in mine.select_related("case__cooperative", "case__checklist", "item").order_by(
            "deadline", "pk"
        )[:limit]
    ]
    return items, total


def open_per_owner(user: Any, owner_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        rectification.open_tasks(user)
        .filter(owner_id__in=list(owner_ids))
        .order_by()  # no ordering: it would join the GROUP BY
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    return dict(rows)


register_source(SOURCE_KEY, _("Open rectification tasks"), open_tasks, counter=open_per_owner)
