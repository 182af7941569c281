"""The compliance checklist as versioned data: parse and load data/checklist-v1.yaml (or another version).

The whole file is checked before anything is written (unknown keys, missing titles or bases, deadlines
that are not positive whole days are refused with a message naming the item); loading the same version
again changes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot

from .models import Checklist

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_CHECKLIST = DATA_DIR / "checklist-v1.yaml"
ITEM_KEY = re.compile(r"^K\d{2}$")
ITEM_FIELDS = {"title", "basis", "evaluable", "deadline_days", "region"}
MAX_DEADLINE_DAYS = 3 * 366


class ChecklistError(ValidationError):
    """A checklist that cannot be loaded; the messages name the items."""


def parse_items(items: Any) -> dict[str, dict[str, Any]]:
    """Check a checklist's items; raise ChecklistError listing every problem."""
    problems: list[str] = []
    if not isinstance(items, dict) or not items:
        raise ChecklistError(_("The checklist has no items."))
    out: dict[str, dict[str, Any]] = {}
    for key, raw in items.items():
        key = str(key)
        if not ITEM_KEY.match(key):
            problems.append(_("%(key)s: an item key is K and two digits (K01).") % {"key": key})
            continue
        if not isinstance(raw, dict):
            problems.append(_("%(key)s: the item must be a mapping.") % {"key": key})
            continue
        unknown = sorted(set(raw) - ITEM_FIELDS)
        if unknown:
            problems.append(
                _("%(key)s: unknown fields %(fields)s.") % {"key": key, "fields": ", ".join(unknown)}
            )
        title = raw.get("title")
        if not (isinstance(title, str) and title.strip()) and not (
            isinstance(title, dict) and any(str(v).strip() for v in title.values())
        ):
            problems.append(_("%(key)s: the title is missing.") % {"key": key})
        if not str(raw.get("basis") or "").strip():
            problems.append(_("%(key)s: the legal basis is missing.") % {"key": key})
        if not isinstance(raw.get("evaluable", False), bool):
            problems.append(_("%(key)s: evaluable must be true or false.") % {"key": key})
        days = raw.get("deadline_days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DEADLINE_DAYS:
            problems.append(
                _("%(key)s: deadline_days must be a whole number of days from 1 to %(max)d.")
                % {"key": key, "max": MAX_DEADLINE_DAYS}
            )
        out[key] = dict(raw)
    if problems:
        raise ChecklistError(problems)
    return dict(sorted(out.items()))


def read_file(path: Path | str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ChecklistError(_("The file is not valid YAML: %(error)s") % {"error": exc}) from exc
    if not isinstance(data, dict):
        raise ChecklistError(_("The file has no checklist."))
    version = str(data.get("version") or "").strip()
    if not version:
        raise ChecklistError(_("The checklist file needs a version."))
    return {
        "version": version,
        "name": str(data.get("name") or version),
        "source_note": str(data.get("source_note") or ""),
        "items": parse_items(data.get("items")),
    }


def load_checklist(path: Path | str = DEFAULT_CHECKLIST, *, activate: bool = True) -> tuple[Checklist, bool]:
    """Create the checklist of a YAML file (or return the stored one of the same version, unchanged).

    Returns (checklist, created). With `activate`, it becomes the checklist new cases are opened with."""
    data = read_file(path)
    existing = Checklist.objects.filter(version=data["version"]).first()
    if existing is not None:
        return existing, False
    checklist = Checklist(**data, is_active=activate)
    with (
        transaction.atomic(),
        change_context(
            user=None, source="cli", reason=_("load checklist %(version)s") % {"version": data["version"]}
        ),
    ):
        if activate:
            for other in Checklist.objects.filter(is_active=True):
                before = snapshot(other)
                other.is_active = False
                save_record(other, before=before)
        save_record(checklist)
    return checklist, True


def active_checklist() -> Checklist:
    """The checklist new cases are opened with (the shipped one is loaded when none is)."""
    found = Checklist.objects.filter(is_active=True, retired_at__isnull=True).order_by("-created_at").first()
    return found or load_checklist()[0]


def ensure_checklist() -> Checklist | None:
    """Load the shipped checklist when no checklist is loaded (for `hezuo setup`); the new one, or None."""
    if Checklist.objects.exists():
        return None
    return load_checklist()[0]
