"""The navigation menu: items appear only for users whose role may view them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .scoping import VIEW, can

# (label, url name, model label or None for "any signed-in user"); apps add their items here
MENU: list[tuple[Any, str, str | None]] = [
    (_("Home"), "home", None),
    (_("Cooperatives"), "registry:cooperative_list", "registry.cooperative"),
    (_("Ratings"), "rating:rating_list", "rating.rating"),
    (_("Alerts"), "rating:alert_list", "rating.alert"),
    (_("Plans and progress"), "targets:mine", "targets.plan"),
    (_("Flags"), "fieldwork:flag_list", "fieldwork.flag"),
    (_("Cleanup cases"), "fieldwork:case_list", "fieldwork.cleanupcase"),
    (_("Rectification cases"), "compliance:case_list", "compliance.rectificationcase"),
    (_("Survey campaigns"), "fieldwork:campaign_list", "fieldwork.campaign"),
    (_("Imports"), "transfer:job_list", "transfer.importjob"),
    (_("Organisations"), "registry:organization_list", "registry.organization"),
    (_("Users"), "accounts:user_list", "accounts.user"),
    (_("Change log"), "core:change_list", "core.changerecord"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"menu": [], "can_view_changes": False}
    from django.apps import apps

    items = []
    for label, url_name, model_label in MENU:
        if model_label is not None:
            model = apps.get_model(model_label)
            if not can(user, model, VIEW):
                continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": request.path.startswith(url) and url != "/"})
    from .models import ChangeRecord

    return {"menu": items, "can_view_changes": can(user, ChangeRecord, VIEW)}
