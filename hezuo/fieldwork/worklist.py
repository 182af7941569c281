"""A counselor's open work from other apps, for their home page and the workload view.

Fieldwork does not know the other apps' models: an app registers a *source* of open work items for a user
(the counselor's home lists them in one section per source) and, optionally, a *counter* of open items per
owner (the workload view adds them up in its "open tasks" column). The compliance app registers its open
rectification tasks, the rating app its open alerts, each in its AppConfig.ready():

    register_source("compliance.tasks", _("Open rectification tasks"), open_tasks, counter=open_per_owner)

Every source reads through the scoping chokepoint with the user it is given.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Work:
    """One open item: what (title), about which cooperative, until when (None: no deadline), where to act."""

    title: str
    cooperative: Any
    url: str
    due: dt.date | None = None
    note: str = ""

    def overdue(self, today: dt.date) -> bool:
        return self.due is not None and self.due < today


@dataclass(frozen=True)
class Section:
    key: str
    label: Any
    items: list[Work]
    total: int


Source = Callable[[Any, dt.date, int], tuple[list[Work], int]]  # (user, today, limit) -> (items, total)
Counter = Callable[[Any, Iterable[int]], dict[int, int]]  # (viewing user, owner ids) -> {owner id: open}


@dataclass(frozen=True)
class _Registered:
    label: Any
    source: Source
    counter: Counter | None


SOURCES: dict[str, _Registered] = {}
LIMIT = 50


def register_source(key: str, label: Any, source: Source, *, counter: Counter | None = None) -> None:
    """Add (or replace) a source of open work under a key."""
    SOURCES[key] = _Registered(label, source, counter)


def sections(user: Any, today: dt.date, limit: int = LIMIT) -> list[Section]:
    """The open work of every source for the user, in registration order (sections without items too: the
    page says "none")."""
    found = []
    for key, registered in SOURCES.items():
        items, total = registered.source(user, today, limit)
        found.append(Section(key, registered.label, items, total))
    return found


def open_per_owner(user: Any, owner_ids: Iterable[int]) -> dict[int, int]:
    """{owner id: open items} summed over every source with a counter, as far as `user` may see them."""
    owners = list(owner_ids)
    totals: dict[int, int] = defaultdict(int)
    for registered in SOURCES.values():
        if registered.counter is not None:
            for owner, n in registered.counter(user, owners).items():
                totals[owner] += n
    return dict(totals)
