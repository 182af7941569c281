"""The pure engine under the shipped provisional rubric: every indicator tier, every gate, missing data,
and "what it takes"."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from hezuo.rating.engine import (
    MEASURES,
    CoopInput,
    EvalContext,
    apply_changes,
    evaluate,
    evaluate_indicator,
    what_it_takes,
)

from .conftest import TOP_FACTS, YEAR, top_input

# how to give each measure a value (fact changes), for the tier tests
SETTERS: dict[str, Any] = {
    "member_structure": lambda v: {"members": 100, "farmer_members": 90 if v else 70, "entity_members": 2},
    "assembly_level": lambda v: {
        0: {"assembly_held": False},
        1: {"assembly_held": True, "assembly_quorum_met": True, "minutes_signed": False},
        2: {"assembly_held": True, "assembly_quorum_met": True, "minutes_signed": True},
    }[v],
    "organs_ok": lambda v: {"organs_in_place": bool(v), "officer_conflict": False},
    "member_register": lambda v: {"member_register_filed": bool(v)},
    "member_account_share": lambda v: {"members": 200, "members_with_accounts": round(v * 200)},
    "accounting_ok": lambda v: {
        "accounting_compliant": bool(v),
        "separate_accounts": True,
        "documents_available": True,
    },
    "annual_report_on_time": lambda v: {
        "annual_report_filed": True,
        "annual_report_date": dt.date(YEAR + 1, 4, 1) if v else dt.date(YEAR + 1, 9, 1),
    },
    "surplus_return_share": lambda v: {
        "distributable_surplus": 100_000.0,
        "surplus_returned": round(v * 100_000, 2),
    },
    "extra_vote_share": lambda v: {"members": 200, "extra_votes": round(v * 200)},
    "subsidy_quantified": lambda v: {"subsidy_received": True, "subsidy_quantified": bool(v)},
    "member_trade_share": lambda v: {
        "member_transactions": round(v * 1_000_000, 2),
        "nonmember_transactions": round((1 - v) * 1_000_000, 2),
    },
    "member_households": lambda v: {"member_households": v},
    "driven_households": lambda v: {"nonmember_households": v},
    "unified_service_rate": lambda v: {"unified_purchase_rate": v * 100, "unified_sale_rate": v * 100 + 5},
    "income_uplift": lambda v: {"income_uplift": v * 100},
    "revenue": lambda v: {"revenue": v},
    "capital_assets": lambda v: {"member_capital": v, "fixed_assets": v / 2},
    "traceability": lambda v: {"has_traceability": bool(v)},
    "trademark": lambda v: {"has_brand": bool(v)},
    "certification": lambda v: {"cert_green": bool(v), "cert_organic": False, "cert_geographic": False},
    "title_rank": lambda v: {"title_rank": int(v)},
}


def below(measure: str, threshold: float) -> float:
    m = MEASURES[measure]
    if m.kind in ("bool", "level"):
        return threshold - 1
    step = {"share": 0.01, "count": 1, "money": 1}[m.kind]
    return threshold + step if m.better == "lower" else threshold - step


def tier_cases(compiled: Any) -> list[tuple[str, int, bool]]:
    cases = []
    for ind in compiled.indicators:
        for index in range(len(ind.tiers)):
            cases.append((ind.key, index, False))
        for index in range(len(ind.relaxed_tiers or ())):
            cases.append((ind.key, index, True))
    return cases


def _compiled() -> Any:
    from hezuo.rating.engine import compile_rubric
    from hezuo.rating.rubric import DEFAULT_RUBRIC_FILE, content_hash, load_document

    _meta, definition = load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))
    return compile_rubric(definition, content_hash(definition))


@pytest.mark.parametrize(("key", "index", "relaxed"), tier_cases(_compiled()))
def test_every_indicator_tier_is_reached_at_its_threshold_and_not_below(
    compiled: Any, key: str, index: int, relaxed: bool
) -> None:
    ind = compiled.indicator(key)
    tiers = ind.relaxed_tiers if relaxed else ind.tiers
    threshold, points = tiers[index]
    industry = "machinery" if relaxed else "fruit"
    setter = SETTERS[ind.measure.name]
    at = apply_changes(
        top_input(industry=industry),
        setter(type(threshold)(threshold) if ind.measure.kind in ("share", "money") else int(threshold)),
    )
    result = evaluate_indicator(ind, EvalContext(at, compiled))
    assert (result.points, result.tier, result.relaxed) == (points, index, relaxed), result
    low = below(ind.measure.name, threshold)
    under = apply_changes(
        top_input(industry=industry), setter(low if ind.measure.kind in ("share", "money") else int(low))
    )
    result = evaluate_indicator(ind, EvalContext(under, compiled))
    expected = tiers[index - 1][1] if index else 0.0
    assert (result.points, result.tier) == (expected, index - 1), result
    assert result.value is not None and not result.missing


def test_top_facts_score_every_point_and_five_stars(compiled: Any) -> None:
    result = evaluate(top_input(), compiled)
    assert result.score == compiled.max_score == 100
    assert result.stars == 5 and result.complete
    assert all(g.passed for g in result.gates)
    assert result.capped_by == []


def test_no_surplus_scores_the_loss_plan_instead(compiled: Any) -> None:
    ind = compiled.indicator("B1")
    for approved, points in ((True, 5.0), (False, 0.0)):
        inp = top_input(distributable_surplus=-20_000.0, surplus_returned=0.0, loss_plan_approved=approved)
        result = evaluate_indicator(ind, EvalContext(inp, compiled))
        assert (result.points, result.alternative) == (points, True)
    # and the G3 surplus check does not apply without a surplus
    result = evaluate(
        top_input(distributable_surplus=-20_000.0, surplus_returned=0.0, loss_plan_approved=True), compiled
    )
    g3 = next(g for g in result.gates if g.key == "G3")
    assert g3.passed is True


def test_every_indicator_reports_missing_facts_and_never_counts_zero(compiled: Any) -> None:
    for ind in compiled.indicators:
        facts = {k: v for k, v in TOP_FACTS.items() if k not in ind.measure.needs}
        inp = dataclasses.replace(top_input(), facts=facts)
        result = evaluate_indicator(ind, EvalContext(inp, compiled))
        if set(ind.measure.needs) & set(TOP_FACTS):
            assert result.missing, ind.key
            assert set(result.missing) <= set(ind.measure.needs)
            full = evaluate(inp, compiled)
            assert full.score_max - full.score >= ind.max_points
            assert set(result.missing) <= set(full.missing)


def test_missing_facts_leave_the_stars_undecided_when_they_could_matter(compiled: Any) -> None:
    inp = top_input(income_uplift=None)  # 5 points: 95 without it, still 5 stars? floors 90 → decided
    result = evaluate(inp, compiled)
    assert result.stars == 5 and result.missing == ("income_uplift",)
    inp = top_input(income_uplift=None, revenue=600_000.0)  # 85 + up to 5: 4★ or 5★
    result = evaluate(inp, compiled)
    assert result.stars is None
    assert (result.stars_low, result.stars_high) == (4, 5)
    assert "income_uplift" in result.missing


def test_no_facts_at_all_is_missing_everything_but_a_failed_g0_still_decides(compiled: Any) -> None:
    inp = CoopInput(
        cooperative_id=1,
        year=YEAR,
        credit_code="93330226MA2H00006U",
        registration_date=dt.date(2015, 1, 1),
        facts=None,
    )
    result = evaluate(inp, compiled)
    assert result.stars is None and result.score == 0 and "members" in result.missing
    revoked = apply_changes(inp, {"operating_status": "revoked"})
    assert evaluate(revoked, compiled).stars == 0


GATE_CASES = [
    # gate, changes, highest stars possible
    ("G0", {"operating_status": "revoked"}, 0),
    ("G0", {"operating_status": "deregistered"}, 0),
    ("G0", {"operating_status": "shell"}, 0),
    ("G0", {"serious_violation": True}, 0),
    ("G0", {"credit_code": "91330226MA2H00006U"}, 0),
    ("G1", {"operating_status": "dormant"}, 1),
    ("G1", {"operating_status": "suspended", "suspended_since": dt.date(YEAR, 6, 1)}, 1),
    ("G2", {"registration_date": dt.date(YEAR, 6, 1)}, 1),
    ("G3", {"on_abnormal_list": True, "abnormal_listed_on": dt.date(YEAR, 7, 1)}, 2),
    ("G3", {"annual_report_date": dt.date(YEAR + 1, 8, 1)}, 2),
    ("G3", {"annual_report_filed": False, "annual_report_date": None}, 2),
    ("G3", {"farmer_members": 100}, 2),
    ("G3", {"entity_members": 20}, 2),
    ("G3", {"minutes_signed": False}, 2),
    ("G3", {"assembly_quorum_met": False}, 2),
    ("G3", {"members_with_accounts": 0}, 2),
    ("G3", {"surplus_returned": 150_000.0}, 2),
    ("G3", {"illegal_finance": True}, 2),
    ("G3", {"subsidy_fraud": True}, 2),
    ("G4", {"reserve_quantified": False}, 3),
    ("G4", {"internal_audit": False}, 3),
    ("G4", {"public_admin_member": True}, 3),
    ("G4", {"registration_date": dt.date(YEAR - 1, 3, 1)}, 3),
    ("G4", {"abnormal_listed_on": dt.date(YEAR - 1, 5, 1)}, 3),
    ("G5", {"title_rank": 0}, 4),
]


@pytest.mark.parametrize(("gate", "changes", "cap"), GATE_CASES)
def test_every_gate_caps_the_stars(compiled: Any, gate: str, changes: dict[str, Any], cap: int) -> None:
    result = evaluate(top_input(**changes), compiled)
    failed = {g.key for g in result.gates if g.passed is False}
    assert gate in failed, result.as_json()["gates"]
    assert result.stars is not None and result.stars <= cap
    if result.stars == cap:
        assert gate in result.capped_by


@pytest.mark.parametrize(("star", "floor"), [(1, 40), (2, 55), (3, 70), (4, 80), (5, 90)])
def test_star_floors(compiled: Any, star: int, floor: int) -> None:
    """With every gate passed, the stars follow the score floors exactly."""
    base = top_input()
    assert compiled.floors[star - 1] == floor
    # drop points that no gate needs: C2 (6), C3 (6), C4 (5), D1 (9), D2 (6), B4 (5), E1 (7)
    removable = [
        ("driven_households", {"nonmember_households": 0}, 6),
        ("unified", {"unified_purchase_rate": 0.0}, 6),
        ("income", {"income_uplift": 0.0}, 5),
        ("revenue", {"revenue": 0.0}, 9),
        ("capital", {"member_capital": 0.0, "fixed_assets": 0.0}, 6),
        ("trade", {"member_transactions": 0.0}, 5),
        ("trace", {"has_traceability": False}, 2),
        ("brand", {"has_brand": False}, 2),
        ("cert", {"cert_green": False}, 3),
        ("households", {"member_households": 0}, 8),
        ("C-B2", {"extra_votes": 200}, 3),
    ]
    score = 100
    inp = base
    for _name, changes, points in removable:
        if score - points < floor:
            continue
        inp = apply_changes(inp, changes)
        score -= points
    result = evaluate(inp, compiled)
    assert result.score == score
    expected = max(s for s, f in enumerate(compiled.floors, start=1) if score >= f)
    gates_ok = all(g.passed for g in result.gates if g.star <= expected)
    if gates_ok:
        assert result.stars == expected


def test_what_it_takes_names_the_gate_and_the_points(compiled: Any) -> None:
    """The issue's example: an assembly without signed minutes and 52% of the surplus returned."""
    inp = top_input(
        minutes_signed=False,
        surplus_returned=156_000.0,
        revenue=600_000.0,
        nonmember_households=150,
        income_uplift=15.0,
        has_brand=False,
        cert_green=False,
    )
    result = evaluate(inp, compiled)
    assert result.stars == 2
    advice = what_it_takes(inp, compiled, result)
    assert advice.target == 3 and advice.reachable
    keys = [(i.kind, i.key, i.check) for i in advice.items]
    assert ("gate", "G3", "indicator_points") in keys
    assert ("gate", "G3", "surplus_return_min") in keys
    after = inp
    for item in advice.items:
        after = apply_changes(after, item.changes)
    assert evaluate(after, compiled).stars >= 3
    assembly = next(i for i in advice.items if i.check == "indicator_points")
    assert assembly.gain == 3  # A2 from 2 to 5 points
    assert assembly.changes["minutes_signed"] is True


def test_what_it_takes_reports_what_changing_facts_cannot_fix(compiled: Any) -> None:
    advice = what_it_takes(top_input(registration_date=dt.date(YEAR, 6, 1)), compiled)
    assert advice.current == 1 and advice.target == 2 and not advice.reachable
    assert ("G2", "registered_years") in advice.blocked
    assert what_it_takes(top_input(), compiled).target is None


def test_what_it_takes_words(compiled: Any, definition: dict[str, Any]) -> None:
    from hezuo.rating.describe import advice_lines

    inp = top_input(minutes_signed=False, surplus_returned=156_000.0)
    advice = what_it_takes(inp, compiled).as_json()
    text = "; ".join(advice_lines(advice, definition))
    assert "hold the annual general assembly with a two-thirds quorum and signed minutes" in text
    assert "+3" in text and "passes gate" in text
    assert "return at least 60% of the distributable surplus by transactions" in text


def test_results_are_json_safe_and_compact(compiled: Any) -> None:
    import json

    data = evaluate(top_input(), compiled).as_json()
    text = json.dumps(data)
    assert len(text) < 6000
    assert json.loads(text)["stars"] == 5


def test_what_it_takes_says_which_measure_a_gate_needs_raised(
    compiled: Any, definition: dict[str, Any]
) -> None:
    """A gate that needs an indicator's points (G3: member accounts, A5) is advised as the measure to raise,
    from its value to the one that scores, not by the indicator's name alone."""
    from hezuo.rating.describe import advice_lines

    members = TOP_FACTS["members"]
    inp = top_input(members_with_accounts=round(0.59 * members))
    advice = what_it_takes(inp, compiled)
    item = next(i for i in advice.items if i.check == "indicator_points")
    assert (item.key, item.value_from, item.value_to) == (
        "G3",
        round(round(0.59 * members) / members, 6),
        0.8,
    )
    text = "; ".join(advice_lines(advice.as_json(), definition))
    assert "raise the share of members with a member account from 59% to 80% (A5)" in text, text
    after = apply_changes(inp, item.changes)
    assert evaluate(after, compiled).stars >= 3


def test_what_a_gate_check_found_reads_in_words() -> None:
    from django.utils import translation

    from hezuo.rating.describe import check_value_text
    from hezuo.registry.choices import OperatingStatus

    assert check_value_text("not_abnormal_listed", True) == "Yes"
    assert check_value_text("not_shell", "shell") == str(OperatingStatus("shell").label)
    assert check_value_text("surplus_return_min", 0.523) == "52.3%"
    assert check_value_text("registered_years", 1) == "1 year"
    assert check_value_text("indicator_points", 2) == "2 points"
    with translation.override("zh-hans"):
        assert check_value_text("not_abnormal_listed", False) == "否"
        assert check_value_text("not_shell", "shell") == str(OperatingStatus("shell").label)
