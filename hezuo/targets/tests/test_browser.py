"""Browser test of the plan's pages: city staff open the progress table, the dashboard with its charts and
the district map, click a district on the map to its drill-down; district staff see their district only.
Screenshots go to test-artifacts/screenshots/targets-*.png (browser plumbing of hezuo/registry/tests)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hezuo.registry.tests.test_browser import (  # noqa: F401 - fixtures
    _ensure_divisions,
    browser,
    log_in,
    new_page,
    shoot,
)

from . import world

pytestmark = pytest.mark.browser

CODE = "zhuzhendi-2023-2025"


@pytest.fixture
def live_plan(
    browser: Any,  # noqa: F811 - the fixture imported above
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


def test_progress_dashboard_map_and_drilldown(live_plan: dict[str, Any], browser: Any, shoot: Any) -> None:  # noqa: F811
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
    # the map's districts are clickable: 宁海县 leads to its drill-down of the first metric
    with page.expect_navigation():
        page.evaluate("() => window.hezuoOpenDistrict('宁海县')")
    assert "/330226/" in page.url
    assert page.locator("#drill-table tbody tr").count() == 2  # c1 and c4
    shoot(page, "targets-drilldown")
    # district staff: their district only
    page2 = new_page(browser)
    log_in(page2, base, "district-330225", reverse("targets:dashboard", args=[CODE]))
    page2.wait_for_selector("#district-map[data-ready='1'] svg path")
    assert page2.locator("#dashboard-table tbody tr").count() == 1
    shoot(page2, "targets-dashboard-district")
