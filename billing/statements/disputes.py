"""Disputes of statement lines: raised by the customer, resolved by staff with a credit or a rejection."""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.models import Dispute, Statement, StatementLine
from billing.statements.services import BillingError, adjustment_create

MAX_REASON = 2000


@transaction.atomic
def dispute_open(*, line: StatementLine, reason: str, user=None, actor: Actor | None = None) -> Dispute:
    """Dispute one line of an issued (or paid) statement, with its audit row: the web page and the API both
    call this."""
    actor = actor_of(actor, user)
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("a dispute needs a reason")
    if len(reason) > MAX_REASON:
        raise BillingError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}")
    if line.statement.status not in (Statement.Status.ISSUED, Statement.Status.PAID):
        raise BillingError(f"statement {line.statement.number} is {line.statement.status} and cannot be disputed")
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(statement=line.statement, line=line, reason=reason, raised_by=actor.user)
    except IntegrityError:
        raise BillingError(f"line {line.position} of {line.statement.number} already has an open dispute") from None
    audit_write(
        organization=line.statement.organization,
        action=AuditAction.DISPUTE_OPENED,
        actor=actor,
        target=line.statement.number,
        details={"line": line.position},
    )
    return dispute


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, accept: bool, resolution: str, user, credit: Decimal | None = None) -> Dispute:
    """Accepting credits ``credit`` (default: the whole line) on the next statement; nothing is edited."""
    dispute = Dispute.objects.select_for_update().select_related("statement", "line").get(pk=dispute.pk)
    if dispute.status != Dispute.Status.OPEN:
        raise BillingError("this dispute is already resolved")
    if not (resolution or "").strip():
        raise BillingError("say why: the customer sees the resolution")
    if accept:
        amount = credit if credit is not None else dispute.line.amount
        if amount <= 0 or amount > abs(dispute.line.amount) and dispute.line.amount > 0:
            raise BillingError(f"the credit must be positive and at most the line's {dispute.line.amount}")
        dispute.adjustment = adjustment_create(
            organization=dispute.statement.organization,
            amount=-amount,
            reason=f"Dispute on line {dispute.line.position}: {resolution.strip()}",
            created_by=user,
            corrects=dispute.statement,
        )
    dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
    dispute.resolution = resolution.strip()
    dispute.resolved_by = user
    dispute.resolved_at = timezone.now()
    dispute.save()
    return dispute
