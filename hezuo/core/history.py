"""Readable change history: field labels and displayed values, old → new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from .models import ChangeRecord
from .scoping import mask_phone, sees_personal_data


@dataclass
class FieldChange:
    name: str
    label: str
    old: str
    new: str


def display_value(field: models.Field | None, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict) and "label" in value:
        return str(value["label"])
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


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
        changes.append(FieldChange(name, label, display_value(field, old), display_value(field, new)))
    return changes
