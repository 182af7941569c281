"""The checklist as versioned data (loader, command), and the metric `rectifications_completed`."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hezuo.compliance import rectification as rx
from hezuo.compliance.checklist import (
    DEFAULT_CHECKLIST,
    ChecklistError,
    load_checklist,
    parse_items,
    read_file,
)
from hezuo.compliance.models import Checklist, RectificationCase
from hezuo.core.testing import ChangeLog

from .helpers import YEAR, facts

pytestmark = pytest.mark.django_db


def test_the_shipped_checklist_copies_criteria_7_5() -> None:
    data = read_file(DEFAULT_CHECKLIST)
    items = data["items"]
    assert list(items) == [f"K{n:02d}" for n in range(1, 24)]
    assert items["K01"]["basis"] == "法 12(一)" and items["K22"]["region"] == "ZJ"
    assert {k for k, v in items.items() if not v["evaluable"]} == {"K08", "K22"}
    assert items["K02"]["deadline_days"] == 180
    assert (DEFAULT_CHECKLIST.parent / "SOURCE.md").exists()


def test_loading_is_idempotent_and_recorded() -> None:
    with ChangeLog() as log:
        checklist, created = load_checklist()
    assert created and checklist.is_active and len(checklist.items) == 23
    assert [r.action for r in log.records] == ["create"]
    with ChangeLog() as log:
        again, created = load_checklist()
    assert again == checklist and not created and not log.records


def test_the_command(tmp_path: Path) -> None:
    out = StringIO()
    call_command("load_checklist", stdout=out)
    assert "compliance-v1 loaded (23 items)" in out.getvalue()
    call_command("load_checklist", stdout=out)
    assert "already loaded" in out.getvalue()
    # a second version becomes the active one; cases keep theirs
    text = DEFAULT_CHECKLIST.read_text(encoding="utf-8").replace(
        "version: compliance-v1", "version: compliance-v2"
    )
    path = tmp_path / "v2.yaml"
    path.write_text(text, encoding="utf-8")
    call_command("load_checklist", str(path), stdout=out)
    assert list(Checklist.objects.filter(is_active=True).values_list("version", flat=True)) == [
        "compliance-v2"
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nitems:\n  K1: {title: t, basis: b, deadline_days: 0}\n", encoding="utf-8")
    with pytest.raises(CommandError, match="K1"):
        call_command("load_checklist", str(bad), stdout=out)
    assert Checklist.objects.count() == 2


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({}, "no items"),
        ({"K99": {"title": "t", "basis": "b", "deadline_days": 10, "colour": 1}}, "unknown fields colour"),
        ({"K01": {"title": "", "basis": "b", "deadline_days": 10}}, "title is missing"),
        ({"K01": {"title": "t", "basis": "", "deadline_days": 10}}, "basis is missing"),
        ({"K01": {"title": "t", "basis": "b", "deadline_days": -3}}, "deadline_days"),
        ({"K01": {"title": "t", "basis": "b", "deadline_days": 10, "evaluable": "yes"}}, "evaluable"),
        ({"X1": {"title": "t", "basis": "b", "deadline_days": 10}}, "X1"),
    ],
)
def test_bad_checklists_are_refused_naming_the_item(items: Any, message: str) -> None:
    with pytest.raises(ChecklistError) as exc:
        parse_items(items)
    assert message in " ".join(exc.value.messages)


def test_the_metric_counts_cooperatives_whose_case_closed_in_the_year(city_data: dict[str, Any]) -> None:
    from hezuo.registry.models import Cooperative
    from hezuo.targets.metrics import REGISTRY, MetricContext, by_district

    metric = REGISTRY["rectifications_completed"]
    assert metric.kind == "count"
    for coop in ("coop_a", "coop_b"):
        facts(city_data[coop])
    staff = {"coop_a": city_data["district_a"], "coop_b": city_data["district_b"]}
    for coop, user in staff.items():
        case = rx.open_case(user, city_data[coop], year=YEAR)
        rx.start(case, user)
        for item in case.items.filter(status="pending"):
            rx.record_outcome(item, user, outcome="pass", note="Checked at the office.")
        if coop == "coop_a":
            rx.close(case, user)
    year = RectificationCase.objects.get(status="closed").closed_on.year
    base = Cooperative.objects.all()
    values = by_district(metric, base, year, MetricContext())
    assert {d: a.value for d, a in values.items()} == {city_data["division_a"].pk: 1}
    assert by_district(metric, base, year - 1, MetricContext()) == {}
    # as of a day before the closing, the forecast counts nothing yet
    closed_on = RectificationCase.objects.get(status="closed").closed_on
    ctx = MetricContext(as_of=closed_on - dt.timedelta(days=1))
    assert by_district(metric, base, year, ctx) == {}
    # bounded by the base queryset (the user's scope)
    scoped = Cooperative.objects.restrict(city_data["district_b"])
    assert by_district(metric, scoped, year, MetricContext()) == {}


def test_the_metric_is_registered_from_the_app_config() -> None:
    """ComplianceConfig.ready() imports hezuo.compliance.metrics, which registers the metric."""
    from hezuo.compliance.metrics import RECTIFICATIONS_COMPLETED
    from hezuo.targets.metrics import REGISTRY

    assert REGISTRY["rectifications_completed"] is RECTIFICATIONS_COMPLETED


def test_ensure_checklist_for_setup() -> None:
    from hezuo.compliance.checklist import ensure_checklist

    first = ensure_checklist()
    assert first is not None and first.version == "compliance-v1"
    assert ensure_checklist() is None
