"""Judging checklist items from the data, on hand-made inputs (pure: no database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hezuo.compliance import evaluation as ev
from hezuo.compliance.checklist import DEFAULT_CHECKLIST, read_file
from hezuo.rating.engine import CoopInput
from hezuo.registry.creditcode import make_code

from .helpers import good_facts

ITEMS = read_file(DEFAULT_CHECKLIST)["items"]
CODE = make_code("330226", "MA0000001")


def inp(code: str = CODE, status: str = "operating", **changes: Any) -> CoopInput:
    f = {k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in good_facts().items()}
    f.update(changes)
    kwargs: dict[str, Any] = {}
    if status == "suspended":
        kwargs = {"suspended_since": changes.pop("suspended_since", dt.date(2020, 1, 1))}
    return CoopInput(
        cooperative_id=1,
        year=2024,
        credit_code=code,
        registration_date=dt.date(2016, 5, 1),
        operating_status=status,
        facts=f,
        previous=None,
        **kwargs,
    )


def test_good_facts_pass_every_item_the_data_can_judge() -> None:
    results = ev.judge_all(inp(), ITEMS)
    assert {k for k, (r, _d) in results.items() if r == ev.COUNSELOR} == {"K08", "K22"}
    assert {r for k, (r, _d) in results.items() if k not in ("K08", "K22")} == {ev.PASS}


@pytest.mark.parametrize(
    ("key", "changes", "detail"),
    [
        ("K01", {"members": 4, "farmer_members": 4, "members_with_accounts": 4}, {"needed": {"members": 5}}),
        ("K02", {"farmer_members": 7}, {"needed": {"farmer_members": 8}, "seen": {"farmer_members": 7}}),
        ("K03", {"entity_members": 2}, {"needed": {"entity_members": 1}, "seen": {"entity_members": 2}}),
        ("K04", {"public_admin_member": True}, {"needed": {"public_admin_member": False}}),
        ("K07", {"assembly_quorum_met": False}, {}),
        ("K10", {"minutes_signed": False}, {"needed": {"minutes_signed": True}}),
        ("K17", {"surplus_returned": 5000.0}, {}),
        ("K18", {"internal_audit": False}, {}),
    ],
)
def test_an_item_fails_with_the_engine_detail(
    key: str, changes: dict[str, Any], detail: dict[str, Any]
) -> None:
    result, found = ev.judge(key, inp(**changes), ITEMS[key])
    assert result == ev.FAIL
    for name, value in detail.items():
        assert found[name] == value
    # with the facts as they should be, it passes
    assert ev.judge(key, inp(), ITEMS[key])[0] == ev.PASS


@pytest.mark.parametrize(
    ("key", "missing"),
    [
        ("K01", ["members"]),
        ("K04", ["public_admin_member"]),
        ("K07", ["assembly_held"]),
        ("K19", ["annual_report_filed"]),
    ],
)
def test_missing_facts_leave_the_item_unknown(key: str, missing: list[str]) -> None:
    result, detail = ev.judge(key, inp(**{m: None for m in missing}), ITEMS[key])
    assert result == ev.UNKNOWN and detail == {"missing": missing}


def test_no_facts_at_all() -> None:
    bare = CoopInput(cooperative_id=1, year=2024, credit_code=CODE, facts=None)
    results = ev.judge_all(bare, ITEMS)
    assert results["K01"] == (ev.UNKNOWN, {"missing": ["members"]})
    assert results["K21"][0] == ev.PASS and results["K23"][0] == ev.PASS  # status, not facts


def test_items_outside_the_engine_or_marked_not_evaluable_go_to_the_counselor() -> None:
    assert ev.judge("K08", inp(), ITEMS["K08"]) == (ev.COUNSELOR, {})
    assert ev.judge("K22", inp(), ITEMS["K22"]) == (ev.COUNSELOR, {})
    assert ev.judge("K01", inp(members=1), {**ITEMS["K01"], "evaluable": False}) == (ev.COUNSELOR, {})


def test_the_surplus_item_does_not_apply_without_a_surplus() -> None:
    result, _detail = ev.judge("K17", inp(distributable_surplus=0.0, surplus_returned=0.0), ITEMS["K17"])
    assert result in (ev.PASS, ev.NOT_APPLICABLE)


def test_suspension_over_three_years_fails() -> None:
    assert (
        ev.judge("K21", inp(status="suspended", suspended_since=dt.date(2023, 1, 1)), ITEMS["K21"])[0]
        == ev.PASS
    )
    assert (
        ev.judge("K21", inp(status="suspended", suspended_since=dt.date(2020, 1, 1)), ITEMS["K21"])[0]
        == ev.FAIL
    )


def test_credit_code_prefix_and_check_character() -> None:
    assert ev.judge("K23", inp(), ITEMS["K23"]) == (ev.PASS, {})
    wrong_check = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    result, detail = ev.judge("K23", inp(code=wrong_check), ITEMS["K23"])
    assert result == ev.FAIL and detail["messages"]
    other_prefix = make_code("330226", "MA0000001").replace("93", "91", 1)
    result, detail = ev.judge("K23", inp(code=other_prefix), ITEMS["K23"])
    assert result == ev.FAIL and detail["messages"]
