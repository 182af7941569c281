"""Browser tests: Playwright drives Debian's chromium against the live server.

District A staff log in through the real login form, filter and search the cooperative list (pinyin
initials), open a cooperative, edit it with a reason and find the change in its History; a cooperative of
another district answers 404. The same user on a 360-px phone: collapsed navbar, no horizontal page
overflow, reachable tabs, an edit form that fits the screen.

Elements are found by ids, names, data-* attributes and URLs, never by translated text, and the browser asks
for Chinese (Accept-Language zh-CN) like the platform's users do. Full-page screenshots go to
test-artifacts/screenshots/ (or $HEZUO_SCREENSHOT_DIR).

Chromium: $HEZUO_CHROMIUM, else /usr/bin/chromium, else `chromium` on the PATH. Without it the tests are
skipped, unless HEZUO_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from hezuo.core.browser import PHONE_WIDTH, assert_fits, ensure_divisions, log_in, new_page

pytestmark = pytest.mark.browser


@pytest.fixture
def live_city(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    django_db_blocker: Any,
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    """The small city of hezuo/conftest.py, committed so that the live server sees it."""
    from decimal import Decimal

    from hezuo.core.context import change_context
    from hezuo.core.services import save_record
    from hezuo.registry.models import YearlyFact

    ensure_divisions(django_db_blocker)
    data: dict[str, Any] = request.getfixturevalue("city_data")
    # a row in the yearly facts tab: its table is wide, and each row carries edit/retire buttons
    with change_context(source="cli"):
        fact = YearlyFact(
            cooperative=data["coop_a"],
            year=2024,
            members=128,
            farmer_members=120,
            member_households=115,
            nonmember_households=460,
            revenue=Decimal("3865000"),
            distributable_surplus=Decimal("412000"),
            surplus_returned=Decimal("260000"),
        )
        save_record(fact)
    data["url"] = live_server.url
    return data


def label(model: Any, field: str, page: Any) -> str:
    """A field's label as the page shows it, in the page's language."""
    from django.utils.text import capfirst

    with translation.override(page.evaluate("document.documentElement.lang")):
        return str(capfirst(model._meta.get_field(field).verbose_name))


def link(page: Any, url: str) -> Any:
    """The links to `url` in the page's table."""
    return page.locator(f'main table a[href="{url}"]')


def detail(coop: Any) -> str:
    return reverse("registry:cooperative_detail", args=[coop.pk])


def test_district_staff_filter_search_edit_and_history(
    browser: Any, live_city: dict[str, Any], shoot: Callable[[Any, str], None]
) -> None:
    from hezuo.registry.models import Cooperative

    base = live_city["url"]
    coop_a, coop_a2, coop_b = live_city["coop_a"], live_city["coop_a2"], live_city["coop_b"]
    list_url = reverse("registry:cooperative_list")
    detail_a = detail(coop_a)
    page = new_page(browser, viewport={"width": 1280, "height": 800})

    log_in(page, base, live_city["district_a"].username, list_url)
    rows = page.locator("main table tbody a[href]")
    assert link(page, detail_a).count() == 1
    assert link(page, detail(coop_b)).count() == 0
    shoot(page, "01-list")

    # the filter panel: industry = fruit keeps the loquat cooperative, drops the razor-clam one
    panel = page.locator("#filter-panel")
    assert not panel.is_visible()
    page.click('[data-bs-target="#filter-panel"]')
    page.locator("#filter-panel.show").wait_for(state="visible")
    page.select_option("#filter-panel select[name=industry]", "fruit")
    with page.expect_navigation():
        page.click("#filter-panel button[type=submit]")
    assert "industry=fruit" in page.url
    assert link(page, detail_a).count() == 1
    assert link(page, detail(coop_a2)).count() == 0
    shoot(page, "01b-filter-industry")

    # pinyin initials, from a clean list
    page.goto(f"{base}{list_url}")
    page.fill("input[name=q]", "nhbp")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    assert "q=nhbp" in page.url
    assert rows.count() == 1
    found = link(page, detail_a)
    assert found.inner_text().strip() == "宁海县岔路镇白枇杷专业合作社"
    shoot(page, "02-search-nhbp")

    with page.expect_navigation():
        found.click()
    assert page.url == f"{base}{detail_a}"
    assert page.locator("h1").inner_text().startswith("宁海县岔路镇白枇杷专业合作社")
    shoot(page, "03-detail")

    # edit: main products and address, with a reason
    edit_url = reverse("registry:cooperative_edit", args=[coop_a.pk])
    with page.expect_navigation():
        page.click(f'a[href="{edit_url}"]')
    assert page.url == f"{base}{edit_url}"
    page.fill("#id_main_products", "白枇杷、杨梅")
    page.fill("#id_address", "宁海县岔路镇湖头村枇杷路8号")
    reason = "据2024年年报更正主营产品"
    page.fill("#id_reason", reason)
    shoot(page, "04-edit")
    with page.expect_navigation():
        page.click("form:has(#id_reason) button[type=submit]")
    errors = page.locator(".invalid-feedback, .alert-danger")
    assert page.url.startswith(f"{base}{detail_a}"), errors.all_inner_texts()
    coop_a.refresh_from_db()
    assert (coop_a.main_products, coop_a.address) == ("白枇杷、杨梅", "宁海县岔路镇湖头村枇杷路8号")
    shoot(page, "04b-saved")

    # History: field labels, old → new, and the reason
    with page.expect_navigation():
        page.click('.nav-tabs a[data-tab="history"]')
    assert page.url == f"{base}{reverse('registry:cooperative_history', args=[coop_a.pk])}"
    entry = page.locator('.history-entry[data-action="update"]').first
    assert entry.locator(".history-reason").inner_text() == reason
    changes = {
        row.locator("th").inner_text().strip(): (
            row.locator(".diff-old").inner_text().strip(),
            row.locator(".diff-new").inner_text().strip(),
        )
        for row in entry.locator("tbody tr").all()
    }
    assert changes[label(Cooperative, "main_products", page)][1] == "白枇杷、杨梅"
    assert changes[label(Cooperative, "address", page)][1] == "宁海县岔路镇湖头村枇杷路8号"
    assert changes[label(Cooperative, "address", page)][0] in ("", "—")
    assert entry.locator(".diff-old").first.is_visible()
    assert entry.inner_text().count("→") == len(changes) == 2
    shoot(page, "05-history")

    # another district's cooperative: not found, not forbidden
    response = page.goto(f"{base}{detail(coop_b)}")
    assert response is not None and response.status == 404
    assert coop_b.name not in page.content()
    shoot(page, "06-404")
    response = page.goto(f"{base}{reverse('registry:cooperative_edit', args=[coop_b.pk])}")
    assert response is not None and response.status == 404
    page.context.close()


def test_phone_sized_viewport(
    browser: Any, live_city: dict[str, Any], shoot: Callable[[Any, str], None]
) -> None:
    base = live_city["url"]
    coop_a = live_city["coop_a"]
    list_url = reverse("registry:cooperative_list")
    detail_a = detail(coop_a)
    page = new_page(
        browser,
        viewport={"width": PHONE_WIDTH, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )

    page.goto(f"{base}{reverse('login')}")
    assert_fits(page, "the login page")
    log_in(page, base, live_city["district_a"].username, list_url)

    # the navbar collapses into the toggler, which opens it
    toggler = page.locator("nav .navbar-toggler")
    assert toggler.is_visible()
    assert not page.locator("#mainnav").is_visible()
    assert_fits(page, "the list page")
    assert link(page, detail_a).count() == 1
    shoot(page, "10-phone-list")
    toggler.tap()
    page.locator("#mainnav.show").wait_for(state="visible")
    assert page.locator(f'#mainnav a[href="{list_url}"]').is_visible()
    shoot(page, "10b-phone-menu")
    toggler.tap()
    page.locator("#mainnav:not(.show)").wait_for(state="hidden")

    # the search box and the filter panel fit
    page.locator('[data-bs-target="#filter-panel"]').tap()
    page.locator("#filter-panel.show").wait_for(state="visible")
    assert_fits(page, "the open filter panel")
    page.fill("input[name=q]", "nhbp")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    found = link(page, detail_a)
    found.scroll_into_view_if_needed()
    with page.expect_navigation():
        found.tap()
    assert page.url == f"{base}{detail_a}"
    assert_fits(page, "the cooperative page")
    shoot(page, "11-phone-detail")

    # every tab can be reached: scrolled into view inside the tab strip, then tapped
    tabs = page.locator(".nav-tabs a[data-tab]")
    keys = [tabs.nth(i).get_attribute("data-tab") for i in range(tabs.count())]
    assert {"identity", "facts", "history"} <= set(keys)
    for key in ("facts", "sponsorships", "history"):
        if key not in keys:
            continue
        tab = page.locator(f'.nav-tabs a[data-tab="{key}"]')
        tab.scroll_into_view_if_needed()
        box = tab.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH + 1, key
        with page.expect_navigation():
            tab.tap()
        # the current tab is brought into view in the strip
        active = page.locator(f'.nav-tabs a[data-tab="{key}"].active')
        box = active.bounding_box()
        assert box is not None and 0 <= box["x"] <= box["x"] + box["width"] <= PHONE_WIDTH + 1, (key, box)
        assert_fits(page, f"the {key} tab")
        if key == "facts":
            facts = page.locator("#facts-table")
            assert facts.locator("tbody tr").count() == 1
            assert facts.locator("tbody a[href$='/edit/']").count() == 1
            shoot(page, "11b-phone-facts")
    shoot(page, "11c-phone-history")

    # the edit form: every field inside the screen
    page.goto(f"{base}{reverse('registry:cooperative_edit', args=[coop_a.pk])}")
    assert_fits(page, "the edit form")
    fields = page.locator("main form input:not([type=hidden]), main form select, main form textarea")
    assert fields.count() > 10
    for i in range(fields.count()):
        field = fields.nth(i)
        box = field.bounding_box()
        name = field.get_attribute("name")
        assert box is not None, name
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH + 1, f"{name} does not fit: {box}"
    save = page.locator("form:has(#id_reason) button[type=submit]")
    save.scroll_into_view_if_needed()
    assert save.is_visible()
    shoot(page, "12-phone-edit")
    page.context.close()
