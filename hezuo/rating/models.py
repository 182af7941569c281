"""Star rating: rubric versions (data), their publication per year, ratings, rating runs and alerts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hezuo.core.fields import DocumentField  # also importable from here, where it was first defined
from hezuo.core.models import RecordModel, actor_field


class Rubric(RecordModel):
    """One version of a rubric: its definition (validated JSON) and a hash of it.

    A version that has produced ratings is never changed; the next version is a copy (a new draft)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    code = models.CharField(_("code"), max_length=50)
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    provisional = models.BooleanField(
        _("provisional"), default=False, help_text=_("A proposal used until the official method is loaded.")
    )
    source_note = models.TextField(_("source"), blank=True, max_length=5000)
    definition = models.JSONField(_("definition"))
    content_hash = models.CharField(_("content hash"), max_length=64, editable=False)
    copied_from = models.ForeignKey(
        "self",
        verbose_name=_("copied from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="copies",
    )

    scope_public = True  # every role that may view rubrics sees every version
    history_exclude = ("created_at", "updated_at", "definition")

    class Meta:
        ordering = ["code", "-version"]
        verbose_name = _("rubric version")
        verbose_name_plural = _("rubric versions")
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="unique_rubric_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    @property
    def label(self) -> str:
        from .rubric import label_text

        return label_text(self.title)

    def has_results(self) -> bool:
        return self.ratings.exists()

    def compiled(self) -> Any:
        from .engine import compile_rubric

        return compile_rubric(self.definition, self.content_hash)

    def published_years(self) -> list[int]:
        return sorted(self.publications.filter(retired_at__isnull=True).values_list("year", flat=True))


class RubricPublication(RecordModel):
    """The rubric version in force for a year's rating."""

    year = models.PositiveSmallIntegerField(_("year"))
    rubric = models.ForeignKey(
        Rubric, verbose_name=_("rubric version"), on_delete=models.PROTECT, related_name="publications"
    )

    scope_public = True

    class Meta:
        ordering = ["-year"]
        verbose_name = _("rubric publication")
        verbose_name_plural = _("rubric publications")
        constraints = [
            models.UniqueConstraint(
                fields=["year"], condition=Q(retired_at__isnull=True), name="unique_publication_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.year}: {self.rubric}"


def _unindexed(field: models.ForeignKey[Any, Any]) -> models.ForeignKey[Any, Any]:
    """A foreign key without its own index (a composite or partial index of the model serves it)."""
    field.db_index = False  # type: ignore[attr-defined]
    return field


class Rating(RecordModel):
    """A cooperative's stars for a year under one rubric version, with the full explanation.

    Provisional until city staff confirm it; a confirmed rating is final and never re-rated."""

    class Status(models.TextChoices):
        PROVISIONAL = "provisional", _("Provisional")
        CONFIRMED = "confirmed", _("Confirmed")

    # no index of its own: rating_coop_year_idx leads with it
    cooperative = models.ForeignKey(
        "registry.Cooperative",
        verbose_name=_("cooperative"),
        on_delete=models.PROTECT,
        related_name="ratings",
        db_index=False,
    )
    year = models.PositiveSmallIntegerField(_("year"))
    rubric = models.ForeignKey(
        Rubric, verbose_name=_("rubric version"), on_delete=models.PROTECT, related_name="ratings"
    )
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2)
    score_max = models.DecimalField(
        _("score if the missing data were complete"), max_digits=6, decimal_places=2
    )
    stars = models.PositiveSmallIntegerField(
        _("stars"), null=True, blank=True, help_text=_("Empty: cannot be decided for missing data.")
    )
    stars_low = models.PositiveSmallIntegerField(_("stars at least"), default=0)
    missing_count = models.PositiveSmallIntegerField(_("missing facts"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PROVISIONAL)
    explanation = DocumentField(_("explanation"), default=dict)
    review_note = models.TextField(_("review note"), blank=True, max_length=2000)
    # the workflow's actors are empty on the rows the annual rating writes by the ten thousand: partial
    # indexes (below) hold only the rows that have them
    reviewed_by = _unindexed(actor_field(_("reviewed by")))
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    rerate_requested = models.BooleanField(_("re-rate requested"), default=False)
    confirmed_by = _unindexed(actor_field(_("confirmed by")))
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"
    history_exclude = ("created_at", "updated_at", "explanation")

    class Meta:
        ordering = ["-year", "cooperative"]
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(
                fields=["cooperative", "year"],
                condition=Q(retired_at__isnull=True),
                name="unique_rating_year",
            ),
        ]
        indexes = [
            models.Index(fields=["year", "status"], name="rating_year_status_idx"),
            models.Index(fields=["cooperative", "year"], name="rating_coop_year_idx"),
            # the plan's star metrics: live ratings of a year at or above a number of stars
            models.Index(
                fields=["year", "stars", "status", "cooperative"],
                condition=Q(retired_at__isnull=True),
                name="rating_year_stars_idx",
            ),
            models.Index(
                fields=["reviewed_by"], condition=Q(reviewed_by__isnull=False), name="rating_reviewed_by_idx"
            ),
            models.Index(
                fields=["confirmed_by"],
                condition=Q(confirmed_by__isnull=False),
                name="rating_confirmed_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cooperative} {self.year}"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    def clean(self) -> None:
        if (
            self.stars is not None
            and self.rubric_id
            and self.stars > len(self.rubric.definition["star_floors"])
        ):
            raise ValidationError({"stars": _("More stars than the rubric has.")})


class RatingRun(RecordModel):
    """One rating of a year over every cooperative with facts: a background task and its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    year = models.PositiveSmallIntegerField(_("year"))
    rubric = models.ForeignKey(
        Rubric, verbose_name=_("rubric version"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("cooperatives to rate"), default=0)
    done = models.PositiveIntegerField(_("rated so far"), default=0)
    created = models.PositiveIntegerField(_("new ratings"), default=0)
    updated = models.PositiveIntegerField(_("ratings updated"), default=0)
    skipped_confirmed = models.PositiveIntegerField(_("confirmed ratings left as they are"), default=0)
    undecided = models.PositiveIntegerField(_("undecided for missing data"), default=0)
    started_by = actor_field(_("started by"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    task_id = models.CharField(_("task"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    district = models.ForeignKey(
        "geo.Division",
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the whole city."),
    )

    history_exclude = ("created_at", "updated_at", "done")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rating run")
        verbose_name_plural = _("rating runs")

    def __str__(self) -> str:
        return f"{self.year} · {self.rubric}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class Alert(RecordModel):
    """Monitoring: a cooperative whose current stars would drop (a gate now fails, or the score fell)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    class Kind(models.TextChoices):
        GATE = "gate", _("A gate now fails")
        SCORE = "score", _("The score fell below the floor")
        MISSING = "missing", _("Facts now missing")

    cooperative = models.ForeignKey(
        "registry.Cooperative",
        verbose_name=_("cooperative"),
        on_delete=models.PROTECT,
        related_name="rating_alerts",
    )
    rating = models.ForeignKey(
        Rating, verbose_name=_("rating"), on_delete=models.PROTECT, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    stars_rated = models.PositiveSmallIntegerField(_("stars rated"))
    stars_now = models.PositiveSmallIntegerField(_("stars now"))
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    acknowledged_by = actor_field(_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    resolved_by = actor_field(_("resolved by"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rating alert")
        verbose_name_plural = _("rating alerts")

    def __str__(self) -> str:
        return f"{self.cooperative}: {self.stars_rated}★ → {self.stars_now}★"


class Confirmation(RecordModel):
    """City staff confirmed the provisional ratings of a year, for one district or for the whole city."""

    year = models.PositiveSmallIntegerField(_("year"))
    district = models.ForeignKey(
        "geo.Division",
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the whole city."),
    )
    count = models.PositiveIntegerField(_("ratings confirmed"), default=0)
    note = models.CharField(_("note"), max_length=500, blank=True)

    scope_district = "district"
    scope_shared_when_null = True

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")

    def __str__(self) -> str:
        where = self.district.name if self.district is not None else _("whole city")
        return f"{self.year} · {where} · {self.count}"
