"""Bill audit findings: where an organization pays for something it does not use or could pay less for."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models.accounts import Line, Organization, Person
from billing.models.catalog import Plan


class BillFinding(models.Model):
    """One finding about one line, kept up to date by ``billing.audit_findings.findings_refresh``.

    ``monthly_value`` is what it costs (or would save) per month, in the organization's currency, rounded
    once half-up to the minor unit. People set ``status`` (audited); a refresh updates the value and
    ``active`` (still found) but never the status a person chose."""

    class Kind(models.TextChoices):
        IDLE_LINE = "idle_line", _("Line with no usage that still pays a fee")
        OVERAGE = "overage", _("Line paying overage every month where a larger allowance pays")
        UNASSIGNED = "unassigned", _("Line of a person with no current assignment")
        RATE_DIFFERS = "rate_differs", _("Charges differ from the contracted rate")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Dismissed")
        DONE = "done", _("Done")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    suggested_plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    monthly_value = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    details = models.JSONField(default=dict, help_text="What was measured: days idle, months, rates, plan")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=500, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True, help_text="Found by the latest refresh")
    first_found_at = models.DateTimeField()
    last_found_at = models.DateTimeField()

    class Meta:
        ordering = ["-monthly_value", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "line"], name="bill_finding_once_per_line"),
            models.CheckConstraint(condition=Q(monthly_value__gte=0), name="bill_finding_value_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "active", "status"], name="bill_finding_open")]
