"""Detection runs: load a rule set, stream the cooperatives' facts in batches, write the new flags in bulk.

`run_detection(...)` is what `hezuo detect` and the nightly task (tasks.detect_task) call. Flags already
raised (same cooperative, rule, year and rule-set version) are not raised again; every new flag gets its
change record through `record_bulk`.

How a run reads (memory flat whatever the number of cooperatives): by keyset on the cooperative id, in
batches of `batch_size`, four queries per batch whatever its size: the cooperatives, their facts of the
years the rules read (detection.years_read), their visits that answered "operating?", the flags already
raised. The queries are built by the ORM and run on a plain cursor (rows as the driver gives them, no model
instance or field converter per value; `_Reader` turns them into the engine's inputs). New flags are
written with `insert_rows` (SQLite multi-row INSERT, PostgreSQL COPY) and their history with `record_bulk`,
in one transaction per batch. When the transaction commits, record_bulk's after-bulk-change hooks run: the
star rating's monitoring re-evaluates the flagged cooperatives (rating.monitoring.reevaluate_flagged).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import yaml
from django.core.exceptions import ValidationError
from django.db import connections, models, router, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.db.models.functions import Cast
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
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
    """Create the rule set of a YAML file (or return the stored one of the same version, unchanged)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    version = str(data.get("version") or "").strip()
    if not version:
        raise ValidationError({"version": "The rule set file needs a version."})
    existing = RuleSet.objects.filter(version=version).first()
    if existing is not None:
        return existing
    ruleset = RuleSet(
        version=version,
        name=str(data.get("name") or version),
        source_note=str(data.get("source_note") or ""),
        rules={"rules": data.get("rules") or {}},
        is_active=activate,
    )
    with transaction.atomic(), change_context(source="cli", reason=f"load detection rules {version}"):
        if activate:
            for other in RuleSet.objects.filter(is_active=True):
                other.is_active = False
                save_record(other)
        save_record(ruleset)
    return ruleset


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

    def coops(self, qs: Any, after: int, size: int) -> list[tuple[Any, ...]]:
        """The next `size` cooperatives of `qs` after id `after`, as COOP_COLUMNS rows."""
        columns = self.columns(Cooperative, COOP_COLUMNS)
        return self.rows(qs.filter(pk__gt=after).order_by("pk").values_list(*columns)[:size])

    def facts(self, coop_rows: list[tuple[Any, ...]], where: dict[str, Any]) -> list[CoopFacts]:
        """The detection input of these cooperatives (COOP_COLUMNS rows); `where` selects their facts and
        visits (a range of ids for a run, a list for a few)."""
        years: dict[int, dict[int, YearFacts]] = defaultdict(dict)
        if self.years:
            fact_rows = self.rows(
                YearlyFact.objects.filter(retired_at__isnull=True, year__in=self.years, **where).values_list(
                    "cooperative_id", "year", *self.columns(YearlyFact, YEAR_FIELDS)
                )
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
        visit_rows = self.rows(
            Visit.objects.filter(
                retired_at__isnull=True, operating__isnull=False, date__lte=self.as_of, **where
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
    writer = _FlagWriter(run)
    run.checked = run.flags_created = run.flags_existing = 0
    last_pk = 0
    try:
        with change_context(source="task", reason=f"detection run {run.pk} ({run.ruleset.version})"):
            while True:
                batch = reader.coops(coops, last_pk, batch_size)
                if not batch:
                    break
                last_pk = batch[-1][0]
                _screen_batch(run, rules, reader, writer, batch)
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


def _screen_batch(
    run: DetectionRun,
    rules: list[Rule],
    reader: _Reader,
    writer: _FlagWriter,
    batch: list[tuple[Any, ...]],
) -> None:
    """Evaluate one batch, write its new flags and the run's counters (one transaction)."""
    first, last = batch[0][0], batch[-1][0]
    where: dict[str, Any]
    if last - first < 2 * len(batch):  # dense ids (the whole city): a range reads the index in order
        where = {"cooperative_id__gte": first, "cooperative_id__lte": last}
    else:  # sparse (one district): the ids themselves, not the other districts' rows between them
        where = {"cooperative_id__in": [row[0] for row in batch]}
    inputs = reader.facts(batch, where)
    names = {row[0]: row[1] for row in batch}
    with transaction.atomic():
        raised = set(
            reader.rows(
                Flag.objects.filter(
                    year=run.year, ruleset_id=run.ruleset_id, retired_at__isnull=True, **where
                ).values_list("cooperative_id", "rule")
            )
        )
        new: list[Found] = []
        old = 0
        for found in screen(inputs, rules, run.year, run.as_of):
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
        self.evidence_field = meta.get_field("evidence")
        # what the history shows for the flag's run (str(run) translates its status: once, not per flag)
        run.status = DetectionRun.Status.RUNNING
        self.run_label = _Label(run.pk, str(run))

    def write(self, new: list[Found], names: dict[int, str]) -> None:
        if not new:
            return
        run, connection = self.run, self.connection
        now = self.fields[0].get_db_prep_save(timezone.now(), connection)
        adapt_json = connection.ops.adapt_json_value
        encoder = self.evidence_field.encoder
        year, ruleset_id, run_id, status = run.year, run.ruleset_id, run.pk, Flag.Status.OPEN.value
        rows = [
            (
                now,
                now,
                coop_id,
                rule,
                kind,
                year,
                adapt_json(evidence, encoder),
                text[:500],
                ruleset_id,
                run_id,
                status,
            )
            for coop_id, rule, kind, evidence, text in new
        ]
        pks = insert_rows(Flag, [f.column for f in self.fields], rows, returning=True, using=self.alias)
        # the instances the history needs (record_bulk snapshots them, reads str() and the parent): made
        # without Model.__init__, which would cost more than everything else here; see _bare()
        alias = self.alias
        coops = {
            found[0]: _bare(Cooperative, alias, {"id": found[0], "name": names[found[0]]}) for found in new
        }
        related = {"ruleset": run.ruleset, "run": self.run_label}
        flags = [
            _bare(
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


def _bare(
    model: type[models.Model], alias: str, values: dict[str, Any], related: dict[str, Any] | None = None
) -> Any:
    """An instance of `model` as loaded from `alias`, built without Model.__init__: `values` by attribute
    name (every concrete field the caller will read), `related` objects in the field cache, where the
    foreign-key descriptors look first. For the history of rows written in bulk, never for saving."""
    obj = model.__new__(model)
    obj.__dict__.update(values)
    state = ModelState()
    state.adding, state.db = False, alias
    state.fields_cache = dict(related or {})
    obj._state = state
    return obj


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
