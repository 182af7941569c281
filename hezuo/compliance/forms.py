"""Forms of rectification cases (the service functions in rectification.py validate again and decide).

Large touch targets: they are filled in on a 360-px phone in the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hezuo.core.forms import ReasonMixin
from hezuo.core.years import FISCAL_FIRST, FISCAL_LAST

from .models import SpecialAssistance

if TYPE_CHECKING:
    from hezuo.accounts.models import User

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class StyledForm(forms.Form):
    """Bootstrap classes on every widget."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:  # the history's reason (core.forms.ReasonMixin) goes last
            self.fields["reason"] = self.fields.pop("reason")
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                continue
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def _choice(self, name: str) -> forms.ChoiceField:
        """The named choice field (typed, for setting its choices)."""
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def _model_choice(self, name: str) -> forms.ModelChoiceField[Any]:
        """The named model-choice field (typed, for setting its queryset)."""
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        return field


class OpenCaseForm(ReasonMixin, StyledForm):
    year = forms.IntegerField(label=_("Fiscal year"), min_value=FISCAL_FIRST, max_value=FISCAL_LAST)
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"year": timezone.localdate().year - 1})
        super().__init__(*args, **kwargs)
        self.fields["year"].widget.attrs["inputmode"] = "numeric"


class OutcomeForm(StyledForm):
    outcome = forms.ChoiceField(label=_("Outcome"), widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("Evidence, finding or reason"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )

    def __init__(self, *args: Any, outcomes: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            "pass": _("Passes (give the evidence)"),
            "fail": _("Fails (say what was found: a task is opened)"),
            "waive": _("Waive (give the reason)"),
        }
        self._choice("outcome").choices = [(o, labels[o]) for o in (outcomes or ["pass", "fail"])]


class TaskForm(StyledForm):
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(label=_("Owner"), queryset=None)
    deadline = forms.DateField(label=_("Deadline"), widget=DATE)
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, owners: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hezuo.accounts.models import User

        self._model_choice("owner").queryset = owners if owners is not None else User.objects.none()


class TransitionForm(StyledForm):
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CancelForm(StyledForm):
    reason = forms.CharField(
        label=_("Reason for cancelling"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


TRANSITION_FORMS: dict[str, type[forms.Form]] = {
    "start": TransitionForm,
    "close": TransitionForm,
    "cancel": CancelForm,
}


class AssistanceForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=SpecialAssistance.Kind.choices)
    description = forms.CharField(label=_("What was given"), max_length=500)
    amount = forms.DecimalField(label=_("Amount (yuan)"), required=False, max_digits=14, decimal_places=2)
    date = forms.DateField(label=_("Date"), widget=DATE)
    given_by = forms.CharField(label=_("Given by"), max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"date": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"
