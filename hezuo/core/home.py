"""Each role's landing page: counts in the user's scope and what is overdue for them (reminders from
hezuo.fieldwork.reminders, to which other apps add their sources)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest

from hezuo.core.scoping import VIEW


def home_context(request: HttpRequest) -> dict[str, Any]:
    from hezuo.accounts.roles import Role
    from hezuo.registry.models import Cooperative

    user: Any = request.user
    if user.role == Role.COOPERATIVE and user.cooperative_id and not user.is_superuser:
        return {"redirect": user.cooperative.get_absolute_url()}
    coops = Cooperative.objects.restrict(user, VIEW).filter(retired_at__isnull=True)
    by_district = list(
        coops.values("district__code", "district__name").annotate(n=Count("pk")).order_by("district__code")
    )
    by_status = list(coops.values("operating_status").annotate(n=Count("pk")).order_by("-n"))
    from hezuo.registry.choices import OperatingStatus

    labels = dict(OperatingStatus.choices)
    for row in by_status:
        row["label"] = labels.get(row["operating_status"], row["operating_status"])
    from hezuo.fieldwork.reminders import collect
    from hezuo.targets.models import Plan

    from .scoping import can

    return {
        "can_view_progress": can(user, Plan, VIEW),
        "reminders": collect(user),
        "total": sum(row["n"] for row in by_district),
        "by_district": by_district,
        "by_status": by_status,
        "assigned": coops.order_by("name")[:50] if user.role == Role.COUNSELOR else None,
    }
