"""Dynamic monitoring (动态监测): re-evaluate a cooperative when its facts or status change.

Call `reevaluate_for(instance)` after a service write of a Cooperative, YearlyFact or DemonstrationTitle
(or `reevaluate(cooperative)`); imports call `reevaluate_many(ids)`. If the stars of the cooperative's
latest rating would now drop (a gate fails, or the score fell below the floor, whatever the missing
data), an Alert is raised for its counselor and district with the reasons; when the drop is gone, open
alerts are resolved automatically.

Shell and dormant flags (fieldwork detection, criteria §7.4) feed the monitoring (issue 5 point 5, issue 3
point 4). A flag is not a verdict and changes no status; the monitoring asks what the stars would be if
the suspicion held: while a cooperative has a live flag (not cleared, not retired), it is evaluated as a
shell (a shell flag) or as dormant (a dormant flag, when it is operating), so that gates G0/G1 fail and an
alert says the stars are at risk, with the flags among its reasons ({"flags": [...], "assumed_status": ...}).
Clearing the flags resolves the alert. A detection run's bulk write of flags re-evaluates the flagged
cooperatives after it commits (`reevaluate_flagged`, an after-bulk-change hook of fieldwork.Flag); a
single flag's change (cleared, confirmed) re-evaluates its cooperative.

`reevaluate_many` works in batches of 500 with a fixed number of queries per batch (ratings, cooperatives,
facts, previous facts, titles, flags, open alerts); only alerts that change are written, new ones in bulk,
changed ones one by one through save_record. It reads only what the judgement needs: the ratings without
their stored explanation (decoding it cost more than everything else), each rubric version once per call,
the cooperatives' rating inputs only; the engine's plain result (engine.run) decides, and the explained
result is built only for the cooperatives whose stars would drop or that hold an open alert.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import record_bulk, save_record, snapshot
from hezuo.registry.models import Cooperative, YearlyFact

from . import adapter
from .engine import RatingResult, run
from .models import Alert, Rating, Rubric

OPEN = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)


def suspicion_policy() -> Any:
    """Which live flags make a suspicion strong enough to evaluate the cooperative as a shell or as dormant:
    the active detection rule set's policy (fieldwork.suspicion; versioned with its rules)."""
    from hezuo.fieldwork import suspicion

    return suspicion.active()


def strong_suspicion(flags: list[tuple[str, str]], policy: Any = None) -> dict[str, list[str]]:
    """{status: the flags that make it} for the statuses the live flags make strong enough (the policy given,
    or the active rule set's)."""
    return (policy or suspicion_policy()).strong(flags)  # type: ignore[no-any-return]


def reevaluate_for(instance: Any) -> Alert | None:
    """Re-evaluate the cooperative a changed record belongs to (a cooperative, facts, a title, a flag…)."""
    if isinstance(instance, Cooperative):
        return reevaluate(instance)
    coop_id = getattr(instance, "cooperative_id", None)
    if coop_id is None:
        return None
    return reevaluate(Cooperative.objects.get(pk=coop_id))


def reevaluate_flagged(flag_pks: list[int]) -> int:
    """After a detection run wrote flags in bulk: re-evaluate the flagged cooperatives."""
    from hezuo.fieldwork.models import Flag

    pks = sorted(flag_pks)
    if not pks or not Rating.objects.filter(retired_at__isnull=True).exists():
        return 0  # nothing is rated: no stars to lose (and no need to read the flags)
    ids: set[int] = set()
    if pks[-1] - pks[0] < 2 * len(pks):  # written together: a range of ids, read by the primary key
        wanted = set(pks)
        rows = Flag.objects.filter(pk__gte=pks[0], pk__lte=pks[-1]).values_list("pk", "cooperative_id")
        ids.update(coop_id for pk, coop_id in rows if pk in wanted)
    else:
        for start in range(0, len(pks), 5000):
            chunk = pks[start : start + 5000]
            ids.update(Flag.objects.filter(pk__in=chunk).values_list("cooperative_id", flat=True))
    return reevaluate_many(sorted(ids))


def live_flags(cooperative_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """The live shell/dormant flags (rule, kind) of each cooperative: not cleared, not retired."""
    from hezuo.fieldwork.models import Flag

    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = (
        Flag.objects.filter(cooperative_id__in=list(cooperative_ids), retired_at__isnull=True)
        .exclude(status=Flag.Status.CLEARED)
        .order_by("cooperative_id", "rule")
        .values_list("cooperative_id", "rule", "kind")
        .distinct()
    )
    for coop_id, rule, kind in rows:
        found[coop_id].append((rule, kind))
    return found


def with_flags(
    inp: Any, flags: list[tuple[str, str]], policy: Any = None
) -> tuple[Any, dict[str, Any] | None]:
    """The engine input as if the live flags' suspicion held, and the reason to record (None: no change).

    Flags strong enough for a shell (strong_suspicion): evaluated as a shell, unless already gone (revoked,
    deregistered). Strong enough for dormant: as dormant, when it is operating (suspended or dormant fail
    the same gate already)."""
    if not flags:
        return inp, None
    strong = strong_suspicion(flags, policy)
    status = inp.operating_status
    if "shell" in strong and status in ("operating", "suspended", "dormant"):
        assumed = "shell"
    elif "dormant" in strong and status == "operating":
        assumed = "dormant"
    else:
        return inp, None
    return dataclasses.replace(inp, operating_status=assumed), {
        "flags": strong[assumed],
        "assumed_status": assumed,
    }


def reevaluate_many(cooperative_ids: Iterable[int]) -> int:
    """After an import or a detection run: re-evaluate each cooperative, in batches with a fixed number of
    queries each; returns the number of alerts raised or updated."""
    raised = 0
    ids = sorted(set(cooperative_ids))
    if not ids or not Rating.objects.filter(retired_at__isnull=True).exists():
        return 0  # nothing is rated yet (a first import): no stars to lose
    rubrics: dict[int, Rubric] = {}  # each rubric version read once (its definition is a large document)
    for start in range(0, len(ids), 500):
        raised += _reevaluate_batch(ids[start : start + 500], rubrics)
    return raised


# what the judgement reads of a rating (not its explanation, a large document) and of a cooperative
RATING_FIELDS = ("id", "cooperative_id", "year", "stars", "rubric_id", "retired_at")
COOP_READ = tuple(dict.fromkeys(("id", "district", *(n.removesuffix("_id") for n in adapter.COOP_FIELDS))))


@transaction.atomic
def _reevaluate_batch(ids: list[int], rubrics: dict[int, Rubric] | None = None) -> int:
    rubrics = {} if rubrics is None else rubrics
    # only cooperatives that hold a rating can lose stars: the latest rated year of each
    latest: dict[int, Rating] = {}
    ratings = (
        Rating.objects.filter(cooperative_id__in=ids, retired_at__isnull=True, stars__isnull=False)
        .only(*RATING_FIELDS)
        .order_by("cooperative_id", "-year")
    )
    for rating in ratings:
        latest.setdefault(rating.cooperative_id, rating)
    latest = {coop_id: rating for coop_id, rating in latest.items() if rating.stars}  # 0 stars: none to lose
    if not latest:
        return 0
    wanted = {rating.rubric_id for rating in latest.values()} - set(rubrics)
    if wanted:
        rubrics.update(Rubric.objects.in_bulk(list(wanted)))
    coops = {c.pk: c for c in Cooperative.objects.filter(pk__in=list(latest)).only(*COOP_READ)}
    for coop_id, rating in latest.items():  # what the alert and its history read, without a query each
        rating.rubric = rubrics[rating.rubric_id]
        rating.cooperative = coops[coop_id]
    by_year: dict[int, list[int]] = defaultdict(list)
    for coop_id, rating in latest.items():
        by_year[rating.year].append(coop_id)
    inputs: dict[int, Any] = {}
    for year, coop_ids in by_year.items():
        facts = {
            row["cooperative_id"]: row
            for row in YearlyFact.objects.filter(
                cooperative_id__in=coop_ids, year=year, retired_at__isnull=True
            ).values("cooperative_id", *adapter.FACT_FIELDS)
        }
        previous = adapter._previous(coop_ids, year)
        titles = adapter._titles(coop_ids, year)
        for coop_id in coop_ids:
            cooperative = coops[coop_id]
            coop = {name: getattr(cooperative, name) for name in adapter.COOP_FIELDS}
            coop["id"] = coop_id
            fact = facts.get(coop_id)
            inputs[coop_id] = adapter.coop_input(
                coop,
                year,
                adapter._plain(fact, adapter.FACT_FIELDS) if fact else None,
                previous.get(coop_id),
                titles.get(coop_id, 0),
            )
    flags = live_flags(latest)
    policy = suspicion_policy()
    alerts: dict[int, list[Alert]] = defaultdict(list)
    by_rating = {rating.pk: rating for rating in latest.values()}
    for found in Alert.objects.filter(rating__in=list(by_rating), status__in=OPEN):
        found.rating = by_rating[found.rating_id]
        found.cooperative = coops[found.cooperative_id]
        alerts[found.rating_id].append(found)
    raised = 0
    new: list[Alert] = []
    for coop_id, rating in latest.items():
        coop_flags = flags.get(coop_id, [])
        assumed, _reason = with_flags(inputs[coop_id], coop_flags, policy)
        compiled = rating.rubric.compiled()  # cached by the rubric's content hash
        plain = run(assumed, compiled)
        if plain.stars_high >= int(rating.stars or 0) and not alerts[rating.pk]:
            continue  # the stars hold and no alert is open: nothing to write
        result = RatingResult.of(assumed, compiled, plain)
        alert = _judge(
            coops[coop_id], rating, inputs[coop_id], coop_flags, alerts[rating.pk], new, result, policy
        )
        if alert is not None:
            raised += 1
    if new:  # new alerts in bulk (a detection run may raise thousands), with their history
        now = timezone.now()
        for alert in new:
            alert.created_at = alert.updated_at = now
        Alert.objects.bulk_create(new, batch_size=500)
        with change_context(source="monitor", user=None):
            record_bulk(new, ChangeRecord.Action.CREATE)
    return raised


def drop_reasons(result: Any, rated: int, floors: tuple[float, ...]) -> tuple[str, list[dict[str, Any]]]:
    """Why the stars fall below `rated`: failed gates of those stars, and/or the score under the floor."""
    reasons: list[dict[str, Any]] = []
    for gate in result.gates:
        if gate.star <= rated and gate.passed is False:
            reasons.append(
                {
                    "gate": gate.key,
                    "star": gate.star,
                    "checks": [name for name, out in gate.checks if out.ok is False],
                }
            )
    kind = Alert.Kind.GATE if reasons else Alert.Kind.SCORE
    if result.score_max < floors[rated - 1]:
        reasons.append({"floor": floors[rated - 1], "score": result.score_max, "star": rated})
    return kind, reasons


@transaction.atomic
def reevaluate(cooperative: Cooperative) -> Alert | None:
    """Raise (or update) an alert when the cooperative's current stars would drop; resolve it when not."""
    rating = (
        Rating.objects.filter(cooperative=cooperative, retired_at__isnull=True, stars__isnull=False)
        .select_related("rubric")
        .order_by("-year")
        .first()
    )
    if rating is None or not rating.stars:
        return None
    cooperative = Cooperative.objects.get(pk=cooperative.pk)  # the saved status, not a form's instance
    open_alerts = list(
        Alert.objects.filter(rating=rating, status__in=OPEN).select_related("cooperative", "rating")
    )
    return _judge(
        cooperative,
        rating,
        adapter.input_for(cooperative, rating.year),
        live_flags([cooperative.pk]).get(cooperative.pk, []),
        open_alerts,
    )


def _judge(
    cooperative: Cooperative,
    rating: Rating,
    inp: Any,
    flags: list[tuple[str, str]],
    open_alerts: list[Alert],
    new: list[Alert] | None = None,
    result: RatingResult | None = None,
    policy: Any = None,
) -> Alert | None:
    """Evaluate one rated cooperative (as if its live flags held) and raise, update or resolve its alert.

    A new alert is saved here, or appended to `new` for the caller to write in bulk. `result`: the
    evaluation of `inp` as if the flags held, when the caller has it already."""
    compiled = rating.rubric.compiled()  # cached by the rubric's content hash
    assumed, flagged = with_flags(inp, flags, policy)
    if result is None:
        result = RatingResult.of(assumed, compiled, run(assumed, compiled))
    with change_context(source="monitor", user=None):
        rated = int(rating.stars or 0)  # callers pass rated cooperatives only (stars ≥ 1)
        if result.stars_high >= rated:
            for alert in open_alerts:
                before = snapshot(alert)
                alert.status = Alert.Status.RESOLVED
                alert.resolved_at = timezone.now()
                alert.note = (alert.note + "\n" if alert.note else "") + _(
                    "Resolved automatically: the conditions hold again."
                )
                save_record(alert, before=before)
            return None
        kind, reasons = drop_reasons(result, rated, compiled.floors)
        if flagged is not None:
            reasons.append(flagged)
        if open_alerts:
            alert = open_alerts[0]
            if alert.reasons == reasons and alert.stars_now == result.stars_high:
                return alert
            before = snapshot(alert)
            alert.kind, alert.reasons, alert.stars_now = kind, reasons, result.stars_high
            save_record(alert, before=before)
            return alert
        alert = Alert(
            cooperative=cooperative,
            rating=rating,
            kind=kind,
            stars_rated=rated,
            stars_now=result.stars_high,
            reasons=reasons,
        )
        if new is not None:
            new.append(alert)
        else:
            save_record(alert)
        return alert


@transaction.atomic
def acknowledge(alert: Alert, *, user: Any, note: str = "") -> Alert:
    return _set_status(alert, user, Alert.Status.ACKNOWLEDGED, note)


@transaction.atomic
def resolve(alert: Alert, *, user: Any, note: str = "") -> Alert:
    return _set_status(alert, user, Alert.Status.RESOLVED, note)


def _set_status(alert: Alert, user: Any, status: str, note: str) -> Alert:
    from django.core.exceptions import PermissionDenied

    from hezuo.core.scoping import CHANGE, ScopedQuerySet

    found = (
        ScopedQuerySet.restrict(Alert.objects.filter(pk=alert.pk), user, CHANGE)
        .select_related(  # type: ignore[arg-type]
            "cooperative", "rating", "acknowledged_by", "resolved_by"
        )
        .first()
    )
    if found is None:
        raise PermissionDenied(_("You may not do this."))
    if found.status == Alert.Status.RESOLVED:
        from django.core.exceptions import ValidationError

        raise ValidationError(_("This alert is resolved already."))
    before = snapshot(found)
    found.status = status
    now = timezone.now()
    if status == Alert.Status.ACKNOWLEDGED:
        found.acknowledged_by, found.acknowledged_at = user, now
    else:
        found.resolved_by, found.resolved_at = user, now
        if found.acknowledged_at is None:
            found.acknowledged_by, found.acknowledged_at = user, now
    if note.strip():
        found.note = (found.note + "\n" if found.note else "") + note.strip()
    with change_context(user=user, reason=note):
        save_record(found, before=before)
    return found
