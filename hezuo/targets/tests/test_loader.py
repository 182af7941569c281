"""Loading a plan file: the shipped 2023-2025 plan, idempotence, history, and bad input refused by entry."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.exceptions import ValidationError

from hezuo.core.models import ChangeRecord
from hezuo.targets.loader import DATA_DIR, PlanFileError, ensure_shipped_plans, load_plan_text
from hezuo.targets.models import Metric, Plan, Target

pytestmark = pytest.mark.django_db

PLAN_FILE = DATA_DIR / "plan-2023-2025.yaml"


def plan_data() -> dict[str, Any]:
    return yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))


def test_shipped_plan_loads_every_target() -> None:
    (plan,) = ensure_shipped_plans()
    data = plan_data()
    assert plan.code == "zhuzhendi-2023-2025"
    assert plan.years == [2023, 2024, 2025]
    assert [code for code, _label in plan.district_order] == [d["code"] for d in data["districts"]]
    targets = Target.objects.filter(plan=plan)
    # 10 districts x 2 metrics x 3 years, 3 yearly five-star targets, 7 goals for 2025 (five-star shared)
    assert targets.filter(district__isnull=False).count() == 60
    assert targets.filter(district__isnull=True).count() == 3 + 6
    for row in data["districts"]:
        for key in ("star_coops", "sponsored_coops"):
            for year, value in row[key].items():
                t = targets.get(district__code=row["code"], metric__key=key, year=year)
                assert t.value == value
    for key, by_year in data["totals"].items():
        for year, value in by_year.items():
            got = sum(t.value for t in targets.filter(metric__key=key, year=year, district__isnull=False))
            assert got == value
    share = targets.get(metric__key="sponsored_share_national_demo", district__isnull=True)
    assert share.value == Decimal("0.9") and share.year == 2025
    annex = list(Metric.objects.filter(plan=plan, annex_order__isnull=False).values_list("key", flat=True))
    assert annex == [
        "star_coops",
        "sponsored_coops",
        "sponsored_five_star",
        "campaign_visited",
        "shells_cleaned",
        "rectifications_completed",
    ]
    # followed without targets: the survey, the cleanup, the rectification (section 二 (一) tasks 1-3)
    tracked = {"campaign_visited", "shells_cleaned", "rectifications_completed"}
    assert tracked <= set(Metric.objects.filter(plan=plan).values_list("key", flat=True))
    assert not targets.filter(metric__key__in=tracked).exists()
    assert ChangeRecord.objects.filter(content_type__app_label="targets").count() == 1 + 7 + 3 + 69


def test_loading_twice_changes_nothing() -> None:
    ensure_shipped_plans()
    before = ChangeRecord.objects.count()
    ensure_shipped_plans()
    assert ChangeRecord.objects.count() == before
    assert Plan.objects.count() == 1 and Target.objects.count() == 69


def test_a_changed_value_is_updated_with_history() -> None:
    ensure_shipped_plans()
    data = plan_data()
    data["districts"][0]["star_coops"][2025] = 101
    load_plan_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    t = Target.objects.get(district__code=data["districts"][0]["code"], metric__key="star_coops", year=2025)
    assert t.value == 101
    records = ChangeRecord.objects.filter(action="update")
    record = records.get()
    assert record.before["value"] == "100" and record.after["value"] == "101"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["districts"][2].update(code="330299"), "districts entry 3 (330299): unknown district"),
        (lambda d: d["districts"][0].update(visits={2023: 5}), "unknown metric visits"),
        (lambda d: d.update(tracked=["shells_cleaned", "shells"]), "tracked: unknown metric shells"),
        (lambda d: d.update(tracked="shells_cleaned"), "tracked: give a list of metrics"),
        (lambda d: d["districts"][1]["star_coops"].update({2026: 40}), "star_coops 2026: the year is not"),
        (lambda d: d["districts"][1]["sponsored_coops"].update({2024: -3}), "cannot be negative"),
        (
            lambda d: d["city_targets_2025"].update(sponsored_share_provincial_demo={"min": 1.2}),
            "city_targets_2025 sponsored_share_provincial_demo 2025: a share is at most 1",
        ),
        (lambda d: d["city_targets_by_year"]["sponsored_five_star"].update({2025: 90}), "contradicts"),
    ],
)
def test_bad_plan_files_are_refused_naming_the_entry(change: Any, message: str) -> None:
    data = plan_data()
    change(data)
    with pytest.raises(PlanFileError) as caught:
        load_plan_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert any(message in m for m in caught.value.messages), caught.value.messages
    assert not Plan.objects.exists() and not ChangeRecord.objects.filter(content_type__app_label="targets")


def test_target_validation(tmp_path: Path) -> None:
    (plan,) = ensure_shipped_plans()
    share = Metric.objects.get(plan=plan, key="sponsored_share_county_standard")
    with pytest.raises(ValidationError) as caught:
        Target(plan=plan, metric=share, year=2027, value=Decimal("1.5")).full_clean()
    assert set(caught.value.message_dict) == {"year", "value"}
    count = Metric.objects.get(plan=plan, key="star_coops")
    with pytest.raises(ValidationError):
        Target(plan=plan, metric=count, year=2024, value=Decimal("-1")).full_clean()
    with pytest.raises(ValidationError):
        Metric(plan=plan, key="no_such_metric").full_clean()
    plan.config = {"closely_linked": ["friends"]}
    with pytest.raises(ValidationError):
        plan.full_clean()


def test_city_staff_load_the_next_plan_in_the_ui(client_for: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    data = plan_data()
    data["plan"].update(code="zhuzhendi-2026-2028", name="下一个三年行动计划", years=[2026, 2027, 2028])
    for row in data["districts"]:
        row["star_coops"] = {2026 + i: v for i, v in enumerate(row["star_coops"].values())}
        row["sponsored_coops"] = {2026 + i: v for i, v in enumerate(row["sponsored_coops"].values())}
    data["city_targets_by_year"] = {"sponsored_five_star": {2026: 110, 2027: 120, 2028: 130}}
    data["city_targets_2028"] = data.pop("city_targets_2025")
    data["city_targets_2028"]["sponsored_five_star"] = {"min": 130}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    client = client_for("city")
    url = reverse("targets:plan_load")
    response = client.post(url, {"file": SimpleUploadedFile("next.yaml", text)})
    assert response.status_code == 302
    plan = Plan.objects.get(code="zhuzhendi-2026-2028")
    assert plan.targets.count() == 69
    bad = text.replace(b"330203", b"330299")
    response = client.post(url, {"file": SimpleUploadedFile("bad.yaml", bad)})
    assert response.status_code == 200
    assert any("unknown district 330299" in p for p in response.context["problems"])


def test_load_plan_command(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    call_command("load_plan", str(PLAN_FILE))
    assert Target.objects.count() == 69
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAN_FILE.read_text(encoding="utf-8").replace("2025: 240", "2025: -240"), encoding="utf-8")
    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("load_plan", str(bad))


def test_setup_leaves_a_loaded_plan_as_it_is() -> None:
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record, snapshot

    ensure_shipped_plans()
    target = Target.objects.get(district__code="330226", metric__key="star_coops", year=2025)
    before = snapshot(target)
    target.value = Decimal(250)
    with change_context(source="cli"):
        save_record(target, before=before)
    ensure_shipped_plans()
    target.refresh_from_db()
    assert target.value == 250
