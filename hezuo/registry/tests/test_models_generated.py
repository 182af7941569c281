"""Generated view tests (hezuo.core.testing) for every registry model: scope, history, permissions."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.db.models import Q

from hezuo.conftest import DISTRICT_A, DISTRICT_B, first_town, make_coop
from hezuo.core.context import change_context
from hezuo.core.scoping import ADD, CHANGE, EXPORT, RETIRE, VIEW
from hezuo.core.services import save_record
from hezuo.core.testing import ModelSpec, ModelViewTests, World
from hezuo.geo.models import Division
from hezuo.registry.creditcode import make_code
from hezuo.registry.models import (
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)
from hezuo.registry.views import (
    CooperativeUI,
    DemonstrationTitleUI,
    FederationMembershipUI,
    OrganizationUI,
    SponsorshipUI,
    YearlyFactUI,
)

_n = itertools.count(1)
WRITES = {ADD, CHANGE, RETIRE}


def saved(obj: Any) -> Any:
    with change_context(source="cli"):
        save_record(obj)
    return obj


def coop(world: World, where: str) -> Any:
    return world["coop_a" if where == "A" else "coop_b"]


def district(world: World, where: str) -> Division:
    # world["district_a"] is the persona; the division is the persona's district
    return world["district_a" if where == "A" else "district_b"].district


def organization(world: World, where: str | None, kind: str = "district_smc") -> Organization:
    """A unit of the system in district A, B, or at city level (where=None)."""
    place = {"A": "宁海县", "B": "象山县", None: "宁波市"}[where]
    return saved(
        Organization(
            name=f"{place}供销合作社{next(_n)}", kind=kind, district=district(world, where) if where else None
        )
    )


# cooperatives ------------------------------------------------------------------------------------------
def new_coop_data(world: World) -> dict[str, Any]:
    n = next(_n)
    town = first_town(DISTRICT_A)
    village = Division.objects.filter(parent=town).order_by("code").first()
    assert village is not None
    return {
        "name": f"宁海县新建{n}号茶叶专业合作社",
        "credit_code": make_code(DISTRICT_A, f"MB{n:07d}"),
        "registration_date": "2019-03-15",
        "registered_capital": "500000",
        "legal_representative": "张三",
        "phone": "13805740000",
        "district": str(district(world, "A").pk),
        "town": str(town.pk),
        "village": str(village.pk),
        "industry": "tea",
        "operating_status": "operating",
        "cert_green": "on",
    }


def new_coop_api(world: World) -> dict[str, Any]:
    n = next(_n)
    return {
        "name": f"宁海县新建{n}号茶叶专业合作社",
        "credit_code": make_code(DISTRICT_A, f"MC{n:07d}"),
        "registration_date": "2019-03-15",
        "district": DISTRICT_A,
        "town": first_town(DISTRICT_A).code,
        "industry": "tea",
    }


class TestCooperativeViews(ModelViewTests):
    spec = ModelSpec(
        ui=CooperativeUI(),
        make=lambda world, where: make_coop(DISTRICT_A if where == "A" else DISTRICT_B),
        create_data=new_coop_data,
        change=("legal_representative", "李四"),
        api_create=new_coop_api,
        denied={"viewer": WRITES, "counselor": WRITES | {EXPORT}, "coop_user": WRITES | {EXPORT}},
        target=lambda world: world["coop_a"],
        label=lambda c: c.name,
    )


# yearly facts -----------------------------------------------------------------------------------------
class TestYearlyFactViews(ModelViewTests):
    spec = ModelSpec(
        ui=YearlyFactUI(),
        make=lambda world, where: saved(
            YearlyFact(
                cooperative=coop(world, where),
                year=2023,
                members=12,
                farmer_members=10,
                revenue=Decimal("150000"),
            )
        ),
        create_data=lambda world: {
            "year": "2024",
            "members": "20",
            "farmer_members": "18",
            "revenue": "250000",
            "assembly_held": "true",
            "assembly_date": "2024-03-01",
        },
        change=("members", "30"),
        api_create=lambda world: {
            "cooperative": world["coop_a"].pk,
            "year": 2024,
            "members": 20,
            "farmer_members": 18,
        },
        api_change=("members", 30),
        # a cooperative user records its own facts but does not retire them
        denied={"viewer": WRITES, "counselor": WRITES, "coop_user": {RETIRE}},
    )


# demonstration titles --------------------------------------------------------------------------------
class TestDemonstrationTitleViews(ModelViewTests):
    spec = ModelSpec(
        ui=DemonstrationTitleUI(),
        make=lambda world, where: saved(
            DemonstrationTitle(cooperative=coop(world, where), level="county", year_granted=2021)
        ),
        create_data=lambda world: {"level": "city", "year_granted": "2023", "document": "甬农〔2023〕12号"},
        change=("year_revoked", "2024"),
        api_create=lambda world: {"cooperative": world["coop_a"].pk, "level": "city", "year_granted": 2023},
        api_change=("year_revoked", 2024),
        denied={"viewer": WRITES, "counselor": WRITES, "coop_user": WRITES},
    )


# federation memberships ------------------------------------------------------------------------------
class TestFederationMembershipViews(ModelViewTests):
    spec = ModelSpec(
        ui=FederationMembershipUI(),
        make=lambda world, where: saved(
            FederationMembership(cooperative=coop(world, where), level="district", since=dt.date(2020, 6, 1))
        ),
        create_data=lambda world: {"level": "town", "since": "2022-01-10"},
        change=("since", "2021-03-01"),
        api_create=lambda world: {"cooperative": world["coop_a"].pk, "level": "town", "since": "2022-01-10"},
        denied={"viewer": WRITES, "counselor": WRITES, "coop_user": WRITES},
    )


# sponsorships ------------------------------------------------------------------------------------------
class TestSponsorshipViews(ModelViewTests):
    spec = ModelSpec(
        ui=SponsorshipUI(),
        make=lambda world, where: saved(
            Sponsorship(
                cooperative=coop(world, where),
                kind="lead",
                mode="services",
                sponsor=organization(world, where),
                start_date=dt.date(2021, 5, 1),
            )
        ),
        create_data=lambda world: {
            "kind": "participate",
            "mode": "equity",
            "equity_amount": "200000",
            "sponsor": str(organization(world, "A").pk),
            "start_date": "2022-04-01",
        },
        change=("equity_amount", "80000"),
        api_create=lambda world: {
            "cooperative": world["coop_a"].pk,
            "kind": "lead",
            "mode": "services",
            "sponsor": organization(world, None).pk,
            "start_date": "2022-04-01",
        },
        denied={"viewer": WRITES, "counselor": WRITES, "coop_user": WRITES},
    )


# organisations: managed by city staff; district staff see theirs and the city-level ones ----------------
class TestOrganizationViews(ModelViewTests):
    spec = ModelSpec(
        ui=OrganizationUI(),
        make=lambda world, where: organization(world, where),
        create_data=lambda world: {
            "name": f"宁海县某基层供销社{next(_n)}",
            "kind": "grassroots_smc",
            "district": str(district(world, "A").pk),
        },
        change=("name", "宁海县供销合作社（更名）"),
        api_create=lambda world: {
            "name": f"宁海县某基层供销社{next(_n)}",
            "kind": "grassroots_smc",
            "district": district(world, "A").pk,
        },
        editor="city",
        scoped="district_a",
        in_scope=lambda world: Q(district=district(world, "A")) | Q(district__isnull=True),
        denied={
            "district_a": WRITES | {EXPORT},
            "viewer": WRITES,
            # counselors and cooperative users see only the city-level units
            "counselor": {VIEW, *WRITES, EXPORT},
            "coop_user": {VIEW, *WRITES, EXPORT},
        },
        label=lambda o: o.name,
    )
