"""Edit forms of the registry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hezuo.core.forms import RecordForm
from hezuo.geo.models import Division

from .models import (
    COOPERATIVE_EDIT_FIELDS,
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)
from .validation import CreditCodeRefused, vet_credit_code

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CooperativeForm(RecordForm):
    confirm_warnings = forms.BooleanField(
        label=_("I have checked the credit code against the licence: save it despite the warning"),
        required=False,
        widget=forms.HiddenInput,  # shown as a checkbox only once the code raised a warning
    )

    class Meta:
        model = Cooperative
        fields = list(COOPERATIVE_EDIT_FIELDS)
        widgets = {
            "registration_date": DATE,
            "suspended_since": DATE,
            "abnormal_listed_on": DATE,
            "note": forms.Textarea(attrs={"rows": 3}),
            "town": forms.Select(attrs={"data-division-level": "town"}),
            "village": forms.Select(attrs={"data-division-level": "village"}),
            "district": forms.Select(attrs={"data-division-level": "district"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.user
        districts = Division.objects.filter(level=Division.Level.DISTRICT)
        user_district = getattr(user, "district_id", None)
        if user is not None and getattr(user, "role", None) == "district" and user_district:
            districts = districts.filter(pk=user_district)
            self.fields["district"].initial = user_district
        self._choice("district").queryset = districts
        # towns and villages of the chosen district/town only (the page script refreshes them)
        district_id = self._value("district") or (districts[0].pk if districts.count() == 1 else None)
        town_id = self._value("town")
        self._choice("town").queryset = Division.objects.filter(
            level=Division.Level.TOWN, district_id=district_id
        )
        self._choice("village").queryset = Division.objects.filter(
            level=Division.Level.VILLAGE, parent_id=town_id
        )
        # accept a code pasted with spaces or full-width characters: clean_credit_code normalises it
        code_field = self.fields["credit_code"]
        assert isinstance(code_field, forms.CharField)
        code_field.max_length = 40
        code_field.validators = []
        self.fields["credit_code"].widget.attrs.update({"maxlength": 40, "autocapitalize": "characters"})
        self.warnings: list[str] = []
        # move the confirmation right after the code
        confirm = self.fields.pop("confirm_warnings")
        order = list(self.fields.keys())
        fields = {}
        for name in order:
            fields[name] = self.fields[name]
            if name == "credit_code":
                fields["confirm_warnings"] = confirm
        self.fields = fields

    def _value(self, name: str) -> Any:
        if self.is_bound:
            return self.data.get(self.add_prefix(name)) or None
        return (
            getattr(self.instance, f"{name}_id", None) or self.initial.get(name) or self.fields[name].initial
        )

    def clean_credit_code(self) -> str:
        try:
            result = vet_credit_code(self.cleaned_data.get("credit_code", ""), self.user, self.instance.pk)
        except CreditCodeRefused as refused:
            other = refused.duplicate
            if other is None:
                raise forms.ValidationError(refused.messages) from None
            raise forms.ValidationError(
                format_html(
                    '{} <a href="{}">{}</a>',
                    refused.messages[0],
                    reverse("registry:cooperative_detail", args=[other.pk]),
                    other.name,
                )
            ) from None
        self.warnings = result.warnings
        return result.code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.warnings:
            self.fields["confirm_warnings"].widget = forms.CheckboxInput(attrs={"class": "form-check-input"})
        if self.warnings and not data.get("confirm_warnings"):
            for warning in self.warnings:
                self.add_error("credit_code", warning)
            self.add_error("confirm_warnings", _("Tick this box to save the code despite the warning."))
        return data

    def validate_unique(self) -> None:
        # duplicates of the credit code are answered by clean_credit_code, with a link
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]
        exclude.add("credit_code")
        try:
            self.instance.validate_unique(exclude=exclude)
        except forms.ValidationError as exc:
            self._update_errors(exc)  # type: ignore[attr-defined]


class YearlyFactForm(RecordForm):
    class Meta:
        model = YearlyFact
        exclude = ["cooperative", "retired_at", "created_at", "updated_at"]
        widgets = {"assembly_date": DATE, "annual_report_date": DATE}

    def validate_unique(self) -> None:
        super().validate_unique()
        year = self.cleaned_data.get("year")
        coop_id = self.instance.cooperative_id
        if year and coop_id:
            clash = YearlyFact.objects.filter(cooperative_id=coop_id, year=year, retired_at__isnull=True)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("year", _("Facts for this year already exist; edit them instead."))


class DemonstrationTitleForm(RecordForm):
    class Meta:
        model = DemonstrationTitle
        fields = ["level", "year_granted", "year_revoked", "document"]


class FederationMembershipForm(RecordForm):
    class Meta:
        model = FederationMembership
        fields = ["level", "federation", "since", "until", "end_reason"]
        widgets = {"since": DATE, "until": DATE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._choice("federation").queryset = Organization.objects.filter(kind__startswith="federation")


class SponsorshipForm(RecordForm):
    class Meta:
        model = Sponsorship
        fields = ["kind", "mode", "sponsor", "equity_amount", "start_date", "end_date", "end_reason"]
        widgets = {"start_date": DATE, "end_date": DATE}


class OrganizationForm(RecordForm):
    class Meta:
        model = Organization
        fields = ["name", "kind", "district", "parent", "credit_code"]
