"""Detection runs: load a rule set, read the cooperatives' facts in batches, write the new flags in bulk.

`run_detection(...)` is what `hezuo detect` and the nightly task (tasks.detect_task) call. Flags already
raised (same cooperative, rule, year and rule-set version) are not raised again; every new flag gets its
change record through `record_bulk`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import record_bulk, save_record
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative, YearlyFact

from .detection import CoopFacts, Observation, Rule, YearFacts, evaluate, parse_rules
from .models import DetectionRun, Flag, RuleSet

DEFAULT_RULES = Path(__file__).parent / "data" / "detection-rules-v1.yaml"
# cooperatives already gone from the register are not screened
GONE = ("revoked", "deregistered")
MARKERS = ("subsidy_fraud", "illegal_finance", "serious_violation")
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


def _observations(coop_ids: list[int]) -> dict[int, list[Observation]]:
    """Dated observations of operation per cooperative: the visits that answered "operating?"."""
    from .models import Visit

    found: dict[int, list[Observation]] = defaultdict(list)
    rows = (
        Visit.objects.filter(cooperative_id__in=coop_ids, retired_at__isnull=True, operating__isnull=False)
        .order_by("date")
        .values_list("cooperative_id", "date", "operating", "pk")
    )
    for coop_id, date, operating, pk in rows.iterator():
        found[coop_id].append(Observation(date, operating, f"visit {pk}"))
    return found


def facts_for(coops: list[Cooperative], year: int, span: int = 3) -> list[CoopFacts]:
    """The detection input of a batch of cooperatives: their identity and the facts of `span` years."""
    ids = [c.pk for c in coops]
    years: dict[int, dict[int, YearFacts]] = defaultdict(dict)
    rows = (
        YearlyFact.objects.filter(
            cooperative_id__in=ids, retired_at__isnull=True, year__gt=year - span, year__lte=year
        )
        .values("cooperative_id", "year", *YEAR_FIELDS)
        .iterator()
    )
    for row in rows:
        coop_id = row.pop("cooperative_id")
        years[coop_id][row["year"]] = YearFacts(**row)
    observations = _observations(ids)
    return [
        CoopFacts(
            cooperative_id=c.pk,
            registration_date=c.registration_date,
            operating_status=c.operating_status,
            suspended_since=c.suspended_since,
            on_abnormal_list=c.on_abnormal_list,
            abnormal_listed_on=c.abnormal_listed_on,
            markers={name: bool(getattr(c, name)) for name in MARKERS},
            years=years.get(c.pk, {}),
            observations=tuple(observations.get(c.pk, ())),
        )
        for c in coops
    ]


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
    batch_size: int = 1000,
    run: DetectionRun | None = None,
) -> DetectionRun:
    """Screen every cooperative (of one district, or all) for a fiscal year; returns the finished run."""
    run = run or start_run(year=year, district=district, as_of=as_of)
    rules: list[Rule] = parse_rules(run.ruleset.rules)
    DetectionRun.objects.filter(pk=run.pk).update(status=DetectionRun.Status.RUNNING)
    coops = Cooperative.objects.filter(retired_at__isnull=True).exclude(operating_status__in=GONE)
    if run.district_id:
        coops = coops.filter(district_id=run.district_id)
    checked = created = existing = 0
    last_pk = 0
    try:
        with change_context(source="task", reason=f"detection run {run.pk} ({run.ruleset.version})"):
            while True:
                batch = list(coops.filter(pk__gt=last_pk).order_by("pk")[:batch_size])
                if not batch:
                    break
                last_pk = batch[-1].pk
                new, old = _screen_batch(run, rules, batch)
                checked += len(batch)
                created += new
                existing += old
                DetectionRun.objects.filter(pk=run.pk).update(
                    checked=checked, flags_created=created, flags_existing=existing
                )
    except Exception as exc:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    DetectionRun.objects.filter(pk=run.pk).update(status=DetectionRun.Status.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


@transaction.atomic
def _screen_batch(run: DetectionRun, rules: list[Rule], batch: list[Cooperative]) -> tuple[int, int]:
    raised = set(
        Flag.objects.filter(
            cooperative_id__in=[c.pk for c in batch],
            year=run.year,
            ruleset_id=run.ruleset_id,
            retired_at__isnull=True,
        ).values_list("cooperative_id", "rule")
    )
    by_id = {c.pk: c for c in batch}
    new: list[Flag] = []
    old = 0
    for facts in facts_for(batch, run.year):
        for result in evaluate(facts, rules, run.year, run.as_of).flags:
            if (facts.cooperative_id, result.rule) in raised:
                old += 1
                continue
            new.append(
                Flag(
                    cooperative=by_id[facts.cooperative_id],
                    rule=result.rule,
                    kind=result.kind,
                    year=result.year,
                    evidence=result.evidence,
                    explanation=result.explanation[:500],
                    ruleset=run.ruleset,
                    run=run,
                )
            )
    if new:
        now = timezone.now()
        for flag in new:
            flag.created_at = flag.updated_at = now
        Flag.objects.bulk_create(new, batch_size=500)
        if new[0].pk is None:  # backends that do not return ids from bulk inserts
            keys = {(f.cooperative_id, f.rule): f for f in new}
            for pk, coop_id, code in Flag.objects.filter(run=run, cooperative_id__in=by_id).values_list(
                "pk", "cooperative_id", "rule"
            ):
                if (coop_id, code) in keys:
                    keys[(coop_id, code)].pk = pk
        record_bulk(new, ChangeRecord.Action.CREATE)
    return len(new), old


def explain(cooperative: Cooperative, year: int | None = None, ruleset: RuleSet | None = None) -> list[str]:
    """What the rules say of one cooperative now (flags and rules not evaluated), for pages and the CLI."""
    ruleset = ruleset or active_ruleset()
    year = year or default_year()
    (facts,) = facts_for([cooperative], year)
    return evaluate(facts, parse_rules(ruleset.rules), year, timezone.localdate()).explain()


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
