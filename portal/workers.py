"""The command line of a real Celery worker process of this project, for the tools and tests that
start their own (benchmark, soak, fault and scaling tests)."""

import sys


def celery_worker_argv(*, concurrency: int, name: str = "", loglevel: str = "info") -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-c", str(concurrency), "-l", loglevel]
    # No heartbeats, gossip or mingle: these workers are alone on their broker and start faster.
    argv += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    return argv + (["-n", name] if name else [])
