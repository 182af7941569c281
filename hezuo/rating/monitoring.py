"""Dynamic monitoring (动态监测): re-evaluate a cooperative when its facts or status change.

Call `reevaluate_for(instance)` after a service write of a Cooperative, YearlyFact or DemonstrationTitle
(or `reevaluate(cooperative)`); imports call `reevaluate_many(ids)`. If the stars of the cooperative's
latest rating would now drop (a gate fails, or the score fell below the floor, whatever the missing
data), an Alert is raised for its counselor and district with the reasons; when the drop is gone, open
alerts are resolved automatically.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.registry.models import Cooperative

from . import adapter
from .engine import evaluate
from .models import Alert, Rating

OPEN = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)


def reevaluate_for(instance: Any) -> Alert | None:
    """Re-evaluate the cooperative a changed record belongs to (a cooperative, facts, a title…)."""
    if isinstance(instance, Cooperative):
        return reevaluate(instance)
    coop_id = getattr(instance, "cooperative_id", None)
    if coop_id is None:
        return None
    return reevaluate(Cooperative.objects.get(pk=coop_id))


def reevaluate_many(cooperative_ids: Iterable[int]) -> int:
    """After an import: re-evaluate each cooperative; returns the number of alerts raised or updated."""
    raised = 0
    ids = list(cooperative_ids)
    for start in range(0, len(ids), 500):
        # only cooperatives that hold a rating can lose stars
        batch = Rating.objects.filter(cooperative_id__in=ids[start : start + 500]).values("cooperative_id")
        for coop in Cooperative.objects.filter(pk__in=batch):
            if reevaluate(coop) is not None:
                raised += 1
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
    compiled = rating.rubric.compiled()
    result = evaluate(adapter.input_for(cooperative, rating.year), compiled)
    open_alerts = list(
        Alert.objects.filter(rating=rating, status__in=OPEN).select_related("cooperative", "rating")
    )
    with change_context(source="monitor"):
        if result.stars_high >= rating.stars:
            for alert in open_alerts:
                before = snapshot(alert)
                alert.status = Alert.Status.RESOLVED
                alert.resolved_at = timezone.now()
                alert.note = (alert.note + "\n" if alert.note else "") + _(
                    "Resolved automatically: the conditions hold again."
                )
                save_record(alert, before=before)
            return None
        kind, reasons = drop_reasons(result, rating.stars, compiled.floors)
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
            stars_rated=rating.stars,
            stars_now=result.stars_high,
            reasons=reasons,
        )
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
