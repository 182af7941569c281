"""A cooperative cannot leave its district; every change shows readably in History, grouped by request."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from hezuo.conftest import DISTRICT_A, DISTRICT_B, first_town, make_coop
from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import ScopeViolation, save_record, snapshot
from hezuo.core.testing import ChangeLog, edit_form_data
from hezuo.geo.models import Division
from hezuo.registry.models import Cooperative, YearlyFact
from hezuo.registry.views import CooperativeUI

UI = CooperativeUI()


def town_and_village(district_code: str) -> tuple[Division, Division]:
    town = first_town(district_code)
    village = Division.objects.filter(parent=town).order_by("code").first()
    assert village is not None
    return town, village


@pytest.fixture
def moving(city_data: dict[str, Any]) -> dict[str, Any]:
    """coop_a, its state before, and what district B's division ids are."""
    coop = city_data["coop_a"]
    town_b, village_b = town_and_village(DISTRICT_B)
    return {
        "coop": coop,
        "before": snapshot(coop),
        "district_b": Division.objects.get(code=DISTRICT_B),
        "town_b": town_b,
        "village_b": village_b,
        "client": _client(city_data["district_a"]),
        "user": city_data["district_a"],
    }


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_unchanged(moving: dict[str, Any], log: ChangeLog) -> None:
    coop = Cooperative.objects.get(pk=moving["coop"].pk)
    assert snapshot(coop) == moving["before"]
    assert coop.district.code == DISTRICT_A
    assert log.records == []


# a district cannot move its cooperative out ----------------------------------------------------------------
def test_the_edit_form_offers_only_the_users_district(moving: dict[str, Any]) -> None:
    response = moving["client"].get(UI.url("edit", moving["coop"]))
    form = response.context["form"]
    assert [d.code for d in form.fields["district"].queryset] == [DISTRICT_A]
    assert {t.district.code for t in form.fields["town"].queryset} == {DISTRICT_A}
    assert f'value="{moving["district_b"].pk}"' not in str(form["district"])


@pytest.mark.parametrize(
    "change",
    [
        {"district": "B", "town": "B", "village": "B"},  # the whole move, posted by hand
        {"district": "B"},  # the district only
        {"town": "B", "village": "B"},  # a town of the other district under one's own
    ],
    ids=["district+town+village", "district", "town+village"],
)
def test_a_form_that_moves_the_cooperative_out_of_the_district_is_refused(
    moving: dict[str, Any], change: dict[str, str]
) -> None:
    values = {
        "district": moving["district_b"].pk,
        "town": moving["town_b"].pk,
        "village": moving["village_b"].pk,
    }
    data = edit_form_data(
        UI, moving["coop"], moving["user"], reason="moving it", **{name: str(values[name]) for name in change}
    )
    with ChangeLog() as log:
        response = moving["client"].post(UI.url("edit", moving["coop"]), data)
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["form"].errors
    assert set(errors) & set(change), errors
    assert_unchanged(moving, log)


@pytest.mark.parametrize(
    "payload",
    [
        {"district": DISTRICT_B},
        {"district": DISTRICT_B, "town": "B", "village": "B"},
        {"town": "B", "village": "B"},
    ],
    ids=["district", "district+town+village", "town+village"],
)
def test_an_api_patch_that_moves_the_cooperative_out_of_the_district_is_refused(
    moving: dict[str, Any], payload: dict[str, str]
) -> None:
    codes = {"town": moving["town_b"].code, "village": moving["village_b"].code}
    body = {key: codes.get(key, value) if value == "B" else value for key, value in payload.items()}
    with ChangeLog() as log:
        response = moving["client"].patch(
            f"/api/cooperatives/{moving['coop'].pk}/",
            {**body, "reason": "moving"},
            content_type="application/json",
        )
    assert response.status_code == 400, response.content
    assert_unchanged(moving, log)
    # and a full PUT of the same move
    full = moving["client"].get(f"/api/cooperatives/{moving['coop'].pk}/").json()
    full.update(district=DISTRICT_B, town=codes["town"], village=codes["village"], phone="13805740000")
    with ChangeLog() as log:
        response = moving["client"].put(
            f"/api/cooperatives/{moving['coop'].pk}/", full, content_type="application/json"
        )
    assert response.status_code == 400, response.content
    assert_unchanged(moving, log)


def test_the_service_layer_rolls_a_move_out_of_scope_back(moving: dict[str, Any]) -> None:
    """The last line: even a caller that skips the form's checks cannot write the move."""
    coop = Cooperative.objects.get(pk=moving["coop"].pk)
    before = snapshot(coop)
    coop.district, coop.town, coop.village = moving["district_b"], moving["town_b"], moving["village_b"]
    with (
        ChangeLog() as log,
        change_context(user=moving["user"], reason="moving"),
        pytest.raises(ScopeViolation),
    ):
        save_record(coop, before=before)
    assert_unchanged(moving, log)


def test_city_staff_may_move_a_cooperative(city_data: dict[str, Any], moving: dict[str, Any]) -> None:
    """The control: the same form, posted by city staff, moves it (so the refusals above are about scope)."""
    city = city_data["city"]
    values = {
        "district": moving["district_b"].pk,
        "town": moving["town_b"].pk,
        "village": moving["village_b"].pk,
    }
    data = edit_form_data(
        UI, moving["coop"], city, reason="moved by the registrar", **{k: str(v) for k, v in values.items()}
    )
    with ChangeLog() as log:
        response = _client(city).post(UI.url("edit", moving["coop"]), data)
    assert response.status_code == 302
    (record,) = log.records
    assert set(record.diff()) == {"district", "town", "village"}
    assert record.diff()["district"][1]["id"] == moving["district_b"].pk
    # and now district A staff no longer reach it
    assert moving["client"].get(UI.url("detail", moving["coop"])).status_code == 404


# history ---------------------------------------------------------------------------------------------------
def test_an_edit_with_a_reason_shows_in_the_history_tab(city_data: dict[str, Any]) -> None:
    user = city_data["district_a"]
    client = _client(user)
    coop = make_coop(
        DISTRICT_A, name="宁海县茶山白茶专业合作社", legal_representative="张三", operating_status="operating"
    )
    data = edit_form_data(
        UI, coop, user, legal_representative="李四", operating_status="dormant", reason="2024年报更正"
    )
    assert client.post(UI.url("edit", coop), data).status_code == 302
    response = client.get(UI.url("history", coop))
    assert response.status_code == 200
    record, changes = response.context["entries"][0]
    assert record.action == "update"
    assert record.message == "2024年报更正"
    assert record.user_name == user.username
    readable = {(c.label, c.old, c.new) for c in changes}
    assert readable == {
        ("legal representative", "张三", "李四"),
        ("operating status", "Operating", "Dormant"),
    }
    html = response.content.decode()
    assert "2024年报更正" in html
    assert '<span class="diff-old">张三</span> → <span class="diff-new">李四</span>' in html
    assert '<span class="diff-old">Operating</span> → <span class="diff-new">Dormant</span>' in html
    assert "Legal representative" in html  # the field's label, not its name
    assert "legal_representative" not in html
    # the creation is there too, below the update
    assert [r.action for r, _changes in response.context["entries"]] == ["update", "create"]


def test_a_yearly_fact_change_shows_on_its_cooperatives_history(city_data: dict[str, Any]) -> None:
    user = city_data["coop_user"]  # a cooperative user records its own facts
    client = _client(user)
    coop = city_data["coop_a"]
    with change_context(source="cli"):
        fact = YearlyFact(cooperative=coop, year=2023, members=12, farmer_members=10)
        save_record(fact)
    from hezuo.registry.views import YearlyFactUI

    data = edit_form_data(YearlyFactUI(), fact, user, members="15", reason="member register checked")
    assert client.post(YearlyFactUI().url("edit", fact), data).status_code == 302
    entries = client.get(UI.url("history", coop)).context["entries"]
    record, changes = entries[0]
    assert (record.content_type.model_class(), record.object_id) == (YearlyFact, fact.pk)
    assert record.message == "member register checked"
    assert [(c.label, c.old, c.new) for c in changes] == [("members", "12", "15")]


def test_one_request_id_groups_the_changes_of_one_action(city_data: dict[str, Any]) -> None:
    user = city_data["district_a"]
    client = _client(user)
    coop = city_data["coop_a"]
    # one web action: its record carries the request's id (also sent back in X-Request-Id)
    with ChangeLog() as log:
        response = client.post(UI.url("edit", coop), edit_form_data(UI, coop, user, note="first"))
    (first,) = log.records
    assert str(first.request_id) == response["X-Request-Id"]
    # another action: another id
    with ChangeLog() as log:
        response = client.post(UI.url("edit", coop), edit_form_data(UI, coop, user, note="second"))
    (second,) = log.records
    assert second.request_id != first.request_id
    assert str(second.request_id) == response["X-Request-Id"]
    # one action that writes several records (e.g. an import): one id for all of them
    with ChangeLog() as log, change_context(user=user, reason="annual report 2023", source="import"):
        for year in (2022, 2023):
            save_record(YearlyFact(cooperative=coop, year=year, members=10))
        coop.refresh_from_db()
        before = snapshot(coop)
        coop.main_products = "白枇杷"
        save_record(coop, before=before)
    records = log.records
    assert len(records) == 3
    assert len({r.request_id for r in records}) == 1
    assert {r.message for r in records} == {"annual report 2023"}
    assert records[0].request_id not in (first.request_id, second.request_id)
    # the change log (city staff) shows exactly the records of one request id
    response = _client(city_data["city"]).get("/core/changes/", {"request_id": str(records[0].request_id)})
    shown = [record.pk for record, _changes in response.context["entries"]]
    assert sorted(shown) == sorted(r.pk for r in records)
    assert ChangeRecord.objects.filter(request_id=records[0].request_id).count() == 3
