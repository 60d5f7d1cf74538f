"""What happens to an import after it loaded: how much of it arrived late, and voiding it.

Voiding takes a wrong import back out (the wrong clock, the wrong source, the wrong file) so that the
corrected file can be loaded: its records are removed, so they count nowhere (rollups, summaries,
statements, offers), and the batch keeps who voided it, when, why and how many records it held, with
an audit row per organization. Records already charged on an issued statement are never removed: the
void is refused and the correction is an adjustment on the next statement.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Max, Min, OuterRef, Subquery
from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from billing.models import ImportBatch, Organization, Statement, UsageRecord
from billing.usage.rollups import rollups_rebuild


class VoidError(Exception):
    """The batch cannot be voided; the message says why and what to do instead."""


def import_batch_late_records(*, batch_id: int) -> int:
    """Records of the batch whose period's statement was already issued when they arrived: they go on
    the organization's next statement, under "usage from earlier periods". (Usage from before the
    organization's first statement is not late: those periods were never billed.)"""
    issued = (
        Statement.objects.filter(
            organization=OuterRef("organization"), status__in=(Statement.Status.ISSUED, Statement.Status.PAID)
        )
        .order_by()
        .values("organization")
    )
    return (
        UsageRecord.objects.filter(import_batch_id=batch_id, billed_on__isnull=True)
        .annotate(
            first_billed_day=Subquery(issued.annotate(day=Min("period_start")).values("day")),
            last_billed_day=Subquery(issued.annotate(day=Max("period_end")).values("day")),
        )
        .filter(local_date__gte=F("first_billed_day"), local_date__lte=F("last_billed_day"))
        .count()
    )


def import_batch_void(*, batch_id: int, reason: str, user=None, now: datetime | None = None) -> ImportBatch:
    """Void an import whose usage is on no issued statement: remove its records, rebuild the rollups they
    were in, record who, when and why on the batch, and write the audit row(s), in one transaction."""
    reason = (reason or "").strip()
    if not reason:
        raise VoidError("say why the import is voided (--reason)")
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:
            raise VoidError(f"there is no import batch {batch_id}")
        if batch.status == ImportBatch.Status.VOIDED:
            raise VoidError(f"import batch {batch_id} was already voided on {batch.voided_at:%Y-%m-%d %H:%M} UTC")
        if batch.status != ImportBatch.Status.DONE:
            raise VoidError(f"import batch {batch_id} loaded nothing (status {batch.status}): there is nothing to void")
        billed = list(
            Statement.objects.filter(
                pk__in=UsageRecord.objects.filter(import_batch_id=batch_id, billed_on__isnull=False).values(
                    "billed_on_id"
                )
            )
            .order_by("number")
            .values_list("number", flat=True)
        )
        if billed:
            raise VoidError(
                f"import batch {batch_id} has usage on issued statement(s) {', '.join(billed)}: issued statements "
                "never change, so it cannot be voided; correct it with an adjustment on the next statement"
            )
        # The batch is marked voided first: the usage table's guard lets anyone delete a record only
        # when no statement charged it and its batch is voided (billing migration 0015).
        batch.status = ImportBatch.Status.VOIDED
        batch.voided_at = now or timezone.now()
        batch.voided_by = user
        batch.void_reason = reason[:500]
        batch.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
        with connection.cursor() as cursor:
            cursor.execute(
                """WITH gone AS (DELETE FROM billing_usagerecord WHERE import_batch_id = %s
                                 RETURNING organization_id, local_date)
                   SELECT organization_id, local_date, count(*) FROM gone GROUP BY 1, 2""",
                [batch_id],
            )
            removed = cursor.fetchall()
        slices = {(organization_id, day) for organization_id, day, _count in removed}
        if slices:
            rollups_rebuild(slices=slices)
        batch.voided_records = sum(count for _org, _day, count in removed)
        batch.save(update_fields=["voided_records"])
        per_org: dict[int, int] = {}
        for organization_id, _day, count in removed:
            per_org[organization_id] = per_org.get(organization_id, 0) + count
        _audit_void(batch, per_org)
    return batch


def _audit_void(batch: ImportBatch, per_org: dict[int, int]) -> None:
    """One audit row per organization whose usage the void removed."""
    organizations = Organization.objects.in_bulk(per_org)
    for organization_id, records in sorted(per_org.items()):
        audit_write(
            organization=organizations[organization_id],
            action=AuditAction.IMPORT_VOIDED,
            actor=Actor(user=batch.voided_by),
            target=f"import batch {batch.pk}",
            details={"records": records, "reason": batch.void_reason, "file": batch.filename},
        )
