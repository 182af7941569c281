from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from hezuo.core.forms import RecordForm
from hezuo.geo.models import Division

from .models import CounselorAssignment, User
from .roles import Role


class UserForm(RecordForm):
    password1 = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        required=False,
        help_text=_("Required for a new user; leave empty to keep the current one."),
    )
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, required=False)

    class Meta:
        model = User
        fields = [
            "username",
            "first_name",
            "last_name",
            "email",
            "phone",
            "role",
            "district",
            "cooperative",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choice("district").queryset = Division.objects.filter(level=Division.Level.DISTRICT)
        self.fields["cooperative"].widget = forms.NumberInput(attrs={"class": "form-control"})
        self.fields["cooperative"].help_text = _("The cooperative's number (for cooperative users).")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if not self.instance.pk and not p1:
            self.add_error("password1", _("A new user needs a password."))
        if p1 or p2:
            if p1 != p2:
                self.add_error("password2", _("The two passwords differ."))
            else:
                try:
                    password_validation.validate_password(str(p1), self.instance)
                except forms.ValidationError as exc:
                    self.add_error("password1", exc)
        return data

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("password1"):
            user.set_password(self.cleaned_data["password1"])
        if commit:
            user.save()
        return user


class CounselorAssignmentForm(RecordForm):
    class Meta:
        model = CounselorAssignment
        fields = ["counselor", "start_date", "end_date"]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        coop = self.parent or getattr(self.instance, "cooperative", None)
        counselors = User.objects.filter(role=Role.COUNSELOR, is_active=True)
        if coop is not None:
            counselors = counselors.filter(district_id=coop.district_id)
        self._choice("counselor").queryset = counselors
