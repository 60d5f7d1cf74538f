"""Figure 3, the import: ``usage_import`` of a generated Asterisk Master.csv next to a bare COPY of the same file.

Both run on the same machine, one right after the other, inside a transaction that is rolled back
(nothing stays), with the foreign keys checked as rows go in (as at a real commit). The import rate is
rows per second of the whole import (reading the file, staging, parsing, matching, classifying, the
insert with its duplicate check, the rollups); the COPY is of the file's 18 text columns into a bare
table, the fastest PostgreSQL takes the same bytes in. The load average is printed with it: on a shared
machine both halves of the ratio slow down, the ratio less than the rate.
"""

from __future__ import annotations

import os
import random
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db import connection, transaction

from billing.ingest.importer import usage_import
from billing.periods import last_closed_period
from devtools.benchmark import Report
from devtools.benchmark.setup import THROWAWAY_PREFIX, throwaway_create


def master_csv(path: Path, numbers: list[str], rows: int, start: date, days: int) -> None:
    """Asterisk cdr_csv Master.csv rows (18 columns), calls from our lines to varied destinations."""
    rnd = random.Random(7)
    dests = ["0301234567", "017612345678", "0033142685300", "004420794600", "0800123456", "0612345678", "201"]
    base = datetime.combine(start, datetime.min.time())
    with path.open("w") as handle:
        for i in range(rows):
            own = "0" + numbers[i % len(numbers)][3:]  # national format, as a PBX writes it
            dst = dests[rnd.randrange(len(dests))] + str(rnd.randrange(10))
            began = base + timedelta(days=rnd.randrange(days), hours=rnd.randint(7, 19), seconds=rnd.randrange(3600))
            duration = int(rnd.lognormvariate(4.5, 1.1)) + 3
            answered = rnd.random() > 0.18
            billsec = max(0, duration - 3) if answered else 0
            answer = (began + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S") if answered else ""
            handle.write(
                f'"","{own}","{dst}","from-internal","""Desk {i % 50}"" <{own}>","SIP/{i % 50}-{i:08x}",'
                f'"SIP/trunk-{i:08x}","Dial","SIP/trunk/{dst},60","{began:%Y-%m-%d %H:%M:%S}","{answer}",'
                f'"{began + timedelta(seconds=duration):%Y-%m-%d %H:%M:%S}",{duration},{billsec},'
                f'"{"ANSWERED" if answered else "NO ANSWER"}","DOCUMENTATION","{1700000000 + i}.{i}",""\n'
            )


COPY_TABLE = """CREATE TEMP TABLE bench_master_csv (
    accountcode text, src text, dst text, dcontext text, clid text, channel text, dstchannel text,
    lastapp text, lastdata text, start text, answer text, "end" text, duration integer, billsec integer,
    disposition text, amaflags text, uniqueid text, userfield text) ON COMMIT DROP"""


def figure_import(report: Report, sizes, workdir: Path) -> None:
    """import_usage vs a bare COPY of the same file, both inside a transaction that is rolled back."""
    path = workdir / "Master.csv"
    load_before = os.getloadavg()[0]
    with transaction.atomic():
        throwaway = throwaway_create(f"{THROWAWAY_PREFIX}IMPORT", 9999, lines=50)
        period = last_closed_period(throwaway.organization)
        master_csv(path, [line.number for line in throwaway.lines], sizes.import_rows, period.start, period.days)
        with connection.cursor() as cursor:
            # The foreign keys are checked at commit, which never comes here: check them as rows go in,
            # so that the rolled-back import pays what a committed one pays.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        began = time.perf_counter()
        result = usage_import(path=path, format="asterisk")
        import_s = time.perf_counter() - began
        with connection.cursor() as cursor:
            cursor.execute(COPY_TABLE)
            began = time.perf_counter()
            with path.open() as handle:
                cursor.copy_expert("COPY bench_master_csv FROM STDIN WITH (FORMAT csv)", handle, 1 << 20)
            copy_s = time.perf_counter() - began
            cursor.execute("SELECT count(*) FROM bench_master_csv")
            copied = cursor.fetchone()[0]
        # Nothing of this stays: organization, lines, records, rollups and the import batch go.
        transaction.set_rollback(True)
    path.unlink()
    load_after = os.getloadavg()[0]
    if result.loaded + result.rejected != sizes.import_rows or copied != sizes.import_rows:
        raise RuntimeError(f"import counted {result.loaded}+{result.rejected}, COPY {copied} of {sizes.import_rows}")
    rate, copy_rate = result.rows / import_s, copied / copy_s
    report.context["import"] = {
        "rows": result.rows,
        "loaded": result.loaded,
        "rejected": result.rejected,
        "seconds": round(import_s, 2),
        "copy_seconds": round(copy_s, 2),
        "statements": result.statements,
        "rows_read_row_by_row": result.careful_rows,
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }
    load = f"load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs"
    report.add("3.import.rows", "import: Asterisk Master.csv rows (generated)", result.rows, "rows")
    report.add(
        "3.import.rate",
        "import_usage rate (parse, match, classify, dedupe, rollups)",
        rate,
        "rec/s",
        "≥ 100,000 rec/s",
        rate >= 100_000,
        note=f"{import_s:.1f} s, {result.statements} SQL statements, {result.careful_rows} rows row by row; {load}",
    )
    report.add("3.import.copy_rate", "bare COPY of the same file into a bare table", copy_rate, "rec/s",
               note=f"{copy_s:.1f} s")  # fmt: skip
    report.add(
        "3.import.vs_copy", "import rate / COPY rate", rate / copy_rate * 100, "%", "≥ 50 %", rate / copy_rate >= 0.5
    )
