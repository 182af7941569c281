"""Rectification cases (规范提升), their checklist items and tasks, special assistance (专项帮扶).

A case checks one cooperative against the compliance checklist (criteria §7.5, K01–K23; versioned data in
`Checklist`) for one fiscal year. On opening, each item is judged from the data where the rating engine can
(pass / fail / unknown, with the engine's detail); the rest are left for the counselor. Each failed item
becomes a task with an owner and a deadline. The case closes when every item passes, does not apply, or is
waived (by district or city staff) with a reason. Changes go through the service functions of
`hezuo.compliance.services` only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from hezuo.core.models import RecordModel, actor_field
from hezuo.registry.models import Cooperative


class Checklist(RecordModel):
    """One version of the compliance checklist (K01–K23): per item its text, legal basis, whether the data
    can judge it, and the default deadline of the task a failed item opens."""

    version = models.CharField(_("version"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    source_note = models.TextField(_("source note"), blank=True)
    items = models.JSONField(_("items"), default=dict)
    is_active = models.BooleanField(_("active"), default=False)

    scope_public = True  # policy data: everyone allowed to view checklists sees all of them

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("compliance checklist")
        verbose_name_plural = _("compliance checklists")

    def __str__(self) -> str:
        return f"{self.name} ({self.version})"

    def get_absolute_url(self) -> str:
        return reverse("compliance:checklist_detail", args=[self.pk])

    def clean(self) -> None:
        from .checklist import ChecklistError, parse_items

        try:
            parse_items(self.items)
        except ChecklistError as exc:
            raise ValidationError({"items": exc.messages}) from exc

    def item(self, key: str) -> dict[str, Any]:
        return dict((self.items or {}).get(key) or {})


def item_title(info: dict[str, Any]) -> str:
    """An item's title in the current language (Chinese by default, English otherwise)."""
    title = info.get("title") or {}
    if isinstance(title, str):
        return title
    lang = (get_language() or "zh-hans").lower()
    if lang.startswith("zh"):
        return str(title.get("zh-hans") or title.get("en") or "")
    return str(title.get("en") or title.get("zh-hans") or "")


class RectificationCase(RecordModel):
    """Bringing a cooperative up to the law for a fiscal year: open → in progress → closed (or cancelled)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    cooperative = models.ForeignKey(
        Cooperative,
        verbose_name=_("cooperative"),
        on_delete=models.PROTECT,
        related_name="rectification_cases",
    )
    year = models.PositiveSmallIntegerField(_("fiscal year"))
    checklist = models.ForeignKey(Checklist, verbose_name=_("checklist"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    opened_on = models.DateField(_("opened on"))
    opened_by = actor_field(_("opened by"))
    visit = models.ForeignKey(
        "fieldwork.Visit",
        verbose_name=_("visit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rectification_cases",
        help_text=_("The visit that found the cooperative needs rectification, if any."),
    )
    note = models.TextField(_("note"), blank=True, max_length=4000)
    started_by = actor_field(_("started by"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    closed_by = actor_field(_("closed by"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True, db_index=True)
    closing_note = models.TextField(_("closing note"), blank=True, max_length=4000)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True, max_length=4000)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-opened_on", "-id"]
        verbose_name = _("rectification case")
        verbose_name_plural = _("rectification cases")
        constraints = [
            models.UniqueConstraint(
                fields=["cooperative"],
                condition=Q(retired_at__isnull=True) & Q(status__in=["open", "in_progress"]),
                name="one_active_rectification_case",
            )
        ]

    def __str__(self) -> str:
        return f"{_('Rectification case')} #{self.pk} · {self.cooperative} · {self.year}"

    def get_absolute_url(self) -> str:
        return reverse("compliance:case_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


ACTIVE_STATUSES = (RectificationCase.Status.OPEN, RectificationCase.Status.IN_PROGRESS)


class RectificationItem(RecordModel):
    """One checklist item of a case: the data's verdict at opening, and the outcome recorded since."""

    class DataResult(models.TextChoices):
        PASS = "pass", _("Passes")
        FAIL = "fail", _("Fails")
        UNKNOWN = "unknown", _("Not known from the data")
        NOT_APPLICABLE = "n/a", _("Does not apply")
        NOT_EVALUABLE = "counselor", _("Judged by the counselor")

    class Status(models.TextChoices):
        PENDING = "pending", _("To be judged")
        FAILED = "failed", pgettext_lazy("compliance item", "Failed")
        PASSED = "passed", _("Passed")
        NOT_APPLICABLE = "n/a", _("Does not apply")
        WAIVED = "waived", _("Waived")

    case = models.ForeignKey(
        RectificationCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="items"
    )
    key = models.CharField(_("item"), max_length=10)
    data_result = models.CharField(_("from the data"), max_length=10, choices=DataResult.choices)
    data_detail = models.JSONField(_("detail from the data"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    evidence = models.TextField(_("evidence"), blank=True, max_length=4000)
    waive_reason = models.TextField(_("reason for waiving"), blank=True, max_length=4000)
    decided_by = actor_field(_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    scope_district = "case__cooperative__district"
    scope_cooperative = "case__cooperative"
    history_parent = "case"

    class Meta:
        ordering = ["case", "key"]
        verbose_name = _("rectification item")
        verbose_name_plural = _("rectification items")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "key"], condition=Q(retired_at__isnull=True), name="unique_case_item"
            )
        ]

    @staticmethod
    def history_display(name: str, value: Any) -> str | None:
        """The data's detail in the History in words: the facts missing, found and needed, by their labels
        (core.history calls it; None: the generic rendering)."""
        if name != "data_detail" or not isinstance(value, dict):
            return None
        from hezuo.core.history import display_value
        from hezuo.core.text import join_words
        from hezuo.rating.describe import field_label

        parts = []
        if value.get("missing"):
            parts.append(f"{_('Missing facts')}: {join_words(field_label(f) for f in value['missing'])}")
        for key, label in (("seen", _("Found")), ("needed", _("Would pass with"))):
            facts = value.get(key) or {}
            if facts:
                shown = join_words(f"{field_label(k)} {display_value(None, v)}" for k, v in facts.items())
                parts.append(f"{label}: {shown}")
        return "; ".join(parts) or "—"

    def __str__(self) -> str:
        return f"{self.key} · #{self.case_id}"

    def get_absolute_url(self) -> str:
        return reverse("compliance:item_detail", args=[self.pk])

    @property
    def info(self) -> dict[str, Any]:
        return self.case.checklist.item(self.key)

    @property
    def title(self) -> str:
        return item_title(self.info)

    @property
    def basis(self) -> str:
        return str(self.info.get("basis") or "")

    @property
    def is_resolved(self) -> bool:
        return self.status in RESOLVED_ITEM_STATUSES


RESOLVED_ITEM_STATUSES = (
    RectificationItem.Status.PASSED,
    RectificationItem.Status.NOT_APPLICABLE,
    RectificationItem.Status.WAIVED,
)


class RectificationTask(RecordModel):
    """The work a failed item asks for: an owner, a deadline, done when the item passes or is waived."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    case = models.ForeignKey(
        RectificationCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="tasks"
    )
    item = models.ForeignKey(
        RectificationItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="tasks"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="+"
    )
    deadline = models.DateField(_("deadline"), db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    note = models.TextField(_("note"), blank=True, max_length=4000)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    scope_district = "case__cooperative__district"
    scope_cooperative = "case__cooperative"
    history_parent = "case"

    class Meta:
        ordering = ["deadline", "id"]
        verbose_name = _("rectification task")
        verbose_name_plural = _("rectification tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(retired_at__isnull=True) & Q(status="open"),
                name="one_open_task_per_item",
            )
        ]

    def __str__(self) -> str:
        return f"{self.item.key} · {self.case.cooperative} · {self.deadline:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("compliance:task_detail", args=[self.pk])

    def is_overdue(self, today: Any = None) -> bool:
        from django.utils import timezone

        return self.status == self.Status.OPEN and self.deadline < (today or timezone.localdate())

    def clean(self) -> None:
        if self.deadline and self.case_id and self.deadline < self.case.opened_on:
            raise ValidationError(
                {
                    "deadline": _("The deadline is before the case was opened (%(d)s).")
                    % {"d": self.case.opened_on.isoformat()}
                }
            )


class SpecialAssistance(RecordModel):
    """Special assistance (专项帮扶) given to a cooperative under a rectification case."""

    class Kind(models.TextChoices):
        FUNDING = "funding", _("Funding")
        TRAINING = "training", _("Training")
        CONSULTING = "consulting", _("Consulting")
        EQUIPMENT = "equipment", _("Equipment")
        OTHER = "other", _("Other")

    case = models.ForeignKey(
        RectificationCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="assistance"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    description = models.CharField(_("what was given"), max_length=500)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True)
    date = models.DateField(_("date"))
    given_by = models.CharField(_("given by"), max_length=200)
    recorded_by = actor_field(_("recorded by"))

    scope_district = "case__cooperative__district"
    scope_cooperative = "case__cooperative"
    history_parent = "case"

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("special assistance")
        verbose_name_plural = _("special assistance")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.date:%Y-%m-%d} · {self.case.cooperative}"

    def clean(self) -> None:
        from django.utils import timezone

        errors: dict[str, list[Any]] = {}
        if self.amount is not None and self.amount < 0:
            errors.setdefault("amount", []).append(_("The amount cannot be negative."))
        if self.date:
            if self.date > timezone.localdate():
                errors.setdefault("date", []).append(_("The date is in the future."))
            elif self.case_id and self.date < self.case.cooperative.registration_date:
                errors.setdefault("date", []).append(_("The date is before the cooperative was registered."))
        if errors:
            raise ValidationError(errors)
