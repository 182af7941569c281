from hezuo.core.filters import ScopedFilterSet

from .models import User


class UserFilterSet(ScopedFilterSet):
    class Meta:
        model = User
        fields = ["role", "district", "is_active"]
