"""The cooperative list's fast paths (issue 2) give exactly the pages of the plain paths, in a constant
number of queries.

A search's count and page come from one pass of the filters: the ids of its matches are collected (up to
a cap) and the page is ordered among them. The pages must equal those of a separate count and page query.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hezuo.conftest import DISTRICT_A, DISTRICT_B, make_coop
from hezuo.core import tables as core_tables
from hezuo.core.context import change_context
from hezuo.core.services import save_record

LIST = "/registry/cooperatives/"
URLS = [
    "",
    "?sort=-registration_date",
    "?sort=name&page=2",
    "?member=yes&sort=-registration_date",
    "?member=yes&page=2",
    "?member=no",
    "?sponsored=yes",
    "?sponsored=no&sort=town",
    "?title=provincial",
    "?operating_status=operating&member=yes&sort=-registration_date",
    f"?district={DISTRICT_A}&industry=fruit",
    "?registered_from=2015&registered_to=2020&sort=town",
    "?q=hzs",
    "?q=hzs&page=2",
    "?q=ninghai",
    "?q=nh&sort=-registration_date",
    "?q=合作社&per_page=50",
    "?q=zzz-nothing",
    "?q=hzs&page=99",  # past the last page: the last page shows
    "?member=yes&page=99",
    "?q=hzs&page=x",
]


@pytest.fixture
def many_coops(city_data: dict[str, Any]) -> list[Any]:
    from hezuo.registry.models import DemonstrationTitle, FederationMembership, Organization, Sponsorship

    coops = [city_data["coop_a"], city_data["coop_a2"], city_data["coop_b"]]
    for n in range(30):
        coops.append(
            make_coop(
                DISTRICT_A if n % 3 else DISTRICT_B,
                name=f"{'宁海县' if n % 2 else '象山县'}{n}号{'果蔬' if n % 4 else '茶叶'}专业合作社",
                # equal dates on purpose: the order of ties must not depend on the query's shape
                registration_date=dt.date(2014 + n % 8, 1 + n % 12, 1),
                industry="fruit" if n % 2 else "tea",
            )
        )
    with change_context(source="cli"):
        save_record(Organization(name="宁海县供销社", kind="district_smc", district=city_data["division_a"]))
        sponsor = Organization.objects.get(name="宁海县供销社")
        for n, coop in enumerate(coops):
            if n % 2 == 0:
                save_record(FederationMembership(cooperative=coop, level="city", since=dt.date(2020, 1, 1)))
            if n % 3 == 0:
                save_record(
                    Sponsorship(
                        cooperative=coop,
                        kind="lead",
                        mode="services",
                        sponsor=sponsor,
                        start_date=dt.date(2021, 1, 1),
                    )
                )
            if n % 5 == 0:
                save_record(DemonstrationTitle(cooperative=coop, level="provincial", year_granted=2020))
    return coops


def _page(client: Any, url: str) -> tuple[str, str]:
    """The page's record count and table body (the parts the list's query decides)."""
    response = client.get(LIST + url)
    assert response.status_code == 200, url
    html = response.content.decode()
    count = re.search(r'<small class="text-muted fs-6">([^<]*)</small>', html)
    body = re.search(r"<tbody.*?</tbody>", html, re.S)
    assert count and body, url
    return count.group(1).strip(), body.group(0)


@pytest.mark.parametrize("persona", ["city", "district_a", "coop_user"])
def test_pages_equal_the_plain_count_and_page_queries(
    persona: str, many_coops: list[Any], client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(persona)
    fast = {url: _page(client, url) for url in URLS}
    # a search with more matches than the cap pages with a separate count
    monkeypatch.setattr(core_tables, "CAPPED_ROWS", {connection.vendor: 3})
    over_cap = {url: _page(client, url) for url in URLS}
    monkeypatch.setattr(core_tables, "_costly", lambda qs: False)
    plain = {url: _page(client, url) for url in URLS}
    assert fast == plain
    assert over_cap == plain
    if persona == "city":
        assert fast["?q=hzs"][1].count("<tr") == 25
        assert fast["?q=hzs&page=99"] == fast["?q=hzs&page=2"]
        assert "0" in fast["?q=zzz-nothing"][0]


def _cooperative_queries(client: Any, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST + url).status_code == 200
    # (on PostgreSQL a search also asks the planner's estimate: EXPLAIN, not a query of the rows)
    return [
        q["sql"]
        for q in ctx.captured_queries
        if 'FROM "registry_cooperative"' in q["sql"] and not q["sql"].startswith("EXPLAIN")
    ]


def test_costly_filters_run_once_for_count_and_page(many_coops: list[Any], client_for: Any) -> None:
    client = client_for("city")
    for url in ["?q=hzs", "?q=hzs&sort=name", "?q=nh&member=yes", "?q=hzs&page=2"]:
        sqls = _cooperative_queries(client, url)
        # the matches' ids (filters and search), the page among them, the page's records: no count
        assert len(sqls) == 3, (url, sqls)
        filters = [sql.split(" WHERE ", 1)[-1].split(" ORDER BY ")[0] for sql in sqls]
        assert sum("LIKE" in where for where in filters) == 1, url  # the search runs once
        assert not any('AS "__count"' in sql for sql in sqls), url


def test_broad_search_counts_separately(
    many_coops: list[Any], client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_tables, "CAPPED_ROWS", {connection.vendor: 3})
    sqls = _cooperative_queries(client_for("city"), "?q=hzs")
    # the capped collection of matches (once for both paginations; on PostgreSQL, unless the planner
    # estimates more rows than the cap), then the usual count and page
    collected = sum("LIMIT 4" in sql for sql in sqls)
    assert collected == 1 or (connection.vendor == "postgresql" and collected == 0), sqls
    assert sum('AS "__count"' in sql for sql in sqls) == 1


@pytest.mark.parametrize("url", ["?sort=-registration_date", "?q=hzs", "?member=yes", "?q=nh&sponsored=yes"])
def test_queries_constant_in_page_size_and_data_size(
    url: str, city_data: dict[str, Any], client_for: Any
) -> None:
    client = client_for("city")

    def queries(per_page: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{LIST}{url}&per_page={per_page}").status_code == 200
        return len(ctx.captured_queries)

    client.get(LIST + url)  # the session's first write
    few = (queries(25), queries(100))
    for n in range(12):
        make_coop(DISTRICT_A, name=f"宁海县{n}号杨梅专业合作社")
    assert (queries(25), queries(100)) == few
    assert few[0] == few[1]


@pytest.mark.parametrize("persona", ["city", "district_a"])
def test_division_filter_options_equal_the_model_iterator(persona: str, city_data: dict[str, Any]) -> None:
    from django.test import RequestFactory
    from django_filters import fields as filter_fields

    from hezuo.registry.filters import CooperativeFilterSet, DivisionOptions

    request = RequestFactory().get(LIST, {"district": DISTRICT_A})
    request.user = city_data[persona]
    form = CooperativeFilterSet(request.GET, request=request).form
    for name in ("district", "town"):
        field = form.fields[name]
        assert isinstance(field.choices, DivisionOptions)
        fast = [(str(value), str(label)) for value, label in field.choices]
        standard = filter_fields.ModelChoiceIterator(field)
        assert fast == [(str(value), str(label)) for value, label in standard]
        assert len(fast) > 1
    html = str(form["district"])
    assert f'value="{DISTRICT_A}" selected' in html
