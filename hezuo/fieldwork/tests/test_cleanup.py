"""The cleanup case's state machine: every allowed and refused transition per role; the registry actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from hezuo.accounts.roles import Role
from hezuo.conftest import PERSONAS
from hezuo.core.scoping import VIEW
from hezuo.core.services import history_for
from hezuo.fieldwork import cleanup, runs
from hezuo.fieldwork.models import CleanupCase, Flag
from hezuo.registry.models import Cooperative, FederationMembership, Sponsorship

from .helpers import links, no_business

pytestmark = pytest.mark.django_db
S = CleanupCase.Status
AS_OF = dt.date(2025, 11, 1)
TODAY = timezone.localdate()

# transition -> (status it starts from, the personas who may make it on coop_a's case)
EXPECTED = {
    "verify": (S.FLAGGED, {"district_a"}),
    "clear": (S.FLAGGED, {"district_a"}),
    "approve": (S.VERIFIED, {"city"}),
    "carry_out": (S.APPROVED, {"city"}),
    "close": (S.ACTIONS_DONE, {"city"}),
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "verify": {
        "finding": "shell",
        "note": "Visited: office closed, no members reached.",
        "visit_date": "2025-10-01",
    },
    "clear": {"reason": "Operating: members met, books kept."},
    "approve": {"note": "Agreed."},
    "carry_out": {
        "action_date": str(TODAY),
        "reason": "Shell cooperative cleaned out",
        "referral_date": str(TODAY),
        "referral_authority": "market_regulator",
        "referral_document": "甬市监〔2025〕12号",
    },
    "close": {"note": ""},
}


def kwargs(transition: str) -> dict[str, Any]:
    data = dict(PAYLOADS[transition])
    for key in ("visit_date", "action_date", "referral_date"):
        if key in data:
            data[key] = dt.date.fromisoformat(data[key])
    if transition == "clear":
        return {"reason": data["reason"]}
    return data


@pytest.fixture
def flagged(city_data: dict[str, Any]) -> dict[str, Any]:
    """coop_a (district A) flagged SH2 + DO1, with a sponsorship and federation memberships."""
    no_business(city_data["coop_a"], 2023, 2024)
    no_business(city_data["coop_b"], 2023, 2024)
    runs.run_detection(year=2024, as_of=AS_OF)
    return {**city_data, "links": links(city_data["coop_a"])}


def case_at(world: dict[str, Any], status: str, coop: str = "coop_a") -> CleanupCase:
    """A case of the cooperative brought to `status` by the right roles."""
    district = "district_a" if coop == "coop_a" else "district_b"
    case = cleanup.open_case(world[district], world[coop])
    path = [("verify", district), ("approve", "city"), ("carry_out", "city"), ("close", "city")]
    order = [S.FLAGGED, S.VERIFIED, S.APPROVED, S.ACTIONS_DONE, S.CLOSED]
    for (transition, persona), reached in zip(path, order[1:], strict=True):
        if order.index(status) < order.index(reached):
            break
        case = getattr(cleanup, transition)(case, world[persona], **kwargs(transition))
    assert case.status == status
    return case


@pytest.mark.parametrize("transition", list(EXPECTED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_transition_is_open_only_to_the_right_role(
    flagged: dict[str, Any], persona: str, transition: str
) -> None:
    start, allowed = EXPECTED[transition]
    case = case_at(flagged, start)
    fn = getattr(cleanup, transition)
    if persona in allowed:
        case = fn(case, flagged[persona], **kwargs(transition))
        assert case.status == cleanup.TRANSITIONS[transition][2]
    else:
        with pytest.raises(cleanup.TransitionRefused):
            fn(case, flagged[persona], **kwargs(transition))
        case.refresh_from_db()
        assert case.status == start


@pytest.mark.parametrize("transition", list(EXPECTED))
@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_each_transition_page(flagged: dict[str, Any], persona: str, transition: str) -> None:
    """The page answers like the service: done (302) for the right role; for anyone else 403 with the
    reason when they see the case, 404 when they do not."""
    start, allowed = EXPECTED[transition]
    case = case_at(flagged, start)
    client = Client()
    if persona != "anonymous":
        client.force_login(flagged[persona])
    response = client.post(
        reverse("fieldwork:case_transition", args=[case.pk, transition]), PAYLOADS[transition]
    )
    case.refresh_from_db()
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif persona in allowed:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert case.status == cleanup.TRANSITIONS[transition][2]
    elif CleanupCase.objects.restrict(flagged[persona], VIEW).filter(pk=case.pk).exists():
        assert response.status_code == 403
        with translation.override(response["Content-Language"]):
            reason = str(cleanup.refusal(flagged[persona], transition, case))
        assert escape(reason) in response.content.decode()
    else:
        assert response.status_code == 404
    if persona not in allowed:
        assert case.status == start


def test_the_other_district_cannot_touch_the_case(flagged: dict[str, Any]) -> None:
    case = case_at(flagged, S.FLAGGED)
    client = Client()
    client.force_login(flagged["district_b"])
    assert client.get(reverse("fieldwork:case_detail", args=[case.pk])).status_code == 404
    assert (
        client.post(
            reverse("fieldwork:case_transition", args=[case.pk, "verify"]), PAYLOADS["verify"]
        ).status_code
        == 404
    )
    flag = Flag.objects.filter(cooperative=flagged["coop_a"]).first()
    assert client.get(reverse("fieldwork:flag_detail", args=[flag.pk])).status_code == 404
    assert client.post(reverse("fieldwork:case_open", args=[flagged["coop_a"].pk])).status_code == 404
    assert client.post(f"/api/cleanup-cases/{case.pk}/verify/", PAYLOADS["verify"]).status_code == 404


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (S.FLAGGED, "approve"),
        (S.FLAGGED, "carry_out"),
        (S.FLAGGED, "close"),
        (S.VERIFIED, "verify"),
        (S.VERIFIED, "carry_out"),
        (S.VERIFIED, "close"),
        (S.APPROVED, "verify"),
        (S.APPROVED, "clear"),
        (S.APPROVED, "approve"),
        (S.APPROVED, "close"),
        (S.ACTIONS_DONE, "clear"),
        (S.ACTIONS_DONE, "carry_out"),
        (S.CLOSED, "verify"),
        (S.CLOSED, "clear"),
        (S.CLOSED, "close"),
    ],
)
def test_transitions_out_of_order_are_refused_with_a_message(
    flagged: dict[str, Any], status: str, transition: str
) -> None:
    case = case_at(flagged, status)
    persona = next(iter(EXPECTED[transition][1]))
    with pytest.raises(ValidationError) as err:
        getattr(cleanup, transition)(case, flagged[persona], **kwargs(transition))
    assert "cannot be" in " ".join(err.value.messages)
    case.refresh_from_db()
    assert case.status == status
    # the page says so and changes nothing
    client = Client()
    client.force_login(flagged[persona])
    response = client.post(
        reverse("fieldwork:case_transition", args=[case.pk, transition]), PAYLOADS[transition]
    )
    assert response.status_code == 400 and "cannot be" in response.content.decode()


def test_clear_from_verified_and_the_flags_follow(flagged: dict[str, Any]) -> None:
    case = case_at(flagged, S.VERIFIED)
    assert set(case.flags.values_list("status", flat=True)) == {Flag.Status.UNDER_REVIEW}
    case = cleanup.clear(case, flagged["district_a"], reason="Members met; books kept.")
    assert case.status == S.CLEARED
    assert set(case.flags.values_list("status", flat=True)) == {Flag.Status.CLEARED}
    coop = Cooperative.objects.get(pk=flagged["coop_a"].pk)
    assert coop.operating_status == "operating"
    assert Sponsorship.objects.current().filter(cooperative=coop).exists()


def test_bad_input_is_refused_and_nothing_written(flagged: dict[str, Any]) -> None:
    case = case_at(flagged, S.FLAGGED)
    district = flagged["district_a"]
    with pytest.raises(ValidationError) as err:
        cleanup.verify(case, district, finding="shell", note=" ", visit_date=TODAY + dt.timedelta(days=2))
    assert set(err.value.message_dict) == {"verification_note", "visit_date"}
    with pytest.raises(ValidationError) as err:
        cleanup.verify(case, district, finding="maybe", note="x", visit_date=dt.date(2010, 1, 1))
    assert set(err.value.message_dict) == {"finding", "visit_date"}
    with pytest.raises(ValidationError):
        cleanup.clear(case, district, reason="")
    case = case_at(flagged, S.APPROVED, "coop_b")
    before = Sponsorship.objects.count(), FederationMembership.objects.current().count()
    with pytest.raises(ValidationError) as err:
        cleanup.carry_out(
            case,
            flagged["city"],
            action_date=TODAY + dt.timedelta(days=1),
            reason="",
            referral_date=TODAY,
            referral_authority="police",
            referral_document="",
        )
    assert set(err.value.message_dict) == {
        "action_date",
        "action_reason",
        "referral_authority",
        "referral_document",
    }
    assert (Sponsorship.objects.count(), FederationMembership.objects.current().count()) == before
    case.refresh_from_db()
    assert case.status == S.APPROVED
    # only one open case per cooperative; a case needs an open flag
    with pytest.raises(ValidationError):
        cleanup.open_case(flagged["district_a"], flagged["coop_a"])
    with pytest.raises(ValidationError):
        cleanup.open_case(flagged["district_a"], flagged["coop_a2"])
    with pytest.raises(cleanup.TransitionRefused):
        cleanup.open_case(flagged["counselor"], flagged["coop_a"])


def test_the_actions_change_the_registry_and_its_history(flagged: dict[str, Any]) -> None:
    coop = flagged["coop_a"]
    case = case_at(flagged, S.APPROVED)
    case = cleanup.carry_out(case, flagged["city"], **kwargs("carry_out"))
    assert case.status == S.ACTIONS_DONE
    coop = Cooperative.objects.get(pk=coop.pk)
    assert coop.operating_status == "shell"
    sponsorship = Sponsorship.objects.get(pk=flagged["links"]["sponsorship"].pk)
    assert sponsorship.end_date == TODAY and sponsorship.end_reason == "Shell cooperative cleaned out"
    for level in ("district", "town"):
        membership = FederationMembership.objects.get(pk=flagged["links"][level].pk)
        assert membership.until == TODAY and membership.end_reason == "Shell cooperative cleaned out"
    ended = FederationMembership.objects.get(pk=flagged["links"]["ended"].pk)
    assert ended.until == dt.date(2019, 1, 1) and ended.end_reason == "moved"  # untouched
    assert not Sponsorship.objects.current().filter(cooperative=coop).exists()
    assert not FederationMembership.objects.current().filter(cooperative=coop).exists()
    assert case.referral_document == "甬市监〔2025〕12号" and case.referral_authority == "market_regulator"
    assert case.actions_summary["operating_status"] == {"before": "operating", "after": "shell"}
    assert len(case.actions_summary["memberships_ended"]) == 2
    # the history: one request, by the city user, with the reason, on the cooperative's History tab
    history = history_for(coop).filter(user=flagged["city"], action="update")
    models = {record.content_type.model for record in history}
    assert {"sponsorship", "federationmembership", "cooperative", "cleanupcase"} <= models
    for record in history:
        if record.content_type.model != "cleanupcase" or record.after.get("status") == "actions_done":
            assert "Shell cooperative cleaned out" in record.message, record
    coop_change = history.get(content_type__model="cooperative")
    assert coop_change.diff()["operating_status"] == ("operating", "shell")
    # closing confirms the flags
    approval = case.approval_note
    case = cleanup.close(case, flagged["city"], note="注销已办结")
    assert set(case.flags.values_list("status", flat=True)) == {Flag.Status.CONFIRMED}
    # the closing note is the case's closing, not part of its approval
    assert (case.closing_note, case.approval_note) == ("注销已办结", approval)
    # the cooperative's page shows the case
    client = Client()
    client.force_login(flagged["district_a"])
    page = client.get(reverse("fieldwork:case_detail", args=[case.pk])).content.decode()
    assert "甬市监〔2025〕12号" in page and "Closed" in page and "注销已办结" in page


def test_carry_out_is_all_or_nothing(flagged: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    case = case_at(flagged, S.APPROVED)
    from hezuo.core import services

    real = services.save_record

    def failing(obj: Any, **kw: Any) -> Any:
        if isinstance(obj, Cooperative):
            raise RuntimeError("disk full")
        return real(obj, **kw)

    monkeypatch.setattr(cleanup, "save_record", failing)
    with pytest.raises(RuntimeError):
        cleanup.carry_out(case, flagged["city"], **kwargs("carry_out"))
    assert Sponsorship.objects.current().filter(cooperative=flagged["coop_a"]).count() == 1
    assert FederationMembership.objects.current().filter(cooperative=flagged["coop_a"]).count() == 2
    case.refresh_from_db()
    assert case.status == S.APPROVED


def test_the_api_transitions(flagged: dict[str, Any]) -> None:
    case = case_at(flagged, S.FLAGGED)
    url = f"/api/cleanup-cases/{case.pk}/verify/"
    city, district = Client(), Client()
    city.force_login(flagged["city"])
    district.force_login(flagged["district_a"])
    refused = city.post(url, PAYLOADS["verify"], content_type="application/json")
    with translation.override(refused["Content-Language"]):
        # city staff see the case, but verifying it is the district's step: 403 with the reason
        assert refused.status_code == 403
        assert refused.json()["detail"] == str(cleanup.refusal(flagged["city"], "verify", case))
        assert str(Role.DISTRICT.label) in refused.json()["detail"]
    bad = district.post(url, {"finding": "shell", "note": ""}, content_type="application/json")
    assert bad.status_code == 400 and "note" in bad.json()
    ok = district.post(url, PAYLOADS["verify"], content_type="application/json")
    assert ok.status_code == 200 and ok.json()["status"] == "verified"
    again = district.post(url, PAYLOADS["verify"], content_type="application/json")
    assert again.status_code == 400 and "cannot be" in str(again.json())
    assert district.post(f"/api/cleanup-cases/{case.pk}/explode/", {}).status_code == 404


@pytest.mark.parametrize(
    ("persona", "flags", "can_open", "can_visit"),
    [
        ("city", 2, True, True),
        ("district_a", 2, True, True),
        ("counselor", 2, False, True),
        ("viewer", 2, False, False),
        ("district_b", 0, False, False),
        ("coop_user", 0, False, False),
    ],
)
def test_the_cooperative_tab(
    flagged: dict[str, Any], persona: str, flags: int, can_open: bool, can_visit: bool
) -> None:
    from django.template.loader import render_to_string

    from hezuo.fieldwork.views import cooperative_tab_context

    context = cooperative_tab_context(flagged[persona], flagged["coop_a"])
    assert len(context["fieldwork_flags"]) == flags
    assert context["fieldwork_can_open"] is can_open and context["fieldwork_can_visit"] is can_visit
    html = render_to_string("fieldwork/coop_tab.html", {**context, "object": flagged["coop_a"]})
    assert ("Open a cleanup case" in html) is can_open
    assert ("SH2 2024" in html) is bool(flags)


def test_verification_with_a_visit(flagged: dict[str, Any]) -> None:
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record
    from hezuo.fieldwork.models import Visit

    def visit(coop: str) -> Visit:
        v = Visit(
            cooperative=flagged[coop], visitor=flagged["city"], date=dt.date(2025, 9, 1), operating=False
        )
        with change_context(source="cli"):
            save_record(v)
        return v

    own, other = visit("coop_a"), visit("coop_b")
    case = case_at(flagged, S.FLAGGED)
    with pytest.raises(ValidationError) as err:
        cleanup.verify(case, flagged["district_a"], finding="dormant", note="seen", visit=other)
    assert "visit" in err.value.message_dict
    client = Client()
    client.force_login(flagged["district_a"])
    page = client.get(reverse("fieldwork:case_detail", args=[case.pk])).content.decode()
    assert f'value="{own.pk}"' in page and f'value="{other.pk}"' not in page
    response = client.post(
        reverse("fieldwork:case_transition", args=[case.pk, "verify"]),
        {"finding": "dormant", "note": "Visited, nobody there.", "visit": own.pk},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.visit == own and case.visit_date == own.date and case.finding == "dormant"


def test_carry_out_refuses_a_date_before_a_link_began(flagged: dict[str, Any]) -> None:
    case = case_at(flagged, S.APPROVED)
    data = {**kwargs("carry_out"), "action_date": dt.date(2019, 6, 1)}  # before the town membership (2020)
    with pytest.raises(ValidationError) as err:
        cleanup.carry_out(case, flagged["city"], **data)
    assert "began" in " ".join(err.value.message_dict["action_date"])
    assert FederationMembership.objects.current().filter(cooperative=flagged["coop_a"]).count() == 2
