"""The registry's pages: declarations on the generic views, plus the cooperative page's tabs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from hezuo.core import views as generic
from hezuo.core.export import Column
from hezuo.core.scoping import ADD, CHANGE, RETIRE, VIEW, can, mask_phone, restrict, sees_personal_data
from hezuo.core.ui import ModelUI

from .filters import CooperativeFilterSet, OrganizationFilterSet
from .forms import (
    CooperativeForm,
    DemonstrationTitleForm,
    FederationMembershipForm,
    OrganizationForm,
    SponsorshipForm,
    YearlyFactForm,
)
from .models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)
from .search import apply_search
from .tables import CooperativeTable, OrganizationTable


def _display(field: str) -> Any:
    return lambda obj: getattr(obj, f"get_{field}_display")()


COOPERATIVE_EXPORT: list[Column] = [
    ("name", _("Name"), lambda c: c.name),
    ("credit_code", _("Unified social credit code"), lambda c: c.credit_code),
    ("registration_date", _("Registration date"), lambda c: c.registration_date),
    ("registered_capital", _("Registered capital (yuan)"), lambda c: c.registered_capital),
    ("legal_representative", _("Legal representative"), lambda c: c.legal_representative),
    ("address", _("Address"), lambda c: c.address),
    ("district", _("District"), lambda c: c.district.name),
    ("district_code", _("District code"), lambda c: c.district.code),
    ("town", _("Town"), lambda c: c.town.name),
    ("town_code", _("Town code"), lambda c: c.town.code),
    ("village", _("Village"), lambda c: c.village.name if c.village_id else ""),
    ("village_code", _("Village code"), lambda c: c.village.code if c.village_id else ""),
    ("industry", _("Industry"), _display("industry")),
    ("main_products", _("Main products"), lambda c: c.main_products),
    ("brands", _("Registered brands"), lambda c: c.brands),
    ("certifications", _("Certifications"), lambda c: "、".join(c.certifications)),
    ("operating_status", _("Operating status"), _display("operating_status")),
    ("on_abnormal_list", _("On the abnormal-operations list"), lambda c: c.on_abnormal_list),
]


TABS = [
    ("identity", _("Identity")),
    ("facts", _("Yearly facts")),
    ("titles", _("Demonstration titles")),
    ("memberships", _("Federation membership")),
    ("sponsorships", _("Sponsorship")),
    ("counselors", _("Counselors")),
    ("rating", _("Star rating")),
    ("cleanup", _("Visits and cleanup")),
]


class CooperativeUI(ModelUI):
    model = Cooperative
    form_class = CooperativeForm
    filterset_class = CooperativeFilterSet
    table_class = CooperativeTable
    export_columns = COOPERATIVE_EXPORT
    select_related = ("district", "town", "village")
    detail_template = "registry/cooperative_detail.html"
    edit_template = "registry/cooperative_edit.html"
    list_template = "registry/cooperative_list.html"
    history_template = "registry/cooperative_history.html"
    search = staticmethod(apply_search)
    search_placeholder = _("Search name, pinyin, initials or credit code")
    default_ordering = ("name", "pk")
    tabs = TABS


class ChildUI(ModelUI):
    parent_field = "cooperative"
    parent_ui = CooperativeUI
    has_list = False
    select_related = ("cooperative",)


class YearlyFactUI(ChildUI):
    model = YearlyFact
    form_class = YearlyFactForm
    slug = "facts"
    parent_tab = "facts"


class DemonstrationTitleUI(ChildUI):
    model = DemonstrationTitle
    form_class = DemonstrationTitleForm
    slug = "titles"
    parent_tab = "titles"


class FederationMembershipUI(ChildUI):
    model = FederationMembership
    form_class = FederationMembershipForm
    slug = "memberships"
    parent_tab = "memberships"


class SponsorshipUI(ChildUI):
    model = Sponsorship
    form_class = SponsorshipForm
    slug = "sponsorships"
    parent_tab = "sponsorships"


class OrganizationUI(ModelUI):
    model = Organization
    form_class = OrganizationForm
    filterset_class = OrganizationFilterSet
    table_class = OrganizationTable
    search_fields = ("name", "credit_code")
    select_related = ("district", "parent")
    export_columns = [
        ("name", _("Name"), lambda o: o.name),
        ("kind", _("Kind"), _display("kind")),
        ("district", _("District"), lambda o: o.district.name if o.district_id else ""),
    ]


class CooperativeDetailView(generic.ObjectDetailView):
    """The cooperative's page: identity and one tab per kind of record under it."""

    def detail_context(self, obj: Any) -> dict[str, Any]:
        context = super().detail_context(obj)
        user = self.request.user
        tab = context["tab"] if context["tab"] in dict(TABS) else "identity"
        from hezuo.accounts.models import CounselorAssignment

        children: dict[str, tuple[ModelUI, QuerySet[Any]]] = {
            "facts": (YearlyFactUI(), YearlyFact.objects.filter(cooperative=obj).order_by("-year")),
            "titles": (DemonstrationTitleUI(), DemonstrationTitle.objects.filter(cooperative=obj)),
            "memberships": (
                FederationMembershipUI(),
                FederationMembership.objects.filter(cooperative=obj).select_related("federation"),
            ),
            "sponsorships": (
                SponsorshipUI(),
                Sponsorship.objects.filter(cooperative=obj).select_related("sponsor"),
            ),
        }
        sections = {}
        for key, (ui, qs) in children.items():
            qs = restrict(qs, user, VIEW)
            if self.request.GET.get("retired") != "1":
                qs = qs.filter(retired_at__isnull=True)
            sections[key] = {
                "ui": ui,
                "rows": list(qs),
                "can_add": can(user, ui.model, ADD),
                "editable": set(
                    ui.queryset(user, CHANGE).filter(cooperative=obj).values_list("pk", flat=True)
                ),
                "retirable": set(
                    ui.queryset(user, RETIRE).filter(cooperative=obj).values_list("pk", flat=True)
                ),
            }
        assignments = CounselorAssignment.objects.restrict(user, VIEW).filter(cooperative=obj)
        if self.request.GET.get("retired") != "1":
            assignments = assignments.filter(retired_at__isnull=True)
        if tab == "cleanup":
            from hezuo.fieldwork.views import cooperative_tab_context

            context.update(cooperative_tab_context(user, obj))
            from hezuo.compliance.views import cooperative_cases_context

            context.update(cooperative_cases_context(user, obj))
        if tab == "rating":
            from hezuo.rating.views import rating_tab_context

            year = self.request.GET.get("year", "")
            context.update(rating_tab_context(user, obj, int(year) if year.isdigit() else None))
        context.update(
            tab=tab,
            tabs=TABS,
            sections=sections,
            phone=obj.phone if sees_personal_data(user) else mask_phone(obj.phone),
            assignments=assignments.select_related("counselor"),
            can_assign=can(user, CounselorAssignment, ADD)
            and Cooperative.objects.restrict(user, CHANGE).filter(pk=obj.pk).exists(),
        )
        return context


class CooperativeHistoryView(generic.ObjectHistoryView):
    pass
