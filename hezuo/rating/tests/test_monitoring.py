"""Dynamic monitoring: a change that would drop a cooperative's stars raises an alert for its counselor and
district; alerts are listed, acknowledged and resolved; a restored condition resolves them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.core.testing import ChangeLog, listed
from hezuo.rating.models import Alert
from hezuo.rating.monitoring import reevaluate, reevaluate_for, reevaluate_many

from .conftest import YEAR


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change(obj: Any, **fields: Any) -> Any:
    before = snapshot(obj)
    for name, value in fields.items():
        setattr(obj, name, value)
    with change_context(source="cli"):
        save_record(obj, before=before)
    return obj


def test_abnormal_listing_raises_a_gate_alert_seen_by_counselor_and_district(rated_city: Any) -> None:
    world = rated_city
    coop = world["coop_a"]
    assert reevaluate(coop) is None  # nothing changed: no alert
    _change(coop, on_abnormal_list=True, abnormal_listed_on=dt.date(YEAR + 1, 2, 1))
    alert = reevaluate_for(coop)
    assert alert is not None
    assert (alert.kind, alert.stars_rated, alert.stars_now, alert.status) == ("gate", 5, 2, "open")
    assert {
        "gate": "G3",
        "star": 3,
        "checks": ["not_abnormal_listed", "annual_report_on_time"],
    } in alert.reasons or any(r.get("gate") == "G3" for r in alert.reasons)
    # re-evaluating again does not duplicate it
    assert reevaluate(coop).pk == alert.pk
    assert Alert.objects.count() == 1
    seen = {}
    for persona in (
        "city",
        "district_a",
        "district_b",
        "counselor",
        "counselor_unassigned",
        "coop_user",
        "viewer",
    ):
        client = _client(world[persona])
        response = client.get("/rating/alerts/")
        seen[persona] = response.status_code == 200 and alert.pk in {r.pk for r in listed(response)}
        detail = client.get(f"/rating/alerts/{alert.pk}/").status_code
        assert detail == (200 if seen[persona] else 404), persona
    assert seen == {
        "city": True,
        "district_a": True,
        "district_b": False,
        "counselor": True,
        "counselor_unassigned": False,
        "coop_user": False,
        "viewer": True,
    }
    page = _client(world["district_a"]).get(f"/rating/alerts/{alert.pk}/").content.decode()
    assert "Gate G3" in page and "Not on the abnormal-operations list" in page


def test_a_fact_edit_that_lowers_the_score_raises_a_score_alert(rated_city: Any) -> None:
    coop = rated_city["coop_a"]
    fact = coop.yearlyfact_set.get(year=YEAR)
    _change(fact, revenue=0, member_capital=0, fixed_assets=0, nonmember_households=0, income_uplift=0)
    alert = reevaluate_for(fact)
    assert alert is not None and alert.kind == "score"
    assert any("floor" in reason for reason in alert.reasons)


def test_acknowledge_and_resolve_by_page_and_api(rated_city: Any) -> None:
    world = rated_city
    coop = world["coop_a"]
    _change(coop, illegal_finance=True)
    alert = reevaluate(coop)
    district_b = _client(world["district_b"])
    assert district_b.post(f"/rating/alerts/{alert.pk}/acknowledge/").status_code == 404
    assert (
        district_b.post(f"/api/alerts/{alert.pk}/resolve/", {}, content_type="application/json").status_code
        == 404
    )
    viewer = _client(world["viewer"])
    assert viewer.post(f"/rating/alerts/{alert.pk}/acknowledge/").status_code == 404
    counselor = _client(world["counselor"])
    with ChangeLog() as log:
        assert (
            counselor.post(
                f"/rating/alerts/{alert.pk}/acknowledge/", {"note": "visiting on Monday"}
            ).status_code
            == 302
        )
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", world["counselor"])
    assert len(log.records) == 1 and log.records[0].message == "visiting on Monday"
    response = _client(world["district_a"]).post(
        f"/api/alerts/{alert.pk}/resolve/", {"note": "rectified"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    # resolving twice is refused
    assert (
        _client(world["city"])
        .post(f"/api/alerts/{alert.pk}/resolve/", {}, content_type="application/json")
        .status_code
        == 400
    )


def test_a_restored_condition_resolves_the_alert(rated_city: Any) -> None:
    coop = rated_city["coop_a"]
    _change(coop, operating_status="dormant")
    alert = reevaluate(coop)
    assert alert is not None and alert.stars_now == 1
    _change(coop, operating_status="operating")
    assert reevaluate(coop) is None
    alert.refresh_from_db()
    assert alert.status == "resolved" and "automatically" in alert.note


def test_reevaluate_many_and_unrated_cooperatives(rated_city: Any) -> None:
    coops = [rated_city["coop_a"], rated_city["coop_b"]]
    for coop in coops:
        _change(coop, subsidy_fraud=True)
    assert reevaluate_many([c.pk for c in coops] + [999999]) == 2
    assert Alert.objects.filter(status="open").count() == 2
    # a cooperative without a rating raises nothing
    from hezuo.conftest import make_coop

    assert reevaluate(make_coop()) is None


def test_edits_by_district_and_cooperative_users_raise_and_resolve_alerts(
    rated_city: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The monitoring runs after the edit commits, as system work: whoever made the edit (district staff
    without the right to write alerts, a cooperative's own user), the alert is raised and resolved."""
    from hezuo.core.models import ChangeRecord

    world = rated_city
    coop = world["coop_a"]

    def edit(obj: Any, user: Any, **fields: Any) -> None:
        before = snapshot(obj)
        for name, value in fields.items():
            setattr(obj, name, value)
        # the request's context holds the user while the hooks run after the commit (as the middleware does)
        with change_context(user=user, source="web"), django_capture_on_commit_callbacks(execute=True):
            save_record(obj, before=before)

    edit(coop, world["district_a"], on_abnormal_list=True, abnormal_listed_on=dt.date(YEAR + 1, 2, 1))
    alert = Alert.objects.get(cooperative=coop, status="open")
    assert alert.kind == "gate"
    record = ChangeRecord.objects.filter(content_type__model="alert", object_id=alert.pk).get()
    assert (record.user, record.source) == (None, "monitor")
    edit(coop, world["city"], on_abnormal_list=False, abnormal_listed_on=None)
    alert.refresh_from_db()
    assert alert.status == "resolved"

    fact = coop.yearlyfact_set.get(year=YEAR)
    kept = {
        name: getattr(fact, name) for name in ("revenue", "member_capital", "fixed_assets", "income_uplift")
    }
    edit(fact, world["coop_user"], revenue=0, member_capital=0, fixed_assets=0, income_uplift=0)
    lowered = Alert.objects.get(cooperative=coop, status="open")
    assert lowered.kind == "score"
    edit(fact, world["coop_user"], **kept)  # the cooperative's user corrects its facts
    lowered.refresh_from_db()
    assert lowered.status == "resolved" and "automatically" in lowered.note
