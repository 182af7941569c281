"""The service layer (hezuo/core/services.py) and the change context (hezuo/core/context.py): every
create, update, retirement and restoration writes exactly the expected ChangeRecord rows."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hezuo.conftest import DISTRICT_A, DISTRICT_B, first_town, make_coop
from hezuo.core.context import ChangeContext, change_context, current_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import (
    ScopeViolation,
    changed_fields,
    history_for,
    record_bulk,
    restore_record,
    retire_record,
    save_record,
    snapshot,
)
from hezuo.geo.models import Division
from hezuo.registry.creditcode import make_code
from hezuo.registry.models import Cooperative, YearlyFact


def records_for(obj: Any) -> list[ChangeRecord]:
    ct = ContentType.objects.get_for_model(obj)
    return list(ChangeRecord.objects.filter(content_type=ct, object_id=obj.pk).order_by("id"))


def new_coop(district_code: str = DISTRICT_A, n: int = 1, **fields: Any) -> Cooperative:
    town = first_town(district_code)
    return Cooperative(
        name=fields.pop("name", f"服务测试{n}号专业合作社"),
        credit_code=make_code(district_code, f"MB{n:07d}"),
        registration_date=dt.date(2018, 3, 1),
        district=Division.objects.get(code=district_code),
        town=town,
        village=Division.objects.filter(parent=town).order_by("code").first(),
        industry="tea",
        **fields,
    )


def move_to(coop: Cooperative, district_code: str) -> None:
    town = first_town(district_code)
    coop.district = Division.objects.get(code=district_code)
    coop.town = town
    coop.village = Division.objects.filter(parent=town).order_by("code").first()


# --- create / update / no-op / retire / restore ----------------------------------------------------


def test_create_writes_one_record_with_the_context(city_data: dict[str, Any]) -> None:
    user = city_data["district_a"]
    coop = new_coop()
    with change_context(user=user, reason="new registration", source="web") as ctx:
        record = save_record(coop)
    assert coop.pk is not None
    assert records_for(coop) == [record]
    assert record is not None
    assert record.action == ChangeRecord.Action.CREATE
    assert record.before is None
    assert record.after == snapshot(coop)
    assert record.user == user and record.user_name == user.username
    assert record.request_id == ctx.request_id
    assert record.message == "new registration" and record.source == "web"
    assert record.object_repr == coop.name
    assert record.parent_type is None and record.parent_id is None
    assert record.diff()["name"] == (None, coop.name)


def test_update_records_before_and_after(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a"]
    old_name = coop.name
    with change_context(user=city_data["district_a"], reason="renamed"):
        coop.name = "宁海县岔路镇白枇杷股份专业合作社"
        coop.registered_capital = Decimal("500000.00")
        record = save_record(coop)
    assert record is not None and record.action == ChangeRecord.Action.UPDATE
    assert record.diff() == {
        "name": (old_name, "宁海县岔路镇白枇杷股份专业合作社"),
        "registered_capital": (None, "500000"),
    }
    assert changed_fields([record]) == {"name", "registered_capital"}
    assert [r.action for r in records_for(coop)] == ["create", "update"]
    assert Cooperative.objects.get(pk=coop.pk).name == "宁海县岔路镇白枇杷股份专业合作社"


def test_update_with_a_before_snapshot_of_an_instance_changed_in_memory(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a2"]
    before = snapshot(coop)
    coop.main_products = "蛏子"
    with change_context(user=city_data["city"]):
        record = save_record(coop, before=before)
    assert record is not None and record.diff() == {"main_products": ("", "蛏子")}


def test_no_op_update_writes_nothing(city_data: dict[str, Any]) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    count = ChangeRecord.objects.count()
    with change_context(user=city_data["district_a"]):
        assert save_record(coop) is None
        assert save_record(coop, before=snapshot(coop)) is None
        coop.registered_capital = None
        assert save_record(coop) is None
    assert ChangeRecord.objects.count() == count


def test_retire_and_restore(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_b"]
    with change_context(user=city_data["district_b"], reason="deregistered") as ctx:
        retired = retire_record(coop)
    assert Cooperative.objects.get(pk=coop.pk).retired_at is not None
    assert retired.action == ChangeRecord.Action.RETIRE and retired.message == "deregistered"
    assert retired.request_id == ctx.request_id
    assert retired.before["retired_at"] is None and retired.after["retired_at"] is not None
    assert set(retired.diff()) == {"retired_at"}
    with change_context(user=city_data["district_b"]), pytest.raises(ValidationError):
        retire_record(coop)
    with change_context(user=city_data["district_b"], reason="mistake"):
        restored = restore_record(coop)
    assert Cooperative.objects.get(pk=coop.pk).retired_at is None
    assert restored.action == ChangeRecord.Action.RESTORE
    assert restored.before["retired_at"] is not None and restored.after["retired_at"] is None
    assert [r.action for r in records_for(coop)] == ["create", "retire", "restore"]


def test_retire_is_refused_out_of_scope_and_without_permission(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a"]
    count = ChangeRecord.objects.count()
    for persona, error in (
        ("district_b", ScopeViolation),
        ("viewer", PermissionDenied),
        ("coop_user", PermissionDenied),
        ("counselor", PermissionDenied),
    ):
        with change_context(user=city_data[persona]), pytest.raises(error):
            retire_record(coop)
    assert Cooperative.objects.get(pk=coop.pk).retired_at is None
    assert ChangeRecord.objects.count() == count


def test_system_changes_have_no_user(db: None) -> None:
    with change_context(source="demo", reason="generated"):
        coop = new_coop()
        record = save_record(coop)
    assert record is not None
    assert record.user is None and record.user_name == "demo" and record.source == "demo"


def test_invalid_record_is_not_saved(city_data: dict[str, Any]) -> None:
    coop = new_coop()
    coop.registration_date = dt.date.today() + dt.timedelta(days=30)
    count = ChangeRecord.objects.count()
    with change_context(user=city_data["city"]), pytest.raises(ValidationError) as info:
        save_record(coop)
    assert "registration_date" in info.value.message_dict
    assert not Cooperative.objects.filter(credit_code=coop.credit_code).exists()
    assert ChangeRecord.objects.count() == count


# --- request ids and nested contexts -------------------------------------------------------------


def test_one_context_shares_one_request_id(city_data: dict[str, Any]) -> None:
    with change_context(user=city_data["city"], reason="batch") as ctx:
        first = save_record(new_coop(n=1))
        second = save_record(new_coop(n=2))
        with change_context(reason="inner") as inner:
            third = save_record(new_coop(n=3))
    assert first and second and third
    assert first.request_id == second.request_id == third.request_id == ctx.request_id == inner.request_id
    assert third.message == "inner" and third.user == city_data["city"]
    with change_context(user=city_data["city"]) as other:
        fourth = save_record(new_coop(n=4))
    assert fourth and fourth.request_id == other.request_id != ctx.request_id


def test_explicit_ctx_argument_wins(city_data: dict[str, Any]) -> None:
    ctx = ChangeContext(user=city_data["district_a"], reason="explicit", source="import")
    with change_context(user=city_data["city"], reason="ambient"):
        record = save_record(new_coop(), ctx=ctx)
    assert record is not None
    assert (record.user, record.message, record.source, record.request_id) == (
        city_data["district_a"],
        "explicit",
        "import",
        ctx.request_id,
    )


def test_changes_outside_any_context_do_not_glue_later_requests_together(db: None) -> None:
    first = save_record(new_coop(n=1))  # no context: a one-off system change
    second = save_record(new_coop(n=2))
    assert first and second and first.source == "cli" and first.user is None
    with change_context(source="web") as a:
        pass
    with change_context(source="web") as b:
        pass
    assert a.request_id != b.request_id
    assert first.request_id not in (a.request_id, b.request_id)
    assert current_context() is not current_context()  # outside a context, each change stands alone


# --- child records and history_for ---------------------------------------------------------------


def test_child_record_changes_show_in_the_parent_history(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a"]
    coop_ct = ContentType.objects.get_for_model(Cooperative)
    with change_context(user=city_data["coop_user"], reason="annual report") as ctx:
        fact = YearlyFact(
            cooperative=coop,
            year=2024,
            members=12,
            farmer_members=11,
            revenue=Decimal("1234567.80"),
            assembly_held=True,
            assembly_date=dt.date(2024, 3, 2),
        )
        created = save_record(fact)
        fact.members = 13
        updated = save_record(fact)
    assert created and updated
    for record in (created, updated):
        assert record.parent_type == coop_ct and record.parent_id == coop.pk
        assert record.request_id == ctx.request_id and record.user == city_data["coop_user"]
    assert updated.diff() == {"members": (12, 13)}
    assert created.after["revenue"] == "1234567.8"
    assert created.after["assembly_date"] == "2024-03-02"
    assert created.after["cooperative"] == {"id": coop.pk, "label": coop.name}
    history = list(history_for(coop))
    assert created in history and updated in history
    assert [r.action for r in history if r.content_type == coop_ct] == ["create"]
    assert history_for(city_data["coop_a2"]).filter(pk__in=[created.pk, updated.pk]).count() == 0
    # newest first
    assert history.index(updated) < history.index(created)


def test_cooperative_user_edits_only_own_yearly_facts(city_data: dict[str, Any]) -> None:
    count = ChangeRecord.objects.count()
    with change_context(user=city_data["coop_user"]), pytest.raises(ScopeViolation):
        save_record(YearlyFact(cooperative=city_data["coop_a2"], year=2024, members=5))
    assert not YearlyFact.objects.filter(cooperative=city_data["coop_a2"]).exists()
    coop = city_data["coop_a"]
    coop.name = "改名"
    with change_context(user=city_data["coop_user"]), pytest.raises(PermissionDenied):
        save_record(coop)
    assert Cooperative.objects.get(pk=coop.pk).name == "宁海县岔路镇白枇杷专业合作社"
    assert ChangeRecord.objects.count() == count


# --- snapshot ------------------------------------------------------------------------------------


def test_snapshot_format(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a"]
    coop.registered_capital = Decimal("100000.00")
    data = snapshot(coop)
    assert "id" not in data and "search_text" not in data
    assert "created_at" not in data and "updated_at" not in data
    assert data["district"] == {"id": coop.district_id, "label": "宁海县"}
    assert data["town"] == {"id": coop.town_id, "label": coop.town.name}
    assert data["registration_date"] == "2016-05-01"
    assert data["registered_capital"] == "100000"
    assert data["retired_at"] is None and data["cert_green"] is False
    coop.village = None
    assert snapshot(coop)["village"] is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("100000.00", "100000"),
        ("100000", "100000"),
        ("12.50", "12.5"),
        ("12.5", "12.5"),
        ("0.00", "0"),
        ("0.05", "0.05"),
        ("1E+2", "100"),
        ("99999999999999.99", "99999999999999.99"),
        ("-3.10", "-3.1"),
    ],
)
def test_snapshot_decimals_are_plain_and_canonical(db: None, value: str, text: str) -> None:
    fact = YearlyFact(year=2024, revenue=Decimal(value))
    assert snapshot(fact)["revenue"] == text


def test_snapshot_of_a_datetime_and_a_reloaded_record_are_stable(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_b"]
    with change_context(source="cli"):
        retire_record(coop)
    reloaded = Cooperative.objects.get(pk=coop.pk)
    assert snapshot(reloaded) == snapshot(coop)
    assert isinstance(snapshot(reloaded)["retired_at"], str) and "T" in snapshot(reloaded)["retired_at"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (SQLite keeps decimals as floats: beyond 15 significant digits they would not come back exactly)
@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_saving_the_same_amount_again_records_nothing(city_data: dict[str, Any], amount: Decimal) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    coop.registered_capital = amount
    with change_context(source="cli"):
        save_record(coop)
    before = ChangeRecord.objects.count()
    reloaded = Cooperative.objects.get(pk=coop.pk)  # comes back with two decimal places
    reloaded.registered_capital = amount.normalize()  # the same amount written another way
    with change_context(source="cli"):
        assert save_record(reloaded) is None
    assert ChangeRecord.objects.count() == before


# --- record_bulk ---------------------------------------------------------------------------------


def test_record_bulk_creates_and_skips_unchanged_updates(city_data: dict[str, Any]) -> None:
    coops = [city_data["coop_a"], city_data["coop_a2"], city_data["coop_b"]]
    befores = [snapshot(c) for c in coops]
    coops[0].main_products = "枇杷"
    coops[2].brands = "红美人"
    for coop in coops:
        coop.save()
    count = ChangeRecord.objects.count()
    with change_context(source="import", reason="bulk") as ctx:
        written = record_bulk(coops, ChangeRecord.Action.UPDATE, befores, batch_size=1)
    assert written == 2
    rows = list(ChangeRecord.objects.order_by("id")[count:])
    assert [r.object_id for r in rows] == [coops[0].pk, coops[2].pk]
    assert {r.request_id for r in rows} == {ctx.request_id}
    assert rows[0].diff() == {"main_products": ("", "枇杷")} and rows[0].source == "import"
    assert rows[1].parent_type is None
    with change_context(source="import"):
        assert record_bulk(coops, ChangeRecord.Action.UPDATE, [snapshot(c) for c in coops]) == 0
        facts = [YearlyFact.objects.create(cooperative=c, year=2022, members=3) for c in coops]
        assert record_bulk(facts, ChangeRecord.Action.CREATE) == 3
    fact_rows = ChangeRecord.objects.filter(
        action="create",
        object_id__in=[f.pk for f in facts],
        content_type=ContentType.objects.get_for_model(YearlyFact),
    )
    assert {(r.parent_id, r.before) for r in fact_rows} == {(c.pk, None) for c in coops}


# --- scope violations roll everything back ----------------------------------------------------------


def test_moving_a_cooperative_out_of_the_district_is_rolled_back(city_data: dict[str, Any]) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    before_row = snapshot(coop)
    count = ChangeRecord.objects.count()
    move_to(coop, DISTRICT_B)
    coop.name = "搬走的合作社"
    with change_context(user=city_data["district_a"], reason="move"), pytest.raises(ScopeViolation):
        save_record(coop)
    assert snapshot(Cooperative.objects.get(pk=coop.pk)) == before_row
    assert ChangeRecord.objects.count() == count


def test_creating_outside_the_district_is_rolled_back(city_data: dict[str, Any]) -> None:
    coop = new_coop(DISTRICT_B, n=9)
    count = ChangeRecord.objects.count()
    with change_context(user=city_data["district_a"]), pytest.raises(ScopeViolation):
        save_record(coop)
    assert not Cooperative.objects.filter(credit_code=coop.credit_code).exists()
    assert ChangeRecord.objects.count() == count


def test_pulling_a_cooperative_into_ones_district_is_refused(city_data: dict[str, Any]) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    before_row = snapshot(coop)
    count = ChangeRecord.objects.count()
    move_to(coop, DISTRICT_B)
    with change_context(user=city_data["district_b"]), pytest.raises(PermissionDenied):
        save_record(coop)
    assert snapshot(Cooperative.objects.get(pk=coop.pk)) == before_row
    assert ChangeRecord.objects.count() == count


def test_a_scope_violation_inside_a_larger_change_rolls_back_that_change(city_data: dict[str, Any]) -> None:
    user = city_data["district_a"]
    count = ChangeRecord.objects.count()
    with change_context(user=user):
        kept = save_record(new_coop(n=5))
        with pytest.raises(ScopeViolation):
            save_record(new_coop(DISTRICT_B, n=6))
    assert kept is not None and ChangeRecord.objects.count() == count + 1


def test_city_staff_may_move_a_cooperative(city_data: dict[str, Any]) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    move_to(coop, DISTRICT_B)
    with change_context(user=city_data["city"]):
        record = save_record(coop)
    assert record is not None
    assert {"district", "town", "village"} <= set(record.diff())
    assert record.diff()["district"][1]["label"] == "象山县"


def test_make_coop_helper_writes_history(db: None) -> None:
    coop = make_coop(DISTRICT_B, name="历史测试专业合作社")
    assert [r.action for r in history_for(coop)] == ["create"]
    assert isinstance(history_for(coop).first().request_id, uuid.UUID)
