from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def yesno_unknown(value: Any) -> str:
    if value is None:
        return "—"
    return _("Yes") if value else _("No")


@register.filter
def wan(value: Any) -> str:
    """Yuan shown as 万元 with two decimals (Chinese convention)."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value) / Decimal(10000):,.2f}"


@register.filter
def blank(value: Any) -> Any:
    return "—" if value is None or value == "" else value


@register.filter
def may_view(user: Any, model_label: str) -> bool:
    """Whether the user's role may see records of the model ("app_label.model"): for links and tabs that
    would otherwise lead to a page that refuses them."""
    from django.apps import apps

    from hezuo.core.scoping import VIEW, can

    return can(user, apps.get_model(model_label), VIEW)
