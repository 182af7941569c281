"""Test helpers of fieldwork: flagged cooperatives with sponsorships and memberships."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.registry.models import FederationMembership, Organization, Sponsorship, YearlyFact


def saved(obj: Any) -> Any:
    with change_context(source="cli"):
        save_record(obj)
    return obj


def no_business(coop: Any, *years: int) -> None:
    """Facts saying the cooperative did no business in these years (SH2/DO1)."""
    for year in years:
        saved(
            YearlyFact(
                cooperative=coop,
                year=year,
                members=8,
                farmer_members=8,
                revenue=Decimal(0),
                member_transactions=Decimal(0),
                assembly_held=True,
                financial_statements=True,
                annual_report_filed=True,
                annual_report_date=dt.date(year + 1, 3, 1),
            )
        )


def links(coop: Any) -> dict[str, Any]:
    """A current sponsorship, federation memberships at two levels, and one already ended."""
    sponsor = saved(Organization(name=f"供销社{coop.pk}", kind="district_smc", district=coop.district))
    return {
        "sponsorship": saved(
            Sponsorship(
                cooperative=coop,
                kind="lead",
                mode="services",
                sponsor=sponsor,
                start_date=dt.date(2019, 1, 1),
            )
        ),
        "district": saved(
            FederationMembership(cooperative=coop, level="district", since=dt.date(2019, 1, 1))
        ),
        "town": saved(FederationMembership(cooperative=coop, level="town", since=dt.date(2020, 1, 1))),
        "ended": saved(
            FederationMembership(
                cooperative=coop,
                level="city",
                since=dt.date(2018, 1, 1),
                until=dt.date(2019, 1, 1),
                end_reason="moved",
            )
        ),
    }
