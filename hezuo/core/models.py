"""Shared models: the base of every domain record, the change history, user preferences."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import DocumentField
from .scoping import ScopedQuerySet


def actor_field(verbose_name: Any) -> models.ForeignKey[Any, Any]:
    """The user who took a step of a workflow (verified by, approved by, closed by…), kept when the user is
    retired; never a reverse accessor."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )


def bare_instance(
    model: type[models.Model], alias: str, values: dict[str, Any], related: dict[str, Any] | None = None
) -> Any:
    """An instance of `model` as loaded from database `alias`, built without Model.__init__ (which costs
    more than a bulk write of the row): `values` by attribute name (every concrete field the caller will
    read), `related` objects put in the field cache, where the foreign-key descriptors look first. For the
    history of rows written in bulk (services.record_bulk), never for saving."""
    obj = model.__new__(model)
    obj.__dict__.update(values)
    state = models.base.ModelState()
    state.adding, state.db = False, alias
    state.fields_cache = dict(related or {})
    obj._state = state
    return obj


class RecordModel(models.Model):
    """Base of every domain record: timestamps, soft retirement, scoped queries.

    Subclasses declare how they hang off the scope tree:
    `scope_district` is the lookup path to the record's district (a geo.Division),
    `scope_cooperative` the lookup path to its cooperative ("pk" for a cooperative itself).
    `history_parent` names the attribute whose object a change is also shown under
    (a yearly fact's changes appear on its cooperative's History tab).
    """

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True, db_index=True)

    objects = ScopedQuerySet.as_manager()

    scope_district: ClassVar[str | None] = None
    scope_cooperative: ClassVar[str | None] = None
    history_parent: ClassVar[str | None] = None
    # fields left out of the change history (derived or bookkeeping fields)
    history_exclude: ClassVar[tuple[str, ...]] = ("created_at", "updated_at")

    class Meta:
        abstract = True

    def get_absolute_url(self) -> str:
        from .ui import ui_for

        ui = ui_for(self)
        return ui.url("detail", self) if ui is not None else ""

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    def history_parent_object(self) -> models.Model | None:
        if not self.history_parent:
            return None
        return getattr(self, self.history_parent, None)


# where a change came from (ChangeRecord.source), in words
SOURCE_LABELS = {
    "web": _("web page"),
    "api": _("API"),
    "cli": _("command line"),
    "task": _("background task"),
    "monitor": _("rating monitoring"),
    "import": _("import"),
    "demo": _("demo data"),
}


class ChangeRecord(models.Model):
    """One create, update or retirement of one record (after NetBox's ObjectChange)."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        RETIRE = "retire", _("Retired")
        RESTORE = "restore", _("Restored")

    time = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # no index: nothing looks the history up by user id (the change log filters on user_name), and users are
    # deactivated, never deleted; every history write would pay for it
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    user_name = models.CharField(_("user name"), max_length=150, blank=True)
    request_id = models.UUIDField(_("request id"), default=uuid.uuid4, db_index=True)
    source = models.CharField(_("source"), max_length=20, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    # no index of their own: the composite indexes below lead with them (every history write pays for each
    # index, and the history is the most written table); no database constraint either (docs/decisions.md:
    # checking every row at commit was a quarter of the cost of writing the history on PostgreSQL, for
    # content types that are never deleted; on_delete=PROTECT still guards them in the ORM)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    object_id = models.BigIntegerField(_("object id"))
    object_repr = models.CharField(_("object"), max_length=200)
    parent_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    parent_id = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(_("reason"), max_length=500, blank=True)
    # stored and read back whole, never searched inside: `json` on PostgreSQL, not `jsonb` (DocumentField)
    before = DocumentField(_("before"), null=True, blank=True)
    after = DocumentField(_("after"), null=True, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = _("change")
        verbose_name_plural = _("changes")
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="change_object_idx"),
            models.Index(fields=["parent_type", "parent_id"], name="change_parent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr}"

    @property
    def source_label(self) -> str:
        """Where the change came from, in words (the stored code when it is not one of ours)."""
        return str(SOURCE_LABELS.get(self.source, self.source))

    def diff(self) -> dict[str, tuple[Any, Any]]:
        """Changed fields: name -> (old, new)."""
        before = self.before or {}
        after = self.after or {}
        keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
        return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}


class UserPreference(models.Model):
    """A per-user setting, such as the columns chosen for a list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    key = models.CharField(max_length=100)
    value = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_user_preference")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
