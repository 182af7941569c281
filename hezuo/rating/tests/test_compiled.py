"""The row rater specialised per rubric version (compiled.py) stores exactly what the engine's RowRater
stores (the reference), for random facts, under the shipped rubric and modified ones."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hezuo.rating import adapter, engine
from hezuo.rating.compiled import CompiledRowRater, rater_source
from hezuo.rating.engine import CoopInput, RateJob, RowRater
from hezuo.rating.rubric import content_hash

from .conftest import YEAR
from .test_properties import DEFINITION, inputs

SNAPSHOT = {
    "cooperative": 0,
    "year": YEAR,
    "rubric": 7,
    "status": "provisional",
    "score": "0",
    "score_max": "0",
    "stars": None,
    "stars_low": 0,
    "missing_count": 0,
    "explanation": None,
    "retired_at": None,
}


def _modified(definition: dict[str, Any]) -> dict[str, Any]:
    """Other tiers, relaxed tiers on another indicator, other gate parameters and items."""
    changed = copy.deepcopy(definition)
    for dim in changed["dimensions"]:
        for ind in dim["indicators"]:
            ind["tiers"] = [[t * 0.9 if isinstance(t, float) else t, pts + 0.5] for t, pts in ind["tiers"]]
            if ind["key"] == "B4":
                ind["relaxed_tiers"] = [[0.2, 1], [0.4, 2.25]]
            if ind["key"] == "A5":
                ind["na_points"] = 1
    for gate in changed["gates"]:
        for chk in gate["checks"]:
            params = chk.get("params") or {}
            if chk["check"] == "indicator_points":
                params["min"] = params.get("min", 1) - 1
            if chk["check"] == "compliance_clean":
                params["items"] = list(reversed(params["items"]))[:15]
            if chk["check"] == "registered_years":
                params["min"] = params["min"] + 0.5
            if chk["check"] == "status_rateable":
                params["excluded"] = ["revoked", "shell"]
    changed["relaxed_industries"] = ["tea", "machinery"]
    return changed


def _without_b(definition: dict[str, Any]) -> dict[str, Any]:
    """No indicator computes the measures the gates and compliance items read: nothing to reuse."""
    changed = copy.deepcopy(definition)
    changed["dimensions"] = [dim for dim in changed["dimensions"] if dim["key"] != "B"]
    changed["gates"].append(
        {"key": "GX", "star": 2, "checks": [{"check": "surplus_return_min", "params": {"share": 0.5}}]}
    )
    return changed


DEFINITIONS = {"shipped": DEFINITION, "modified": _modified(DEFINITION), "without B": _without_b(DEFINITION)}


def _job(definition: dict[str, Any]) -> RateJob:
    return RateJob(
        year=YEAR,
        definition=definition,
        content_hash=content_hash(definition),
        rubric_ref={"id": 7, "code": "test", "version": 1, "hash": content_hash(definition)},
        facts=adapter.FACT_FIELDS,
        dates=adapter.DATE_FACTS,
        previous=adapter.PREVIOUS_FIELDS,
        snapshot=SNAPSHOT,
    )


JOBS = {name: _job(definition) for name, definition in DEFINITIONS.items()}


def _iso(value: Any, iso: bool) -> Any:
    return value.isoformat() if iso and value is not None else value


def _row(inp: CoopInput, n: int, blank: frozenset[str], iso: bool, no_facts: bool) -> tuple[Any, ...]:
    """The adapter's row of an input (see engine.ROW_STATUS), with the `blank` facts not reported."""
    f = {} if no_facts else {k: v for k, v in (inp.facts or {}).items() if k not in blank}
    facts = tuple(_iso(f.get(name), iso and name in adapter.DATE_FACTS) for name in adapter.FACT_FIELDS)
    previous = tuple((inp.previous or {}).get(name) for name in adapter.PREVIOUS_FIELDS) if n % 3 else None
    return (
        n,
        f"合作社 {n}",
        inp.credit_code if n % 5 else None,
        _iso(inp.registration_date if "registration_date" not in blank else None, iso),
        inp.industry,
        inp.operating_status,
        _iso(inp.suspended_since, iso),
        inp.on_abnormal_list,
        _iso(inp.abnormal_listed_on, iso),
        inp.serious_violation,
        inp.illegal_finance,
        inp.subsidy_fraud,
        "品牌" if inp.has_brand else ("  " if n % 2 else None),
        inp.cert_green,
        inp.cert_organic,
        inp.cert_geographic,
        inp.has_traceability,
        *facts,
        inp.title_rank,
        previous,
    )


BLANKABLE = sorted({*adapter.FACT_FIELDS, "registration_date"})


@st.composite
def rows(draw: Any) -> list[tuple[Any, ...]]:
    out = []
    for n, inp in enumerate(draw(st.lists(inputs(), min_size=1, max_size=4)), start=1):
        blank = frozenset(draw(st.sets(st.sampled_from(BLANKABLE), max_size=8)))
        extra = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "members": st.sampled_from([0, 3, 20, 21]),
                    "distributable_surplus": st.sampled_from([0.0, -1.0, 0.01]),
                    "member_transactions": st.just(0.0),
                    "nonmember_transactions": st.just(0.0),
                    "income_uplift": st.floats(-50, 200, allow_nan=False),
                    "revenue": st.floats(0, 1e8, allow_nan=False),
                },
            )
        )
        inp = dataclasses.replace(inp, facts={**(inp.facts or {}), **extra})
        out.append(_row(inp, n, blank, draw(st.booleans()), draw(st.integers(0, 30)) == 0))
    return out


def _typed(rated: list[Any]) -> list[Any]:
    """The stored values with their types (5 and 5.0 are equal, but not stored alike)."""
    return [[(type(value), value) for value in row] for row in rated]


@pytest.mark.parametrize("name", sorted(JOBS))
@settings(max_examples=150, deadline=None)
@given(batch=rows())
def test_the_compiled_rater_stores_what_the_engine_stores(name: str, batch: list[tuple[Any, ...]]) -> None:
    job = JOBS[name]
    assert _typed(CompiledRowRater(job).rate(batch)) == _typed(RowRater(job).rate(batch))


def test_the_annual_rating_uses_the_compiled_rater() -> None:
    rater = engine.row_rater(JOBS["shipped"])
    assert isinstance(rater, CompiledRowRater)
    engine.start_worker(JOBS["shipped"])
    try:
        assert isinstance(engine._RATER, CompiledRowRater)
    finally:
        engine._RATER = None
        import gc

        gc.enable()


def test_the_generated_source_compiles_for_each_rubric() -> None:
    for job in JOBS.values():
        rater = RowRater(job)
        source, _names = rater_source(rater.rubric, job, rater.header, rater.snapshot_parts)
        compile(source, "<test>", "exec")
