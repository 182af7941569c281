"""Import jobs (one uploaded file, its preview and its commit) and remembered column mappings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hezuo.core.scoping import ScopedQuerySet
from hezuo.geo.models import Division

from .specs import KIND_CHOICES, KINDS


class ImportJob(models.Model):
    """One file a user uploaded: what it holds, the preview (dry run) and the commit.

    Scoped like the records it writes: city staff see every job, district staff the jobs of their
    district, a cooperative user the jobs of their cooperative.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to be checked")
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked: ready to import")
        INVALID = "invalid", _("Has errors")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed: nothing written")

    ACTIVE = (Status.QUEUED, Status.CHECKING, Status.IMPORTING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cooperative = models.ForeignKey(
        "registry.Cooperative",
        verbose_name=_("cooperative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=KIND_CHOICES)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(_("message"), blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    header_row = models.PositiveIntegerField(_("header row"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    estimated_rows = models.PositiveIntegerField(default=0)
    # the preview's counts (rows that would be written) and the commit's (rows written)
    to_create = models.PositiveIntegerField(_("to create"), default=0)
    to_update = models.PositiveIntegerField(_("to update"), default=0)
    to_keep = models.PositiveIntegerField(_("unchanged"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    problems = models.JSONField(_("errors and warnings"), default=list, blank=True)
    error_rows = models.JSONField(default=list, blank=True)
    notices = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    unmatched = models.JSONField(default=list, blank=True)
    missing = models.JSONField(default=list, blank=True)
    confirmed_warnings = models.BooleanField(_("warnings confirmed"), default=False)
    request_id = models.UUIDField(_("request id"), null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)

    objects = ScopedQuerySet.as_manager()

    scope_district = "district"
    scope_cooperative = "cooperative"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_kind_display()})"

    @property
    def spec(self) -> Any:
        return KINDS[self.kind]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def path(self) -> Path:
        return Path(self.file.path)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("level") == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("level") == "warning"]

    @property
    def can_commit(self) -> bool:
        return self.status == self.Status.CHECKED and not self.error_count

    # live progress: a small file beside the upload, since a running commit holds its transaction open
    @property
    def progress_path(self) -> Path:
        return Path(settings.MEDIA_ROOT) / "imports" / "progress" / f"{self.pk}.json"

    def set_progress(self, done: int, total: int, phase: str) -> None:
        path = self.progress_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"done": done, "total": total, "phase": phase}), encoding="utf-8")
        tmp.replace(path)

    def progress(self) -> dict[str, Any]:
        if not self.is_active:
            return {"done": self.rows, "total": self.rows, "percent": 100, "phase": self.status}
        try:
            data = json.loads(self.progress_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"done": 0, "total": self.estimated_rows or 0, "phase": self.status}
        total = max(int(data.get("total") or 0), 1)
        data["percent"] = min(99, int(100 * int(data.get("done") or 0) / total))
        return data


class HeaderMapping(models.Model):
    """A user's mapping of a file's unrecognised columns, applied again to the next file with the same
    headers (the fingerprint is the kind and the headers in order)."""

    kind = models.CharField(_("kind"), max_length=20, choices=KIND_CHOICES)
    fingerprint = models.CharField(max_length=40)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # header -> column key ("" = ignore)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "fingerprint"], name="unique_header_mapping")]
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")

    def __str__(self) -> str:
        return f"{self.kind}:{self.fingerprint[:8]}"
