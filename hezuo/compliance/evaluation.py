"""Judging checklist items from the data, with the rating engine's items (hezuo.rating.engine.COMPLIANCE).

`judge(key, inp, info)` is pure: a CoopInput (hezuo.rating.adapter.input_for builds it from the ORM) in,
(result, detail) out. The result is pass / fail / unknown (facts missing: the detail names them) /
n/a (the item does not apply) / counselor (the data cannot judge it: not in the engine, or the checklist
marks it not evaluable). The detail also carries the facts the engine read and the changes that would
pass the item (the engine's `fix`), so a counselor sees why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hezuo.rating.engine import COMPLIANCE, CoopInput, Missing

PASS, FAIL, UNKNOWN, NOT_APPLICABLE, COUNSELOR = "pass", "fail", "unknown", "n/a", "counselor"
Judgement = tuple[str, dict[str, Any]]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _facts_seen(inp: CoopInput, names: list[str]) -> dict[str, Any]:
    facts = inp.facts or {}
    seen: dict[str, Any] = {}
    for name in names:
        if name in facts:
            seen[name] = _plain(facts.get(name))
        elif hasattr(inp, name):
            seen[name] = _plain(getattr(inp, name))
    return seen


def _credit_code_warnings(inp: CoopInput) -> list[str]:
    from hezuo.registry.creditcode import check

    result = check(inp.credit_code or "")
    return [str(m) for m in (*result.errors, *result.warnings)]


def judge(key: str, inp: CoopInput, info: Mapping[str, Any] | None = None) -> Judgement:
    """One item judged from the data: (pass|fail|unknown|n/a|counselor, detail)."""
    info = info or {}
    item = COMPLIANCE.get(key)
    if item is None or not info.get("evaluable", True):
        return COUNSELOR, {}
    ok, missing = item.fn(inp, inp.facts)
    detail: dict[str, Any] = {}
    if key == "K23" and ok is True:
        # the engine checks the "93" prefix; the check character is checked here (GB 32100-2015)
        warnings = _credit_code_warnings(inp)
        if warnings:
            ok = False
            detail["messages"] = warnings
    if ok is None:
        if isinstance(missing, Missing) and missing.fields:
            names = list(dict.fromkeys(missing.fields))
            detail["missing"] = names
            return UNKNOWN, detail
        return NOT_APPLICABLE, detail
    if ok:
        return PASS, detail
    try:
        fix = item.fix(inp)
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        fix = None
    if fix:
        detail["needed"] = {k: _plain(v) for k, v in fix.items()}
        detail["seen"] = _facts_seen(inp, list(fix))
    if key == "K23" and "messages" not in detail:
        detail["messages"] = _credit_code_warnings(inp) or [inp.credit_code]
    return FAIL, detail


def judge_all(inp: CoopInput, items: Mapping[str, Mapping[str, Any]]) -> dict[str, Judgement]:
    return {key: judge(key, inp, info) for key, info in items.items()}


def evaluate(cooperative: Any, year: int, items: Mapping[str, Mapping[str, Any]]) -> dict[str, Judgement]:
    """Every item of a checklist judged from the cooperative's facts and status for the year."""
    from hezuo.rating.adapter import input_for

    return judge_all(input_for(cooperative, year), items)
