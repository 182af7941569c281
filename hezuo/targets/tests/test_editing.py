"""City staff edit single targets (a district's or the city's) and make the next plan in the UI: every change
recorded with its reason, a closed year's targets refused with a clear message, bad values refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from hezuo.conftest import DISTRICT_A, DISTRICT_B
from hezuo.core.models import ChangeRecord
from hezuo.targets import closing, editing
from hezuo.targets.loader import DATA_DIR, ensure_shipped_plans
from hezuo.targets.models import Metric, Plan, Target

pytestmark = pytest.mark.django_db

CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def plan(city_data: dict[str, Any]) -> Plan:
    (plan,) = ensure_shipped_plans()
    return plan


def edit_url(metric: str, year: int, where: str) -> str:
    return reverse("targets:target_edit", args=[CODE, metric, year, where])


def target(metric: str, year: int, where: str | None) -> Target | None:
    qs = Target.objects.filter(plan__code=CODE, metric__key=metric, year=year, retired_at__isnull=True)
    qs = qs.filter(district__code=where) if where else qs.filter(district__isnull=True)
    return qs.first()


def test_city_staff_change_a_district_target_with_history(plan: Plan, client_for: Any) -> None:
    client = client_for("city")
    response = client.get(edit_url("star_coops", 2025, DISTRICT_A))
    assert response.status_code == 200
    assert response.context["form"].initial["value"] == Decimal(240)
    response = client.post(edit_url("star_coops", 2025, DISTRICT_A), {"value": "250", "reason": "new count"})
    assert response.status_code == 302
    assert response["Location"] == reverse("targets:plan_targets", args=[CODE]) + "?year=2025"
    assert target("star_coops", 2025, DISTRICT_A).value == 250
    record = ChangeRecord.objects.filter(content_type__model="target", action="update").get()
    assert record.before["value"] == "240" and record.after["value"] == "250"
    assert record.message == "new count" and record.user_name == "city"
    # the cell's history is on its page
    page = client.get(edit_url("star_coops", 2025, DISTRICT_A))
    assert next(r.pk for r, _changes in page.context["entries"]) == record.pk
    assert "new count" in page.content.decode()
    # the same value again: nothing recorded
    client.post(edit_url("star_coops", 2025, DISTRICT_A), {"value": "250"})
    assert ChangeRecord.objects.filter(content_type__model="target", action="update").count() == 1


def test_city_wide_targets_are_set_and_removed(
    plan: Plan, client_for: Any, city_data: dict[str, Any]
) -> None:
    client = client_for("city")
    assert target("star_coops", 2024, None) is None
    assert client.post(edit_url("star_coops", 2024, "city"), {"value": "1000"}).status_code == 302
    created = target("star_coops", 2024, None)
    assert created is not None and created.value == 1000 and created.district_id is None
    assert ChangeRecord.objects.filter(content_type__model="target", object_id=created.pk, action="create")
    # a share: a fraction up to 1
    response = client.post(edit_url("sponsored_share_county_standard", 2025, "city"), {"value": "0.75"})
    assert response.status_code == 302
    assert target("sponsored_share_county_standard", 2025, None).value == Decimal("0.75")
    # empty: the target is removed (retired, recorded), and the table no longer shows it
    assert client.post(edit_url("star_coops", 2024, "city"), {"value": ""}).status_code == 302
    assert target("star_coops", 2024, None) is None
    created.refresh_from_db()
    assert created.retired_at is not None
    assert ChangeRecord.objects.filter(content_type__model="target", object_id=created.pk, action="retire")
    # set again: a new row, and the cell's history shows all of it
    client.post(edit_url("star_coops", 2024, "city"), {"value": "900", "reason": "again"})
    history = editing.cell_history(plan, Metric.objects.get(plan=plan, key="star_coops"), 2024, None)
    assert [r.action for r in history] == ["create", "retire", "create"]
    # the grid shows it, and the new value reaches the progress table's KPI cards
    grid = client.get(reverse("targets:plan_targets", args=[CODE]) + "?year=2024")
    city_row = next(r for r in grid.context["rows"] if r["code"] == "city")
    assert "900" in [c["value"] for c in city_row["cells"]]
    from hezuo.targets.progress import compute

    kpis = {(m.key, y): c.target for m, y, c in compute(plan, city_data["city"]).kpis}
    assert kpis[("star_coops", 2024)] == 900


@pytest.mark.parametrize(
    ("metric", "value", "message"),
    [
        ("star_coops", "-5", "greater than or equal to 0"),
        ("sponsored_share_provincial_demo", "1.2", "less than or equal to 1"),
        ("star_coops", "abc", "Enter a number"),
    ],
)
def test_bad_values_are_refused(plan: Plan, client_for: Any, metric: str, value: str, message: str) -> None:
    response = client_for("city").post(edit_url(metric, 2025, DISTRICT_B), {"value": value})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors)
    assert not ChangeRecord.objects.filter(content_type__model="target", action="update").exists()


def test_service_refuses_bad_values_too(plan: Plan, city_data: dict[str, Any]) -> None:
    share = Metric.objects.get(plan=plan, key="sponsored_share_national_demo")
    with pytest.raises(ValidationError, match="at most 1"):
        editing.set_target(plan, share, 2025, None, Decimal("1.5"), user=city_data["city"])
    star = Metric.objects.get(plan=plan, key="star_coops")
    with pytest.raises(ValidationError, match="cannot be negative"):
        editing.set_target(plan, star, 2025, city_data["division_a"], Decimal(-1), user=city_data["city"])
    with pytest.raises(ValidationError, match="not a year of the plan"):
        editing.set_target(plan, star, 2030, None, Decimal(1), user=city_data["city"])
    with pytest.raises(PermissionDenied):
        editing.set_target(plan, star, 2025, None, Decimal(1), user=city_data["district_a"])


def test_a_closed_years_targets_are_refused_with_a_clear_message(plan: Plan, client_for: Any) -> None:
    client = client_for("city")
    city = client.get(reverse("targets:plan_list")).wsgi_request.user
    closing.close_year(plan, 2024, user=city)
    page = client.get(edit_url("star_coops", 2024, DISTRICT_A))
    assert page.status_code == 200 and page.context["closed"]
    assert "2024 is closed: its targets cannot be changed until it is reopened." in page.content.decode()
    response = client.post(edit_url("star_coops", 2024, DISTRICT_A), {"value": "1"})
    assert response.status_code == 200
    assert "2024 is closed" in " ".join(response.context["form"].non_field_errors())
    assert target("star_coops", 2024, DISTRICT_A).value == 200
    grid = client.get(reverse("targets:plan_targets", args=[CODE]) + "?year=2024")
    assert grid.context["closed"] and 'id="year-closed"' in grid.content.decode()
    star = Metric.objects.get(plan=plan, key="star_coops")
    with pytest.raises(ValidationError, match="2024 is closed"):
        editing.set_target(plan, star, 2024, None, Decimal(5), user=city)
    # a plan file changing a closed year's target is refused, naming the entry
    data = yaml.safe_load((DATA_DIR / "plan-2023-2025.yaml").read_text(encoding="utf-8"))
    data["districts"][0]["star_coops"][2024] = 61
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    response = client.post(reverse("targets:plan_load"), {"file": SimpleUploadedFile("p.yaml", text)})
    assert response.status_code == 200
    code = data["districts"][0]["code"]
    assert any(f"{code} star_coops 2024: the year is closed" in p for p in response.context["problems"])
    # reopened: editable again
    closing.reopen_year(plan, 2024, user=city)
    assert client.post(edit_url("star_coops", 2024, DISTRICT_A), {"value": "1"}).status_code == 302
    assert target("star_coops", 2024, DISTRICT_A).value == 1


def test_the_next_plan_is_made_from_this_one(plan: Plan, client_for: Any) -> None:
    client = client_for("city")
    page = client.get(reverse("targets:plan_copy", args=[CODE]))
    assert page.context["form"].initial == {"first_year": 2026, "code": "zhuzhendi-2026-2028"}
    response = client.post(
        reverse("targets:plan_copy", args=[CODE]),
        {"code": "zhuzhendi-2026-2028", "name": "2026-2028 行动计划", "first_year": "2026"},
    )
    assert response.status_code == 302
    new = Plan.objects.get(code="zhuzhendi-2026-2028")
    assert new.years == [2026, 2027, 2028]
    assert new.district_labels == plan.district_labels and new.config == plan.config
    assert sorted(new.metrics.values_list("key", "annex_order")) == sorted(
        plan.metrics.values_list("key", "annex_order")
    )
    assert not new.targets.exists()
    assert ChangeRecord.objects.filter(content_type__model="plan", object_id=new.pk, action="create")
    # then its targets are set cell by cell
    url = reverse("targets:target_edit", args=[new.code, "star_coops", 2026, DISTRICT_A])
    assert client.post(url, {"value": "300"}).status_code == 302
    assert new.targets.get().value == 300
    grid = client.get(reverse("targets:plan_targets", args=[new.code]))
    assert grid.context["year"] == 2026 and len(grid.context["rows"]) == 11
    # the code is taken now
    again = client.post(
        reverse("targets:plan_copy", args=[CODE]),
        {"code": "zhuzhendi-2026-2028", "name": "x", "first_year": "2026"},
    )
    assert again.status_code == 200 and "exists" in str(again.context["form"].errors)


def test_the_next_plan_can_carry_the_values(plan: Plan, city_data: dict[str, Any]) -> None:
    new = editing.copy_plan(
        plan,
        editing.CopyRequest(code="next", name="next", first_year=2026, copy_values=True),
        user=city_data["city"],
    )
    assert new.targets.count() == plan.targets.count() == 69
    old = Target.objects.get(plan=plan, metric__key="star_coops", district__code=DISTRICT_A, year=2023)
    copy = Target.objects.get(plan=new, metric__key="star_coops", district__code=DISTRICT_A, year=2026)
    assert copy.value == old.value
    with pytest.raises(PermissionDenied):
        editing.copy_plan(
            plan, editing.CopyRequest(code="x", name="x", first_year=2029), user=city_data["viewer"]
        )
