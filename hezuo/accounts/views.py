"""User management (city staff) and counselor assignments (district staff, from a cooperative's page)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from hezuo.core.ui import ModelUI
from hezuo.registry.views import CooperativeUI

from .filters import UserFilterSet
from .forms import CounselorAssignmentForm, UserForm
from .models import CounselorAssignment, User
from .tables import UserTable


class UserUI(ModelUI):
    model = User
    # Django's own flags, which this product does not use (roles do the work)
    detail_exclude = ("is_superuser", "is_staff")
    form_class = UserForm
    filterset_class = UserFilterSet
    table_class = UserTable
    select_related = ("district", "cooperative")
    default_ordering = ("username",)
    search_fields = ("username", "first_name", "last_name", "phone")
    export_columns = [
        ("username", _("User name"), lambda u: u.username),
        ("name", _("Name"), lambda u: u.get_full_name()),
        ("role", _("Role"), lambda u: u.get_role_display()),
        ("district", _("District"), lambda u: u.district.name if u.district_id else ""),
        ("is_active", _("Active"), lambda u: u.is_active),
    ]


class CounselorAssignmentUI(ModelUI):
    model = CounselorAssignment
    form_class = CounselorAssignmentForm
    parent_field = "cooperative"
    parent_ui = CooperativeUI
    parent_tab = "counselors"
    has_list = False
    slug = "assignments"
    select_related = ("cooperative", "counselor")
