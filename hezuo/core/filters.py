"""FilterSet base: division choices limited to the user's part of the city; Bootstrap widgets."""

from __future__ import annotations

from typing import Any

import django_filters as filters

from .scoping import scope_for


class ScopedFilterSet(filters.FilterSet):
    """Filters named `district` and `town` offer only the divisions the user works in."""

    def __init__(self, data: Any = None, queryset: Any = None, *, request: Any = None, **kwargs: Any) -> None:
        super().__init__(data, queryset, request=request, **kwargs)
        user = getattr(request, "user", None)
        scope = scope_for(user)
        districts: set[int] = set(scope.district_ids)
        user_district = getattr(user, "district_id", None)
        if not scope.everything and user_district:
            districts.add(user_district)  # counselors work in one district
        for name, field in self.form.fields.items():
            field.widget.attrs.setdefault(
                "class", "form-select" if hasattr(field, "choices") else "form-control"
            )
            if scope.everything or not districts:
                continue
            if name == "district" and hasattr(field, "queryset"):
                field.queryset = field.queryset.filter(pk__in=districts)
            if name == "town" and hasattr(field, "queryset"):
                field.queryset = field.queryset.filter(district_id__in=districts)
