"""The scoping chokepoint (hezuo/core/scoping.py): Scope.allows, restrict() for every role on every
model, and get_scoped_or_404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.http import Http404
from django.utils import timezone

from hezuo.accounts.models import CounselorAssignment, User
from hezuo.conftest import DISTRICT_A, DISTRICT_B, make_coop, make_user
from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import (
    ADD,
    CHANGE,
    EXPORT,
    RETIRE,
    VIEW,
    Scope,
    ScopedQuerySet,
    can,
    get_scoped_or_404,
    ids_in_scope,
    scope_for,
)
from hezuo.core.services import save_record
from hezuo.geo.models import Division
from hezuo.registry.models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)

ALL = frozenset({VIEW, ADD, CHANGE, RETIRE, EXPORT})
COOP_MODELS: list[type[models.Model]] = [
    Cooperative,
    YearlyFact,
    DemonstrationTitle,
    FederationMembership,
    Sponsorship,
]


# --- Scope.allows -------------------------------------------------------------------------------


def test_allows_prefers_the_model_label_then_the_app_wildcard_then_star() -> None:
    scope = Scope(
        permissions={
            "registry.cooperative": frozenset({VIEW}),
            "registry.organization": frozenset(),
            "registry.*": ALL,
            "*": frozenset({VIEW, EXPORT}),
        }
    )
    assert scope.allows("registry.cooperative", VIEW)
    assert not scope.allows("registry.cooperative", CHANGE)  # the label wins over a wider app wildcard
    assert not scope.allows("registry.organization", VIEW)  # an empty set is a decision, not a fall-through
    assert scope.allows("registry.yearlyfact", RETIRE)  # app wildcard
    assert scope.allows("geo.division", EXPORT)  # star
    assert not scope.allows("geo.division", ADD)


def test_allows_nothing_without_a_matching_key() -> None:
    assert not Scope().allows("registry.cooperative", VIEW)
    assert not Scope(permissions={"geo.*": ALL}).allows("registry.cooperative", VIEW)
    assert Scope(permissions={"*": ALL}).allows("anything.at_all", RETIRE)


def test_row_filter_without_any_reach_is_none() -> None:
    scope = Scope(permissions={"*": ALL})
    assert scope.row_filter(Cooperative) is None
    assert scope.row_filter(Division) == models.Q()  # public reference data
    assert Scope(permissions={"*": ALL}, everything=True).row_filter(Cooperative) == models.Q()


# --- a small world: every model, rows in two districts ----------------------------------------------


def tag_of(obj: models.Model, data: dict[str, Any]) -> str:
    coop_tags = {data["coop_a"].pk: "a", data["coop_a2"].pk: "a2", data["coop_b"].pk: "b"}
    if isinstance(obj, Cooperative):
        return coop_tags[obj.pk]
    if isinstance(obj, Organization):
        return obj.name
    return coop_tags[obj.cooperative_id]  # type: ignore[attr-defined]


@pytest.fixture
def world(city_data: dict[str, Any]) -> dict[str, Any]:
    data = dict(city_data)  # note: city_data["district_a"] is the district staff user, not the division
    division_a = Division.objects.get(code=DISTRICT_A)
    division_b = Division.objects.get(code=DISTRICT_B)
    with change_context(source="cli"):
        orgs = {}
        for name, district in (("city", None), ("A", division_a), ("B", division_b)):
            orgs[name] = Organization(
                name=name,
                kind="federation_city" if district is None else "federation_district",
                district=district,
            )
            save_record(orgs[name])
        for key, org in (("coop_a", orgs["A"]), ("coop_a2", orgs["A"]), ("coop_b", orgs["B"])):
            coop = data[key]
            save_record(YearlyFact(cooperative=coop, year=2023, members=10))
            save_record(DemonstrationTitle(cooperative=coop, level="county", year_granted=2020))
            save_record(
                FederationMembership(
                    cooperative=coop, level="district", federation=org, since=dt.date(2020, 1, 1)
                )
            )
            save_record(
                Sponsorship(
                    cooperative=coop,
                    kind="lead",
                    mode="equity",
                    sponsor=org,
                    equity_amount=Decimal("1000"),
                    start_date=dt.date(2020, 1, 1),
                )
            )
    data["viewer_a"] = make_user("viewer-a", "viewer", district=division_a)
    data["inactive"] = make_user("inactive", "district", district=division_a, is_active=False)
    data["anonymous"] = AnonymousUser()
    data["orgs"] = orgs
    return data


def visible(user: Any, model: type[models.Model], data: dict[str, Any], action: str = VIEW) -> set[str]:
    qs = ScopedQuerySet.restrict(model._default_manager.all(), user, action)  # type: ignore[arg-type]
    return {tag_of(obj, data) for obj in qs}


EVERY_COOP = {"a", "a2", "b"}
EXPECTED_VIEW: dict[str, tuple[set[str], set[str], set[str]]] = {
    # persona: (cooperatives and their child records, organisations, counselor assignments (coop tags))
    "city": (EVERY_COOP, {"city", "A", "B"}, {"a"}),
    # who counsels a cooperative is seen by everyone who sees the cooperative (its Counselors tab)
    "viewer": (EVERY_COOP, {"city", "A", "B"}, {"a"}),
    "viewer_a": ({"a", "a2"}, {"city", "A"}, {"a"}),
    "district_a": ({"a", "a2"}, {"city", "A"}, {"a"}),
    "district_b": ({"b"}, {"city", "B"}, set()),
    "counselor": ({"a"}, {"city"}, {"a"}),
    "counselor_unassigned": (set(), {"city"}, set()),
    "coop_user": ({"a"}, {"city"}, {"a"}),
    "inactive": (set(), set(), set()),
    "anonymous": (set(), set(), set()),
}


@pytest.mark.parametrize("persona", list(EXPECTED_VIEW))
def test_view_scope_of_each_role_on_each_model(world: dict[str, Any], persona: str) -> None:
    user = world[persona]
    coops, orgs, assignments = EXPECTED_VIEW[persona]
    for model in COOP_MODELS:
        assert visible(user, model, world) == coops, model
    assert visible(user, Organization, world) == orgs
    assert {tag_of(a.cooperative, world) for a in CounselorAssignment.objects.restrict(user)} == assignments
    divisions = Division.objects.restrict(user).count()
    assert divisions == (0 if persona in ("inactive", "anonymous") else Division.objects.count())
    users = ScopedQuerySet.restrict(User.objects.all(), user).count()  # type: ignore[arg-type]
    assert users == (User.objects.count() if persona == "city" else 0)
    changes = ScopedQuerySet.restrict(ChangeRecord.objects.all(), user).count()  # type: ignore[arg-type]
    assert changes == (ChangeRecord.objects.count() if persona == "city" else 0)


@pytest.mark.parametrize(
    ("persona", "action", "model", "expected"),
    [
        ("city", RETIRE, Cooperative, EVERY_COOP),
        ("city", CHANGE, Organization, {"city", "A", "B"}),
        ("district_a", CHANGE, Cooperative, {"a", "a2"}),
        ("district_a", ADD, YearlyFact, {"a", "a2"}),
        ("district_a", RETIRE, Sponsorship, {"a", "a2"}),
        ("district_a", EXPORT, Cooperative, {"a", "a2"}),
        ("district_a", CHANGE, Organization, set()),
        ("district_b", CHANGE, Cooperative, {"b"}),
        ("viewer", EXPORT, Cooperative, EVERY_COOP),
        ("viewer", CHANGE, Cooperative, set()),
        ("viewer_a", EXPORT, YearlyFact, {"a", "a2"}),
        ("counselor", CHANGE, Cooperative, set()),
        ("counselor", EXPORT, Cooperative, set()),
        ("coop_user", CHANGE, YearlyFact, {"a"}),
        ("coop_user", ADD, YearlyFact, {"a"}),
        ("coop_user", RETIRE, YearlyFact, set()),
        ("coop_user", CHANGE, Cooperative, set()),
        ("coop_user", CHANGE, DemonstrationTitle, set()),
    ],
)
def test_actions_per_role(
    world: dict[str, Any], persona: str, action: str, model: type[models.Model], expected: set[str]
) -> None:
    assert visible(world[persona], model, world, action) == expected


def test_district_staff_manage_assignments_in_their_district_only(world: dict[str, Any]) -> None:
    assert CounselorAssignment.objects.restrict(world["district_a"], CHANGE).count() == 1
    assert CounselorAssignment.objects.restrict(world["district_b"], CHANGE).count() == 0
    assert not can(world["district_a"], User, VIEW)
    assert not can(world["district_a"], Division, CHANGE)


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # the scope is cached on the user object


def test_counselor_loses_the_cooperative_when_the_assignment_ends(world: dict[str, Any]) -> None:
    assignment = CounselorAssignment.objects.get(counselor=world["counselor"])
    today = timezone.localdate()
    with change_context(source="cli"):
        assignment.end_date = today
        save_record(assignment)
    assert visible(fresh(world["counselor"]), Cooperative, world) == {"a"}  # the last day still counts
    with change_context(source="cli"):
        assignment.end_date = today - dt.timedelta(days=1)
        save_record(assignment)
    counselor = fresh(world["counselor"])
    for model in COOP_MODELS:
        assert visible(counselor, model, world) == set()
    with pytest.raises(Http404):
        get_scoped_or_404(Cooperative, counselor, pk=world["coop_a"].pk)


def test_counselor_assignment_in_the_future_or_retired_gives_nothing(world: dict[str, Any]) -> None:
    assignment = CounselorAssignment.objects.get(counselor=world["counselor"])
    with change_context(source="cli"):
        assignment.start_date = timezone.localdate() + dt.timedelta(days=3)
        save_record(assignment)
    assert visible(fresh(world["counselor"]), Cooperative, world) == set()
    assignment.start_date = dt.date(2024, 1, 1)
    assignment.retired_at = timezone.now()
    assignment.save()
    assert visible(fresh(world["counselor"]), Cooperative, world) == set()


def test_counselor_with_two_assignments_sees_both(world: dict[str, Any]) -> None:
    with change_context(source="cli"):
        save_record(
            CounselorAssignment(
                counselor=world["counselor"], cooperative=world["coop_a2"], start_date=dt.date(2024, 6, 1)
            )
        )
    assert visible(fresh(world["counselor"]), YearlyFact, world) == {"a", "a2"}


def test_superuser_reaches_everything_whatever_the_role(world: dict[str, Any]) -> None:
    boss = make_user("boss", "viewer", is_superuser=True)
    assert visible(boss, Cooperative, world, RETIRE) == EVERY_COOP
    assert ScopedQuerySet.restrict(User.objects.all(), boss).count() == User.objects.count()  # type: ignore[arg-type]


def test_inconsistent_users_reach_nothing(world: dict[str, Any]) -> None:
    # saved without full_clean: a district user without a district, a coop user without a coop
    lost_district = make_user("lost-district", "district")
    lost_coop = make_user("lost-coop", "cooperative")
    unknown_role = make_user("unknown-role", "nonsense")
    for user in (lost_district, lost_coop, unknown_role):
        assert scope_for(user) == Scope()
        for model in [*COOP_MODELS, Organization, Division]:
            assert not ScopedQuerySet.restrict(model._default_manager.all(), user).exists()  # type: ignore[arg-type]


def test_deactivating_a_user_removes_the_scope(world: dict[str, Any]) -> None:
    user = fresh(world["district_a"])
    user.is_active = False
    user.save()
    assert scope_for(user) == Scope()
    assert scope_for(None) == Scope()
    assert not Cooperative.objects.restrict(fresh(world["district_a"])).exists()


def test_restrict_composes_with_other_filters(world: dict[str, Any]) -> None:
    qs = Cooperative.objects.filter(industry="fruit").restrict(world["district_a"])
    assert {tag_of(c, world) for c in qs} == {"a"}
    qs = Cooperative.objects.restrict(world["city"]).filter(district__code=DISTRICT_B)
    assert {tag_of(c, world) for c in qs} == {"b"}
    assert Cooperative.objects.restrict(world["district_a"]).active().count() == 2


# --- get_scoped_or_404 --------------------------------------------------------------------------


@pytest.mark.parametrize("source", [lambda: Cooperative, lambda: Cooperative.objects.all()])
def test_get_scoped_or_404(world: dict[str, Any], source: Callable[[], Any]) -> None:
    coop_a, coop_b = world["coop_a"], world["coop_b"]
    assert get_scoped_or_404(source(), world["district_a"], pk=coop_a.pk) == coop_a
    assert get_scoped_or_404(source(), world["district_a"], CHANGE, pk=coop_a.pk) == coop_a
    assert get_scoped_or_404(source(), world["coop_user"], VIEW, pk=coop_a.pk) == coop_a
    for user, action, pk in [
        (world["district_a"], VIEW, coop_b.pk),
        (world["district_b"], VIEW, coop_a.pk),
        (world["coop_user"], CHANGE, coop_a.pk),
        (world["coop_user"], VIEW, world["coop_a2"].pk),
        (world["viewer"], CHANGE, coop_a.pk),
        (world["anonymous"], VIEW, coop_a.pk),
        (world["inactive"], VIEW, coop_a.pk),
    ]:
        with pytest.raises(Http404):
            get_scoped_or_404(source(), user, action, pk=pk)


@pytest.mark.parametrize(
    "pk", ["abc", "", None, "1.5", "1 OR 1=1", "-1", 0, -1, 10**30, "9" * 40, [], {}, "1x", "0x1"]
)
def test_get_scoped_or_404_garbage_pks(db: None, pk: Any) -> None:
    make_coop()
    with pytest.raises(Http404):
        get_scoped_or_404(Cooperative, make_user("city", "city"), pk=pk)


def test_ids_in_scope(world: dict[str, Any]) -> None:
    ids = [world["coop_a"].pk, world["coop_a2"].pk, world["coop_b"].pk, 10**9]
    assert ids_in_scope(world["district_a"], Cooperative, ids) == {world["coop_a"].pk, world["coop_a2"].pk}
    assert ids_in_scope(world["coop_user"], Cooperative, ids, CHANGE) == set()
    assert ids_in_scope(world["city"], Cooperative, ids) == set(ids[:3])


def test_a_counselor_is_assigned_to_a_cooperative_once_at_a_time(world: dict[str, Any]) -> None:
    """Periods of the same counselor on the same cooperative may follow each other, never overlap."""
    from django.core.exceptions import ValidationError

    current = CounselorAssignment.objects.get(counselor=world["counselor"])  # open-ended
    twice = CounselorAssignment(
        counselor=world["counselor"], cooperative=current.cooperative, start_date=dt.date(2026, 2, 1)
    )
    with pytest.raises(ValidationError) as caught, change_context(source="cli"):
        save_record(twice)
    assert "already assigned" in str(caught.value.message_dict["start_date"])
    assert CounselorAssignment.objects.filter(counselor=world["counselor"]).count() == 1
    with change_context(source="cli"):
        current.end_date = dt.date(2026, 1, 31)
        save_record(current)
        save_record(twice)  # follows it: accepted
        earlier = CounselorAssignment(
            counselor=world["counselor"],
            cooperative=current.cooperative,
            start_date=dt.date(2020, 1, 1),
            end_date=dt.date(2026, 1, 1),  # overlaps the first period
        )
        with pytest.raises(ValidationError):
            save_record(earlier)
