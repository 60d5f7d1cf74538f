"""Thin Celery tasks for usage imports. (Billing run tasks: billing.statements.tasks.)"""

import logging
import shutil
from pathlib import Path

from celery import shared_task
from django.conf import settings

from billing.ingest.importer import FORMATS, ImportFileError, usage_import

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def import_usage_file(path: str, format: str, timezone: str | None = None) -> dict:
    """Import one file; safe to run twice (records already loaded are skipped)."""
    result = usage_import(path=Path(path), format=format, timezone_name=timezone)
    return {
        "batch": result.batch_id,
        "loaded": result.loaded,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
    }


@shared_task
def import_dropped_files() -> int:
    """Import files the warehouse dropped in USAGE_DROP_DIR/<format>/*.csv, then move them to
    processed/ (or failed/, with the reason in a .error.txt beside the file)."""
    drop = Path(settings.USAGE_DROP_DIR)
    done = 0
    for format in FORMATS:
        for path in sorted((drop / format).glob("*.csv")):
            try:
                usage_import(path=path, format=format)
                target = drop / "processed"
            except ImportFileError as exc:
                target = drop / "failed"
                target.mkdir(parents=True, exist_ok=True)
                (target / f"{path.name}.error.txt").write_text(str(exc) + "\n")
                logger.warning("usage file %s could not be imported: %s", path, exc)
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target / path.name)
            done += 1
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
