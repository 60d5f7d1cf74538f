"""The embedded PostgreSQL: starts in a data folder, is reused, stops when its last user exits."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, psycopg2
from portal.db import embedded_server
server = embedded_server(sys.argv[1])
conn = psycopg2.connect(server.get_uri())
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS probe (n int)")
if sys.argv[2] == "write":
    cur.execute("INSERT INTO probe VALUES (42)")
cur.execute("SELECT coalesce(sum(n), 0), current_setting('server_version_num')::int FROM probe")
total, version = cur.fetchone()
conn.close()
print(total, version, server.get_pid(), flush=True)
if sys.argv[3] == "hold":
    sys.stdin.readline()
"""

pytestmark = pytest.mark.slow


def run(pgdata, mode, hold=False, user_prefix=(), env=None):
    return subprocess.Popen(
        [*user_prefix, sys.executable, "-c", SCRIPT, str(pgdata), mode, "hold" if hold else "exit"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", **(env or {})},
    )


def postgres_running(pgdata) -> bool:
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            return True
    return False


def wait_stopped(pgdata, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline and postgres_running(pgdata):
        time.sleep(0.2)
    return not postgres_running(pgdata)


def test_starts_reuses_data_and_stops_with_its_last_user(tmp_path):
    pgdata = tmp_path / "pgdata"
    first = run(pgdata, "write")
    out, _ = first.communicate(timeout=120)
    total, version, _pid = out.split()
    assert first.returncode == 0
    assert (int(total), int(version) >= 140000) == (42, True)
    assert wait_stopped(pgdata), "server should stop when the only process using it exits"

    # Two processes share one server; it outlives the first and stops after the second.
    holder = run(pgdata, "read", hold=True)
    holder_line = holder.stdout.readline().split()
    visitor = run(pgdata, "write")
    visitor_out, _ = visitor.communicate(timeout=120)
    assert holder_line[0] == "42"  # data survived the restart
    assert visitor_out.split()[2] == holder_line[2]  # same postmaster pid: reused, not a second server
    assert visitor_out.split()[0] == "84"
    assert postgres_running(pgdata)
    holder.communicate("\n", timeout=60)
    assert wait_stopped(pgdata)


def test_a_killed_process_does_not_keep_the_server_alive_forever(tmp_path):
    pgdata = tmp_path / "pgdata"
    victim = run(pgdata, "write", hold=True)
    victim.stdout.readline()
    victim.kill()  # SIGKILL: no atexit, its pid stays registered
    victim.wait()
    assert victim.pid in json.loads((pgdata / ".handle_pids.json").read_text())
    nxt = run(pgdata, "read")
    out, _ = nxt.communicate(timeout=120)
    assert out.split()[0] == "42"
    assert wait_stopped(pgdata), "the dead pid must be forgotten so the last live user stops the server"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to switch to a normal user")
def test_works_for_a_normal_user(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    tmp_path.chmod(0o755)
    pgdata = home / "pgdata"
    proc = run(
        pgdata,
        "write",
        user_prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
        env={"HOME": str(home), "TMPDIR": str(home), "XDG_RUNTIME_DIR": str(home)},
    )
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.split()[0] == "42"
    owner = pgdata.stat().st_uid
    assert owner == 65534  # run as the user itself, not through the root-only 'pgserver' account
    assert wait_stopped(pgdata)
