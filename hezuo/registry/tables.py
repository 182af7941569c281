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
    name = tables.Column(linkify=True, attrs={"td": {"class": "wrap"}})
    credit_code = tables.Column()
    district = tables.Column(
        accessor="district__name", order_by=("district_id", "name"), verbose_name=_("District")
    )
    town = tables.Column(accessor="town__name", order_by=("town_id", "name"), verbose_name=_("Town"))
    industry = tables.Column()
    main_products = tables.Column(orderable=False)
    operating_status = tables.Column()
    registration_date = tables.DateColumn(format="Y-m-d")
    registered_capital = tables.Column(verbose_name=_("Registered capital (10k yuan)"))
    legal_representative = tables.Column()
    phone = tables.Column()
    on_abnormal_list = tables.BooleanColumn()

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
