"""Browser test on a phone (360×740): district staff open a rectification case, a counselor records an item's
outcome, the district waives one, records assistance, moves the case on and closes it. Playwright drives
Debian's chromium against the live server; screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hezuo.core.browser import screenshot_dir
from hezuo.fieldwork.tests.test_browser import PHONE, no_sideways_scroll, phone_page

from .helpers import YEAR, facts

pytestmark = pytest.mark.browser


def test_rectification_on_a_phone(browser: Any, live_city: dict[str, Any]) -> None:
    from hezuo.compliance.models import RectificationCase

    base, shots = live_city["url"], screenshot_dir()
    coop = live_city["coop_a"]
    facts(coop, members=3, farmer_members=1, members_with_accounts=3, annual_report_filed=None)

    # district staff open the case
    page = phone_page(browser, base, "district-330226", reverse("compliance:case_open", args=[coop.pk]))
    page.fill("#id_year", str(YEAR))
    page.fill("#id_note", "走访发现成员结构不规范")
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compliance-01-open.png"), full_page=True)
    with page.expect_navigation():
        page.click("#open-form button[type=submit]")
    case = RectificationCase.objects.get()
    assert page.locator("#case-status").get_attribute("data-status") == "open"
    assert page.locator("#case-items [data-key='K01'][data-status='failed']").count() == 1
    assert page.locator("#case-tasks tbody tr").count() == 2
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compliance-02-case.png"), full_page=True)
    page.context.close()

    # the counselor records K19 as passing, with the evidence
    k19 = case.items.get(key="K19")
    page = phone_page(browser, base, "counselor-330226-1", reverse("compliance:item_detail", args=[k19.pk]))
    page.check("#outcome-form input[value='pass']")
    page.fill("#id_note", "2025年3月2日已报送年报，现场查看回执")
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compliance-03-item.png"), full_page=True)
    with page.expect_navigation():
        page.click("#outcome-form button[type=submit]")
    assert page.locator("#case-items [data-key='K19'][data-status='passed']").count() == 1
    page.context.close()

    # the district: assistance, waive K02, pass the rest, start and close
    page = phone_page(browser, base, "district-330226", reverse("compliance:assistance_add", args=[case.pk]))
    page.select_option("#id_kind", "training")
    page.fill("#id_description", "财务规范化培训")
    page.fill("#id_amount", "-5")
    page.fill("#id_given_by", "宁海县供销合作社")
    with page.expect_navigation():
        page.click("#assistance-form button[type=submit]")
    assert page.locator(".invalid-feedback").count() == 1  # the negative amount, on its field
    page.fill("#id_amount", "3000")
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compliance-04-assistance.png"), full_page=True)
    with page.expect_navigation():
        page.click("#assistance-form button[type=submit]")
    assert "财务规范化培训" in page.locator("#case-assistance").inner_text()
    for item in case.items.exclude(status__in=["passed", "n/a", "waived"]):
        page.goto(f"{base}{reverse('compliance:item_detail', args=[item.pk])}")
        page.check(f"#outcome-form input[value='{'waive' if item.key == 'K02' else 'pass'}']")
        page.fill("#id_note", "整改期内" if item.key == "K02" else "现场核实")
        with page.expect_navigation():
            page.click("#outcome-form button[type=submit]")
    with page.expect_navigation():
        page.click("#form-start button[type=submit]")
    with page.expect_navigation():
        page.click("#form-close button[type=submit]")
    assert page.locator("#case-status").get_attribute("data-status") == "closed"
    no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compliance-05-closed.png"), full_page=True)
    assert page.viewport_size == PHONE
    page.context.close()
