"""List tables of the registry."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hezuo.core.scoping import mask_phone, sees_personal_data
from hezuo.core.tables import BaseTable

from .models import Cooperative, Organization


class CooperativeTable(BaseTable):
    # every ordering ends with the primary key: pages of a sorted list are the same whichever plan the
    # database picks (the page query and a count with the page, see BaseTable.paginate, can differ)
    name = tables.Column(linkify=True, attrs={"td": {"class": "wrap"}}, order_by=("name", "pk"))
    credit_code = tables.Column(order_by=("credit_code", "pk"))
    district = tables.Column(
        accessor="district__name", order_by=("district_id", "name", "pk"), verbose_name=_("District")
    )
    town = tables.Column(accessor="town__name", order_by=("town_id", "name", "pk"), verbose_name=_("Town"))
    industry = tables.Column(order_by=("industry", "name", "pk"))
    main_products = tables.Column(orderable=False)
    operating_status = tables.Column(order_by=("operating_status", "name", "pk"))
    # as the list index coop_regdate_scope_idx orders them
    registration_date = tables.DateColumn(
        format="Y-m-d", order_by=("registration_date", "district_id", "town_id", "name", "pk")
    )
    registered_capital = tables.Column(
        verbose_name=_("Registered capital (10k yuan)"), order_by=("registered_capital", "name", "pk")
    )
    legal_representative = tables.Column(order_by=("legal_representative", "name", "pk"))
    phone = tables.Column(order_by=("phone", "name", "pk"))
    on_abnormal_list = tables.BooleanColumn(order_by=("on_abnormal_list", "name", "pk"))

    fixed = ("name",)
    defaults = ("credit_code", "district", "town", "industry", "operating_status", "registration_date")

    class Meta(BaseTable.Meta):
        model = Cooperative
        fields = ()
        sequence = (
            "name",
            "credit_code",
            "district",
            "town",
            "industry",
            "main_products",
            "operating_status",
            "registration_date",
            "registered_capital",
            "legal_representative",
            "phone",
            "on_abnormal_list",
        )

    def render_registered_capital(self, value: Any) -> str:
        return f"{value / 10000:,.2f}" if value is not None else ""

    def render_phone(self, value: str) -> str:
        return value if sees_personal_data(self.user) else mask_phone(value)

    def render_operating_status(self, value: str, record: Cooperative) -> str:
        colour = {
            "operating": "success",
            "suspended": "warning",
            "dormant": "warning",
            "shell": "danger",
        }.get(record.operating_status, "secondary")
        return format_html('<span class="badge text-bg-{}">{}</span>', colour, value)


class OrganizationTable(BaseTable):
    name = tables.Column(linkify=True)
    kind = tables.Column()
    district = tables.Column(accessor="district__name", verbose_name=_("District"))
    parent = tables.Column(accessor="parent__name", verbose_name=_("Parent unit"))

    fixed = ("name",)

    class Meta(BaseTable.Meta):
        model = Organization
        fields = ()
        sequence = ("name", "kind", "district", "parent")
