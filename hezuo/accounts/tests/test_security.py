"""Security basics: lockout after repeated failed logins, password rules, session expiry, deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from hezuo.conftest import PASSWORD


@pytest.fixture
def axes_on(settings, db):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()


def test_repeated_failed_logins_lock_the_account(axes_on, city_data):
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(3):
        response = client.post("/login/", {"username": "city", "password": "wrong-password"})
    assert response.status_code == 429
    # even the right password is refused while locked
    response = client.post("/login/", {"username": "city", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_good_login_works_and_sets_an_expiring_session(axes_on, city_data, settings):
    client = Client(REMOTE_ADDR="10.0.0.8")
    response = client.post("/login/", {"username": "city", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.get_expire_at_browser_close()
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600


@pytest.mark.parametrize("password", ["short1", "12345678901", "password123", "demo"])
def test_weak_passwords_are_refused(password, db):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_pages_send_security_headers(client_for):
    response = client_for("city").get("/registry/cooperatives/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_anonymous_users_are_sent_to_login(db):
    response = Client().get("/registry/cooperatives/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = {
        **os.environ,
        "HEZUO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "-production-secret-for-the-deploy-check-only-0123456789",
        "ALLOWED_HOSTS": "hezuo.example.org",
        "HEZUO_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_a_missing_secret_key(tmp_path):
    env = {**os.environ, "HEZUO_ENV": "production", "HEZUO_DATA_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_users_page_shows_no_password_hash(city_data):
    """The generic detail page leaves out the password (a secret even to city staff) and Django's own
    superuser and staff flags; times read in local time to the minute."""
    client = Client()
    client.force_login(city_data["city"])
    user = city_data["district_a"]
    page = client.get(f"/accounts/users/{user.pk}/").content.decode()
    assert user.username in page
    assert user.password.split("$")[0] not in page and user.password[-12:] not in page
    from django.utils import translation

    from hezuo.accounts.models import User

    with translation.override("zh-hans"):
        for name in ("password", "is_superuser", "is_staff"):
            assert f">{User._meta.get_field(name).verbose_name}<" not in page
    assert str(user.date_joined) not in page  # not "2026-11-29 18:54:04.510402+00:00"
