"""Readable change history: field labels and displayed values, old → new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from .models import ChangeRecord


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


def field_changes(record: ChangeRecord) -> list[FieldChange]:
    model = record.content_type.model_class()
    fields: dict[str, models.Field] = {}
    if model is not None:
        fields = {f.name: f for f in model._meta.concrete_fields}
    changes = []
    for name, (old, new) in record.diff().items():
        field = fields.get(name)
        label = str(field.verbose_name) if field is not None else name
        if record.action == ChangeRecord.Action.CREATE and new in (None, "", False):
            continue  # a new record's empty fields say nothing
        changes.append(FieldChange(name, label, display_value(field, old), display_value(field, new)))
    return changes
