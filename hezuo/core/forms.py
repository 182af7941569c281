"""Form bases: every edit form carries an optional reason that goes into the change history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .scoping import VIEW, ScopedQuerySet


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        help_text=_("Optional: recorded in the History with the change."),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. corrected from the 2024 annual report")}),
    )


class RecordForm(ReasonMixin, forms.ModelForm):
    """Base of every edit form. Foreign-key choices are limited to what the user may see."""

    def __init__(self, *args: Any, user: Any = None, parent: Any = None, **kwargs: Any) -> None:
        self.user = user
        self.parent = parent
        super().__init__(*args, **kwargs)
        if parent is not None and hasattr(self.instance, "cooperative_id") and not self.instance.pk:
            self.instance.cooperative = parent
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and user is not None:
                qs = field.queryset
                if isinstance(qs, ScopedQuerySet):
                    field.queryset = qs.restrict(user, VIEW)
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")
        # reason goes last
        if "reason" in self.fields:
            self.fields["reason"] = self.fields.pop("reason")

    def _choice(self, name: str) -> forms.ModelChoiceField:
        """The named model-choice field (typed, for setting its queryset)."""
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        return field


class ColumnsForm(forms.Form):
    """Pick the columns of a list (saved per user)."""

    columns = forms.MultipleChoiceField(
        label=_("Columns"), widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["columns"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = choices
