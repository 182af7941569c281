"""Readable change history: field labels and displayed values, old → new."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .models import ChangeRecord
from .scoping import mask_phone, sees_personal_data
from .text import join_words


@dataclass
class FieldChange:
    name: str
    label: str
    old: str
    new: str


def display_value(field: models.Field | None, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        value = parse_datetime(value) or value  # as snapshots keep it (ISO text, UTC)
    if isinstance(value, dt.datetime):  # in local time, to the minute (2025-05-01 14:30)
        return formats.date_format(
            timezone.localtime(value) if timezone.is_aware(value) else value, "Y-m-d H:i"
        )
    if isinstance(value, dict) and "label" in value:
        return str(value["label"])
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, dict | list | tuple):
        return _structured(value)
    return str(value)


def _structured(value: Any) -> str:
    """A JSON value (evidence, reasons, lists of codes) as plain text, not as Python's repr: "key: value"
    pairs, lists joined with 、, entries of a list of objects separated by semicolons."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_structured(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list | tuple):
        if any(isinstance(item, dict) for item in value):
            return "; ".join(_structured(item) for item in value) or "—"
        return join_words(_structured(item) for item in value) or "—"
    return display_value(None, value)


def _displayed(model: Any, field: models.Field | None, name: str, value: Any) -> str:
    """A model may say how its structured fields read (`history_display(name, value)` returning text, or
    None for the generic rendering), e.g. the explanation of a flag's evidence in the user's language."""
    hook = getattr(model, "history_display", None)
    if hook is not None and value not in (None, ""):
        shown = hook(name, value)
        if shown is not None:
            return str(shown)
    return display_value(field, value)


def field_changes(record: ChangeRecord, user: Any = None) -> list[FieldChange]:
    """The record's changed fields, readable; personal data masked unless `user` sees it in full."""
    model = record.content_type.model_class()
    fields: dict[str, models.Field] = {}
    masked: tuple[str, ...] = ()
    if model is not None:
        fields = {f.name: f for f in model._meta.concrete_fields}
        if not sees_personal_data(user):
            masked = getattr(model, "masked_fields", ())
    changes = []
    for name, (old, new) in record.diff().items():
        field = fields.get(name)
        label = str(field.verbose_name) if field is not None else name
        if record.action == ChangeRecord.Action.CREATE and new in (None, "", False):
            continue  # a new record's empty fields say nothing
        if name in masked:
            old, new = mask_phone(old) or None, mask_phone(new) or None
        changes.append(
            FieldChange(name, label, _displayed(model, field, name, old), _displayed(model, field, name, new))
        )
    return changes
