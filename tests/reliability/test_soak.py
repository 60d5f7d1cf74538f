"""``manage.py soak --quick``: sustained mixed load on production-mode gunicorn and a Celery worker.

The full soak (``manage.py soak --minutes 5``, figures in the README) runs the same code for longer;
here it runs ~50 s on a small dataset with recycling every few dozen requests/tasks, so that the run
shows both that nothing fails while processes are replaced and that memory stays bounded.
"""

import json

import pytest

from devtools.benchmark.soak import MAX_PROCESS_MIB, memory_verdict
from tests.benchmark.test_benchmark import run_quick

KINDS = {
    "sign-in (form, CSRF)",
    "dashboard",
    "usage explorer",
    "usage drill-down",
    "statement list",
    "statement detail",
    "statement PDF (cached)",
    "API usage summary",
    "API drill-down",
    "API statement list",
    "fresh PDF render (worker)",
}
WEB, WORKER = "web (gunicorn master + workers)", "worker (celery + pool)"


@pytest.mark.slow
def test_quick_soak_has_no_errors_and_bounded_memory(transactional_db, tmp_path):
    out_json = tmp_path / "soak.json"
    result = run_quick("soak", tmp_path, out_json)
    soak = json.loads(out_json.read_text()) if out_json.exists() else {}
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]

    assert soak["errors"] == 0, soak["error_examples"]
    assert set(soak["kinds"]) == KINDS
    for kind, figures in soak["kinds"].items():
        assert figures["requests"] > 0 and figures["errors"] == 0, kind
    assert soak["kinds"]["sign-in (form, CSRF)"]["requests"] == 6  # every portal session signed in once
    for role in (WEB, WORKER):
        memory = soak["memory"][role]
        assert memory["samples"] >= 15, role  # one every 2 s
        assert 0 < memory["max_process_mib"] <= MAX_PROCESS_MIB, role
        assert memory["verdict"]["passed"], (role, memory["verdict"])
        # Recycling is real: processes were replaced during the run (gunicorn after 100-120 requests,
        # Celery children after 2 tasks), so more processes were seen than ran at the start.
        assert memory["processes_seen"] > memory["processes_at_start"], role
    assert "errors: 0" in result.stdout and "memory bound" in result.stdout


def _series(level, seconds=300, step=2.0, trend=0.0, saw=0.0, period=40):
    """A total RSS level with a slope (MiB/s) and a saw-tooth (a recycled process coming back lower)."""
    return [
        (t * step, level + trend * t * step + saw * ((t * step) % period) / period) for t in range(int(seconds / step))
    ]


def test_memory_bound_passes_recycling_noise_and_fails_a_leak():
    # Recycling: a 60 MiB saw-tooth around 400 MiB, no trend.
    assert memory_verdict(_series(400, saw=60))["passed"]
    # Warm-up in the first third is not compared: a climb that stops there passes.
    warm = [(t, min(400.0, 200 + t * 4)) for t in range(0, 300, 2)]
    assert memory_verdict(warm)["passed"]
    # A leak of 1 MiB/s in a 5-minute run (+100 MiB between the thirds) fails however it is hidden.
    leak = memory_verdict(_series(400, trend=1.0, saw=60))
    assert not leak["passed"] and "last third" in leak["reason"]
    # A leak in the last third alone (a process that stopped being recycled) fails too.
    late = [(t, 400.0 + max(0, t - 200) * 1.5) for t in range(0, 300, 2)]
    assert not memory_verdict(late)["passed"]
    assert not memory_verdict([(0, 1.0), (1, 2.0)])["passed"]  # too few samples is no proof
