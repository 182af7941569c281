"""Reminders: the pure rules and the digest's composition, the sources through each persona's scope, the home
page, the daily digest (email, dry run, command, task) and other apps' sources."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.fieldwork import reminders
from hezuo.fieldwork.campaigns import open_campaign
from hezuo.fieldwork.models import Visit
from hezuo.fieldwork.reminders import Group, Item, compose_digest

TODAY = timezone.localdate()
D = dt.date(2025, 11, 20)


# pure -------------------------------------------------------------------------------------------------
def test_due_dates() -> None:
    assert reminders.due_date(dt.date(2025, 1, 1), dt.date(2024, 1, 1), 90) == dt.date(2025, 4, 1)
    assert reminders.due_date(None, dt.date(2025, 1, 1), 30) == dt.date(2025, 1, 31)
    assert reminders.due_date(None, None, 30) is None
    assert reminders.is_overdue(dt.date(2025, 1, 1), dt.date(2025, 1, 2))
    assert not reminders.is_overdue(dt.date(2025, 1, 2), dt.date(2025, 1, 2))
    assert not reminders.is_overdue(None, dt.date(2025, 1, 2))


def test_compose_digest_is_pure() -> None:
    assert compose_digest("王", [], D) is None
    assert compose_digest("王", [Group("x", "Nothing", 0)], D) is None
    groups = [
        Group(
            "campaign-1",
            "Campaign “2025”: not visited by the end of the period",
            12,
            tuple(Item(f"合作社{i}", dt.date(2025, 11, 1), "", f"/registry/c/{i}/") for i in range(10)),
            "/fieldwork/campaigns/1/cooperatives/?status=overdue",
        ),
        Group(
            "assigned",
            "Assigned cooperatives not visited for 90 days",
            1,
            (Item("甲社", D, "never visited"),),
        ),
    ]
    digest = compose_digest("王五", groups, D, "https://hezuo.example.cn/")
    assert digest is not None and digest.count == 13
    assert digest.subject == "[hezuo] 13 overdue items on 2025-11-20"
    body = digest.body
    assert body.startswith("Hello 王五,")
    assert "■ Campaign “2025”: not visited by the end of the period (12)" in body
    assert "  - 合作社0 · 19 days late" in body and "https://hezuo.example.cn/registry/c/0/" in body
    assert "… and 2 more" in body
    assert "See all: https://hezuo.example.cn/fieldwork/campaigns/1/cooperatives/?status=overdue" in body
    assert "  - 甲社 · due today · never visited" in body
    single = compose_digest("王五", groups[1:], D)
    assert single is not None and single.subject == "[hezuo] 1 overdue item on 2025-11-20"
    assert "http" not in single.body  # no site address: no links


# sources ----------------------------------------------------------------------------------------------
@pytest.fixture
def overdue(city_data: dict[str, Any]) -> dict[str, Any]:
    """coop_a is assigned (since 2024) and never visited; a campaign of every cooperative ended 10 days ago
    with no visit; an older one ended 100 days ago (no longer reminded)."""
    every = {"links": [], "statuses": []}
    ended = open_campaign(
        city_data["city"],
        name="秋季摸底",
        district=None,
        start_date=TODAY - dt.timedelta(days=60),
        end_date=TODAY - dt.timedelta(days=10),
        rule=every,
    )
    open_campaign(
        city_data["city"],
        name="春季摸底",
        district=None,
        start_date=TODAY - dt.timedelta(days=200),
        end_date=TODAY - dt.timedelta(days=100),
        rule=every,
    )
    return {**city_data, "ended": ended}


EXPECTED = {  # persona: (campaign targets overdue, assigned cooperatives overdue)
    "city": (3, 1),
    "district_a": (2, 1),
    "district_b": (1, 0),
    "counselor": (1, 1),
    "counselor_unassigned": (0, 0),
    "viewer": (0, 0),
    "coop_user": (0, 0),
}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", list(EXPECTED))
def test_each_user_is_reminded_of_their_reach(overdue: dict[str, Any], persona: str) -> None:
    groups = {g.key: g for g in reminders.collect(overdue[persona])}
    campaign_key = f"campaign-{overdue['ended'].pk}"
    expected_campaign, expected_assigned = EXPECTED[persona]
    assert (groups[campaign_key].count if campaign_key in groups else 0) == expected_campaign
    assert (groups["assigned"].count if "assigned" in groups else 0) == expected_assigned
    assert set(groups) <= {campaign_key, "assigned"}  # the campaign that ended long ago reminds nobody
    if expected_assigned:
        item = groups["assigned"].items[0]
        assert item.title == overdue["coop_a"].name and item.detail == "never visited"
        assert item.due == dt.date(2024, 1, 1) + dt.timedelta(days=90)


@pytest.mark.django_db
def test_a_visit_clears_the_assigned_reminder(overdue: dict[str, Any], settings: Any) -> None:
    with change_context(source="cli"):
        save_record(
            Visit(
                cooperative=overdue["coop_a"], visitor=overdue["counselor"], date=TODAY - dt.timedelta(days=5)
            )
        )
    keys = {g.key for g in reminders.collect(overdue["counselor"])}
    assert "assigned" not in keys  # the campaign's visit was after its end: still overdue there
    assert f"campaign-{overdue['ended'].pk}" in keys
    settings.HEZUO_VISIT_INTERVAL_DAYS = 3  # the interval is a setting
    assert "assigned" in {g.key for g in reminders.collect(overdue["counselor"])}


@pytest.mark.django_db
def test_the_home_page_shows_what_is_overdue(overdue: dict[str, Any]) -> None:
    for persona, shown in (("counselor", True), ("district_b", True), ("viewer", False)):
        client = Client()
        client.force_login(overdue[persona])
        response = client.get("/")
        assert response.status_code == 200
        assert ('id="home-reminders"' in response.content.decode()) is shown
        if persona == "counselor":
            assert overdue["coop_a"].name in response.content.decode()


# the digest -------------------------------------------------------------------------------------------
def _emails(world: dict[str, Any]) -> None:
    for persona in ("counselor", "district_a", "district_b", "viewer"):
        user = world[persona]
        user.email = f"{persona}@example.cn"
        user.save(update_fields=["email"])


@pytest.mark.django_db
def test_the_daily_digest_is_sent_to_each_user_with_something_overdue(overdue: dict[str, Any]) -> None:
    _emails(overdue)
    result = reminders.send_digests(dry_run=True)
    assert result.sent == 0 and not mail.outbox
    assert result.skipped_no_email == 1  # city staff have no address
    result = reminders.send_digests()
    assert result.sent == 3
    to = {m.to[0]: m for m in mail.outbox}
    assert set(to) == {"counselor@example.cn", "district_a@example.cn", "district_b@example.cn"}
    assert overdue["coop_a"].name in to["counselor@example.cn"].body
    assert overdue["coop_b"].name not in to["district_a@example.cn"].body
    assert to["district_b@example.cn"].subject.startswith("[hezuo] 1 overdue item")


@pytest.mark.django_db
def test_the_digest_command_and_task(overdue: dict[str, Any]) -> None:
    _emails(overdue)
    out = StringIO()
    call_command("digest", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "=== counselor-330226-1 <counselor@example.cn>" in text and "Subject: [hezuo]" in text
    assert "sent: 0" in text and not mail.outbox
    out = StringIO()
    call_command("digest", "--user", "district-330226", stdout=out)
    assert "sent: 1" in out.getvalue() and [m.to for m in mail.outbox] == [["district_a@example.cn"]]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("digest", "--user", "nobody", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("digest", "--date", "2025-13-01", stdout=StringIO())
    from hezuo.fieldwork.tasks import digest_task

    result = digest_task.enqueue(dry_run=True)
    assert result.return_value["digests"] == 4 and result.return_value["sent"] == 0


@pytest.mark.django_db
def test_other_apps_register_overdue_tasks(city_data: dict[str, Any], monkeypatch: Any) -> None:
    def tasks(user: Any, today: dt.date) -> list[Group]:
        if user.role != "district":
            return []
        return [
            Group("compliance.tasks", "Rectification tasks past their deadline", 2, (Item("K03 章程", D),))
        ]

    monkeypatch.setitem(reminders.SOURCES, "compliance.tasks", tasks)
    district = city_data["district_a"]
    district.email = "a@example.cn"
    district.save(update_fields=["email"])
    result = reminders.send_digests(today=D)
    assert result.sent == 1 and "Rectification tasks past their deadline (2)" in mail.outbox[0].body
