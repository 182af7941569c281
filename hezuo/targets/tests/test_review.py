"""The district review: scores from attainment with the plan's weights, ranked, each with its parts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from hezuo.conftest import DISTRICT_A, DISTRICT_B
from hezuo.targets.loader import ensure_shipped_plans
from hezuo.targets.review import scores

from . import world

pytestmark = pytest.mark.django_db
CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def plan(city_data: dict[str, Any]) -> Any:
    (plan,) = ensure_shipped_plans()
    world.build(counselor=city_data["counselor"])
    return plan


def test_equal_weights_by_default(plan: Any, city_data: dict[str, Any]) -> None:
    result = {s.code: s for s in scores(plan, city_data["city"], 2024)}
    a = result[DISTRICT_A]  # star 2/200, sponsored 1/130
    assert [p.key for p in a.parts] == ["star_coops", "sponsored_coops"]
    assert a.score == pytest.approx(round(0.5 * 2 / 200 * 100 + 0.5 * 1 / 130 * 100, 2), abs=0.01)
    b = result[DISTRICT_B]  # star 1/190, sponsored 1/110
    assert b.provisional and not a.provisional
    assert a.rank == 1 and b.rank == 2
    assert {s.rank for s in result.values()} >= {1, 2, 3}
    assert sum(p.weight for p in a.parts) == pytest.approx(1)


def test_weights_and_cap_are_the_plans(plan: Any, city_data: dict[str, Any]) -> None:
    plan.config = {**plan.config, "review": {"weights": {"sponsored_coops": 3}, "cap": 1.0}}
    plan.full_clean()
    plan.save()
    result = {s.code: s for s in scores(plan, city_data["city"], 2024)}
    assert [p.key for p in result[DISTRICT_B].parts] == ["sponsored_coops"]
    assert result[DISTRICT_B].score == pytest.approx(100 / 110, abs=0.01)
    plan.config = {**plan.config, "review": {"weights": {"sponsored_coops": -1}}}
    with pytest.raises(ValidationError):
        plan.full_clean()


def test_district_user_sees_their_own_score(plan: Any, client_for: Any) -> None:
    response = client_for("district_b").get(reverse("targets:review", args=[CODE]) + "?year=2024")
    assert [s.code for s in response.context["scores"]] == [DISTRICT_B]
