"""``manage.py benchmark --quick`` runs end to end on a tiny dataset and reports every figure.

Timings are not asserted (they depend on the machine); the presence of each figure with its target
and verdict is, and that the benchmark leaves no throwaway organization or imported record behind.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from billing.models import Organization, Statement, UsageRecord
from devtools.demo.seed import demo_accounts
from tests.services import database_url

ROOT = Path(__file__).resolve().parents[2]

# Every figure of issue 7, with the target it is shown against ("" for context and baselines).
FIGURES = {
    "0.dataset.records": "",
    **{
        f"1.{name}.{part}": target
        for name in ("location_month", "person", "duration_band")
        for part, target in (
            ("p50_ms", ""),
            ("p95_ms", "≤ 150 ms"),
            ("rollup_sql_ms", ""),
            ("daily_sql_ms", ""),
            ("raw_sql_ms", ""),
            ("vs_rollup_sql", "≤ 3×"),
            ("vs_raw_sql", "≥ 20×"),
            ("table_p50_ms", ""),
            ("table_vs_rollup_sql", "≤ 2×"),
        )
    },
    "1.rollup.monthly_compression": "",
    "1.rollup.daily_compression": "",
    "2.drill_down.p50_ms": "",
    "2.drill_down.p95_ms": "≤ 100 ms",
    "2.drill_down.queries_10": "",
    "2.drill_down.queries_100": "= page of 10",
    "3.import.rows": "",
    "3.import.rate": "≥ 100,000 rec/s",
    "3.import.copy_rate": "",
    "3.import.vs_copy": "≥ 50 %",
    "4.pdf.pages": "",
    "4.pdf.p95_ms": "≤ 500 ms",
    "4.pdf.v1_p95_ms": "",
    "4.pdf.minimal_ms": "",
    "4.pdf.vs_minimal": "≤ 2×",
    "4.pdf.largest_ms": "",
    "4.pdf.peak_rss_mib": "",
    "4.pdf.download_p95_ms": "≤ 20 ms",
    "5.billing.organizations": "= 3",
    "5.billing.per_minute": "",
    "5.billing.minutes_1000": "≤ 5 min",
    "6.refusal.p99_ms": "≤ 20 ms",
    "6.refusal.queries": "= 0",
    "7.load.rps": "",
    "7.load.p95_ms": "",
    "7.load.errors": "= 0",
    "8.cost.queries": "",
    "8.cost.spearman": "≥ 0.8",
    "8.cost.max_ms_per_point": "",
    "8.cost.org_budget_share": "≤ 25%",
    "9.fairness.alone_p95_ms": "",
    "9.fairness.beside_heavy_p95_ms": "≤ 500 ms",
    "9.fairness.concurrency_only_p95_ms": "",
    "9.fairness.slowdown": "",
    "10.open_loop.max_rate": "",
    "10.open_loop.p95_at_max": "≤ 300 ms",
    # Figure 11, issue 21 item 5 / issue 17: the billing run measured (6 statements in the quick form, no verdict there).
    "11.pdf.einvoice_p95_ms": "≤ 500 ms",
    "11.billing.statements": "= 6",
    "11.billing.minutes": "",
    "11.billing.validation_ms": "",
}


def run_quick(command: str, tmp_path, out_json) -> subprocess.CompletedProcess:
    """``manage.py <command> --quick`` on the test database's server, its files under ``tmp_path``."""
    url = database_url()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "PORTAL_PGDATA"}},
        "DATABASE_URL": url,
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, "manage.py", command, "--quick", "--database-url", url, "--json", str(out_json)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_quick_benchmark_prints_and_writes_every_figure(transactional_db, tmp_path):
    out_json = tmp_path / "benchmark.json"
    result = run_quick("benchmark", tmp_path, out_json)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    figures = {f["key"]: f for f in json.loads(out_json.read_text())["figures"]}
    assert set(figures) == set(FIGURES)
    table = result.stdout[re.search(r"#\s+figure", result.stdout).start() :]  # "#" column as wide as "10"
    for key, target in FIGURES.items():
        figure = figures[key]
        assert figure["value"] is not None, key
        assert figure["target"] == target, key
        # A figure with a target has a verdict, and the table shows it on the figure's row.
        assert (figure["result"] in {"PASS", "MISS"}) == bool(target), key
        row = next(line for line in table.splitlines() if figure["label"] in line)
        assert (target in row) and (figure["result"] or "") in row, row
    # Measurements that are counts, not timings, must be right whatever the machine.
    assert figures["2.drill_down.queries_10"]["value"] == figures["2.drill_down.queries_100"]["value"]
    assert figures["6.refusal.queries"]["value"] == 0
    assert figures["5.billing.organizations"]["value"] == 3
    assert figures["7.load.errors"]["value"] == 0
    assert figures["8.cost.queries"]["value"] >= 30  # the grid: at least 30 shapes measured
    # The measured billing run issued every statement with its PDF and a valid e-invoice, and timed them all.
    assert figures["11.billing.statements"]["value"] == 6 and figures["11.billing.statements"]["result"] == "PASS"
    assert figures["11.billing.minutes"]["value"] > 0 and "MEASURED" in figures["11.billing.minutes"]["label"]
    assert "render_statement_pdf 6×" in figures["11.billing.minutes"]["note"]
    assert "issue_statement 6×" in figures["11.billing.minutes"]["note"]

    # The import and the billing run left nothing behind: no throwaway organization, no extra record.
    assert not Organization.objects.filter(account_number__startswith="BENCH-").exists()
    assert UsageRecord.objects.count() == figures["0.dataset.records"]["value"]
    # The statements rendered for the PDF figure are kept with the dataset: one per demo customer.
    assert Statement.objects.count() == len(demo_accounts())
    assert set(Statement.objects.values_list("organization__account_number", flat=True)) == set(demo_accounts())
