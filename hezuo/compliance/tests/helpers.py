"""Test helpers of compliance: yearly facts that pass (or fail) the checklist, a loaded checklist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.registry.models import YearlyFact

YEAR = 2024


def good_facts(year: int = YEAR) -> dict[str, Any]:
    """Facts with which every item the data can judge passes."""
    return {
        "members": 10,
        "farmer_members": 10,
        "entity_members": 0,
        "public_admin_member": False,
        "member_register_filed": True,
        "extra_votes": 0,
        "assembly_held": True,
        "assembly_date": dt.date(year, 3, 1),
        "assembly_quorum_met": True,
        "minutes_signed": True,
        "organs_in_place": True,
        "officer_conflict": False,
        "accounting_compliant": True,
        "documents_available": True,
        "separate_accounts": True,
        "reserve_quantified": True,
        "members_with_accounts": 10,
        "distributable_surplus": Decimal("10000"),
        "surplus_returned": Decimal("7000"),
        "subsidy_received": False,
        "subsidy_quantified": True,
        "internal_audit": True,
        "financial_statements": True,
        "annual_report_filed": True,
        "annual_report_date": dt.date(year + 1, 3, 1),
        "revenue": Decimal("500000"),
        "member_transactions": Decimal("300000"),
        "nonmember_transactions": Decimal("10000"),
    }


def saved(obj: Any) -> Any:
    with change_context(source="cli"):
        save_record(obj)
    return obj


def facts(coop: Any, year: int = YEAR, **changes: Any) -> YearlyFact:
    """The cooperative's facts for the year: good_facts() with `changes` (None = not reported)."""
    values = {**good_facts(year), **changes}
    return saved(YearlyFact(cooperative=coop, year=year, **values))
