"""Small hand-made data with known answers for the metrics (see the expectations in test_metrics.py).

District A (宁海 330226), district B (象山 330225); years 2023 and 2024:

  c1 A  federation member since 2020; 4★ confirmed 2024; 50 households in 2024; county title since 2020
  c2 A  sponsored 2023-03-01 .. 2024-12-31 (not active on 31 Dec 2024); 3★ confirmed 2024; county title 2022
  c3 A  counselor assigned from 2024-01-01; 5★ provisional 2024 (A has confirmed ratings: ignored)
  c4 A  sponsored since 2022; 5★ confirmed 2024; 30 households in 2024; provincial title since 2021
  c5 B  sponsored since 2022; 5★ provisional 2024 (B has no confirmed rating); 20 households;
        national SMC-system title since 2019
  c6 B  not linked; 4★ provisional 2024; national title 2018, revoked 2024
  c7 A  retired from the registry; member; 5★ confirmed 2024
  c8 B  registered 2025-02-01 (not counted for 2024)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hezuo.accounts.models import CounselorAssignment
from hezuo.conftest import DISTRICT_A, DISTRICT_B, make_coop
from hezuo.core.context import change_context
from hezuo.core.services import retire_record, save_record
from hezuo.rating.models import Rating, Rubric
from hezuo.rating.services import ensure_default_rubric
from hezuo.registry.models import (
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)


def build(counselor: Any = None) -> dict[str, Any]:
    ensure_default_rubric()
    rubric = Rubric.objects.order_by("-pk").first()
    coops: dict[str, Any] = {}
    with change_context(source="cli"):
        smc = Organization(name="宁海县供销社", kind="district_smc")
        save_record(smc)

        def coop(name: str, district: str, **fields: Any) -> Any:
            coops[name] = make_coop(district, name=f"{name}号合作社", **fields)
            return coops[name]

        def rating(c: Any, stars: int, status: str, year: int = 2024) -> None:
            save_record(
                Rating(
                    cooperative=c,
                    year=year,
                    rubric=rubric,
                    score=Decimal(stars * 15),
                    score_max=Decimal(stars * 15),
                    stars=stars,
                    stars_low=stars,
                    status=status,
                    explanation={"test": True},
                )
            )

        def sponsor(c: Any, start: dt.date, end: dt.date | None = None) -> None:
            save_record(
                Sponsorship(
                    cooperative=c,
                    kind="lead",
                    mode="services",
                    sponsor=smc,
                    start_date=start,
                    end_date=end,
                    end_reason="ended" if end else "",
                )
            )

        def title(c: Any, level: str, granted: int, revoked: int | None = None) -> None:
            save_record(
                DemonstrationTitle(cooperative=c, level=level, year_granted=granted, year_revoked=revoked)
            )

        def households(c: Any, n: int, year: int = 2024) -> None:
            save_record(YearlyFact(cooperative=c, year=year, member_households=n))

        c1 = coop("c1", DISTRICT_A)
        save_record(FederationMembership(cooperative=c1, level="district", since=dt.date(2020, 1, 1)))
        rating(c1, 4, "confirmed")
        households(c1, 50)
        title(c1, "county", 2020)
        c2 = coop("c2", DISTRICT_A)
        sponsor(c2, dt.date(2023, 3, 1), dt.date(2024, 12, 31))
        rating(c2, 3, "confirmed")
        title(c2, "county", 2022)
        c3 = coop("c3", DISTRICT_A)
        if counselor is not None:
            save_record(
                CounselorAssignment(counselor=counselor, cooperative=c3, start_date=dt.date(2024, 1, 1))
            )
        rating(c3, 5, "provisional")
        c4 = coop("c4", DISTRICT_A)
        sponsor(c4, dt.date(2022, 6, 1))
        rating(c4, 5, "confirmed")
        households(c4, 30)
        title(c4, "provincial", 2021)
        c5 = coop("c5", DISTRICT_B)
        sponsor(c5, dt.date(2022, 6, 1))
        rating(c5, 5, "provisional")
        households(c5, 20)
        title(c5, "national_smc", 2019)
        c6 = coop("c6", DISTRICT_B)
        rating(c6, 4, "provisional")
        title(c6, "national", 2018, 2024)
        c7 = coop("c7", DISTRICT_A)
        save_record(FederationMembership(cooperative=c7, level="district", since=dt.date(2020, 1, 1)))
        rating(c7, 5, "confirmed")
        retire_record(c7)
        coop("c8", DISTRICT_B, registration_date=dt.date(2025, 2, 1))
        save_record(FederationMembership(cooperative=coops["c8"], level="town", since=dt.date(2025, 2, 1)))
    return coops


# expected values: metric -> year -> {district code: value}
EXPECTED: dict[str, dict[int, dict[str, Any]]] = {
    "star_coops": {2024: {DISTRICT_A: 2, DISTRICT_B: 1}},
    "sponsored_coops": {2023: {DISTRICT_A: 2, DISTRICT_B: 1}, 2024: {DISTRICT_A: 1, DISTRICT_B: 1}},
    "sponsored_five_star": {2024: {DISTRICT_A: 1, DISTRICT_B: 1}},
    "member_households": {2024: {DISTRICT_A: 80, DISTRICT_B: 20}},
    "sponsored_share_county_standard": {
        2024: {DISTRICT_A: Decimal("0.3333"), DISTRICT_B: Decimal(1)},
        2023: {DISTRICT_A: Decimal("0.6667"), DISTRICT_B: Decimal("0.5")},
    },
    "sponsored_share_provincial_demo": {2024: {DISTRICT_A: Decimal(1)}},
    "sponsored_share_national_demo": {2024: {DISTRICT_B: Decimal(1)}, 2023: {DISTRICT_B: Decimal("0.5")}},
}
MEMBERS = {
    ("star_coops", 2024): {"c1", "c4", "c5"},
    ("sponsored_coops", 2023): {"c2", "c4", "c5"},
    ("sponsored_coops", 2024): {"c4", "c5"},
    ("sponsored_five_star", 2024): {"c4", "c5"},
    ("member_households", 2024): {"c1", "c4", "c5"},
}
