"""The contact log, and the one timeline of a cooperative (visits, notes, cleanup cases, other sources)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.services import history_for, save_record
from hezuo.fieldwork import cleanup, timeline
from hezuo.fieldwork.models import ContactNote, Visit

from .helpers import no_business

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def note(world: dict[str, Any], coop: str = "coop_a", **fields: Any) -> ContactNote:
    values = {"kind": "call", "date": TODAY, "text": "理事长电话说明年报情况", "author": world["city"]}
    values.update(fields)
    obj = ContactNote(cooperative=world[coop], **values)
    with change_context(source="cli"):
        save_record(obj)
    return obj


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date": TODAY + dt.timedelta(days=1)}, "date"),
        ({"date": dt.date(2010, 1, 1)}, "date"),  # before the cooperative was registered
        ({"text": "   "}, "text"),
        ({"kind": "fax"}, "kind"),
    ],
)
def test_bad_notes_are_refused(city_data: dict[str, Any], changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        note(city_data, **changes)
    assert field in err.value.message_dict
    assert not ContactNote.objects.exists()


@pytest.mark.parametrize("persona", ["district_a", "counselor", "city"])
def test_staff_and_assigned_counselors_add_notes(city_data: dict[str, Any], persona: str) -> None:
    client = Client()
    client.force_login(city_data[persona])
    url = reverse("fieldwork:contact_add", args=[city_data["coop_a"].pk])
    bad = client.post(url, {"kind": "meeting", "date": str(TODAY + dt.timedelta(days=2)), "text": "x"})
    assert bad.status_code == 400 and "date" in bad.context["form"].errors
    response = client.post(
        url, {"kind": "meeting", "date": str(TODAY), "people": "理事长 王某", "text": "商量年报补报"}
    )
    assert response.status_code == 302
    saved = ContactNote.objects.get()
    assert saved.author == city_data[persona] and saved.cooperative == city_data["coop_a"]
    record = history_for(city_data["coop_a"]).filter(content_type__model="contactnote").get()
    assert record.user == city_data[persona] and record.after["text"] == "商量年报补报"


def test_notes_through_the_api(city_data: dict[str, Any]) -> None:
    client = Client()
    client.force_login(city_data["counselor"])
    payload = {
        "cooperative": city_data["coop_a"].pk,
        "kind": "message",
        "date": str(TODAY),
        "text": "微信通知",
    }
    ok = client.post(reverse("contactnote-list"), payload, "application/json")
    assert ok.status_code == 201 and ok.json()["author"] == str(city_data["counselor"])
    # a cooperative out of reach is not even a valid choice
    other = client.post(
        reverse("contactnote-list"), {**payload, "cooperative": city_data["coop_b"].pk}, "application/json"
    )
    assert other.status_code == 400 and "cooperative" in other.json()
    future = client.post(
        reverse("contactnote-list"),
        {**payload, "date": str(TODAY + dt.timedelta(days=3))},
        "application/json",
    )
    assert future.status_code == 400 and "date" in future.json()
    assert ContactNote.objects.count() == 1


def test_one_timeline_of_visits_notes_and_cases(city_data: dict[str, Any]) -> None:
    from hezuo.fieldwork import runs

    coop = city_data["coop_a"]
    no_business(coop, 2023, 2024)
    runs.run_detection(year=2024, as_of=dt.date(2025, 11, 1))
    case = cleanup.open_case(city_data["district_a"], coop)
    with change_context(source="cli"):
        save_record(
            Visit(cooperative=coop, visitor=city_data["counselor"], date=TODAY - dt.timedelta(days=3))
        )
    note(city_data, date=TODAY - dt.timedelta(days=1), people="村委 李某")
    cleanup.clear(case, city_data["district_a"], reason="仍在经营")
    entries = timeline.timeline_for(city_data["district_a"], coop)
    kinds = [e.kind for e in entries]
    assert set(kinds) == {"visit", "contact", "cleanup"}
    assert entries == sorted(entries, key=lambda e: e.date, reverse=True)
    assert next(e.title for e in entries if e.kind == "cleanup").endswith("cleared")
    # out of reach: nothing
    assert timeline.timeline_for(city_data["district_b"], coop) == []
    # the tab shows it
    client = Client()
    client.force_login(city_data["counselor"])
    page = client.get(coop.get_absolute_url() + "?tab=cleanup").content.decode()
    assert 'id="fieldwork-timeline"' in page and "村委 李某" in page and 'data-testid="add-contact"' in page
    client.force_login(city_data["viewer"])
    page = client.get(coop.get_absolute_url() + "?tab=cleanup").content.decode()
    assert "村委 李某" in page and 'data-testid="add-contact"' not in page


def test_other_apps_add_their_source(city_data: dict[str, Any], monkeypatch: Any) -> None:
    calls = []

    def rectifications(user: Any, cooperative: Any) -> list[timeline.Entry]:
        calls.append((user, cooperative))
        return [timeline.Entry(dt.date(2025, 1, 2), "rectification", "整改任务 K03")]

    monkeypatch.setitem(timeline.SOURCES, "compliance.rectification", rectifications)
    entries = timeline.timeline_for(city_data["city"], city_data["coop_a"])
    assert [e.title for e in entries] == ["整改任务 K03"] and len(calls) == 1


def test_the_reason_typed_on_field_forms_goes_into_the_history(city_data: dict[str, Any]) -> None:
    """Every form carries the optional reason: contact notes, visits, campaigns, rectification cases."""
    from hezuo.compliance.models import RectificationCase
    from hezuo.core.models import ChangeRecord
    from hezuo.fieldwork.models import Campaign

    today = timezone.localdate()
    coop = city_data["coop_a"]
    client = Client()
    client.force_login(city_data["district_a"])

    def reason_of(obj: Any) -> str:
        return ChangeRecord.objects.filter(object_id=obj.pk, action="create").latest("pk").message

    client.post(
        reverse("fieldwork:contact_add", args=[coop.pk]),
        {"kind": "call", "date": str(today), "text": "电话回访", "reason": "季度回访"},
    )
    assert reason_of(ContactNote.objects.get()) == "季度回访"
    client.post(reverse("fieldwork:visit_add", args=[coop.pk]), {"date": str(today), "reason": "群众反映"})
    assert reason_of(Visit.objects.get()) == "群众反映"
    client.post(
        reverse("fieldwork:campaign_add"),
        {
            "name": "宁海摸底",
            "district": city_data["division_a"].pk,
            "start_date": str(today),
            "end_date": str(today + dt.timedelta(days=30)),
            "reason": "县里部署",
        },
    )
    assert reason_of(Campaign.objects.get()) == "县里部署"
    client.post(
        reverse("compliance:case_open", args=[coop.pk]), {"year": today.year - 1, "reason": "走访发现问题"}
    )
    assert reason_of(RectificationCase.objects.get()) == "走访发现问题"
