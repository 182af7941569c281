"""Survey campaigns: the selection rule, opening (scope, bad input, the fixed list and its history), the
progress per district and per counselor, visits made for a campaign, and the pages through personas."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import save_record
from hezuo.fieldwork import campaigns
from hezuo.fieldwork.cleanup import TransitionRefused
from hezuo.fieldwork.models import Campaign, CampaignTarget, Visit

from .helpers import links

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
EVERY = {"links": [], "statuses": []}


def open_(world: dict[str, Any], persona: str = "city", **kwargs: Any) -> Campaign:
    values = {
        "name": "2025年摸底排查",
        "district": None,
        "start_date": dt.date(2025, 3, 1),
        "end_date": dt.date(2025, 6, 30),
        "rule": EVERY,
    }
    values.update(kwargs)
    return campaigns.open_campaign(world[persona], **values)


def visit(world: dict[str, Any], coop: str, date: dt.date, **fields: Any) -> Visit:
    v = Visit(cooperative=world[coop], visitor=world["city"], date=date, **fields)
    with change_context(source="cli"):
        save_record(v)
    return v


# the rule ---------------------------------------------------------------------------------------------
def test_the_rule_is_checked_and_described() -> None:
    rule = campaigns.parse_rule({"links": ["member", "sponsored"], "statuses": ["operating"]})
    assert rule.links == ("sponsored", "member") and rule.statuses == ("operating",)
    assert rule.as_data() == {"version": 1, "links": ["sponsored", "member"], "statuses": ["operating"]}
    assert "on the start date" in rule.describe()
    assert campaigns.parse_rule({}).describe() == "every cooperative"
    for bad in ([], {"links": ["friends"]}, {"statuses": "operating"}, {"version": 2}, {"colour": 1}):
        with pytest.raises(campaigns.RuleError):
            campaigns.parse_rule(bad)


def test_target_status_is_a_pure_rule() -> None:
    end = dt.date(2025, 6, 30)
    assert campaigns.target_status(dt.date(2025, 5, 1), end, dt.date(2025, 8, 1)) == "visited"
    assert campaigns.target_status(None, end, end) == "due"
    assert campaigns.target_status(None, end, end + dt.timedelta(days=1)) == "overdue"


# opening ----------------------------------------------------------------------------------------------
def test_the_rule_chooses_linked_cooperatives_on_the_start_date(city_data: dict[str, Any]) -> None:
    from hezuo.core.services import snapshot

    links(city_data["coop_a"])  # sponsored since 2019, member since 2019
    # coop_b's links all ended before the start: it is not chosen
    for key, link in links(city_data["coop_b"]).items():
        if key == "ended":
            continue
        before = snapshot(link)
        setattr(link, "end_date" if key == "sponsorship" else "until", dt.date(2025, 1, 1))
        link.end_reason = "ended"
        with change_context(source="cli"):
            save_record(link, before=before)
    campaign = open_(city_data, rule={"links": ["sponsored", "member"]})
    targets = {t.cooperative_id: t.matched for t in campaign.targets.all()}
    assert targets == {city_data["coop_a"].pk: ["sponsored", "member"]}
    assert campaign.target_count == 1 and campaign.rule["links"] == ["sponsored", "member"]
    assert "sponsored or federation member" in campaign.rule_text
    # the counselor link: coop_a has a counselor since 2024
    campaign = open_(city_data, name="辅导员", rule={"links": ["counselor"]})
    assert set(campaign.targets.values_list("cooperative_id", flat=True)) == {city_data["coop_a"].pk}
    # operating status: every one is operating, none is a shell
    with pytest.raises(ValidationError) as err:
        open_(city_data, name="空壳", rule={"statuses": ["shell"]})
    assert "rule" in err.value.message_dict


def test_the_list_is_fixed_and_recorded(city_data: dict[str, Any]) -> None:
    campaign = open_(city_data)
    assert campaign.target_count == 3
    records = ChangeRecord.objects.filter(content_type__model="campaigntarget")
    assert records.count() == 3 and {r.parent_id for r in records} == {campaign.pk}
    assert ChangeRecord.objects.filter(content_type__model="campaign", object_id=campaign.pk).count() == 1
    # a cooperative registered later does not join the list
    from hezuo.conftest import make_coop

    make_coop("330226", registration_date=dt.date(2020, 1, 1))
    assert campaign.targets.count() == 3


def test_district_staff_open_campaigns_of_their_district_only(city_data: dict[str, Any]) -> None:
    campaign = open_(city_data, "district_a", district=city_data["division_a"])
    assert set(campaign.targets.values_list("cooperative_id", flat=True)) == {
        city_data["coop_a"].pk,
        city_data["coop_a2"].pk,
    }
    for district in (None, city_data["division_b"]):
        with pytest.raises(ValidationError) as err:
            open_(city_data, "district_a", district=district)
        assert "district" in err.value.message_dict
    for persona in ("viewer", "counselor", "coop_user"):
        with pytest.raises(TransitionRefused):
            open_(city_data, persona)
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": dt.date(2025, 2, 1)}, "end_date"),
        ({"name": "  "}, "name"),
        ({"rule": {"links": ["nobody"]}}, "rule"),
        ({"start_date": dt.date(2010, 1, 1), "end_date": dt.date(2010, 12, 31)}, "rule"),  # nobody registered
    ],
)
def test_bad_campaigns_are_refused_and_nothing_written(
    city_data: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        open_(city_data, **changes)
    assert field in err.value.message_dict
    assert not Campaign.objects.exists() and not CampaignTarget.objects.exists()


# progress ---------------------------------------------------------------------------------------------
def test_progress_per_district_and_per_counselor(city_data: dict[str, Any]) -> None:
    campaign = open_(city_data)
    visit(city_data, "coop_a", dt.date(2025, 4, 1))  # in the period
    visit(city_data, "coop_b", dt.date(2025, 7, 2))  # after it: does not count
    during = campaigns.progress(campaign, city_data["city"], dt.date(2025, 5, 1))
    assert (during["total"].targets, during["total"].visited, during["total"].due) == (3, 1, 2)
    assert during["total"].overdue == 0
    after = campaigns.progress(campaign, city_data["city"], dt.date(2025, 8, 1))
    rows = {row.key: row for row in after["districts"]}
    assert (rows["330226"].targets, rows["330226"].visited, rows["330226"].overdue) == (2, 1, 1)
    assert (rows["330225"].targets, rows["330225"].visited, rows["330225"].overdue) == (1, 0, 1)
    counselors = {row.key: row for row in after["counselors"]}
    assert counselors[str(city_data["counselor"].pk)].visited == 1
    assert counselors["none"].targets == 2 and counselors["none"].overdue == 2
    # district B staff see their part only
    mine = campaigns.progress(campaign, city_data["district_b"], dt.date(2025, 8, 1))
    assert [row.key for row in mine["districts"]] == ["330225"] and mine["total"].targets == 1
    # drill-down: the same selection as the numbers
    overdue = campaigns.drilldown(campaign, city_data["city"], status="overdue", today=dt.date(2025, 8, 1))
    assert {t.cooperative_id for t in overdue} == {city_data["coop_a2"].pk, city_data["coop_b"].pk}
    by_counselor = campaigns.drilldown(
        campaign, city_data["city"], counselor=str(city_data["counselor"].pk), today=dt.date(2025, 8, 1)
    )
    assert [t.cooperative_id for t in by_counselor] == [city_data["coop_a"].pk]
    due = campaigns.drilldown(campaign, city_data["city"], status="due", today=dt.date(2025, 8, 1))
    assert not due.exists()
    assert campaigns.overview([campaign], city_data["district_a"]) == {campaign.pk: (2, 1)}


def test_a_visit_for_a_campaign_lies_in_its_period(city_data: dict[str, Any]) -> None:
    campaign = open_(city_data, "district_a", district=city_data["division_a"])
    with pytest.raises(ValidationError) as err:
        visit(city_data, "coop_a", dt.date(2025, 7, 15), campaign=campaign)
    assert "date" in err.value.message_dict and "period" in err.value.message_dict["date"][0]
    with pytest.raises(ValidationError) as err:
        visit(city_data, "coop_b", dt.date(2025, 4, 15), campaign=campaign)
    assert "campaign" in err.value.message_dict
    ok = visit(city_data, "coop_a", dt.date(2025, 4, 15), campaign=campaign)
    assert ok.campaign == campaign and Visit.objects.count() == 1


def test_the_visit_form_offers_the_campaign(city_data: dict[str, Any]) -> None:
    campaign = open_(
        city_data, start_date=TODAY - dt.timedelta(days=10), end_date=TODAY + dt.timedelta(days=30)
    )
    client = Client()
    client.force_login(city_data["counselor"])
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk])
    page = client.get(f"{url}?campaign={campaign.pk}")
    assert page.status_code == 200 and page.context["form"]["campaign"].value() == campaign.pk
    late = TODAY - dt.timedelta(days=20)
    response = client.post(url, {"date": str(late), "campaign": campaign.pk})
    assert response.status_code == 400 and "period" in str(response.context["form"].errors["date"])
    response = client.post(url, {"date": str(TODAY), "campaign": campaign.pk})
    assert response.status_code == 302
    assert Visit.objects.get().campaign == campaign
    # my/: the campaign visit is no longer due
    home = client.get(reverse("fieldwork:my_cooperatives"))
    assert home.context["campaign_rows"] == []


def test_the_counselor_sees_due_and_overdue_campaign_visits(city_data: dict[str, Any]) -> None:
    running = open_(city_data, name="进行中", start_date=TODAY - dt.timedelta(days=5), end_date=TODAY)
    ended = open_(
        city_data,
        name="已结束",
        start_date=TODAY - dt.timedelta(days=40),
        end_date=TODAY - dt.timedelta(days=10),
    )
    client = Client()
    client.force_login(city_data["counselor"])
    page = client.get(reverse("fieldwork:my_cooperatives"))
    rows = {
        (r["target"].campaign_id, r["target"].cooperative_id): r["status"]
        for r in page.context["campaign_rows"]
    }
    # only the counselor's cooperative (coop_a), in both campaigns
    assert rows == {
        (ended.pk, city_data["coop_a"].pk): "overdue",
        (running.pk, city_data["coop_a"].pk): "due",
    }
    assert "进行中" in page.content.decode()


# pages ------------------------------------------------------------------------------------------------
def test_opening_a_campaign_on_the_page(city_data: dict[str, Any]) -> None:
    client = Client()
    client.force_login(city_data["district_a"])
    url = reverse("fieldwork:campaign_add")
    form = client.get(url).context["form"]
    assert list(form.fields["district"].queryset) == [city_data["division_a"]]
    data = {
        "name": "宁海县合作社摸底",
        "district": city_data["division_a"].pk,
        "start_date": "2025-03-01",
        "end_date": "2025-02-01",
        "links": [],
        "statuses": ["operating"],
    }
    response = client.post(url, data)
    assert response.status_code == 400 and "end_date" in response.context["form"].errors
    response = client.post(url, {**data, "district": city_data["division_b"].pk, "end_date": "2025-06-30"})
    assert response.status_code == 400 and "district" in response.context["form"].errors
    preview = client.post(url, {**data, "end_date": "2025-06-30", "preview": "1"})
    assert preview.status_code == 200 and preview.context["preview"] == 2 and not Campaign.objects.exists()
    response = client.post(url, {**data, "end_date": "2025-06-30"})
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.district == city_data["division_a"] and campaign.target_count == 2
    assert campaign.rule == {"version": 1, "links": [], "statuses": ["operating"]}
    detail = client.get(campaign.get_absolute_url())
    assert detail.status_code == 200 and "宁海县合作社摸底" in detail.content.decode()
    listing = client.get(reverse("fieldwork:campaign_targets", args=[campaign.pk]) + "?status=overdue")
    assert {row["target"].cooperative_id for row in listing.context["rows"]} == {
        city_data["coop_a"].pk,
        city_data["coop_a2"].pk,
    }
    export = client.get(reverse("fieldwork:campaign_export", args=[campaign.pk]) + "?district=330226")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(export.content)).active
    names = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {city_data["coop_a"].name, city_data["coop_a2"].name}


def test_opening_a_campaign_through_the_api(city_data: dict[str, Any]) -> None:
    client = Client()
    client.force_login(city_data["district_b"])
    payload = {
        "name": "象山摸底",
        "district": "330225",
        "start_date": "2025-03-01",
        "end_date": "2025-06-30",
        "rule": {"links": [], "statuses": []},
    }
    bad = client.post(reverse("campaign-list"), {**payload, "end_date": "2025-01-01"}, "application/json")
    assert bad.status_code == 400 and "end_date" in bad.json()
    bad = client.post(reverse("campaign-list"), {**payload, "district": "330226"}, "application/json")
    assert bad.status_code == 400 and "district" in bad.json()
    ok = client.post(reverse("campaign-list"), payload, "application/json")
    assert ok.status_code == 201 and ok.json()["target_count"] == 1
    table = client.get(reverse("campaign-progress", args=[ok.json()["id"]])).json()
    assert table["districts"][0]["key"] == "330225" and table["total"]["overdue"] == 1
    targets = client.get(reverse("campaigntarget-list") + f"?campaign={ok.json()['id']}").json()["results"]
    assert [t["status"] for t in targets] == ["overdue"]


def test_changing_and_cancelling_a_campaign(city_data: dict[str, Any]) -> None:
    """District staff extend their campaign with a reason (history), may not end it in the past, and cancel
    it: it leaves the list and the reminders; its page stays."""
    from django.test import Client

    from hezuo.core.models import ChangeRecord
    from hezuo.fieldwork.campaigns import cancel_campaign, change_campaign, open_campaign, pending_targets
    from hezuo.fieldwork.cleanup import TransitionRefused
    from hezuo.fieldwork.models import Campaign

    today = dt.date.today()
    district = city_data["district_a"]
    campaign = open_campaign(
        district,
        name="宁海摸底",
        district=city_data["division_a"],
        start_date=today - dt.timedelta(days=30),
        end_date=today + dt.timedelta(days=10),
        rule={"links": [], "statuses": []},
    )
    client = Client()
    client.force_login(district)
    later = today + dt.timedelta(days=40)
    response = client.post(
        f"/fieldwork/campaigns/{campaign.pk}/edit/",
        {"name": "宁海摸底（延长）", "end_date": later.isoformat(), "note": "", "reason": "汛期延误"},
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.end_date) == ("宁海摸底（延长）", later)
    record = ChangeRecord.objects.filter(content_type__model="campaign", object_id=campaign.pk).latest("pk")
    assert record.message == "汛期延误" and record.after["end_date"] == later.isoformat()
    # a moved end before today, or before the start: refused, nothing written
    past = client.post(
        f"/fieldwork/campaigns/{campaign.pk}/edit/",
        {"name": "x", "end_date": (today - dt.timedelta(days=1)).isoformat(), "note": ""},
    )
    assert past.status_code == 400 and "end_date" in past.context["form"].errors
    campaign.refresh_from_db()
    assert campaign.name == "宁海摸底（延长）"
    # district B's staff, the counselor and the viewer: not theirs
    for persona in ("district_b", "counselor", "viewer"):
        with pytest.raises(TransitionRefused):
            change_campaign(city_data[persona], campaign, name="x", end_date=later)
    assert pending_targets(district, today, window_days=60).filter(campaign=campaign).exists()
    # cancelling needs a reason
    with pytest.raises(ValidationError) as refused:
        cancel_campaign(district, campaign, reason=" ")
    assert "reason" in refused.value.message_dict
    response = client.post(f"/fieldwork/campaigns/{campaign.pk}/cancel/", {"reason": "重复立项"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.retired_at is not None
    assert not pending_targets(district, today, window_days=60).filter(campaign=campaign).exists()
    listing = client.get("/fieldwork/campaigns/")
    assert campaign.pk not in {row["campaign"].pk for row in listing.context["rows"]}
    page = client.get(f"/fieldwork/campaigns/{campaign.pk}/")
    assert page.status_code == 200 and 'id="campaign-cancelled"' in page.content.decode()
    assert not page.context["can_change"] and not page.context["can_cancel"]
    assert Campaign.objects.filter(pk=campaign.pk).count() == 1  # nothing deleted


def test_changing_a_campaign_through_the_api(city_data: dict[str, Any]) -> None:
    from django.test import Client

    from hezuo.fieldwork.campaigns import open_campaign

    today = dt.date.today()
    campaign = open_campaign(
        city_data["city"],
        name="全市摸底",
        district=None,
        start_date=today,
        end_date=today + dt.timedelta(days=10),
        rule={"links": [], "statuses": []},
    )
    client = Client()
    client.force_login(city_data["city"])
    url = f"/api/campaigns/{campaign.pk}/"
    later = (today + dt.timedelta(days=90)).isoformat()
    assert client.patch(url, {"end_date": later}, content_type="application/json").json()["end_date"] == later
    bad = client.patch(url, {"end_date": "2000-01-01"}, content_type="application/json")
    assert bad.status_code == 400 and "end_date" in bad.json()
    # district staff may not change a city campaign they see in part
    district = Client()
    district.force_login(city_data["district_a"])
    assert district.patch(url, {"name": "x"}, content_type="application/json").status_code == 404
    assert district.post(f"{url}cancel/", {"reason": "x"}, content_type="application/json").status_code == 404
    done = client.post(f"{url}cancel/", {"reason": "合并到区县摸底"}, content_type="application/json")
    assert done.status_code == 200
    assert client.get("/api/campaigns/").json()["count"] == 0
