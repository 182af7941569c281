"""The rating engine: PURE functions (no ORM, no I/O). Facts and a compiled rubric in, an explained
result out.

    rubric = compile_rubric(definition)          # once per rubric version (cached by content hash)
    result = evaluate(inputs, rubric)            # score, each indicator's points and reason, gates, stars
    advice = what_it_takes(inputs, rubric)       # the smallest set of changes that reaches the next star

Missing data is never counted as zero. The engine computes the stars twice: with every missing value at its
worst (missing indicators score 0, checks on missing data fail) and at its best; when both agree the stars
are decided, otherwise the result has no stars and says which facts are needed.

The measures (how an indicator reads the facts), the gate checks and the compliance items are named
functions registered below; a rubric names them and gives their parameters and point tiers.

Speed (the annual rating rates 100,000 cooperatives): compile_rubric() turns each indicator into one closure
and lays the gates out flat; run() walks them and returns an Evaluation of plain tuples, which is also what
is stored (EXPLANATION_FORMAT) — evaluate() wraps it in named results for everything else. RowRater rates
the adapter's rows in batches (in worker processes for big runs): inputs, run(), the explanation's JSON and
the history snapshot's JSON, with no ORM and no intermediate objects. The annual rating uses row_rater():
the same with rate() generated once per rubric version (compiled.py), RowRater.rate staying the reference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gc
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# --------------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True, slots=True)
class CoopInput:
    """A cooperative's facts and status for one year, as plain values (built from the ORM by adapter.py).

    `facts` holds the yearly fact fields (numbers as floats, None = not reported); None means no facts
    were reported for the year at all. `previous` holds the year before's facts (for two-year rules).
    """

    cooperative_id: int
    year: int
    credit_code: str = ""
    registration_date: dt.date | None = None
    industry: str = ""
    operating_status: str = "operating"
    suspended_since: dt.date | None = None
    on_abnormal_list: bool = False
    abnormal_listed_on: dt.date | None = None
    serious_violation: bool = False
    illegal_finance: bool = False
    subsidy_fraud: bool = False
    has_brand: bool = False
    cert_green: bool = False
    cert_organic: bool = False
    cert_geographic: bool = False
    has_traceability: bool = False
    title_rank: int = 0
    facts: Mapping[str, Any] | None = None
    previous: Mapping[str, Any] | None = None


STATUS_FIELDS = frozenset(f.name for f in dataclasses.fields(CoopInput)) - {
    "facts",
    "previous",
    "cooperative_id",
    "year",
}


def apply_changes(inp: CoopInput, changes: Mapping[str, Any]) -> CoopInput:
    """The input with `changes` applied: status fields by name, anything else is a yearly fact."""
    status = {k: v for k, v in changes.items() if k in STATUS_FIELDS}
    facts = {k: v for k, v in changes.items() if k not in STATUS_FIELDS}
    if facts:
        status["facts"] = {**(inp.facts or {}), **facts}
    return dataclasses.replace(inp, **status)


# --------------------------------------------------------------------------------------------------------
# outcomes of measures and checks

NA = "n/a"  # a measure that does not apply (e.g. the surplus returned when there is no surplus)


@dataclass(frozen=True, slots=True)
class Missing:
    fields: tuple[str, ...]


def _missing(f: Mapping[str, Any] | None, names: tuple[str, ...]) -> Missing | None:
    if f is None:
        return Missing(tuple(names))
    for name in names:
        if f.get(name) is None:
            return Missing(tuple(n for n in names if f.get(n) is None))
    return None


def _share(num: float, den: float) -> float:
    return round(num / den, 6) if den else 0.0


def _ceil_cent(value: float) -> float:
    return math.ceil(round(value * 100, 6)) / 100


# --------------------------------------------------------------------------------------------------------
# measures: how an indicator reads the facts

MeasureFn = Callable[[CoopInput, Mapping[str, Any] | None, Mapping[str, Any]], Any]
AchieveFn = Callable[[CoopInput, float, Mapping[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Measure:
    name: str
    kind: str  # share (0..1), count, money (yuan), bool, level (small integer)
    needs: tuple[str, ...]
    fn: MeasureFn
    achieve: AchieveFn | None = None  # the fact changes that bring the value to (at least) a target
    better: str = "higher"  # or "lower"
    levels: int = 1  # for bool/level: the highest value


MEASURES: dict[str, Measure] = {}


def measure(
    name: str,
    kind: str,
    needs: Sequence[str],
    achieve: AchieveFn | None = None,
    better: str = "higher",
    levels: int = 1,
) -> Callable[[MeasureFn], MeasureFn]:
    def register(fn: MeasureFn) -> MeasureFn:
        MEASURES[name] = Measure(name, kind, tuple(needs), fn, achieve, better, levels)
        return fn

    return register


def _entity_cap(members: float, p: Mapping[str, Any]) -> float:
    if members <= p.get("small_size", 20):
        return float(p.get("small_entity_max", 1))
    return math.floor(members * p.get("entity_share_max", 0.05))


def _achieve_structure(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any] | None:
    f = inp.facts or {}
    members = f.get("members")
    if not members:
        return None
    farmers = max(f.get("farmer_members") or 0, math.ceil(round(members * p.get("farmer_share_min", 0.8), 6)))
    entities = min(f.get("entity_members") or 0, _entity_cap(members, p))
    return {"farmer_members": min(farmers, members), "entity_members": entities}


@measure("member_structure", "bool", ["members", "farmer_members", "entity_members"], _achieve_structure)
def m_member_structure(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    if f is not None:
        members, farmers, entities = f.get("members"), f.get("farmer_members"), f.get("entity_members")
        if members is not None and farmers is not None and entities is not None:
            if not members:
                return 0
            ok = round(farmers / members, 6) >= p.get("farmer_share_min", 0.8) and entities <= _entity_cap(
                members, p
            )
            return 1 if ok else 0
    return _missing(f, ("members", "farmer_members", "entity_members"))


@measure(
    "farmer_share",
    "share",
    ["members", "farmer_members"],
    lambda inp, t, p: (
        {"farmer_members": math.ceil(round(t * (inp.facts or {}).get("members", 0), 6))}
        if (inp.facts or {}).get("members")
        else None
    ),
)
def m_farmer_share(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    if f is not None:
        members, farmers = f.get("members"), f.get("farmer_members")
        if members is not None and farmers is not None:
            return round(farmers / members, 6) if members else 0.0
    return _missing(f, ("members", "farmer_members"))


def _achieve_assembly(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {"assembly_held": True}
    if target >= 2:
        changes.update(assembly_quorum_met=True, minutes_signed=True)
    return changes


@measure(
    "assembly_level",
    "level",
    ["assembly_held", "assembly_quorum_met", "minutes_signed"],
    _achieve_assembly,
    levels=2,
)
def m_assembly_level(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """0: no assembly; 1: held, quorum or signed minutes lacking; 2: held with quorum and signed minutes."""
    held = f.get("assembly_held") if f is not None else None
    if held is None:
        return Missing(("assembly_held",))
    if not held:
        return 0
    assert f is not None
    quorum, minutes = f.get("assembly_quorum_met"), f.get("minutes_signed")
    if quorum is False or minutes is False:
        return 1
    if quorum is None or minutes is None:
        return _missing(f, ("assembly_quorum_met", "minutes_signed"))
    return 2


def _flags_measure(name: str, good: Mapping[str, bool]) -> None:
    names = tuple(good)
    pairs = tuple(good.items())

    def fn(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
        if f is None:
            return Missing(names)
        met = 1
        for name, want in pairs:
            value = f.get(name)
            if value is None:
                return _missing(f, names)
            if bool(value) != want:
                met = 0
        return met

    fn.inline = ("flags", names, pairs)  # type: ignore[attr-defined]  # compiled.py writes it inline
    MEASURES[name] = Measure(name, "bool", names, fn, lambda inp, t, p: dict(good))


_flags_measure("organs_ok", {"organs_in_place": True, "officer_conflict": False})
_flags_measure("member_register", {"member_register_filed": True})
_flags_measure(
    "accounting_ok", {"accounting_compliant": True, "separate_accounts": True, "documents_available": True}
)
_flags_measure("loss_plan_approved", {"loss_plan_approved": True})
_flags_measure("internal_audit", {"internal_audit": True})


@measure(
    "member_account_share",
    "share",
    ["members", "members_with_accounts"],
    lambda inp, t, p: (
        {
            "members_with_accounts": min(
                math.ceil(round(t * (inp.facts or {}).get("members", 0), 6)),
                (inp.facts or {}).get("members", 0),
            )
        }
        if (inp.facts or {}).get("members")
        else None
    ),
)
def m_member_account_share(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    if f is not None:
        members, with_accounts = f.get("members"), f.get("members_with_accounts")
        if members is not None and with_accounts is not None:
            return round(with_accounts / members, 6) if members else 0.0
    return _missing(f, ("members", "members_with_accounts"))


def report_deadline(year: int, p: Mapping[str, Any]) -> dt.date:
    return _report_window(year, str(p.get("deadline", "06-30")))[1]


@functools.lru_cache(maxsize=256)
def _report_window(year: int, deadline: str) -> tuple[dt.date, dt.date]:
    """The days a report on `year` may be filed: 1 January of the next year to the deadline."""
    month, day = (int(x) for x in deadline.split("-"))
    return dt.date(year + 1, 1, 1), dt.date(year + 1, month, day)


def _report_on_time(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    filed = f.get("annual_report_filed") if f is not None else None
    if filed is None:
        return Missing(("annual_report_filed",))
    if not filed:
        return 0
    assert f is not None
    filed_on = f.get("annual_report_date")
    if filed_on is None:
        return Missing(("annual_report_date",))
    first, deadline = _report_window(inp.year, str(p.get("deadline", "06-30")))
    return 1 if first <= filed_on <= deadline else 0


@measure(
    "annual_report_on_time",
    "bool",
    ["annual_report_filed", "annual_report_date", "on_abnormal_list"],
    lambda inp, t, p: {
        "annual_report_filed": True,
        "annual_report_date": report_deadline(inp.year, p),
        "on_abnormal_list": False,
    },
)
def m_annual_report(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """Filed between 1 January and the deadline of the next year, and not currently abnormal-listed."""
    on_time = _report_on_time(inp, f, p)
    if on_time.__class__ is Missing:
        return on_time
    return 0 if inp.on_abnormal_list else on_time


def _achieve_surplus(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any] | None:
    surplus = (inp.facts or {}).get("distributable_surplus")
    if not surplus or surplus <= 0:
        return None
    returned = _ceil_cent(surplus * target)
    while round(returned / surplus, 6) < target:
        returned += 0.01
    return {"surplus_returned": round(min(returned, surplus), 2)}


@measure("surplus_return_share", "share", ["distributable_surplus", "surplus_returned"], _achieve_surplus)
def m_surplus_return(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """Surplus returned by transactions ÷ distributable surplus; does not apply without a surplus."""
    surplus = f.get("distributable_surplus") if f is not None else None
    if surplus is None:
        return Missing(("distributable_surplus",))
    if surplus <= 0:
        return NA
    assert f is not None
    returned = f.get("surplus_returned")
    if returned is None:
        return Missing(("surplus_returned",))
    return round(returned / surplus, 6)


@measure(
    "extra_vote_share",
    "share",
    ["members", "extra_votes"],
    lambda inp, t, p: (
        {"extra_votes": math.floor(round(t * (inp.facts or {}).get("members", 0), 6))}
        if (inp.facts or {}).get("members")
        else None
    ),
    better="lower",
)
def m_extra_votes(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """Extra votes ÷ basic votes (one per member); lower is better."""
    if f is not None:
        members, extra = f.get("members"), f.get("extra_votes")
        if members is not None and extra is not None:
            if not members:
                return 1.0 if extra else 0.0
            return round(extra / members, 6)
    return _missing(f, ("members", "extra_votes"))


@measure(
    "subsidy_quantified",
    "bool",
    ["subsidy_received", "subsidy_quantified"],
    lambda inp, t, p: {"subsidy_quantified": True},
)
def m_subsidy(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """Subsidy-formed assets quantified to member accounts; met when no subsidy was received."""
    received = f.get("subsidy_received") if f is not None else None
    if received is None:
        return Missing(("subsidy_received",))
    if not received:
        return 1
    assert f is not None
    quantified = f.get("subsidy_quantified")
    if quantified is None:
        return Missing(("subsidy_quantified",))
    return 1 if quantified else 0


def _achieve_trade(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any] | None:
    f = inp.facts or {}
    member, other = f.get("member_transactions"), f.get("nonmember_transactions")
    if member is None or other is None:
        return None
    if target >= 1:
        return {"nonmember_transactions": 0.0, "member_transactions": max(member, 1.0)}
    needed = _ceil_cent(target * other / (1 - target)) if other else 1.0
    while _share(needed, needed + other) < target:
        needed += 0.01
    return {"member_transactions": round(max(member, needed), 2)}


@measure("member_trade_share", "share", ["member_transactions", "nonmember_transactions"], _achieve_trade)
def m_member_trade(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    if f is not None:
        member, other = f.get("member_transactions"), f.get("nonmember_transactions")
        if member is not None and other is not None:
            total = member + other
            return round(member / total, 6) if total else 0.0
    return _missing(f, ("member_transactions", "nonmember_transactions"))


def _fact_measure(name: str, fact: str, kind: str, scale: float = 1.0) -> None:
    needs = (fact,)

    def fn(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
        value = f.get(fact) if f is not None else None
        if value is None:
            return Missing(needs)
        return round(value / scale, 6)

    fn.inline = ("fact", fact, scale)  # type: ignore[attr-defined]  # compiled.py writes it inline

    def achieve(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any]:
        value = target * scale
        return {fact: math.ceil(value) if kind == "count" else round(value, 2)}

    MEASURES[name] = Measure(name, kind, (fact,), fn, achieve)


_fact_measure("member_households", "member_households", "count")
_fact_measure("driven_households", "nonmember_households", "count")
_fact_measure("members", "members", "count")
_fact_measure("revenue", "revenue", "money")
_fact_measure("income_uplift", "income_uplift", "share", scale=100.0)


@measure(
    "unified_service_rate",
    "share",
    ["unified_purchase_rate", "unified_sale_rate"],
    lambda inp, t, p: {
        "unified_purchase_rate": max((inp.facts or {}).get("unified_purchase_rate") or 0, t * 100),
        "unified_sale_rate": max((inp.facts or {}).get("unified_sale_rate") or 0, t * 100),
    },
)
def m_unified(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """min(unified purchase rate, unified sale rate)."""
    if f is not None:
        purchase, sale = f.get("unified_purchase_rate"), f.get("unified_sale_rate")
        if purchase is not None and sale is not None:
            return round(min(purchase, sale) / 100, 6)
    return _missing(f, ("unified_purchase_rate", "unified_sale_rate"))


def _achieve_capital(inp: CoopInput, target: float, p: Mapping[str, Any]) -> dict[str, Any]:
    f = inp.facts or {}
    if (f.get("member_capital") or 0) >= (f.get("fixed_assets") or 0):
        return {"member_capital": round(target, 2)}
    return {"fixed_assets": round(target, 2)}


@measure("capital_assets", "money", ["member_capital", "fixed_assets"], _achieve_capital)
def m_capital(inp: CoopInput, f: Mapping[str, Any] | None, p: Mapping[str, Any]) -> Any:
    """max(member capital, fixed assets)."""
    if f is not None:
        capital, assets = f.get("member_capital"), f.get("fixed_assets")
        if capital is not None and assets is not None:
            return max(capital, assets)
    return _missing(f, ("member_capital", "fixed_assets"))


def _status_measure(name: str, attr: str, needs: tuple[str, ...] = ()) -> None:
    MEASURES[name] = Measure(
        name,
        "bool",
        needs or (attr,),
        lambda inp, f, p: 1 if getattr(inp, attr) else 0,
        lambda inp, t, p: {attr: True},
    )


_status_measure("traceability", "has_traceability")
_status_measure("trademark", "has_brand")
MEASURES["certification"] = Measure(
    "certification",
    "bool",
    ("cert_green", "cert_organic", "cert_geographic"),
    lambda inp, f, p: 1 if (inp.cert_green or inp.cert_organic or inp.cert_geographic) else 0,
    lambda inp, t, p: {"cert_green": True},
)
MEASURES["title_rank"] = Measure(
    "title_rank",
    "level",
    ("title_rank",),
    lambda inp, f, p: inp.title_rank,
    lambda inp, t, p: {"title_rank": max(inp.title_rank, int(t))},
    levels=4,
)


# --------------------------------------------------------------------------------------------------------
# compliance checklist items (criteria §7.5): pass (True) / fail (False) / missing / not applicable (None)

ItemResult = tuple[bool | None, Missing | None]


@dataclass(frozen=True)
class Item:
    key: str
    fn: Callable[[CoopInput, Mapping[str, Any] | None], ItemResult]
    fix: Callable[[CoopInput], dict[str, Any] | None]


COMPLIANCE: dict[str, Item] = {}

_P_DEFAULT: dict[str, Any] = {}


def _from_measure(name: str, params: Mapping[str, Any], at_least: float = 1.0) -> Callable[..., ItemResult]:
    m = MEASURES[name]
    measure_fn = m.fn
    lower = m.better == "lower"

    def fn(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
        value = measure_fn(inp, f, params)
        if value.__class__ is Missing:
            return None, value
        if value is NA:
            return True, None
        return (value <= at_least if lower else value >= at_least), None

    # what the item reads, for the row rater specialised per rubric (compiled.py writes it inline)
    fn.measure, fn.params, fn.at_least = m, params, at_least  # type: ignore[attr-defined]
    return fn


def _item(
    key: str,
    fn: Callable[[CoopInput, Mapping[str, Any] | None], ItemResult],
    fix: Callable[[CoopInput], dict[str, Any] | None],
) -> None:
    COMPLIANCE[key] = Item(key, fn, fix)


def _fact_true(name: str, want: bool = True) -> Callable[[CoopInput, Mapping[str, Any] | None], ItemResult]:
    needs = (name,)

    def fn(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
        value = f.get(name) if f is not None else None
        if value is None:
            return None, Missing(needs)
        return bool(value) == want, None

    fn.fact, fn.want = name, want  # type: ignore[attr-defined]  # c_compliance reads these items inline
    return fn


STRUCTURE = {"farmer_share_min": 0.8, "small_size": 20, "small_entity_max": 1, "entity_share_max": 0.05}


def _k01(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    members = f.get("members") if f is not None else None
    return (None, Missing(("members",))) if members is None else (members >= 5, None)


def _k03(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    if f is not None:
        members, entities = f.get("members"), f.get("entity_members")
        if members is not None and entities is not None:
            return entities <= _entity_cap(members, STRUCTURE), None
    return None, _missing(f, ("members", "entity_members"))


def _k07(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    """At least one member assembly in the year, with a quorum of two thirds."""
    held = f.get("assembly_held") if f is not None else None
    if held is None:
        return None, Missing(("assembly_held",))
    if not held:
        return False, None
    assert f is not None
    quorum = f.get("assembly_quorum_met")
    return (None, Missing(("assembly_quorum_met",))) if quorum is None else (bool(quorum), None)


_K17_SURPLUS: Callable[[CoopInput, Mapping[str, Any] | None], ItemResult]
_K17_SUBSIDY: Callable[[CoopInput, Mapping[str, Any] | None], ItemResult]


def _k17(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    a, miss_a = _K17_SURPLUS(inp, f)
    b, miss_b = _K17_SUBSIDY(inp, f)
    if a is False or b is False:
        return False, None
    if miss_a or miss_b:
        return None, Missing((miss_a.fields if miss_a else ()) + (miss_b.fields if miss_b else ()))
    return True, None


def _k20(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    """Business activity (revenue or member transactions) in at least one of the last 2 years."""
    missing: tuple[str, ...] = ()
    for facts in (f, inp.previous):
        if facts is None:
            continue
        revenue, trade = facts.get("revenue"), facts.get("member_transactions")
        if (revenue or 0) > 0 or (trade or 0) > 0:
            return True, None
        if revenue is None and trade is None:
            missing += ("revenue",)
    if f is None:
        return None, Missing(("revenue", "member_transactions"))
    return (None, Missing(missing)) if missing else (False, None)


def _k21(inp: CoopInput, f: Mapping[str, Any] | None) -> ItemResult:
    if inp.operating_status != "suspended":
        return True, None
    if inp.suspended_since is None:
        return None, Missing(("suspended_since",))
    return (dt.date(inp.year, 12, 31) - inp.suspended_since).days <= 3 * 365 + 1, None


def _achieving(name: str, target: float) -> Callable[[CoopInput], dict[str, Any] | None]:
    """An item's fix: the fact changes that bring the measure to `target`."""
    achieve = MEASURES[name].achieve
    assert achieve is not None, name
    return lambda inp: achieve(inp, target, {})


_K17_SURPLUS = _from_measure("surplus_return_share", {}, 0.6)
_K17_SUBSIDY = _from_measure("subsidy_quantified", {})
_item("K01", _k01, lambda inp: {"members": max(5, (inp.facts or {}).get("members") or 0)})
_item("K02", _from_measure("farmer_share", {}, 0.8), _achieving("farmer_share", 0.8))
_item(
    "K03", _k03, lambda inp: {"entity_members": _entity_cap((inp.facts or {}).get("members") or 0, STRUCTURE)}
)
_item("K04", _fact_true("public_admin_member", False), lambda inp: {"public_admin_member": False})
_item("K05", _fact_true("member_register_filed"), lambda inp: {"member_register_filed": True})
_item("K06", _from_measure("extra_vote_share", {}, 0.2), _achieving("extra_vote_share", 0.2))
_item("K07", _k07, lambda inp: {"assembly_held": True, "assembly_quorum_met": True})
_item("K09", _fact_true("organs_in_place"), lambda inp: {"organs_in_place": True})
_item("K10", _fact_true("minutes_signed"), lambda inp: {"minutes_signed": True})
_item("K11", _fact_true("officer_conflict", False), lambda inp: {"officer_conflict": False})
_item("K12", _fact_true("accounting_compliant"), lambda inp: {"accounting_compliant": True})
_item("K13", _fact_true("documents_available"), lambda inp: {"documents_available": True})
_item("K14", _fact_true("separate_accounts"), lambda inp: {"separate_accounts": True})
_item("K15", _fact_true("reserve_quantified"), lambda inp: {"reserve_quantified": True})
_item("K16", _from_measure("member_account_share", {}, 1.0), _achieving("member_account_share", 1.0))
_item("K17", _k17, lambda inp: {**(_achieve_surplus(inp, 0.6, {}) or {}), "subsidy_quantified": True})
_item("K18", _fact_true("internal_audit"), lambda inp: {"internal_audit": True})
_item("K19", _from_measure("annual_report_on_time", {}), _achieving("annual_report_on_time", 1))
_item("K20", _k20, lambda inp: {"revenue": max(1.0, (inp.facts or {}).get("revenue") or 0)})
_item("K21", _k21, lambda inp: None)
_item("K23", lambda inp, f: (inp.credit_code.startswith("93"), None), lambda inp: None)


# --------------------------------------------------------------------------------------------------------
# gate checks: pass (True) / fail (False) / missing (None), with the value found
#
# A check returns a plain tuple (ok, value found) or (ok, value found, missing facts): the hot loop reads
# it as it is and stores it as it is (see EXPLANATION_FORMAT); CheckOutcome names its parts for readers.

Outcome = tuple[Any, ...]  # (ok, value) or (ok, value, missing)


class CheckOutcome(NamedTuple):
    ok: bool | None
    value: Any = None
    missing: tuple[str, ...] = ()


CheckFn = Callable[[CoopInput, Mapping[str, Any], "EvalContext"], Outcome]
FixFn = Callable[[CoopInput, Mapping[str, Any], "EvalContext"], dict[str, Any] | None]


@dataclass(frozen=True)
class Check:
    name: str
    fn: CheckFn
    fix: FixFn  # None: the check cannot be met by changing facts this year (time, legal status)
    params: tuple[str, ...] = ()  # parameter names the check requires
    indicator_param: str | None = None  # parameter naming an indicator of the rubric


CHECKS: dict[str, Check] = {}


def check(
    name: str, fix: FixFn, params: Sequence[str] = (), indicator_param: str | None = None
) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[name] = Check(name, fn, fix, tuple(params), indicator_param)
        return fn

    return register


def _no_fix(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> None:
    return None


@check("status_rateable", _no_fix, ["excluded"])
def c_status(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    return (inp.operating_status not in p["excluded"], inp.operating_status)


@check("not_shell", lambda inp, p, ctx: {"operating_status": "operating"})
def c_not_shell(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    return (inp.operating_status != "shell", inp.operating_status)


@check(
    "not_dormant",
    lambda inp, p, ctx: {"operating_status": "operating", "suspended_since": None},
    ["statuses"],
)
def c_not_dormant(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    return (inp.operating_status not in p["statuses"], inp.operating_status)


@check("not_flagged", lambda inp, p, ctx: {flag: False for flag in p["flags"]}, ["flags"])
def c_not_flagged(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    raised = []
    for flag in p["flags"]:
        if getattr(inp, flag):
            raised.append(flag)
    return (not raised, raised)


@check("credit_code_prefix", _no_fix, ["prefix"])
def c_prefix(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    return (inp.credit_code.startswith(str(p["prefix"])), inp.credit_code[:2])


@functools.lru_cache(maxsize=64)
def _year_end(year: int) -> int:
    return dt.date(year, 12, 31).toordinal()


def registered_years(inp: CoopInput) -> float | None:
    if inp.registration_date is None:
        return None
    return _years_since(inp.year, inp.registration_date)


@functools.lru_cache(maxsize=4096)
def _years_since(year: int, day: dt.date) -> float:
    """Years from `day` to the end of `year`, to two decimals (asked twice per evaluation)."""
    return round((_year_end(year) - day.toordinal()) / 365.25, 2)


@check("registered_years", _no_fix, ["min"])
def c_registered_years(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    years = registered_years(inp)
    if years is None:
        return (None, None, ("registration_date",))
    return (years >= p["min"], years)


@check("not_abnormal_listed", lambda inp, p, ctx: {"on_abnormal_list": False})
def c_not_abnormal(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    return (not inp.on_abnormal_list, inp.on_abnormal_list)


@check("no_recent_abnormal", _no_fix, ["years"])
def c_no_recent_abnormal(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    """Not listed now, and not listed during the last `years` years up to the rating year."""
    if inp.on_abnormal_list:
        return (False, inp.abnormal_listed_on)
    listed = inp.abnormal_listed_on
    return (listed is None or listed.year <= inp.year - p["years"], listed)


@check(
    "annual_report_on_time",
    lambda inp, p, ctx: {"annual_report_filed": True, "annual_report_date": report_deadline(inp.year, p)},
)
def c_report(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    value = _report_on_time(inp, inp.facts, p)
    if value.__class__ is Missing:
        return (None, None, value.fields)
    return (bool(value), inp.facts.get("annual_report_date"))  # type: ignore[union-attr]


def _indicator_fix(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> dict[str, Any] | None:
    ind = ctx.rubric.indicator(p["indicator"])
    tiers = ctx.tiers_for(ind)
    target = next((t for t, pts in tiers if pts >= p.get("min", 1)), None)
    if target is None or ind.measure.achieve is None:
        return None
    return ind.measure.achieve(inp, target, ind.params)


@check("indicator_points", _indicator_fix, ["indicator"], indicator_param="indicator")
def c_indicator_points(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    """The named indicator scored at least `min` points (default: any points)."""
    entry = ctx.entries[ctx.rubric._position[p["indicator"]]]
    if len(entry) > 4 and entry[4]:
        return (None, None, entry[4])
    return (entry[1] >= p.get("min", 1e-9), entry[1])


@check("surplus_return_min", lambda inp, p, ctx: _achieve_surplus(inp, p["share"], p), ["share"])
def c_surplus_min(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    value = m_surplus_return(inp, inp.facts, p)
    if value.__class__ is Missing:
        return (None, None, value.fields)
    if value is NA:
        return (True, None)
    return (value >= p["share"], value)


def _compliance_fix(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> dict[str, Any] | None:
    changes: dict[str, Any] = {}
    for key in p["items"]:
        ok, _gone = ctx.compliance(key)
        if ok is not True:
            fix = COMPLIANCE[key].fix(inp)
            if fix is None:
                return None
            changes.update(fix)
    return changes


@functools.lru_cache(maxsize=64)
def _compliance_plan(
    keys: tuple[str, ...],
) -> tuple[tuple[str, Callable[..., ItemResult], str | None, bool], ...]:
    """(key, item function, and for an item that is one yes/no fact: the fact and the answer wanted)."""
    plan = []
    for key in keys:
        fn = COMPLIANCE[key].fn
        plan.append((key, fn, getattr(fn, "fact", None), bool(getattr(fn, "want", True))))
    return tuple(plan)


@check("compliance_clean", _compliance_fix, ["items"])
def c_compliance(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    """Zero failed items in the compliance checklist (criteria §7.5)."""
    failed: list[str] = []
    missing: list[str] = []
    f = inp.facts
    for key, fn, fact, want in _compliance_plan(tuple(p["items"])):
        if fact is not None:  # _fact_true, inline
            value = f.get(fact) if f is not None else None
            if value is None:
                missing.append(fact)
            elif bool(value) is not want:
                failed.append(key)
            continue
        ok, gone = fn(inp, f)
        if ok is False:
            failed.append(key)
        elif gone:
            missing.extend(gone.fields)
    if failed:
        return (False, failed)
    if missing:
        return (None, [], tuple(dict.fromkeys(missing)))
    return (True, [])


@check(
    "holds_title", lambda inp, p, ctx: {"title_rank": max(inp.title_rank, int(p["min_rank"]))}, ["min_rank"]
)
def c_title(inp: CoopInput, p: Mapping[str, Any], ctx: EvalContext) -> Outcome:
    """Holds a current demonstration title of at least the given rank (1 county, 2 city, 3 provincial…)."""
    return (inp.title_rank >= p["min_rank"], inp.title_rank)


# --------------------------------------------------------------------------------------------------------
# the compiled rubric

# An indicator's outcome, as the engine computes and stores it (see EXPLANATION_FORMAT below):
# (value found, points, index of the tier reached or -1[, flags[, missing facts]]); the trailing parts are
# left out when they are 0 and empty.
Entry = tuple[Any, ...]
RELAXED = 1  # flag: scored on the relaxed tiers (service cooperatives)
ALTERNATIVE = 2  # flag: scored by the rubric's "otherwise" rule (the measure does not apply)

StepFn = Callable[[CoopInput, "Mapping[str, Any] | None"], Entry]


@dataclass(frozen=True)
class CIndicator:
    key: str
    dimension: str
    measure: Measure
    params: Mapping[str, Any]
    tiers: tuple[tuple[float, float], ...]
    relaxed_tiers: tuple[tuple[float, float], ...] | None
    otherwise: tuple[Measure, tuple[tuple[float, float], ...], Mapping[str, Any]] | None
    na_points: float
    max_points: float
    # the indicator compiled into one closure: (input, facts) -> Entry; and for the relaxed industries
    step: StepFn = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    relaxed_step: StepFn = field(default=None, compare=False, repr=False)  # type: ignore[assignment]


@dataclass(frozen=True)
class CGate:
    key: str
    star: int
    checks: tuple[tuple[Check, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class CompiledRubric:
    content_hash: str
    indicators: tuple[CIndicator, ...]
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]
    floors: tuple[float, ...]  # floors[s-1] is the score floor of s stars
    gates: tuple[CGate, ...]
    relaxed_industries: frozenset[str]
    max_score: float
    _by_key: Mapping[str, CIndicator] = field(default_factory=dict)
    # the evaluation plan, made once per rubric version: flat tuples the hot loop walks
    _steps: tuple[StepFn, ...] = ()  # each indicator's step, in order
    _relaxed_steps: tuple[StepFn, ...] = ()  # the same for the relaxed industries
    _max_points: tuple[float, ...] = ()
    _dimension_of: tuple[int, ...] = ()  # each indicator's dimension (position)
    _position: Mapping[str, int] = field(default_factory=dict)  # each indicator's position
    _keys: tuple[str, ...] = ()  # indicator keys, in order
    dimension_max: tuple[float, ...] = ()
    _gates: tuple[
        tuple[int, int, tuple[tuple[CheckFn, Mapping[str, Any]], ...]], ...
    ] = ()  # (#, star, checks)
    _gate_stars: tuple[int, ...] = ()
    _gate_keys: tuple[str, ...] = ()
    # each dimension's indicators as a slice of the indicator order (they are listed dimension by
    # dimension), or () when they are not contiguous
    _dimension_slices: tuple[tuple[int, int], ...] = ()

    @property
    def top_star(self) -> int:
        return len(self.floors)

    def indicator(self, key: str) -> CIndicator:
        return self._by_key[key]


def _tiers(raw: Sequence[Sequence[Any]] | None) -> tuple[tuple[float, float], ...]:
    return tuple((float(_number(t)), _points(pts)) for t, pts in raw or ())


def _points(value: Any) -> float:
    """Points as the engine keeps them: whole points as int (they add up exactly, and are written without
    a decimal part), others as float."""
    points = float(value)
    return int(points) if points.is_integer() else points  # type: ignore[return-value]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value)


def _tier_finder(tiers: tuple[tuple[float, float], ...], lower: bool) -> Callable[[Any], tuple[float, int]]:
    """tier_points for fixed tiers, as a closure (tiers rise, so the first tier not reached ends the walk)."""
    pairs = tuple(tiers)
    if lower:

        def find(value: Any) -> tuple[float, int]:
            points: float = 0
            index = -1
            i = 0
            for threshold, pts in pairs:
                if value <= threshold:
                    points, index = pts, i
                    i += 1
                else:
                    break
            return points, index

    else:

        def find(value: Any) -> tuple[float, int]:
            points: float = 0
            index = -1
            i = 0
            for threshold, pts in pairs:
                if value >= threshold:
                    points, index = pts, i
                    i += 1
                else:
                    break
            return points, index

    return find


def _make_step(
    measure: Measure,
    params: Mapping[str, Any],
    tiers: tuple[tuple[float, float], ...],
    flag: int,
    otherwise: tuple[Measure, tuple[tuple[float, float], ...], Mapping[str, Any]] | None,
    na_points: float,
) -> StepFn:
    """One indicator on given tiers (flag: RELAXED for the relaxed tiers) as a closure: read the measure,
    then the tier reached; missing data is never zero. Tiers rise (validated), so the walk ends at the
    first tier not reached. No points are int 0 (whole points are ints, see _points)."""
    fn = measure.fn
    lower = measure.better == "lower"
    alt_fn: MeasureFn | None = None
    if otherwise is not None:
        alt_fn, alt_params = otherwise[0].fn, otherwise[2]
        alt_find = _tier_finder(otherwise[1], otherwise[0].better == "lower")
    na_entry: Entry = (None, na_points, -1, ALTERNATIVE)

    def not_applicable(inp: CoopInput, f: Mapping[str, Any] | None) -> Entry:
        if alt_fn is None:
            return na_entry
        alt = alt_fn(inp, f, alt_params)
        if alt.__class__ is Missing:
            return (None, 0, -1, ALTERNATIVE, alt.fields)
        points, tier = alt_find(alt)
        return (alt, points, tier, ALTERNATIVE)

    if lower:

        def step(inp: CoopInput, f: Mapping[str, Any] | None) -> Entry:
            value = fn(inp, f, params)
            if value.__class__ is Missing:
                return (None, 0, -1, 0, value.fields)
            if value is NA:
                return not_applicable(inp, f)
            points: float = 0
            tier = -1
            for threshold, pts in tiers:
                if value <= threshold:
                    points = pts
                    tier += 1
                else:
                    break
            return (value, points, tier, flag) if flag else (value, points, tier)

    else:

        def step(inp: CoopInput, f: Mapping[str, Any] | None) -> Entry:
            value = fn(inp, f, params)
            if value.__class__ is Missing:
                return (None, 0, -1, 0, value.fields)
            if value is NA:
                return not_applicable(inp, f)
            points: float = 0
            tier = -1
            for threshold, pts in tiers:
                if value >= threshold:
                    points = pts
                    tier += 1
                else:
                    break
            return (value, points, tier, flag) if flag else (value, points, tier)

    return step


_COMPILED: dict[str, CompiledRubric] = {}


def _slices(dimension_of: Sequence[int], count: int) -> tuple[tuple[int, int], ...]:
    """(start, end) of each dimension's indicators when each dimension's are contiguous, else ()."""
    slices = []
    for dim in range(count):
        positions = [i for i, d in enumerate(dimension_of) if d == dim]
        if not positions or positions != list(range(positions[0], positions[-1] + 1)):
            return ()
        slices.append((positions[0], positions[-1] + 1))
    return tuple(slices)


def compile_rubric(definition: Mapping[str, Any], content_hash: str = "") -> CompiledRubric:
    """Turn a validated rubric definition (see rubric.py) into the engine's tuples. Cached by hash."""
    if content_hash and content_hash in _COMPILED:
        return _COMPILED[content_hash]
    indicators: list[CIndicator] = []
    dimensions = []
    for dim in definition["dimensions"]:
        keys = []
        for raw in dim["indicators"]:
            tiers = _tiers(raw["tiers"])
            relaxed = _tiers(raw["relaxed_tiers"]) if raw.get("relaxed_tiers") else None
            otherwise = None
            if raw.get("otherwise"):
                alt = raw["otherwise"]
                otherwise = (MEASURES[alt["measure"]], _tiers(alt["tiers"]), alt.get("params") or {})
            max_points = max(
                [pts for _t, pts in tiers]
                + [pts for _t, pts in relaxed or ()]
                + [pts for _t, pts in (otherwise[1] if otherwise else ())]
                + [_points(raw.get("na_points", 0))]
                + [0.0]
            )
            measure = MEASURES[raw["measure"]]
            params = raw.get("params") or {}
            na_points = _points(raw.get("na_points", 0))
            indicators.append(
                CIndicator(
                    key=raw["key"],
                    dimension=dim["key"],
                    measure=measure,
                    params=params,
                    tiers=tiers,
                    relaxed_tiers=relaxed,
                    otherwise=otherwise,
                    na_points=na_points,
                    max_points=max_points,
                    step=_make_step(measure, params, tiers, 0, otherwise, na_points),
                    relaxed_step=_make_step(
                        measure, params, relaxed or tiers, RELAXED if relaxed else 0, otherwise, na_points
                    ),
                )
            )
            keys.append(raw["key"])
        dimensions.append((dim["key"], tuple(keys)))
    floors = tuple(float(points) for _star, points in sorted(definition["star_floors"]))
    gates = tuple(
        sorted(
            (
                CGate(
                    g["key"],
                    int(g["star"]),
                    tuple((CHECKS[c["check"]], c.get("params") or {}) for c in g["checks"]),
                )
                for g in definition.get("gates", ())
            ),
            key=lambda g: g.star,
        )
    )
    position = {ind.key: i for i, ind in enumerate(indicators)}
    dim_of = {key: i for i, (key, _keys) in enumerate(dimensions)}
    compiled = CompiledRubric(
        content_hash=content_hash,
        indicators=tuple(indicators),
        dimensions=tuple(dimensions),
        floors=floors,
        gates=gates,
        relaxed_industries=frozenset(definition.get("relaxed_industries", ())),
        max_score=sum(i.max_points for i in indicators),
        _by_key={i.key: i for i in indicators},
        _steps=tuple(i.step for i in indicators),
        _relaxed_steps=tuple(i.relaxed_step for i in indicators),
        _max_points=tuple(i.max_points for i in indicators),
        _dimension_of=tuple(dim_of[i.dimension] for i in indicators),
        _position=position,
        _keys=tuple(i.key for i in indicators),
        dimension_max=tuple(
            sum(indicators[position[k]].max_points for k in keys) for _dim, keys in dimensions
        ),
        _gates=tuple(
            (i, g.star, tuple((chk.fn, params) for chk, params in g.checks)) for i, g in enumerate(gates)
        ),
        _gate_stars=tuple(g.star for g in gates),
        _gate_keys=tuple(g.key for g in gates),
        _dimension_slices=_slices([dim_of[i.dimension] for i in indicators], len(dimensions)),
    )
    if content_hash:
        _COMPILED[content_hash] = compiled
    return compiled


# --------------------------------------------------------------------------------------------------------
# evaluation


@dataclass(slots=True)
class IndicatorResult:
    key: str
    value: Any  # the value found (None when missing or not applicable)
    points: float
    max_points: float
    tier: int  # index of the tier reached, -1 for none
    missing: tuple[str, ...] = ()
    relaxed: bool = False
    alternative: bool = False  # scored by the rubric's "otherwise" rule (e.g. no surplus)

    @classmethod
    def of(cls, ind: CIndicator, entry: Entry) -> IndicatorResult:
        value, points, tier = entry[:3]
        flags = entry[3] if len(entry) > 3 else 0
        missing = entry[4] if len(entry) > 4 else ()
        return cls(
            ind.key,
            value,
            points,
            ind.max_points,
            tier,
            missing,
            bool(flags & RELAXED),
            bool(flags & ALTERNATIVE),
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "value": self.value,
            "points": self.points,
            "max": self.max_points,
            "tier": self.tier,
        }
        if self.missing:
            data["missing"] = list(self.missing)
        if self.relaxed:
            data["relaxed"] = True
        if self.alternative:
            data["alt"] = True
        return data


class EvalContext:
    """What the gate checks of one evaluation may consult: the indicators' entries (in the rubric's order)
    and the compliance items (each computed once)."""

    __slots__ = ("_compliance", "entries", "inp", "rubric")

    def __init__(self, inp: CoopInput, rubric: CompiledRubric, entries: Sequence[Entry] = ()) -> None:
        self.inp = inp
        self.rubric = rubric
        self.entries = entries
        self._compliance: dict[str, ItemResult] | None = None

    def entry(self, key: str) -> Entry:
        """The named indicator's entry."""
        return self.entries[self.rubric._position[key]]

    def compliance(self, key: str) -> ItemResult:
        if self._compliance is None:
            self._compliance = {}
        result = self._compliance.get(key)
        if result is None:
            result = COMPLIANCE[key].fn(self.inp, self.inp.facts)
            self._compliance[key] = result
        return result

    def tiers_for(self, ind: CIndicator) -> tuple[tuple[float, float], ...]:
        if ind.relaxed_tiers is not None and self.inp.industry in self.rubric.relaxed_industries:
            return ind.relaxed_tiers
        return ind.tiers


def tier_points(value: float, tiers: tuple[tuple[float, float], ...], lower: bool) -> tuple[float, int]:
    return _tier_finder(tiers, lower)(value)


def evaluate_indicator(ind: CIndicator, ctx: EvalContext) -> IndicatorResult:
    inp = ctx.inp
    relaxed = inp.industry in ctx.rubric.relaxed_industries
    step = ind.relaxed_step if relaxed else ind.step
    return IndicatorResult.of(ind, step(inp, inp.facts))


@dataclass(slots=True)
class GateResult:
    key: str
    star: int
    passed: bool | None  # None: not decided for missing data
    checks: list[tuple[str, CheckOutcome]]

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "star": self.star,
            "passed": self.passed,
            "checks": [
                {
                    "check": name,
                    "ok": out.ok,
                    "value": _json(out.value),
                    **({"missing": list(out.missing)} if out.missing else {}),
                }
                for name, out in self.checks
            ],
        }


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class Evaluation(NamedTuple):
    """The engine's result in its plain form (what is stored, see EXPLANATION_FORMAT); `evaluate` wraps it
    in a RatingResult."""

    score: float  # points of the indicators with data
    score_max: float  # the score if every missing indicator scored its maximum
    stars_low: int  # the stars with every missing fact at its worst
    stars_high: int  # … and at its best
    indicators: list[Entry]  # in the rubric's indicator order
    gates: list[tuple[bool | None, list[Outcome]]]  # (passed, each check's outcome), gates by star
    missing: tuple[str, ...]
    dimensions: list[float]  # points of each dimension, in the rubric's order
    capped_by: list[str]  # why not one star more: "floor" and/or gate keys

    @property
    def stars(self) -> int | None:
        return self.stars_low if self.stars_low == self.stars_high else None


def _stars(score: float, floors: tuple[float, ...], cap: int) -> int:
    """The most stars below `cap` (the first star a gate blocks) whose floors the score reaches."""
    stars = 0
    for star, floor in enumerate(floors, start=1):
        if star < cap and score >= floor:
            stars = star
        else:
            break
    return stars


def run(inp: CoopInput, rubric: CompiledRubric) -> Evaluation:
    """Score, each indicator's entry, the gates and their checks, the stars at worst and at best."""
    f = inp.facts
    steps = rubric._relaxed_steps if inp.industry in rubric.relaxed_industries else rubric._steps
    entries = [step(inp, f) for step in steps]
    ctx = EvalContext(inp, rubric, entries)
    outcomes = [[fn(inp, params, ctx) for fn, params in checks] for _position, _star, checks in rubric._gates]
    return summarize(rubric, entries, outcomes)


def summarize(
    rubric: CompiledRubric, entries: Sequence[Entry], outcomes: Sequence[Sequence[Outcome]]
) -> Evaluation:
    """The evaluation that the indicators' entries and the gates' check outcomes make under the rubric:
    score, stars at worst and at best, the gates passed, the missing facts, the dimensions' points, what
    caps the stars. run() ends here; so does reading a stored explanation (format 3 stores only the
    entries and the outcomes), with the same arithmetic in the same order, so the same numbers."""
    # an indicator missing data scored 0 points (its entry has a fifth part: the facts it needs), so the
    # sums over every entry are the sums over those with data, added in the same order
    points = [entry[1] for entry in entries]
    score = sum(points, 0.0)
    missing: dict[str, None] = {}
    missing_points = 0.0
    if [1 for entry in entries if len(entry) > 4]:
        for entry, max_points in zip(entries, rubric._max_points, strict=True):
            if len(entry) > 4:
                missing_points += max_points
                for name in entry[4]:
                    missing[name] = None
    if rubric._dimension_slices:
        dims = [sum(points[start:end]) for start, end in rubric._dimension_slices]
    else:
        dims = [0] * len(rubric.dimensions)  # summed like sum(): from 0, in indicator order
        for total, dim in zip(points, rubric._dimension_of, strict=True):
            dims[dim] += total
    # cumulative: a gate attached to star s is required for s stars and more, so the first star of a gate
    # not passed (missing data at its worst) or failed (at its best) caps the stars below it
    top = len(rubric.floors)
    cap_low = cap_high = top + 1
    not_passed: list[int] = []  # gate positions
    gates: list[tuple[bool | None, Sequence[Outcome]]] = []
    for (position, star, _checks), outs in zip(rubric._gates, outcomes, strict=True):
        passed: bool | None = True
        for out in outs:
            ok = out[0]
            if ok is not True:
                if ok is False:
                    passed = False
                elif passed is True:
                    passed = None
            if len(out) > 2:
                for name in out[2]:
                    missing[name] = None
        gates.append((passed, outs))
        if passed is not True:
            not_passed.append(position)
            if star < cap_low:
                cap_low = star
            if passed is False and star < cap_high:
                cap_high = star
    score = score if score.is_integer() else round(score, 4)  # whole points need no rounding
    score_max = score + missing_points
    score_max = score_max if score_max.is_integer() else round(score_max, 4)
    floors = rubric.floors
    stars_low = _stars(score, floors, cap_low)
    stars_high = _stars(score_max, floors, cap_high)
    capped_by: list[str] = []
    if stars_low < top:
        nxt = stars_low + 1
        if score < floors[nxt - 1]:
            capped_by.append("floor")
        if not_passed:
            stars, keys = rubric._gate_stars, rubric._gate_keys
            capped_by.extend([keys[position] for position in not_passed if stars[position] <= nxt])
    return _new_evaluation(
        Evaluation,
        (
            score,
            score_max,
            stars_low,
            stars_high,
            entries,
            gates,
            tuple(missing),
            [total if total.__class__ is int else round(total, 4) for total in dims],
            capped_by,
        ),
    )


_new_evaluation = tuple.__new__  # Evaluation(...) without the named tuple's Python-level __new__


@dataclass(slots=True)
class RatingResult:
    cooperative_id: int
    year: int
    score: float  # points of the indicators with data
    score_max: float  # the score if every missing indicator scored its maximum
    stars: int | None  # None: cannot be decided for missing data
    stars_low: int
    stars_high: int
    indicators: list[IndicatorResult]
    gates: list[GateResult]
    missing: tuple[str, ...]
    dimension_points: list[tuple[str, float, float]]  # key, points, max
    capped_by: list[str]  # why not one star more: "floor" and/or gate keys
    evaluation: Evaluation | None = None  # the plain form this result was made from

    @classmethod
    def of(cls, inp: CoopInput, rubric: CompiledRubric, ev: Evaluation) -> RatingResult:
        names = [tuple(chk.name for chk, _params in gate.checks) for gate in rubric.gates]
        return cls(
            cooperative_id=inp.cooperative_id,
            year=inp.year,
            score=ev.score,
            score_max=ev.score_max,
            stars=ev.stars,
            stars_low=ev.stars_low,
            stars_high=ev.stars_high,
            indicators=[
                IndicatorResult.of(ind, e) for ind, e in zip(rubric.indicators, ev.indicators, strict=True)
            ],
            gates=[
                GateResult(
                    gate.key,
                    gate.star,
                    passed,
                    [(name, CheckOutcome(*out)) for name, out in zip(names[i], outcomes, strict=True)],
                )
                for i, (gate, (passed, outcomes)) in enumerate(zip(rubric.gates, ev.gates, strict=True))
            ],
            missing=ev.missing,
            dimension_points=[
                (key, points, top)
                for (key, _keys), points, top in zip(
                    rubric.dimensions, ev.dimensions, rubric.dimension_max, strict=True
                )
            ],
            capped_by=ev.capped_by,
            evaluation=ev,
        )

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "score_max": self.score_max,
            "stars": self.stars,
            "stars_low": self.stars_low,
            "stars_high": self.stars_high,
            "dimensions": [{"key": k, "points": p, "max": m} for k, p, m in self.dimension_points],
            "indicators": [i.as_json() for i in self.indicators],
            "gates": [g.as_json() for g in self.gates],
            "missing": list(self.missing),
            "capped_by": self.capped_by,
        }


def evaluate(inp: CoopInput, rubric: CompiledRubric) -> RatingResult:
    """Score, indicators with reasons, gates, stars (decided or not for missing data)."""
    return RatingResult.of(inp, rubric, run(inp, rubric))


# --------------------------------------------------------------------------------------------------------
# the stored explanation

EXPLANATION_FORMAT = 3
"""The explanation stored with each rating (Rating.explanation), format 3: JSON, language-neutral, only what
the engine found (no rubric names, nothing that follows from it): each indicator's entry and each gate
check's outcome, by their position in the rubric version of the rating (Rating.rubric; a version that has
produced results is never changed, so the positions stay valid).

    {"format": 3,
     "indicators": [[value, points, tier], …],     # in the rubric's indicator order (dimension by dimension)
     "gates": [[[ok, value], …], …]}               # gates in star order (as listed within a star): checks

An indicator entry is [value found, points, index of the tier reached or -1] with two optional parts:
flags (1: scored on the relaxed tiers; 2: scored by the rubric's "otherwise" rule, the measure not applying)
and the facts it misses (then it scored nothing and counts at its maximum in score_max). A check entry is
[ok (true, false, or null when undecided), value found] with, when data is missing, the facts it needs.
Values are numbers, booleans, strings, lists or null; dates are ISO strings; whole points are integers.

Everything else (score, score if the missing data were complete, stars at worst and at best, each gate
passed or not, the facts missing, the points per dimension, what caps the stars) is summarize() of these
under the rubric: describe.expand() computes it when the explanation is shown, with the engine's own
arithmetic, so it is what the engine found when rating. (Rating's columns hold the score, stars and
missing count as well, for lists and queries.)

Earlier formats, still read by describe.expand(): format 2 stored the same entries plus the rubric
reference and the summary ({"format": 2, "rubric": {…}, "score", "score_max", "stars", "stars_low",
"stars_high", "dimensions", "indicators", "gates": [[passed, checks], …], "missing", "capped_by"}); format 1
stored everything with names (dimensions, indicators and gates as objects).
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


_encode = json.JSONEncoder(separators=(",", ":"), default=_json_default, check_circular=False).encode


def explanation_header(rubric_ref: Mapping[str, Any] | None = None) -> str:
    """The start of every stored explanation (the rubric is the rating's own: format 3 does not name it)."""
    return f'{{"format":{EXPLANATION_FORMAT},"indicators":'


def explanation_text(ev: Evaluation, header: str | None = None) -> str:
    """The stored explanation of an evaluation, as JSON text."""
    return (
        f"{header or explanation_header()}{_encode(ev.indicators)},"
        f'"gates":{_encode([outcomes for _passed, outcomes in ev.gates])}}}'
    )


def explanation_data(ev: Evaluation, rubric_ref: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stored explanation as a JSON-ready dict (what explanation_text writes, read back)."""
    return json.loads(explanation_text(ev))  # type: ignore[no-any-return]


def stored_evaluation(explanation: Mapping[str, Any], rubric: CompiledRubric) -> Evaluation:
    """The evaluation a stored explanation of format 3 records (values as JSON gives them back: lists for
    tuples, ISO text for dates)."""
    return summarize(rubric, explanation.get("indicators", ()), explanation.get("gates", ()))


# --------------------------------------------------------------------------------------------------------
# rating many cooperatives: the adapter's rows in, the rows to store out (in-process or in worker processes)

# A row as adapter.read_batches gives it: (cooperative id, name, *ROW_STATUS, *the yearly facts
# named by RateJob.facts, title rank, the year before's facts named by RateJob.previous or None). Numbers of
# decimal columns come as floats; dates may come as ISO text.
ROW_STATUS = (
    "credit_code",
    "registration_date",
    "industry",
    "operating_status",
    "suspended_since",
    "on_abnormal_list",
    "abnormal_listed_on",
    "serious_violation",
    "illegal_finance",
    "subsidy_fraud",
    "brands",
    "cert_green",
    "cert_organic",
    "cert_geographic",
    "has_traceability",
)
_FIRST_FACT = 2 + len(ROW_STATUS)


@dataclass(frozen=True)
class RateJob:
    """Everything the rating of rows needs besides the rows (picklable: sent once to each worker)."""

    year: int
    definition: Mapping[str, Any]  # the rubric version's definition and its content hash
    content_hash: str
    rubric_ref: Mapping[str, Any]  # {"id", "code", "version", "hash"}: stored in every explanation
    facts: tuple[str, ...]  # the yearly fact fields of a row, in order
    dates: tuple[str, ...]  # the fact fields that are dates (a row may give them as ISO text)
    previous: tuple[str, ...]  # the year before's fact fields
    snapshot: Mapping[str, Any]  # the history snapshot of a new rating, to fill in (core.services.snapshot)


# one stored result: (cooperative id, score, score_max (both to the cent), stars, stars_low, missing count,
# explanation JSON); a new rating's change record is written by the database (adapter.NewRatingHistory)
Rated = tuple[int, float, float, "int | None", int, int, str]


class RowRater:
    """Rates the adapter's rows under one job: the compiled rubric and the row layout, made once."""

    def __init__(self, job: RateJob) -> None:
        self.job = job
        self.rubric = compile_rubric(job.definition, job.content_hash)
        self.header = explanation_header(job.rubric_ref)
        self.facts = job.facts
        self.dates = tuple(name for name in job.facts if name in job.dates)
        self.end = _FIRST_FACT + len(job.facts)
        self.snapshot_parts = snapshot_parts(job.snapshot)

    def input(self, row: Sequence[Any]) -> CoopInput:
        facts = dict(zip(self.facts, row[_FIRST_FACT : self.end], strict=False))  # the row holds them all
        for name in self.dates:
            value = facts[name]
            if value.__class__ is str:
                facts[name] = _day(value)
        previous = row[self.end + 1]
        if previous is not None:
            previous = dict(zip(self.job.previous, previous, strict=False))
        brands = row[12]
        return CoopInput(
            row[0],
            self.job.year,
            row[2] or "",
            _day(row[3]),
            row[4],
            row[5],
            _day(row[6]),
            row[7],
            _day(row[8]),
            row[9],
            row[10],
            row[11],
            bool(brands and brands.strip()),
            row[13],
            row[14],
            row[15],
            row[16],
            row[self.end],
            facts,
            previous,
        )

    def rate(self, rows: Sequence[Sequence[Any]]) -> list[Rated]:
        rubric, header = self.rubric, self.header
        out: list[Rated] = []
        for row in rows:
            ev = run(self.input(row), rubric)
            low = ev.stars_low
            stars = low if low == ev.stars_high else None
            gone = len(ev.missing)
            score, top = ev.score, ev.score_max  # as stored: to the cent
            if not score.is_integer():
                score = round(score, 2)
            if not top.is_integer():
                top = round(top, 2)
            out.append(
                (
                    row[0],
                    score,
                    top,
                    stars,
                    low,
                    gone,
                    explanation_text(ev, header),
                )
            )
        return out


def _day(value: Any) -> Any:
    """A date given as ISO text (as the adapter reads dates on SQLite), or as it is."""
    return dt.date.fromisoformat(value) if value.__class__ is str else value


SNAPSHOT_VARYING = ("cooperative", "score", "score_max", "stars", "stars_low", "missing_count")


def snapshot_parts(snapshot: Mapping[str, Any]) -> tuple[str, ...]:
    """A new rating's history snapshot as JSON text around its varying values (SNAPSHOT_VARYING: the
    cooperative, score, score_max, stars, stars_low, missing_count): seven fixed texts, six values between."""
    marked = dict(snapshot)
    for i, key in enumerate(SNAPSHOT_VARYING):
        marked[key] = f"@@{i}@@"
    text = _encode(marked)
    parts = []
    for i in range(len(SNAPSHOT_VARYING)):
        head, text = text.split(f'"@@{i}@@"')
        parts.append(head)
    return (*parts, text)


def row_rater(job: RateJob) -> RowRater:
    """The annual rating's rater of rows: RowRater with rate() specialised for the job's rubric version
    (compiled.py; same results, RowRater.rate stays the reference)."""
    from .compiled import CompiledRowRater  # it builds on this module

    return CompiledRowRater(job)


_RATER: RowRater | None = None


def start_worker(job: RateJob) -> None:
    """Initialise a worker process of the annual rating (the engine only: no database, no Django)."""
    global _RATER
    gc.disable()  # the engine makes no reference cycles; collecting would only scan the batch in hand
    _RATER = row_rater(job)


def rate_in_worker(rows: Sequence[Sequence[Any]]) -> list[Rated]:
    assert _RATER is not None, "start_worker() first"
    return _RATER.rate(rows)


def rate_rows_in_worker(rows: Sequence[Sequence[Any]], skip: frozenset[int]) -> tuple[int, int, list[Rated]]:
    """rate_in_worker() for the rows but those of the cooperatives in `skip` (their rating is final): the
    count of rows, of those left out, and the rated rows. (Here, not in services: a spawned worker imports
    the engine only, never Django.)"""
    todo = [row for row in rows if row[0] not in skip] if skip else rows
    return len(rows), len(rows) - len(todo), rate_in_worker(todo)


# --------------------------------------------------------------------------------------------------------
# what it takes


@dataclass
class AdviceItem:
    kind: str  # "indicator" (raise a measure to a tier) or "gate" (meet a failed check)
    key: str  # indicator key, or gate key
    check: str = ""  # the check's name for gate items
    index: int = -1  # the check's position in its gate
    value_from: Any = None
    value_to: Any = None
    gain: float = 0.0  # points added (marginal, in the order given)
    gates: list[str] = field(default_factory=list)  # gates this change makes pass
    changes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "check": self.check,
            "index": self.index,
            "from": _json(self.value_from),
            "to": _json(self.value_to),
            "gain": self.gain,
            "gates": self.gates,
            "changes": {k: _json(v) for k, v in self.changes.items()},
        }


@dataclass
class Advice:
    current: int
    target: int | None  # None: already at the top star
    reachable: bool
    items: list[AdviceItem]
    blocked: list[tuple[str, str]]  # (gate key, check name) that changing facts cannot meet this year
    score_after: float = 0.0
    missing: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "target": self.target,
            "reachable": self.reachable,
            "items": [i.as_json() for i in self.items],
            "blocked": [list(b) for b in self.blocked],
            "score_after": self.score_after,
            "missing": list(self.missing),
        }


def _failing_checks(result: RatingResult, target: int) -> list[tuple[str, str, int]]:
    failing = []
    for gate in result.gates:
        if gate.star > target:
            continue
        for index, (name, out) in enumerate(gate.checks):
            if out.ok is not True:
                failing.append((gate.key, name, index))
    return failing


def _reaches(result: RatingResult, target: int) -> bool:
    return result.stars_low >= target


def what_it_takes(inp: CoopInput, rubric: CompiledRubric, result: RatingResult | None = None) -> Advice:
    """The smallest set of fact changes that reaches the next star (missing data counted at its worst).

    First the failed gate checks of the next star and below (each must be met), then the fewest
    indicator improvements whose points close the gap to the next star's floor. Every item carries the
    concrete fact changes; applying them all reaches the target (verified by evaluating again).
    """
    result = result or evaluate(inp, rubric)
    current = result.stars_low
    if current >= rubric.top_star:
        return Advice(current, None, True, [], [], result.score, result.missing)
    target = current + 1
    items: list[AdviceItem] = []
    blocked: list[tuple[str, str]] = []
    work = inp
    now = result
    gates_by_key = {g.key: g for g in rubric.gates}
    # 1. gates: meet every failed or undecided check of the target star and below
    for gate_key, name, index in _failing_checks(result, target):
        chk, params = gates_by_key[gate_key].checks[index]
        ctx = EvalContext(work, rubric)
        ctx.entries = now.evaluation.indicators  # type: ignore[union-attr]
        current_out = _gate(now, gate_key).checks[index][1]
        if current_out.ok is True:
            continue  # met by an earlier change
        changes = chk.fix(work, params, ctx)
        if changes is None:
            blocked.append((gate_key, name))
            continue
        after_inp = apply_changes(work, changes)
        after = evaluate(after_inp, rubric)
        passed = [g.key for g in after.gates if g.passed is True and _gate(now, g.key).passed is not True]
        value_from, value_to = _json(current_out.value), None
        if name == "indicator_points":  # the indicator's measure before and after, to say what to raise
            ind = rubric.indicator(params["indicator"])
            value_from = _json(_measured(ind, work))
            value_to = _json(_measured(ind, after_inp))
        items.append(
            AdviceItem(
                "gate",
                gate_key,
                check=name,
                index=index,
                value_from=value_from,
                value_to=value_to,
                gain=round(after.score - now.score, 4),
                gates=passed,
                changes=changes,
            )
        )
        work, now = after_inp, after
    if blocked:
        return Advice(current, target, False, items, blocked, now.score, result.missing)
    # 2. points: the fewest indicator improvements that close the gap to the floor
    floor = rubric.floors[target - 1]
    used: set[str] = set()
    for _round in range(len(rubric.indicators)):
        if _reaches(now, target):
            break
        gap = floor - now.score
        options = _improvements(work, now, rubric, used)
        if not options:
            break
        # the largest single gain (the fewest changes), the least effort among equals; and once one step
        # closes the gap, the least effort among the steps that do
        closing = [o for o in options if o[0] >= gap - 1e-9]
        if closing:
            _gain, key, value_from, target_value, changes, _effort = min(
                closing, key=lambda o: (o[5], o[0], o[1])
            )
        else:
            _gain, key, value_from, target_value, changes, _effort = min(
                options, key=lambda o: (-o[0], o[5], o[1])
            )
        after_inp = apply_changes(work, changes)
        after = evaluate(after_inp, rubric)
        passed = [g.key for g in after.gates if g.passed is True and _gate(now, g.key).passed is not True]
        items.append(
            AdviceItem(
                "indicator",
                key,
                value_from=value_from,
                value_to=target_value,
                gain=round(after.score - now.score, 4),
                gates=passed,
                changes=changes,
            )
        )
        used.add(key)
        work, now = after_inp, after
    reachable = _reaches(now, target)
    if reachable:
        items = _drop_unneeded(inp, rubric, items, target)
        now = evaluate(_apply_all(inp, items), rubric)
    return Advice(current, target, reachable, items, blocked, now.score, result.missing)


def _measured(ind: Any, inp: CoopInput) -> Any:
    """The indicator's measured value for `inp` (None when missing or not applicable)."""
    value = ind.measure.fn(inp, inp.facts, ind.params)
    return None if value.__class__ is Missing or value is NA else value


def _gate(result: RatingResult, key: str) -> GateResult:
    return next(g for g in result.gates if g.key == key)


def _apply_all(inp: CoopInput, items: Sequence[AdviceItem]) -> CoopInput:
    for item in items:
        inp = apply_changes(inp, item.changes)
    return inp


def _drop_unneeded(
    inp: CoopInput, rubric: CompiledRubric, items: list[AdviceItem], target: int
) -> list[AdviceItem]:
    """Leave out any indicator step the target is reached without (greedy choices can overshoot)."""
    kept = list(items)
    for item in sorted((i for i in items if i.kind == "indicator"), key=lambda i: i.gain):
        trial = [i for i in kept if i is not item]
        if _reaches(evaluate(_apply_all(inp, trial), rubric), target):
            kept = trial
    return kept


def effort(kind: str, value: Any, target: float) -> float:
    """A rough cost of a step, to prefer doing a thing (hold the assembly) over growing sixfold."""
    if value is None or kind in ("bool", "level"):
        return 1.0
    if kind == "share":
        return 1.0 + abs(target - value) * 10
    return max(1.0, target / value) if value > 0 else 5.0


def _improvements(
    inp: CoopInput, now: RatingResult, rubric: CompiledRubric, used: set[str]
) -> list[tuple[float, str, Any, float, dict[str, Any], float]]:
    """Each indicator's possible step up: (gain, key, value now, value aimed at, fact changes, effort)."""
    options = []
    ctx = EvalContext(inp, rubric)
    by_key = {r.key: r for r in now.indicators}
    for ind in rubric.indicators:
        res = by_key[ind.key]
        if ind.key in used or res.points >= ind.max_points or ind.measure.achieve is None:
            continue
        if res.alternative:
            continue  # scored by the "otherwise" rule: the measure itself does not apply
        tiers = ctx.tiers_for(ind)
        for threshold, pts in tiers:
            if pts <= res.points and not res.missing:
                continue
            changes = ind.measure.achieve(inp, threshold, ind.params)
            if not changes:
                continue
            trial = evaluate_indicator(ind, EvalContext(apply_changes(inp, changes), rubric))
            gain = trial.points - (0.0 if res.missing else res.points)
            if gain > 0:
                options.append(
                    (
                        round(gain, 4),
                        ind.key,
                        res.value,
                        threshold,
                        changes,
                        effort(ind.measure.kind, res.value, threshold),
                    )
                )
    return options
