"""FilterSet base: division choices limited to the user's part of the city; Bootstrap widgets."""

from __future__ import annotations

import html
from typing import Any

import django_filters as filters
from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .scoping import scope_for


class FastSelect(forms.Select):
    """A <select> written in Python. Django renders each <option> through a template (about 0.2 ms each:
    40 ms for the 200 options of a list page's filters); this writes the same HTML directly."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs or {})
        final["name"] = name
        if self.allow_multiple_selected:
            final["multiple"] = True
        selected = set(self.format_value(value))
        parts: list[str] = [format_html("<select{}>", flatatt(final))]
        for option_value, label in self.choices:
            if isinstance(label, list | tuple):
                parts.append(format_html('<optgroup label="{}">', option_value))
                parts.extend(self._option(v, text, selected) for v, text in label)
                parts.append("</optgroup>")
            else:
                parts.append(self._option(option_value, label, selected))
        parts.append("</select>")
        return mark_safe("".join(parts))

    @staticmethod
    def _option(value: Any, label: Any, selected: set[str]) -> str:
        # what format_html() writes (escape = html.escape of the text), without its per-call overhead:
        # a city user's list page writes about 200 options
        text = "" if value is None else str(value)
        shown = label.__html__() if hasattr(label, "__html__") else html.escape(str(label))
        return (
            f'<option value="{html.escape(text)}"{" selected" if text in selected else ""}>{shown}</option>'
        )


def districts_of(user: Any) -> set[int] | None:
    """The ids of the districts a user works in, for the choices of district filters (None: every
    district): their scope's, a counselor's own district, a cooperative user's cooperative's."""
    scope = scope_for(user)
    if scope.everything:
        return None
    districts: set[int] = set(scope.district_ids)
    user_district = getattr(user, "district_id", None)
    if user_district:
        districts.add(user_district)  # counselors work in one district
    cooperative = getattr(user, "cooperative", None) if getattr(user, "cooperative_id", None) else None
    if cooperative is not None:
        districts.add(cooperative.district_id)
    return districts


class ScopedFilterSet(filters.FilterSet):
    """Filters named `district` and `town` offer only the divisions the user works in."""

    def __init__(self, data: Any = None, queryset: Any = None, *, request: Any = None, **kwargs: Any) -> None:
        super().__init__(data, queryset, request=request, **kwargs)
        user = getattr(request, "user", None)
        districts = districts_of(user)
        for name, field in self.form.fields.items():
            if type(field.widget) is forms.Select:
                field.widget.__class__ = FastSelect  # same widget, same choices; written without templates
            field.widget.attrs.setdefault(
                "class", "form-select" if hasattr(field, "choices") else "form-control"
            )
            if districts is None:
                continue
            if name == "district" and hasattr(field, "queryset"):
                field.queryset = field.queryset.filter(pk__in=districts)
            if name == "town" and hasattr(field, "queryset"):
                field.queryset = field.queryset.filter(district_id__in=districts)
