"""Forms of the import pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .specs import KINDS


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"))
    file = forms.FileField(
        label=_("File (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,.xlsm,.xls,.csv,.txt", "class": "form-control"}
        ),
    )

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field: Any = self.fields["kind"]
        kind_field.choices = [(k, KINDS[k].label) for k in kinds]
        self.fields["kind"].widget.attrs["class"] = "form-select"


class MappingForm(forms.Form):
    """One select per column of the file that matched nothing (or that the user re-mapped)."""

    def __init__(self, *args: Any, job: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = KINDS[job.kind]
        choices = [("", _("— ignore this column —"))] + [(c.key, c.title) for c in kind.columns]
        self.headers: list[str] = [h for h in job.headers if h]
        mapping = job.mapping or {}
        for index, header in enumerate(self.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=mapping.get(header, ""),
                widget=forms.Select(attrs={"class": "form-select form-select-sm", "data-header": header}),
            )

    def mapping(self) -> dict[str, str]:
        return {header: self.cleaned_data.get(f"col_{i}", "") or "" for i, header in enumerate(self.headers)}


class CommitForm(forms.Form):
    confirm_warnings = forms.BooleanField(
        label=_("I have read the warnings and want to import these rows as they are"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
