"""The local services the suite also exercises: detect them (PostgreSQL on 5432, Redis on 6379), name the
test database to a child process, wait for what a worker does."""

import socket
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

# The repository: child processes (workers, manage.py) run from here.
ROOT = Path(__file__).resolve().parent.parent


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(not listening(5432), reason="no PostgreSQL listening on 127.0.0.1:5432")
needs_redis = pytest.mark.skipif(not listening(6379), reason="no Redis listening on 127.0.0.1:6379")


def database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or s.get("OPTIONS", {}).get("host") or "localhost"
    if host.startswith("/"):  # unix socket folder (the embedded server)
        return f"postgres://{quote(s['USER'] or '')}@{quote(host, safe='')}/{s['NAME']}"
    return f"postgres://{quote(s['USER'] or '')}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False
