"""Detection runs against the database: flags in bulk with their history, idempotent, command and task."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hezuo.core.models import ChangeRecord
from hezuo.core.services import history_for
from hezuo.fieldwork import runs
from hezuo.fieldwork.models import DetectionRun, Flag, RuleSet

from .helpers import no_business

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 11, 1)


def test_a_run_raises_flags_with_evidence_and_history(city_data: dict[str, Any]) -> None:
    coop_a, coop_b = city_data["coop_a"], city_data["coop_b"]
    no_business(coop_a, 2023, 2024)
    no_business(coop_b, 2024)
    run = runs.run_detection(year=2024, as_of=AS_OF, batch_size=2)
    assert run.status == DetectionRun.Status.DONE
    assert run.checked == 3 and run.flags_created == 3
    assert set(Flag.objects.filter(cooperative=coop_a).values_list("rule", flat=True)) == {"SH2", "DO1"}
    assert set(Flag.objects.filter(cooperative=coop_b).values_list("rule", flat=True)) == {"DO1"}
    flag = Flag.objects.get(cooperative=coop_a, rule="SH2")
    assert flag.status == Flag.Status.OPEN and flag.year == 2024 and flag.run == run
    assert flag.ruleset.version == "detection-v1" and flag.evidence["years"] == [2024, 2023]
    # each new flag is in the history, shown under its cooperative
    records = history_for(coop_a).filter(action=ChangeRecord.Action.CREATE, content_type__model="flag")
    assert records.count() == 2 and records.first().source == "task"
    # a second run raises nothing new
    again = runs.run_detection(year=2024, as_of=AS_OF)
    assert again.flags_created == 0 and again.flags_existing == 3
    assert Flag.objects.count() == 3


def test_a_run_for_one_district_and_cooperatives_gone_are_skipped(city_data: dict[str, Any]) -> None:
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    coop_a2 = city_data["coop_a2"]
    for coop in (city_data["coop_a"], coop_a2, city_data["coop_b"]):
        no_business(coop, 2024)
    coop_a2.operating_status = "deregistered"
    with change_context(source="cli"):
        save_record(coop_a2)
    run = runs.run_detection(year=2024, as_of=AS_OF, district=city_data["division_a"])
    assert run.checked == 1
    assert set(Flag.objects.values_list("cooperative_id", flat=True)) == {city_data["coop_a"].pk}


def test_the_rule_set_is_loaded_once_and_validated(db: Any, tmp_path: Any) -> None:
    first = runs.active_ruleset()
    assert runs.active_ruleset() == first and RuleSet.objects.count() == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: bad\nrules:\n  SH1: {params: {min_members: many}}\n", encoding="utf-8")
    with pytest.raises(Exception) as err:
        runs.load_ruleset(bad)
    assert "SH1.min_members" in str(err.value)
    assert RuleSet.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("detect", "--load-rules", str(bad), stdout=StringIO())


def test_the_detect_command_and_the_task(city_data: dict[str, Any]) -> None:
    no_business(city_data["coop_a"], 2023, 2024)
    out = StringIO()
    call_command("detect", "--year", "2024", "--district", "330226", stdout=out)
    assert "flags_created: 2" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("detect", "--district", "999999", stdout=StringIO())
    from hezuo.fieldwork.tasks import detect_task

    result = detect_task.enqueue()  # the nightly run: the last full year, the whole city
    assert result.return_value["status"] == "done"


def test_explain_one_cooperative(city_data: dict[str, Any]) -> None:
    no_business(city_data["coop_a"], 2024)
    lines = runs.explain(city_data["coop_a"], 2024)
    assert any(line.startswith("DO1") for line in lines)
