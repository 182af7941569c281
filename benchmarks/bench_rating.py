"""Annual rating of every generated cooperative: `bench: rating_seconds`, `bench: rating_coops_per_s`,
`bench: rating_peak_rss_mb`, `bench: rating_ratio_to_floor`.

The floor is measured in the same run: bulk-inserting the same number of rating rows (the rows just
written, copied to another year) with bulk_create alone. Goals (issue 3): within 3x of the floor, at least
10,000 cooperatives per second end to end, memory flat as the count grows (batches, streaming).
"""

from __future__ import annotations

import time
from typing import Any

from .common import SIZE, emit, peak_rss_mb

FLOOR_YEAR = 2999  # a year no real rating uses; the floor's rows are removed afterwards


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except OSError:
        return 0.0


def _scratch_delete(year: int) -> None:
    """The benchmark database is scratch: remove earlier runs' rows so every run measures fresh inserts."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from hezuo.core.models import ChangeRecord
    from hezuo.rating.models import Alert, Rating

    with transaction.atomic():
        ids = Rating.objects.filter(year=year).values("pk")
        Alert.objects.filter(rating__year=year).delete()
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(Rating), object_id__in=ids
        ).delete()
        Rating.objects.filter(year=year).delete()


def _floor(year: int, batch_size: int = 2000) -> tuple[float, int]:
    """Seconds spent in bulk_create writing a copy of every rating of `year` (reading them back excluded)."""
    from django.db import transaction

    from hezuo.rating.models import Rating

    fields = [
        "cooperative_id",
        "rubric_id",
        "score",
        "score_max",
        "stars",
        "stars_low",
        "missing_count",
        "status",
        "explanation",
        "created_at",
        "updated_at",
    ]
    spent = 0.0
    written = 0
    last = 0
    while True:
        rows = list(
            Rating.objects.filter(year=year, pk__gt=last).order_by("pk").values("pk", *fields)[:batch_size]
        )
        if not rows:
            break
        last = rows[-1]["pk"]
        objs = [Rating(year=FLOOR_YEAR, **{k: row[k] for k in fields}) for row in rows]
        started = time.perf_counter()
        with transaction.atomic():
            Rating.objects.bulk_create(objs, batch_size=1000)
        spent += time.perf_counter() - started
        written += len(objs)
    return spent, written


def run() -> None:
    from django.db import reset_queries
    from django.db.models import Max

    from hezuo.core.context import change_context
    from hezuo.rating import services
    from hezuo.registry.models import YearlyFact

    services.ensure_default_rubric()
    year = YearlyFact.objects.aggregate(y=Max("year"))["y"]
    rubric = services.published_rubric(year)
    if rubric is None:
        with change_context(source="cli"):
            services.publish_rubric(services.Rubric.objects.order_by("version").first(), year)
    _scratch_delete(year)
    _scratch_delete(FLOOR_YEAR)
    rss_before = current_rss_mb()
    samples: list[tuple[int, float]] = []

    def progress(counts: Any) -> None:
        reset_queries()  # DEBUG keeps every query in memory; the product's task does not run with DEBUG
        samples.append((counts.done, current_rss_mb()))

    started = time.perf_counter()
    with change_context(source="cli", reason="benchmark"):
        counts = services.rate(year, progress=progress)
    seconds = time.perf_counter() - started
    rss_after = current_rss_mb()
    floor_seconds, floor_rows = _floor(year)
    _scratch_delete(FLOOR_YEAR)
    n = counts.done
    emit("rating_count", n)
    emit("rating_seconds", seconds, "s")
    emit("rating_coops_per_s", n / seconds if seconds else 0.0)
    emit("rating_floor_seconds", floor_seconds, "s")
    emit("rating_ratio_to_floor", seconds / floor_seconds if floor_seconds else 0.0)
    emit("rating_peak_rss_mb", peak_rss_mb(), "MB")
    # memory flat as the count grows: resident memory at the first and the last tenth of the run
    if len(samples) >= 4:
        tenth = max(1, len(samples) // 10)
        early = max(rss for _done, rss in samples[:tenth])
        late = max(rss for _done, rss in samples[-tenth:])
        emit("rating_rss_growth_mb", late - early, "MB")
    emit("rating_rss_delta_mb", rss_after - rss_before, "MB")
    emit("rating_undecided", counts.undecided)
    assert floor_rows == counts.created + counts.updated + counts.unchanged, (floor_rows, counts)
    emit("rating_size", SIZE)
