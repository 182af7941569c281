"""Browser test of the rating: city staff rate a year (progress page), district staff review and request a
re-rate, city staff re-rate and confirm, and the cooperative's rating page shows the explained result, also
on a 360-px phone. Screenshots go to test-artifacts/screenshots/ (see hezuo/core/browser.py,
whose browser plumbing this reuses)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hezuo.core.browser import PHONE_WIDTH, assert_fits, ensure_divisions, log_in, new_page
from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot

from .conftest import add_facts, make_top

pytestmark = pytest.mark.browser
YEAR = 2025  # the walk-through: the 2025 rating


@pytest.fixture
def live_rating_city(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    django_db_blocker: Any,
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    from hezuo.rating.services import ensure_default_rubric

    ensure_divisions(django_db_blocker)
    data: dict[str, Any] = request.getfixturevalue("city_data")
    ensure_default_rubric()
    make_top(data["coop_a"])
    add_facts(data["coop_a"], year=YEAR)
    add_facts(data["coop_a2"], year=YEAR, minutes_signed=False, surplus_returned=156_000.0, revenue=600_000.0)
    add_facts(data["coop_b"], year=YEAR)
    data["url"] = live_server.url
    return data


def test_rate_review_confirm_and_explain(live_rating_city: dict[str, Any], browser: Any, shoot: Any) -> None:
    from hezuo.rating.models import Rating

    world = live_rating_city
    base = world["url"]
    # city staff rate the year
    page = new_page(browser)
    log_in(page, base, "city", reverse("rating:ratingrun_list"))
    page.fill("#id_year", str(YEAR))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_selector("#run-progress[aria-valuenow='100']")
    shoot(page, "rating-1-run-progress")
    assert Rating.objects.count() == 3
    weak = Rating.objects.get(cooperative=world["coop_a2"])
    assert weak.stars == 2
    # district staff review the weak one and ask for a re-rate after correcting the facts
    district = new_page(browser)
    log_in(
        district,
        base,
        f"district-{world['coop_a'].district.code}",
        reverse("rating:rating_detail", args=[weak.pk]),
    )
    assert district.locator("#indicator-table tr[data-key='A2']").count() == 1
    assert district.locator("#gate-list [data-gate='G3'].border-danger").count() == 1
    assert district.locator("#advice li").count() >= 2
    # the district corrects the facts (through the service every edit goes through, with its history)
    fact = world["coop_a2"].yearlyfact_set.get(year=YEAR)
    before = snapshot(fact)
    fact.minutes_signed, fact.surplus_returned = True, fact.distributable_surplus
    with change_context(user=world["district_a"], source="web", reason="纪要补交"):
        save_record(fact, before=before)
    district.fill("#id_note", "签字纪要已补交")
    district.check("#id_request_rerate")
    with district.expect_navigation():
        district.click("#review-card button[type=submit]")
    shoot(district, "rating-2-district-review")
    weak.refresh_from_db()
    assert weak.rerate_requested and weak.review_note == "签字纪要已补交"
    # city staff re-rate what was requested, then confirm the year
    page.goto(f"{base}{reverse('rating:rating_list')}?year={YEAR}")
    page.wait_for_selector("#distribution-chart svg")
    shoot(page, "rating-3-list-distribution")
    with page.expect_navigation():
        page.click(f"form[action='{reverse('rating:rerate')}'] button")
    weak.refresh_from_db()
    assert not weak.rerate_requested and weak.stars >= 3
    page.goto(f"{base}{reverse('rating:rating_list')}?year={YEAR}")
    # first one district (its row's button), then the rest of the year in bulk
    district_code = world["coop_a"].district.code
    confirm = reverse("rating:confirm")
    asked: list[str] = []  # confirming is final: the page asks first, naming the district and the count

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    with page.expect_navigation():
        page.click(f"form[action='{confirm}']:has(input[name=district][value='{district_code}']) button")
    assert asked and world["coop_a"].district.name in asked[0] and "2" in asked[0]
    confirmed = dict(Rating.objects.values_list("cooperative_id", "status"))
    assert confirmed == {
        world["coop_a"].pk: "confirmed",
        world["coop_a2"].pk: "confirmed",
        world["coop_b"].pk: "provisional",
    }
    with page.expect_navigation():
        page.click(f"form[action='{reverse('rating:confirm')}']:not(:has(input[name=district])) button")
    assert set(Rating.objects.values_list("status", flat=True)) == {"confirmed"}
    # the cooperative's page shows the explained result, on a phone too
    coop_page = new_page(browser, viewport={"width": PHONE_WIDTH, "height": 780})
    log_in(coop_page, base, "coop-1", reverse("rating:cooperative", args=[world["coop_a"].pk]))
    coop_page.wait_for_selector("#breakdown-chart svg")
    assert coop_page.locator("#indicator-table tbody tr").count() == 21
    assert coop_page.locator("#rating-status").inner_text().strip() != ""
    shoot(coop_page, "rating-4-cooperative-phone")
    assert_fits(coop_page, "the cooperative's rating page")
