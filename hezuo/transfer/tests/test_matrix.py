"""The import pages' permission matrix: every persona × every URL of the app × jobs in and out of reach.

Every URL name of the app ("transfer:") is listed in MATRIX_URL_NAMES (the site-wide matrix in
hezuo/core/tests/test_permission_matrix.py reads it). Out of reach or without the permission: 404, never
403; anonymous: the login page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from hezuo.conftest import PERSONAS
from hezuo.transfer import jobs
from hezuo.transfer.models import ImportJob

from .helpers import COOP_HEADERS, coop_row, xlsx

pytestmark = pytest.mark.django_db

IMPORTERS = {"city", "district_a", "district_b", "coop_user"}
EXPORTERS = {"city", "viewer", "district_a", "district_b"}
# who reaches each job: A uploaded by district A staff, B by district B staff, C by the cooperative user
REACH = {"A": {"city", "district_a"}, "B": {"city", "district_b"}, "C": {"city", "coop_user"}}
OWNER = {"A": "district_a", "B": "district_b", "C": "coop_user"}

# name -> (method, object needed, who may)
CASES: dict[str, tuple[str, bool, set[str]]] = {
    "transfer:job_list": ("GET", False, IMPORTERS),
    "transfer:upload": ("GET", False, IMPORTERS),
    "transfer:template": ("GET", False, IMPORTERS | EXPORTERS),
    "transfer:export": ("GET", False, EXPORTERS),
    "transfer:job_detail": ("GET", True, set()),
    "transfer:job_progress": ("GET", True, set()),
    "transfer:job_errors": ("GET", True, set()),
    "transfer:job_mapping": ("POST", True, set()),  # the uploader only
    "transfer:job_commit": ("POST", True, set()),  # the uploader only
}
MATRIX_URL_NAMES = set(CASES)
OWNER_ONLY = {"transfer:job_mapping", "transfer:job_commit"}


def test_every_transfer_url_is_in_the_matrix() -> None:
    names: set[str] = set()
    resolver = get_resolver()
    for pattern in resolver.url_patterns:
        if getattr(pattern, "namespace", None) == "transfer":
            names = {f"transfer:{p.name}" for p in pattern.url_patterns}
    assert names == MATRIX_URL_NAMES


@pytest.fixture
def jobs_world(city_data: dict[str, Any], tmp_path: Path) -> dict[str, ImportJob]:
    """A checked job with an error for each of district A staff, district B staff and the cooperative user."""
    from django.core.files import File

    made = {}
    files = {
        "A": [COOP_HEADERS, coop_row(1, 成立日期="bad")],
        "B": [COOP_HEADERS, coop_row(2, district="330225", town="丹东街道", 成立日期="bad")],
        "C": [["统一社会信用代码", "年度", "成员数"], [city_data["coop_a"].credit_code, 2024, "many"]],
    }
    for case, rows in files.items():
        path = xlsx(tmp_path / f"{case}.xlsx", rows)
        with path.open("rb") as handle:
            job = jobs.create_job(
                city_data[OWNER[case]],
                File(handle, name=path.name),
                "facts" if case == "C" else "cooperatives",
            )
        jobs.start(job, jobs.CHECK)
        assert job.error_count == 1, job.problems
        made[case] = job
    return made


def url(name: str, job: ImportJob | None) -> str:
    if name in ("transfer:template",):
        return reverse(name, args=["facts"])
    if name == "transfer:export":
        return reverse(name, args=["cooperatives"])
    if job is not None:
        return reverse(name, args=[job.pk])
    return reverse(name)


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_matrix(persona: str, jobs_world: dict[str, ImportJob], city_data: dict[str, Any]) -> None:
    client = Client()
    if persona != "anonymous":
        client.force_login(city_data[persona])
    for name, (method, needs_object, allowed) in sorted(CASES.items()):
        targets: list[tuple[str | None, ImportJob | None]] = (
            list(jobs_world.items()) if needs_object else [(None, None)]
        )
        for case, job in targets:
            address = url(name, job)
            response = client.post(address) if method == "POST" else client.get(address)
            if persona == "anonymous":
                assert response.status_code == 302 and "/login/" in response["Location"], (name, case)
                continue
            if case is not None:
                ok = persona == OWNER[case] if name in OWNER_ONLY else persona in REACH[case]
            else:
                ok = persona in allowed
            expected = (302 if method == "POST" else 200) if ok else 404
            assert response.status_code == expected, (name, persona, case, response.status_code)
    assert ImportJob.objects.filter(status=ImportJob.Status.DONE).count() == 0
