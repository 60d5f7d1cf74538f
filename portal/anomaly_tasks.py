"""Celery beat task: for every organization that opted in, yesterday's unusual usage goes out once, by email
to its administrators and/or as the ``usage.anomaly`` webhook event.

Yesterday is the organization's local yesterday (a complete day). The anomalies are found with the whole
organization's scope (an administrator's view). Each is recorded (``AnomalyAlert``) in the transaction that
sends it: a failed email rolls the record back and the next run tries again; a repeated run sends nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from billing.models import AnomalyAlertSetting
from billing.statements.services import statement_language
from billing.usage.anomalies import usage_anomalies
from billing.usage.anomaly_alerts import anomaly_alerts_record, anomaly_webhook_emit
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Period
from portal.models import Membership, Role
from portal.web.analysis_forms import DIMENSION_NAMES

log = logging.getLogger(__name__)


def _admin_emails(organization) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(organization=organization, role=Role.ADMIN, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def anomaly_alerts_send(setting: AnomalyAlertSetting, now: datetime | None = None) -> int:
    organization = setting.organization
    yesterday = (now or timezone.now()).astimezone(organization.tz).date() - timedelta(days=1)
    report = usage_anomalies(
        scope=Scope(organization=organization, role=Role.ADMIN, sees_billing=True),
        period=Period(yesterday, yesterday),
        min_excess=setting.min_excess,
    )
    if not report.anomalies:
        return 0
    with transaction.atomic():
        alerts = anomaly_alerts_record(organization=organization, anomalies=report.anomalies)
        if not alerts:
            return 0
        if setting.webhook:
            anomaly_webhook_emit(organization=organization, alerts=alerts)
        recipients = _admin_emails(organization)
        if setting.email and recipients:
            with translation.override(statement_language(organization)):
                rows = [(a, DIMENSION_NAMES[Dimension(a.dimension)]) for a in alerts]
                context = {"organization": organization, "rows": rows, "day": yesterday}
                message = render_to_string("portal/usage/anomaly_email.txt", context)
                subject = gettext("Unusual usage on %(day)s (%(organization)s)") % {
                    "day": yesterday.isoformat(),
                    "organization": organization.name,
                }
            send_mail(subject, message, None, recipients)
    return len(alerts)


def anomaly_alerts_send_all(now: datetime | None = None) -> int:
    count = 0
    settings = AnomalyAlertSetting.objects.filter(Q(email=True) | Q(webhook=True)).select_related("organization")
    for setting in settings.order_by("id"):
        try:
            count += anomaly_alerts_send(setting, now)
        except Exception:  # one organization's failure must not stop the others' alerts
            log.exception("anomaly alerts failed for organization %s", setting.organization_id)
    return count


@shared_task(name="portal.anomaly_tasks.check_anomalies")
def check_anomalies() -> int:
    # Idempotent: AnomalyAlert's unique (organization, dimension, id, day) lets a repeated run send nothing new.
    return anomaly_alerts_send_all()
