"""Anomaly alerts: an organization's opt-in (email and/or webhook) and every unusual day already alerted."""

from decimal import Decimal

from django.db import models

from billing.models.accounts import Organization


class AnomalyAlertSetting(models.Model):
    """Whether unusual usage is sent out, and from which amount above usual. Changed only through
    ``billing.usage.anomaly_alerts.anomaly_alerts_configure`` (which writes the audit row)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.BooleanField(default=False, help_text="Email the organization's administrators")
    webhook = models.BooleanField(default=False, help_text="Send the usage.anomaly event to its webhook endpoints")
    min_excess = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("5.00"), help_text="Only days at least this much above usual"
    )
    updated_at = models.DateTimeField(auto_now=True)


class AnomalyAlert(models.Model):
    """One unusual day of a location, person or line that was alerted: recorded before it is sent, and
    unique, so a repeated or concurrent check never sends it twice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16)  # location, person or line
    key_id = models.BigIntegerField()
    label = models.CharField(max_length=200)
    local_date = models.DateField()
    cost = models.DecimalField(max_digits=18, decimal_places=6)
    usual = models.DecimalField(max_digits=18, decimal_places=6)
    excess = models.DecimalField(max_digits=18, decimal_places=6)
    score = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "dimension", "key_id", "local_date"], name="anomaly_alert_once"
            )
        ]
