"""Checks shared by every way a cooperative is written (forms, API): one place for each rule."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from hezuo.core.scoping import VIEW

from . import creditcode
from .models import Cooperative


class CreditCodeRefused(ValueError):
    """The code cannot be saved: `messages` say why; `duplicate` is the cooperative already holding it,
    when the user may see that one (to link to it), else None."""

    def __init__(self, messages: list[str], duplicate: Cooperative | None = None) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.duplicate = duplicate


def vet_credit_code(raw: str, user: Any, instance_pk: int | None = None) -> creditcode.CreditCodeCheck:
    """The normalised code with its confirmable warnings (GB 32100 structure and check character), or
    CreditCodeRefused for a malformed code or one another cooperative already holds (named only when
    the user may see it, so a duplicate never reveals a cooperative outside the user's scope)."""
    result = creditcode.check(raw)
    if result.errors:
        raise CreditCodeRefused(result.errors)
    others = Cooperative.objects.filter(credit_code=result.code)
    if instance_pk is not None:
        others = others.exclude(pk=instance_pk)
    other = others.first()
    if other is not None:
        if Cooperative.objects.restrict(user, VIEW).filter(pk=other.pk).exists():
            raise CreditCodeRefused([_("This credit code is already registered:")], other)
        raise CreditCodeRefused([_("This credit code is already registered (outside your scope).")])
    return result
