"""Forms of the cleanup case's transitions (the service functions validate again and decide)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from hezuo.core.forms import ReasonMixin

from .models import Authority, CleanupCase

if TYPE_CHECKING:
    from hezuo.geo.models import Division

    from .models import Campaign, Visit

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")  # what a date input reads


class StyledForm(forms.Form):
    """Bootstrap classes on every widget (large touch targets on a phone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:  # the history's reason (core.forms.ReasonMixin) goes last
            self.fields["reason"] = self.fields.pop("reason")
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def _model_choice(self, name: str) -> forms.ModelChoiceField[Any]:
        """The named model-choice field (typed, for setting its queryset)."""
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        return field

    def _choice(self, name: str) -> forms.ChoiceField:
        """The named choice field (typed, for setting its choices)."""
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field


class VisitChoiceField(forms.ModelChoiceField):  # unparameterized: not generic at run time
    """A visit, labelled by its date, visitor and classification."""

    def label_from_instance(self, obj: Visit) -> str:
        return " · ".join(
            str(part)
            for part in (obj.date.isoformat(), obj.visitor, obj.get_classification_display())
            if part
        )


class CampaignChoiceField(forms.ModelChoiceField):
    """A campaign, labelled by its name and period."""

    def label_from_instance(self, obj: Campaign) -> str:
        return f"{obj.name} ({obj.start_date:%Y-%m-%d} – {obj.end_date:%Y-%m-%d})"


class VerifyForm(StyledForm):
    finding = forms.ChoiceField(label=_("Finding"), choices=CleanupCase.Finding.choices)
    visit = VisitChoiceField(label=_("Visit"), queryset=None, required=False)

    def __init__(self, *args: Any, case: Any = None, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hezuo.core.scoping import restrict

        from .models import Visit

        visits: QuerySet[Visit] = Visit.objects.none()
        if case is not None and user is not None:
            visits = restrict(
                Visit.objects.filter(cooperative_id=case.cooperative_id, retired_at__isnull=True),
                user,
                "view",
            )
        field = self._model_choice("visit")
        field.queryset = visits.select_related("visitor").order_by("-date")
        field.empty_label = _("No visit (other evidence)")

    visit_date = forms.DateField(label=_("Visit date"), required=False, widget=DATE)
    note = forms.CharField(
        label=_("Evidence (visit or other)"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ClearForm(StyledForm):
    reason = forms.CharField(
        label=_("Why it is not a shell"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ApproveForm(StyledForm):
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CarryOutForm(StyledForm):
    action_date = forms.DateField(label=_("Date the links end"), widget=DATE)
    reason = forms.CharField(label=_("Reason for ending the links"), max_length=200)
    referral_date = forms.DateField(label=_("Referral date"), widget=DATE)
    referral_authority = forms.ChoiceField(label=_("Referred to"), choices=Authority.choices)
    referral_document = forms.CharField(label=_("Referral document number"), max_length=100)


class CloseForm(ApproveForm):
    pass


FORMS: dict[str, type[forms.Form]] = {
    "verify": VerifyForm,
    "clear": ClearForm,
    "approve": ApproveForm,
    "carry_out": CarryOutForm,
    "close": CloseForm,
}


def make_form(name: str, case: Any, user: Any, data: Any = None) -> forms.Form:
    """The form of a transition (the verification offers the visits to the case's cooperative)."""
    if name == "verify":
        return VerifyForm(data, case=case, user=user)
    return FORMS[name](data)


PHOTO_TYPES = {"JPEG", "PNG", "WEBP"}
PHOTO_MAX_SIDE = 1600
YES_NO = [("", _("Not checked")), ("yes", _("Yes")), ("no", _("No"))]


def photo_max_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "HEZUO_PHOTO_MAX_BYTES", 8 * 1024 * 1024))


def process_photo(upload: Any) -> Any:
    """Check a photo's type (by its content) and size, and re-encode it as a JPEG of at most 1600 px
    (which also drops its metadata). Raises ValidationError with a clear message."""
    from io import BytesIO

    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageOps, UnidentifiedImageError

    if upload.size > photo_max_bytes():
        raise ValidationError(
            _("The photo is too large (%(size)s MB; at most %(max)s MB).")
            % {"size": round(upload.size / 1048576, 1), "max": photo_max_bytes() // 1048576}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            kind = probe.format
            probe.verify()
        upload.seek(0)
        image: Image.Image = Image.open(upload)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(_("This file is not a photo (JPEG, PNG or WebP).")) from exc
    if kind not in PHOTO_TYPES:
        raise ValidationError(_("This file is not a photo (JPEG, PNG or WebP)."))
    image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    out = BytesIO()
    image.save(out, "JPEG", quality=82)
    return SimpleUploadedFile("visit.jpg", out.getvalue(), content_type="image/jpeg")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input (a phone's camera or gallery); cleans to a list, each checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"accept": "image/*", "capture": "environment", "multiple": True}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:  # type: ignore[override]
        single = super().clean
        uploads = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [single(upload, initial) for upload in uploads if upload]


PHOTOS_PER_VISIT = 6


class VisitForm(ReasonMixin, StyledForm):
    """The visit form: large touch targets, works on a 360-px screen."""

    field_order = ["date", "campaign"]

    date = forms.DateField(label=_("Visit date"), widget=DATE)
    people_met = forms.CharField(label=_("People met"), max_length=300, required=False)
    operating = forms.ChoiceField(label=_("Operating?"), choices=YES_NO, required=False)
    farmers_taking_part = forms.ChoiceField(label=_("Farmers taking part?"), choices=YES_NO, required=False)
    books_kept = forms.ChoiceField(label=_("Books and member accounts kept?"), choices=YES_NO, required=False)
    assembly_held = forms.ChoiceField(label=_("General assembly held?"), choices=YES_NO, required=False)
    office_and_sign = forms.ChoiceField(label=_("Office and sign present?"), choices=YES_NO, required=False)
    feedback_departments = forms.CharField(
        label=_("Feedback from departments"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    feedback_neighbours = forms.CharField(
        label=_("Feedback from neighbouring farmers"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    classification = forms.ChoiceField(label=_("Your classification"), required=False)
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    photos = MultiplePhotoField(label=_("Photos"), required=False)
    latitude = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, required=False, widget=forms.HiddenInput
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), max_digits=9, decimal_places=6, required=False, widget=forms.HiddenInput
    )
    location_accuracy = forms.IntegerField(
        label=_("Location accuracy (m)"), min_value=0, required=False, widget=forms.HiddenInput
    )

    campaign = CampaignChoiceField(
        label=_("For the campaign"),
        queryset=None,
        required=False,
    )
    # made when the form is opened and sent with it (kept by the draft and the offline queue): the visit
    # sent twice is saved once (Visit.client_token)
    client_token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    CHECKLIST = ("operating", "farmers_taking_part", "books_kept", "assembly_held", "office_and_sign")

    def __init__(self, *args: Any, campaigns: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .models import Campaign, Visit

        self._choice("classification").choices = [("", _("Not classified")), *Visit.Classification.choices]
        field = self._model_choice("campaign")
        field.queryset = campaigns if campaigns is not None else Campaign.objects.none()
        field.empty_label = _("No campaign")
        if campaigns is None or not campaigns.exists():
            del self.fields["campaign"]
        reason = self.fields["reason"]  # kept in the History with the visit: why it was made
        reason.label = _("Why this visit")
        reason.widget.attrs["placeholder"] = _("e.g. a complaint from neighbours, the quarterly round")

    def clean_photos(self) -> list[Any]:
        uploads = self.cleaned_data.get("photos") or []
        if len(uploads) > PHOTOS_PER_VISIT:
            raise forms.ValidationError(_("At most %(n)s photos per visit.") % {"n": PHOTOS_PER_VISIT})
        from django.core.exceptions import ValidationError as DjangoValidationError

        processed, errors = [], []
        for number, upload in enumerate(uploads, start=1):
            try:
                processed.append(process_photo(upload))
            except DjangoValidationError as exc:
                prefix = (
                    _("Photo %(n)s (%(name)s): ") % {"n": number, "name": upload.name}
                    if len(uploads) > 1
                    else ""
                )
                errors += [prefix + message for message in exc.messages]
        if errors:
            raise forms.ValidationError(errors)
        return processed

    def clean_location_accuracy(self) -> Any:
        value = self.cleaned_data.get("location_accuracy")
        return min(value, 100_000) if value is not None else None

    def visit_values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in self.CHECKLIST:
            data[name] = {"yes": True, "no": False}.get(data.get(name) or "")
        data.pop("photos", None)
        data.pop("reason", None)
        return data


CHECKS = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


class CampaignChangeForm(StyledForm):
    """Changing a campaign: its name, the end of its period (extend or shorten), its note, with a reason."""

    name = forms.CharField(label=_("Name"), max_length=200)
    end_date = forms.DateField(label=_("Period end"), widget=DATE)
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = forms.CharField(label=_("Reason for the change"), max_length=500, required=False)


class CampaignCancelForm(StyledForm):
    reason = forms.CharField(
        label=_("Why is the campaign cancelled?"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class CampaignForm(ReasonMixin, StyledForm):
    """Opening a survey campaign: its name, scope, period and which cooperatives (a rule, kept as data)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    district: forms.ModelChoiceField[Division] = forms.ModelChoiceField(
        label=_("Scope"),
        queryset=None,
        required=False,
    )
    start_date = forms.DateField(label=_("Period start"), widget=DATE)
    end_date = forms.DateField(label=_("Period end"), widget=DATE)
    links = forms.MultipleChoiceField(
        label=_("Cooperatives linked with the system on the start date (any of)"),
        required=False,
        widget=CHECKS,
        help_text=_("None ticked: no condition on links."),
    )
    statuses = forms.MultipleChoiceField(
        label=_("Operating status (any of)"),
        required=False,
        widget=CHECKS,
        help_text=_("None ticked: any status."),
    )
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"links": ["sponsored", "member"]})
        super().__init__(*args, **kwargs)
        from hezuo.accounts.roles import Role
        from hezuo.geo.models import Division
        from hezuo.registry.choices import OperatingStatus

        from .campaigns import LINK_LABELS, role_of

        districts = Division.objects.filter(level=Division.Level.DISTRICT).order_by("code")
        field = self._model_choice("district")
        if user is not None and role_of(user) == Role.DISTRICT:
            field.queryset = districts.filter(pk=user.district_id)
            field.required = True
            field.empty_label = None
            field.initial = user.district_id
        else:
            field.queryset = districts
            field.empty_label = _("The whole city")
        self._choice("links").choices = list(LINK_LABELS.items())
        self._choice("statuses").choices = OperatingStatus.choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The period cannot end before it starts."))
        return data

    def rule(self) -> dict[str, Any]:
        return {"version": 1, "links": self.cleaned_data["links"], "statuses": self.cleaned_data["statuses"]}


class ContactNoteForm(ReasonMixin, StyledForm):
    """A note in the contact log of a cooperative."""

    kind = forms.ChoiceField(label=_("Kind"))
    date = forms.DateField(label=_("Date"), widget=DATE)
    people = forms.CharField(label=_("People"), max_length=300, required=False)
    text = forms.CharField(label=_("Content"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .models import ContactNote

        self._choice("kind").choices = ContactNote.Kind.choices


class RuleSetForm(ReasonMixin, StyledForm):
    """A rule-set version as a YAML document: typed (or edited from a copy) or uploaded as a file."""

    document = forms.CharField(
        label=_("Rule set (YAML)"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 24, "spellcheck": "false", "class": "form-control font-monospace"}
        ),
    )
    file = forms.FileField(label=_("Or a YAML file"), required=False)
    activate = forms.BooleanField(
        label=_("Make it the active rule set"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > 200_000:
                self.add_error("file", _("The file is too large (at most 200 KB)."))
                return data
            try:
                data["document"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", _("The file is not UTF-8 text."))
        elif not (data.get("document") or "").strip():
            self.add_error("document", _("Give the rule set: type it here or choose a file."))
        return data

    def document_text(self) -> str:
        return str(self.cleaned_data.get("document") or "")


PARAMETER_LABELS: dict[str, Any] = {
    "min_members": _("Fewest registered members"),
    "min_farmer_members": _("Fewest farmer members"),
    "years": _("Consecutive years"),
    "accept_suspension": _("A filed suspension justifies it"),
    "max_suspension_years": _("Longest suspension (years)"),
    "max_years": _("Longest suspension (years)"),
    "min_days": _("Days halted at least"),
    "field": _("Marker recorded on the cooperative"),
    "deadline": _("Filing deadline (month-day)"),
    "require_abnormal_list": _("Only when on the abnormal-operations list"),
}


class RuleSetRulesForm(ReasonMixin, StyledForm):
    """A new rule-set version from a stored one, rule by rule: each rule on or off and its parameters
    (typed by the rule's schema), under a new version label."""

    version = forms.CharField(label=_("New version label"), max_length=50)
    name = forms.CharField(label=_("Name"), max_length=200)
    activate = forms.BooleanField(
        label=_("Make it the active rule set"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args: Any, source: Any, **kwargs: Any) -> None:
        from .detection import RULES
        from .rulesets import next_version, settings_of

        settings = settings_of(source)
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("version", next_version(source.version))
        kwargs["initial"].setdefault("name", source.name)
        super().__init__(*args, **kwargs)
        self.source = source
        self.rules: list[tuple[str, str, str, list[str]]] = []  # (code, title, basis, field names)
        stored = (source.rules or {}).get("rules") or {}
        for code in sorted(settings):
            names = [f"{code}__enabled"]
            self.fields[names[0]] = forms.BooleanField(
                label=_("On"),
                required=False,
                initial=settings[code].get("enabled", True),
                widget=forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"}),
            )
            schema = RULES[code][1] if code in RULES else {}
            for param, (typ, _default) in schema.items():
                key = f"{code}__{param}"
                label = PARAMETER_LABELS.get(param, param)
                value = settings[code].get(param)
                field: forms.Field
                if typ is bool:
                    field = forms.BooleanField(
                        label=label,
                        required=False,
                        initial=value,
                        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
                    )
                elif typ is int:
                    field = forms.IntegerField(
                        label=label,
                        min_value=0,
                        max_value=100_000,
                        initial=value,
                        widget=forms.NumberInput(attrs={"class": "form-control", "inputmode": "numeric"}),
                    )
                else:
                    field = forms.CharField(
                        label=label,
                        max_length=50,
                        initial=value,
                        widget=forms.TextInput(attrs={"class": "form-control"}),
                    )
                self.fields[key] = field
                names.append(key)
            entry = stored.get(code) or {}
            self.rules.append((code, str(entry.get("title") or ""), str(entry.get("basis") or ""), names))

    def rule_rows(self) -> list[dict[str, Any]]:
        """Per rule: its code, title, basis, the "on" field and its parameters' fields (for the template)."""
        return [
            {
                "code": code,
                "title": title,
                "basis": basis,
                "enabled": self[names[0]],
                "params": [self[name] for name in names[1:]],
            }
            for code, title, basis, names in self.rules
        ]

    def settings(self) -> dict[str, dict[str, Any]]:
        """{rule: {"enabled": …, parameter: value}} as entered (after is_valid())."""
        found: dict[str, dict[str, Any]] = {}
        for code, _title, _basis, names in self.rules:
            found[code] = {name.split("__", 1)[1]: self.cleaned_data.get(name) for name in names}
        return found
