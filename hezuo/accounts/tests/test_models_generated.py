"""Generated view tests (hezuo.core.testing) for counselor assignments: scope, history, permissions."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hezuo.accounts.models import CounselorAssignment
from hezuo.accounts.views import CounselorAssignmentUI
from hezuo.conftest import make_user
from hezuo.core.context import change_context
from hezuo.core.scoping import ADD, CHANGE, RETIRE
from hezuo.core.services import save_record
from hezuo.core.testing import ModelSpec, ModelViewTests, World

_n = itertools.count(1)
MANAGE = {ADD, CHANGE, RETIRE}


def make_assignment(world: World, where: str) -> CounselorAssignment:
    """A new counselor of the district, assigned to coop_a (where="A") or coop_b (where="B")."""
    persona = "district_a" if where == "A" else "district_b"
    counselor = make_user(f"counselor-x{next(_n)}", "counselor", district=world[persona].district)
    assignment = CounselorAssignment(
        counselor=counselor,
        cooperative=world["coop_a" if where == "A" else "coop_b"],
        start_date=dt.date(2024, 3, 1),
    )
    with change_context(source="cli"):
        save_record(assignment)
    return assignment


def shown_assignments(response: Any) -> Any:
    return response.context["assignments"]


class TestCounselorAssignmentViews(ModelViewTests):
    spec = ModelSpec(
        ui=CounselorAssignmentUI(),
        make=make_assignment,
        create_data=lambda world: {
            "counselor": str(world["counselor_unassigned"].pk),
            "start_date": "2024-09-01",
        },
        change=("end_date", "2025-06-30"),
        api_create=lambda world: {
            "counselor": world["counselor_unassigned"].pk,
            "cooperative": world["coop_a"].pk,
            "start_date": "2024-09-01",
        },
        parent_rows=shown_assignments,
        # only district and city staff manage assignments; whoever sees the cooperative sees who counsels
        # it (its Counselors tab), the counselor included
        denied={"viewer": MANAGE, "counselor": MANAGE, "coop_user": MANAGE},
    )
