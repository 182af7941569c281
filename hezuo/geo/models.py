"""Administrative divisions: city → district → town → village (codes of the statistics bureau)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from hezuo.core.scoping import ScopedQuerySet


class Division(models.Model):
    class Level(models.TextChoices):
        CITY = "city", _("City")
        DISTRICT = "district", _("District")
        TOWN = "town", _("Town")
        VILLAGE = "village", _("Village")

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # the district this division lies in (itself for a district), for fast scoping and filtering
    district = models.ForeignKey(
        "self", verbose_name=_("district"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    # divisions are public reference data: every signed-in user may read them
    scope_public = True

    class Meta:
        ordering = ["code"]
        verbose_name = _("division")
        verbose_name_plural = _("divisions")

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        names = []
        node: Division | None = self
        while node is not None and node.level != self.Level.CITY:
            names.append(node.name)
            node = node.parent
        return " ".join(reversed(names))
