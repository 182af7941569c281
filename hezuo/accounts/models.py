"""Users, their role and scope, and counselors' assignments to cooperatives."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hezuo.core.models import RecordModel
from hezuo.core.scoping import Scope, ScopedQuerySet
from hezuo.geo.models import Division

from .roles import PERMISSIONS, Role


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.DISTRICT},
        help_text=_("District staff and counselors work in one district; a viewer may be limited to one."),
    )
    cooperative = models.ForeignKey(
        "registry.Cooperative",
        verbose_name=_("cooperative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("For cooperative users: their own cooperative."),
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    scope_district = "district"
    history_exclude = ("password", "last_login", "date_joined")

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def get_full_name(self) -> str:
        """Chinese names read surname first with no space (林建建); others "first last"."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
            return f"{last}{first}"
        return f"{first} {last}".strip()

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    def clean(self) -> None:
        super().clean()
        if self.role in (Role.DISTRICT, Role.COUNSELOR) and not self.district_id:
            raise ValidationError({"district": _("District staff and counselors need a district.")})
        if self.role == Role.COOPERATIVE and not self.cooperative_id:
            raise ValidationError({"cooperative": _("A cooperative user needs a cooperative.")})

    def get_scope(self) -> Scope:
        if not self.is_active:
            return Scope()
        role = Role.CITY if self.is_superuser else self.role
        permissions = PERMISSIONS.get(role, {})
        if role == Role.CITY:
            return Scope(permissions=permissions, everything=True, unmasked=True)
        if role == Role.VIEWER:
            if self.district_id:
                return Scope(permissions=permissions, district_ids=frozenset({self.district_id}))
            return Scope(permissions=permissions, everything=True)
        if role == Role.DISTRICT and self.district_id:
            return Scope(permissions=permissions, district_ids=frozenset({self.district_id}), unmasked=True)
        if role == Role.COUNSELOR:
            assigned = CounselorAssignment.objects.current().filter(counselor=self).values("cooperative_id")
            return Scope(permissions=permissions, cooperative_ids=assigned)
        if role == Role.COOPERATIVE and self.cooperative_id:
            return Scope(permissions=permissions, cooperative_ids=[self.cooperative_id])
        return Scope()

    @property
    def role_label(self) -> str:
        return "superuser" if self.is_superuser else str(self.get_role_display())


class AssignmentQuerySet(ScopedQuerySet["CounselorAssignment"]):
    def current(self, on=None) -> AssignmentQuerySet:  # type: ignore[no-untyped-def]
        on = on or timezone.localdate()
        return self.filter(retired_at__isnull=True, start_date__lte=on).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=on)
        )


class CounselorAssignment(RecordModel):
    """A counselor (供销专干 / 辅导员) assigned to a cooperative for a period."""

    counselor = models.ForeignKey(
        User,
        verbose_name=_("counselor"),
        on_delete=models.PROTECT,
        related_name="assignments",
        limit_choices_to={"role": Role.COUNSELOR},
    )
    cooperative = models.ForeignKey(
        "registry.Cooperative",
        verbose_name=_("cooperative"),
        on_delete=models.PROTECT,
        related_name="counselor_assignments",
    )
    start_date = models.DateField(_("start date"), default=timezone.localdate)
    end_date = models.DateField(_("end date"), null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()  # type: ignore[misc]

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("counselor assignment")
        verbose_name_plural = _("counselor assignments")
        indexes = [models.Index(fields=["counselor", "cooperative"], name="assign_counselor_coop_idx")]

    def __str__(self) -> str:
        return f"{self.counselor} → {self.cooperative}"

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end cannot be before the start.")})
        if self.counselor_id and self.counselor.role != Role.COUNSELOR:
            raise ValidationError({"counselor": _("This user is not a counselor.")})
        if (
            self.counselor_id
            and self.cooperative_id
            and self.counselor.district_id
            and self.counselor.district_id != self.cooperative.district_id
        ):
            raise ValidationError({"counselor": _("The counselor works in another district.")})
        if self.counselor_id and self.cooperative_id and self.start_date:
            # one assignment of a counselor to a cooperative at a time: periods may follow, not overlap
            others = CounselorAssignment.objects.filter(
                counselor_id=self.counselor_id, cooperative_id=self.cooperative_id, retired_at__isnull=True
            ).exclude(pk=self.pk)
            if self.end_date:
                others = others.filter(start_date__lte=self.end_date)
            overlap = others.filter(
                models.Q(end_date__isnull=True) | models.Q(end_date__gte=self.start_date)
            ).first()
            if overlap is not None:
                raise ValidationError(
                    {
                        "start_date": _(
                            "%(counselor)s is already assigned to this cooperative from %(start)s%(end)s: "
                            "end that assignment first, or start this one after it."
                        )
                        % {
                            "counselor": self.counselor,
                            "start": overlap.start_date,
                            "end": _(" to %(date)s") % {"date": overlap.end_date} if overlap.end_date else "",
                        }
                    }
                )
