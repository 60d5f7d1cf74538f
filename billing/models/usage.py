"""Usage records (the warehouse's fact table), their daily/hourly/monthly rollups and import batches."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.accounts import Line, Location, Organization, Person
from billing.models.choices import Category, Direction, DurationBand, UsageType


class ImportBatch(models.Model):
    """One run of ``import_usage`` over one file."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (nothing loaded)"
        VOIDED = "voided", "Voided (its records were removed)"

    filename = models.CharField(max_length=500)
    source = models.ForeignKey(
        "billing.UsageSource", null=True, blank=True, on_delete=models.PROTECT, related_name="batches"
    )
    format = models.CharField(max_length=16)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    rows = models.PositiveIntegerField(default=0)
    loaded = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    warnings = models.JSONField(
        default=list, blank=True, help_text="What was read but is worth a look (clock, replaced bytes, joined legs)"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)
    voided_records = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "import batches"


class ImportRejection(models.Model):
    """A row of an import file that was not loaded, with where and why."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejections")
    line_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["batch", "line_number"]


class UsageRecord(models.Model):
    """One call, text message or data session.

    Append-only (a database trigger rejects updates except to the rating columns, and deletes). The
    line's person and location are stamped as they were at ``started_at``. ``local_date`` is the
    organization's local date of ``started_at``, kept so days and months need no time-zone math.
    Re-importing a record is a no-op thanks to the unique (organization, source, source_id, started_at)
    key; ``started_at`` is part of it so the table can be partitioned by month.
    """

    id = models.BigAutoField(primary_key=True)
    # No index of their own: usage_org_started and usage_line_started lead with these columns, and each
    # index on this table is paid by every imported row.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="+", db_index=False)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    usage_type = models.CharField(max_length=5, choices=UsageType.choices)
    started_at = models.DateTimeField()
    local_date = models.DateField()
    local_hour = models.PositiveSmallIntegerField()
    duration_seconds = models.PositiveIntegerField(default=0)
    billable_seconds = models.PositiveIntegerField(default=0)
    duration_band = models.PositiveSmallIntegerField(choices=DurationBand.choices, default=0)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    answered = models.BooleanField(default=True)
    destination = models.CharField(max_length=32, blank=True, help_text="Full other-party number (E.164)")
    destination_masked = models.CharField(max_length=40, blank=True)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    country = models.CharField(max_length=2, blank=True)
    zone = models.CharField(max_length=16, blank=True)
    data_bytes = models.BigIntegerField(default=0)
    source = models.CharField(max_length=16)
    source_id = models.CharField(max_length=128)
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    rated_plan = models.ForeignKey("billing.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rated_at = models.DateTimeField(null=True, blank=True)
    # The statement that charged this record: its own period's, or a later one when the record arrived
    # after its period was issued (late usage). Set once at issue (the append-only trigger allows
    # exactly NULL -> a statement); records still NULL are what the next statement bills.
    billed_on = models.ForeignKey(
        "billing.Statement", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "source_id", "started_at"],
                name="usage_record_source_unique",
            ),
            models.CheckConstraint(
                condition=Q(billable_seconds__lte=models.F("duration_seconds")),
                name="usage_billable_within_duration",
            ),
            models.CheckConstraint(condition=Q(data_bytes__gte=0), name="usage_data_bytes_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organization", "started_at"], name="usage_org_started"),
            models.Index(fields=["organization", "local_date"], name="usage_org_local_date"),
            models.Index(fields=["line", "started_at"], name="usage_line_started"),
            models.Index(fields=["organization", "duration_seconds"], name="usage_org_duration"),
            models.Index(
                fields=["organization", "local_date"], condition=Q(billed_on__isnull=True), name="usage_org_unbilled"
            ),
        ]


class UsageRollupBase(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    location = models.ForeignKey(Location, null=True, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, on_delete=models.CASCADE, related_name="+")
    usage_type = models.CharField(max_length=5, choices=UsageType.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    duration_band = models.PositiveSmallIntegerField(choices=DurationBand.choices)
    records = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    duration_seconds = models.BigIntegerField()
    billable_seconds = models.BigIntegerField()
    max_duration_seconds = models.PositiveIntegerField()
    data_bytes = models.BigIntegerField()
    cost = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        abstract = True


class UsageDaily(UsageRollupBase):
    """Usage per organization, local day, line (and its person/location), type, category, country,
    direction and duration band. Rebuilt per (organization, day) by billing.usage.rollups."""

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "local_date"], name="usage_daily_org_date")]


class UsageHourly(UsageRollupBase):
    """Usage per organization, local day and hour, person/location, type, category, direction and band:
    serves hour-of-day and day-of-week analytics."""

    local_hour = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["organization", "local_date"], name="usage_hourly_org_date")]


class UsageMonthly(UsageRollupBase):
    """Usage per organization and local month (``local_date`` is the month's first day), location,
    person, type, category, direction and band: the dimensions a summary over whole months can group
    or filter by without line, country, day or hour. Rebuilt per (organization, month) from the daily
    rollup by billing.usage.rollups, in the same transaction as the daily one."""

    class Meta:
        indexes = [models.Index(fields=["organization", "local_date"], name="usage_monthly_org_month")]
        constraints = [models.CheckConstraint(condition=Q(local_date__day=1), name="usage_monthly_first_of_month")]
