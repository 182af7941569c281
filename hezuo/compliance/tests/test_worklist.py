"""Open rectification tasks on the counselor's home and in the workload (hezuo.fieldwork.worklist)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hezuo.compliance import rectification as rx
from hezuo.compliance.models import RectificationTask

from .helpers import YEAR, facts

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_open_tasks_on_the_counselor_home_and_in_the_workload(city_data: dict[str, Any]) -> None:
    # coop_a fails K01 and K02: two tasks, owned by its counselor
    facts(city_data["coop_a"], members=3, farmer_members=1, members_with_accounts=3)
    case = rx.open_case(city_data["district_a"], city_data["coop_a"], year=YEAR)
    tasks = RectificationTask.objects.filter(case=case, owner=city_data["counselor"])
    assert tasks.count() >= 2
    home = _client(city_data["counselor"]).get(reverse("fieldwork:my_cooperatives"))
    (section,) = [s for s in home.context["work"] if s.key == "compliance.tasks"]
    assert section.total == tasks.count()
    assert {w.url for w in section.items} == {t.get_absolute_url() for t in tasks}
    assert all(w.due is not None and w.cooperative == city_data["coop_a"] for w in section.items)
    assert 'id="my-work-compliancetasks"' in home.content.decode()
    other = _client(city_data["counselor_unassigned"]).get(reverse("fieldwork:my_cooperatives"))
    (section,) = [s for s in other.context["work"] if s.key == "compliance.tasks"]
    assert section.total == 0 and section.items == []
    # the workload: district A's staff and the city see the counselor's open tasks; district B not the row
    for persona, expected in (("district_a", tasks.count()), ("city", tasks.count())):
        rows = {
            r["counselor"].pk: r
            for r in _client(city_data[persona]).get(reverse("fieldwork:workload")).context["rows"]
        }
        assert rows[city_data["counselor"].pk]["open_tasks"] == expected, persona
    rows = _client(city_data["district_b"]).get(reverse("fieldwork:workload")).context["rows"]
    assert city_data["counselor"].pk not in {r["counselor"].pk for r in rows}
    # a task done is no longer open
    rx.cancel(case, city_data["district_a"], reason="Merged.")
    home = _client(city_data["counselor"]).get(reverse("fieldwork:my_cooperatives"))
    (section,) = [s for s in home.context["work"] if s.key == "compliance.tasks"]
    assert section.total == 0
