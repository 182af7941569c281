"""Django settings for hezuo.

Every setting an operator may change comes from an environment variable with a working default,
so `make demo` runs with no configuration and production is configured without editing files.
The variables are documented in README.md ("Configuration").
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    if value is None:
        file_name = os.environ.get(f"{name}_FILE")
        if file_name:
            return Path(file_name).read_text(encoding="utf-8").strip()
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# "development" (the default: demo, tests) or "production".
HEZUO_ENV = env("HEZUO_ENV", "development")
PRODUCTION = HEZUO_ENV == "production"

DATA_DIR = Path(env("HEZUO_DATA_DIR", str(PROJECT_DIR / "var")))

DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise RuntimeError(
            "SECRET_KEY must be set to a random string of at least 50 characters in production"
        )
else:
    SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-7f1c9a4e2b8d6f3a0c5e9b1d4f7a2c8e6b3d0f5a9c1e4b7d")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "axes",
    # the domain, one app per area
    "hezuo.core",
    "hezuo.geo",
    "hezuo.registry",
    "hezuo.accounts",
    "hezuo.rating",
    "hezuo.transfer",
    "hezuo.targets",
    "hezuo.fieldwork",
    "hezuo.compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "hezuo.core.middleware.ChangeContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hezuo.urls"
WSGI_APPLICATION = "hezuo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hezuo.core.context_processors.navigation",
            ],
        },
    },
]

DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'hezuo.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and a task worker share the file; IMMEDIATE avoids lock upgrades. A page
    # cache of 32 MB per connection and sorts in memory keep list pages off the disk; connections are kept
    # between requests (CONN_MAX_AGE above) so that the cache outlives a request. (No memory map: its pages
    # count in each process's resident memory, which imports must keep under 400 MB.)
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768; "
            "PRAGMA temp_store=MEMORY;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Sessions expire after a working day of inactivity and when the browser closes.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
# a filter's empty choice reads "All" (全部), not "---------"
FILTERS_EMPTY_CHOICE_LABEL = gettext_lazy("All")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "static")))
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# outside production the app serves its static files from the apps' folders, with or without DEBUG (the demo
# server runs without it); production serves the collected, hashed copies (collectstatic)
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "hezuo API",
    "DESCRIPTION": "Cooperative registry of the supply-and-marketing cooperative federation. "
    "Every endpoint answers only within the caller's scope.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

DJANGO_TABLES2_TEMPLATE = "core/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}

# Demo users' password (make demo prints it).
HEZUO_DEMO_PASSWORD = env("HEZUO_DEMO_PASSWORD", "demo-2025")

# mail: the daily digest of overdue visits and tasks (`hezuo digest`); the console by default
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "hezuo@localhost")
HEZUO_SITE_URL = env("HEZUO_SITE_URL", "")  # absolute links in the digest, e.g. https://hezuo.example.gov.cn
# fieldwork reminders: an assigned cooperative is due a visit after this many days; a campaign's unvisited
# cooperatives are reminded for this many days after it ends
HEZUO_VISIT_INTERVAL_DAYS = env_int("HEZUO_VISIT_INTERVAL_DAYS", 90)
HEZUO_CAMPAIGN_REMINDER_DAYS = env_int("HEZUO_CAMPAIGN_REMINDER_DAYS", 60)
# Bulk import limits (hezuo/transfer/conf.py reads these).
HEZUO_IMPORT_MAX_BYTES = env_int("HEZUO_IMPORT_MAX_BYTES", 40 * 1024 * 1024)
HEZUO_IMPORT_MAX_ROWS = env_int("HEZUO_IMPORT_MAX_ROWS", 250000)
HEZUO_IMPORT_MAX_CELLS = env_int("HEZUO_IMPORT_MAX_CELLS", 6000000)
HEZUO_IMPORT_SYNC_ROWS = env_int("HEZUO_IMPORT_SYNC_ROWS", 1000)
# Files of at least this many rows of yearly facts or titles are read by a second process (0: never).
HEZUO_IMPORT_PARALLEL_ROWS = env_int("HEZUO_IMPORT_PARALLEL_ROWS", 20000)
# Upper bound of rows one list export may write.
HEZUO_EXPORT_MAX_ROWS = env_int("HEZUO_EXPORT_MAX_ROWS", 200000)
