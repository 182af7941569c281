"""Shell/dormant detection over every generated cooperative: `bench: detection_seconds`,
`bench: detection_peak_rss_mb`, `bench: detection_ratio_to_floor`, and the flags per rule.

Data: the generated cooperatives (four years of facts, hezuo/registry/demo.py) and 2 x BENCH_SIZE visits
added here once by bulk inserts (a share of them observing a halt, for SH3). The run is the product's:
`runs.run_detection()` over the whole city for the last full fiscal year, with DEBUG off, flags and their
history written, after-commit hooks (the star rating's monitoring) included.

The floor is measured in the same run: one hand-written SQL query per rule (criteria §7.4, with the active
rule set's parameters) returning the cooperatives it flags, fetched to the client
(`detection_floor_seconds`, the ratio `detection_ratio_to_floor`). A second floor writes what it finds: the
same queries as INSERT ... SELECT of the flag rows, without evidence or history
(`detection_written_floor_seconds`, `detection_ratio_to_written_floor`). The benchmark CHECKS that every
rule's floor (both) gives exactly the cooperatives the engine flagged, and fails loudly if not. A third
reference measures writing alone: the run's own rows (flags with evidence, and their history) deleted and
inserted again as the run's writer does, without reading or screening (`detection_writes_only_seconds`, and
its ratio to the floor): no run writing what the product keeps can take less. Goals
(issue 5): within 3x of the floor, memory flat as the count grows: the resident memory is sampled after
every batch and printed when a quarter of the cooperatives are done and at the end.

Each measure is repeated BENCH_DETECTION_REPEAT times (default 3; floor and engine alternate; the median
is printed, each sample as a comment). CPU time is printed too, with the ratios on it: this process's and,
on PostgreSQL, its server backend's (from /proc, when the server is local); on a machine shared with
other work it is steadier than wall time.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import statistics
import time
from collections import defaultdict
from typing import Any

from .bench_rating import current_rss_mb, peak_rss_since_reset_mb, reset_peak_rss
from .common import SEED, SIZE, emit, peak_rss_mb

REPEAT = int(os.environ.get("BENCH_DETECTION_REPEAT", "3"))
VISITOR = "bench-visitor"


def cpu_seconds() -> float:
    """CPU time of this process, of its worker processes once they ended (the run's screening workers) and,
    on PostgreSQL, of its server backend (read from /proc when the server runs on this machine): on a
    loaded machine, CPU time says more than wall time. (Not counted: the server backends of the workers'
    own connections, on PostgreSQL.)"""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime + server_cpu_seconds()


_BACKEND: list[int] = []


def server_cpu_seconds() -> float:
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0  # SQLite works inside this process
    if not _BACKEND:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            _BACKEND.append(cursor.fetchone()[0])
    try:
        with open(f"/proc/{_BACKEND[0]}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # a remote server
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------------
# data: 2 x N visits


def ensure_visits(today: dt.date) -> int:
    """Add visits until there are two per generated cooperative (once per database)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from hezuo.accounts.models import User
    from hezuo.core.services import insert_rows
    from hezuo.fieldwork.models import Visit
    from hezuo.registry.models import Cooperative

    want = 2 * Cooperative.objects.count()
    have = Visit.objects.count()
    if have >= want:
        return have
    visitor, _ = User.objects.get_or_create(username=VISITOR, defaults={"role": "city"})
    rng = random.Random(SEED + 5)
    fields = [f for f in Visit._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    now = fields[0].get_db_prep_save(timezone.now(), connection)
    start = dt.date(2022, 1, 1)

    def day(low: dt.date, high: dt.date) -> dt.date:
        low = max(low, start)
        if high <= low:
            return low
        return low + dt.timedelta(days=rng.randrange((high - low).days + 1))

    def row(coop_id: int, date: dt.date, operating: bool | None) -> list[Any]:
        values = {
            "created_at": now,
            "updated_at": now,
            "cooperative": coop_id,
            "visitor": visitor.pk,
            "date": date,
            "operating": operating,
        }
        out = []
        for f in fields:
            if f.name in values:
                value = values[f.name]
                out.append(f.get_db_prep_save(value, connection) if f.name == "date" else value)
            else:
                out.append(None if f.null else f.get_db_prep_save(f.get_default(), connection))
        return out

    started = time.perf_counter()
    rows: list[list[Any]] = []
    coops = Cooperative.objects.order_by("pk").values_list("pk", "registration_date")
    for coop_id, registered in coops.iterator(chunk_size=5000):
        draw = rng.random()
        first = day(registered, today)
        second = day(first, today)
        if draw < 0.80:  # operating (a few visits leave the question open)
            pair = [(first, True), (second, rng.random() < 0.95 or None)]
        elif draw < 0.92:  # stopped recently
            pair = [(first, True), (second, False)]
        elif draw < 0.97:  # halted since long ago: SH3 when the first halt is 730+ days old
            first = day(registered, today - dt.timedelta(days=rng.randrange(365, 4 * 365 // 2 + 365)))
            pair = [(first, False), (day(first, today), False)]
        else:  # not asked
            pair = [(first, None), (second, None)]
        rows.extend(row(coop_id, date, operating) for date, operating in pair)
        if len(rows) >= 20_000:
            with transaction.atomic():
                insert_rows(Visit, columns, rows)
            rows = []
    if rows:
        with transaction.atomic():
            insert_rows(Visit, columns, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"# added visits in {time.perf_counter() - started:.1f} s", flush=True)
    return Visit.objects.count()


def scratch_delete(year: int, ruleset_id: int) -> None:
    """The benchmark database is scratch: remove earlier runs' flags of this year and rule set, and their
    history, so that every run raises and writes all its flags afresh (plain DELETE statements)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from hezuo.core.models import ChangeRecord
    from hezuo.fieldwork.models import Flag

    q = connection.ops.quote_name
    flags, changes = Flag._meta.db_table, ChangeRecord._meta.db_table
    selected = f"SELECT {q('id')} FROM {q(flags)} WHERE {q('year')} = %s AND {q('ruleset_id')} = %s"
    content_type = ContentType.objects.get_for_model(Flag).pk
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {q(changes)} WHERE {q('content_type_id')} = %s"
            f" AND {q('object_id')} IN ({selected})",
            [content_type, year, ruleset_id],
        )
        cursor.execute(
            f"DELETE FROM {q(flags)} WHERE {q('year')} = %s AND {q('ruleset_id')} = %s", [year, ruleset_id]
        )
    vacuum(Flag, ChangeRecord)


def vacuum(*models: Any) -> None:
    """PostgreSQL: clear the deleted rows out of the tables (and their indexes), as if they had never been
    written. Otherwise every repetition's inserts find the earlier runs' dead rows in the indexes (the unique
    constraint of flags visits each dead duplicate), and are slower from run to run; the benchmark
    databases run without autovacuum."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.in_atomic_block:  # (a test's transaction)
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


# ------------------------------------------------------------------------------------------------------
# the floor: one hand-written query per rule


def floor_queries(rules: list[Any], year: int, as_of: dt.date) -> dict[str, tuple[str, list[Any]]]:
    """Per enabled rule, the SQL (and its parameters) selecting the ids of the cooperatives it flags, as
    criteria §7.4 and detection.py define the rule; screened: not retired, not revoked or deregistered."""
    from django.db import connection

    from hezuo.fieldwork.detection import last_reports, report_due
    from hezuo.fieldwork.models import Visit
    from hezuo.fieldwork.runs import GONE
    from hezuo.registry.models import Cooperative, YearlyFact

    q = connection.ops.quote_name
    coop, fact, visit = (q(m._meta.db_table) for m in (Cooperative, YearlyFact, Visit))
    screened = f"c.retired_at IS NULL AND c.operating_status NOT IN ({', '.join(['%s'] * len(GONE))})"
    gone = list(GONE)
    facts = f"FROM {coop} c JOIN {fact} f ON f.cooperative_id = c.id AND f.retired_at IS NULL"

    def missed(years: list[int], p: dict[str, Any]) -> tuple[str, list[Any]]:
        parts, params = [], []
        for y in years:
            parts.append(
                "(f.year = %s AND (f.annual_report_filed = %s"
                " OR (f.annual_report_filed = %s AND f.annual_report_date > %s)))"
            )
            params += [y, False, True, report_due(y, p)]
        return "(" + " OR ".join(parts) + ")", params

    out: dict[str, tuple[str, list[Any]]] = {}
    for r in rules:
        p = dict(r.params)
        if r.code == "SH1":
            out[r.code] = (
                f"SELECT c.id {facts} WHERE {screened} AND f.year = %s"
                " AND (f.members < %s OR f.farmer_members < %s)",
                [*gone, year, p["min_members"], p["min_farmer_members"]],
            )
        elif r.code == "SH2":
            years = [year - i for i in range(p["years"])]
            justified = "1 = 0"
            params: list[Any] = []
            if p["accept_suspension"]:
                justified = (
                    "(c.operating_status = %s AND (c.suspended_since IS NULL OR c.suspended_since >= %s))"
                )
                params = ["suspended", as_of - dt.timedelta(days=365 * p["max_suspension_years"])]
            out[r.code] = (
                f"SELECT c.id {facts} WHERE {screened} AND f.year IN ({', '.join(['%s'] * len(years))})"
                f" AND f.revenue = 0 AND f.member_transactions = 0 AND NOT {justified}"
                " GROUP BY c.id HAVING COUNT(*) = %s",
                [*gone, *years, *params, len(years)],
            )
        elif r.code == "SH3":
            # a non-operating observation at least min_days old with no operating one after it
            # (observations ordered by date, then as recorded)
            out[r.code] = (
                f"SELECT DISTINCT c.id FROM {coop} c JOIN {visit} v ON v.cooperative_id = c.id"
                f" WHERE {screened} AND v.retired_at IS NULL AND v.operating = %s AND v.date <= %s"
                f" AND NOT EXISTS (SELECT 1 FROM {visit} o WHERE o.cooperative_id = v.cooperative_id"
                " AND o.retired_at IS NULL AND o.operating = %s AND o.date <= %s"
                " AND (o.date > v.date OR (o.date = v.date AND o.id > v.id)))",
                [*gone, False, as_of - dt.timedelta(days=p["min_days"]), True, as_of],
            )
        elif r.code in ("SH4", "SH5", "SH6"):
            out[r.code] = (
                f"SELECT c.id FROM {coop} c WHERE {screened} AND c.{q(p['field'])} = %s",
                [*gone, True],
            )
        elif r.code == "SH7":
            years = last_reports(year, as_of, p, p["years"])
            where, params = missed(years, p)
            listed = "c.on_abnormal_list = %s AND " if p["require_abnormal_list"] else ""
            out[r.code] = (
                f"SELECT c.id {facts} WHERE {screened} AND {listed}{where}"
                " GROUP BY c.id HAVING COUNT(*) = %s",
                [*gone, *([True] if listed else []), *params, len(years)],
            )
        elif r.code == "DO1":
            out[r.code] = (
                f"SELECT c.id {facts} WHERE {screened} AND f.year = %s"
                " AND f.revenue = 0 AND f.member_transactions = 0",
                [*gone, year],
            )
        elif r.code == "DO2":
            out[r.code] = (
                f"SELECT c.id FROM {coop} c WHERE {screened} AND c.operating_status = %s",
                [*gone, "suspended"],
            )
        elif r.code == "DO3":
            out[r.code] = (
                f"SELECT c.id {facts} WHERE {screened} AND f.year = %s"
                " AND f.assembly_held = %s AND f.financial_statements = %s",
                [*gone, year, False, False],
            )
        elif r.code == "DO4":
            where, params = missed(last_reports(year, as_of, p, 1), p)
            out[r.code] = (f"SELECT c.id {facts} WHERE {screened} AND {where}", [*gone, *params])
        else:
            raise SystemExit(f"no floor query for rule {r.code}: write one")
    return out


def run_floor(queries: dict[str, tuple[str, list[Any]]]) -> tuple[float, float, dict[str, set[int]]]:
    """Run every rule's query; (seconds, CPU seconds, flagged ids per rule)."""
    from django.db import connection

    found: dict[str, set[int]] = {}
    cpu = cpu_seconds()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for code, (sql, params) in queries.items():
            cursor.execute(sql, params)
            found[code] = {row[0] for row in cursor.fetchall()}
    return time.perf_counter() - started, cpu_seconds() - cpu, found


FLOOR_RULESET = "bench-floor"


def floor_ruleset() -> Any:
    """A scratch rule set the written floor's flags hang on (never active)."""
    from hezuo.fieldwork.models import RuleSet

    found, _ = RuleSet.objects.get_or_create(
        version=FLOOR_RULESET, defaults={"name": "benchmark floor (scratch)", "rules": {"rules": {}}}
    )
    return found


def run_written_floor(
    queries: dict[str, tuple[str, list[Any]]], rules: list[Any], year: int, ruleset_id: int
) -> tuple[float, float]:
    """The floor with its writes: each rule's query as INSERT ... SELECT of the flag rows (cooperative, rule,
    kind, year, status, empty evidence), all in one transaction. (seconds, CPU seconds)"""
    from django.db import connection, transaction
    from django.utils import timezone

    from hezuo.fieldwork.models import Flag

    q = connection.ops.quote_name
    meta = Flag._meta
    names = ["created_at", "updated_at", "cooperative", "rule", "kind", "year", "evidence", "explanation"]
    names += ["ruleset", "status"]
    columns = ", ".join(q(meta.get_field(n).column) for n in names)
    now = meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    empty = connection.ops.adapt_json_value({}, None)
    kinds = {r.code: r.kind for r in rules}
    cpu = cpu_seconds()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for code, (sql, params) in queries.items():
            cursor.execute(
                f"INSERT INTO {q(meta.db_table)} ({columns})"
                f" SELECT %s, %s, ids.id, %s, %s, %s, %s, %s, %s, %s FROM ({sql}) ids",
                [now, now, code, kinds[code], year, empty, "", ruleset_id, "open", *params],
            )
    return time.perf_counter() - started, cpu_seconds() - cpu


def run_writes_only(year: int, ruleset_id: int, batch_size: int = 5000) -> tuple[float, float]:
    """What writing alone costs: the run's own rows (its flags with their evidence, and their history) read
    back, deleted, and inserted again as a run's writer does (insert_rows, a transaction per batch of
    `batch_size` flags with the history of its flags), without reading or screening anything. A lower
    bound of any run that writes what the product keeps. (seconds, CPU seconds)"""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from hezuo.core.models import ChangeRecord
    from hezuo.core.services import insert_rows
    from hezuo.fieldwork.models import Flag

    q = connection.ops.quote_name
    flag_columns = [f.column for f in Flag._meta.concrete_fields if not f.primary_key]
    change_columns = [f.column for f in ChangeRecord._meta.concrete_fields if not f.primary_key]
    object_at = change_columns.index("object_id")
    flags_table, changes_table = q(Flag._meta.db_table), q(ChangeRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {q('id')}, {', '.join(q(c) for c in flag_columns)} FROM {flags_table}"
            f" WHERE {q('year')} = %s AND {q('ruleset_id')} = %s ORDER BY {q('id')}",
            [year, ruleset_id],
        )
        flags = cursor.fetchall()
        cursor.execute(
            f"SELECT {', '.join(q(c) for c in change_columns)} FROM {changes_table}"
            f" WHERE {q('content_type_id')} = %s AND {q('object_id')} IN (SELECT {q('id')} FROM {flags_table}"
            f" WHERE {q('year')} = %s AND {q('ruleset_id')} = %s)",
            [ContentType.objects.get_for_model(Flag).pk, year, ruleset_id],
        )
        history = {row[object_at]: row for row in cursor.fetchall()}
    assert len(history) == len(flags)
    json_columns = [i for i, c in enumerate(flag_columns) if c == "evidence"]
    change_json = [i for i, c in enumerate(change_columns) if c in ("before", "after")]

    def text(value: Any) -> Any:  # a json column read back as a value (PostgreSQL): its text again
        import json

        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    flag_rows = [[text(v) if i in json_columns else v for i, v in enumerate(row[1:])] for row in flags]
    change_rows = [
        [text(v) if i in change_json else v for i, v in enumerate(history[row[0]])] for row in flags
    ]
    scratch_delete(year, ruleset_id)
    cpu = cpu_seconds()
    started = time.perf_counter()
    for start in range(0, len(flag_rows), batch_size):
        with transaction.atomic():
            pks = insert_rows(Flag, flag_columns, flag_rows[start : start + batch_size], returning=True)
            batch = change_rows[start : start + batch_size]
            for pk, row in zip(pks, batch, strict=True):
                row[object_at] = pk
            insert_rows(ChangeRecord, change_columns, batch)
    return time.perf_counter() - started, cpu_seconds() - cpu


def delete_flags(ruleset_id: int) -> None:
    from django.db import connection, transaction

    from hezuo.fieldwork.models import Flag

    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {q(Flag._meta.db_table)} WHERE {q('ruleset_id')} = %s", [ruleset_id])
    vacuum(Flag)


def engine_flags(year: int, ruleset_id: int) -> dict[str, set[int]]:
    from hezuo.fieldwork.models import Flag

    found: dict[str, set[int]] = defaultdict(set)
    rows = Flag.objects.filter(year=year, ruleset_id=ruleset_id, retired_at__isnull=True).values_list(
        "rule", "cooperative_id"
    )
    for code, coop_id in rows.iterator(chunk_size=10_000):
        found[code].add(coop_id)
    return found


def check_same(floor: dict[str, set[int]], engine: dict[str, set[int]]) -> None:
    """Fail loudly unless the floor's flags are the engine's, rule by rule."""
    problems = []
    for code in sorted(set(floor) | set(engine)):
        a, b = floor.get(code, set()), engine.get(code, set())
        if a != b:
            problems.append(
                f"{code}: floor {len(a)}, engine {len(b)}; only floor {sorted(a - b)[:5]}, "
                f"only engine {sorted(b - a)[:5]}"
            )
    if problems:
        raise SystemExit(
            "detection benchmark: the floor and the engine disagree:\n  " + "\n  ".join(problems)
        )


# ------------------------------------------------------------------------------------------------------


def run() -> None:
    from django.test.utils import override_settings
    from django.utils import timezone

    from hezuo.fieldwork import runs
    from hezuo.fieldwork.detection import parse_rules

    today = timezone.localdate()
    visits = ensure_visits(today)
    ruleset = runs.active_ruleset()
    rules = parse_rules(ruleset.rules)
    year = runs.default_year(today)
    queries = floor_queries(rules, year, today)
    scratch = floor_ruleset()

    floor_samples: list[tuple[float, float]] = []
    written_samples: list[tuple[float, float]] = []
    writes_samples: list[tuple[float, float]] = []
    engine_samples: list[tuple[float, float]] = []
    peaks: list[float] = []
    quarter_rss: list[float] = []
    end_rss: list[float] = []
    growth: list[float] = []
    floor_found: dict[str, set[int]] = {}
    run = None
    with override_settings(DEBUG=False):
        run_floor(queries)  # warm the database's cache once, as the engine's first sample will find it
        for attempt in range(REPEAT):
            seconds, cpu, floor_found = run_floor(queries)
            floor_samples.append((seconds, cpu))
            delete_flags(scratch.pk)
            written = run_written_floor(queries, rules, year, scratch.pk)
            written_samples.append(written)
            check_same(floor_found, engine_flags(year, scratch.pk))
            delete_flags(scratch.pk)
            print(
                f"# floor {attempt + 1}: {seconds:.2f} s ({cpu:.2f} s CPU); written: {written[0]:.2f} s "
                f"({written[1]:.2f} s CPU)",
                flush=True,
            )

            scratch_delete(year, ruleset.pk)
            own_peak = reset_peak_rss()
            samples: list[tuple[int, float]] = []

            def progress(r: Any, samples: list[tuple[int, float]] = samples) -> None:
                samples.append((r.checked, current_rss_mb()))

            cpu0 = cpu_seconds()
            started = time.perf_counter()
            run = runs.run_detection(year=year, as_of=today, progress=progress)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu0
            engine_samples.append((seconds, cpu))
            peaks.append(peak_rss_since_reset_mb() if own_peak else peak_rss_mb())
            at_quarter = next(rss for done, rss in samples if done >= run.checked / 4)
            quarter_rss.append(at_quarter)
            end_rss.append(samples[-1][1])
            growth.append(max(rss for _d, rss in samples) - at_quarter)
            print(
                f"# detection {attempt + 1}: {seconds:.2f} s ({cpu:.2f} s CPU), {run.checked} checked, "
                f"{run.flags_created} flags; RSS {at_quarter:.0f} MB at N/4, {samples[-1][1]:.0f} MB at N, "
                f"peak {peaks[-1]:.0f} MB",
                flush=True,
            )
            check_same(floor_found, engine_flags(year, ruleset.pk))
        # after the runs: the rows it holds in memory would show in the next run's resident memory
        for attempt in range(REPEAT):
            writes = run_writes_only(year, ruleset.pk)
            writes_samples.append(writes)
            print(f"# writes alone {attempt + 1}: {writes[0]:.2f} s ({writes[1]:.2f} s CPU)", flush=True)
            check_same(floor_found, engine_flags(year, ruleset.pk))
    assert run is not None

    def med(samples: list[tuple[float, float]], i: int) -> float:
        return statistics.median(sample[i] for sample in samples)

    seconds, cpu = med(engine_samples, 0), med(engine_samples, 1)
    floor_seconds, floor_cpu = med(floor_samples, 0), med(floor_samples, 1)
    written_seconds, written_cpu = med(written_samples, 0), med(written_samples, 1)
    writes_seconds, writes_cpu = med(writes_samples, 0), med(writes_samples, 1)
    emit("detection_count", run.checked)
    emit("detection_visits", visits)
    emit("detection_year", year)
    emit("detection_seconds", seconds, "s")
    emit("detection_cpu_seconds", cpu, "s")
    emit("detection_coops_per_s", run.checked / seconds if seconds else 0.0)
    emit("detection_floor_seconds", floor_seconds, "s")
    emit("detection_floor_cpu_seconds", floor_cpu, "s")
    emit("detection_ratio_to_floor", seconds / floor_seconds if floor_seconds else 0.0)
    emit("detection_cpu_ratio_to_floor", cpu / floor_cpu if floor_cpu else 0.0)
    emit("detection_written_floor_seconds", written_seconds, "s")
    emit("detection_written_floor_cpu_seconds", written_cpu, "s")
    emit("detection_ratio_to_written_floor", seconds / written_seconds if written_seconds else 0.0)
    emit("detection_cpu_ratio_to_written_floor", cpu / written_cpu if written_cpu else 0.0)
    emit("detection_writes_only_seconds", writes_seconds, "s")
    emit("detection_writes_only_cpu_seconds", writes_cpu, "s")
    emit("detection_writes_only_ratio_to_floor", writes_seconds / floor_seconds if floor_seconds else 0.0)
    emit("detection_writes_only_cpu_ratio_to_floor", writes_cpu / floor_cpu if floor_cpu else 0.0)
    emit("detection_peak_rss_mb", max(peaks), "MB")
    emit("detection_rss_at_quarter_mb", statistics.median(quarter_rss), "MB")
    emit("detection_rss_at_end_mb", statistics.median(end_rss), "MB")
    emit("detection_rss_growth_after_quarter_mb", max(growth), "MB")
    emit("detection_flags", run.flags_created)
    for code in sorted(floor_found):
        emit(f"detection_flags_{code}", len(floor_found[code]))
    emit("detection_floor_matches_engine", 1)
    emit("detection_size", SIZE)
