"""Caches of the plans' computations, keyed by the data's version so that they are never stale for long.

The version is the newest change record (id and time): every write of the platform goes through
hezuo.core.services and writes one (bulk writes included), so any change to ratings, cooperatives,
sponsorships and the rest moves it. Reading it is one lookup on the primary key index.

Cached, per data version:
- the year's rating status per district (how many confirmed ratings each district has: it decides, per
  district, whether confirmed or provisional ratings count), a property of the district;
- a plan's frame: its metrics, targets and closed years, and the city's districts;
- each metric's values of a year for every district of the city, computed over the whole city and shared
  by every user and page (the table, the dashboard, a district's page, the API, the export): a user whose
  scope is a set of districts keeps their districts' values, which are the same numbers their own
  cooperatives give.

A transaction that commits after a later one could leave an entry computed without it under the newest
version; entries therefore also expire after TIMEOUT seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q

TIMEOUT = 300
PREFIX = "hezuo:targets:"
_generation = 0  # bumped by clear(): benchmarks and tests start cold without flushing the whole cache


def data_version() -> str:
    """The newest change record's id and time (the time too: ids can be reused after a rollback)."""
    from hezuo.core.models import ChangeRecord

    newest = ChangeRecord.objects.order_by("-pk").values_list("pk", "time").first()
    return f"{newest[0]}@{newest[1].timestamp()}" if newest else "0"


def clear() -> None:
    """Forget every cached computation of this app (the next ones start cold)."""
    global _generation
    _generation += 1


def _key(kind: str, *parts: Any) -> str:
    return PREFIX + ":".join(str(p) for p in (kind, _generation, *parts))


def rating_status(year: int, version: str | None = None) -> dict[int, int]:
    """{district id: number of confirmed ratings of the year} for every district with ratings that year."""
    version = data_version() if version is None else version
    key = _key("rating-status", year, version)
    found = cache.get(key)
    if found is None:
        from hezuo.rating.models import Rating

        rows = (
            Rating.objects.filter(year=year, retired_at__isnull=True)
            .values("cooperative__district_id")
            .annotate(confirmed=Count("pk", filter=Q(status=Rating.Status.CONFIRMED)))
            .order_by()
        )
        found = {r["cooperative__district_id"]: r["confirmed"] for r in rows}
        cache.set(key, found, TIMEOUT)
    return dict(found)


def city_actuals(
    plan_pk: int, metric_pk: int, year: int, version: str, compute: Callable[[], dict[int, Any]]
) -> dict[int, Any]:
    """A metric's values of a year for every district of the city ({district id: Actual}), computed once per
    data version and shared: each user's table keeps the districts they reach (the districts partition
    the city, so a district's number is the same whoever computes it)."""
    key = _key("actuals", plan_pk, metric_pk, year, version)
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, TIMEOUT)
    return dict(found)


def plan_frame(plan_pk: int, version: str, compute: Callable[[], Any]) -> Any:
    """A plan's metrics, targets, closed years and the city's districts (progress.Frame), once per version."""
    key = _key("frame", plan_pk, version)
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, TIMEOUT)
    return found
