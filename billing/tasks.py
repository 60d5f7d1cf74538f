"""Thin Celery tasks for usage imports. (Billing run tasks: billing.statements.tasks.)"""

import logging
import shutil
from pathlib import Path

from celery import shared_task
from django.conf import settings

from billing.ingest.batches import import_batch_late_records
from billing.ingest.importer import FORMATS, ImportFileError, ImportResult, usage_import
from billing.models import UsageSource

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def import_usage_file(
    path: str, format: str | None = None, timezone: str | None = None, source: str | None = None
) -> dict:
    """Import one file; safe to run twice (records already loaded are skipped)."""
    result = usage_import(path=Path(path), format=format, timezone_name=timezone, source=source)
    return {
        "batch": result.batch_id,
        "loaded": result.loaded,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "failed": result.failed,
    }


def import_report(result: ImportResult, limit: int | None = None) -> str:
    """The summary, warnings and rejections of an import, as the command prints them."""
    source = f", source {result.source}" if result.source else ""
    lines = [
        f"{result.path} ({result.format}{source}): {result.rows} rows, {result.loaded} loaded, "
        f"{result.duplicates} duplicates, {result.rejected} rejected (batch {result.batch_id})"
    ]
    if result.failed:
        lines.append("FAILED: no row of the file was loaded")
    late = import_batch_late_records(batch_id=result.batch_id) if result.batch_id and result.loaded else 0
    if late:
        lines.append(
            f"  late: {late} records are from periods already billed; they go on the next statement, "
            "under 'Usage from earlier periods'"
        )
    lines += [f"  warning: {w}" for w in result.warnings]
    shown = result.rejections if limit is None else result.rejections[:limit]
    lines += [f"  line {r.line_number}: {r.reason}" for r in shown]
    if len(shown) < result.rejected:
        lines.append(f"  … and {result.rejected - len(shown)} more (see the import batch in the admin)")
    return "\n".join(lines) + "\n"


def _sweep(folder: Path, drop: Path, **how) -> int:
    done = 0
    for path in sorted(folder.glob("*.csv")):
        try:
            result = usage_import(path=path, **how)
            report = import_report(result)
            target = drop / ("failed" if result.failed else "processed")
        except ImportFileError as exc:
            target, report = drop / "failed", f"nothing imported: {exc}\n"
        target.mkdir(parents=True, exist_ok=True)
        if target.name == "failed":
            (target / f"{path.name}.error.txt").write_text(report)
            logger.warning("usage file %s could not be imported: %s", path, report.splitlines()[0])
        else:
            (target / f"{path.name}.report.txt").write_text(report)
        shutil.move(str(path), target / path.name)
        done += 1
    return done


@shared_task
def import_dropped_files() -> int:
    """Import files dropped in USAGE_DROP_DIR/<source slug>/*.csv (read as that usage source) and, as
    before, USAGE_DROP_DIR/<format>/*.csv; then move each to processed/ (with a .report.txt) or, when
    no row loaded or the file could not be read, to failed/ (with its report in a .error.txt)."""
    drop = Path(settings.USAGE_DROP_DIR)
    done = 0
    for source in UsageSource.objects.filter(active=True).order_by("slug"):
        done += _sweep(drop / source.slug, drop, source=source)
    for format in FORMATS:
        if not UsageSource.objects.filter(slug=format).exists():
            done += _sweep(drop / format, drop, format=format)
    return done


@shared_task
def ensure_usage_partitions() -> list[str]:
    """Beat task: create this month's and the next three months' partitions of the usage table, then
    refresh the statistics of the partitioned table as a whole (autovacuum analyzes the partitions but
    never their parent, whose statistics plan the queries that span months)."""
    from django.db import connection

    from billing.usage.partitions import partitions_ensure

    created = partitions_ensure(months_ahead=3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_usagerecord")
    return created
