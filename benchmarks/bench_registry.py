"""Registry list and search: `bench: list_p95_ms`, `bench: search_p95_ms`, `bench: list_queries`.

Goals (issue 2): list p95 under 150 ms, search p95 under 300 ms; queries per list page constant in
page size and data size.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from .common import SIZE, emit, p95

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


def _server_cpu() -> Callable[[], float]:
    """CPU seconds used so far by the PostgreSQL backend serving this connection (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return lambda: 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            return 0.0

    return read


def _measure(
    label: str,
    client: Any,
    url: str,
    repeat: int,
    get: Callable[[Any, str], None],
    server: Callable[[], float],
) -> list[float]:
    """Time `repeat` requests; print the URL's line: wall p50/p95, own and database-server CPU, queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    walls, cpus, servers = [], [], []
    for _ in range(repeat):
        server_before, cpu_before, started = server(), time.process_time(), time.perf_counter()
        get(client, url)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu_before) * 1000)
        servers.append((server() - server_before) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        get(client, url)
    print(
        f"# url {label:8} {url}: p50 {statistics.median(walls):.0f} / p95 {p95(walls):.0f} ms wall, "
        f"cpu {statistics.median(cpus):.0f} ms, db server cpu {statistics.median(servers):.0f} ms, "
        f"{len(ctx.captured_queries)} queries",
        flush=True,
    )
    return walls


def run() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    city = _client("bench-city", "city")
    district = _client("bench-district", "district", "330226")
    clients = (("city", city), ("district", district))

    def get(client: Any, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    # warm up caches and connections
    for url in LIST_URLS[:2]:
        get(city, url)
    server = _server_cpu()
    samples: list[float] = []
    for label, client in clients:
        for url in LIST_URLS:
            samples += _measure(label, client, url, 5, get, server)
    emit("list_p95_ms", p95(samples), "ms")
    emit("list_p95_ratio_to_goal", p95(samples) / LIST_GOAL_MS)

    samples = []
    for label, client in clients:
        for query in SEARCH_QUERIES:
            samples += _measure(label, client, f"/registry/cooperatives/?q={query}", 3, get, server)
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
