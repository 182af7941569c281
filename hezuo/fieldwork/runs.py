"""Detection runs: load a rule set, screen the cooperatives in batches, write the new flags in bulk.

`run_detection(...)` is what `hezuo detect` and the nightly task (tasks.detect_task) call. Flags already
raised (same cooperative, rule, year and rule-set version) are not raised again; every new flag gets one
change record (who, when, request id, reason; the cooperative as parent, so its history shows the flag).

Batches are ranges of cooperative ids (`_Screener.ranges`: keyset on the id, `batch_size` cooperatives
each; memory flat whatever the number of cooperatives). Screening a batch (`_Screener.screen`) reads it
in a fixed number of queries whatever its size: the ids of its cooperatives; the candidates (set-based
pre-filtering, below); the candidates' rows, their facts of the years the rules read
(detection.years_read) and their visits that answered "operating?"; the flags already raised. The queries
run on a plain cursor (rows as the driver gives them, no model instance or field converter per value;
`_Reader` turns them into the engine's inputs). The pure engine (detection.screen) decides and explains
each flag; the screener then prepares what is written: the flag's row with its evidence as JSON text, and
its history's text and after-snapshot (the snapshot core.services.snapshot takes of the new flag, from a
template made once per run: `_after_format`).

Worker processes (`_Screeners`, worker_count()): in a large run, forked workers screen the batches, each
reading on its own database connection (SQLite in WAL mode lets them read beside the writer), while this
process writes the batches screened before (`_FlagWriter`): a transaction per batch holding its new flags
(`insert_rows`: SQLite multi-row INSERT, PostgreSQL COPY), their change records (as record_bulk writes
them) and the run's counters. Without workers (a small run, inside a transaction, a private in-memory
database) each batch is screened here, in its transaction. When a batch's transaction commits, the
after-bulk-change hooks of flags run (record_bulk's): the star rating's monitoring re-evaluates the
flagged cooperatives (rating.monitoring.reevaluate_flagged).

Set-based pre-filtering: most cooperatives meet few rules, so the database first says which cooperatives
of a batch may meet which rule (one query, `_Candidates`: per rule a condition every cooperative the rule
flags meets — a necessary condition, not always a sufficient one), and the engine then evaluates only those
rules for only those cooperatives (detection.screen's `only`), reading only their facts and, for the rules
that read observations, their visits. The engine stays the judge: a candidate it does not flag raises
nothing, and a rule without a condition here (a new rule) is evaluated for every cooperative. That the
conditions are necessary is tested against the pure engine (tests/test_runs_prefilter.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import logging
import multiprocessing
import multiprocessing.util
import os
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models import F
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord, bare_instance
from hezuo.core.services import CHANGE_COLUMNS, history_head, insert_rows, notify_bulk, save_record
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative, YearlyFact

from .detection import (
    RULES,
    CoopFacts,
    Observation,
    Rule,
    YearFacts,
    evaluate,
    parse_rules,
    screen,
    years_read,
)
from .models import DetectionRun, Flag, RuleSet, Visit

logger = logging.getLogger(__name__)

DEFAULT_RULES = Path(__file__).parent / "data" / "detection-rules-v1.yaml"
BATCH_SIZE = 5000  # cooperatives screened and written per transaction
# cooperatives already gone from the register are not screened
GONE = ("revoked", "deregistered")
MARKERS = ("subsidy_fraud", "illegal_finance", "serious_violation")
COOP_COLUMNS = (
    "id",
    "name",
    "registration_date",
    "operating_status",
    "suspended_since",
    "on_abnormal_list",
    "abnormal_listed_on",
    "subsidy_fraud",
    "illegal_finance",
    "serious_violation",
)
YEAR_FIELDS = (
    "members",
    "farmer_members",
    "revenue",
    "member_transactions",
    "assembly_held",
    "financial_statements",
    "annual_report_filed",
    "annual_report_date",
)


def load_ruleset(path: Path | str = DEFAULT_RULES, *, activate: bool = True) -> RuleSet:
    """Store the rule set of a YAML file (the CLI and the first run). The same version with the same rules:
    the stored one (activated if asked); the same version with other rules: refused (rulesets.py)."""
    from .rulesets import create_ruleset, parse_document

    document = parse_document(Path(path).read_text(encoding="utf-8"))
    return create_ruleset(
        None,
        document,
        activate=activate,
        reason=_("load detection rules %(version)s") % {"version": document["version"]},
        source="cli",
    )


def active_ruleset() -> RuleSet:
    ruleset = RuleSet.objects.filter(is_active=True, retired_at__isnull=True).order_by("-created_at").first()
    return ruleset or load_ruleset()


def default_year(as_of: dt.date | None = None) -> int:
    """The last full fiscal year."""
    return (as_of or timezone.localdate()).year - 1


class _Reader:
    """Reads the engine's inputs (detection.CoopFacts) for batches of cooperatives, straight from cursors.

    Drivers give dates as date objects (Django's SQLite connection declares converters) or as ISO text
    (a cast column), yes/no as booleans or 0/1: the reader gives the engine dates, and yes/no keep their
    truth value."""

    def __init__(self, years: list[int], as_of: dt.date) -> None:
        self.years = years
        self.as_of = as_of
        self.alias = router.db_for_read(YearlyFact)
        self.sqlite = connections[self.alias].vendor == "sqlite"

    def columns(self, model: type[models.Model], names: Iterable[str]) -> list[Any]:
        """What to select: money as floats (the rules compare it with 0; a float costs less to decode than a
        Decimal), and on SQLite dates as their ISO text (the driver's date converter costs more per value
        than date.fromisoformat)."""
        out: list[Any] = []
        for name in names:
            field = model._meta.get_field(name)
            date = isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)
            if date and self.sqlite:
                out.append(Cast(F(name), models.CharField()))
            elif isinstance(field, models.DecimalField):
                out.append(Cast(F(name), models.FloatField()))
            else:
                out.append(name)
        return out

    def rows(self, qs: Any) -> list[tuple[Any, ...]]:
        sql, params = qs.query.sql_with_params()
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def date(self, value: Any) -> dt.date | None:
        return dt.date.fromisoformat(value[:10]) if value.__class__ is str else value

    def ids(self, qs: Any, after: int, size: int) -> list[int]:
        """The ids of the next `size` cooperatives of `qs` after id `after`."""
        return [row[0] for row in self.rows(qs.filter(pk__gt=after).order_by("pk").values_list("pk")[:size])]

    def coops(self, qs: Any) -> list[tuple[Any, ...]]:
        """The cooperatives of `qs` as COOP_COLUMNS rows, by id."""
        return self.rows(qs.order_by("pk").values_list(*self.columns(Cooperative, COOP_COLUMNS)))

    def facts(
        self,
        coop_rows: list[tuple[Any, ...]],
        where: Where | None,
        visits_where: Where | None = None,
    ) -> list[CoopFacts]:
        """The detection input of these cooperatives (COOP_COLUMNS rows); `where` selects their facts and
        `visits_where` their visits (filters, or a sorted list of cooperative ids; by default the same;
        None: not read)."""
        if visits_where is None:
            visits_where = where
        years: dict[int, dict[int, YearFacts]] = defaultdict(dict)
        if self.years and where is not None:
            fact_rows = self.rows(
                _restrict(YearlyFact.objects.filter(retired_at__isnull=True, year__in=self.years), where)
                .order_by()  # not the model's ordering: a join with the cooperatives and a sort
                .values_list("cooperative_id", "year", *self.columns(YearlyFact, YEAR_FIELDS))
            )
            date = self.date
            for (
                coop_id,
                year,
                members,
                farmers,
                revenue,
                trans,
                assembly,
                statements,
                filed,
                filed_on,
            ) in fact_rows:
                years[coop_id][year] = YearFacts(
                    year, members, farmers, revenue, trans, assembly, statements, filed, date(filed_on)
                )
        observations: dict[int, list[Observation]] = defaultdict(list)
        visit_rows = []
        if visits_where is not None:
            visit_rows = self.rows(
                _restrict(
                    Visit.objects.filter(
                        retired_at__isnull=True, operating__isnull=False, date__lte=self.as_of
                    ),
                    visits_where,
                )
                .order_by("cooperative_id", "date", "pk")  # the same date: in the order recorded
                .values_list("cooperative_id", *self.columns(Visit, ["date"]), "operating", "pk")
            )
        day_of = cast(Callable[[Any], dt.date], self.date)  # a visit always has its date
        for coop_id, day, operating, pk in visit_rows:
            observations[coop_id].append(Observation(day_of(day), bool(operating), f"visit {pk}"))
        empty: dict[int, YearFacts] = {}
        return [
            CoopFacts(
                cooperative_id=pk,
                registration_date=self.date(registered),  # type: ignore[arg-type]
                operating_status=status,
                suspended_since=self.date(suspended),
                on_abnormal_list=bool(abnormal),
                abnormal_listed_on=self.date(listed_on),
                markers={
                    "subsidy_fraud": bool(fraud),
                    "illegal_finance": bool(finance),
                    "serious_violation": bool(violation),
                },
                years=years.get(pk, empty),
                observations=tuple(observations.get(pk, ())),
            )
            for pk, _name, registered, status, suspended, abnormal, listed_on, fraud, finance, violation in (
                coop_rows
            )
        ]


# which rows of cooperatives' facts, visits or flags to read: filters, or a sorted list of cooperative ids
Where = dict[str, Any] | list[int]


def _restrict(qs: Any, where: Where, field: str = "cooperative_id") -> Any:
    """`qs` filtered by `where`. A list of ids is written into the SQL as numbers, within the range of the
    list (building thousands of parameters through the ORM costs more than reading the rows)."""
    if isinstance(where, dict):
        return qs.filter(**where)
    meta = qs.model._meta
    column = meta.pk.column if field in ("pk", meta.pk.name) else meta.get_field(field).column
    q = connections[qs.db].ops.quote_name
    listed = ", ".join(str(int(pk)) for pk in where)
    bounded = qs.filter(**{f"{field}__gte": where[0], f"{field}__lte": where[-1]})
    return bounded.extra(where=[f"{q(meta.db_table)}.{q(column)} IN ({listed})"])


def facts_for(
    coops: list[Cooperative], year: int, as_of: dt.date | None = None, rules: list[Rule] | None = None
) -> list[CoopFacts]:
    """The detection input of a few cooperatives (for pages and the CLI), as a run reads it: the facts of
    the years `rules` read (by default: every rule with its default parameters)."""
    as_of = as_of or timezone.localdate()
    reader = _Reader(years_read(rules if rules is not None else _all_rules(), year, as_of), as_of)
    ids = [c.pk for c in coops]
    columns = reader.columns(Cooperative, COOP_COLUMNS)
    rows = reader.rows(Cooperative.objects.filter(pk__in=ids).order_by("pk").values_list(*columns))
    by_id = {row[0]: row for row in rows}
    return reader.facts([by_id[pk] for pk in ids], {"cooperative_id__in": ids})


def _all_rules() -> list[Rule]:
    """Every rule with its default parameters (what the active rule set may read at most)."""
    return parse_rules({"rules": {code: {} for code in RULES}})


def start_run(
    *, year: int | None = None, district: Division | None = None, as_of: dt.date | None = None
) -> DetectionRun:
    as_of = as_of or timezone.localdate()
    run = DetectionRun(
        ruleset=active_ruleset(), year=year or default_year(as_of), as_of=as_of, district=district
    )
    with change_context(source="task"):
        save_record(run)
    return run


def run_detection(
    *,
    year: int | None = None,
    district: Division | None = None,
    as_of: dt.date | None = None,
    batch_size: int = BATCH_SIZE,
    run: DetectionRun | None = None,
    progress: Callable[[DetectionRun], Any] | None = None,
    workers: int | None = None,
) -> DetectionRun:
    """Screen every cooperative (of one district, or all) for a fiscal year; returns the finished run.

    `progress(run)` is called after each batch written (the run's counters updated), e.g. by the benchmark.
    `workers`: screening processes (default: worker_count())."""
    run = run or start_run(year=year, district=district, as_of=as_of)
    try:
        rules: list[Rule] = parse_rules(run.ruleset.rules)
        DetectionRun.objects.filter(pk=run.pk).update(status=DetectionRun.Status.RUNNING)
        run.status = DetectionRun.Status.RUNNING
        run.checked = run.flags_created = run.flags_existing = 0
        screener = _Screener(_job(run, rules))
        with (
            _long_lived_objects_frozen(),
            change_context(
                source="task",
                reason=_("detection run %(run)s (%(version)s)")
                % {"run": run.pk, "version": run.ruleset.version},
            ),
        ):
            writer = _FlagWriter(run, progress)
            processes = worker_count(screener, workers)
            with _Screeners(screener, processes) as screeners:
                pending: deque[tuple[tuple[int, int | None], Any]] = deque()
                for bounds in screener.ranges(batch_size):
                    pending.append((bounds, screeners.submit(*bounds)))
                    while len(pending) > screeners.in_flight:
                        writer.write(*pending.popleft(), screeners)
                while pending:
                    writer.write(*pending.popleft(), screeners)
    except Exception as exc:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    DetectionRun.objects.filter(pk=run.pk).update(status=DetectionRun.Status.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Leave the objects alive when the run starts (modules, the app registry, caches) out of the garbage
    collector's full collections while it runs (gc.freeze): a run allocates hundreds of thousands of short-
    lived objects, which trigger full collections, and each of those walked every object of the process
    (a fifth of a run's CPU time). The run's own garbage is collected as before. (Frozen before the worker
    processes are forked: they inherit it, and leave those objects' pages shared.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# a new flag as a batch's screening gives it to the writer: (cooperative id, rule, kind, evidence as JSON
# text, explanation, the history's object text, the history's after-snapshot as JSON text)
NewFlag = tuple[int, str, str, str, str, str, str]
# a screened batch: (cooperatives checked, flags found already raised, the new flags)
Screened = tuple[int, int, list[NewFlag]]


@dataclass(frozen=True)
class _Job:
    """What screening a batch needs (given once to each worker process)."""

    rules: list[Rule]
    year: int
    as_of: dt.date
    district_id: int | None
    ruleset_id: int
    # the history's after-snapshot of a new flag of this run (core.services.snapshot), the fields that differ
    # from flag to flag (cooperative, rule, kind, and evidence and explanation unless history_exclude leaves
    # them out) filled in per flag
    after: dict[str, Any]


def _job(run: DetectionRun, rules: list[Rule]) -> _Job:
    from hezuo.core.services import fast_snapshot

    alias = router.db_for_write(Flag)
    prototype = bare_instance(
        Flag,
        alias,
        {
            "id": None,
            "created_at": None,
            "updated_at": None,
            "retired_at": None,
            "cooperative_id": 0,
            "rule": "",
            "kind": "",
            "year": run.year,
            "evidence": {},
            "explanation": "",
            "ruleset_id": run.ruleset_id,
            "run_id": run.pk,
            "status": Flag.Status.OPEN.value,
            "case_id": None,
        },
        # what the history shows for the flag's run: the run while it runs (as every flag's history said)
        {"cooperative": None, "ruleset": run.ruleset, "run": _Label(run.pk, str(run))},
    )
    after = json.loads(json.dumps(fast_snapshot(prototype)))  # plain values (no enum members)
    return _Job(rules, run.year, run.as_of, run.district_id, run.ruleset_id, after)


class _Screener:
    """Screens batches of cooperatives given as id ranges: reads them (pre-filtered, see _Candidates),
    runs the engine, and prepares the new flags' rows and their history's after-snapshot and text. In this
    process, or in a worker process on its own database connection (see _Screeners)."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        coops = Cooperative.objects.filter(retired_at__isnull=True).exclude(operating_status__in=GONE)
        if job.district_id:
            coops = coops.filter(district_id=job.district_id)
        self.coops = coops
        self.reader = _Reader(years_read(job.rules, job.year, job.as_of), job.as_of)
        self.candidates = _Candidates(job.rules, job.year, job.as_of, coops)
        meta, history = Flag._meta, ChangeRecord._meta
        # JSON text encoded here (in the worker) rather than by the driver's adapter in the writer: compact,
        # Chinese as UTF-8, as JSONField/DocumentField would write it (SQLite stores the text; PostgreSQL's
        # COPY into the json column keeps it as written)
        self.encode_evidence = _encoder(cast(Any, meta.get_field("evidence")).encoder)
        self.after_format = _after_format(job.after, _encoder(cast(Any, history.get_field("after")).encoder))
        self.explanation_length = cast(Any, meta.get_field("explanation")).max_length
        self.repr_length = cast(Any, history.get_field("object_repr")).max_length

    def count(self) -> int:
        return cast(int, self.coops.count())

    def ranges(self, batch_size: int) -> Iterator[tuple[int, int | None]]:
        """The batches as id ranges (after, upto]: `batch_size` cooperatives each (an index scan per batch
        for its last id), the last one open (upto None) and possibly empty."""
        after = 0
        while True:
            found = self.reader.rows(
                self.coops.filter(pk__gt=after).order_by("pk").values_list("pk")[batch_size - 1 : batch_size]
            )
            if not found:
                yield after, None
                return
            upto = found[0][0]
            yield after, upto
            after = upto

    def screen(self, after: int, upto: int | None) -> Screened:
        """The cooperatives of ids (after, upto]: how many, the flags already raised, the new flags."""
        job, reader, candidates = self.job, self.reader, self.candidates
        qs = self.coops.filter(pk__gt=after)
        if upto is not None:
            qs = qs.filter(pk__lte=upto)
        batch = [row[0] for row in reader.rows(qs.order_by("pk").values_list("pk"))]
        if not batch:
            return 0, 0, []
        first, last = batch[0], batch[-1]
        dense = last - first < 2 * len(batch)  # the whole city: a range of ids reads the indexes in order
        only = candidates.of(batch, reader, dense)
        if not only:
            return len(batch), 0, []
        ids = sorted(only)
        coop_rows = reader.coops(_restrict(self.coops, ids, "id"))
        with_facts = [pk for pk in ids if not only[pk].isdisjoint(candidates.reading_facts)]
        observed = [pk for pk in ids if not only[pk].isdisjoint(candidates.observing)]
        inputs = reader.facts(coop_rows, with_facts or None, observed or None)
        names = {row[0]: row[1] for row in coop_rows}
        where: Where = ids
        if dense:  # a range reads the index in order
            where = {"cooperative_id__gte": first, "cooperative_id__lte": last}
        raised = set(
            reader.rows(
                _restrict(
                    Flag.objects.filter(year=job.year, ruleset_id=job.ruleset_id, retired_at__isnull=True),
                    where,
                )
                .order_by()  # not the model's ordering: a join with the cooperatives and a sort
                .values_list("cooperative_id", "rule")
            )
        )
        old = 0
        new: list[NewFlag] = []
        encode_evidence, after_format, string = self.encode_evidence, self.after_format.format, _json_string
        text_length, repr_length, year = self.explanation_length, self.repr_length, job.year
        for coop_id, rule, kind, evidence, text in screen(inputs, job.rules, year, job.as_of, only):
            if (coop_id, rule) in raised:
                old += 1
                continue
            text = text[:text_length]
            name = names[coop_id]
            evidence_text = encode_evidence(evidence)
            after_text = after_format(
                cooperative=f'{{"id":{int(coop_id)},"label":{string(name)}}}',
                rule=string(rule),
                kind=string(kind),
                evidence=evidence_text,
                explanation=string(text),
            )
            repr_text = f"{rule} {year} · {name}"[:repr_length]  # str(flag)
            new.append((coop_id, rule, kind, evidence_text, text, repr_text, after_text))
        return len(batch), old, new


def _encoder(encoder: type[json.JSONEncoder] | None) -> Callable[[Any], str]:
    return (encoder or json.JSONEncoder)(ensure_ascii=False, separators=(",", ":")).encode


# a text as a JSON string (what the encoders above write for it)
_json_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
# the after-snapshot's fields that differ from flag to flag (those of them it holds)
_PER_FLAG = ("cooperative", "rule", "kind", "evidence", "explanation")


def _after_format(after: dict[str, Any], encode: Callable[[Any], str]) -> str:
    """The JSON text of a new flag's after-snapshot as a str.format template: the prototype `after`
    encoded once, with a {field} placeholder where each per-flag field's JSON goes (writing the JSON of a
    few values into it costs a tenth of encoding every flag's snapshot)."""
    names = [name for name in after if name in _PER_FLAG]
    marked = {name: f"\x00{name}\x00" if name in names else value for name, value in after.items()}
    text = encode(marked).replace("{", "{{").replace("}", "}}")
    for name in names:
        text = text.replace(encode(f"\x00{name}\x00"), "{" + name + "}", 1)
    return text


POOL_MIN = 20_000  # fewer cooperatives than this are screened in this process (workers pay off from here)


def worker_count(screener: _Screener, workers: int | None = None) -> int:
    """Screening processes for a run: `workers`, else settings.HEZUO_DETECTION_WORKERS when set, else none
    (screen here) for a small run, a single core, or where other processes cannot read what this one sees
    (inside a transaction, a private in-memory SQLite database); else one per core, at most 4.

    The workers read and screen their batches while this process writes the flags of the batches before;
    reading and screening cost more than writing, so one worker per core (this process and, on PostgreSQL,
    the server share the cores with them: the operating system balances them better than a core left
    to either)."""
    if workers is None:
        workers = getattr(settings, "HEZUO_DETECTION_WORKERS", None)
        if workers is None:
            cores = os.cpu_count() or 1
            workers = 0 if cores < 2 or screener.count() < POOL_MIN else min(cores, 4)
    if not workers or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if multiprocessing.current_process().daemon:
        return 0  # a daemonic process (a pool's worker) may not start processes
    connection = connections[router.db_for_read(Cooperative)]
    if connection.in_atomic_block:
        return 0  # this transaction's data: the workers would not see it
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        return 0
    return max(0, int(workers))


_WORKER: _Screener | None = None
WORKER_NICENESS = 5
_INHERITED: list[Any] = []


def _start_worker(screener: _Screener) -> None:
    """Initialise a forked worker process: it screens with the run's screener (inherited), on database
    connections of its own. The connections inherited from the parent are set aside unused and never closed
    (closing them here would end the parent's session or its SQLite handle)."""
    from asgiref.local import Local

    global _WORKER
    _INHERITED.append(connections._connections)  # type: ignore[attr-defined]
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)  # its own, when it ends
    _WORKER = screener
    with contextlib.suppress(OSError):
        # the writer (this process's parent, and its database server) is the run's critical path: the
        # workers screen ahead of it on the CPU it leaves, not taking the cores from it
        os.nice(WORKER_NICENESS)


def _screen_in_worker(after: int, upto: int | None) -> Screened:
    assert _WORKER is not None
    return _WORKER.screen(after, upto)


class _Screeners:
    """Screens batches: in worker processes (forked: they read on their own connections while this process
    writes), or, without workers, in this process when the batch is written (in its transaction). If a
    worker dies, the batches still to screen are screened here."""

    def __init__(self, screener: _Screener, workers: int) -> None:
        self.screener = screener
        self.pool: ProcessPoolExecutor | None = None
        self.in_flight = 0
        if workers > 0:
            self.pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(screener,),
            )
            self.in_flight = workers + 1  # every worker busy while this process writes a batch
            try:  # start the workers now, before this process runs any other thread (fork and threads)
                self.pool.submit(int).result()
            except BrokenProcessPool:
                self._lost_workers()

    def __enter__(self) -> _Screeners:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
            self.pool = None

    def submit(self, after: int, upto: int | None) -> Any:
        """A handle to the screened batch (a worker's future; None: screen it here when written)."""
        if self.pool is not None:
            try:
                return self.pool.submit(_screen_in_worker, after, upto)
            except BrokenProcessPool:
                self._lost_workers()
        return None

    def result(self, bounds: tuple[int, int | None], handle: Any) -> Screened:
        if handle is not None:
            try:
                return cast(Screened, handle.result())
            except BrokenProcessPool:
                self._lost_workers()
        return self.screener.screen(*bounds)

    def _lost_workers(self) -> None:
        if self.pool is None:
            return
        logger.warning("detection: a worker process died; screening the remaining batches in this process")
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None
        self.in_flight = 0


class _Candidates:
    """Set-based pre-filtering: which cooperatives of a batch may meet which rule, in one query.

    `condition()` gives, per rule, an SQL condition every cooperative the rule flags meets (criteria §7.4
    as detection.py evaluates it, with the rule set's parameters); a rule without one is a candidate for
    every cooperative. The conditions read the tables as the reader does (facts and visits not retired,
    visits up to the run's date); whether a cooperative is screened at all is the batch's business."""

    def __init__(self, rules: list[Rule], year: int, as_of: dt.date, coops: Any) -> None:
        from .detection import OBSERVES, READS

        self.coops = coops
        connection = connections[router.db_for_read(YearlyFact)]
        self.q = connection.ops.quote_name
        self.ops = connection.ops
        self.everywhere: set[str] = set()  # rules without a condition
        self.parts: list[tuple[str, str, list[Any]]] = []  # (sql with {range}, rule, params)
        for r in rules:
            part = self.condition(r, year, as_of)
            if part is None:
                self.everywhere.add(r.code)
            else:
                self.parts.append((part[0], r.code, part[1]))
        self.reading_facts = {r.code for r in rules if READS[r.code](r.params, year, as_of)}
        self.observing = {r.code for r in rules if r.code in OBSERVES}

    def condition(self, r: Rule, year: int, as_of: dt.date) -> tuple[str, list[Any]] | None:
        """The SQL selecting (with `{range}` for the batch) the cooperatives rule `r` may flag."""
        from .detection import last_reports, report_due

        q, p = self.q, r.params
        coop, fact, visit = (q(m._meta.db_table) for m in (Cooperative, YearlyFact, Visit))
        on_coops = f"SELECT {q('id')} FROM {coop} WHERE {q('id')} {{range}} AND "
        on_facts = (
            f"SELECT {q('cooperative_id')} FROM {fact} WHERE {q('retired_at')} IS NULL"
            f" AND {q('cooperative_id')} {{range}} AND "
        )
        zero = f"{q('revenue')} = 0 AND {q('member_transactions')} = 0"

        def missed(report_year: int) -> tuple[str, list[Any]]:
            due = self.ops.adapt_datefield_value(report_due(report_year, p))
            return (
                f"{q('year')} = %s AND ({q('annual_report_filed')} = %s"
                f" OR ({q('annual_report_filed')} = %s AND {q('annual_report_date')} > %s))",
                [report_year, False, True, due],
            )

        code = r.code
        if code == "SH1":
            return (
                on_facts + f"{q('year')} = %s AND ({q('members')} < %s OR {q('farmer_members')} < %s)",
                [year, p["min_members"], p["min_farmer_members"]],
            )
        if code == "SH2":
            if p["years"] < 1:
                return None
            years = [year - i for i in range(p["years"])]
            return (
                on_facts + f"{q('year')} IN ({', '.join(['%s'] * len(years))}) AND {zero}"
                f" GROUP BY {q('cooperative_id')} HAVING COUNT(*) = %s",
                [*years, len(years)],
            )
        if code == "SH3":  # where the halt began: a visit not operating, min_days before the run's date
            return (
                f"SELECT {q('cooperative_id')} FROM {visit} WHERE {q('retired_at')} IS NULL"
                f" AND {q('cooperative_id')} {{range}} AND {q('operating')} = %s AND {q('date')} <= %s",
                [False, self.ops.adapt_datefield_value(as_of - dt.timedelta(days=p["min_days"]))],
            )
        if code in ("SH4", "SH5", "SH6"):
            if p["field"] not in MARKERS:  # not recorded: never raised
                return on_coops + "1 = 0", []
            return on_coops + f"{q(p['field'])} = %s", [True]
        if code == "SH7":
            if p["require_abnormal_list"]:
                return on_coops + f"{q('on_abnormal_list')} = %s", [True]
            years = last_reports(year, as_of, p, p["years"])
            if not years:
                return None
            sql, params = missed(years[0])
            return on_facts + sql, params
        if code == "DO1":
            return on_facts + f"{q('year')} = %s AND {zero}", [year]
        if code == "DO2":
            return on_coops + f"{q('operating_status')} = %s", ["suspended"]
        if code == "DO3":
            return (
                on_facts
                + f"{q('year')} = %s AND {q('assembly_held')} = %s AND {q('financial_statements')} = %s",
                [year, False, False],
            )
        if code == "DO4":
            sql, params = missed(last_reports(year, as_of, p, 1)[0])
            return on_facts + sql, params
        return None

    def of(self, batch: list[int], reader: _Reader, dense: bool) -> dict[int, set[str]]:
        """The rules to evaluate for each cooperative of `batch` that may meet one (by id)."""
        only: dict[int, set[str]] = {}
        if self.everywhere:
            only = {pk: set(self.everywhere) for pk in batch}
        if not self.parts:
            return only
        if dense:
            range_sql, range_params = "BETWEEN %s AND %s", [batch[0], batch[-1]]
        else:  # one district: its cooperatives of the batch's range, not the others' between them
            sub, sub_params = (
                self.coops.filter(pk__gte=batch[0], pk__lte=batch[-1])
                .order_by()
                .values_list("pk")
                .query.sql_with_params()
            )
            range_sql, range_params = f"IN ({sub})", list(sub_params)
        sql_parts, params = [], []
        for index, (sql, _code, part_params) in enumerate(self.parts):
            sql_parts.append(f"SELECT c.*, {index} FROM ({sql.format(range=range_sql)}) c")
            params += [*range_params, *part_params]
        codes = [code for _sql, code, _params in self.parts]
        wanted = set(batch)
        with connections[reader.alias].cursor() as cursor:
            cursor.execute(" UNION ALL ".join(sql_parts), params)
            for pk, index in cursor.fetchall():
                if pk in wanted:
                    found = only.get(pk)
                    if found is None:
                        found = only[pk] = set()
                    found.add(codes[index])
        return only


class _FlagWriter:
    """Writes screened batches, one transaction each: the new flags with `insert_rows` (values prepared once
    per field), their history (one change record per flag, as core.services.record_bulk writes it: who,
    when, request id, reason, the cooperative as parent, the after-snapshot prepared by the screener), the
    run's counters; the after-bulk-change hooks of flags run when it commits."""

    COLUMNS = (
        "created_at",
        "updated_at",
        "cooperative",
        "rule",
        "kind",
        "year",
        "evidence",
        "explanation",
        "ruleset",
        "run",
        "status",
    )
    HISTORY = CHANGE_COLUMNS

    def __init__(self, run: DetectionRun, progress: Callable[[DetectionRun], Any] | None) -> None:
        from django.contrib.contenttypes.models import ContentType

        from hezuo.core.context import current_context

        self.run = run
        self.progress = progress
        self.alias = router.db_for_write(Flag)
        self.connection = connections[self.alias]
        self.fields: list[Any] = [Flag._meta.get_field(name) for name in self.COLUMNS]
        self.history_columns = [cast(Any, ChangeRecord._meta.get_field(name)).column for name in self.HISTORY]
        self.ctx = current_context()
        self.flag_type = ContentType.objects.get_for_model(Flag).pk
        self.coop_type = ContentType.objects.get_for_model(Cooperative).pk

    def write(self, bounds: tuple[int, int | None], handle: Any, screeners: _Screeners) -> None:
        run = self.run
        with transaction.atomic(using=self.alias):
            checked, old, new = screeners.result(bounds, handle)
            if new:
                self.insert(new)
            run.checked += checked
            run.flags_created += len(new)
            run.flags_existing += old
            DetectionRun.objects.filter(pk=run.pk).update(
                checked=run.checked, flags_created=run.flags_created, flags_existing=run.flags_existing
            )
        if self.progress is not None:
            self.progress(run)

    def insert(self, new: list[NewFlag]) -> None:
        run, connection = self.run, self.connection
        now = timezone.now()
        created = self.fields[0].get_db_prep_save(now, connection)
        year, ruleset_id, run_id, status = run.year, run.ruleset_id, run.pk, Flag.Status.OPEN.value
        rows = [
            (created, created, coop_id, rule, kind, year, evidence, text, ruleset_id, run_id, status)
            for coop_id, rule, kind, evidence, text, _repr, _after in new
        ]
        pks = insert_rows(Flag, [f.column for f in self.fields], rows, returning=True, using=self.alias)
        head, message = history_head(ChangeRecord.Action.CREATE, now, ctx=self.ctx, using=self.alias)
        flag_type, coop_type = self.flag_type, self.coop_type
        history = [
            (*head, flag_type, pk, text, coop_type, coop_id, message, None, after)
            for pk, (coop_id, _rule, _kind, _evidence, _text, text, after) in zip(pks, new, strict=True)
        ]
        insert_rows(ChangeRecord, self.history_columns, history, using=self.alias)
        notify_bulk(Flag, pks, using=self.alias)


class _Label:
    """Stands for a related record in a bare instance's field cache where only its id and text are read
    (the history's {"id", "label"} of a foreign key)."""

    __slots__ = ("pk", "text")

    def __init__(self, pk: Any, text: str) -> None:
        self.pk, self.text = pk, text

    def __str__(self) -> str:
        return self.text


def explain(cooperative: Cooperative, year: int | None = None, ruleset: RuleSet | None = None) -> list[str]:
    """What the rules say of one cooperative now (flags and rules not evaluated), for pages and the CLI."""
    ruleset = ruleset or active_ruleset()
    year = year or default_year()
    as_of = timezone.localdate()
    rules = parse_rules(ruleset.rules)
    (facts,) = facts_for([cooperative], year, as_of, rules)
    return evaluate(facts, rules, year, as_of).explain()


def summary(run: DetectionRun) -> dict[str, Any]:
    return {
        "run": run.pk,
        "status": run.status,
        "year": run.year,
        "ruleset": run.ruleset.version,
        "checked": run.checked,
        "flags_created": run.flags_created,
        "flags_existing": run.flags_existing,
    }
