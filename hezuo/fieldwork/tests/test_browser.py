"""Browser test on a phone (360×740): a counselor records a visit with photos, the phone's position and a
classification, then one more without network (sent by itself when the network returns); the
district verifies the flagged cooperative with that visit, the city approves and acts, then closes it.
Playwright drives Debian's chromium against the live server; screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from hezuo.conftest import PASSWORD
from hezuo.core.browser import TIMEOUT_MS, screenshot_dir

from .helpers import links, no_business

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


def phone_page(browser: Any, base: str, username: str, next_url: str, **options: Any) -> Any:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        timezone_id="Asia/Shanghai", reduced_motion="reduce", **options,
    )  # fmt: skip
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}{reverse('login')}?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    return page


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1


def test_visit_verify_approve_on_a_phone(browser: Any, live_city: dict[str, Any], tmp_path: Path) -> None:
    from hezuo.fieldwork import runs
    from hezuo.fieldwork.models import CleanupCase, Flag, Visit
    from hezuo.registry.models import Cooperative, Sponsorship

    base, shots = live_city["url"], screenshot_dir()
    coop = live_city["coop_a"]
    no_business(coop, 2023, 2024)
    registry_links = links(coop)
    runs.run_detection(year=2024, as_of=dt.date(2025, 11, 1))
    photo, sign = tmp_path / "site.png", tmp_path / "sign.jpg"
    Image.new("RGB", (1200, 900), (40, 120, 60)).save(photo)
    Image.new("RGB", (800, 600), (200, 40, 40)).save(sign)

    # the counselor: home list, then the visit form (the phone shares its position)
    page = phone_page(
        browser,
        base,
        "counselor-330226-1",
        reverse("fieldwork:my_cooperatives"),
        permissions=["geolocation"],
        geolocation={"latitude": 29.299712, "longitude": 121.432001, "accuracy": 20},
    )
    assert page.locator(f"#my-coops [data-pk='{coop.pk}']").count() == 1
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-1-counselor-home.png"), full_page=True)
    with page.expect_navigation():
        page.click(f"#my-coops [data-pk='{coop.pk}'] a.btn")
    page.fill("#id_date", (dt.date.today() - dt.timedelta(days=1)).isoformat())
    page.fill("#id_people_met", "理事长 王某")
    for name, value in (
        ("operating", "no"),
        ("farmers_taking_part", "no"),
        ("books_kept", "no"),
        ("assembly_held", "no"),
        ("office_and_sign", "yes"),
    ):
        page.select_option(f"#id_{name}", value)
    page.fill("#id_feedback_neighbours", "两年没见过有人来。")
    page.select_option("#id_classification", "suspected_shell")
    page.set_input_files("#id_photos", [str(photo), str(sign)])
    page.click("#locate-me")
    page.wait_for_function("document.getElementById('id_latitude').value !== ''")
    assert "29.29971" in page.locator("#location-status").inner_text()
    box = page.locator("#visit-form button[type=submit]").bounding_box()
    assert box is not None and box["height"] >= 44  # a large touch target
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-2-visit-form.png"), full_page=True)
    with page.expect_navigation():
        page.click("#visit-form button[type=submit]")
    visit = Visit.objects.get()
    assert visit.classification == "suspected_shell" and visit.photos.count() == 2
    assert str(visit.latitude) == "29.299712" and visit.location_accuracy == 20
    assert page.locator("#visit-card img").count() == 2
    page.screenshot(path=str(shots / "fieldwork-3-visit.png"), full_page=True)

    # no network in the field: the next visit is kept on the phone with its photo, and sent by itself
    with page.expect_navigation():
        page.goto(f"{base}{reverse('fieldwork:visit_add', args=[coop.pk])}")
    page.fill("#id_note", "回访：仍无人办公。")
    page.set_input_files("#id_photos", str(sign))
    page.context.set_offline(True)
    page.click("#visit-form button[type=submit]")
    page.wait_for_selector("#visit-queue-note.alert-info")
    assert Visit.objects.count() == 1  # nothing sent yet
    page.screenshot(path=str(shots / "fieldwork-3b-queued-offline.png"), full_page=True)
    assert page.is_disabled("#visit-form button[type=submit]")  # sent by itself, not by tapping again
    page.context.set_offline(False)
    # sent by itself once the network is back: the page goes to the saved visit
    page.wait_for_url(re.compile(r".*/fieldwork/visits/\d+/$"))
    queued = Visit.objects.exclude(pk=visit.pk).get()
    assert page.url.endswith(queued.get_absolute_url())
    assert queued.note == "回访：仍无人办公。" and queued.photos.count() == 1
    page.screenshot(path=str(shots / "fieldwork-3c-sent.png"), full_page=True)
    page.context.close()

    # the district: the flag, a case, the verification with the visit
    flag = Flag.objects.get(cooperative=coop, rule="SH2")
    page = phone_page(browser, base, "district-330226", reverse("fieldwork:flag_detail", args=[flag.pk]))
    no_sideways_scroll(page)
    with page.expect_navigation():
        page.click("form[action$='/open-case/'] button")
    case = CleanupCase.objects.get()
    page.select_option("#form-verify #id_finding", "shell")
    page.select_option("#form-verify #id_visit", str(visit.pk))
    page.fill("#form-verify #id_note", "走访确认：无经营，无成员参与。")
    page.screenshot(path=str(shots / "fieldwork-4-verify.png"), full_page=True)
    with page.expect_navigation():
        page.click("#form-verify button[type=submit]")
    assert page.get_attribute("#case-status", "data-status") == "verified"
    page.context.close()

    # the city: approve, carry out, close
    page = phone_page(browser, base, "city", reverse("fieldwork:case_detail", args=[case.pk]))
    with page.expect_navigation():
        page.click("#form-approve button[type=submit]")
    assert page.get_attribute("#case-status", "data-status") == "approved"
    today = dt.date.today().isoformat()
    page.fill("#form-carry_out #id_action_date", today)
    page.fill("#form-carry_out #id_reason", "空壳社清理")
    page.fill("#form-carry_out #id_referral_date", today)
    page.select_option("#form-carry_out #id_referral_authority", "market_regulator")
    page.fill("#form-carry_out #id_referral_document", "甬市监〔2025〕12号")
    page.screenshot(path=str(shots / "fieldwork-5-carry-out.png"), full_page=True)
    with page.expect_navigation():
        page.click("#form-carry_out button[type=submit]")
    assert page.get_attribute("#case-status", "data-status") == "actions_done"
    with page.expect_navigation():
        page.click("#form-close button[type=submit]")
    assert page.get_attribute("#case-status", "data-status") == "closed"
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "fieldwork-6-closed.png"), full_page=True)
    page.context.close()

    assert Cooperative.objects.get(pk=coop.pk).operating_status == "shell"
    assert Sponsorship.objects.get(pk=registry_links["sponsorship"].pk).end_reason == "空壳社清理"
    assert set(Flag.objects.filter(cooperative=coop).values_list("status", flat=True)) == {"confirmed"}
