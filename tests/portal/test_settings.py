"""Settings come from the environment; production refuses unsafe configurations."""

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest

from tests.services import needs_postgres

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(64)


def manage(*args, **env):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' conftest for Playwright, not by a deployment.
    dropped = {"DATABASE_URL", "SECRET_KEY", "PORTAL_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=300
    )


PRODUCTION = dict(
    PORTAL_ENV="production",
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
    CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    REDIS_URL="redis://127.0.0.1:6379/1",
    ALLOWED_HOSTS="portal.example.com",
)


@pytest.mark.parametrize("key", ["", "short", "dev-insecure-" + "x" * 60, "a" * 80])
def test_production_refuses_to_start_without_a_real_secret_key(key):
    result = manage("check", **PRODUCTION, SECRET_KEY=key)
    assert result.returncode != 0
    assert "needs a real SECRET_KEY" in result.stderr


def test_production_refuses_the_embedded_database_and_the_demo_broker():
    env = {**PRODUCTION, "SECRET_KEY": GOOD_KEY}
    no_db = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    assert "needs DATABASE_URL" in manage("check", **no_db).stderr
    assert "needs CELERY_BROKER_URL" in manage("check", **{**env, "CELERY_BROKER_URL": "filesystem://"}).stderr


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_warns_when_rate_limits_are_not_shared():
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env, SECRET_KEY=GOOD_KEY)
    assert result.returncode != 0 and "portal.W001" in result.stderr and "REDIS_URL is not set" in result.stderr


def test_bad_boolean_is_a_clear_error():
    result = manage("check", DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG must be true or false, got 'maybe'" in result.stderr


def test_bad_visibility_timeout_is_a_clear_error():
    result = manage("check", CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CELERY_VISIBILITY_TIMEOUT="soon")
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be a positive number of seconds, got 'soon'" in result.stderr


@pytest.mark.slow
@needs_postgres
def test_database_url_selects_an_external_postgresql():
    name = f"portal_ext_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect("postgres://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
        result = manage("migrate", "--no-input", DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM django_migrations WHERE app IN ('billing', 'portal')")
            assert cur.fetchone()[0] >= 4
            cur.execute("SELECT tgname FROM pg_trigger WHERE tgname = 'billing_usagerecord_append_only'")
            assert cur.fetchone() is not None
        conn.close()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_development_tools_are_installed_in_development_only():
    """The demo seeding, the benchmark and the soak (the ``devtools`` app) are not in a production process."""
    tools = {"seed_demo", "benchmark", "soak"}
    production = manage("help", "--commands", **PRODUCTION, SECRET_KEY=GOOD_KEY)
    assert production.returncode == 0, production.stderr
    assert "run_billing" in production.stdout.split() and not tools & set(production.stdout.split())
    development = manage("help", "--commands", DATABASE_URL=os.environ.get("DATABASE_URL", PRODUCTION["DATABASE_URL"]))
    assert development.returncode == 0, development.stderr
    assert tools <= set(development.stdout.split())
