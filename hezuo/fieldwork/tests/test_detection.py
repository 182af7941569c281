"""The detection engine (pure): each rule of criteria §7.4 on hand-made cases, with and without it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hezuo.fieldwork.detection import (
    RULES,
    CoopFacts,
    Observation,
    RuleSetError,
    YearFacts,
    evaluate,
    parse_rules,
    screen,
    years_read,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "detection-rules-v1.yaml"
YEAR = 2024
AS_OF = dt.date(2025, 11, 1)  # the 2024 report was due on 2025-06-30


def shipped() -> dict[str, Any]:
    return {"rules": yaml.safe_load(DATA.read_text(encoding="utf-8"))["rules"]}


RULESET = parse_rules(shipped())


def healthy_year(year: int, **changes: Any) -> YearFacts:
    base = YearFacts(
        year=year,
        members=30,
        farmer_members=28,
        revenue=Decimal("800000"),
        member_transactions=Decimal("500000"),
        assembly_held=True,
        financial_statements=True,
        annual_report_filed=True,
        annual_report_date=dt.date(year + 1, 4, 10),
    )
    return replace(base, **changes)


def coop(years: dict[int, dict[str, Any]] | None = None, **changes: Any) -> CoopFacts:
    years = years or {}
    facts = {y: healthy_year(y, **years.get(y, {})) for y in (YEAR - 2, YEAR - 1, YEAR)}
    base = CoopFacts(
        cooperative_id=1,
        registration_date=dt.date(2015, 3, 1),
        markers={"subsidy_fraud": False, "illegal_finance": False, "serious_violation": False},
        years=facts,
    )
    return replace(base, **changes)


def rules_raised(facts: CoopFacts, as_of: dt.date = AS_OF) -> set[str]:
    return {flag.rule for flag in evaluate(facts, RULESET, YEAR, as_of).flags}


def test_the_shipped_rule_set_has_every_rule_of_the_criteria() -> None:
    assert {r.code for r in RULESET} == {f"SH{i}" for i in range(1, 8)} | {f"DO{i}" for i in range(1, 5)}
    assert set(RULES) == {r.code for r in RULESET}
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    assert raw["version"] and "criteria" in raw["source_note"]


def test_a_healthy_cooperative_raises_nothing() -> None:
    result = evaluate(coop(), RULESET, YEAR, AS_OF)
    assert result.flags == []
    # SH3 needs observations; nothing else is missing
    assert set(result.not_evaluated) == {"SH3"}


@pytest.mark.parametrize(
    ("changes", "raised"),
    [
        ({"members": 4, "farmer_members": 4}, True),
        ({"members": 5, "farmer_members": 0}, True),
        ({"members": 5, "farmer_members": 1}, False),
        ({"members": 30, "farmer_members": 28}, False),
    ],
)
def test_sh1_no_farmer_participation(changes: dict[str, Any], raised: bool) -> None:
    assert ("SH1" in rules_raised(coop({YEAR: changes}))) is raised


def test_sh1_missing_members_is_not_evaluated_not_flagged() -> None:
    result = evaluate(coop({YEAR: {"members": None, "farmer_members": None}}), RULESET, YEAR, AS_OF)
    assert "SH1" not in {f.rule for f in result.flags}
    assert "SH1" in result.not_evaluated


def _no_business(**extra: Any) -> dict[str, Any]:
    return {"revenue": Decimal(0), "member_transactions": Decimal(0), **extra}


def test_sh2_two_years_without_business() -> None:
    both = coop({YEAR: _no_business(), YEAR - 1: _no_business()})
    assert {"SH2", "DO1"} <= rules_raised(both)
    flag = next(f for f in evaluate(both, RULESET, YEAR, AS_OF).flags if f.rule == "SH2")
    assert flag.evidence["years"] == [YEAR, YEAR - 1]
    assert flag.evidence["revenue"] == {str(YEAR): "0", str(YEAR - 1): "0"}
    assert "no revenue" in flag.explanation
    # one year only: dormant, not shell
    one = coop({YEAR: _no_business()})
    assert "SH2" not in rules_raised(one) and "DO1" in rules_raised(one)
    # revenue but no member transactions: business
    assert "SH2" not in rules_raised(coop({YEAR: _no_business(revenue=Decimal(5)), YEAR - 1: _no_business()}))
    # not reported is never zero
    unknown = coop({YEAR: _no_business(member_transactions=None), YEAR - 1: _no_business()})
    assert "SH2" not in rules_raised(unknown)
    assert "SH2" in evaluate(unknown, RULESET, YEAR, AS_OF).not_evaluated


def test_sh2_a_suspension_filed_justifies_until_it_lapses() -> None:
    years = {YEAR: _no_business(), YEAR - 1: _no_business()}
    suspended = coop(years, operating_status="suspended", suspended_since=dt.date(2023, 1, 1))
    assert "SH2" not in rules_raised(suspended)
    assert "DO2" in rules_raised(suspended)
    lapsed = coop(years, operating_status="suspended", suspended_since=dt.date(2020, 1, 1))
    assert {"SH2", "DO2"} <= rules_raised(lapsed)
    do2 = next(f for f in evaluate(lapsed, RULESET, YEAR, AS_OF).flags if f.rule == "DO2")
    assert do2.evidence["lapsed"] is True and "SH2" in do2.explanation


def test_sh3_halted_for_two_years_by_observation() -> None:
    halted = coop(
        observations=(
            Observation(dt.date(2022, 5, 1), True, "visit"),
            Observation(dt.date(2023, 6, 1), False, "visit"),
            Observation(dt.date(2025, 7, 1), False, "inspection"),
        )
    )
    assert "SH3" in rules_raised(halted)
    flag = next(f for f in evaluate(halted, RULESET, YEAR, AS_OF).flags if f.rule == "SH3")
    assert flag.evidence["halted_since"] == "2023-06-01" and len(flag.evidence["observations"]) == 2
    recent = coop(observations=(Observation(dt.date(2024, 6, 1), False, "visit"),))
    assert "SH3" not in rules_raised(recent)
    resumed = coop(
        observations=(
            Observation(dt.date(2022, 6, 1), False, "visit"),
            Observation(dt.date(2025, 1, 1), True),
        )
    )
    assert "SH3" not in rules_raised(resumed)


@pytest.mark.parametrize(
    ("rule", "marker"), [("SH4", "subsidy_fraud"), ("SH5", "serious_violation"), ("SH6", "illegal_finance")]
)
def test_marker_rules(rule: str, marker: str) -> None:
    markers = {"subsidy_fraud": False, "illegal_finance": False, "serious_violation": False}
    assert rule not in rules_raised(coop(markers=markers))
    assert rule in rules_raised(coop(markers={**markers, marker: True}))


def test_sh7_abnormal_listed_and_two_reports_missed() -> None:
    missed = {YEAR: {"annual_report_filed": False}, YEAR - 1: {"annual_report_filed": False}}
    listed = coop(missed, on_abnormal_list=True, abnormal_listed_on=dt.date(2025, 7, 10))
    assert {"SH7", "DO4"} <= rules_raised(listed)
    assert "SH7" not in rules_raised(coop(missed))  # not abnormal-listed
    one = coop({YEAR: {"annual_report_filed": False}}, on_abnormal_list=True)
    assert "SH7" not in rules_raised(one)
    # late filing counts as missed
    late = coop(
        {YEAR: {"annual_report_date": dt.date(YEAR + 1, 8, 1)}, YEAR - 1: {"annual_report_filed": False}},
        on_abnormal_list=True,
    )
    assert "SH7" in rules_raised(late)


def test_report_years_follow_the_deadline() -> None:
    """Before 30 June, the last report due is the one of the year before."""
    facts = coop({YEAR: {"annual_report_filed": False}})
    assert "DO4" in rules_raised(facts, dt.date(2025, 7, 1))
    assert "DO4" not in rules_raised(facts, dt.date(2025, 6, 1))  # the 2024 report is not yet due
    earlier = coop({YEAR - 1: {"annual_report_filed": False}})
    assert "DO4" in rules_raised(earlier, dt.date(2025, 6, 1))


def test_do3_no_governance() -> None:
    assert "DO3" in rules_raised(coop({YEAR: {"assembly_held": False, "financial_statements": False}}))
    assert "DO3" not in rules_raised(coop({YEAR: {"assembly_held": False, "financial_statements": True}}))
    assert "DO3" not in rules_raised(coop({YEAR: {"assembly_held": None, "financial_statements": False}}))


def test_do2_only_when_suspended() -> None:
    assert "DO2" not in rules_raised(coop())
    assert "DO2" in rules_raised(coop(operating_status="suspended"))


def test_parameters_come_from_the_rule_set() -> None:
    data = shipped()
    data["rules"]["SH1"] = {"params": {"min_members": 40}}
    rules = parse_rules(data)
    assert "SH1" in {f.rule for f in evaluate(coop(), rules, YEAR, AS_OF).flags}
    data["rules"]["SH1"] = {"enabled": False}
    assert "SH1" not in {r.code for r in parse_rules(data)}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"SH9": {}}, "SH9: unknown rule"),
        ({"SH1": {"params": {"min_members": "five"}}}, "SH1.min_members"),
        ({"SH1": {"params": {"min_members": -1}}}, "SH1.min_members"),
        ({"SH1": {"params": {"colour": 1}}}, "unknown parameter colour"),
        ({"SH2": {"params": {"accept_suspension": "yes"}}}, "SH2.accept_suspension"),
        ({"DO4": {"params": {"deadline": "13-40"}}}, "DO4.deadline"),
        ({"DO1": {"kind": "shell"}}, "DO1: kind must be dormant"),
        ({"DO1": {"enabled": "no"}}, "DO1.enabled"),
    ],
)
def test_invalid_rule_sets_are_refused_with_a_clear_message(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleSetError) as err:
        parse_rules({"rules": rules})
    assert any(message in m for m in err.value.messages), err.value.messages
    with pytest.raises(RuleSetError):
        parse_rules({"nothing": 1})


def test_the_engine_explains_itself() -> None:
    result = evaluate(coop({YEAR: _no_business()}), RULESET, YEAR, AS_OF)
    lines = result.explain()
    assert any(line.startswith("DO1 (dormant): no revenue") for line in lines)
    assert any(line.startswith("SH3: not evaluated") for line in lines)


# ----------------------------------------------------------------------------------------------------
# what a run relies on: the years the rules read, database 0/1 for yes/no, and properties


def test_years_read_are_the_years_the_rules_look_at() -> None:
    # 2024 report due 2025-06-30: passed on AS_OF; SH2 and SH7 read two years
    assert years_read(RULESET, YEAR, AS_OF) == [YEAR, YEAR - 1]
    # before the 2024 report is due, SH7 and DO4 read 2023 and 2022
    assert years_read(RULESET, YEAR, dt.date(2025, 3, 1)) == [YEAR, YEAR - 1, YEAR - 2]
    longer = parse_rules({"rules": {"SH2": {"params": {"years": 3}}}})
    assert years_read(longer, YEAR, AS_OF) == [YEAR, YEAR - 1, YEAR - 2]
    markers_only = parse_rules({"rules": {"SH4": {}, "DO2": {}, "SH3": {}}})
    assert years_read(markers_only, YEAR, AS_OF) == []


def test_yes_no_as_the_database_gives_them() -> None:
    """SQLite drivers may give 0/1 for yes/no: the same flags, and real booleans in the evidence."""
    as_bools = coop(
        {YEAR: {"assembly_held": False, "financial_statements": False, "annual_report_filed": False}},
        on_abnormal_list=True,
    )
    as_ints = coop(
        {YEAR: {"assembly_held": 0, "financial_statements": 0, "annual_report_filed": 0}},
        on_abnormal_list=1,
    )
    one, other = evaluate(as_bools, RULESET, YEAR, AS_OF), evaluate(as_ints, RULESET, YEAR, AS_OF)
    assert [(f.rule, f.evidence) for f in one.flags] == [(f.rule, f.evidence) for f in other.flags]
    do4 = next(f for f in other.flags if f.rule == "DO4")
    assert do4.evidence["filed"] is False


YEAR_FIELDS = (
    "members",
    "farmer_members",
    "revenue",
    "member_transactions",
    "assembly_held",
    "financial_statements",
    "annual_report_filed",
    "annual_report_date",
)
money = st.one_of(st.none(), st.just(Decimal(0)), st.decimals(min_value=1, max_value=10**7, places=2))
yes_no = st.one_of(st.none(), st.booleans())


@st.composite
def year_facts(draw: Any, year: int) -> YearFacts:
    return YearFacts(
        year=year,
        members=draw(st.one_of(st.none(), st.integers(0, 50))),
        farmer_members=draw(st.one_of(st.none(), st.integers(0, 50))),
        revenue=draw(money),
        member_transactions=draw(money),
        assembly_held=draw(yes_no),
        financial_statements=draw(yes_no),
        annual_report_filed=draw(yes_no),
        annual_report_date=draw(
            st.one_of(st.none(), st.dates(dt.date(year + 1, 1, 1), dt.date(year + 1, 12, 31)))
        ),
    )


@st.composite
def any_coop(draw: Any) -> CoopFacts:
    years = {y: draw(year_facts(y)) for y in (YEAR - 2, YEAR - 1, YEAR) if draw(st.booleans()) or y == YEAR}
    days = draw(st.lists(st.dates(dt.date(2019, 1, 1), AS_OF), max_size=4, unique=True))
    return CoopFacts(
        cooperative_id=1,
        registration_date=dt.date(2015, 3, 1),
        operating_status=draw(st.sampled_from(["operating", "suspended", "dormant"])),
        suspended_since=draw(st.one_of(st.none(), st.dates(dt.date(2018, 1, 1), AS_OF))),
        on_abnormal_list=draw(st.booleans()),
        markers={
            name: draw(st.booleans()) for name in ("subsidy_fraud", "illegal_finance", "serious_violation")
        },
        years=years,
        observations=tuple(Observation(d, draw(st.booleans()), "visit") for d in days),
    )


def _flags(facts: CoopFacts) -> set[str]:
    return {f.rule for f in evaluate(facts, RULESET, YEAR, AS_OF).flags}


@settings(max_examples=150, deadline=None)
@given(any_coop(), st.data())
def test_erasing_a_reported_fact_never_raises_a_flag(facts: CoopFacts, data: Any) -> None:
    """Missing data never raises a flag: a fact made "not reported" can remove flags, never add one."""
    year = data.draw(st.sampled_from(sorted(facts.years)))
    name = data.draw(st.sampled_from(YEAR_FIELDS))
    erased = replace(facts, years={**facts.years, year: replace(facts.years[year], **{name: None})})
    assert _flags(erased) <= _flags(facts)


@settings(max_examples=150, deadline=None)
@given(any_coop(), st.randoms(use_true_random=False))
def test_the_order_of_observations_and_of_rules_does_not_matter(facts: CoopFacts, rnd: Any) -> None:
    """The engine sorts observations by date (distinct dates here), and rules are independent."""
    shuffled = list(facts.observations)
    rnd.shuffle(shuffled)
    rules = list(RULESET)
    rnd.shuffle(rules)
    one = evaluate(facts, RULESET, YEAR, AS_OF)
    other = evaluate(replace(facts, observations=tuple(shuffled)), rules, YEAR, AS_OF)
    assert sorted((f.rule, repr(f.evidence)) for f in one.flags) == sorted(
        (f.rule, repr(f.evidence)) for f in other.flags
    )
    assert one.not_evaluated == other.not_evaluated


@settings(max_examples=150, deadline=None)
@given(any_coop(), st.sets(st.sampled_from(sorted(RULES))))
def test_screen_evaluates_only_the_rules_asked(facts: CoopFacts, asked: set[str]) -> None:
    """screen(only=…) (a run's candidates) gives evaluate()'s flags of the rules asked, in rule order."""
    every = [(f.rule, f.evidence, f.explanation) for f in evaluate(facts, RULESET, YEAR, AS_OF).flags]
    found = [
        (rule, evidence, text) for _id, rule, _kind, evidence, text in screen([facts], RULESET, YEAR, AS_OF)
    ]
    assert found == every
    only = screen([facts], RULESET, YEAR, AS_OF, only={facts.cooperative_id: asked})
    assert [(rule, evidence, text) for _id, rule, _kind, evidence, text in only] == [
        flag for flag in every if flag[0] in asked
    ]
