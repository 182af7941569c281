"""Detection rule sets as versioned data: load a YAML document, copy a version into a new one, activate a
version, compare two. A version is never changed once stored (its flags name it); a change is a new version.
Every change goes through these functions: atomic, with history, city staff only (and the CLI).

The document (as shipped in data/detection-rules-v1.yaml):

    version: detection-v2
    name: …
    source_note: …
    rules:
      SH1: {title: …, basis: …, enabled: true, params: {min_members: 5, min_farmer_members: 1}}
      …
"""

from __future__ import annotations

from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from hezuo.accounts.roles import Role
from hezuo.core.context import change_context
from hezuo.core.scoping import ADD, CHANGE, can
from hezuo.core.services import save_record, snapshot

from . import suspicion
from .detection import RULES, RuleSetError, parse_rules
from .models import RuleSet

MAX_DOCUMENT = 200_000  # characters of YAML


def may_manage(user: Any) -> bool:
    role = Role.CITY if getattr(user, "is_superuser", False) else getattr(user, "role", "")
    return role == Role.CITY and can(user, RuleSet, ADD) and can(user, RuleSet, CHANGE)


def _context(user: Any, reason: str, source: str) -> dict[str, Any]:
    values: dict[str, Any] = {"reason": reason}
    if user is not None:
        values["user"] = user
    if source:
        values["source"] = source
    return values


def parse_document(text: str) -> dict[str, Any]:
    """The rule-set document of a YAML text, checked; raises ValidationError naming the entry at fault."""
    if len(text) > MAX_DOCUMENT:
        raise ValidationError({"document": _("The document is too long.")})
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)s)") % {"line": mark.line + 1} if mark is not None else ""
        raise ValidationError({"document": _("This is not valid YAML%(where)s.") % {"where": where}}) from exc
    return check_document(data)


def check_document(data: Any) -> dict[str, Any]:
    """The rule-set document of parsed data (a mapping with version, name, source_note, rules), checked;
    raises ValidationError naming the entry at fault."""
    if not isinstance(data, dict):
        raise ValidationError({"document": _("The document must be a mapping with version, name and rules.")})
    errors: dict[str, list[str]] = {}
    version = str(data.get("version") or "").strip()
    if not version:
        errors.setdefault("version", []).append(_("The rule set needs a version."))
    elif len(version) > 50:
        errors.setdefault("version", []).append(_("The version is at most 50 characters."))
    rules: dict[str, Any] = {"rules": data.get("rules") or {}}
    try:
        parse_rules(rules)
    except RuleSetError as exc:
        errors.setdefault("rules", []).extend(exc.messages)
    if data.get("suspicion") is not None:  # when flags are strong enough for the rating's monitoring
        try:
            suspicion.parse(data["suspicion"])
        except suspicion.SuspicionError as exc:
            errors.setdefault("suspicion", []).extend(exc.messages)
        rules["suspicion"] = data["suspicion"]
    if errors:
        raise ValidationError(errors)
    return {
        "version": version,
        "name": str(data.get("name") or version)[:200],
        "source_note": str(data.get("source_note") or ""),
        "rules": rules,
    }


def as_document(ruleset: RuleSet) -> str:
    """The YAML document of a stored version (to copy and edit, or to download)."""
    data = {
        "version": ruleset.version,
        "name": ruleset.name,
        "source_note": ruleset.source_note,
        "rules": (ruleset.rules or {}).get("rules", {}),
    }
    if (ruleset.rules or {}).get("suspicion") is not None:
        data["suspicion"] = ruleset.rules["suspicion"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)


@transaction.atomic
def create_ruleset(
    user: Any, document: dict[str, Any], *, activate: bool = False, reason: str = "", source: str = ""
) -> RuleSet:
    """Store a new version. The same version with the same rules: the stored one is returned, unchanged;
    the same version with other rules is refused (a change is a new version)."""
    if user is not None and not may_manage(user):
        raise PermissionDenied(_("Your role may not do this."))
    existing = RuleSet.objects.filter(version=document["version"]).first()
    if existing is not None:
        if (existing.rules or {}) != document["rules"]:
            raise ValidationError(
                {
                    "version": _(
                        "Version %(version)s exists with other rules: a changed rule set needs a new version."
                    )
                    % {"version": document["version"]}
                }
            )
        if activate and not existing.is_active:
            activate_ruleset(user, existing, reason=reason, source=source)
        return existing
    ruleset = RuleSet(**document, is_active=False)
    with change_context(**_context(user, reason or _("Detection rules loaded"), source)):
        save_record(ruleset)
    if activate:
        activate_ruleset(user, ruleset, reason=reason, source=source)
    return ruleset


@transaction.atomic
def activate_ruleset(user: Any, ruleset: RuleSet, *, reason: str = "", source: str = "") -> RuleSet:
    """Make `ruleset` the one detection runs use (the others are deactivated), with history."""
    if user is not None and not may_manage(user):
        raise PermissionDenied(_("Your role may not do this."))
    if ruleset.retired_at is not None:
        raise ValidationError(_("A retired rule set cannot be activated."))
    with change_context(**_context(user, reason or _("Detection rules activated"), source)):
        for other in RuleSet.objects.select_for_update().filter(is_active=True).exclude(pk=ruleset.pk):
            before = snapshot(other)
            other.is_active = False
            save_record(other, before=before, validate=False)
        if not ruleset.is_active:
            before = snapshot(ruleset)
            ruleset.is_active = True
            save_record(ruleset, before=before, validate=False)
    return ruleset


def edited_document(
    source: RuleSet, version: str, name: str, settings: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A new version's document from `source` with the rules' settings edited one by one: `settings` is
    {rule: {"enabled": bool, parameter: value}} (as settings_of gives them); titles, bases and the source
    note are kept. Checked as a loaded document is (check_document)."""
    rules: dict[str, Any] = {}
    for code, old in ((source.rules or {}).get("rules") or {}).items():
        old = dict(old or {})
        new = dict(settings.get(code) or {})
        entry = {key: old[key] for key in ("title", "basis", "kind") if key in old}
        entry["enabled"] = bool(new.pop("enabled", old.get("enabled", True)))
        entry["params"] = new
        rules[code] = entry
    document = {"version": version, "name": name, "source_note": source.source_note, "rules": rules}
    if (source.rules or {}).get("suspicion") is not None:
        document["suspicion"] = source.rules["suspicion"]
    return check_document(document)


def settings_of(ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    """{rule: {"enabled": …, parameter: value (defaults filled)}} of a stored version."""
    return _settings(ruleset)


def next_version(version: str) -> str:
    """A label for the version after `version`: its last number raised by one (detection-v2 ->
    detection-v3), or "-2" added; never one that exists."""
    import re

    match = re.search(r"(\d+)(?!.*\d)", version)
    if match:
        stem, number, rest = version[: match.start()], int(match.group(1)), version[match.end() :]
    else:
        stem, number, rest = f"{version}-", 1, ""
    while True:
        number += 1
        label = f"{stem}{number}{rest}"[:50]
        if not RuleSet.objects.filter(version=label).exists():
            return label


def _settings(ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    """{rule: {"enabled": …, parameter: value (defaults filled)}} of a stored version."""
    found: dict[str, dict[str, Any]] = {}
    for code, settings in ((ruleset.rules or {}).get("rules") or {}).items():
        settings = settings or {}
        schema = RULES[code][1] if code in RULES else {}
        params = {name: default for name, (_typ, default) in schema.items()}
        params.update(settings.get("params") or {})
        found[code] = {"enabled": settings.get("enabled", True), **params}
    return found


def diff(a: RuleSet, b: RuleSet) -> list[dict[str, Any]]:
    """Rule by rule, what differs between two versions: (setting, value in a, value in b); a rule absent
    from a version reads as None there."""
    left, right = _settings(a), _settings(b)
    rows = []
    for code in sorted(set(left) | set(right)):
        one, two = left.get(code, {}), right.get(code, {})
        changes = [
            (name, one.get(name), two.get(name))
            for name in sorted(set(one) | set(two))
            if one.get(name) != two.get(name)
        ]
        rows.append({"code": code, "changes": changes})
    one, two = suspicion.of_ruleset(a).as_data(), suspicion.of_ruleset(b).as_data()
    if one != two:
        rows.append(
            {
                "code": "suspicion",
                "changes": [
                    (f"{part}.{key}", one[part].get(key), two[part].get(key))
                    for part in ("shell", "dormant")
                    for key in sorted(set(one[part]) | set(two[part]))
                    if one[part].get(key) != two[part].get(key)
                ],
            }
        )
    return rows
