import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hezuo.registry.filters import ScopedFilterSet

from .models import User


class UserFilterSet(ScopedFilterSet):
    q = filters.CharFilter(label=_("Name"), method="filter_q")

    class Meta:
        model = User
        fields = ["role", "district", "is_active"]

    def filter_q(self, qs, name, value):  # type: ignore[no-untyped-def]
        return qs.filter(Q(username__icontains=value) | Q(first_name__icontains=value) | Q(last_name__icontains=value))
