"""The rectification case: opening with the data's verdicts, the state machine (every allowed and refused
transition for each role), item outcomes, tasks, assistance, bad input refused with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hezuo.compliance import rectification as rx
from hezuo.compliance.models import (
    RectificationCase,
    RectificationItem,
    RectificationTask,
    SpecialAssistance,
)
from hezuo.conftest import PERSONAS
from hezuo.core.models import ChangeRecord
from hezuo.core.services import history_for
from hezuo.core.testing import ChangeLog

from .helpers import YEAR, facts

pytestmark = pytest.mark.django_db
S = RectificationCase.Status
I = RectificationItem.Status  # noqa: E741
T = RectificationTask.Status
TODAY = timezone.localdate()

# transition -> (status it starts from, the personas who may make it on coop_a's case)
EXPECTED = {
    "start": (S.OPEN, {"city", "district_a"}),
    "close": (S.IN_PROGRESS, {"city", "district_a"}),
    "cancel": (S.OPEN, {"city", "district_a"}),
}


def kwargs(transition: str) -> dict[str, Any]:
    return {"reason": "Merged into another cooperative."} if transition == "cancel" else {"note": "ok"}


@pytest.fixture
def world(city_data: dict[str, Any]) -> dict[str, Any]:
    """coop_a fails K01 and K02 (3 members, 1 farmer) and its annual report is not known (K19 unknown)."""
    facts(city_data["coop_a"], members=3, farmer_members=1, members_with_accounts=3, annual_report_filed=None)
    facts(city_data["coop_b"])
    return city_data


def open_a(world: dict[str, Any], persona: str = "district_a") -> RectificationCase:
    return rx.open_case(world[persona], world["coop_a"], year=YEAR, note="After the spring visit.")


def resolve_all(world: dict[str, Any], case: RectificationCase) -> None:
    for item in case.items.exclude(status__in=[I.PASSED, I.NOT_APPLICABLE, I.WAIVED]):
        rx.record_outcome(item, world["district_a"], outcome="pass", note="Member list checked.")


def case_at(world: dict[str, Any], status: str) -> RectificationCase:
    case = open_a(world)
    if status in (S.IN_PROGRESS, S.CLOSED):
        case = rx.start(case, world["district_a"])
    if status == S.CLOSED:
        resolve_all(world, case)
        case = rx.close(case, world["district_a"])
    if status == S.CANCELLED:
        case = rx.cancel(case, world["district_a"], reason="Duplicate.")
    assert case.status == status
    return case


# ---------------------------------------------------------------------------------------------------------
# opening
def test_opening_judges_each_item_from_the_data(world: dict[str, Any]) -> None:
    case = open_a(world)
    items = {i.key: i for i in case.items.all()}
    assert len(items) == 23 and case.checklist.version == "compliance-v1"
    assert items["K01"].data_result == "fail" and items["K01"].status == I.FAILED
    assert items["K01"].data_detail == {"needed": {"members": 5}, "seen": {"members": 3}}
    assert items["K02"].status == I.FAILED
    assert items["K19"].data_result == "unknown" and items["K19"].status == I.PENDING
    assert items["K19"].data_detail == {"missing": ["annual_report_filed"]}
    for key in ("K08", "K22"):  # the data cannot judge these: left for the counselor
        assert items[key].data_result == "counselor" and items[key].status == I.PENDING
    assert items["K04"].status == I.PASSED and "2024" in items["K04"].evidence
    # each failed item became a task, owned by the cooperative's counselor, due by the item's default days
    tasks = {t.item.key: t for t in case.tasks.all()}
    assert set(tasks) == {"K01", "K02"}
    assert tasks["K01"].owner == world["counselor"]
    assert tasks["K01"].deadline == case.opened_on + dt.timedelta(days=90)
    assert tasks["K02"].deadline == case.opened_on + dt.timedelta(days=180)
    # all of it in the history, by the district user
    records = history_for(case)
    assert records.filter(action=ChangeRecord.Action.CREATE, user=world["district_a"]).count() == 1 + 23 + 2


def test_a_cooperative_without_facts_leaves_every_item_to_the_counselor(city_data: dict[str, Any]) -> None:
    case = rx.open_case(city_data["city"], city_data["coop_a2"], year=YEAR)
    statuses = dict(case.items.values_list("key", "status"))
    # K21 (not suspended) and K23 (credit code) are judged from the cooperative's status
    assert statuses.pop("K21") == I.PASSED and statuses.pop("K23") == I.PASSED
    assert set(statuses.values()) == {I.PENDING}
    assert not case.tasks.exists()
    assert case.tasks.model.objects.count() == 0
    # the owner falls back to the opener when no counselor is assigned
    item = case.items.get(key="K01")
    rx.record_outcome(item, city_data["city"], outcome="fail", note="Only 4 members met.")
    assert item.tasks.get().owner == city_data["city"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_open(world: dict[str, Any], persona: str) -> None:
    if persona in {"city", "district_a"}:
        assert open_a(world, persona).status == S.OPEN
    else:
        with pytest.raises(rx.TransitionRefused), ChangeLog() as log:
            open_a(world, persona)
        assert not log.records and not RectificationCase.objects.exists()


def test_opening_bad_input(world: dict[str, Any]) -> None:
    da = world["district_a"]
    with ChangeLog() as log:
        with pytest.raises(ValidationError) as exc:
            rx.open_case(da, world["coop_a"], year=TODAY.year + 1)
        assert "year" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            rx.open_case(da, world["coop_a"], year=2010)  # registered 2016
        assert "registered" in exc.value.message_dict["year"][0]
    assert not log.records
    open_a(world)
    with pytest.raises(ValidationError) as exc, ChangeLog() as log:
        open_a(world)
    assert "cooperative" in exc.value.message_dict and not log.records
    assert RectificationCase.objects.count() == 1


def test_opening_from_a_visit(world: dict[str, Any]) -> None:
    from hezuo.fieldwork.models import Visit

    from .helpers import saved

    visit = saved(
        Visit(
            cooperative=world["coop_a"],
            visitor=world["counselor"],
            date=dt.date(2025, 6, 1),
            operating=True,
            farmers_taking_part=False,
            books_kept=False,
            assembly_held=True,
            office_and_sign=True,
            classification="needs_rectification",
            note="Books not kept.",
        )
    )
    # someone else's visit, or a counselor without the cooperative: refused
    with pytest.raises(rx.TransitionRefused):
        rx.open_from_visit(visit, world["counselor_unassigned"])
    with pytest.raises(rx.TransitionRefused):
        rx.open_from_visit(visit, world["district_b"])
    case = rx.open_from_visit(visit)  # the counselor who classified it
    assert case.visit == visit and case.year == 2024 and case.opened_by == world["counselor"]
    assert case.items.count() == 23 and case.tasks.count() == 2
    # again (by the district): the open case is returned, nothing new
    with ChangeLog() as log:
        assert rx.open_from_visit(visit, world["district_a"]) == case
    assert not log.records
    normal = saved(Visit(cooperative=world["coop_b"], visitor=world["district_b"], date=dt.date(2025, 6, 1)))
    with pytest.raises(ValidationError) as exc:
        rx.open_from_visit(normal, world["district_b"])
    assert "classification" in exc.value.message_dict


def test_a_visit_needing_rectification_opens_the_case_once(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from hezuo.fieldwork.models import Visit

    from .helpers import saved

    def visit(coop: Any, who: Any, classification: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return saved(
                Visit(
                    cooperative=coop,
                    visitor=who,
                    date=dt.date(2025, 6, 1),
                    operating=True,
                    farmers_taking_part=False,
                    books_kept=False,
                    assembly_held=True,
                    office_and_sign=True,
                    classification=classification,
                )
            )

    visit(world["coop_b"], world["district_b"], "normal")
    assert not RectificationCase.objects.exists()
    first = visit(world["coop_a"], world["counselor"], "needs_rectification")
    case = RectificationCase.objects.get()
    assert case.visit == first and case.cooperative == world["coop_a"] and case.year == 2024
    visit(world["coop_a"], world["counselor"], "needs_rectification")  # the open case is kept
    assert RectificationCase.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------
# the state machine
@pytest.mark.parametrize("transition", list(EXPECTED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_transition_is_open_only_to_the_right_role(
    world: dict[str, Any], persona: str, transition: str
) -> None:
    start, allowed = EXPECTED[transition]
    case = case_at(world, start)
    if transition == "close":
        resolve_all(world, case)
    fn = getattr(rx, transition)
    if persona in allowed:
        case = fn(case, world[persona], **kwargs(transition))
        assert case.status == rx.TRANSITIONS[transition][2]
        assert history_for(case).filter(user=world[persona], action="update").exists()
    else:
        with pytest.raises(rx.TransitionRefused), ChangeLog() as log:
            fn(case, world[persona], **kwargs(transition))
        assert not log.records
        case.refresh_from_db()
        assert case.status == start


OUT_OF_ORDER = [
    ("start", S.IN_PROGRESS),
    ("start", S.CLOSED),
    ("start", S.CANCELLED),
    ("close", S.OPEN),
    ("close", S.CLOSED),
    ("close", S.CANCELLED),
    ("cancel", S.CLOSED),
    ("cancel", S.CANCELLED),
]


@pytest.mark.parametrize(("transition", "status"), OUT_OF_ORDER)
def test_transitions_out_of_order_are_refused(world: dict[str, Any], transition: str, status: str) -> None:
    case = case_at(world, status)
    with pytest.raises(ValidationError) as exc, ChangeLog() as log:
        getattr(rx, transition)(case, world["district_a"], **kwargs(transition))
    assert "status" in exc.value.message_dict
    assert not log.records
    case.refresh_from_db()
    assert case.status == status


def test_closing_with_open_items_is_refused_with_the_list(world: dict[str, Any]) -> None:
    case = case_at(world, S.IN_PROGRESS)
    with pytest.raises(ValidationError) as exc, ChangeLog() as log:
        rx.close(case, world["district_a"])
    message = exc.value.message_dict["items"][0]
    for key in ("K01", "K02", "K08", "K19", "K22"):
        assert key in message
    assert "K04" not in message and not log.records
    # pass or waive each one: then the case closes
    items = {i.key: i for i in case.items.all()}
    rx.record_outcome(items["K01"], world["counselor"], outcome="pass", note="12 members now, list seen.")
    rx.record_outcome(items["K02"], world["district_a"], outcome="waive", note="Cure period runs to June.")
    rx.record_outcome(items["K08"], world["counselor"], outcome="pass", note="Fewer than 150 members.")
    rx.record_outcome(items["K22"], world["district_a"], outcome="pass", note="Capital table seen.")
    with pytest.raises(ValidationError) as exc:
        rx.close(case, world["district_a"])
    assert exc.value.message_dict["items"][0].count("K") == 1  # K19 alone
    rx.record_outcome(items["K19"], world["counselor"], outcome="pass", note="Filed 2025-03-02.")
    case = rx.close(case, world["district_a"], note="All in order.")
    assert case.status == S.CLOSED and case.closed_on == TODAY
    statuses = dict(case.tasks.values_list("item__key", "status"))
    assert statuses == {"K01": T.DONE, "K02": T.CANCELLED}


# ---------------------------------------------------------------------------------------------------------
# item outcomes
OUTCOME_ROLES = {
    "pass": {"city", "district_a", "counselor"},
    "fail": {"city", "district_a", "counselor"},
    "waive": {"city", "district_a"},
}


@pytest.mark.parametrize("outcome", list(OUTCOME_ROLES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_who_records_item_outcomes(world: dict[str, Any], persona: str, outcome: str) -> None:
    case = open_a(world)
    item = case.items.get(key="K19")
    if persona in OUTCOME_ROLES[outcome]:
        item = rx.record_outcome(item, world[persona], outcome=outcome, note="Seen at the office.")
        assert item.status == {"pass": I.PASSED, "fail": I.FAILED, "waive": I.WAIVED}[outcome]
        assert item.decided_by == world[persona]
        assert item.tasks.filter(status=T.OPEN).exists() == (outcome == "fail")
    else:
        with pytest.raises(rx.TransitionRefused), ChangeLog() as log:
            rx.record_outcome(item, world[persona], outcome=outcome, note="Seen at the office.")
        assert not log.records


def test_outcome_bad_input(world: dict[str, Any]) -> None:
    case = open_a(world)
    item = case.items.get(key="K01")
    da = world["district_a"]
    with ChangeLog() as log:
        with pytest.raises(ValidationError) as exc:
            rx.record_outcome(item, da, outcome="waive", note="  ")
        assert "waive_reason" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            rx.record_outcome(item, da, outcome="pass", note="")
        assert "evidence" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            rx.record_outcome(item, da, outcome="maybe", note="x")
        assert "outcome" in exc.value.message_dict
    assert not log.records
    item.refresh_from_db()
    assert item.status == I.FAILED
    # nothing is recorded on a case that has ended
    rx.cancel(case, da, reason="Opened by mistake.")
    with pytest.raises(ValidationError), ChangeLog() as log:
        rx.record_outcome(item, da, outcome="pass", note="Fine now.")
    assert not log.records


def test_passing_completes_the_task_and_failing_again_opens_one(world: dict[str, Any]) -> None:
    case = open_a(world)
    item = case.items.get(key="K01")
    task = item.tasks.get()
    rx.record_outcome(item, world["counselor"], outcome="pass", note="Member list: 6 members.")
    task.refresh_from_db()
    assert task.status == T.DONE and task.done_at is not None
    rx.record_outcome(item, world["district_a"], outcome="fail", note="Two members left.")
    assert item.tasks.filter(status=T.OPEN).count() == 1
    rx.record_outcome(item, world["district_a"], outcome="fail", note="Still short.")
    assert item.tasks.filter(status=T.OPEN).count() == 1  # never two open tasks for one item


def test_refresh_from_data(world: dict[str, Any]) -> None:
    from hezuo.core.services import save_record, snapshot
    from hezuo.registry.models import YearlyFact

    case = open_a(world)
    fact = YearlyFact.objects.get(cooperative=world["coop_a"], year=YEAR)
    before = snapshot(fact)
    fact.members, fact.farmer_members, fact.members_with_accounts = 8, 8, 8
    fact.annual_report_filed = False
    from hezuo.core.context import change_context

    with change_context(source="cli"):
        save_record(fact, before=before)
    with pytest.raises(rx.TransitionRefused):
        rx.refresh_from_data(case, world["counselor"])
    changed = rx.refresh_from_data(case, world["district_a"])
    assert changed == ["K01", "K02", "K19"]
    statuses = dict(case.items.values_list("key", "status"))
    assert statuses["K01"] == statuses["K02"] == I.PASSED and statuses["K19"] == I.FAILED
    assert dict(case.tasks.values_list("item__key", "status")) == {
        "K01": T.DONE,
        "K02": T.DONE,
        "K19": T.OPEN,
    }


# ---------------------------------------------------------------------------------------------------------
# tasks and assistance
def test_task_changes(world: dict[str, Any]) -> None:
    case = open_a(world)
    task = case.tasks.get(item__key="K01")
    with pytest.raises(rx.TransitionRefused):
        rx.update_task(task, world["counselor"], note="Called the chair.")
    with pytest.raises(rx.TransitionRefused):
        rx.update_task(task, world["district_b"], note="x")
    with ChangeLog() as log:
        with pytest.raises(ValidationError) as exc:
            rx.update_task(task, world["district_a"], deadline=case.opened_on - dt.timedelta(days=1))
        assert "deadline" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            rx.update_task(task, world["district_a"], owner=world["district_b"])  # cannot see the case
        assert "owner" in exc.value.message_dict
    assert not log.records
    new = case.opened_on + dt.timedelta(days=30)
    task = rx.update_task(task, world["district_a"], owner=world["district_a"], deadline=new, note="Urgent.")
    assert (task.owner, task.deadline, task.note) == (world["district_a"], new, "Urgent.")
    assert history_for(case).filter(content_type__model="rectificationtask", action="update").exists()


ASSISTANCE = {
    "kind": "funding",
    "description": "Bookkeeping software and a trainer",
    "amount": Decimal("20000"),
    "date": TODAY,
    "given_by": "宁海县供销合作社",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_records_assistance(world: dict[str, Any], persona: str) -> None:
    case = open_a(world)
    if persona in {"city", "district_a"}:
        record = rx.add_assistance(case, world[persona], **ASSISTANCE)
        assert record.recorded_by == world[persona] and record.amount == Decimal("20000")
    else:
        with pytest.raises(rx.TransitionRefused):
            rx.add_assistance(case, world[persona], **ASSISTANCE)
        assert not SpecialAssistance.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"kind": "loan"}, "kind"),
        ({"description": " "}, "description"),
        ({"given_by": ""}, "given_by"),
        ({"date": None}, "date"),
        ({"date": TODAY + dt.timedelta(days=1)}, "date"),
        ({"date": dt.date(2015, 1, 1)}, "date"),
    ],
)
def test_assistance_bad_input(world: dict[str, Any], change: dict[str, Any], field: str) -> None:
    case = open_a(world)
    with pytest.raises(ValidationError) as exc, ChangeLog() as log:
        rx.add_assistance(case, world["district_a"], **{**ASSISTANCE, **change})
    assert field in exc.value.message_dict
    assert not log.records and not SpecialAssistance.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# overdue tasks
def test_overdue_tasks(world: dict[str, Any]) -> None:
    from hezuo.core.scoping import scope_for

    case = open_a(world)
    later = case.opened_on + dt.timedelta(days=100)  # K01 (90 days) is overdue, K02 (180) is not
    keys = {t.item.key for t in rx.overdue_tasks(world["district_a"], later)}
    assert keys == {"K01"}
    assert {t.item.key for t in rx.overdue_tasks(scope_for(world["counselor"]), later)} == {"K01"}
    assert not rx.overdue_tasks(world["district_b"], later).exists()
    assert not rx.overdue_tasks(world["counselor_unassigned"], later).exists()
    assert not rx.overdue_tasks(world["district_a"], case.opened_on).exists()
    # the reminder source: the counselor owns it, district staff see it in their district
    from hezuo.fieldwork.reminders import SOURCES

    source = SOURCES["compliance.tasks"]
    (group,) = source(world["counselor"], later)
    assert group.count == 1 and "K01" in group.items[0].title
    assert list(source(world["district_b"], later)) == []
    (group,) = source(world["city"], later)
    assert group.count == 1
    rx.cancel(case, world["district_a"], reason="Merged.")
    assert not rx.overdue_tasks(world["city"], later).exists()


def test_timeline_source(world: dict[str, Any]) -> None:
    from hezuo.fieldwork.timeline import timeline_for

    case = open_a(world)
    rx.add_assistance(case, world["district_a"], **ASSISTANCE)
    titles = [e.title for e in timeline_for(world["counselor"], world["coop_a"]) if e.kind == "rectification"]
    assert any(f"#{case.pk}" in t for t in titles) and any("Funding" in t for t in titles)
    assert [e for e in timeline_for(world["district_b"], world["coop_a"]) if e.kind == "rectification"] == []


def test_the_datas_detail_reads_in_words_in_the_history() -> None:
    """An item's detail from the data reads by the facts' labels in the History, not as stored keys."""
    from django.utils import translation

    from hezuo.compliance.models import RectificationItem

    detail = {"needed": {"internal_audit": True}, "seen": {"internal_audit": False}, "missing": ["members"]}
    with translation.override("zh-hans"):
        shown = RectificationItem.history_display("data_detail", detail)
    assert shown is not None and "internal_audit" not in shown and "members" not in shown
    assert "否" in shown and "是" in shown
    assert RectificationItem.history_display("status", "passed") is None
