"""The demo-city generator: deterministic, valid records, plausible proportions, the demo users."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from hezuo.accounts.models import CounselorAssignment, User
from hezuo.accounts.roles import Role
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import VIEW
from hezuo.geo.models import Division
from hezuo.registry import demo
from hezuo.registry.choices import OperatingStatus, TitleLevel
from hezuo.registry.creditcode import check
from hezuo.registry.models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _picture() -> dict[str, Any]:
    """Everything generated, keyed by credit code (never by database id)."""
    coops = {
        c.credit_code: (
            c.name,
            str(c.registration_date),
            c.town.code,
            c.village.code if c.village else None,
            c.industry,
            c.operating_status,
            c.legal_representative,
            c.phone,
        )
        for c in Cooperative.objects.select_related("town", "village")
    }
    fact_fields = [
        f.name
        for f in YearlyFact._meta.concrete_fields
        if f.name not in {"id", "cooperative", "created_at", "updated_at", "retired_at"}
    ]
    facts = sorted(
        (f.cooperative.credit_code, *[str(getattr(f, name)) for name in fact_fields])
        for f in YearlyFact.objects.select_related("cooperative")
    )
    titles = sorted(
        (t.cooperative.credit_code, t.level, t.year_granted, t.year_revoked)
        for t in DemonstrationTitle.objects.select_related("cooperative")
    )
    sponsorships = sorted(
        (s.cooperative.credit_code, s.sponsor.name, s.kind, s.mode, str(s.start_date), str(s.end_date))
        for s in Sponsorship.objects.select_related("cooperative", "sponsor")
    )
    memberships = sorted(
        (m.cooperative.credit_code, m.level, str(m.since), str(m.until))
        for m in FederationMembership.objects.select_related("cooperative")
    )
    return {
        "coops": coops,
        "facts": facts,
        "titles": titles,
        "sponsorships": sponsorships,
        "memberships": memberships,
    }


def _generate_and_roll_back(size: int, seed: int) -> dict[str, Any]:
    pictures: list[dict[str, Any]] = []
    with pytest.raises(_Rollback), transaction.atomic():
        demo.generate(size, seed, users=False)
        pictures.append(_picture())
        raise _Rollback
    assert not Cooperative.objects.exists()
    return pictures[0]


def test_same_seed_gives_the_same_city_and_another_seed_another():
    first = _generate_and_roll_back(60, 7)
    second = _generate_and_roll_back(60, 7)
    assert len(first["coops"]) == 60
    assert first["facts"] and first["titles"] is not None
    assert first == second
    other = _generate_and_roll_back(60, 8)
    assert set(other["coops"]) != set(first["coops"])


@pytest.fixture
def small_city() -> demo.DemoResult:
    return demo.generate(80, 11, users=False)


def test_counts_match_the_rows_and_the_history(small_city: demo.DemoResult):
    assert small_city.cooperatives == Cooperative.objects.count() == 80
    assert small_city.yearly_facts == YearlyFact.objects.count() > 80
    assert small_city.titles == DemonstrationTitle.objects.count()
    assert small_city.sponsorships == Sponsorship.objects.count() > 0
    assert small_city.memberships == FederationMembership.objects.count() > 0
    assert small_city.organizations == Organization.objects.count()
    changes = ChangeRecord.objects.filter(source="demo", action=ChangeRecord.Action.CREATE)
    assert changes.count() == small_city.changes
    coop = Cooperative.objects.order_by("credit_code").first()
    assert changes.filter(object_id=coop.pk, object_repr=coop.name).exists()
    # search_text is filled although bulk_create skips save()
    assert all(c.search_text.startswith(c.name) for c in Cooperative.objects.all())


def test_codes_names_and_districts(small_city: demo.DemoResult):
    codes = list(Cooperative.objects.values_list("credit_code", "district__code"))
    for code, district_code in codes:
        result = check(code)
        assert not result.errors and not result.warnings, (code, result.errors, result.warnings)
        assert code.startswith("93" + district_code)
    assert len({code for code, _ in codes}) == len(codes)
    names = list(Cooperative.objects.values_list("name", flat=True))
    assert len(set(names)) == len(names)
    assert all(name.endswith(("专业合作社", "专业合作社联合社")) for name in names)
    # districts get cooperatives in proportion to their villages
    per_district = Counter(Cooperative.objects.values_list("district__code", flat=True))
    villages = Counter(Division.objects.filter(level="village").values_list("district__code", flat=True))
    total = sum(villages.values())
    for code, n in villages.items():
        assert abs(per_district[code] - 80 * n / total) <= 1


def test_every_record_passes_full_clean(small_city: demo.DemoResult):
    for coop in Cooperative.objects.select_related("district", "town", "village"):
        coop.full_clean()
        assert coop.town.district_id == coop.district_id
        assert coop.village is None or coop.village.parent_id == coop.town_id
        assert len(coop.phone) == 11 and coop.phone.isdigit()
    for fact in YearlyFact.objects.select_related("cooperative"):
        fact.full_clean()
        assert fact.year >= fact.cooperative.registration_date.year
        assert fact.farmer_members <= fact.members
        if fact.annual_report_date:
            assert fact.annual_report_date.year > fact.year
    for model in (DemonstrationTitle, FederationMembership, Sponsorship):
        for obj in model.objects.select_related("cooperative"):
            obj.full_clean()


def test_proportions_on_a_mid_size_city():
    size = 600
    result = demo.generate(size, 3, users=False)
    titles = Counter(DemonstrationTitle.objects.values_list("level", flat=True))
    assert titles[TitleLevel.NATIONAL_DEMO] == round(size * 29 / 3780)
    assert abs(titles[TitleLevel.PROVINCIAL_DEMO] - size * 65 / 3780) <= 4
    assert abs(titles[TitleLevel.CITY_DEMO] - size * 169 / 3780) <= 8
    assert 0.10 * size <= titles[TitleLevel.COUNTY_STANDARD] <= 0.22 * size
    # a higher title usually comes with the lower ones
    provincial = set(
        DemonstrationTitle.objects.filter(level=TitleLevel.PROVINCIAL_DEMO).values_list(
            "cooperative_id", flat=True
        )
    )
    city = set(
        DemonstrationTitle.objects.filter(level=TitleLevel.CITY_DEMO).values_list("cooperative_id", flat=True)
    )
    assert len(provincial & city) >= 0.6 * len(provincial)
    status = Counter(Cooperative.objects.values_list("operating_status", flat=True))
    assert status[OperatingStatus.OPERATING] >= 0.75 * size
    for s in (OperatingStatus.DORMANT, OperatingStatus.SHELL, OperatingStatus.SUSPENDED):
        assert 0 < status[s] <= 0.12 * size
    abnormal = Cooperative.objects.filter(on_abnormal_list=True).count()
    assert 0.03 * size <= abnormal <= 0.12 * size
    assert 0.12 * size <= result.sponsorships <= 0.32 * size
    assert 0.12 * size <= result.memberships <= 0.32 * size
    # dormant and shell cooperatives have no revenue and no assembly in their idle years
    idle = YearlyFact.objects.filter(cooperative__operating_status=OperatingStatus.SHELL)
    assert idle.exists() and not idle.exclude(revenue=0).exists()
    assert not idle.filter(assembly_held=True).exists()
    # many small, a few large
    members = sorted(YearlyFact.objects.filter(year=2024).values_list("members", flat=True))
    assert members[len(members) // 2] <= 30
    assert members[-1] >= 150
    # some governance answers are left empty ("not reported")
    assert YearlyFact.objects.filter(member_register_filed__isnull=True).exists()


def test_demo_users_roles_and_scopes():
    demo.generate(200, 5)
    districts = list(Division.objects.filter(level="district").order_by("code"))
    city = User.objects.get(username="city")
    viewer = User.objects.get(username="viewer")
    assert city.role == Role.CITY and city.get_scope().everything
    assert viewer.role == Role.VIEWER and viewer.district_id is None and viewer.get_scope().everything
    assert city.check_password("demo-2025")
    for d in districts:
        staff = User.objects.get(username=f"district-{d.code}")
        assert staff.role == Role.DISTRICT and staff.district_id == d.pk
        visible = Cooperative.objects.restrict(staff, VIEW)
        assert visible.count() == Cooperative.objects.filter(district=d).count()
        seen: set[int] = set()
        for n in range(1, 4):
            counselor = User.objects.get(username=f"counselor-{d.code}-{n}")
            assert counselor.role == Role.COUNSELOR and counselor.district_id == d.pk
            assigned = set(
                CounselorAssignment.objects.filter(counselor=counselor).values_list(
                    "cooperative_id", flat=True
                )
            )
            assert assigned and not assigned & seen
            seen |= assigned
            assert set(Cooperative.objects.filter(pk__in=assigned).values_list("district_id", flat=True)) == {
                d.pk
            }
            assert set(Cooperative.objects.restrict(counselor, VIEW).values_list("pk", flat=True)) == assigned
    coop_users = User.objects.filter(role=Role.COOPERATIVE)
    assert coop_users.count() == 20
    assert {u.username for u in coop_users} == {f"coop-{n}" for n in range(1, 21)}
    assert len({u.cooperative_id for u in coop_users}) == 20
    user = coop_users.get(username="coop-1")
    assert list(Cooperative.objects.restrict(user, VIEW).values_list("pk", flat=True)) == [
        user.cooperative_id
    ]
    # running the users part again creates nothing new
    assert demo.ensure_demo_users(5) == (0, 0)


def test_command_if_empty_keeps_data_and_prints_logins(capsys: pytest.CaptureFixture[str]):
    call_command("demo", "--size", "40", "--seed", "9", verbosity=0)
    out = capsys.readouterr().out
    assert "demo logins (password: demo-2025)" in out
    assert "district-330226" in out and "coop-1" in out
    count = Cooperative.objects.count()
    assert count == 40
    User.objects.filter(username="viewer").delete()
    call_command("demo", "--if-empty", "--size", "40")
    out = capsys.readouterr().out
    assert Cooperative.objects.count() == count
    assert "already exist" in out and "viewer" in out
    assert User.objects.filter(username="viewer", role=Role.VIEWER).exists()


def test_another_citys_district_uses_the_generic_table():
    city = Division.objects.create(code="990100", name="样例市", level="city")
    district = Division.objects.create(code="990101", name="样例县", level="district", parent=city)
    district.district = district
    district.save()
    town = Division.objects.create(
        code="990101100", name="新丰镇", level="town", parent=district, district=district
    )
    for n in range(1, 40):
        Division.objects.create(
            code=f"990101100{n:03d}", name=f"第{n}村村委会", level="village", parent=town, district=district
        )
    demo.generate(150, 2, users=False)
    coops = list(Cooperative.objects.filter(district=district))
    assert coops
    labels = {p.label for _, p in demo.GENERIC_PRODUCTS + demo.COMMON_PRODUCTS}
    for coop in coops:
        assert coop.name.startswith("样例县") and coop.town_id == town.pk
        assert any(label in coop.name for label in labels), coop.name
        assert check(coop.credit_code).ok and coop.credit_code.startswith("93990101")
    assert Organization.objects.filter(name="样例县供销合作社", district=district).exists()


def test_the_demo_city_has_a_year_of_work_behind_it(capsys: pytest.CaptureFixture[str]) -> None:
    """`hezuo demo` rates every year (the earlier ones confirmed), runs the detection, records visits, opens
    a campaign, cleanup cases at every step and rectification cases, through the apps' own services."""
    from hezuo.compliance.models import RectificationCase
    from hezuo.core.management.commands.setup import Command as Setup
    from hezuo.fieldwork.models import CleanupCase, DetectionRun, Flag, Visit
    from hezuo.rating.models import Rating

    call_command(Setup(), verbosity=0)  # the rubric, the plan and the checklist, as `make demo` has them
    call_command("demo", "--size", "400", "--seed", "3", verbosity=0)
    out = capsys.readouterr().out
    assert "rated" in out and "detection" in out
    assert Rating.objects.filter(status="confirmed").exists() and Rating.objects.filter(status="provisional")
    assert DetectionRun.objects.filter(status="done").exists() and Flag.objects.exists()
    assert Visit.objects.exists()
    steps = set(CleanupCase.objects.values_list("status", flat=True))
    assert steps >= {"flagged", "verified", "approved", "closed"}
    assert RectificationCase.objects.exists()
