"""Unusual-usage alerts: the organization's opt-in (a service with its audit row) and the record of what was
alerted. Who receives an email is the portal's (its roles); this module decides what is new and sends the
``usage.anomaly`` webhook event, each unusual day once (``AnomalyAlert``'s unique key)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.audit import Actor, AuditAction, audit_write
from billing.models import AnomalyAlert, AnomalyAlertSetting, Organization
from billing.usage.anomalies import Anomaly
from billing.webhooks import webhook_emit

EVENT = "usage.anomaly"


def anomaly_alert_setting(organization: Organization) -> AnomalyAlertSetting:
    """The organization's setting; an unsaved default (nothing sent) when it never chose."""
    setting = AnomalyAlertSetting.objects.filter(organization=organization).first()
    return setting or AnomalyAlertSetting(organization=organization)


@transaction.atomic
def anomaly_alerts_configure(
    *, organization: Organization, email: bool, webhook: bool, min_excess: Decimal, actor: Actor
) -> AnomalyAlertSetting:
    if min_excess < 0:
        raise ValueError("min_excess must not be negative")
    setting, _created = AnomalyAlertSetting.objects.update_or_create(
        organization=organization, defaults={"email": email, "webhook": webhook, "min_excess": min_excess}
    )
    audit_write(
        organization=organization,
        action=AuditAction.ANOMALY_ALERTS_CHANGED,
        actor=actor,
        target="unusual usage",
        details={"email": email, "webhook": webhook, "min_excess": str(min_excess)},
    )
    return setting


def anomaly_alerts_record(*, organization: Organization, anomalies: list[Anomaly]) -> list[AnomalyAlert]:
    """Record the anomalies not alerted before; returns only the new ones. Call inside the transaction that
    sends them, so a failed send leaves them unrecorded for the next check."""
    new = []
    for a in anomalies:
        try:
            with transaction.atomic():
                new.append(
                    AnomalyAlert.objects.create(
                        organization=organization,
                        dimension=a.dimension.value,
                        key_id=a.key.value,
                        label=a.key.label[:200],
                        local_date=a.day,
                        cost=a.cost,
                        usual=a.usual,
                        excess=a.excess,
                        score=a.score,
                    )
                )
        except IntegrityError:
            continue  # alerted already (an earlier or a concurrent check)
    return new


def anomaly_payload(alert: AnomalyAlert, currency: str) -> dict:
    return {
        "dimension": alert.dimension,
        "id": alert.key_id,
        "name": alert.label,
        "date": alert.local_date.isoformat(),
        "cost": str(alert.cost),
        "usual": str(alert.usual),
        "excess": str(alert.excess),
        "score": None if alert.score is None else str(alert.score),
        "currency": currency,
    }


def anomaly_webhook_emit(*, organization: Organization, alerts: list[AnomalyAlert]) -> list[int]:
    """One ``usage.anomaly`` event per alerted day (its id is stable: receivers drop repeats)."""
    ids = []
    for alert in alerts:
        ids += webhook_emit(
            organization=organization,
            event=EVENT,
            event_id=f"anomaly-{alert.pk}",
            payload=anomaly_payload(alert, organization.currency),
        )
    return ids
