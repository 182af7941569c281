"""Plans, their metrics and their targets (policy is data: a plan is loaded from a file or edited).

A plan has years; each metric it tracks has a row here (label, annex position, configuration) whose key
names a pure metric function in `hezuo.targets.metrics`; a target is a value for one metric, one year and
one district, or the whole city when the district is empty.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from hezuo.core.models import RecordModel
from hezuo.core.years import is_fiscal_year
from hezuo.geo.models import Division

# the links that make a cooperative "closely linked with the system" (star_coops); the plan chooses
LINK_MEMBER = "federation_member"
LINK_SPONSORED = "sponsored"
LINK_COUNSELOR = "counselor"
LINK_CHOICES = (LINK_MEMBER, LINK_SPONSORED, LINK_COUNSELOR)
LINK_LABELS = {
    LINK_MEMBER: _("member of the federation"),
    LINK_SPONSORED: _("sponsored by the system"),
    LINK_COUNSELOR: _("has a counselor"),
}

# the labels are data (a plan may bring its own); these default ones are shown translated (Plan.legend)
DEFAULT_LEGEND = [
    {"from": 0, "color": "#f8d7da", "label": gettext_noop("behind")},
    {"from": 0.6, "color": "#fff3cd", "label": gettext_noop("catching up")},
    {"from": 0.9, "color": "#d1e7dd", "label": gettext_noop("on track")},
    {"from": 1.0, "color": "#a3cfbb", "label": gettext_noop("reached")},
]


def default_config() -> dict[str, Any]:
    return {"closely_linked": list(LINK_CHOICES), "legend": [dict(band) for band in DEFAULT_LEGEND]}


class Plan(RecordModel):
    """A multi-year action plan of the federation with its targets."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=300)
    issuer = models.CharField(_("issuer"), max_length=200, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    years = models.JSONField(
        _("years"), default=list, help_text=_("The plan's years, e.g. [2023, 2024, 2025].")
    )
    config = models.JSONField(
        _("configuration"),
        default=default_config,
        blank=True,
        help_text=_(
            "closely_linked: which links make a cooperative closely linked with the system "
            "(federation_member, sponsored, counselor); legend: colour bands of attainment."
        ),
    )
    district_labels = models.JSONField(
        _("district labels"),
        default=list,
        blank=True,
        help_text=_(
            "The districts in the order of the plan's table, with their short names: [[code, name], ...]."
        ),
    )

    scope_public = True  # plans are city policy: every role allowed to see plans sees them all

    class Meta:
        ordering = ["-issued_on", "code"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.name

    @property
    def closely_linked(self) -> list[str]:
        return list((self.config or {}).get("closely_linked") or LINK_CHOICES)

    @property
    def closely_linked_labels(self) -> list[str]:
        """The links in words, for pages."""
        return [str(LINK_LABELS.get(link, link)) for link in self.closely_linked]

    @property
    def district_order(self) -> list[tuple[str, str]]:
        return [(str(code), str(label)) for code, label in (self.district_labels or [])]

    @property
    def legend(self) -> list[dict[str, Any]]:
        bands = (self.config or {}).get("legend") or DEFAULT_LEGEND
        # a label is shown in the reader's language when the catalogue knows it (the defaults), else as given
        return sorted(
            ({**band, "label": gettext(str(band.get("label", "")))} for band in bands),
            key=lambda band: float(band["from"]),
        )

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        years = self.years
        if (
            not isinstance(years, list)
            or not years
            or not all(is_fiscal_year(y) for y in years)
            or sorted(set(years)) != years
        ):
            errors["years"] = _("Give the plan's years as an ascending list, e.g. [2023, 2024, 2025].")
        config = self.config or {}
        links = config.get("closely_linked", list(LINK_CHOICES))
        if not isinstance(links, list) or not links or any(link not in LINK_CHOICES for link in links):
            errors["config"] = _("closely_linked must list some of: %(choices)s.") % {
                "choices": ", ".join(LINK_CHOICES)
            }
        legend = config.get("legend", DEFAULT_LEGEND)
        try:
            for band in legend:
                float(band["from"])
                str(band["color"])
        except (TypeError, KeyError, ValueError):
            errors["config"] = _("Each legend band needs a lower bound (from) and a colour (color).")
        review = config.get("review") or {}
        try:
            weights = review.get("weights") or {}
            if any(float(v) < 0 for v in weights.values()) or float(review.get("cap", 1.0)) <= 0:
                raise ValueError
        except (AttributeError, TypeError, ValueError):
            errors["config"] = _(
                "review: weights must be numbers of 0 or more and the cap a positive number."
            )
        if errors:
            raise ValidationError(errors)


class Metric(RecordModel):
    """One metric a plan tracks: its key names the function that computes it (hezuo.targets.metrics)."""

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="metrics")
    key = models.CharField(_("key"), max_length=60)
    label = models.CharField(_("label"), max_length=100, blank=True)
    annex_order = models.PositiveSmallIntegerField(
        _("column in the annex"),
        null=True,
        blank=True,
        help_text=_("Empty: not a column of the annex table."),
    )
    config = models.JSONField(_("configuration"), default=dict, blank=True)

    scope_public = True
    history_parent = "plan"

    class Meta:
        ordering = ["plan", "annex_order", "key"]
        verbose_name = _("metric")
        verbose_name_plural = _("metrics")
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="unique_plan_metric")]

    def __str__(self) -> str:
        return self.display_label

    @property
    def definition(self) -> Any:
        from .metrics import REGISTRY

        return REGISTRY.get(self.key)

    @property
    def display_label(self) -> str:
        if self.label:
            return self.label
        definition = self.definition
        return str(definition.label) if definition else self.key

    def clean(self) -> None:
        from .metrics import REGISTRY

        if self.key not in REGISTRY:
            raise ValidationError({"key": _("Unknown metric %(key)s.") % {"key": self.key}})


class Target(RecordModel):
    """The value a metric should reach by the end of a year, in a district or (district empty) the city."""

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="targets")
    metric = models.ForeignKey(
        Metric, verbose_name=_("metric"), on_delete=models.PROTECT, related_name="targets"
    )
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.DISTRICT},
        help_text=_("Empty for a city-wide target."),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    value = models.DecimalField(_("target"), max_digits=14, decimal_places=4)

    scope_district = "district"
    scope_shared_when_null = True  # city-wide targets are seen by every district
    history_parent = "plan"

    class Meta:
        ordering = ["plan", "metric", "year", "district__code"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "metric", "district", "year"],
                condition=Q(retired_at__isnull=True, district__isnull=False),
                name="unique_district_target",
            ),
            models.UniqueConstraint(
                fields=["plan", "metric", "year"],
                condition=Q(retired_at__isnull=True, district__isnull=True),
                name="unique_city_target",
            ),
        ]

    def __str__(self) -> str:
        where = self.district.name if self.district_id and self.district is not None else _("city")
        return f"{self.metric} {where} {self.year}: {self.value}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.plan_id and self.year and self.year not in (self.plan.years or []):
            errors["year"] = _("%(year)s is not a year of the plan.") % {"year": self.year}
        if self.metric_id and self.plan_id and self.metric.plan_id != self.plan_id:
            errors["metric"] = _("This metric belongs to another plan.")
        if self.value is not None:
            if self.value < 0:
                errors["value"] = _("A target cannot be negative.")
            elif (
                self.metric_id
                and self.metric.definition
                and self.metric.definition.kind == "share"
                and self.value > Decimal(1)
            ):
                errors["value"] = _("A share is at most 1 (100%).")
        if self.district_id and self.district is not None and self.district.level != Division.Level.DISTRICT:
            errors["district"] = _("Choose a district.")
        if (
            self.plan_id
            and self.year
            and YearClose.objects.filter(plan_id=self.plan_id, year=self.year, closed=True)
        ):
            errors["year"] = _("%(year)s is closed: its targets cannot be changed until it is reopened.") % {
                "year": self.year
            }
        if errors:
            raise ValidationError(errors)


class YearClose(RecordModel):
    """A plan's year closed by city staff: its numbers are the year-end snapshot, locked; reopening is
    possible and recorded (the row's history)."""

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="closes")
    year = models.PositiveSmallIntegerField(_("year"))
    closed = models.BooleanField(_("closed"), default=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    scope_public = True
    history_parent = "plan"

    class Meta:
        ordering = ["plan", "year"]
        verbose_name = _("year close")
        verbose_name_plural = _("year closes")
        constraints = [models.UniqueConstraint(fields=["plan", "year"], name="unique_year_close")]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.year}"


class Snapshot(RecordModel):
    """The value of one metric for one district at the close of a year, with the cooperatives behind it."""

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="snapshots")
    year = models.PositiveSmallIntegerField(_("year"))
    metric_key = models.CharField(_("metric"), max_length=60)
    district = models.ForeignKey(
        Division, verbose_name=_("district"), on_delete=models.PROTECT, related_name="+"
    )
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=4, null=True, blank=True)
    count = models.PositiveIntegerField(_("cooperatives"), default=0)
    denominator = models.PositiveIntegerField(_("of"), null=True, blank=True)
    provisional = models.BooleanField(_("provisional"), default=False)
    # [[cooperative id, summed value or null], ...] and, for shares, the population's ids
    members = models.JSONField(_("members"), default=list, blank=True)
    population = models.JSONField(_("population"), default=list, blank=True)

    scope_district = "district"
    history_exclude = ("created_at", "updated_at", "members", "population")

    class Meta:
        ordering = ["plan", "year", "metric_key", "district__code"]
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        indexes = [models.Index(fields=["plan", "year"], name="snapshot_plan_year_idx")]

    def __str__(self) -> str:
        return f"{self.metric_key} {self.district} {self.year}: {self.value}"
