import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hezuo.core.tables import BaseTable

from .models import User


class UserTable(BaseTable):
    username = tables.Column(linkify=lambda record: f"/accounts/users/{record.pk}/")
    full_name = tables.Column(
        accessor="get_full_name", orderable=False, verbose_name=pgettext_lazy("person", "Name")
    )
    role = tables.Column()
    district = tables.Column(accessor="district__name", verbose_name=_("District"))
    cooperative = tables.Column(accessor="cooperative__name", verbose_name=_("Cooperative"))
    is_active = tables.BooleanColumn()
    last_login = tables.DateTimeColumn(format="Y-m-d H:i")

    fixed = ("username",)

    class Meta(BaseTable.Meta):
        model = User
        fields = ()
        sequence = ("username", "full_name", "role", "district", "cooperative", "is_active", "last_login")
