"""The rating's service functions: every write of the app goes through here, atomically, with its history.

Rubrics: load a file, copy a version into a new draft, edit a draft, publish a version for a year.
Ratings: rate a year (batches, bulk writes, history via record_bulk), review, request a re-rate, confirm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context, current_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, VIEW, ScopedQuerySet, can
from hezuo.core.services import record_bulk, save_record, snapshot
from hezuo.registry.models import Cooperative, YearlyFact

from . import adapter
from .engine import evaluate
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
    if not 1990 <= int(year) <= 2100:
        raise RatingError(_("Give a year between 1990 and 2100."))
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


@dataclass
class RateCounts:
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_confirmed: int = 0
    undecided: int = 0


def explanation_of(result: Any, rubric: Rubric) -> dict[str, Any]:
    data = result.as_json()
    data["rubric"] = {
        "id": rubric.pk,
        "code": rubric.code,
        "version": rubric.version,
        "hash": rubric.content_hash,
    }
    return data


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def facts_query(year: int, where: Q | None = None) -> Any:
    qs = YearlyFact.objects.filter(year=year, retired_at__isnull=True, cooperative__retired_at__isnull=True)
    return qs.filter(where) if where is not None else qs


def rate(
    year: int,
    *,
    rubric: Rubric | None = None,
    where: Q | None = None,
    batch_size: int = 2000,
    progress: Callable[[RateCounts], None] | None = None,
    include_confirmed: bool = False,
) -> RateCounts:
    """Rate every active cooperative with facts for `year` (or those matching `where`), batch by batch.

    New ratings are bulk-inserted, provisional ones re-rated in place, confirmed ones left as they are.
    Each batch is one transaction with its history (record_bulk). Runs in the current change context."""
    rubric = rubric or published_rubric(year)
    if rubric is None:
        raise RatingError(_("No rubric is published for %(year)d: publish one first.") % {"year": year})
    counts = RateCounts(total=facts_query(year, where).count())
    if counts.total == 0:
        return counts
    compiled = rubric.compiled()
    ctx = current_context()
    for batch in adapter.iter_batches(year, where=where, batch_size=batch_size):
        with transaction.atomic():
            _rate_batch(batch, year, rubric, compiled, counts, ctx, include_confirmed)
        counts.done += len(batch)
        if progress is not None:
            progress(counts)
    return counts


def _rate_batch(
    batch: list[tuple[Any, adapter.CoopRef]],
    year: int,
    rubric: Rubric,
    compiled: Any,
    counts: RateCounts,
    ctx: Any,
    include_confirmed: bool,
) -> None:
    ids = [ref.pk for _inp, ref in batch]
    existing = {
        r.cooperative_id: r
        for r in Rating.objects.filter(year=year, cooperative_id__in=ids, retired_at__isnull=True)
        .select_related("rubric", "reviewed_by", "confirmed_by")
        .defer("explanation")
    }
    new: list[Rating] = []
    changed: list[Rating] = []
    befores: list[dict[str, Any]] = []
    now = timezone.now()
    for inp, ref in batch:
        coop = Cooperative(pk=ref.pk, name=ref.name, district_id=ref.district_id)
        old = existing.get(ref.pk)
        if old is not None and old.status == Rating.Status.CONFIRMED and not include_confirmed:
            counts.skipped_confirmed += 1
            continue
        result = evaluate(inp, compiled)
        if result.stars is None:
            counts.undecided += 1
        values = {
            "score": _decimal(result.score),
            "score_max": _decimal(result.score_max),
            "stars": result.stars,
            "stars_low": result.stars_low,
            "missing_count": len(result.missing),
            "explanation": explanation_of(result, rubric),
        }
        if old is None:
            rating = Rating(
                cooperative=coop,
                year=year,
                rubric=rubric,
                status=Rating.Status.PROVISIONAL,
                created_at=now,
                updated_at=now,
                **values,
            )
            new.append(rating)
            continue
        old.cooperative = coop
        if (
            old.rubric_id == rubric.pk
            and not old.rerate_requested
            and all(getattr(old, name) == values[name] for name in UNCHANGED_WHEN_EQUAL)
        ):
            counts.unchanged += 1
            continue
        befores.append(snapshot(old))
        for name, value in values.items():
            setattr(old, name, value)
        old.rubric = rubric
        old.rerate_requested = False
        old.updated_at = now
        changed.append(old)
    if new:
        Rating.objects.bulk_create(new, batch_size=1000)
        if new[0].pk is None:  # a backend that does not return ids from bulk inserts
            pks = dict(
                Rating.objects.filter(
                    year=year, cooperative_id__in=[r.cooperative_id for r in new], retired_at__isnull=True
                ).values_list("cooperative_id", "pk")
            )
            for rating in new:
                rating.pk = pks[rating.cooperative_id]
        record_bulk(new, ChangeRecord.Action.CREATE, ctx=ctx)
        counts.created += len(new)
    if changed:
        Rating.objects.bulk_update(changed, RATING_UPDATE_FIELDS, batch_size=500)
        record_bulk(changed, ChangeRecord.Action.UPDATE, befores, ctx=ctx)
        counts.updated += len(changed)


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
