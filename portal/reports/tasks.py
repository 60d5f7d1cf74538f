"""Celery: find the reports due (beat, every quarter hour) and deliver each, retrying with backoff."""

from celery import shared_task
from django.conf import settings
from django.db import transaction

from billing.retries import backoff_countdown
from portal.reports.delivery import DeliveryFailed, delivery_give_up, delivery_send, reports_due


@shared_task(name="portal.reports.tasks.deliver_due_reports")
def deliver_due_reports() -> int:
    # Idempotent: a period's delivery row is unique, so a repeated run queues nothing new.
    ids = reports_due()
    for pk in ids:
        transaction.on_commit(lambda pk=pk: deliver_report.delay(pk))
    return len(ids)


@shared_task(bind=True, acks_late=True, max_retries=None, name="portal.reports.tasks.deliver_report")
def deliver_report(self, delivery_id: int) -> str:
    """Idempotent: a delivery already sent is not sent again."""
    try:
        return delivery_send(delivery_id)
    except DeliveryFailed as error:
        if self.request.retries + 1 >= settings.REPORT_MAX_ATTEMPTS:
            delivery_give_up(delivery_id, str(error))
            return "failed"
        raise self.retry(countdown=backoff_countdown(self.request.retries, cap=3600)) from error
