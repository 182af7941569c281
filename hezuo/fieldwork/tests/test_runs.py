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


# ----------------------------------------------------------------------------------------------------
# batches, the SQL floor of the benchmark, and the star rating's monitoring


def _varied(city_data: dict[str, Any]) -> None:
    """Data meeting most rules, spread over the three cooperatives."""
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record, snapshot
    from hezuo.fieldwork.models import Visit

    from .helpers import saved

    coop_a, coop_a2, coop_b = city_data["coop_a"], city_data["coop_a2"], city_data["coop_b"]
    no_business(coop_a, 2023, 2024)  # SH2, DO1
    no_business(coop_b, 2024)  # DO1
    fact = coop_b.yearlyfact_set.get(year=2024)
    before = snapshot(fact)
    fact.members, fact.farmer_members = 3, 0  # SH1
    fact.assembly_held = fact.financial_statements = False  # DO3
    fact.annual_report_filed, fact.annual_report_date = False, None  # DO4
    with change_context(source="cli"):
        save_record(fact, before=before)
    before = snapshot(coop_a2)
    coop_a2.operating_status, coop_a2.suspended_since = "suspended", dt.date(2024, 2, 1)  # DO2
    coop_a2.subsidy_fraud = True  # SH4
    with change_context(source="cli"):
        save_record(coop_a2, before=before)
    for day, operating in ((dt.date(2022, 3, 1), True), (dt.date(2023, 5, 1), False)):  # SH3
        saved(Visit(cooperative=coop_a2, visitor=city_data["counselor"], date=day, operating=operating))


def _flag_set() -> set[tuple[int, str, str, str]]:
    import json

    return {
        (coop, rule, json.dumps(evidence, sort_keys=True), text)
        for coop, rule, evidence, text in Flag.objects.values_list(
            "cooperative_id", "rule", "evidence", "explanation"
        )
    }


def test_flags_from_batches_equal_flags_one_by_one(city_data: dict[str, Any]) -> None:
    from hezuo.fieldwork.detection import evaluate, parse_rules

    _varied(city_data)
    runs.run_detection(year=2024, as_of=AS_OF, batch_size=1)
    one_by_one = _flag_set()
    assert {rule for _c, rule, _e, _t in one_by_one} == {
        "SH1",
        "SH2",
        "SH3",
        "SH4",
        "DO1",
        "DO2",
        "DO3",
        "DO4",
    }
    Flag.objects.all().delete()  # test data: start again
    run = runs.run_detection(year=2024, as_of=AS_OF, batch_size=1000)
    assert _flag_set() == one_by_one and run.flags_created == len(one_by_one)
    # and what a page shows for one cooperative (facts_for, explain) says the same
    rules = parse_rules(run.ruleset.rules)
    for coop in (city_data["coop_a"], city_data["coop_a2"], city_data["coop_b"]):
        (facts,) = runs.facts_for([coop], 2024, AS_OF, rules)
        raised = {f.rule for f in evaluate(facts, rules, 2024, AS_OF).flags}
        assert raised == {rule for c, rule, _e, _t in one_by_one if c == coop.pk}
    # one district: its cooperatives' ids are read by list, not by range; the same flags
    Flag.objects.all().delete()
    runs.run_detection(year=2024, as_of=AS_OF, district=city_data["division_a"], batch_size=1)
    district_a = {city_data["coop_a"].pk, city_data["coop_a2"].pk}
    assert _flag_set() == {f for f in one_by_one if f[0] in district_a}


def test_the_benchmark_floor_gives_the_engines_flags(city_data: dict[str, Any]) -> None:
    """The hand-written SQL of benchmarks/bench_detection.py flags what the engine flags, rule by rule."""
    from benchmarks.bench_detection import engine_flags, floor_queries, run_floor
    from hezuo.fieldwork.detection import parse_rules

    _varied(city_data)
    run = runs.run_detection(year=2024, as_of=AS_OF)
    _seconds, _cpu, floor = run_floor(floor_queries(parse_rules(run.ruleset.rules), 2024, AS_OF))
    engine = engine_flags(2024, run.ruleset_id)
    assert {code: ids for code, ids in floor.items() if ids} == dict(engine)
    assert sum(len(ids) for ids in engine.values()) == run.flags_created


def test_memory_is_read_batch_by_batch(city_data: dict[str, Any]) -> None:
    """A run reads a fixed number of queries per batch, whatever the batch size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _varied(city_data)
    runs.active_ruleset()  # loaded once, before counting (its loading is not a batch's work)
    counts = []
    for size in (1, 3):
        Flag.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            runs.run_detection(year=2024, as_of=AS_OF, batch_size=size)
        counts.append(len(captured.captured_queries))
    # three cooperatives: three batches of one against one batch of three (plus the last, empty read)
    per_batch = (counts[0] - counts[1]) / 2
    assert 0 < per_batch <= 12, counts


# the star rating's monitoring: a rated five-star cooperative, then a flag


@pytest.fixture
def rated(city_data: dict[str, Any]) -> dict[str, Any]:
    """coop_a and coop_b with five stars for 2024 (the rating tests' fixture data), rated."""
    from hezuo.core.context import change_context
    from hezuo.rating.services import ensure_default_rubric, rate
    from hezuo.rating.tests.conftest import YEAR, add_facts, make_top

    ensure_default_rubric()
    for name in ("coop_a", "coop_b"):
        make_top(city_data[name])
        add_facts(city_data[name])
    with change_context(source="cli"):
        rate(YEAR)
    return city_data


def test_a_shell_flag_makes_the_monitoring_raise_an_alert(
    rated: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record, snapshot
    from hezuo.fieldwork.models import Visit
    from hezuo.rating.models import Alert
    from hezuo.rating.monitoring import reevaluate

    from .helpers import saved

    coop = rated["coop_a"]
    assert reevaluate(coop) is None and not Alert.objects.exists()
    # visits observed it halted since 2023-06 (SH3, a shell rule); visits are not rating inputs
    saved(Visit(cooperative=coop, visitor=rated["counselor"], date=dt.date(2023, 6, 1), operating=False))
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.run_detection(year=2024, as_of=AS_OF)
    assert set(Flag.objects.filter(cooperative=coop).values_list("rule", flat=True)) == {"SH3"}
    assert run.flags_created == 1
    alert = Alert.objects.get(cooperative=coop)
    assert (alert.kind, alert.stars_rated, alert.stars_now, alert.status) == ("gate", 5, 0, "open")
    assert {"flags": ["SH3"], "assumed_status": "shell"} in alert.reasons
    assert any(r.get("gate") == "G0" and "not_shell" in r["checks"] for r in alert.reasons)
    # cleared by the district ("not a shell"): the alert resolves itself
    flag = Flag.objects.get(cooperative=coop)
    before = snapshot(flag)
    flag.status = Flag.Status.CLEARED
    with django_capture_on_commit_callbacks(execute=True), change_context(source="cli"):
        save_record(flag, before=before)
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_dormant_flag_caps_an_operating_cooperative(rated: dict[str, Any]) -> None:
    from hezuo.rating.models import Alert
    from hezuo.rating.monitoring import reevaluate_flagged, with_flags

    coop = rated["coop_b"]
    ruleset = runs.active_ruleset()
    from .helpers import saved

    late = saved(
        Flag(
            cooperative=coop, rule="DO4", kind="dormant", year=2024, ruleset=ruleset, evidence={"year": 2024}
        )
    )
    # a late annual report alone is reviewed, it does not cost stars (criteria §7.4: DO1 + (DO3 or DO4))
    assert reevaluate_flagged([late.pk]) == 0 and not Alert.objects.filter(cooperative=coop).exists()
    idle = saved(
        Flag(
            cooperative=coop, rule="DO1", kind="dormant", year=2024, ruleset=ruleset, evidence={"year": 2024}
        )
    )
    assert reevaluate_flagged([idle.pk]) == 1
    alert = Alert.objects.get(cooperative=coop)
    assert alert.stars_now == 1 and {"flags": ["DO1", "DO4"], "assumed_status": "dormant"} in alert.reasons
    # the rule of with_flags: a dormant flag changes nothing for a suspended or shell status
    from dataclasses import replace

    from hezuo.rating.engine import CoopInput

    inp = CoopInput(cooperative_id=1, year=2024, operating_status="suspended")
    assert with_flags(inp, [("DO1", "dormant"), ("DO3", "dormant")]) == (inp, None)
    assert with_flags(inp, [("SH2", "shell")])[0] == replace(inp, operating_status="shell")
    # SH7 (abnormal-listed two years) counts only with SH1-SH3
    assert with_flags(inp, [("SH7", "shell")]) == (inp, None)
    assert with_flags(inp, [("SH7", "shell"), ("SH1", "shell")])[1] == {
        "flags": ["SH1", "SH7"],
        "assumed_status": "shell",
    }
    operating = replace(inp, operating_status="operating")
    assert with_flags(operating, [("DO3", "dormant")]) == (operating, None)
    assert with_flags(operating, [("DO2", "dormant")])[1] == {"flags": ["DO2"], "assumed_status": "dormant"}
