"""Rating alerts on the counselor's home (hezuo.fieldwork.worklist): the counselor of the cooperative sees
the alert until it is resolved; another counselor does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.urls import reverse

from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.rating.monitoring import reevaluate_for

from .conftest import YEAR


def _alerts_on_home(user: Any) -> list[Any]:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("fieldwork:my_cooperatives"))
    assert response.status_code == 200
    (section,) = [s for s in response.context["work"] if s.key == "rating.alerts"]
    assert 'id="my-work-ratingalerts"' in response.content.decode()
    return section.items


def test_the_counselor_sees_alerts_on_their_cooperatives(rated_city: dict[str, Any]) -> None:
    coop = rated_city["coop_a"]
    before = snapshot(coop)
    coop.on_abnormal_list, coop.abnormal_listed_on = True, dt.date(YEAR + 1, 2, 1)
    with change_context(source="cli"):
        save_record(coop, before=before)
    alert = reevaluate_for(coop)
    assert alert is not None
    (item,) = _alerts_on_home(rated_city["counselor"])
    assert item.cooperative == coop and item.url == alert.get_absolute_url()
    assert "5★" in item.title and "2★" in item.title
    assert _alerts_on_home(rated_city["counselor_unassigned"]) == []
    # resolved: no longer open work
    alert.status = "resolved"
    alert.save(update_fields=["status"])
    assert _alerts_on_home(rated_city["counselor"]) == []
