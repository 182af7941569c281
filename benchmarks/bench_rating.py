"""Annual rating of every generated cooperative: `bench: rating_seconds`, `bench: rating_coops_per_s`,
`bench: rating_peak_rss_mb`, `bench: rating_ratio_to_floor`.

The floor is measured in the same run: writing the same number of rating rows (the rows just written,
copied to another year: same width, same explanation text) with bulk inserts alone, by the same writer the
rating uses for new ratings (adapter.BulkInsert: SQLite executemany of one prepared INSERT, PostgreSQL COPY),
in transactions of the same size, with as many writer threads (services.writer_threads); on PostgreSQL the
writer's transactions commit with synchronous_commit off, the rating's and the floor's alike. Reading the
rows back is not counted. Goals (issue 3): within 3x of the
floor, at least 10,000 cooperatives per second end to end, memory flat as the count grows (batches,
streaming).

The run is timed as the product's task runs it: with DEBUG off (no query log), its worker processes
reading their own batches of facts (services.rate). BENCH_RATING_WORKERS sets the number of engine worker
processes (default: services.worker_count(), one per core).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .common import SIZE, emit, peak_rss_mb

FLOOR_YEAR = 2999  # a year no real rating uses; the floor's rows are removed afterwards


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except OSError:
        return 0.0


def reset_peak_rss() -> bool:
    """Start measuring the peak resident memory afresh (Linux: /proc/self/clear_refs), so that the figure
    is the rating's own and not the database generator's or an earlier benchmark's."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_since_reset_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def _scratch_delete(year: int) -> None:
    """The benchmark database is scratch: remove earlier runs' rows so every run measures fresh inserts
    (plain DELETE statements: the ORM's delete() would load every row to check what refers to it)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from hezuo.core.models import ChangeRecord
    from hezuo.rating.models import Alert, Rating

    q = connection.ops.quote_name
    ratings, alerts, changes = Rating._meta.db_table, Alert._meta.db_table, ChangeRecord._meta.db_table
    content_type = ContentType.objects.get_for_model(Rating).pk
    with transaction.atomic(), connection.cursor() as cursor:
        selected = f"SELECT {q('id')} FROM {q(ratings)} WHERE {q('year')} = %s"
        cursor.execute(f"DELETE FROM {q(alerts)} WHERE {q('rating_id')} IN ({selected})", [year])
        where = f"{q('content_type_id')} = %s AND {q('object_id')} IN ({selected})"
        cursor.execute(f"DELETE FROM {q(changes)} WHERE {where}", [content_type, year])
        cursor.execute(f"DELETE FROM {q(ratings)} WHERE {q('year')} = %s", [year])


def _floor(year: int) -> tuple[float, int]:
    """Seconds spent writing a copy of every rating of `year` the way the rating writes new ones: the same
    writer, transactions of the same size, as many writer threads (each on its own connection)."""
    import threading

    from django.db import connections, transaction
    from django.db.models import TextField
    from django.db.models.functions import Cast
    from django.utils import timezone

    from hezuo.rating import adapter, services
    from hezuo.rating.models import Rating

    writer = adapter.BulkInsert(Rating, services.NEW_RATING_FIELDS, ids=True)
    batch_size = services.BATCH_SIZE
    threads = max(1, services.writer_threads(1))

    errors: list[BaseException] = []

    def write(batches: list[list[tuple[Any, ...]]]) -> None:
        try:
            for rows in batches:
                with transaction.atomic():
                    ids = writer.new_ids(len(rows))
                    stamp = writer.prepare("created_at", timezone.now())
                    writer.insert(
                        [
                            (
                                pk,
                                coop,
                                FLOOR_YEAR,
                                rubric,
                                status,
                                score,
                                top,
                                stars,
                                low,
                                gone,
                                text,
                                stamp,
                                stamp,
                            )
                            for pk, (coop, rubric, status, score, top, stars, low, gone, text) in zip(
                                ids, rows, strict=True
                            )
                        ]
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()

    spent = 0.0
    written = 0
    last = 0
    while True:
        # read (not timed) a few batches per thread, then write them (timed)
        chunk: list[list[tuple[Any, ...]]] = []
        for _ in range(4 * threads):
            rows = adapter.fetch(
                Rating.objects.filter(year=year, cooperative_id__gt=last)
                .order_by("cooperative_id")  # by the (cooperative, year) index: each batch reads its rows
                .annotate(text=Cast("explanation", TextField()))
                .values_list(
                    "cooperative_id",
                    "rubric_id",
                    "status",
                    "score",
                    "score_max",
                    "stars",
                    "stars_low",
                    "missing_count",
                    "text",
                )[:batch_size]
            )
            if not rows:
                break
            last = rows[-1][0]
            # the explanation as the rating wrote it: compact JSON (PostgreSQL gives jsonb back with spaces)
            chunk.append(
                [(*row[:-1], json.dumps(json.loads(row[-1]), separators=(",", ":"))) for row in rows]
            )
        if not chunk:
            break
        started = time.perf_counter()
        if threads == 1:
            write(chunk)
        else:
            workers = [threading.Thread(target=write, args=(chunk[i::threads],)) for i in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        spent += time.perf_counter() - started
        if errors:
            raise errors[0]
        written += sum(len(rows) for rows in chunk)
    return spent, written


def run() -> None:
    from django.db.models import Max
    from django.test.utils import override_settings

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
    own_peak = reset_peak_rss()
    rss_before = current_rss_mb()
    samples: list[tuple[int, float]] = []

    def progress(counts: Any) -> None:
        samples.append((counts.done, current_rss_mb()))

    workers = os.environ.get("BENCH_RATING_WORKERS")
    with override_settings(DEBUG=False):
        started = time.perf_counter()
        with change_context(source="cli", reason="benchmark"):
            counts = services.rate(year, progress=progress, workers=int(workers) if workers else None)
        seconds = time.perf_counter() - started
        rss_after = current_rss_mb()
        peak = peak_rss_since_reset_mb() if own_peak else peak_rss_mb()
        floor_seconds, floor_rows = _floor(year)
    _scratch_delete(FLOOR_YEAR)
    n = counts.done
    emit("rating_count", n)
    emit("rating_workers", services.worker_count(counts.total, int(workers) if workers else None))
    emit("rating_seconds", seconds, "s")
    emit("rating_coops_per_s", n / seconds if seconds else 0.0)
    emit("rating_floor_seconds", floor_seconds, "s")
    emit("rating_ratio_to_floor", seconds / floor_seconds if floor_seconds else 0.0)
    emit("rating_peak_rss_mb", peak, "MB")
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
