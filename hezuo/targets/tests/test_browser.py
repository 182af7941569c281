"""Browser test of the plan's pages: city staff open the progress table, the dashboard with its charts and
the district map, click a district on the map to its drill-down; district staff see their district only.
Screenshots go to test-artifacts/screenshots/targets-*.png (browser plumbing of hezuo/registry/tests)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hezuo.core.browser import ensure_divisions as _ensure_divisions
from hezuo.core.browser import log_in, new_page

from . import world

pytestmark = pytest.mark.browser

CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def live_plan(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    django_db_blocker: Any,
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    from hezuo.targets.loader import ensure_shipped_plans

    _ensure_divisions(django_db_blocker)
    data: dict[str, Any] = request.getfixturevalue("city_data")
    ensure_shipped_plans()
    world.build(counselor=data["counselor"])
    data["url"] = live_server.url
    return data


def test_progress_dashboard_map_and_drilldown(live_plan: dict[str, Any], browser: Any, shoot: Any) -> None:
    base = live_plan["url"]
    page = new_page(browser, viewport={"width": 1400, "height": 900})
    log_in(page, base, "city", reverse("targets:progress", args=[CODE]))
    assert page.locator("#progress-table tbody tr").count() == 11
    shoot(page, "targets-progress")
    page.click("#open-dashboard")
    page.goto(f"{base}{reverse('targets:dashboard', args=[CODE])}?metric=star_coops&year=2024")
    page.wait_for_selector("#district-map[data-ready='1'] svg path")
    page.wait_for_selector("#district-chart svg")
    shoot(page, "targets-dashboard")
    # the map's districts are clickable: 宁海县 leads to its district page, its numbers to the drill-down
    with page.expect_navigation():
        page.evaluate("() => window.hezuoOpenDistrict('宁海县')")
    assert "/district/330226/" in page.url
    page.wait_for_selector("#district-map[data-ready='1'] svg path")
    shoot(page, "targets-district-city")
    with page.expect_navigation():
        page.click("#district-table tr[data-metric='star_coops'] td:nth-child(3) a")
    assert "/star_coops/2024/330226/" in page.url
    assert page.locator("#drill-table tbody tr").count() == 2  # c1 and c4
    shoot(page, "targets-drilldown")
    # district staff see their district's page: their district only
    page2 = new_page(browser)
    log_in(page2, base, "district-330225", reverse("targets:dashboard", args=[CODE]))
    page2.wait_for_selector("#district-map[data-ready='1'] svg path")
    assert page2.locator("#district-title").get_attribute("data-district") == "330225"
    # the plan's 7 metrics with targets and the 3 it follows without (survey, cleanup, rectification)
    assert page2.locator("#district-table tbody tr").count() == 10
    page2.wait_for_selector("#trend-chart svg")
    shoot(page2, "targets-dashboard-district")
