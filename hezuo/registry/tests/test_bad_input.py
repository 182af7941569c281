"""Bad input, through the forms and through the API: a message naming the field, and nothing saved.

Covers the issue's "Bad input" list (unknown division, registration date in the future, negative counts,
farmer members above members, surplus returned above the surplus, malformed phone numbers, over-long text)
and the credit code rules (errors, warnings that must be confirmed, duplicates with a link).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hezuo.conftest import DISTRICT_A, DISTRICT_B, first_town
from hezuo.core.testing import ChangeLog, edit_form_data
from hezuo.geo.models import Division
from hezuo.registry.creditcode import CHARSET, check_character, make_code
from hezuo.registry.models import Cooperative, YearlyFact
from hezuo.registry.views import CooperativeUI, YearlyFactUI

_n = itertools.count(1)
COOP_UI, FACT_UI = CooperativeUI(), YearlyFactUI()
Value = str | Callable[[], str]


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def town_of(code: str) -> Division:
    return first_town(code)


def coop_form_data() -> dict[str, Any]:
    n = next(_n)
    town = town_of(DISTRICT_A)
    village = Division.objects.filter(parent=town).order_by("code").first()
    assert village is not None
    return {
        "name": f"宁海县坏数据{n}号专业合作社",
        "credit_code": make_code(DISTRICT_A, f"MD{n:07d}"),
        "registration_date": "2017-06-01",
        "district": str(town.district_id),
        "town": str(town.pk),
        "village": str(village.pk),
        "industry": "fruit",
        "operating_status": "operating",
        "legal_representative": "王五",
        "phone": "13805740000",
    }


def coop_api_data() -> dict[str, Any]:
    n = next(_n)
    return {
        "name": f"宁海县坏数据{n}号专业合作社",
        "credit_code": make_code(DISTRICT_A, f"ME{n:07d}"),
        "registration_date": "2017-06-01",
        "district": DISTRICT_A,
        "town": town_of(DISTRICT_A).code,
        "industry": "fruit",
        "phone": "13805740000",
    }


def resolve(values: dict[str, Value]) -> dict[str, str]:
    return {k: v() if callable(v) else v for k, v in values.items()}


@pytest.fixture
def district_client(city_data: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(city_data["district_a"])
    return client


def assert_form_refuses(client: Client, url: str, data: dict[str, Any], field: str, model: type) -> str:
    """The form comes back with an error under `field`, and nothing was written. Returns the error text."""
    count = model._default_manager.count()
    with ChangeLog() as log:
        response = client.post(url, data)
    assert response.status_code == 200, f"{field}: saved ({response.status_code})"
    errors = response.context["form"].errors
    assert field in errors, (field, errors)
    assert f'data-field="{field}"' in response.content.decode()  # shown under the field on the page
    assert model._default_manager.count() == count
    assert log.records == []
    return " ".join(errors[field])


def assert_api_refuses(
    client: Client, method: str, url: str, payload: dict[str, Any], field: str, model: type
) -> str:
    count = model._default_manager.count()
    with ChangeLog() as log:
        response = getattr(client, method)(url, payload, content_type="application/json")
    assert response.status_code == 400, (field, response.status_code, response.content)
    body = response.json()
    assert field in body, (field, body)
    assert model._default_manager.count() == count
    assert log.records == []
    return " ".join(str(m) for m in body[field])


# the cooperative -------------------------------------------------------------------------------------------
COOP_CASES: list[tuple[str, dict[str, Value], dict[str, Value], str]] = [
    # id, form values, API values, the field that must be named
    ("unknown-district", {"district": "999999"}, {"district": "999999"}, "district"),
    ("unknown-town", {"town": "99999999"}, {"town": "999999999"}, "town"),
    ("unknown-village", {"village": "99999999"}, {"village": "999999999999"}, "village"),
    (
        "town-of-another-district",
        {"town": lambda: str(town_of(DISTRICT_B).pk)},
        {"town": lambda: town_of(DISTRICT_B).code},
        "town",
    ),
    (
        "a-town-as-district",
        {"district": lambda: str(town_of(DISTRICT_A).pk)},
        {"district": lambda: town_of(DISTRICT_A).code},
        "district",
    ),
    (
        "registration-in-the-future",
        {"registration_date": tomorrow},
        {"registration_date": tomorrow},
        "registration_date",
    ),
    (
        "registration-not-a-date",
        {"registration_date": "2019-02-30"},
        {"registration_date": "2019-02-30"},
        "registration_date",
    ),
    ("negative-capital", {"registered_capital": "-1"}, {"registered_capital": "-1"}, "registered_capital"),
    ("phone-letters", {"phone": "138abc74000"}, {"phone": "138abc74000"}, "phone"),
    ("phone-10-digits", {"phone": "1380574000"}, {"phone": "1380574000"}, "phone"),
    ("phone-12-digits", {"phone": "138057400001"}, {"phone": "138057400001"}, "phone"),
    ("phone-not-a-mobile-prefix", {"phone": "12805740000"}, {"phone": "12805740000"}, "phone"),
    ("landline-without-area-code", {"phone": "87654321"}, {"phone": "87654321"}, "phone"),
    ("name-too-long", {"name": "合" * 201}, {"name": "合" * 201}, "name"),
    ("address-too-long", {"address": "路" * 256}, {"address": "路" * 256}, "address"),
    (
        "representative-too-long",
        {"legal_representative": "张" * 51},
        {"legal_representative": "张" * 51},
        "legal_representative",
    ),
    ("products-too-long", {"main_products": "果" * 201}, {"main_products": "果" * 201}, "main_products"),
    ("note-too-long", {"note": "注" * 2001}, {"note": "注" * 2001}, "note"),
    ("reason-too-long", {"reason": "因" * 501}, {"reason": "因" * 501}, "reason"),
    ("unknown-industry", {"industry": "mining"}, {"industry": "mining"}, "industry"),
    ("credit-code-too-short", {"credit_code": "93330226MA2"}, {"credit_code": "93330226MA2"}, "credit_code"),
    (
        "credit-code-too-long",
        {"credit_code": "93330226MA2H0000000"},
        {"credit_code": "93330226MA2H0000000"},
        "credit_code",
    ),
    (
        "credit-code-letter-O",
        {"credit_code": "93330226MA2H0O0001"},
        {"credit_code": "93330226MA2H0O0001"},
        "credit_code",
    ),
    (
        "credit-code-letter-I",
        {"credit_code": "93330226MA2HI00001"},
        {"credit_code": "93330226MA2HI00001"},
        "credit_code",
    ),
    (
        "credit-code-punctuation",
        {"credit_code": "93330226MA2H-00001"},
        {"credit_code": "93330226MA2H-00001"},
        "credit_code",
    ),
    (
        "credit-code-division-not-digits",
        {"credit_code": "93AB0226MA2H000001"},
        {"credit_code": "93AB0226MA2H000001"},
        "credit_code",
    ),
]


@pytest.mark.parametrize(
    ("form_values", "field"), [(c[1], c[3]) for c in COOP_CASES], ids=[c[0] for c in COOP_CASES]
)
def test_cooperative_form_refuses(district_client: Client, form_values: dict[str, Value], field: str) -> None:
    data = {**coop_form_data(), **resolve(form_values)}
    assert_form_refuses(district_client, COOP_UI.url("add"), data, field, Cooperative)


@pytest.mark.parametrize(
    ("api_values", "field"), [(c[2], c[3]) for c in COOP_CASES], ids=[c[0] for c in COOP_CASES]
)
def test_cooperative_api_refuses(district_client: Client, api_values: dict[str, Value], field: str) -> None:
    payload = {**coop_api_data(), **resolve(api_values)}
    assert_api_refuses(district_client, "post", "/api/cooperatives/", payload, field, Cooperative)


EDIT_CASES = [
    c
    for c in COOP_CASES
    if c[0]
    in {
        "unknown-town",
        "registration-in-the-future",
        "negative-capital",
        "phone-letters",
        "name-too-long",
        "credit-code-letter-O",
    }
]


@pytest.mark.parametrize("case", EDIT_CASES, ids=[c[0] for c in EDIT_CASES])
def test_editing_a_cooperative_with_bad_input_changes_nothing(
    city_data: dict[str, Any], district_client: Client, case: tuple[Any, ...]
) -> None:
    _id, form_values, api_values, field = case
    coop = city_data["coop_a"]
    before = Cooperative.objects.filter(pk=coop.pk).values().get()
    data = edit_form_data(COOP_UI, coop, city_data["district_a"], **resolve(form_values))
    assert_form_refuses(district_client, COOP_UI.url("edit", coop), data, field, Cooperative)
    assert_api_refuses(
        district_client, "patch", f"/api/cooperatives/{coop.pk}/", resolve(api_values), field, Cooperative
    )
    assert Cooperative.objects.filter(pk=coop.pk).values().get() == before


# yearly facts ----------------------------------------------------------------------------------------------
FACT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("negative-members", {"members": -1}, "members"),
    ("negative-farmer-members", {"farmer_members": -3}, "farmer_members"),
    ("negative-households", {"member_households": -1}, "member_households"),
    ("negative-nonmember-households", {"nonmember_households": -1}, "nonmember_households"),
    ("negative-revenue", {"revenue": "-100"}, "revenue"),
    ("negative-member-capital", {"member_capital": "-0.01"}, "member_capital"),
    ("members-not-a-number", {"members": "many"}, "members"),
    ("farmer-members-above-members", {"members": 10, "farmer_members": 11}, "farmer_members"),
    ("entity-members-above-members", {"members": 10, "entity_members": 12}, "entity_members"),
    ("accounts-above-members", {"members": 10, "members_with_accounts": 11}, "members_with_accounts"),
    ("extra-votes-above-members", {"members": 10, "extra_votes": 11}, "extra_votes"),
    (
        "surplus-returned-above-surplus",
        {"distributable_surplus": "1000", "surplus_returned": "1500"},
        "surplus_returned",
    ),
    (
        "surplus-returned-with-a-loss",
        {"distributable_surplus": "-500", "surplus_returned": "1"},
        "surplus_returned",
    ),
    ("rate-above-100", {"unified_sale_rate": "150"}, "unified_sale_rate"),
    ("year-in-the-future", {"year": timezone.localdate().year + 1}, "year"),
    ("year-before-registration", {"year": 2010}, "year"),
    ("assembly-outside-the-year", {"assembly_held": True, "assembly_date": "2023-03-01"}, "assembly_date"),
]


def fact_form_value(value: Any) -> str:
    if value is True:
        return "true"
    return str(value)


@pytest.mark.parametrize(
    ("values", "field"), [(c[1], c[2]) for c in FACT_CASES], ids=[c[0] for c in FACT_CASES]
)
def test_yearly_fact_form_refuses(
    city_data: dict[str, Any], district_client: Client, values: dict[str, Any], field: str
) -> None:
    data = {"year": "2024", "members": "20", **{k: fact_form_value(v) for k, v in values.items()}}
    url = FACT_UI.url("add", parent=city_data["coop_a"])
    assert_form_refuses(district_client, url, data, field, YearlyFact)


@pytest.mark.parametrize(
    ("values", "field"), [(c[1], c[2]) for c in FACT_CASES], ids=[c[0] for c in FACT_CASES]
)
def test_yearly_fact_api_refuses(
    city_data: dict[str, Any], district_client: Client, values: dict[str, Any], field: str
) -> None:
    payload = {"cooperative": city_data["coop_a"].pk, "year": 2024, "members": 20, **values}
    assert_api_refuses(district_client, "post", "/api/facts/", payload, field, YearlyFact)


# the credit code: warnings to confirm ----------------------------------------------------------------------
def wrong_check_code() -> str:
    code = make_code(DISTRICT_A, f"MF{next(_n):07d}")
    wrong = CHARSET[(CHARSET.index(code[17]) + 1) % len(CHARSET)]
    return code[:17] + wrong


def other_prefix_code() -> str:
    first17 = f"92{DISTRICT_A}MG{next(_n):07d}"  # 92: an individual business, not a cooperative
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    ("make", "says"),
    [(wrong_check_code, "check character"), (other_prefix_code, "93")],
    ids=["wrong-check-character", "prefix-92"],
)
def test_a_suspicious_credit_code_must_be_confirmed_in_the_form(
    city_data: dict[str, Any], district_client: Client, make: Callable[[], str], says: str
) -> None:
    data = {**coop_form_data(), "credit_code": make()}
    message = assert_form_refuses(district_client, COOP_UI.url("add"), data, "credit_code", Cooperative)
    assert says in message
    # the confirmation box is flagged too
    response = district_client.post(COOP_UI.url("add"), data)
    assert "confirm_warnings" in response.context["form"].errors
    # confirmed: saved, with one record
    with ChangeLog() as log:
        response = district_client.post(COOP_UI.url("add"), {**data, "confirm_warnings": "on"})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    coop = Cooperative.objects.get(credit_code=data["credit_code"])
    assert [(r.action, r.object_id) for r in log.records] == [("create", coop.pk)]


@pytest.mark.parametrize(
    ("make", "says"),
    [(wrong_check_code, "check character"), (other_prefix_code, "93")],
    ids=["wrong-check-character", "prefix-92"],
)
def test_a_suspicious_credit_code_must_be_confirmed_in_the_api(
    district_client: Client, make: Callable[[], str], says: str
) -> None:
    payload = {**coop_api_data(), "credit_code": make()}
    message = assert_api_refuses(
        district_client, "post", "/api/cooperatives/", payload, "credit_code", Cooperative
    )
    assert says in message
    assert "confirm_warnings" in message
    with ChangeLog() as log:
        response = district_client.post(
            "/api/cooperatives/", {**payload, "confirm_warnings": True}, content_type="application/json"
        )
    assert response.status_code == 201, response.json()
    assert response.json()["credit_code"] == payload["credit_code"]
    assert [r.action for r in log.records] == ["create"]


def test_a_confirmed_code_can_be_kept_on_edit(city_data: dict[str, Any], district_client: Client) -> None:
    """The warning is about the code; an edit of another field of a cooperative with such a code saves once
    the user confirms again, and the code is kept as it is."""
    data = {**coop_form_data(), "credit_code": wrong_check_code(), "confirm_warnings": "on"}
    assert district_client.post(COOP_UI.url("add"), data).status_code == 302
    coop = Cooperative.objects.get(credit_code=data["credit_code"])
    edit = edit_form_data(COOP_UI, coop, city_data["district_a"], address="岔路镇1号", confirm_warnings="on")
    assert district_client.post(COOP_UI.url("edit", coop), edit).status_code == 302
    coop.refresh_from_db()
    assert (coop.address, coop.credit_code) == ("岔路镇1号", data["credit_code"])


# the credit code: duplicates -------------------------------------------------------------------------------
def test_a_duplicate_code_in_scope_is_refused_with_a_link(
    city_data: dict[str, Any], district_client: Client
) -> None:
    existing = city_data["coop_a2"]
    for typed in (existing.credit_code, f" {existing.credit_code.lower()} "):
        data = {**coop_form_data(), "credit_code": typed}
        assert_form_refuses(district_client, COOP_UI.url("add"), data, "credit_code", Cooperative)
        html = district_client.post(COOP_UI.url("add"), data).content.decode()
        assert f'<a href="/registry/cooperatives/{existing.pk}/">{existing.name}</a>' in html
    message = assert_api_refuses(
        district_client,
        "post",
        "/api/cooperatives/",
        {**coop_api_data(), "credit_code": existing.credit_code},
        "credit_code",
        Cooperative,
    )
    assert f"/registry/cooperatives/{existing.pk}/" in message


def test_a_duplicate_code_out_of_scope_is_refused_without_revealing_it(
    city_data: dict[str, Any], district_client: Client
) -> None:
    existing = city_data["coop_b"]
    data = {**coop_form_data(), "credit_code": existing.credit_code}
    message = assert_form_refuses(district_client, COOP_UI.url("add"), data, "credit_code", Cooperative)
    html = district_client.post(COOP_UI.url("add"), data).content.decode()
    assert existing.name not in html
    assert f"/registry/cooperatives/{existing.pk}/" not in html
    assert "already registered" in message
    message = assert_api_refuses(
        district_client,
        "post",
        "/api/cooperatives/",
        {**coop_api_data(), "credit_code": existing.credit_code},
        "credit_code",
        Cooperative,
    )
    assert existing.name not in message
    assert f"/{existing.pk}/" not in message


def test_editing_into_another_cooperatives_code_is_refused(
    city_data: dict[str, Any], district_client: Client
) -> None:
    coop, other = city_data["coop_a"], city_data["coop_a2"]
    data = edit_form_data(COOP_UI, coop, city_data["district_a"], credit_code=other.credit_code)
    assert_form_refuses(district_client, COOP_UI.url("edit", coop), data, "credit_code", Cooperative)
    assert_api_refuses(
        district_client,
        "patch",
        f"/api/cooperatives/{coop.pk}/",
        {"credit_code": other.credit_code},
        "credit_code",
        Cooperative,
    )
    coop.refresh_from_db()
    assert coop.credit_code != other.credit_code


def test_valid_input_is_accepted(district_client: Client) -> None:
    """The control for the cases above: the same base data, unchanged, saves through the form and the API."""
    with ChangeLog() as log:
        assert district_client.post(COOP_UI.url("add"), coop_form_data()).status_code == 302
        response = district_client.post(
            "/api/cooperatives/", coop_api_data(), content_type="application/json"
        )
    assert response.status_code == 201, response.json()
    assert [r.action for r in log.records] == ["create", "create"]


def test_today_is_frozen_within_a_bulk_import_block() -> None:
    import datetime as dt
    from unittest import mock

    from hezuo.registry.models import frozen_today, today

    with frozen_today() as frozen:
        assert today() == frozen
        later = dt.datetime.combine(frozen + dt.timedelta(days=1), dt.time(1), tzinfo=dt.UTC)
        with mock.patch("django.utils.timezone.now", return_value=later):
            assert today() == frozen  # past midnight: still the block's date
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert today() == frozen + dt.timedelta(days=1)  # outside the block: the clock again
