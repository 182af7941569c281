"""Fixtures of the rating tests: the shipped rubric, complete facts, and a rated small city."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from hezuo.core.context import change_context
from hezuo.core.services import save_record

YEAR = 2024

# a cooperative's facts that earn every point of the provisional rubric
TOP_FACTS: dict[str, Any] = {
    "members": 200,
    "farmer_members": 190,
    "entity_members": 2,
    "member_households": 180,
    "nonmember_households": 1200,
    "members_trained": 50,
    "public_admin_member": False,
    "revenue": 6_000_000.0,
    "fixed_assets": 1_200_000.0,
    "member_capital": 800_000.0,
    "distributable_surplus": 300_000.0,
    "surplus_returned": 270_000.0,
    "member_transactions": 4_000_000.0,
    "nonmember_transactions": 1_000_000.0,
    "unified_purchase_rate": 90.0,
    "unified_sale_rate": 85.0,
    "income_uplift": 35.0,
    "subsidy_received": True,
    "subsidy_quantified": True,
    "loss_plan_approved": None,
    "extra_votes": 10,
    "assembly_held": True,
    "assembly_date": dt.date(YEAR, 3, 15),
    "assembly_quorum_met": True,
    "minutes_signed": True,
    "organs_in_place": True,
    "officer_conflict": False,
    "member_register_filed": True,
    "members_with_accounts": 200,
    "accounting_compliant": True,
    "separate_accounts": True,
    "financial_statements": True,
    "documents_available": True,
    "reserve_quantified": True,
    "internal_audit": True,
    "annual_report_filed": True,
    "annual_report_date": dt.date(YEAR + 1, 4, 20),
}

TOP_STATUS: dict[str, Any] = {
    "credit_code": "93330226MA2H00006U",
    "registration_date": dt.date(2015, 5, 1),
    "industry": "fruit",
    "operating_status": "operating",
    "has_brand": True,
    "cert_green": True,
    "has_traceability": True,
    "title_rank": 3,
}


@pytest.fixture
def compiled() -> Any:
    from hezuo.rating.engine import compile_rubric
    from hezuo.rating.rubric import DEFAULT_RUBRIC_FILE, content_hash, load_document

    _meta, definition = load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))
    return compile_rubric(definition, content_hash(definition))


@pytest.fixture
def definition() -> dict[str, Any]:
    from hezuo.rating.rubric import DEFAULT_RUBRIC_FILE, load_document

    return load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))[1]


def top_input(**changes: Any) -> Any:
    from hezuo.rating.engine import CoopInput, apply_changes

    inp = CoopInput(
        cooperative_id=1, year=YEAR, facts=dict(TOP_FACTS), previous={"revenue": 5_000_000.0}, **TOP_STATUS
    )
    return apply_changes(inp, changes) if changes else inp


@pytest.fixture
def rubric(db: Any) -> Any:
    from hezuo.rating.services import ensure_default_rubric, published_rubric

    ensure_default_rubric()
    return published_rubric(YEAR)


def model_facts(**changes: Any) -> dict[str, Any]:
    values = {**TOP_FACTS, **changes}
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in values.items()}


def add_facts(coop: Any, year: int = YEAR, **changes: Any) -> Any:
    from hezuo.registry.models import YearlyFact

    fields = model_facts(**changes)
    if "assembly_date" in fields and fields["assembly_date"] is not None:
        fields["assembly_date"] = fields["assembly_date"].replace(year=year)
    if fields.get("annual_report_date") is not None:
        fields["annual_report_date"] = fields["annual_report_date"].replace(year=year + 1)
    fact = YearlyFact(cooperative=coop, year=year, **fields)
    with change_context(source="cli"):
        save_record(fact)
    return fact


def make_top(coop: Any) -> Any:
    """Give a test cooperative the status of a five-star one (brand, certification, traceability, title)."""
    from hezuo.registry.models import DemonstrationTitle

    before = coop.__class__.objects.get(pk=coop.pk)
    coop.brands = "白枇杷"
    coop.cert_green = True
    coop.has_traceability = True
    coop.registration_date = dt.date(2015, 5, 1)
    with change_context(source="cli"):
        from hezuo.core.services import snapshot

        save_record(coop, before=snapshot(before))
        save_record(DemonstrationTitle(cooperative=coop, level="provincial", year_granted=2020))
    return coop


@pytest.fixture
def rated_city(city_data: dict[str, Any], rubric: Any) -> dict[str, Any]:
    """coop_a top facts (5★), coop_a2 weak facts, coop_b top facts; rated for YEAR (provisional)."""
    from hezuo.rating.services import rate

    make_top(city_data["coop_a"])
    make_top(city_data["coop_b"])
    add_facts(city_data["coop_a"])
    add_facts(
        city_data["coop_a2"],
        assembly_held=False,
        assembly_date=None,
        surplus_returned=30_000.0,
        revenue=200_000.0,
    )
    add_facts(city_data["coop_b"])
    with change_context(source="cli"):
        rate(YEAR)
    return city_data
