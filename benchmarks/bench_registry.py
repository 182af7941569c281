"""Registry list and search: `bench: list_p95_ms`, `bench: search_p95_ms`, `bench: list_queries`.

Goals (issue 2): list p95 under 150 ms, search p95 under 300 ms; queries per list page constant in
page size and data size.
"""

from __future__ import annotations

from typing import Any

from .common import SIZE, emit, p95, time_ms

LIST_GOAL_MS = 150.0
SEARCH_GOAL_MS = 300.0

LIST_URLS = [
    "/registry/cooperatives/",
    "/registry/cooperatives/?sort=-registration_date",
    "/registry/cooperatives/?district=330226&industry=fruit",
    "/registry/cooperatives/?district=330213&sort=name",
    "/registry/cooperatives/?operating_status=operating&member=yes&sort=-registration_date",
    "/registry/cooperatives/?sponsored=yes&district=330282",
    "/registry/cooperatives/?title=provincial",
    "/registry/cooperatives/?registered_from=2015&registered_to=2020&sort=town",
]
SEARCH_QUERIES = [
    "nhbp",
    "ninghai",
    "fenghua",
    "yangmei",
    "合作社",
    "cxgs",
    "白枇杷",
    "shuimitao",
    "xs",
    "93330226",
]


def _client(username: str, role: str, district_code: str | None = None) -> Any:
    from django.test import Client

    from hezuo.accounts.models import User
    from hezuo.geo.models import Division

    user, _ = User.objects.get_or_create(
        username=username,
        defaults={
            "role": role,
            "district": Division.objects.get(code=district_code) if district_code else None,
        },
    )
    client = Client()
    client.force_login(user)
    return client


def run() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    city = _client("bench-city", "city")
    district = _client("bench-district", "district", "330226")

    def get(client: Any, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    # warm up caches and connections
    for url in LIST_URLS[:2]:
        get(city, url)
    samples: list[float] = []
    for client in (city, district):
        for url in LIST_URLS:
            samples += time_ms(lambda u=url, c=client: get(c, u), repeat=5)
    emit("list_p95_ms", p95(samples), "ms")
    emit("list_p95_ratio_to_goal", p95(samples) / LIST_GOAL_MS)

    samples = []
    for client in (city, district):
        for query in SEARCH_QUERIES:
            samples += time_ms(lambda q=query, c=client: get(c, f"/registry/cooperatives/?q={q}"), repeat=3)
    emit("search_p95_ms", p95(samples), "ms")
    emit("search_p95_ratio_to_goal", p95(samples) / SEARCH_GOAL_MS)

    counts = {}
    for per_page in (25, 100):
        with CaptureQueriesContext(connection) as ctx:
            get(city, f"/registry/cooperatives/?per_page={per_page}&sort=-registration_date&district=330226")
        counts[per_page] = len(ctx.captured_queries)
    emit("list_queries", counts[25])
    emit("list_queries_per_page_100", counts[100])
    emit("list_size", SIZE)
