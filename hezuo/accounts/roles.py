"""Roles and what each may do: the one table the scoping chokepoint reads.

Keys are model labels, app wildcards ("registry.*") or "*"; the most specific key present decides
(the model's label, then its app's wildcard, then "*").
Rows are bounded separately by the user's district or cooperatives (see User.get_scope).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hezuo.core.scoping import ADD, CHANGE, EXPORT, RETIRE, VIEW

ALL = frozenset({VIEW, ADD, CHANGE, RETIRE, EXPORT})
READ = frozenset({VIEW, EXPORT})
VIEW_ONLY = frozenset({VIEW})
NONE: frozenset[str] = frozenset()


class Role(models.TextChoices):
    CITY = "city", _("City staff")
    DISTRICT = "district", _("District staff")
    COUNSELOR = "counselor", _("Counselor")
    COOPERATIVE = "cooperative", _("Cooperative user")
    VIEWER = "viewer", _("Viewer (read-only)")


def step_refused(step: Any, roles: Iterable[str]) -> str:
    """Why a workflow step is refused to a user's role: the step and the roles that take it (case steps of
    cleanup and rectification)."""
    return gettext("Your role may not do this: %(step)s is done by %(roles)s.") % {
        "step": step,
        "roles": " / ".join(str(Role(role).label) for role in sorted(roles)),
    }


PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    Role.CITY: {"*": ALL},
    Role.VIEWER: {
        "accounts.counselorassignment": READ,  # who counsels a cooperative (its Counselors tab)
        "accounts.*": NONE,
        "core.*": NONE,
        "transfer.*": NONE,
        "targets.*": READ,
        "*": READ,
    },
    Role.DISTRICT: {
        "accounts.counselorassignment": ALL,
        "accounts.*": NONE,
        "core.*": NONE,
        "registry.organization": VIEW_ONLY,
        "registry.*": ALL,
        "geo.*": VIEW_ONLY,
        "rating.rating": frozenset({VIEW, CHANGE, EXPORT}),  # review notes, re-rate requests
        "rating.alert": frozenset({VIEW, CHANGE, EXPORT}),  # acknowledge, resolve
        "rating.ratingrun": NONE,
        "rating.confirmation": VIEW_ONLY,
        "rating.*": READ,
        "transfer.importjob": frozenset({VIEW, ADD}),  # import files, see the district's imports
        "transfer.*": NONE,
        "targets.*": READ,  # plans and progress: view and export within the district
        "fieldwork.ruleset": VIEW_ONLY,
        "fieldwork.detectionrun": VIEW_ONLY,
        "fieldwork.campaign": ALL,  # their own district's campaigns: change, cancel (campaigns.may_manage)
        "fieldwork.*": frozenset({VIEW, ADD, CHANGE, EXPORT}),  # flags, cleanup cases (verify, clear)
        "compliance.checklist": VIEW_ONLY,
        "compliance.*": frozenset({VIEW, ADD, CHANGE, EXPORT}),  # rectification cases, tasks, assistance
        "*": READ,
    },
    Role.COUNSELOR: {
        "accounts.counselorassignment": VIEW_ONLY,  # their own assignments
        "accounts.*": NONE,
        "core.*": NONE,
        "registry.organization": VIEW_ONLY,
        "geo.*": VIEW_ONLY,
        "rating.alert": frozenset({VIEW, CHANGE}),  # acknowledge, resolve
        "rating.ratingrun": NONE,
        "rating.*": VIEW_ONLY,
        "transfer.*": NONE,
        "targets.*": NONE,
        "fieldwork.visit": frozenset({VIEW, ADD}),  # visits to their assigned cooperatives
        "fieldwork.visitphoto": frozenset({VIEW, ADD}),  # the photos of their visits
        "fieldwork.contactnote": frozenset({VIEW, ADD}),  # contact log of their assigned cooperatives
        "fieldwork.campaign": NONE,  # their campaign visits: the targets of their cooperatives (my/)
        "fieldwork.detectionrun": NONE,
        "fieldwork.*": VIEW_ONLY,
        "compliance.checklist": VIEW_ONLY,
        "compliance.specialassistance": VIEW_ONLY,
        "compliance.rectificationcase": frozenset({VIEW, ADD}),  # opened from their own visit
        "compliance.*": frozenset({VIEW, ADD, CHANGE}),  # item outcomes (pass, fail → a task)
        "*": VIEW_ONLY,
    },
    Role.COOPERATIVE: {
        "registry.yearlyfact": frozenset({VIEW, ADD, CHANGE}),
        "registry.organization": VIEW_ONLY,
        "accounts.counselorassignment": VIEW_ONLY,  # who counsels their cooperative
        "accounts.*": NONE,
        "core.*": NONE,
        "geo.*": VIEW_ONLY,
        "rating.alert": NONE,
        "rating.ratingrun": NONE,
        "rating.*": VIEW_ONLY,
        "transfer.importjob": frozenset({VIEW, ADD}),  # import their own yearly facts
        "transfer.*": NONE,
        "targets.*": NONE,
        "fieldwork.*": NONE,
        "compliance.*": VIEW_ONLY,  # their own cooperative's rectification cases, tasks and assistance
        "*": VIEW_ONLY,
    },
}

# Roles that see personal data (phone numbers) in full are marked in User.get_scope (Scope.unmasked);
# everyone else sees it masked, in pages, lists, exports, the API and the History alike.
