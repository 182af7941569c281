"""The History tab's values: structured JSON reads as text, never as Python's repr; models may render their
own structured fields."""

from __future__ import annotations

from django.utils import translation

from hezuo.core.history import _displayed, display_value


def test_structured_values_read_as_text() -> None:
    evidence = {"report_year": 2025, "filed": False, "filed_on": None, "checks": ["a", "b"]}
    with translation.override("zh-hans"):
        assert display_value(None, evidence) == "report_year: 2025, filed: 否, filed_on: —, checks: a、b"
    reasons = [{"gate": "G1", "star": 2, "checks": ["not_dormant"]}, {"gate": "G3", "star": 3}]
    shown = display_value(None, reasons)
    assert shown == "gate: G1, star: 2, checks: not_dormant; gate: G3, star: 3"
    assert "{" not in shown and "[" not in shown and "'" not in shown
    with translation.override("zh-hans"):
        assert display_value(None, ["sponsored", "member"]) == "sponsored、member"
    with translation.override("en"):  # a list in an English sentence
        assert display_value(None, ["sponsored", "member"]) == "sponsored, member"
    assert display_value(None, []) == "—" and display_value(None, {}) == "—"


def test_a_model_may_render_its_own_fields() -> None:
    class Model:
        @staticmethod
        def history_display(name: str, value: object) -> str | None:
            return f"{len(value)} items" if name == "evidence" else None  # type: ignore[arg-type]

    assert _displayed(Model, None, "evidence", {"a": 1, "b": 2}) == "2 items"
    assert _displayed(Model, None, "other", {"a": 1}) == "a: 1"
    assert _displayed(None, None, "evidence", None) == "—"


def test_the_api_docs_load_nothing_from_elsewhere(client_for) -> None:  # type: ignore[no-untyped-def]
    """Every asset is served by the app: the Swagger and ReDoc pages name no outside host."""
    import re

    client = client_for("city")
    for url in ("/api/docs/", "/api/redoc/"):
        page = client.get(url).content.decode()
        assert not re.findall(r"(?:src|href)=[\"']?(?:https?:)?//", page), url
        assert "googleapis" not in page and "gstatic" not in page, url


def test_hand_typed_bad_parameters_are_not_errors(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("city")
    for url in (
        "/registry/cooperatives/?per_page=-1",
        "/registry/cooperatives/?per_page=abc",
        "/registry/organizations/?per_page=0",
        "/accounts/users/?per_page=100000",
        "/core/changes/?request_id=zz",
        "/rating/missing/?year=-5",
        "/rating/missing/?year=99999999999",
        "/rating/missing/?year=abc",
    ):
        assert client.get(url).status_code == 200, url
    listed = client.get("/registry/cooperatives/?per_page=-1").context["table"]
    assert listed.paginator.per_page == 25


def test_an_impossible_registration_year_is_a_field_message(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("city")
    for value in ("0", "-1", "10000", "20230", "abc"):
        response = client.get("/registry/cooperatives/", {"registered_from": value})
        assert response.status_code == 200, value
        assert response.context["table"].paginator.count == 0  # nothing rather than everything
        assert response.context["filterset"].errors["registered_from"], value
        assert client.get("/api/cooperatives/", {"registered_to": value}).status_code == 400, value
        export = client.get("/registry/cooperatives/export/", {"registered_from": value})
        assert export.status_code in (200, 400), value
    assert client.get("/registry/cooperatives/", {"registered_from": "2015"}).context["table"].paginator.count


def test_list_pagination_reads_in_chinese(client_for) -> None:  # type: ignore[no-untyped-def]
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record
    from hezuo.registry.models import Organization

    with change_context(source="cli"):
        for n in range(30):
            save_record(Organization(name=f"测试基层社{n}", kind="federation_city"))
    page = client_for("city").get("/registry/organizations/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'aria-label="分页"' in page and "下一页" in page and "Table navigation" not in page


def test_times_read_in_local_time_to_the_minute(settings) -> None:
    """A datetime (on a page) and the ISO text a snapshot keeps of one (in the history) both read as local
    time, to the minute."""
    import datetime as dt

    from django.db import models

    settings.TIME_ZONE = "Asia/Shanghai"
    field = models.DateTimeField()
    moment = dt.datetime(2026, 11, 29, 18, 54, 10, 123456, tzinfo=dt.UTC)
    assert display_value(field, moment) == "2026-11-30 02:54"
    assert display_value(field, "2026-11-29T18:54:10+00:00") == "2026-11-30 02:54"
    assert display_value(None, moment) == "2026-11-30 02:54"
    assert display_value(field, "not a time") == "not a time"
