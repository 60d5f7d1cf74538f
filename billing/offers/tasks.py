"""Thin Celery tasks for offers: ids in, a service call, idempotent."""

from celery import shared_task

from billing.models import Organization, Statement
from billing.offers.services import offers_compute, statement_offers_freeze


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def compute_statement_offers(statement_id: int) -> int:
    """Freeze the offers of a newly issued statement. Running it again returns the same run."""
    statement = Statement.objects.select_related("organization").get(pk=statement_id)
    if statement.status == Statement.Status.DRAFT:
        return 0
    return statement_offers_freeze(statement=statement).pk


@shared_task(acks_late=True)
def compute_organization_offers(organization_id: int) -> int:
    """Staff asked for fresh offers (admin action): a new run over the last closed periods."""
    return offers_compute(organization=Organization.objects.get(pk=organization_id)).pk
