"""The cooperative registry: cooperatives, their yearly facts, titles, federation memberships,
sponsorships by the system, and the system's organisations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hezuo.core.models import RecordModel
from hezuo.core.scoping import ScopedQuerySet
from hezuo.core.years import FISCAL_FIRST, FISCAL_LAST
from hezuo.geo.models import Division

from .choices import (
    FederationLevel,
    Industry,
    OperatingStatus,
    OrganizationKind,
    SponsorshipKind,
    SponsorshipMode,
    TitleLevel,
)
from .creditcode import normalize as normalize_code
from .search import build_search_text

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MONEY: dict[str, Any] = {
    "max_digits": 16,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0"))],
}
PERCENT: dict[str, Any] = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
}
phone_validator = RegexValidator(
    r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
    _("Enter a mobile number of 11 digits (1xxxxxxxxxx) or a landline such as 0574-87654321."),
)


_FROZEN_TODAY: ContextVar[dt.date | None] = ContextVar("hezuo_frozen_today", default=None)


def today() -> dt.date:
    """Today's date in the site's time zone (the rules "not in the future", "not before registration"); one
    date for a whole bulk import inside `frozen_today()` (reading the zone costs more than a row's checks)."""
    return _FROZEN_TODAY.get() or timezone.localdate()


@contextmanager
def frozen_today() -> Iterator[dt.date]:
    """Within the block, `today()` is the date it had when the block began (a bulk import's rows are all
    checked against one date, even across midnight)."""
    token = _FROZEN_TODAY.set(timezone.localdate())
    try:
        yield _FROZEN_TODAY.get() or timezone.localdate()
    finally:
        _FROZEN_TODAY.reset(token)


class Organization(RecordModel):
    """A unit of the federation system: supply and marketing cooperatives, enterprises, 农合联."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=OrganizationKind.choices)
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.DISTRICT},
        help_text=_("Empty for city-level units."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    credit_code = models.CharField(_("credit code"), max_length=18, blank=True)

    scope_district = "district"
    scope_shared_when_null = True  # city-level units are visible to every district

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class CooperativeQuerySet(ScopedQuerySet["Cooperative"]):
    def with_flags(self, on: dt.date | None = None) -> CooperativeQuerySet:
        """Annotate whether each cooperative is, on a date, a federation member and sponsored."""
        on = on or today()
        member = FederationMembership.objects.filter(cooperative=OuterRef("pk")).current(on)
        sponsored = Sponsorship.objects.filter(cooperative=OuterRef("pk")).current(on)
        return self.annotate(is_member=Exists(member), is_sponsored=Exists(sponsored))

    def with_title(self, level: str | None = None, year: int | None = None) -> CooperativeQuerySet:
        titles = DemonstrationTitle.objects.filter(cooperative=OuterRef("pk")).current(year)
        if level:
            titles = titles.filter(level=level)
        return self.filter(Exists(titles))


# the fields staff edit on a cooperative, in the form and the API alike (the rest is kept by the system)
COOPERATIVE_EDIT_FIELDS = (
    "name",
    "credit_code",
    "registration_date",
    "registered_capital",
    "legal_representative",
    "phone",
    "address",
    "district",
    "town",
    "village",
    "industry",
    "main_products",
    "brands",
    "cert_green",
    "cert_organic",
    "cert_geographic",
    "has_traceability",
    "operating_status",
    "suspended_since",
    "on_abnormal_list",
    "abnormal_listed_on",
    "serious_violation",
    "illegal_finance",
    "subsidy_fraud",
    "note",
)


class Cooperative(RecordModel):
    name = models.CharField(_("name"), max_length=200)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    registration_date = models.DateField(_("registration date"))
    registered_capital = models.DecimalField(_("registered capital (yuan)"), null=True, blank=True, **MONEY)
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, validators=[phone_validator])
    address = models.CharField(_("address"), max_length=255, blank=True)
    district = models.ForeignKey(
        Division,
        verbose_name=_("district"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.DISTRICT},
    )
    town = models.ForeignKey(
        Division,
        verbose_name=_("town"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.TOWN},
    )
    village = models.ForeignKey(
        Division,
        verbose_name=_("village"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": Division.Level.VILLAGE},
    )
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, db_index=True)
    main_products = models.CharField(_("main products"), max_length=200, blank=True)
    brands = models.CharField(_("registered brands"), max_length=200, blank=True)
    cert_green = models.BooleanField(_("green food certification"), default=False)
    cert_organic = models.BooleanField(_("organic certification"), default=False)
    cert_geographic = models.BooleanField(_("geographical indication"), default=False)
    has_traceability = models.BooleanField(_("production records and traceability"), default=False)
    operating_status = models.CharField(
        _("operating status"),
        max_length=20,
        choices=OperatingStatus.choices,
        default=OperatingStatus.OPERATING,
        db_index=True,
    )
    suspended_since = models.DateField(_("suspended since"), null=True, blank=True)
    on_abnormal_list = models.BooleanField(_("on the abnormal-operations list"), default=False, db_index=True)
    abnormal_listed_on = models.DateField(_("abnormal-listed on"), null=True, blank=True)
    serious_violation = models.BooleanField(_("on the serious-violation list"), default=False)
    illegal_finance = models.BooleanField(_("illegal financial activity found"), default=False)
    subsidy_fraud = models.BooleanField(_("subsidy fraud found"), default=False)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    search_text = models.CharField(max_length=1000, blank=True, editable=False)

    objects = CooperativeQuerySet.as_manager()  # type: ignore[misc]

    scope_district = "district"
    scope_cooperative = "pk"
    history_exclude = ("created_at", "updated_at", "search_text")
    masked_fields = ("phone",)  # personal data: masked in the History for users who see it masked elsewhere

    class Meta:
        ordering = ["name"]
        verbose_name = _("cooperative")
        verbose_name_plural = _("cooperatives")
        indexes = [
            models.Index(fields=["district", "name"], name="coop_district_name_idx"),
            # lists filter registration years over a third of the city: count and sort those rows, in the
            # whole city or a district's scope, from the index alone (live rows only, as lists show them)
            models.Index(
                fields=["registration_date", "district", "town", "name"],
                name="coop_regdate_scope_idx",
                condition=Q(retired_at__isnull=True),
            ),
            models.Index(fields=["name"], name="coop_name_idx"),
            models.Index(fields=["district", "industry"], name="coop_district_industry_idx"),
            models.Index(fields=["town", "name"], name="coop_town_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def refresh_search_text(self) -> None:
        self.search_text = build_search_text(self.name, self.credit_code, self.legal_representative)

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.credit_code = normalize_code(self.credit_code)
        self.refresh_search_text()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, list[StrOrPromise]] = {}
        now = today()  # once: each call reads the clock and the time zone
        if self.registration_date and self.registration_date > now:
            errors.setdefault("registration_date", []).append(_("The registration date is in the future."))
        district_id = self.district_id
        if self.town_id:
            town = self.town
            if town.level != Division.Level.TOWN:
                errors.setdefault("town", []).append(_("Choose a town or street."))
            elif district_id and town.district_id != district_id:
                errors.setdefault("town", []).append(_("This town is not in the chosen district."))
        if self.village_id and self.village is not None:
            village = self.village
            if village.level != Division.Level.VILLAGE:
                errors.setdefault("village", []).append(_("Choose a village or community."))
            elif self.town_id and village.parent_id != self.town_id:
                errors.setdefault("village", []).append(_("This village is not in the chosen town."))
        if self.district_id and self.district.level != Division.Level.DISTRICT:
            errors.setdefault("district", []).append(_("Choose a district."))
        if self.on_abnormal_list and self.abnormal_listed_on and self.abnormal_listed_on > now:
            errors.setdefault("abnormal_listed_on", []).append(_("The date is in the future."))
        if errors:
            raise ValidationError(errors)

    @property
    def certifications(self) -> list[str]:
        names: list[str] = []
        if self.cert_green:
            names.append(str(_("Green food")))
        if self.cert_organic:
            names.append(str(_("Organic")))
        if self.cert_geographic:
            names.append(str(_("Geographical indication")))
        return names


class CooperativeChild(RecordModel):
    """A record that belongs to one cooperative and shows on its page."""

    cooperative = models.ForeignKey(Cooperative, verbose_name=_("cooperative"), on_delete=models.PROTECT)

    scope_district = "cooperative__district"
    scope_cooperative = "cooperative"
    history_parent = "cooperative"

    class Meta:
        abstract = True


class YearlyFact(CooperativeChild):
    """The facts of one fiscal year: members, money, governance (everything the rubric and the law check).

    An empty field means "not reported" and is never read as zero."""

    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(FISCAL_FIRST), MaxValueValidator(FISCAL_LAST)]
    )
    # members
    members = models.PositiveIntegerField(_("members"), null=True, blank=True)
    farmer_members = models.PositiveIntegerField(_("farmer members"), null=True, blank=True)
    entity_members = models.PositiveIntegerField(
        _("entity members"),
        null=True,
        blank=True,
        help_text=_("Enterprises, institutions, social organisations."),
    )
    member_households = models.PositiveIntegerField(_("member households"), null=True, blank=True)
    nonmember_households = models.PositiveIntegerField(
        _("non-member households driven"), null=True, blank=True
    )
    members_trained = models.PositiveIntegerField(_("members trained"), null=True, blank=True)
    public_admin_member = models.BooleanField(
        _("a member has public-administration functions"), null=True, blank=True
    )
    # money (yuan)
    revenue = models.DecimalField(_("operating revenue (yuan)"), null=True, blank=True, **MONEY)
    fixed_assets = models.DecimalField(_("fixed assets (yuan)"), null=True, blank=True, **MONEY)
    member_capital = models.DecimalField(_("member capital (yuan)"), null=True, blank=True, **MONEY)
    distributable_surplus = models.DecimalField(
        _("distributable surplus (yuan)"), null=True, blank=True, max_digits=16, decimal_places=2
    )
    surplus_returned = models.DecimalField(
        _("surplus returned by transactions (yuan)"), null=True, blank=True, **MONEY
    )
    member_transactions = models.DecimalField(_("member transactions (yuan)"), null=True, blank=True, **MONEY)
    nonmember_transactions = models.DecimalField(
        _("non-member transactions (yuan)"), null=True, blank=True, **MONEY
    )
    unified_purchase_rate = models.DecimalField(
        _("unified purchase rate (%)"), null=True, blank=True, **PERCENT
    )
    unified_sale_rate = models.DecimalField(_("unified sale rate (%)"), null=True, blank=True, **PERCENT)
    income_uplift = models.DecimalField(
        _("member income above local peers (%)"),
        null=True,
        blank=True,
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("-100")), MaxValueValidator(Decimal("1000"))],
    )
    subsidy_received = models.BooleanField(_("fiscal subsidy received"), null=True, blank=True)
    subsidy_quantified = models.BooleanField(_("subsidy assets quantified to members"), null=True, blank=True)
    loss_plan_approved = models.BooleanField(_("loss plan approved"), null=True, blank=True)
    # votes
    extra_votes = models.PositiveIntegerField(_("extra votes"), null=True, blank=True)
    # governance
    assembly_held = models.BooleanField(_("general assembly held"), null=True, blank=True)
    assembly_date = models.DateField(_("general assembly date"), null=True, blank=True)
    assembly_quorum_met = models.BooleanField(_("assembly quorum (≥2/3) met"), null=True, blank=True)
    minutes_signed = models.BooleanField(_("minutes signed by attendees"), null=True, blank=True)
    organs_in_place = models.BooleanField(_("chair, board and supervisor in place"), null=True, blank=True)
    officer_conflict = models.BooleanField(_("forbidden dual roles found"), null=True, blank=True)
    member_register_filed = models.BooleanField(
        _("member register kept and changes filed"), null=True, blank=True
    )
    members_with_accounts = models.PositiveIntegerField(
        _("members with a member account"), null=True, blank=True
    )
    accounting_compliant = models.BooleanField(
        _("accounting per the cooperative system"), null=True, blank=True
    )
    separate_accounts = models.BooleanField(
        _("member and non-member trade booked apart"), null=True, blank=True
    )
    financial_statements = models.BooleanField(_("financial statements prepared"), null=True, blank=True)
    documents_available = models.BooleanField(
        _("annual documents available 15 days before the assembly"), null=True, blank=True
    )
    reserve_quantified = models.BooleanField(_("reserve fund quantified to members"), null=True, blank=True)
    internal_audit = models.BooleanField(_("supervisor's audit reported"), null=True, blank=True)
    annual_report_filed = models.BooleanField(_("annual report filed"), null=True, blank=True)
    annual_report_date = models.DateField(_("annual report filed on"), null=True, blank=True)

    class Meta:
        ordering = ["cooperative", "-year"]
        verbose_name = _("yearly facts")
        verbose_name_plural = _("yearly facts")
        constraints = [
            models.UniqueConstraint(
                fields=["cooperative", "year"], condition=Q(retired_at__isnull=True), name="unique_fact_year"
            )
        ]
        indexes = [models.Index(fields=["year", "cooperative"], name="fact_year_coop_idx")]

    def __str__(self) -> str:
        return f"{self.cooperative} {self.year}"

    def clean(self) -> None:
        errors: dict[str, list[StrOrPromise]] = {}

        def add(field: str, message: StrOrPromise) -> None:
            errors.setdefault(field, []).append(message)

        now = today()  # once: each call reads the clock and the time zone
        if self.year and self.year > now.year:
            add("year", _("The year is in the future."))
        if self.members is not None:
            if self.farmer_members is not None and self.farmer_members > self.members:
                add("farmer_members", _("Farmer members cannot exceed members."))
            if self.entity_members is not None and self.entity_members > self.members:
                add("entity_members", _("Entity members cannot exceed members."))
            if self.members_with_accounts is not None and self.members_with_accounts > self.members:
                add("members_with_accounts", _("Members with an account cannot exceed members."))
            if self.extra_votes is not None and self.extra_votes > self.members:
                add("extra_votes", _("Extra votes are limited to the number of basic votes (members)."))
        if (
            self.surplus_returned is not None
            and self.distributable_surplus is not None
            and self.surplus_returned > max(self.distributable_surplus, Decimal(0))
        ):
            add("surplus_returned", _("The surplus returned cannot exceed the distributable surplus."))
        if self.assembly_date:
            if self.assembly_date > now:
                add("assembly_date", _("The date is in the future."))
            if self.year and self.assembly_date.year != self.year:
                add("assembly_date", _("The assembly date must fall in the fiscal year."))
            if self.assembly_held is False:
                add("assembly_held", _("An assembly date is given but the assembly is marked as not held."))
        if self.annual_report_date:
            if self.annual_report_date > now:
                add("annual_report_date", _("The date is in the future."))
            if self.year and self.annual_report_date.year <= self.year:
                add("annual_report_date", _("The annual report of a year is filed in a later year."))
        if (
            self.cooperative_id
            and self.year
            and self.cooperative.registration_date
            and self.year < self.cooperative.registration_date.year
        ):
            add("year", _("The cooperative was not registered yet in this year."))
        if errors:
            raise ValidationError(errors)

    @property
    def farmer_share(self) -> Decimal | None:
        if not self.members or self.farmer_members is None:
            return None
        return Decimal(self.farmer_members) / Decimal(self.members)


class TitleQuerySet(ScopedQuerySet["DemonstrationTitle"]):
    def current(self, year: int | None = None) -> TitleQuerySet:
        year = year or today().year
        return self.filter(retired_at__isnull=True, year_granted__lte=year).filter(
            Q(year_revoked__isnull=True) | Q(year_revoked__gt=year)
        )


class DemonstrationTitle(CooperativeChild):
    level = models.CharField(_("level"), max_length=20, choices=TitleLevel.choices)
    year_granted = models.PositiveSmallIntegerField(
        _("year granted"), validators=[MinValueValidator(FISCAL_FIRST), MaxValueValidator(FISCAL_LAST)]
    )
    year_revoked = models.PositiveSmallIntegerField(
        _("year revoked"),
        null=True,
        blank=True,
        validators=[MinValueValidator(FISCAL_FIRST), MaxValueValidator(FISCAL_LAST)],
    )
    document = models.CharField(_("document number"), max_length=100, blank=True)

    objects = TitleQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        ordering = ["cooperative", "-year_granted"]
        verbose_name = _("demonstration title")
        verbose_name_plural = _("demonstration titles")
        indexes = [models.Index(fields=["level", "cooperative"], name="title_level_coop_idx")]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.year_granted}"

    def clean(self) -> None:
        if self.year_granted and self.year_granted > today().year:
            raise ValidationError({"year_granted": _("The year is in the future.")})
        if self.year_revoked and self.year_granted and self.year_revoked < self.year_granted:
            raise ValidationError({"year_revoked": _("A title cannot be revoked before it was granted.")})


class PeriodQuerySet(ScopedQuerySet):
    start_field = "since"
    end_field = "until"

    def current(self, on: dt.date | None = None) -> PeriodQuerySet:
        on = on or today()
        return self.filter(
            Q(retired_at__isnull=True),
            Q(**{f"{self.start_field}__lte": on}),
            Q(**{f"{self.end_field}__isnull": True}) | Q(**{f"{self.end_field}__gt": on}),
        )


def period_errors(
    obj: models.Model, start_field: str, end_field: str, reason_message: StrOrPromise
) -> dict[str, StrOrPromise]:
    """The rules every dated period of the registry keeps: it does not start in the future, does not end
    before it starts, and an ended period says why (its `end_reason`)."""
    start, end = getattr(obj, start_field), getattr(obj, end_field)
    errors: dict[str, StrOrPromise] = {}
    if start and start > today():
        errors[start_field] = _("The date is in the future.")
    if end and start and end < start:
        errors[end_field] = _("The end cannot be before the start.")
    if end and not getattr(obj, "end_reason", ""):
        errors["end_reason"] = reason_message
    return errors


class MembershipQuerySet(PeriodQuerySet):
    start_field = "since"
    end_field = "until"


class FederationMembership(CooperativeChild):
    """Membership of a farmers' cooperative federation (农合联) at one level."""

    level = models.CharField(_("level"), max_length=20, choices=FederationLevel.choices)
    federation = models.ForeignKey(
        Organization,
        verbose_name=_("federation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member_links",
    )
    since = models.DateField(_("member since"))
    until = models.DateField(_("member until"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)

    objects = MembershipQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        ordering = ["cooperative", "level", "-since"]
        verbose_name = _("federation membership")
        verbose_name_plural = _("federation memberships")
        indexes = [models.Index(fields=["cooperative", "since"], name="member_coop_since_idx")]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.since:%Y-%m-%d}"

    def clean(self) -> None:
        errors = period_errors(self, "since", "until", _("Give the reason the membership ended."))
        if errors:
            raise ValidationError(errors)


class SponsorshipQuerySet(PeriodQuerySet):
    start_field = "start_date"
    end_field = "end_date"


class Sponsorship(CooperativeChild):
    """The system leads (领办) or takes part in (参办) running a cooperative."""

    kind = models.CharField(_("kind"), max_length=20, choices=SponsorshipKind.choices)
    mode = models.CharField(_("mode"), max_length=20, choices=SponsorshipMode.choices)
    sponsor = models.ForeignKey(
        Organization, verbose_name=_("sponsoring unit"), on_delete=models.PROTECT, related_name="sponsorships"
    )
    equity_amount = models.DecimalField(_("equity amount (yuan)"), null=True, blank=True, **MONEY)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)

    objects = SponsorshipQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        ordering = ["cooperative", "-start_date"]
        verbose_name = _("sponsorship")
        verbose_name_plural = _("sponsorships")
        indexes = [models.Index(fields=["cooperative", "start_date"], name="sponsor_coop_start_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.sponsor}"

    def clean(self) -> None:
        errors = period_errors(self, "start_date", "end_date", _("Give the reason the sponsorship ended."))
        if self.mode == SponsorshipMode.EQUITY and self.equity_amount is None:
            errors["equity_amount"] = _("Give the amount invested for an equity sponsorship.")
        if errors:
            raise ValidationError(errors)
