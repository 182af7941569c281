"""Shared test fixtures: the divisions, a small city, and the personas every view test uses.

Personas (Healthchecks-style): city staff, district A staff (宁海 330226), district B staff (象山 330225),
a counselor assigned to coop_a, a counselor of district A assigned to nothing, a cooperative user of
coop_a, and a city-wide viewer. coop_a and coop_a2 lie in district A, coop_b in district B.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from hezuo.core.browser import browser, live_city, shoot  # noqa: F401 - fixtures of the browser tests
from hezuo.core.context import change_context

DISTRICT_A = "330226"  # 宁海县
DISTRICT_B = "330225"  # 象山县
PASSWORD = "test-pass-2025"


@pytest.fixture(autouse=True)
def _fast_settings(settings: Any, tmp_path: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AXES_ENABLED = False
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Load the shipped divisions once per test database (they are reference data, never changed by tests)."""
    from hezuo.geo.loader import load_divisions
    from hezuo.geo.models import Division

    with django_db_blocker.unblock():
        if not Division.objects.exists():
            with change_context(source="cli"):
                load_divisions()


@pytest.fixture
def division() -> Callable[[str], Any]:
    from hezuo.geo.models import Division

    return lambda code: Division.objects.get(code=code)


def first_town(district_code: str) -> Any:
    from hezuo.geo.models import Division

    return Division.objects.filter(level="town", district__code=district_code).order_by("code").first()


_counter = iter(range(1, 10**6))


def make_coop(district_code: str = DISTRICT_A, name: str | None = None, **fields: Any) -> Any:
    """A valid cooperative created through the service layer (with its history)."""
    from hezuo.core.services import save_record
    from hezuo.geo.models import Division
    from hezuo.registry.creditcode import make_code
    from hezuo.registry.models import Cooperative

    n = next(_counter)
    town = fields.pop("town", None) or first_town(district_code)
    village = fields.pop("village", None)
    if village is None:
        village = Division.objects.filter(parent=town).order_by("code").first()
    coop = Cooperative(
        name=name or f"测试{n}号果蔬专业合作社",
        credit_code=fields.pop("credit_code", None) or make_code(district_code, f"MA{n:07d}"),
        registration_date=fields.pop("registration_date", dt.date(2016, 5, 1)),
        district=Division.objects.get(code=district_code),
        town=town,
        village=village,
        industry=fields.pop("industry", "fruit"),
        **fields,
    )
    with change_context(source="cli"):
        save_record(coop)
    return coop


def make_user(username: str, role: str, **fields: Any) -> Any:
    from hezuo.accounts.models import User

    user = User(username=username, role=role, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def city_data(db: Any) -> dict[str, Any]:
    """Three cooperatives in two districts and one of each persona."""
    from hezuo.accounts.models import CounselorAssignment
    from hezuo.core.services import save_record
    from hezuo.geo.models import Division

    district_a = Division.objects.get(code=DISTRICT_A)
    district_b = Division.objects.get(code=DISTRICT_B)
    coop_a = make_coop(DISTRICT_A, name="宁海县岔路镇白枇杷专业合作社", industry="fruit")
    coop_a2 = make_coop(DISTRICT_A, name="宁海县长街镇蛏子养殖专业合作社", industry="aquaculture")
    coop_b = make_coop(DISTRICT_B, name="象山县红美人柑橘专业合作社", industry="fruit")
    users = {
        "city": make_user("city", "city"),
        "viewer": make_user("viewer", "viewer"),
        "district_a": make_user(f"district-{DISTRICT_A}", "district", district=district_a),
        "district_b": make_user(f"district-{DISTRICT_B}", "district", district=district_b),
        "counselor": make_user(f"counselor-{DISTRICT_A}-1", "counselor", district=district_a),
        "counselor_unassigned": make_user(f"counselor-{DISTRICT_A}-2", "counselor", district=district_a),
        "coop_user": make_user("coop-1", "cooperative", cooperative=coop_a),
    }
    with change_context(source="cli"):
        save_record(
            CounselorAssignment(
                counselor=users["counselor"], cooperative=coop_a, start_date=dt.date(2024, 1, 1)
            )
        )
    return {
        "coop_a": coop_a,
        "coop_a2": coop_a2,
        "coop_b": coop_b,
        "division_a": district_a,
        "division_b": district_b,
        **users,
    }


PERSONAS = ("city", "viewer", "district_a", "district_b", "counselor", "counselor_unassigned", "coop_user")


@pytest.fixture
def client_for(city_data: dict[str, Any]) -> Callable[[str], Client]:
    """A logged-in test client for a persona name (see PERSONAS)."""

    def make(persona: str) -> Client:
        client = Client()
        client.force_login(city_data[persona])
        return client

    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> Any:
    """A live-server (transactional) test ends by flushing every table, the shipped divisions included;
    put them back once its fixtures are torn down, so that the tests after it in this worker find them."""
    yield
    if nextitem is None:
        return  # the session is ending: the test database is gone already
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if not transactional and not {"live_server", "transactional_db"} & set(getattr(item, "fixturenames", ())):
        return
    from pytest_django.plugin import blocking_manager_key

    from hezuo.geo.loader import load_divisions
    from hezuo.geo.models import Division

    with item.config.stash[blocking_manager_key].unblock():
        if not Division.objects.exists():
            with change_context(source="cli"):
                load_divisions()
