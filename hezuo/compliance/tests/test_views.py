"""Rectification pages through the personas: open a case, record outcomes, change a task, record assistance,
move the case on and close it; filters, the export, refusals shown on the form with nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hezuo.compliance import rectification as rx
from hezuo.compliance.models import RectificationCase, RectificationItem, SpecialAssistance
from hezuo.core.testing import ChangeLog, xlsx_rows, xlsx_text

from .helpers import YEAR, facts

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def world(city_data: dict[str, Any]) -> dict[str, Any]:
    facts(city_data["coop_a"], members=3, farmer_members=1, members_with_accounts=3, annual_report_filed=None)
    facts(city_data["coop_b"])
    return city_data


def client(world: dict[str, Any], persona: str) -> Client:
    c = Client()
    c.force_login(world[persona])
    return c


def test_the_whole_case_through_the_pages(world: dict[str, Any]) -> None:
    district, counselor = client(world, "district_a"), client(world, "counselor")
    coop = world["coop_a"]
    # the cooperative hook offers to open a case
    from hezuo.compliance.views import cooperative_cases_context

    hook = cooperative_cases_context(world["district_a"], coop)
    assert hook["compliance_can_open"] and hook["compliance_cases"] == []
    assert not cooperative_cases_context(world["counselor"], coop)["compliance_can_open"]
    # open
    url = reverse("compliance:case_open", args=[coop.pk])
    page = district.get(url)
    assert page.status_code == 200 and f'value="{TODAY.year - 1}"' in page.content.decode()
    response = district.post(url, {"year": YEAR, "note": "After the spring visit."})
    case = RectificationCase.objects.get()
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
    page = district.get(case.get_absolute_url()).content.decode()
    assert 'data-key="K01" data-status="failed"' in page and 'data-key="K08" data-status="pending"' in page
    assert "form-start" in page and "form-cancel" in page and "form-close" not in page
    assert cooperative_cases_context(world["district_a"], coop)["compliance_cases"] == [case]
    # the counselor sees it, records outcomes, but has no transitions
    page = counselor.get(case.get_absolute_url()).content.decode()
    assert "form-start" not in page and "add-assistance" not in page
    k19 = case.items.get(key="K19")
    page = counselor.get(reverse("compliance:item_detail", args=[k19.pk])).content.decode()
    assert 'value="pass"' in page and 'value="fail"' in page and 'value="waive"' not in page
    response = counselor.post(
        reverse("compliance:item_detail", args=[k19.pk]), {"outcome": "pass", "note": "Filed 2025-03-02."}
    )
    assert response.status_code == 302
    # a counselor may not waive: the choice is not offered and a forged one is refused on the form
    k01 = case.items.get(key="K01")
    response = counselor.post(
        reverse("compliance:item_detail", args=[k01.pk]), {"outcome": "waive", "note": "x"}
    )
    assert response.status_code == 400
    k01.refresh_from_db()
    assert k01.status == RectificationItem.Status.FAILED
    # waiving without a reason: the message names the note
    response = district.post(
        reverse("compliance:item_detail", args=[k01.pk]), {"outcome": "waive", "note": ""}
    )
    assert response.status_code == 400 and "reason for waiving" in response.content.decode()
    # start, then closing with open items is refused with their list
    assert (
        district.post(reverse("compliance:case_transition", args=[case.pk, "start"]), {}).status_code == 302
    )
    with ChangeLog() as log:
        response = district.post(reverse("compliance:case_transition", args=[case.pk, "close"]), {})
    assert response.status_code == 400 and not log.records
    body = response.content.decode()
    assert "K01" in body and "K22" in body and "neither passed nor waived" in body
    # the task: a deadline before the opening is refused, naming the field
    task = case.tasks.get(item__key="K01")
    url = reverse("compliance:task_detail", args=[task.pk])
    assert counselor.post(url, {"deadline": "2030-01-01"}).status_code == 404
    before = case.opened_on - dt.timedelta(days=1)
    response = district.post(
        url, {"owner": world["counselor"].pk, "deadline": before.isoformat(), "note": ""}
    )
    assert response.status_code == 400 and "before the case was opened" in response.content.decode()
    later = case.opened_on + dt.timedelta(days=20)
    response = district.post(
        url, {"owner": world["district_a"].pk, "deadline": later.isoformat(), "note": "Soon"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.deadline == later and task.owner == world["district_a"]
    # assistance: a negative amount refused naming the amount, then recorded
    url = reverse("compliance:assistance_add", args=[case.pk])
    data = {
        "kind": "training",
        "description": "Bookkeeping course",
        "amount": "-100",
        "date": TODAY.isoformat(),
        "given_by": "宁海县供销合作社",
    }
    response = district.post(url, data)
    assert response.status_code == 400 and "cannot be negative" in response.content.decode()
    assert not SpecialAssistance.objects.exists()
    assert district.post(url, {**data, "amount": "3000"}).status_code == 302
    assert "Bookkeeping course" in district.get(case.get_absolute_url()).content.decode()
    # pass or waive the rest, then close
    for item in case.items.exclude(status__in=["passed", "n/a", "waived"]):
        note = (
            {"outcome": "waive", "note": "Cure period running."}
            if item.key == "K02"
            else {
                "outcome": "pass",
                "note": "Seen at the office.",
            }
        )
        assert district.post(reverse("compliance:item_detail", args=[item.pk]), note).status_code == 302
    assert (
        district.post(reverse("compliance:case_transition", args=[case.pk, "close"]), {}).status_code == 302
    )
    case.refresh_from_db()
    assert case.status == RectificationCase.Status.CLOSED
    # after closing nothing can be recorded: no forms offered, posts refused
    page = district.get(reverse("compliance:item_detail", args=[k01.pk])).content.decode()
    assert "outcome-form" not in page
    assert (
        district.post(reverse("compliance:item_detail", args=[k01.pk]), {"outcome": "fail"}).status_code
        == 404
    )
    assert cooperative_cases_context(world["district_a"], coop)["compliance_can_open"]


def test_cancel_needs_a_reason(world: dict[str, Any]) -> None:
    case = rx.open_case(world["district_a"], world["coop_a"], year=YEAR)
    district = client(world, "district_a")
    url = reverse("compliance:case_transition", args=[case.pk, "cancel"])
    response = district.post(url, {"reason": ""})
    assert response.status_code == 400
    assert district.post(url, {"reason": "Opened on the wrong cooperative."}).status_code == 302
    case.refresh_from_db()
    assert case.status == "cancelled" and case.cancel_reason


def test_the_list_filters_and_export(world: dict[str, Any]) -> None:
    a = rx.open_case(world["district_a"], world["coop_a"], year=YEAR)
    b = rx.open_case(world["district_b"], world["coop_b"], year=YEAR)  # every data item passes: no tasks
    rx.start(b, world["district_b"])
    city = client(world, "city")

    def listed(query: str) -> set[int]:
        import re

        page = city.get(reverse("compliance:case_list") + query).content.decode()
        return {int(pk) for pk in re.findall(r'<tr data-pk="(\d+)"', page)}

    assert listed("") == {a.pk, b.pk}
    assert listed(f"?district={world['division_a'].code}") == {a.pk}
    assert listed("?status=in_progress") == {b.pk}
    assert listed("?status=active") == {a.pk, b.pk}
    assert listed("?status=closed") == set()
    assert listed("?overdue=1") == set()
    # 100 days on, K01's task (90 days) is overdue
    from unittest import mock

    later = a.opened_on + dt.timedelta(days=100)
    with mock.patch("hezuo.compliance.views.timezone.localdate", return_value=later):
        assert listed("?overdue=1") == {a.pk}
        response = city.get(reverse("compliance:case_export") + "?overdue=1")
        rows = xlsx_rows(response)
        text = "\n".join("\t".join(str(v) for v in row) for row in rows)
    # open items (K01, K02, K19 and the counselor's K08 and K22), and the overdue task
    assert [(row[0], row[-2], row[-1]) for row in rows[1:]] == [(a.pk, 5, 1)]
    assert world["coop_a"].name in text and world["coop_b"].name not in text
    text = xlsx_text(client(world, "viewer").get(reverse("compliance:case_export")))
    assert world["coop_a"].name in text and world["coop_b"].name in text
    text = xlsx_text(client(world, "district_b").get(reverse("compliance:case_export")))
    assert world["coop_a"].name not in text and world["coop_b"].name in text


def test_the_checklist_page(world: dict[str, Any]) -> None:
    from hezuo.compliance.checklist import active_checklist

    checklist = active_checklist()
    page = client(world, "coop_user").get(checklist.get_absolute_url()).content.decode()
    assert page.count("<tr data-key=") == 23 and "法 12(一)" in page and "GB 32100-2015" in page


def test_the_api_opens_and_moves_a_case(world: dict[str, Any]) -> None:
    api = client(world, "district_a")
    response = api.post(
        reverse("rectificationcase-list"),
        {"cooperative": world["coop_a"].pk, "year": YEAR},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    item = RectificationItem.objects.get(case_id=pk, key="K19")
    response = api.post(
        reverse("rectificationitem-outcome", args=[item.pk]),
        {"outcome": "waive"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "waive_reason" in response.json()
    response = api.post(
        reverse("rectificationitem-outcome", args=[item.pk]),
        {"outcome": "pass", "note": "Filed."},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "passed"
    response = api.post(
        reverse("rectificationcase-transition", args=[pk, "close"]), content_type="application/json"
    )
    assert response.status_code == 400 and "status" in response.json()
    response = api.post(
        reverse("rectificationcase-transition", args=[pk, "start"]), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    response = api.post(
        reverse("rectificationcase-transition", args=[pk, "close"]), content_type="application/json"
    )
    assert response.status_code == 400 and "K01" in response.json()["items"][0]
    response = api.post(
        reverse("rectificationassistance-list"),
        {
            "case": pk,
            "kind": "funding",
            "amount": "-1",
            "description": "x",
            "given_by": "y",
            "date": str(TODAY),
        },
        content_type="application/json",
    )
    assert response.status_code == 400 and "amount" in response.json()
    response = api.post(
        reverse("rectificationassistance-list"),
        {
            "case": pk,
            "kind": "funding",
            "amount": "5000",
            "description": "x",
            "given_by": "y",
            "date": str(TODAY),
        },
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["amount"] == "5000.00"
    task = RectificationCase.objects.get(pk=pk).tasks.get(item__key="K01")
    response = api.patch(
        reverse("rectificationtask-detail", args=[task.pk]),
        {"owner": world["district_b"].pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "owner" in response.json()
    response = api.post(
        reverse("rectificationcase-transition", args=[pk, "cancel"]),
        {"reason": ""},
        content_type="application/json",
    )
    assert response.status_code == 400 and "cancel_reason" in response.json()
