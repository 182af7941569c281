"""Enumerations of the registry (values are stable codes; labels are translated)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Industry(models.TextChoices):
    GRAIN = "grain", _("Grain and oil crops")
    VEGETABLES = "vegetables", _("Vegetables")
    FRUIT = "fruit", _("Fruit")
    TEA = "tea", _("Tea")
    FLOWERS = "flowers", _("Flowers and seedlings")
    FORESTRY = "forestry", _("Forestry and bamboo")
    LIVESTOCK = "livestock", _("Livestock and poultry")
    AQUACULTURE = "aquaculture", _("Aquaculture and fishery")
    MACHINERY = "machinery", _("Farm machinery services")
    PLANT_PROTECTION = "plant_protection", _("Plant protection services")
    OTHER = "other", _("Other")


# industries whose star-rating tiers are relaxed (service cooperatives and forestry, criteria §7.2)
SERVICE_INDUSTRIES = frozenset({Industry.MACHINERY, Industry.PLANT_PROTECTION, Industry.FORESTRY})


class OperatingStatus(models.TextChoices):
    OPERATING = "operating", _("Operating")
    SUSPENDED = "suspended", _("Suspended (歇业)")
    DORMANT = "dormant", _("Dormant")
    SHELL = "shell", _("Shell")
    REVOKED = "revoked", _("Licence revoked")
    DEREGISTERED = "deregistered", _("Deregistered")


class TitleLevel(models.TextChoices):
    COUNTY_STANDARD = "county", _("County standardised cooperative")
    CITY_DEMO = "city", _("City demonstration cooperative")
    PROVINCIAL_DEMO = "provincial", _("Provincial demonstration cooperative")
    NATIONAL_DEMO = "national", _("National demonstration cooperative")
    NATIONAL_SMC_DEMO = "national_smc", _("National SMC-system demonstration cooperative")


# rank of each title level, higher is better (used for "highest title")
TITLE_RANK = {
    TitleLevel.COUNTY_STANDARD: 1,
    TitleLevel.CITY_DEMO: 2,
    TitleLevel.PROVINCIAL_DEMO: 3,
    TitleLevel.NATIONAL_SMC_DEMO: 4,
    TitleLevel.NATIONAL_DEMO: 4,
}


class FederationLevel(models.TextChoices):
    CITY = "city", _("City federation")
    DISTRICT = "district", _("District federation")
    TOWN = "town", _("Town federation")


class SponsorshipKind(models.TextChoices):
    LEAD = "lead", _("Led by the system (领办)")
    PARTICIPATE = "participate", _("Joined by the system (参办)")


class SponsorshipMode(models.TextChoices):
    EQUITY = "equity", _("Equity (出资入股)")
    RESOURCES = "resources", _("Resources (资源对接)")
    SERVICES = "services", _("Services (服务配给/服务带动)")
    FOUNDING = "founding", _("Founding (引导创办)")


class OrganizationKind(models.TextChoices):
    CITY_SMC = "city_smc", _("City supply and marketing cooperative")
    DISTRICT_SMC = "district_smc", _("District supply and marketing cooperative")
    GRASSROOTS_SMC = "grassroots_smc", _("Grass-roots supply and marketing cooperative")
    SMC_ENTERPRISE = "smc_enterprise", _("System enterprise")
    FEDERATION_CITY = "federation_city", _("City farmers' federation (农合联)")
    FEDERATION_DISTRICT = "federation_district", _("District farmers' federation (农合联)")
    FEDERATION_TOWN = "federation_town", _("Town farmers' federation (农合联)")
