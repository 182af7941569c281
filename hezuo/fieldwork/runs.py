"""Detection runs: load a rule set, stream the cooperatives' facts in batches, write the new flags in bulk.

`run_detection(...)` is what `hezuo detect` and the nightly task (tasks.detect_task) call. Flags already
raised (same cooperative, rule, year and rule-set version) are not raised again; every new flag gets its
change record through `record_bulk`.

How a run reads (memory flat whatever the number of cooperatives): by keyset on the cooperative id, in
batches of `batch_size`, a fixed number of queries per batch whatever its size: the ids of the batch's
cooperatives; the candidates (set-based pre-filtering, below); the candidates' rows, their facts of the
years the rules read (detection.years_read) and their visits that answered "operating?"; the flags
already raised. The queries run on a plain cursor (rows as the driver gives them, no model instance or
field converter per value; `_Reader` turns them into the engine's inputs). New flags are written with
`insert_rows` (SQLite multi-row INSERT, PostgreSQL COPY) and their history with `record_bulk`, in one
transaction per batch. When the transaction commits, record_bulk's after-bulk-change hooks run: the star
rating's monitoring re-evaluates the flagged cooperatives (rating.monitoring.reevaluate_flagged).

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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from django.db import connections, models, router, transaction
from django.db.models import F
from django.db.models.functions import Cast
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord, bare_instance
from hezuo.core.services import insert_rows, record_bulk, save_record
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

DEFAULT_RULES = Path(__file__).parent / "data" / "detection-rules-v1.yaml"
# cooperatives already gone from the register are not screened
GONE = ("revoked", "deregistered")
MARKERS = ("subsidy_fraud", "illegal_finance", "serious_violation")
# a flag found by the engine: (cooperative id, rule, kind, evidence, explanation), see detection.screen
Found = tuple[int, str, str, dict[str, Any], str]
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
        None, document, activate=activate, reason=f"load detection rules {document['version']}", source="cli"
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
    batch_size: int = 5000,
    run: DetectionRun | None = None,
    progress: Callable[[DetectionRun], Any] | None = None,
) -> DetectionRun:
    """Screen every cooperative (of one district, or all) for a fiscal year; returns the finished run.

    `progress(run)` is called after each batch (the run's counters updated), e.g. by the benchmark."""
    run = run or start_run(year=year, district=district, as_of=as_of)
    rules: list[Rule] = parse_rules(run.ruleset.rules)
    DetectionRun.objects.filter(pk=run.pk).update(status=DetectionRun.Status.RUNNING)
    coops = Cooperative.objects.filter(retired_at__isnull=True).exclude(operating_status__in=GONE)
    if run.district_id:
        coops = coops.filter(district_id=run.district_id)
    reader = _Reader(years_read(rules, run.year, run.as_of), run.as_of)
    candidates = _Candidates(rules, run.year, run.as_of, coops)
    writer = _FlagWriter(run)
    run.checked = run.flags_created = run.flags_existing = 0
    last_pk = 0
    try:
        with (
            _long_lived_objects_frozen(),
            change_context(source="task", reason=f"detection run {run.pk} ({run.ruleset.version})"),
        ):
            while True:
                batch = reader.ids(coops, last_pk, batch_size)
                if not batch:
                    break
                last_pk = batch[-1]
                _screen_batch(run, rules, reader, candidates, writer, coops, batch)
                if progress is not None:
                    progress(run)
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
    (a fifth of a run's CPU time). The run's own garbage is collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _screen_batch(
    run: DetectionRun,
    rules: list[Rule],
    reader: _Reader,
    candidates: _Candidates,
    writer: _FlagWriter,
    coops: Any,
    batch: list[int],
) -> None:
    """Evaluate one batch (the ids of its cooperatives), write its new flags and the run's counters (one
    transaction)."""
    first, last = batch[0], batch[-1]
    dense = last - first < 2 * len(batch)  # the whole city: a range of ids reads the indexes in order
    only = candidates.of(batch, reader, dense)
    new: list[Found] = []
    old = 0
    with transaction.atomic():
        if only:
            ids = sorted(only)
            coop_rows = reader.coops(_restrict(coops, ids, "id"))
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
                        Flag.objects.filter(
                            year=run.year, ruleset_id=run.ruleset_id, retired_at__isnull=True
                        ),
                        where,
                    )
                    .order_by()  # not the model's ordering: a join with the cooperatives and a sort
                    .values_list("cooperative_id", "rule")
                )
            )
            for found in screen(inputs, rules, run.year, run.as_of, only):
                if (found[0], found[1]) in raised:
                    old += 1
                else:
                    new.append(found)
            writer.write(new, names)
        run.checked += len(batch)
        run.flags_created += len(new)
        run.flags_existing += old
        DetectionRun.objects.filter(pk=run.pk).update(
            checked=run.checked, flags_created=run.flags_created, flags_existing=run.flags_existing
        )


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
    """Inserts new flags with `insert_rows` (values prepared once per field) and records their history."""

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

    def __init__(self, run: DetectionRun) -> None:
        self.run = run
        self.alias = router.db_for_write(Flag)
        self.connection = connections[self.alias]
        meta = Flag._meta
        self.fields: list[Any] = [meta.get_field(name) for name in self.COLUMNS]
        # the evidence as compact JSON text, encoded once here rather than by the driver's adapter per value
        # (SQLite stores the text; the PostgreSQL COPY into the json column keeps it as written)
        encoder = cast(Any, meta.get_field("evidence")).encoder or json.JSONEncoder
        self.encode_evidence: Callable[[Any], str] = encoder(ensure_ascii=False, separators=(",", ":")).encode
        # what the history shows for the flag's run (str(run) translates its status: once, not per flag)
        run.status = DetectionRun.Status.RUNNING
        self.run_label = _Label(run.pk, str(run))

    def write(self, new: list[Found], names: dict[int, str]) -> None:
        if not new:
            return
        run, connection = self.run, self.connection
        now = self.fields[0].get_db_prep_save(timezone.now(), connection)
        encode = self.encode_evidence
        year, ruleset_id, run_id, status = run.year, run.ruleset_id, run.pk, Flag.Status.OPEN.value
        rows = [
            (
                now,
                now,
                coop_id,
                rule,
                kind,
                year,
                encode(evidence),
                text[:500],
                ruleset_id,
                run_id,
                status,
            )
            for coop_id, rule, kind, evidence, text in new
        ]
        pks = insert_rows(Flag, [f.column for f in self.fields], rows, returning=True, using=self.alias)
        # the instances the history needs (record_bulk snapshots them, reads str() and the parent): made
        # without Model.__init__, which would cost more than everything else here; see bare_instance()
        alias = self.alias
        coops = {
            coop_id: bare_instance(Cooperative, alias, {"id": coop_id, "name": names[coop_id]})
            for coop_id in {found[0] for found in new}
        }
        related = {"ruleset": run.ruleset, "run": self.run_label}
        flags = [
            bare_instance(
                Flag,
                alias,
                {
                    "id": pk,
                    "created_at": None,
                    "updated_at": None,
                    "retired_at": None,
                    "cooperative_id": coop_id,
                    "rule": rule,
                    "kind": kind,
                    "year": year,
                    "evidence": evidence,
                    "explanation": text[:500],
                    "ruleset_id": ruleset_id,
                    "run_id": run_id,
                    "status": status,
                    "case_id": None,
                },
                {"cooperative": coops[coop_id], **related},
            )
            for pk, (coop_id, rule, kind, evidence, text) in zip(pks, new, strict=True)
        ]
        record_bulk(flags, ChangeRecord.Action.CREATE)


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
