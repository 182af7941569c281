"""The scoping chokepoint: every query for domain records goes through `restrict(user, action)`.

A user's `Scope` says which actions the user's role allows on which models and which part of the
city the user reaches (everything, some districts, some cooperatives). Each model says how its rows
hang off that tree (`scope_district`, `scope_cooperative`). Nothing else decides visibility: views,
API, exports, counts and searches all start from `Model.objects.restrict(user, action)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

VIEW, ADD, CHANGE, RETIRE, EXPORT = "view", "add", "change", "retire", "export"
ACTIONS = (VIEW, ADD, CHANGE, RETIRE, EXPORT)


@dataclass(frozen=True)
class Scope:
    """What one user may do, and where.

    permissions maps a model label ("registry.cooperative") or an app wildcard ("registry.*") or "*"
    to the set of actions allowed. `everything` reaches the whole city; otherwise `district_ids`
    and `cooperative_ids` (ids or a subquery of ids) bound the rows.
    """

    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    everything: bool = False
    district_ids: frozenset[int] = frozenset()
    cooperative_ids: Any = None  # an iterable of ids or a values_list subquery
    # whether personal data (phone numbers) is shown in full; otherwise it is masked everywhere
    unmasked: bool = False

    def allows(self, label: str, action: str) -> bool:
        app = label.split(".", 1)[0]
        for key in (label, f"{app}.*", "*"):
            actions = self.permissions.get(key)
            if actions is not None:
                return action in actions
        return False

    def row_filter(self, model: type[models.Model]) -> Q | None:
        """The Q that bounds `model`'s rows to this scope; None when nothing is reachable."""
        if self.everything or getattr(model, "scope_public", False):
            return Q()
        condition: Q | None = None
        district_path = getattr(model, "scope_district", None)
        coop_path = getattr(model, "scope_cooperative", None)
        if self.district_ids and district_path:
            condition = Q(**{f"{district_path}__in": sorted(self.district_ids)})
            if getattr(model, "scope_shared_when_null", False):
                condition |= Q(**{f"{district_path}__isnull": True})
        if self.cooperative_ids is not None and coop_path:
            ids = self.cooperative_ids
            coop_q = Q(**{f"{coop_path}__in": ids})
            condition = coop_q if condition is None else condition | coop_q
        if condition is None and getattr(model, "scope_shared_when_null", False) and district_path:
            condition = Q(**{f"{district_path}__isnull": True})
        return condition


NO_SCOPE = Scope()


def scope_for(user: Any) -> Scope:
    """The user's scope (computed once per user object)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return NO_SCOPE
    cached = getattr(user, "_hezuo_scope", None)
    if cached is None:
        cached = user.get_scope()
        user._hezuo_scope = cached
    return cached


def sees_personal_data(user: Any) -> bool:
    """Whether the user sees personal data such as phone numbers in full (else masked)."""
    return scope_for(user).unmasked


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def can(user: Any, model: type[models.Model] | models.Model, action: str) -> bool:
    """Whether the user's role allows `action` on `model` at all (rows aside)."""
    return scope_for(user).allows(model._meta.label_lower, action)


M = TypeVar("M", bound=models.Model)


def restrict(queryset: models.QuerySet[Any], user: Any, action: str = VIEW) -> models.QuerySet[Any]:
    """The chokepoint: `queryset` bounded to what `user` may `action`. Nothing reachable → none()."""
    scope = scope_for(user)
    if not scope.allows(queryset.model._meta.label_lower, action):
        return queryset.none()
    condition = scope.row_filter(queryset.model)
    if condition is None:
        return queryset.none()
    if not condition:
        return queryset
    return queryset.filter(condition)


class ScopedQuerySet(models.QuerySet[M]):
    def restrict(self, user: Any, action: str = VIEW) -> ScopedQuerySet[M]:
        return restrict(self, user, action)  # type: ignore[return-value]

    def active(self) -> ScopedQuerySet[M]:
        if any(f.name == "retired_at" for f in self.model._meta.get_fields()):
            return self.filter(retired_at__isnull=True)
        return self


def get_scoped_or_404(
    queryset: models.QuerySet[M] | type[M], user: AnonymousUser | Any, action: str = VIEW, **lookup: Any
) -> M:
    """The object, if it exists *and* the user may `action` it; else 404 (never 403: no leak)."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    try:
        return restrict(qs, user, action).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def ids_in_scope(user: Any, model: type[models.Model], ids: Iterable[int], action: str = VIEW) -> set[int]:
    qs = restrict(model._default_manager.filter(pk__in=list(ids)), user, action)
    return set(qs.values_list("pk", flat=True))
