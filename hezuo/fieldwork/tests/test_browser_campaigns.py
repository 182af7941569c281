"""Browser test on a phone (360×740): district staff open a survey campaign and follow it; the counselor sees
the campaign visit on their home, records it for the campaign and adds a note to the contact log; the
cooperative's timeline shows both. Screenshots go to test-artifacts/screenshots/fieldwork-campaign-*.png."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from hezuo.core.browser import screenshot_dir

from .test_browser import no_sideways_scroll, phone_page

pytestmark = pytest.mark.browser


def test_campaign_on_a_phone(browser: Any, live_city: dict[str, Any]) -> None:
    from hezuo.fieldwork.models import Campaign, ContactNote, Visit

    base, shots = live_city["url"], screenshot_dir()
    coop = live_city["coop_a"]
    today = timezone.localdate()

    # district staff open a campaign of their district
    page = phone_page(browser, base, "district-330226", reverse("fieldwork:campaign_add"))
    page.fill("#id_name", "宁海县合作社摸底排查")
    page.fill("#id_start_date", str(today - dt.timedelta(days=7)))
    page.fill("#id_end_date", str(today + dt.timedelta(days=30)))
    for box in page.locator("input[name=links]").all():
        box.uncheck()  # every cooperative of the district
    with page.expect_navigation():
        page.click("#campaign-form button[name=preview]")  # count first: nothing is opened
    assert "2" in page.locator("#campaign-preview").inner_text() and not Campaign.objects.exists()
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-campaign-1-form.png"), full_page=True)
    with page.expect_navigation():
        page.click("#campaign-form button[type=submit]:not([name=preview])")
    campaign = Campaign.objects.get()
    assert campaign.target_count == 2
    assert page.locator("#campaign-totals [data-count=due]").inner_text().strip() == "2"
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-campaign-2-progress.png"), full_page=True)

    # the counselor: the campaign visit on their home, recorded for the campaign
    page = phone_page(browser, base, "counselor-330226-1", reverse("fieldwork:my_cooperatives"))
    row = page.locator(f"#my-campaign-visits [data-pk='{coop.pk}']")
    assert row.count() == 1 and row.get_attribute("data-status") == "due"
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-campaign-3-counselor-home.png"), full_page=True)
    with page.expect_navigation():
        row.locator("a.btn").click()
    assert page.locator("#id_campaign").input_value() == str(campaign.pk)
    page.fill("#id_date", str(today))
    with page.expect_navigation():
        page.click("#visit-form button[type=submit]")
    assert Visit.objects.get().campaign == campaign

    # a note in the contact log, then the timeline
    page.goto(f"{base}{reverse('fieldwork:contact_add', args=[coop.pk])}")
    page.select_option("#id_kind", "call")
    page.fill("#id_date", str(today))
    page.fill("#id_people", "理事长 王某")
    page.fill("#id_text", "电话确认下月召开成员大会。")
    with page.expect_navigation():
        page.click("#contact-form button[type=submit]")
    assert ContactNote.objects.get().author.username == "counselor-330226-1"
    timeline = page.locator("#fieldwork-timeline")
    assert timeline.locator("[data-kind=visit]").count() == 1
    assert timeline.locator("[data-kind=contact]").count() == 1
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-campaign-4-timeline.png"), full_page=True)

    # district staff: one visited, one due
    page = phone_page(
        browser, base, "district-330226", reverse("fieldwork:campaign_detail", args=[campaign.pk])
    )
    assert page.locator("#campaign-totals [data-count=visited]").inner_text().strip().startswith("1")
    assert page.locator("#campaign-totals [data-count=due]").inner_text().strip() == "1"

    # the district extends its campaign by two weeks, with a reason
    with page.expect_navigation():
        page.click("[data-testid=campaign-edit]")
    later = today + dt.timedelta(days=44)
    page.fill("#id_end_date", str(later))
    page.fill("#id_reason", "汛期延误，延长两周")
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-campaign-5-extend.png"), full_page=True)
    with page.expect_navigation():
        page.click("#campaign-change button[type=submit]")
    campaign.refresh_from_db()
    assert campaign.end_date == later
    assert "汛期延误，延长两周" in page.content()  # the history on the campaign's page
    page.screenshot(path=str(shots / "fieldwork-campaign-6-extended.png"), full_page=True)
