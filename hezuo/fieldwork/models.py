"""Fieldwork: detection rule sets (policy data), detection runs, flags and cleanup cases.

A flag is never a verdict: it says which rule a cooperative's data met, with the evidence, and opens a
review. A cleanup case carries the review through the district's verification and the city's approval
to the actions in the registry (sponsorships ended, federation memberships ended, referral for
deregistration, operating status), or clears the cooperative ("not a shell").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from hezuo.core.fields import DocumentField
from hezuo.core.models import RecordModel, actor_field
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative


class RuleSet(RecordModel):
    """One version of the detection rules (SH1–SH7, DO1–DO4) with their parameters, as validated JSON."""

    version = models.CharField(_("version"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    source_note = models.TextField(_("source note"), blank=True)
    rules = models.JSONField(_("rules"), default=dict)
    is_active = models.BooleanField(_("active"), default=False)

    scope_public = True  # policy data: every role allowed to view rule sets sees all of them

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("detection rule set")
        verbose_name_plural = _("detection rule sets")

    def __str__(self) -> str:
        return f"{self.name} ({self.version})"

    def clean(self) -> None:
        from .detection import RuleSetError, parse_rules

        try:
            parse_rules(self.rules)
        except RuleSetError as exc:
            raise ValidationError({"rules": exc.messages}) from exc


class DetectionRun(RecordModel):
    """One run of the detection over the cooperatives (of one district, or all) for a fiscal year."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ruleset = models.ForeignKey(RuleSet, verbose_name=_("rule set"), on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField(_("fiscal year"))
    as_of = models.DateField(_("as of"))
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for the whole city."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    checked = models.PositiveIntegerField(_("cooperatives checked"), default=0)
    flags_created = models.PositiveIntegerField(_("flags raised"), default=0)
    flags_existing = models.PositiveIntegerField(_("flags already raised"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    scope_district = "district"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("detection run")
        verbose_name_plural = _("detection runs")

    def __str__(self) -> str:
        return f"{self.year} · {self.ruleset.version} · {self.get_status_display()}"


class Flag(RecordModel):
    """A detection rule met by a cooperative's data for a fiscal year, with its evidence. Not a verdict."""

    class Kind(models.TextChoices):
        SHELL = "shell", _("Suspected shell")
        DORMANT = "dormant", _("Suspected dormant")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        UNDER_REVIEW = "under_review", _("Under review")
        CLEARED = "cleared", _("Cleared")
        CONFIRMED = "confirmed", _("Confirmed")

    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="flags"
    )
    rule = models.CharField(_("rule"), max_length=10)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("fiscal year"))
    # stored and shown whole, never searched inside: `json` on PostgreSQL, not `jsonb` (DocumentField)
    evidence = DocumentField(_("evidence"), default=dict)
    explanation = models.CharField(_("explanation"), max_length=500, blank=True)
    # indexes: a detection run writes tens of thousands of flags at once and each index costs on every row,
    # so only what pages and runs read by (see Meta.indexes): the cooperative's foreign key, the unique
    # constraint (cooperative, rule, year, rule set; also what a run reads its raised flags by) and the
    # flags of a cleanup case (a partial index: most flags have none). The rule set and the run have no
    # database constraint (docs/decisions.md): neither is ever deleted (on_delete=PROTECT guards them in the
    # ORM) and checking every flag at commit was a large share of writing the flags on PostgreSQL
    ruleset = models.ForeignKey(
        RuleSet, verbose_name=_("rule set"), on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    run = models.ForeignKey(
        DetectionRun,
        verbose_name=_("run"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        db_constraint=False,
    )
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, default=Status.OPEN)
    case = models.ForeignKey(
        "CleanupCase",
        verbose_name=_("cleanup case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="flags",
        db_index=False,
    )

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"
    # the evidence and the explanation are written once, when the flag is raised, and never change (a flag
    # is reviewed by its status and case): the flag itself keeps them, its history does not repeat them
    history_exclude = ("created_at", "updated_at", "evidence", "explanation")

    class Meta:
        ordering = ["-year", "cooperative", "rule"]
        verbose_name = _("flag")
        verbose_name_plural = _("flags")
        constraints = [
            models.UniqueConstraint(
                fields=["cooperative", "rule", "year", "ruleset"],
                condition=Q(retired_at__isnull=True),
                name="unique_flag_rule_year",
            )
        ]
        indexes = [models.Index(fields=["case"], condition=Q(case__isnull=False), name="flag_case_idx")]

    def __str__(self) -> str:
        return f"{self.rule} {self.year} · {self.cooperative}"

    def get_absolute_url(self) -> str:
        return reverse("fieldwork:flag_detail", args=[self.pk])

    @property
    def explained(self) -> str:
        """The explanation in the reader's language, from the rule and the evidence (fieldwork.explain)."""
        from .explain import describe

        return describe(self.rule, self.evidence, self.explanation)

    @property
    def evidence_rows(self) -> list[tuple[str, str]]:
        """(label, value) of each piece of evidence, in the reader's language (fieldwork.explain)."""
        from .explain import evidence_rows

        return evidence_rows(self.evidence)


class Authority(models.TextChoices):
    MARKET_REGULATOR = "market_regulator", _("Market regulator (市场监管)")
    AGRICULTURE_BUREAU = "agriculture_bureau", _("Agriculture and rural affairs bureau (农业农村)")


class CleanupCase(RecordModel):
    """The review of a flagged cooperative: flagged → verified → approved → actions done → closed.

    Or cleared ("not a shell") with the reason."""

    class Status(models.TextChoices):
        FLAGGED = "flagged", _("Flagged")
        VERIFIED = "verified", _("Verified by the district")
        APPROVED = "approved", _("Approved by the city")
        ACTIONS_DONE = "actions_done", _("Actions carried out")
        CLOSED = "closed", _("Closed")
        CLEARED = "cleared", _("Cleared (not a shell)")

    class Finding(models.TextChoices):
        SHELL = "shell", _("Shell")
        DORMANT = "dormant", _("Dormant")

    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="cleanup_cases"
    )
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.FLAGGED, db_index=True
    )
    opened_by = actor_field(_("opened by"))
    # the district's verification
    finding = models.CharField(_("finding"), max_length=10, choices=Finding.choices, blank=True)
    verification_note = models.TextField(_("verification note"), blank=True, max_length=4000)
    visit_date = models.DateField(_("visit date"), null=True, blank=True)
    visit = models.ForeignKey(
        "Visit", verbose_name=_("visit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_by = actor_field(_("verified by"))
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    # the city's approval
    approval_note = models.TextField(_("approval note"), blank=True, max_length=4000)
    approved_by = actor_field(_("approved by"))
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    # the actions in the registry
    action_date = models.DateField(_("action date"), null=True, blank=True)
    action_reason = models.CharField(_("reason for ending the links"), max_length=200, blank=True)
    referral_date = models.DateField(_("referral date"), null=True, blank=True)
    referral_authority = models.CharField(
        _("referred to"), max_length=30, choices=Authority.choices, blank=True
    )
    referral_document = models.CharField(_("referral document number"), max_length=100, blank=True)
    actions_summary = models.JSONField(_("actions carried out"), default=dict, blank=True)
    actions_by = actor_field(_("actions by"))
    actions_at = models.DateTimeField(_("actions carried out at"), null=True, blank=True)
    # the end
    closed_by = actor_field(_("closed by"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    clear_reason = models.TextField(_("reason for clearing"), blank=True, max_length=4000)
    closing_note = models.TextField(_("closing note"), blank=True, max_length=4000)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("cleanup case")
        verbose_name_plural = _("cleanup cases")
        constraints = [
            models.UniqueConstraint(
                fields=["cooperative"],
                condition=Q(retired_at__isnull=True)
                & Q(status__in=["flagged", "verified", "approved", "actions_done"]),
                name="one_open_cleanup_case",
            )
        ]

    def __str__(self) -> str:
        return f"{_('Cleanup case')} #{self.pk} · {self.cooperative}"

    def get_absolute_url(self) -> str:
        return reverse("fieldwork:case_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES

    def summary(self) -> dict[str, Any]:
        return dict(self.actions_summary or {})


OPEN_CASE_STATUSES = (
    CleanupCase.Status.FLAGGED,
    CleanupCase.Status.VERIFIED,
    CleanupCase.Status.APPROVED,
    CleanupCase.Status.ACTIONS_DONE,
)


class Visit(RecordModel):
    """A counselor's (or district staff's) visit to a cooperative, recorded on a phone in the field."""

    class Classification(models.TextChoices):
        NORMAL = "normal", _("Normal")
        NEEDS_RECTIFICATION = "needs_rectification", _("Needs rectification")
        SUSPECTED_DORMANT = "suspected_dormant", _("Suspected dormant")
        SUSPECTED_SHELL = "suspected_shell", _("Suspected shell")

    CHECKLIST = (
        "operating",
        "farmers_taking_part",
        "books_kept",
        "assembly_held",
        "office_and_sign",
    )

    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="visits"
    )
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("visited by"), on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField(_("visit date"))
    people_met = models.CharField(_("people met"), max_length=300, blank=True)
    operating = models.BooleanField(_("operating?"), null=True, blank=True)
    farmers_taking_part = models.BooleanField(_("farmers taking part?"), null=True, blank=True)
    books_kept = models.BooleanField(_("books and member accounts kept?"), null=True, blank=True)
    assembly_held = models.BooleanField(_("general assembly held?"), null=True, blank=True)
    office_and_sign = models.BooleanField(_("office and sign present?"), null=True, blank=True)
    feedback_departments = models.TextField(_("feedback from departments"), blank=True, max_length=2000)
    feedback_neighbours = models.TextField(
        _("feedback from neighbouring farmers"), blank=True, max_length=2000
    )
    classification = models.CharField(
        _("counselor's classification"), max_length=25, choices=Classification.choices, blank=True
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    # made by the form when it is opened: the same visit sent twice (a reply lost on a weak signal, a queued
    # visit sent again) is recognised and saved once
    client_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # where the visit was recorded, when the counselor shares the phone's position (optional)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    location_accuracy = models.PositiveIntegerField(
        _("location accuracy (m)"), null=True, blank=True, validators=[MaxValueValidator(100_000)]
    )
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("for the campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
        help_text=_(
            "Optional: the survey campaign this visit is made for (its date must lie in the period)."
        ),
    )

    history_exclude = ("created_at", "updated_at", "client_token")
    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        indexes = [models.Index(fields=["cooperative", "date"], name="visit_coop_date_idx")]

    def __str__(self) -> str:
        return f"{self.cooperative} · {self.date:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("fieldwork:visit_detail", args=[self.pk])

    def clean(self) -> None:

        errors: dict[str, list[Any]] = {}
        _check_date(
            self,
            errors,
            _("The visit date is in the future."),
            _("The visit date is before the cooperative was registered (%(d)s)."),
        )
        if (self.latitude is None) != (self.longitude is None):
            errors.setdefault("latitude", []).append(
                _("Give both the latitude and the longitude, or neither.")
            )
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            errors.setdefault("latitude", []).append(_("A latitude lies between -90 and 90."))
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            errors.setdefault("longitude", []).append(_("A longitude lies between -180 and 180."))
        if self.campaign_id and self.date and self.cooperative_id and (campaign := self.campaign) is not None:
            if not campaign.targets.filter(cooperative_id=self.cooperative_id).exists():
                errors.setdefault("campaign", []).append(
                    _("This cooperative is not among the campaign's cooperatives.")
                )
            elif not campaign.start_date <= self.date <= campaign.end_date:
                errors.setdefault("date", []).append(
                    _("The visit date is outside the campaign's period (%(start)s to %(end)s).")
                    % {"start": campaign.start_date.isoformat(), "end": campaign.end_date.isoformat()}
                )
        if self.classification:
            for name in self.CHECKLIST:
                if getattr(self, name) is None:
                    errors.setdefault(name, []).append(_("Answer this to classify the cooperative."))
        if errors:
            raise ValidationError(errors)


class VisitPhoto(RecordModel):
    """A photo of a visit: checked, re-encoded as a JPEG of at most 1600 px (forms.process_photo), served only
    to those who may see the cooperative (views.visit_photo)."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="photos")
    image = models.FileField(_("photo"), upload_to="visits/%Y/%m/", max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    scope_district = "visit__cooperative__district"
    scope_cooperative = "visit__cooperative"
    history_parent = "visit"
    # core.services.snapshot cannot store a file as JSON: the history records the photo's position
    history_exclude = ("created_at", "updated_at", "image")

    class Meta:
        ordering = ["visit", "position", "id"]
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")

    def __str__(self) -> str:
        return f"{self.visit} · {self.position + 1}"

    def get_absolute_url(self) -> str:
        return reverse("fieldwork:visit_photo", args=[self.visit_id]) + f"?n={self.position}"


class Campaign(RecordModel):
    """A survey campaign (摸底排查): a period in which a fixed list of cooperatives is to be visited.

    The cooperatives are chosen by a selection rule stored as data (`rule`, see campaigns.parse_rule),
    resolved once when the campaign is opened into CampaignTarget rows: the list is fixed and auditable. A
    target counts as visited when a visit to it is dated within the period. A campaign of the whole city (no
    district) is seen by every district for its own part only (the targets are bounded by the user's scope).
    """

    name = models.CharField(_("name"), max_length=200)
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for the whole city."),
    )
    start_date = models.DateField(_("period start"))
    end_date = models.DateField(_("period end"))
    rule = models.JSONField(_("selection rule"), default=dict)
    rule_text = models.CharField(_("which cooperatives"), max_length=500, blank=True)
    target_count = models.PositiveIntegerField(_("cooperatives"), default=0)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    opened_by = actor_field(_("opened by"))

    scope_district = "district"
    scope_shared_when_null = True  # a city campaign is seen by every district (its targets: their part only)

    class Meta:
        ordering = ["-start_date", "-id"]
        verbose_name = _("survey campaign")
        verbose_name_plural = _("survey campaigns")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("fieldwork:campaign_detail", args=[self.pk])

    def clean(self) -> None:
        from .campaigns import RuleError, parse_rule

        errors: dict[str, list[Any]] = {}
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors.setdefault("end_date", []).append(_("The period cannot end before it starts."))
        if self.district_id and self.district is not None and self.district.level != Division.Level.DISTRICT:
            errors.setdefault("district", []).append(_("Choose a district (or none for the whole city)."))
        try:
            parse_rule(self.rule)
        except RuleError as exc:
            errors.setdefault("rule", []).extend(exc.messages)
        if errors:
            raise ValidationError(errors)


class CampaignTarget(RecordModel):
    """One cooperative a campaign is to visit, fixed when the campaign was opened (with why it was chosen)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="targets"
    )
    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="campaign_targets"
    )
    matched = models.JSONField(_("chosen because"), default=list, blank=True)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "campaign"

    class Meta:
        ordering = ["campaign", "cooperative"]
        verbose_name = _("campaign cooperative")
        verbose_name_plural = _("campaign cooperatives")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "cooperative"], name="unique_campaign_target")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.cooperative}"


class ContactNote(RecordModel):
    """A staff note on a cooperative: a call, a meeting, a message (the contact log)."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        MESSAGE = "message", _("Message")
        OTHER = "other", _("Other")

    cooperative = models.ForeignKey(
        Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT, related_name="contact_notes"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    date = models.DateField(_("date"))
    people = models.CharField(_("people"), max_length=300, blank=True)
    text = models.TextField(_("note"), max_length=4000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("contact note")
        verbose_name_plural = _("contact notes")
        indexes = [models.Index(fields=["cooperative", "date"], name="contact_coop_date_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.cooperative} · {self.date:%Y-%m-%d}"

    def clean(self) -> None:

        errors: dict[str, list[Any]] = {}
        _check_date(
            self,
            errors,
            _("The date is in the future."),
            _("The date is before the cooperative was registered (%(d)s)."),
        )
        if not (self.text or "").strip():
            errors.setdefault("text", []).append(_("Write what was said or agreed."))
        if errors:
            raise ValidationError(errors)


def _check_date(obj: Any, errors: dict[str, list[Any]], future: Any, before: Any) -> None:
    """The rule of every dated record of fieldwork (visits, contact notes): its `date` is neither in the
    future nor before its cooperative was registered."""
    from django.utils import timezone

    if not obj.date:
        return
    if obj.date > timezone.localdate():
        errors.setdefault("date", []).append(future)
    elif obj.cooperative_id and obj.date < obj.cooperative.registration_date:
        errors.setdefault("date", []).append(before % {"d": obj.cooperative.registration_date.isoformat()})
