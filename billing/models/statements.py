"""Statements: what a customer is billed for one billing period. Immutable once issued (database-enforced)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import pgettext_lazy

from billing.models.accounts import Line, Location, Organization, Person


class StatementNumberSequence(models.Model):
    """Last statement number given out in a year. Numbers are taken in the issuing transaction with a
    row lock, so they are sequential and gap-free: a rolled-back issue gives its number back."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)


class Statement(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("status", "Draft")
        ISSUED = "issued", pgettext_lazy("status", "Issued")
        PAID = "paid", pgettext_lazy("status", "Paid")
        VOID = "void", pgettext_lazy("status", "Void")

    class PdfStatus(models.TextChoices):
        PENDING = "pending", pgettext_lazy("status", "Waiting to be rendered")
        READY = "ready", pgettext_lazy("status", "Ready")
        FAILED = "failed", pgettext_lazy("status", "Rendering failed (retrying)")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField(help_text="First day of the billing period (organization's local date)")
    period_end = models.DateField(help_text="Last day of the billing period (inclusive)")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=20, null=True, blank=True, unique=True, help_text="Given at issue")
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=8, default="en")
    template_version = models.PositiveSmallIntegerField(default=1)
    recurring_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    usage_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    adjustments_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, default=0)
    tax_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    previous_balance = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="What was due on the previous statement"
    )
    # The balance, stored at issue (template v3 on): previous balance − payments received since =
    # balance carried forward; carried forward + new charges (``total``) = total due. Statements issued
    # before have ``total_due`` NULL: what they asked for was previous_balance + total (see amount_due).
    payments_total = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="Payments received since the previous statement"
    )
    balance_carried_forward = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total_due = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    details = models.JSONField(
        default=dict,
        blank=True,
        help_text="Frozen at issue: daily cost and longest calls, so the PDF re-renders as issued",
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    pdf_status = models.CharField(max_length=8, choices=PdfStatus.choices, default=PdfStatus.PENDING)
    pdf_file = models.CharField(max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_attempts = models.PositiveSmallIntegerField(default=0)
    pdf_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            # Exactly one statement per organization and period, whatever runs concurrently.
            models.UniqueConstraint(fields=["organization", "period_start"], name="statement_one_per_period"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="statement_period_ordered"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False, issued_at__isnull=False),
                name="statement_issued_has_number",
            ),
        ]

    def __str__(self):
        return f"{self.number or 'draft'} {self.organization.account_number} {self.period_start:%Y-%m}"

    @property
    def amount_due(self):
        """What this statement asks the customer to pay (its total due)."""
        return self.total_due if self.total_due is not None else self.previous_balance + self.total

    @property
    def pdf_filename(self) -> str:
        return f"statement-{self.organization.account_number}-{self.period_start:%Y-%m}.pdf"


class StatementLine(models.Model):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring charge"
        USAGE = "usage", "Usage charge"
        ALLOWANCE = "allowance", "Included usage"
        ADJUSTMENT = "adjustment", "Adjustment"

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=300)
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    usage_type = models.CharField(max_length=5, blank=True)
    category = models.CharField(max_length=16, blank=True)
    zone = models.CharField(max_length=16, blank=True)
    quantity = models.DecimalField(max_digits=16, decimal_places=3, default=0)
    unit = models.CharField(max_length=16, blank=True)
    exact_amount = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="Rounded once, half-up")
    # EN 16931 VAT category (BT-151) the line is charged under; blank on statements issued before it existed.
    vat_category = models.CharField(max_length=2, blank=True)
    # Set on usage lines for records of an earlier, already issued period ("usage from earlier periods").
    usage_period_start = models.DateField(null=True, blank=True)
    usage_period_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["statement", "position"]
        constraints = [models.UniqueConstraint(fields=["statement", "position"], name="statement_line_position")]


class StatementBreakdown(models.Model):
    """Informative breakdowns of a statement's usage: by location, person and duration band."""

    class Dimension(models.TextChoices):
        LOCATION = "location", "Location"
        PERSON = "person", "Person"
        DURATION_BAND = "duration_band", "Duration band"

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="breakdowns")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    duration_band = models.PositiveSmallIntegerField(null=True, blank=True)
    label = models.CharField(max_length=200)
    calls = models.PositiveIntegerField(default=0)
    minutes = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # From template v3 on, location and person rows count every usage type (calls, texts, data) and their
    # amounts add up to the usage total exactly (largest remainder); duration bands count calls only.
    messages = models.PositiveIntegerField(default=0)
    megabytes = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        ordering = ["statement", "dimension", "-amount"]


class Adjustment(models.Model):
    """A correction or credit (negative amount) made after the fact; it appears on the next statement."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="adjustments")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="Negative for a credit")
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    corrects = models.ForeignKey(Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    applied_to = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="applied_adjustments"
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="adjustment_not_zero")]


class Dispute(models.Model):
    """A customer's objection to a statement line; staff accept it (with a credit on a later statement) or reject it."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("status", "Open")
        ACCEPTED = "accepted", pgettext_lazy("status", "Accepted (credited)")
        REJECTED = "rejected", pgettext_lazy("status", "Rejected")

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="disputes")
    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.OneToOneField(
        Adjustment, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute"
    )

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["line"], condition=Q(status="open"), name="dispute_one_open_per_line")
        ]

    def __str__(self):
        return f"Dispute on {self.statement.number} line {self.line.position} ({self.status})"


class WebhookEndpoint(models.Model):
    """An HTTPS endpoint of an organization's system that receives events (signed with HMAC-SHA256)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    # Needed in clear to sign every delivery; shown to the admin once at creation.
    secret = models.CharField(max_length=64)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    event_id = models.CharField(max_length=64, help_text="Stable id: receivers use it to ignore repeats")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at"]
