"""Payments received from customers: entered by staff or imported from the provider's finance system."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.accounts import Organization
from billing.models.statements import Statement


class Payment(models.Model):
    """Money received. Each payment is counted once, on the first statement issued after it was received
    (``applied_to``): that statement shows it and subtracts it from the previous balance."""

    class Source(models.TextChoices):
        STAFF = "staff", "Entered by staff"
        IMPORT = "import", "Imported"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payments")
    received_on = models.DateField(help_text="Day the money arrived (organization's local date)")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=140, blank=True, help_text="The payer's reference, as received")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="The finance system's id: importing it again changes nothing"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_to = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="payments_received"
    )

    class Meta:
        ordering = ["-received_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], condition=~Q(external_id=""), name="payment_external_id_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
        ]

    def __str__(self):
        return f"{self.amount} {self.currency} from {self.organization.account_number} on {self.received_on}"
