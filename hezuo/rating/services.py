"""The rating's service functions: every write of the app goes through here, atomically, with its history.

Rubrics: load a file, copy a version into a new draft, edit a draft, publish a version for a year.
Ratings: rate a year (batches, bulk writes with their history), review, request a re-rate, confirm.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import multiprocessing.util
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context, current_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, VIEW, ScopedQuerySet, can
from hezuo.core.services import history_head, notify_bulk, record_bulk, save_record, snapshot
from hezuo.core.years import FISCAL_FIRST, FISCAL_LAST
from hezuo.registry.models import Cooperative

from . import adapter, engine
from .models import Confirmation, Rating, RatingRun, Rubric, RubricPublication
from .rubric import (
    DEFAULT_RUBRIC_FILE,
    RubricError,
    content_hash,
    load_document,
    split_document,
    to_yaml,
    validate,
)

logger = logging.getLogger(__name__)


class RatingError(ValidationError):
    """A rating action that cannot be done, with the reason for the user."""


def _require(user: Any, model: type, action: str) -> None:
    if user is not None and getattr(user, "pk", None) and not can(user, model, action):
        raise PermissionDenied(_("You may not do this."))


# ---------------------------------------------------------------------------------------------------
# rubrics


def next_version(code: str) -> int:
    return (Rubric.objects.filter(code=code).aggregate(n=Max("version"))["n"] or 0) + 1


@transaction.atomic
def load_rubric(text: str, *, user: Any = None, publish: bool = True) -> Rubric:
    """Create a rubric version from a YAML document; refused with every problem named. Publishes it for the
    years the file lists unless `publish` is False (or the year already has a version)."""
    _require(user, Rubric, ADD)
    meta, definition = load_document(text)
    code = meta["code"].strip()
    version = meta.get("version") or next_version(code)
    if Rubric.objects.filter(code=code, version=version).exists():
        raise RubricError(
            [
                _("version: %(code)s v%(v)d exists already; leave the version out to add the next one.")
                % {"code": code, "v": version}
            ]
        )
    rubric = Rubric(
        code=code,
        version=version,
        title=_title_text(meta.get("title")) or code,
        provisional=bool(meta.get("provisional", False)),
        source_note=str(meta.get("source") or "").strip(),
        definition=definition,
        content_hash=content_hash(definition),
    )
    save_record(rubric)
    if publish:
        for year in meta.get("years") or []:
            if not RubricPublication.objects.filter(year=year, retired_at__isnull=True).exists():
                publish_rubric(rubric, year, user=user)
    return rubric


def _title_text(title: Any) -> str:
    if isinstance(title, dict):
        return " / ".join(str(v) for v in title.values())[:200]
    return str(title or "")[:200]


def load_rubric_file(path: Path | str, *, user: Any = None, publish: bool = True) -> Rubric:
    return load_rubric(Path(path).read_text(encoding="utf-8"), user=user, publish=publish)


def ensure_default_rubric() -> Rubric | None:
    """Load the shipped provisional rubric once (idempotent): for `hezuo setup` and tests.

    Returns the rubric created, or None when its code is already present."""
    meta, definition = load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))
    existing = Rubric.objects.filter(code=meta["code"], content_hash=content_hash(definition)).first()
    if existing is not None:
        return None
    with change_context(source="cli"):
        return load_rubric_file(DEFAULT_RUBRIC_FILE)


def rubric_yaml(rubric: Rubric) -> str:
    return to_yaml(
        {
            "code": rubric.code,
            "title": rubric.title,
            "provisional": rubric.provisional,
            "source": rubric.source_note,
        },
        rubric.definition,
    )


@transaction.atomic
def copy_rubric(rubric: Rubric, *, user: Any = None) -> Rubric:
    """A new draft version with the same definition, to be edited."""
    _require(user, Rubric, ADD)
    copy = Rubric(
        code=rubric.code,
        version=next_version(rubric.code),
        title=rubric.title,
        provisional=rubric.provisional,
        source_note=rubric.source_note,
        definition=rubric.definition,
        content_hash=rubric.content_hash,
        copied_from=rubric,
        status=Rubric.Status.DRAFT,
    )
    save_record(copy)
    return copy


def editable_problem(rubric: Rubric) -> str | None:
    """Why the version cannot be edited, or None."""
    if rubric.has_results():
        return _("This version has produced ratings and is never changed; copy it into a new draft.")
    if rubric.status != Rubric.Status.DRAFT:
        return _("Only a draft can be edited; copy this version into a new draft.")
    return None


@transaction.atomic
def update_rubric(rubric: Rubric, text: str, *, user: Any = None) -> Rubric:
    """Replace a draft's definition (and title, source, provisional flag) from a YAML document."""
    _require(user, Rubric, CHANGE)
    rubric = Rubric.objects.select_for_update().get(pk=rubric.pk)
    problem = editable_problem(rubric)
    if problem:
        raise RubricError([problem])
    meta, definition = split_document(_parse_with_code(text, rubric.code))
    validate(definition)
    before = snapshot(rubric)
    if "title" in meta:
        rubric.title = _title_text(meta["title"]) or rubric.title
    if "source" in meta:
        rubric.source_note = str(meta["source"] or "").strip()
    if "provisional" in meta:
        rubric.provisional = bool(meta["provisional"])
    if meta.get("code") not in (None, rubric.code):
        raise RubricError(
            [_("code: a version cannot change its rubric's code (%(code)s).") % {"code": rubric.code}]
        )
    rubric.definition = definition
    rubric.content_hash = content_hash(definition)
    save_record(rubric, before=before)
    return rubric


def _parse_with_code(text: str, code: str) -> dict[str, Any]:
    from .rubric import parse_text

    doc = parse_text(text)
    doc.setdefault("code", code)
    return doc


@transaction.atomic
def publish_rubric(rubric: Rubric, year: int, *, user: Any = None) -> RubricPublication:
    """Make `rubric` the version used to rate `year` (replacing the year's former version)."""
    _require(user, RubricPublication, ADD)
    validate(rubric.definition)
    if not FISCAL_FIRST <= int(year) <= FISCAL_LAST:
        raise RatingError(
            _("Give a year between %(first)d and %(last)d.") % {"first": FISCAL_FIRST, "last": FISCAL_LAST}
        )
    current = RubricPublication.objects.filter(year=year, retired_at__isnull=True).first()
    if current is not None:
        if current.rubric_id == rubric.pk:
            return current
        from hezuo.core.services import retire_record

        retire_record(current)
    if rubric.status != Rubric.Status.PUBLISHED:
        before = snapshot(rubric)
        rubric.status = Rubric.Status.PUBLISHED
        save_record(rubric, before=before)
    publication = RubricPublication(year=year, rubric=rubric)
    save_record(publication)
    return publication


def published_rubric(year: int) -> Rubric | None:
    publication = (
        RubricPublication.objects.filter(year=year, retired_at__isnull=True).select_related("rubric").first()
    )
    return publication.rubric if publication else None


# ---------------------------------------------------------------------------------------------------
# rating a year
#
# rate() streams the year's cooperatives in batches: the adapter reads a batch as plain rows, the engine
# rates it (engine.RowRater: the rubric compiled once, the explanation encoded as it is stored, the history
# snapshot filled in), and this process writes it in one transaction: new ratings and their change records
# by bulk insert (adapter.BulkInsert), re-rated provisional ones through the ORM with record_bulk,
# confirmed ones left alone. With many cooperatives and more than one core, the engine runs in worker
# processes while a writer thread writes on its own connection (a few batches in flight at most, so memory
# stays flat whatever the count). Outside a transaction the workers read their batches themselves, each on
# its own connection, given ranges of cooperative ids (adapter.batch_bounds): this process then only finds
# the ranges and writes, and the cores run the engine; inside one (only this connection sees its data)
# this thread reads the rows and sends them.

RATING_UPDATE_FIELDS = [
    "rubric",
    "score",
    "score_max",
    "stars",
    "stars_low",
    "missing_count",
    "explanation",
    "rerate_requested",
    "updated_at",
]


# a re-rated provisional rating whose rubric and these values are the same is left as it is (its
# explanation is not read back: rating again costs no JSON decoding)
UNCHANGED_WHEN_EQUAL = ("score", "score_max", "stars", "stars_low", "missing_count")

# the fields a new rating's row gives (the others keep their defaults), and a change record's
NEW_RATING_FIELDS = (
    "cooperative",
    "year",
    "rubric",
    "status",
    "score",
    "score_max",
    "stars",
    "stars_low",
    "missing_count",
    "explanation",
    "created_at",
    "updated_at",
)

BATCH_SIZE = 2000  # cooperatives per batch: one transaction (the benchmark's floor writes the same)
POOL_MIN = 5_000  # fewer cooperatives than this are rated in this process (workers pay off from here)


@dataclass
class RateCounts:
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_confirmed: int = 0
    undecided: int = 0


def rubric_ref(rubric: Rubric) -> dict[str, Any]:
    """The rubric version as every explanation names it."""
    return {"id": rubric.pk, "code": rubric.code, "version": rubric.version, "hash": rubric.content_hash}


def explanation_of(result: Any, rubric: Rubric) -> dict[str, Any]:
    """The stored explanation (engine.EXPLANATION_FORMAT) of an engine result."""
    return engine.explanation_data(result.evaluation, rubric_ref(rubric))


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def facts_query(year: int, where: Q | None = None) -> Any:
    return adapter.facts_query(year, where)


def rate_job(year: int, rubric: Rubric) -> engine.RateJob:
    """What the rating of rows needs (sent once to each worker process)."""
    prototype = Rating(
        cooperative=Cooperative(pk=0, name=""),
        year=year,
        rubric=rubric,
        status=Rating.Status.PROVISIONAL,
        score=Decimal(0),
        score_max=Decimal(0),
        stars_low=0,
        missing_count=0,
    )
    return engine.RateJob(
        year=year,
        definition=rubric.definition,
        content_hash=rubric.content_hash,
        rubric_ref=rubric_ref(rubric),
        facts=adapter.FACT_FIELDS,
        dates=adapter.DATE_FACTS,
        previous=adapter.PREVIOUS_FIELDS,
        snapshot=json.loads(json.dumps(snapshot(prototype))),  # plain values (no enum members)
    )


def worker_count(total: int, workers: int | None = None) -> int:
    """Engine processes for rating `total` cooperatives: none (rate here) for small runs or a single core;
    else one per core, at most 4. `workers` or settings.HEZUO_RATING_WORKERS decide instead when set.

    One per core on SQLite and PostgreSQL alike: the workers read their own batches (see rate()), so with
    fewer workers than cores the rating waits on one worker's reading and rating in turn; this process
    (the writer) and a PostgreSQL server beside us then share the cores with them, which the operating
    system balances better than a core left to either. (Measured on 2 cores, 100,000 cooperatives:
    docs/benchmarks.md.)"""
    if workers is None:
        workers = getattr(settings, "HEZUO_RATING_WORKERS", None)
    if workers is not None:
        return max(0, int(workers))
    cores = os.cpu_count() or 1
    if cores < 2 or total < POOL_MIN:
        return 0
    return min(cores, 4)


# what a rated batch comes back as: (rows read, rows left alone as confirmed, the rated rows)
Outcome = tuple[int, int, list[engine.Rated]]


def _start_reader(job: engine.RateJob, where: Q | None) -> None:
    """Initialise a forked worker process that reads its batches itself, on its own database connections:
    the connections inherited from the parent are set aside unused and never closed (closing them here
    would end the parent's session or its SQLite handle); this process opens its own when it first reads."""
    from asgiref.local import Local

    global _READ_WHERE
    _INHERITED.append(connections._connections)  # type: ignore[attr-defined]
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]
    _READ_WHERE = where
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)  # its own, when it ends
    engine.start_worker(job)


_INHERITED: list[Any] = []
_READ_WHERE: Q | None = None


def confirmed_in(year: int, after: int, upto: int | None) -> frozenset[int]:
    """The cooperatives of ids (after, upto] whose rating of `year` is confirmed (final: not rated again)."""
    ratings = Rating.objects.filter(
        year=year, retired_at__isnull=True, status=Rating.Status.CONFIRMED, cooperative_id__gt=after
    )
    if upto is not None:
        ratings = ratings.filter(cooperative_id__lte=upto)
    return frozenset(ratings.order_by().values_list("cooperative_id", flat=True))


def _rate_range(year: int, after: int, upto: int | None, include_confirmed: bool) -> Outcome:
    """In a worker process: read the cooperatives of ids (after, upto] and rate them (not those whose
    rating is confirmed, unless `include_confirmed`)."""
    skip = frozenset() if include_confirmed else confirmed_in(year, after, upto)
    return _rate_rows(adapter.read_range(year, after, upto, where=_READ_WHERE), skip, engine.rate_in_worker)


def _rate_rows(
    rows: list[tuple[Any, ...]],
    skip: frozenset[int],
    rate: Callable[[list[tuple[Any, ...]]], list[engine.Rated]],
) -> Outcome:
    todo = [row for row in rows if row[0] not in skip] if skip else rows
    return len(rows), len(rows) - len(todo), rate(todo)


class _Raters:
    """Rates batches: in this process, or in worker processes while this one writes.

    Workers are forked where the platform can (a fork does not run the main module again as spawn does)
    and spawned elsewhere. With `reading` (forked workers, committed data: see rate()), each worker reads
    the batches it rates, given as ranges of cooperative ids, on its own database connection; else they
    run the engine only, on the rows this process reads and sends. If a worker dies, the batches still to
    rate are read and rated here."""

    def __init__(self, job: engine.RateJob, workers: int, reading: bool, where: Q | None) -> None:
        self.job = job
        self.where = where
        self.local: engine.RowRater | None = None
        self.pool: ProcessPoolExecutor | None = None
        self.lock = threading.Lock()  # writer threads may fall back to rating here at once
        self.reading = reading and workers > 0 and "fork" in multiprocessing.get_all_start_methods()
        if workers > 0:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            initializer, initargs = (
                (_start_reader, (job, where)) if self.reading else (engine.start_worker, (job,))
            )
            self.pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context(method),
                initializer=initializer,  # type: ignore[arg-type]
                initargs=initargs,  # type: ignore[arg-type]
            )
            # start the workers now, before this process runs any other thread (forking a process whose
            # threads hold locks is unsafe); a fork start method starts them all on the first call
            try:
                self.pool.submit(int).result()
            except BrokenProcessPool:
                self._lost_workers()

    def submit(self, rows: list[tuple[Any, ...]], skip: frozenset[int]) -> Any:
        """A handle to the rated rows (a worker's future, or the outcome itself)."""
        if self.pool is not None:
            try:
                return self.pool.submit(engine.rate_rows_in_worker, rows, skip)
            except BrokenProcessPool:
                self._lost_workers()
        return _rate_rows(rows, skip, self._here().rate)

    def submit_range(self, after: int, upto: int | None, include_confirmed: bool) -> Any:
        """A handle to the rated rows of the cooperatives of ids (after, upto], read by a worker."""
        if self.pool is not None:
            try:
                return self.pool.submit(_rate_range, self.job.year, after, upto, include_confirmed)
            except BrokenProcessPool:
                self._lost_workers()
        return self._read_here(after, upto, include_confirmed)

    def result(self, handle: Any, rows: list[tuple[Any, ...]] | tuple[int, int | None], skip: Any) -> Outcome:
        """The outcome of a handle; `rows`: the batch's rows or id range, rated here if its worker died."""
        if isinstance(handle, tuple):
            return handle
        try:
            return handle.result()  # type: ignore[no-any-return]
        except BrokenProcessPool:
            self._lost_workers()
            if isinstance(rows, tuple):
                return self._read_here(*rows, include_confirmed=skip)
            return _rate_rows(rows, skip, self._here().rate)

    def _read_here(self, after: int, upto: int | None, include_confirmed: bool) -> Outcome:
        year = self.job.year
        skip = frozenset() if include_confirmed else confirmed_in(year, after, upto)
        rows = adapter.read_range(year, after, upto, where=self.where)
        return _rate_rows(rows, skip, self._here().rate)

    def _here(self) -> engine.RowRater:
        with self.lock:
            if self.local is None:
                self.local = engine.row_rater(self.job)
            return self.local

    def _lost_workers(self) -> None:
        with self.lock:
            if self.pool is None:
                return
            logger.warning("rating: a worker process died; rating the remaining batches in this process")
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def close(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
            self.pool = None


def rate(
    year: int,
    *,
    rubric: Rubric | None = None,
    where: Q | None = None,
    batch_size: int | None = None,
    progress: Callable[[RateCounts], None] | None = None,
    include_confirmed: bool = False,
    workers: int | None = None,
) -> RateCounts:
    """Rate every active cooperative with facts for `year` (or those matching `where`), batch by batch.

    New ratings are bulk-inserted, provisional ones re-rated in place, confirmed ones left as they are.
    Each batch is one transaction with its history. Runs in the current change context. `workers`: engine
    processes (default: worker_count()). `progress(counts)` follows each batch written (in a big run outside
    a transaction, from a writer thread: see writer_threads)."""
    rubric = rubric or published_rubric(year)
    if rubric is None:
        raise RatingError(_("No rubric is published for %(year)d: publish one first.") % {"year": year})
    counts = RateCounts(total=facts_query(year, where).count())
    if counts.total == 0:
        return counts
    batch_size = batch_size or BATCH_SIZE
    job = rate_job(year, rubric)
    writer = _BatchWriter(
        year, rubric, counts, current_context(), include_confirmed, engine.snapshot_parts(job.snapshot)
    )
    processes = worker_count(counts.total, workers)
    threads = writer_threads(processes)
    collecting = gc.isenabled()
    gc.disable()  # nothing here makes reference cycles worth collecting; scanning the batches costs time
    # workers read their own batches where they see what this process sees: outside a transaction, in a
    # database other processes open (the writer threads' condition, less a shared in-memory SQLite one)
    connection = connections[router.db_for_read(Rating)]
    private = connection.vendor == "sqlite" and connection.is_in_memory_db()  # type: ignore[attr-defined]
    reading = threads > 0 and not private
    raters = _Raters(job, processes, reading, where)
    sink = _Sink(writer, raters, threads, processes, progress)
    try:
        if raters.reading:
            # this process only finds the batches' id ranges (an index scan each) and writes
            for after, upto in adapter.batch_bounds(year, where=where, batch_size=batch_size):
                sink.put(
                    (after, upto), include_confirmed, raters.submit_range(after, upto, include_confirmed)
                )
        else:
            for rows in adapter.read_batches(year, where=where, batch_size=batch_size):
                # confirmed ratings are not rated again; with writer threads, the writer leaves them alone
                # instead (this connection does not read the table they write)
                skip: frozenset[int] = frozenset()
                if rows and not threads and not include_confirmed:
                    skip = confirmed_in(year, rows[0][0] - 1, rows[-1][0])
                sink.put(rows, skip, raters.submit(rows, skip))
        sink.close()
    except BaseException:
        sink.abort()
        raters.close(cancel=True)
        raise
    finally:
        raters.close()
        if collecting:
            gc.enable()
    return counts


def writer_threads(processes: int) -> int:
    """Threads that write the rated batches, on their own connection, while this thread reads: none (write
    here) for small runs, inside a transaction (only this connection sees its data) or in a private
    in-memory SQLite database; else one. (A second writer gains nothing measurable on two cores: SQLite
    writes one transaction at a time, and PostgreSQL's server then competes with the engine for the cores.)"""
    if not processes:
        return 0
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        return 0
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        return 1 if "cache=shared" in str(connection.settings_dict["NAME"]) else 0
    return 1


# a batch handed to the engine: (its rows and the cooperatives left out (confirmed), or its id range and
# include_confirmed; the handle to its outcome)
Handed = tuple[Any, Any, Any]


class _Sink:
    """Takes the batches handed to the engine and writes them as they come out rated: in this thread, in
    order, `in_flight` batches behind; or in writer threads. A few batches at most are held at any time."""

    def __init__(
        self,
        writer: _BatchWriter,
        raters: _Raters,
        threads: int,
        in_flight: int,
        progress: Callable[[RateCounts], None] | None,
    ) -> None:
        self.writer = writer
        self.raters = raters
        self.progress = progress
        self.in_flight = in_flight
        self.pending: deque[Handed] = deque()
        self.queue: queue.Queue[Handed | None] = queue.Queue(maxsize=max(1, in_flight))
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._work, name=f"rating-writer-{i}") for i in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def put(self, batch: Any, skip: Any, handle: Any) -> None:
        item = (batch, skip, handle)
        if not self.threads:
            self.pending.append(item)
            while len(self.pending) > self.in_flight:
                self._write(*self.pending.popleft())
        else:
            self._offer(item)

    def close(self) -> None:
        """Write what is left, and raise the first error of a writer thread."""
        while self.pending:
            self._write(*self.pending.popleft())
        for _thread in self.threads:
            self._offer(None)
        for thread in self.threads:
            thread.join()
        self._raise()

    def abort(self) -> None:
        """Stop the writer threads (after the batch each is writing)."""
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _offer(self, item: Handed | None) -> None:
        while True:
            self._raise()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self.errors:
            raise self.errors[0]

    def _write(self, batch: Any, skip: Any, handle: Any) -> None:
        self.writer.write(*self.raters.result(handle, batch, skip))
        if self.progress is not None:
            with self.writer.lock:
                self.progress(self.writer.counts)

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    item = self.queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    return
                self._write(*item)
        except BaseException as exc:  # raised in the reading thread
            self.errors.append(exc)
            self.stop.set()
        finally:
            connections.close_all()  # this thread's connections


class _BatchWriter:
    """Writes rated batches: one transaction per batch, new ratings and their history in bulk."""

    def __init__(
        self,
        year: int,
        rubric: Rubric,
        counts: RateCounts,
        ctx: Any,
        include_confirmed: bool,
        snapshot_parts: tuple[str, ...],
    ) -> None:
        self.year = year
        self.rubric = rubric
        self.counts = counts
        self.ctx = ctx
        self.include_confirmed = include_confirmed
        self.ratings = adapter.BulkInsert(Rating, NEW_RATING_FIELDS, ids=True)
        self.new_history = adapter.NewRatingHistory(snapshot_parts)
        self.rating_type = ContentType.objects.get_for_model(Rating).pk
        self.parent_type = ContentType.objects.get_for_model(Cooperative).pk
        self.lock = threading.Lock()  # writer threads add to the counts
        # no rating of the year yet (the first annual rating): batches are inserted without reading first
        self.none_before = not Rating.objects.filter(year=year, retired_at__isnull=True).exists()

    def add(self, delta: RateCounts) -> None:
        with self.lock:
            for name in ("done", "created", "updated", "unchanged", "skipped_confirmed", "undecided"):
                setattr(self.counts, name, getattr(self.counts, name) + getattr(delta, name))

    def existing(self, first: int, last: int) -> dict[int, tuple[Any, ...]]:
        """The ratings of the year of the cooperatives of ids first to last."""
        return {
            row[0]: row
            for row in Rating.objects.filter(
                year=self.year, retired_at__isnull=True, cooperative_id__gte=first, cooperative_id__lte=last
            )
            .order_by()  # no default ordering: it joins the cooperatives
            .values_list(
                "cooperative_id", "pk", "status", "rubric_id", "rerate_requested", *UNCHANGED_WHEN_EQUAL
            )
        }

    def write(self, read: int, skipped: int, rated: list[engine.Rated]) -> None:
        """One batch in one transaction (on this thread's connection): `read` rows, of which `skipped` left
        out (confirmed), the others `rated`. The batch's ratings are read in the transaction: new ones are
        inserted, provisional ones updated, confirmed ones (confirmed since the rating began: final) left."""
        delta = RateCounts(done=read, skipped_confirmed=skipped)
        with transaction.atomic():
            if rated and self.none_before and self._insert_all(rated, delta):
                self.add(delta)
                return
            existing = self.existing(rated[0][0], rated[-1][0]) if rated else {}
            new = rated
            if existing:
                if not self.include_confirmed:
                    confirmed = Rating.Status.CONFIRMED
                    kept = [r for r in rated if r[0] not in existing or existing[r[0]][2] != confirmed]
                    delta.skipped_confirmed += len(rated) - len(kept)
                    rated = kept
                new = [r for r in rated if r[0] not in existing]
            delta.undecided = sum(1 for r in rated if r[3] is None)
            if new:
                self._insert(new, delta)
            if len(new) < len(rated):
                self._update([r for r in rated if r[0] in existing], existing, delta)
        self.add(delta)

    def _insert_all(self, rated: list[engine.Rated], delta: RateCounts) -> bool:
        """No rating of the year was there when the run began: insert the batch as new ratings without
        reading the year's ratings first. False (nothing written) if one was made since by someone else
        (the table's unique constraint refuses the batch): the caller then reads them and goes on."""
        attempt = RateCounts()
        connection = transaction.get_connection()
        try:
            with transaction.atomic():  # a savepoint
                self._insert(rated, attempt)
        except (IntegrityError, connection.Database.IntegrityError):
            return False
        delta.created += attempt.created
        delta.undecided = sum(1 for r in rated if r[3] is None)
        return True

    def _insert(self, rated: list[engine.Rated], delta: RateCounts) -> None:
        ids = self.ratings.new_ids(len(rated))
        now = timezone.now()
        stamp = self.ratings.prepare("created_at", now)
        year, rubric_id, status = self.year, self.rubric.pk, Rating.Status.PROVISIONAL.value
        self.ratings.insert(
            [
                (
                    pk,
                    coop,
                    year,
                    rubric_id,
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
                for pk, (coop, score, top, stars, low, gone, text) in zip(ids, rated, strict=True)
            ]
        )
        head, message = history_head(ChangeRecord.Action.CREATE, now, ctx=self.ctx)
        self.new_history.insert(ids, (*head, self.rating_type), (self.parent_type, message))
        notify_bulk(Rating, ids)
        delta.created += len(rated)

    def _update(
        self, rated: list[engine.Rated], existing: dict[int, tuple[Any, ...]], delta: RateCounts
    ) -> None:
        """Provisional ratings rated again: unchanged ones are left alone, the others updated with history."""
        counts = delta
        changed: dict[int, engine.Rated] = {}
        for r in rated:
            coop, score, top, stars, low, gone = r[:6]
            _coop, pk, _status, rubric_id, rerate, *old = existing[coop]
            if (
                rubric_id == self.rubric.pk
                and not rerate
                and old == [_decimal(score), _decimal(top), stars, low, gone]
            ):
                counts.unchanged += 1
            else:
                changed[pk] = r
        if not changed:
            return
        qs = Rating.objects.select_for_update(of=("self",)).filter(pk__in=list(changed))
        if not self.include_confirmed:  # confirmed meanwhile: final
            qs = qs.filter(status=Rating.Status.PROVISIONAL)
        ratings = list(
            qs.select_related("cooperative", "rubric", "reviewed_by", "confirmed_by").defer("explanation")
        )
        befores = [snapshot(r) for r in ratings]
        now = timezone.now()
        for rating in ratings:
            _coop, score, top, stars, low, gone, text = changed[rating.pk]
            rating.rubric = self.rubric
            rating.score, rating.score_max = _decimal(score), _decimal(top)
            rating.stars, rating.stars_low, rating.missing_count = stars, low, gone
            rating.explanation = json.loads(text)
            rating.rerate_requested = False
            rating.updated_at = now
        Rating.objects.bulk_update(ratings, RATING_UPDATE_FIELDS, batch_size=500)
        record_bulk(ratings, ChangeRecord.Action.UPDATE, befores, ctx=self.ctx)
        counts.updated += len(ratings)
        counts.unchanged += len(changed) - len(ratings)


def check_can_rate(year: int, where: Q | None = None) -> Rubric:
    """The rubric to rate `year` with; RatingError when there is nothing to rate or no rubric."""
    if not facts_query(year, where).exists():
        raise RatingError(_("No cooperative has facts for %(year)d: nothing was rated.") % {"year": year})
    rubric = published_rubric(year)
    if rubric is None:
        raise RatingError(_("No rubric is published for %(year)d: publish one first.") % {"year": year})
    return rubric


def start_run(year: int, *, user: Any, district: Any = None, run_now: bool = False) -> RatingRun:
    """Record a rating run of `year` and hand it to the task queue (or run it here with run_now)."""
    _require(user, RatingRun, ADD)
    where = Q(cooperative__district=district) if district is not None else None
    rubric = check_can_rate(year, where)
    with change_context(user=user):
        run = RatingRun(
            year=year,
            rubric=rubric,
            district=district,
            started_by=user if getattr(user, "pk", None) else None,
            total=facts_query(year, where).count(),
        )
        save_record(run)
    if run_now:
        return execute_run(run.pk)
    from .tasks import rate_year_task

    result = rate_year_task.enqueue(run.pk)
    RatingRun.objects.filter(pk=run.pk, task_id="").update(task_id=str(result.id)[:64])
    run.refresh_from_db()
    return run


def execute_run(run_id: int) -> RatingRun:
    """Do a recorded run: rate, report progress on the run row after every batch, finish it."""
    run = RatingRun.objects.select_related("rubric", "started_by", "district").get(pk=run_id)
    if run.status in (RatingRun.Status.DONE, RatingRun.Status.RUNNING):
        return run
    where = Q(cooperative__district_id=run.district_id) if run.district_id else None
    RatingRun.objects.filter(pk=run.pk).update(status=RatingRun.Status.RUNNING, started_at=timezone.now())

    def progress(counts: RateCounts) -> None:
        RatingRun.objects.filter(pk=run.pk).update(done=counts.done, total=max(counts.total, counts.done))

    try:
        with change_context(
            user=run.started_by, source="task", reason=_("rating of %(year)d") % {"year": run.year}
        ):
            counts = rate(run.year, rubric=run.rubric, where=where, progress=progress)
    except Exception as exc:
        RatingRun.objects.filter(pk=run.pk).update(
            status=RatingRun.Status.FAILED, finished_at=timezone.now(), message=str(exc)[:2000]
        )
        raise
    RatingRun.objects.filter(pk=run.pk).update(
        status=RatingRun.Status.DONE,
        finished_at=timezone.now(),
        done=counts.done,
        total=counts.total,
        created=counts.created,
        updated=counts.updated,
        skipped_confirmed=counts.skipped_confirmed,
        undecided=counts.undecided,
    )
    run.refresh_from_db()
    return run


# ---------------------------------------------------------------------------------------------------
# one cooperative


@transaction.atomic
def rate_one(cooperative: Cooperative, year: int, *, user: Any = None) -> Rating | None:
    """(Re-)rate one cooperative for a year with the year's published rubric; a confirmed rating stays."""
    rubric = check_can_rate(year, Q(cooperative=cooperative))
    with change_context(**({"user": user} if user is not None else {})):
        rate(year, rubric=rubric, where=Q(cooperative=cooperative))
    return Rating.objects.filter(cooperative=cooperative, year=year, retired_at__isnull=True).first()


def rerate_requested(year: int, *, user: Any, district: Any = None) -> RateCounts:
    """Re-rate the provisional ratings whose district asked for it (city staff)."""
    _require(user, RatingRun, ADD)
    where = Q(
        cooperative__ratings__year=year,
        cooperative__ratings__rerate_requested=True,
        cooperative__ratings__retired_at__isnull=True,
        cooperative__ratings__status=Rating.Status.PROVISIONAL,
    )
    if district is not None:
        where &= Q(cooperative__district=district)
    rubric = published_rubric(year)
    if rubric is None:
        raise RatingError(_("No rubric is published for %(year)d: publish one first.") % {"year": year})
    with change_context(user=user, reason=_("re-rate requested by the district")):
        return rate(year, rubric=rubric, where=where)


# ---------------------------------------------------------------------------------------------------
# review and confirmation


def _scoped_rating(rating: Rating, user: Any, action: str) -> Rating:
    qs = ScopedQuerySet.restrict(Rating.objects.filter(pk=rating.pk), user, action)  # type: ignore[arg-type]
    found = qs.select_related("cooperative", "rubric", "reviewed_by", "confirmed_by").first()
    if found is None:
        raise PermissionDenied(_("You may not do this."))
    return found


@transaction.atomic
def review(rating: Rating, *, user: Any, note: str, request_rerate: bool = False) -> Rating:
    """District staff's review of a provisional rating: a note, and optionally a request to re-rate."""
    rating = _scoped_rating(rating, user, CHANGE)
    if rating.is_confirmed:
        raise RatingError(_("This rating is confirmed and final."))
    before = snapshot(rating)
    rating.review_note = note.strip()
    rating.reviewed_by = user
    rating.reviewed_at = timezone.now()
    if request_rerate:
        rating.rerate_requested = True
    save_record(rating, before=before)
    return rating


def confirmable(year: int, user: Any, district: Any = None) -> Any:
    qs = ScopedQuerySet.restrict(Rating.objects.all(), user, VIEW).filter(  # type: ignore[arg-type]
        year=year, status=Rating.Status.PROVISIONAL, retired_at__isnull=True
    )
    if district is not None:
        qs = qs.filter(cooperative__district=district)
    return qs


def confirm(
    year: int, *, user: Any, district: Any = None, note: str = "", batch_size: int = 2000
) -> Confirmation:
    """City staff confirm the provisional ratings of a year (one district, or all). Ratings with a pending
    re-rate request or undecided stars are left provisional. Confirmed ratings are final."""
    _require(user, Confirmation, ADD)
    if user is not None and getattr(user, "pk", None) and not can(user, Rating, CHANGE):
        raise PermissionDenied(_("You may not do this."))
    qs = confirmable(year, user, district).filter(rerate_requested=False, stars__isnull=False)
    now = timezone.now()
    total = 0
    with transaction.atomic(), change_context(user=user, reason=note or _("ratings confirmed")):
        confirmation = Confirmation(year=year, district=district, note=note[:500])
        save_record(confirmation)
        last = 0
        while True:
            batch = list(
                qs.filter(pk__gt=last)
                .order_by("pk")
                .select_related("cooperative", "rubric", "reviewed_by", "confirmed_by")[:batch_size]
            )
            if not batch:
                break
            befores = [snapshot(r) for r in batch]
            for rating in batch:
                rating.status = Rating.Status.CONFIRMED
                rating.confirmed_by = user if getattr(user, "pk", None) else None
                rating.confirmed_at = now
                rating.updated_at = now
            Rating.objects.bulk_update(
                batch, ["status", "confirmed_by", "confirmed_at", "updated_at"], batch_size=500
            )
            record_bulk(batch, ChangeRecord.Action.UPDATE, befores)
            total += len(batch)
            last = batch[-1].pk
        before = snapshot(confirmation)
        confirmation.count = total
        save_record(confirmation, before=before)
    return confirmation


def ratings_of(cooperative: Cooperative, user: Any) -> Iterable[Rating]:
    return (
        Rating.objects.restrict(user, VIEW)
        .filter(cooperative=cooperative, retired_at__isnull=True)
        .select_related("rubric")
        .order_by("year")
    )
