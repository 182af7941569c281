"""Hypothesis properties of the engine: deterministic; improving any single fact never lowers the stars; a
failed gate always caps the stars; applying "what it takes" reaches the promised star."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hezuo.rating.engine import CoopInput, apply_changes, compile_rubric, evaluate, what_it_takes
from hezuo.rating.rubric import DEFAULT_RUBRIC_FILE, content_hash, load_document

from .conftest import YEAR

_meta, DEFINITION = load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))
RUBRIC = compile_rubric(DEFINITION, content_hash(DEFINITION))
SETTINGS = settings(max_examples=150, deadline=None)

GOOD_FLAGS = (
    "assembly_quorum_met",
    "minutes_signed",
    "organs_in_place",
    "member_register_filed",
    "accounting_compliant",
    "separate_accounts",
    "documents_available",
    "reserve_quantified",
    "internal_audit",
    "subsidy_quantified",
    "financial_statements",
    "loss_plan_approved",
)
BAD_FLAGS = ("officer_conflict", "public_admin_member")
money = st.integers(0, 8_000_000).map(float)


@st.composite
def inputs(draw: Any) -> CoopInput:
    members = draw(st.integers(1, 400))
    surplus = draw(st.sampled_from([-10_000.0, 0.0]) | st.integers(1_000, 500_000).map(float))
    returned = float(draw(st.integers(0, int(max(surplus, 0)))))
    filed = draw(st.booleans())
    facts: dict[str, Any] = {
        "members": members,
        "farmer_members": draw(st.integers(0, members)),
        "entity_members": draw(st.integers(0, members)),
        "members_with_accounts": draw(st.integers(0, members)),
        "extra_votes": draw(st.integers(0, members)),
        "member_households": draw(st.integers(0, 400)),
        "nonmember_households": draw(st.integers(0, 2000)),
        "revenue": draw(money),
        "fixed_assets": draw(money),
        "member_capital": draw(money),
        "distributable_surplus": surplus,
        "surplus_returned": returned,
        "member_transactions": draw(money),
        "nonmember_transactions": draw(money),
        "unified_purchase_rate": float(draw(st.integers(0, 100))),
        "unified_sale_rate": float(draw(st.integers(0, 100))),
        "income_uplift": float(draw(st.integers(-20, 60))),
        "subsidy_received": draw(st.booleans()),
        "assembly_held": draw(st.booleans()),
        "annual_report_filed": filed,
        "annual_report_date": dt.date(YEAR + 1, draw(st.integers(1, 12)), 15) if filed else None,
    }
    for name in GOOD_FLAGS + BAD_FLAGS:
        facts[name] = draw(st.booleans())
    return CoopInput(
        cooperative_id=1,
        year=YEAR,
        credit_code=draw(st.sampled_from(["93330226MA2H00006U"] * 9 + ["91330226MA2H00006U"])),
        registration_date=dt.date(draw(st.integers(2008, YEAR)), draw(st.integers(1, 12)), 1),
        industry=draw(st.sampled_from(["fruit", "tea", "machinery", "forestry"])),
        operating_status=draw(
            st.sampled_from(["operating"] * 6 + ["suspended", "dormant", "shell", "revoked"])
        ),
        suspended_since=dt.date(YEAR - draw(st.integers(0, 5)), 1, 1),
        on_abnormal_list=draw(st.booleans()),
        abnormal_listed_on=draw(st.none() | st.integers(YEAR - 5, YEAR).map(lambda y: dt.date(y, 3, 1))),
        serious_violation=draw(st.booleans()),
        illegal_finance=draw(st.booleans()),
        subsidy_fraud=draw(st.booleans()),
        has_brand=draw(st.booleans()),
        cert_green=draw(st.booleans()),
        has_traceability=draw(st.booleans()),
        title_rank=draw(st.integers(0, 4)),
        facts=facts,
        previous={"revenue": draw(money), "member_transactions": draw(money)},
    )


def _f(inp: CoopInput, name: str) -> Any:
    return (inp.facts or {})[name]


# every single-fact improvement: name -> (input -> changes)
IMPROVEMENTS: dict[str, Callable[[CoopInput], dict[str, Any]]] = {
    "farmer_members": lambda i: {"farmer_members": min(_f(i, "members"), _f(i, "farmer_members") + 7)},
    "entity_members": lambda i: {"entity_members": max(0, _f(i, "entity_members") - 3)},
    "members_with_accounts": lambda i: {
        "members_with_accounts": min(_f(i, "members"), _f(i, "members_with_accounts") + 9)
    },
    "extra_votes": lambda i: {"extra_votes": max(0, _f(i, "extra_votes") - 5)},
    "member_households": lambda i: {"member_households": _f(i, "member_households") + 40},
    "nonmember_households": lambda i: {"nonmember_households": _f(i, "nonmember_households") + 300},
    "revenue": lambda i: {"revenue": _f(i, "revenue") * 2 + 100_000},
    "fixed_assets": lambda i: {"fixed_assets": _f(i, "fixed_assets") * 2 + 100_000},
    "member_capital": lambda i: {"member_capital": _f(i, "member_capital") * 2 + 100_000},
    "surplus_returned": lambda i: {
        "surplus_returned": max(0.0, min(_f(i, "distributable_surplus"), _f(i, "surplus_returned") + 20_000))
    },
    "member_transactions": lambda i: {"member_transactions": _f(i, "member_transactions") * 2 + 50_000},
    "unified_purchase_rate": lambda i: {
        "unified_purchase_rate": min(100.0, _f(i, "unified_purchase_rate") + 25)
    },
    "unified_sale_rate": lambda i: {"unified_sale_rate": min(100.0, _f(i, "unified_sale_rate") + 25)},
    "income_uplift": lambda i: {"income_uplift": _f(i, "income_uplift") + 12},
    "assembly_held": lambda i: {"assembly_held": True},
    "annual_report": lambda i: {"annual_report_filed": True, "annual_report_date": dt.date(YEAR + 1, 4, 1)},
    **{name: (lambda i, n=name: {n: True}) for name in GOOD_FLAGS},
    **{name: (lambda i, n=name: {n: False}) for name in BAD_FLAGS},
    "on_abnormal_list": lambda i: {"on_abnormal_list": False},
    "serious_violation": lambda i: {"serious_violation": False},
    "illegal_finance": lambda i: {"illegal_finance": False},
    "subsidy_fraud": lambda i: {"subsidy_fraud": False},
    "operating_status": lambda i: (
        {"operating_status": "operating"} if i.operating_status in ("shell", "dormant", "suspended") else {}
    ),
    "has_brand": lambda i: {"has_brand": True},
    "cert_green": lambda i: {"cert_green": True},
    "has_traceability": lambda i: {"has_traceability": True},
    "title_rank": lambda i: {"title_rank": min(4, i.title_rank + 1)},
    "registration_date": lambda i: {"registration_date": i.registration_date - dt.timedelta(days=400)},
}


@SETTINGS
@given(inputs())
def test_the_same_input_always_gives_the_same_result(inp: CoopInput) -> None:
    first = evaluate(inp, RUBRIC).as_json()
    again = evaluate(inp, compile_rubric(DEFINITION)).as_json()  # freshly compiled, no cache
    assert first == again
    assert first["stars"] is not None  # complete facts always decide the stars


@SETTINGS
@given(inputs(), st.sampled_from(sorted(IMPROVEMENTS)))
def test_improving_any_single_fact_never_lowers_the_stars(inp: CoopInput, name: str) -> None:
    before = evaluate(inp, RUBRIC)
    after = evaluate(apply_changes(inp, IMPROVEMENTS[name](inp)), RUBRIC)
    assert after.stars >= before.stars, (name, before.as_json(), after.as_json())
    assert after.score >= before.score, name


@SETTINGS
@given(inputs())
def test_a_failed_gate_always_caps_the_stars(inp: CoopInput) -> None:
    result = evaluate(inp, RUBRIC)
    for gate in result.gates:
        if gate.passed is False:
            assert result.stars < gate.star, (gate.key, result.stars)


@SETTINGS
@given(inputs())
def test_applying_what_it_takes_reaches_the_promised_star(inp: CoopInput) -> None:
    result = evaluate(inp, RUBRIC)
    advice = what_it_takes(inp, RUBRIC, result)
    if advice.target is None:
        assert result.stars == RUBRIC.top_star
        return
    assert advice.target == result.stars + 1
    if not advice.reachable:
        return
    after = inp
    for item in advice.items:
        after = apply_changes(after, item.changes)
    assert evaluate(after, RUBRIC).stars >= advice.target
    # smallest: leaving out any single indicator step misses the target
    for skipped in [i for i in advice.items if i.kind == "indicator"]:
        partial = inp
        for item in advice.items:
            if item is not skipped:
                partial = apply_changes(partial, item.changes)
        assert evaluate(partial, RUBRIC).stars < advice.target


@SETTINGS
@given(inputs())
def test_missing_any_fact_never_changes_a_decided_star_count_wrongly(inp: CoopInput) -> None:
    """With one fact missing, the stars are either undecided or the same as with the fact."""
    full = evaluate(inp, RUBRIC)
    for name in list(inp.facts or {})[:12]:
        facts = dict(inp.facts or {})
        facts[name] = None
        partial = evaluate(_with_facts(inp, facts), RUBRIC)
        assert partial.stars_low <= full.stars <= partial.stars_high
        if partial.stars is not None:
            assert partial.stars == full.stars


def _with_facts(inp: CoopInput, facts: dict[str, Any]) -> CoopInput:
    import dataclasses

    return dataclasses.replace(inp, facts=facts)
