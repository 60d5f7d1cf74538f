"""Business customers and what they own: locations, persons, lines, and which is where over time."""

import zoneinfo

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q

from billing.models.choices import EInvoiceFormat, VatCategory


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")


e164_validator = RegexValidator(r"^\+[1-9]\d{6,14}$", "Phone numbers are stored in E.164 form, e.g. +493012345678")


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()


class SingleIdRange(Func):
    """``int8range(id, id, '[]')``: lets a GiST exclusion constraint compare ids with ``&&`` using only
    the built-in range operator classes (the embedded PostgreSQL ships without btree_gist)."""

    template = "int8range(%(expressions)s, %(expressions)s, '[]')"
    output_field = models.BigIntegerField()


class DateRange(Func):
    function = "DATERANGE"
    output_field = models.DateField()


class Organization(models.Model):
    """A business customer of the provider."""

    account_number = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(
        max_length=2,
        default="US",
        help_text="ISO 3166 country of the customer; national numbers are read in it",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    currency = models.CharField(max_length=3, default="USD")
    locale = models.CharField(max_length=16, default="en-US", help_text="Formats money, numbers and dates")
    billing_day = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="Day of the month a billing period starts (1–28, in the organization's time zone)",
    )
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, default=0, help_text="e.g. 0.1900 for 19 % VAT")
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    billing_address = models.TextField(blank=True)
    vat_id = models.CharField(
        max_length=32,
        blank=True,
        help_text="Tax identifier: a VAT ID with its country prefix in the EU and UK, an EIN in the US",
    )
    # E-invoicing (EN 16931) and the tax terms every statement line is charged under.
    vat_category = models.CharField(
        max_length=2,
        blank=True,
        choices=VatCategory.choices,
        help_text="EN 16931 VAT category of the statement lines; blank: standard rate when a tax rate is set, "
        "otherwise outside the scope of VAT. Anything but S is charged at 0 %",
    )
    vat_exemption_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why no VAT is charged (required for reverse charge, exempt, outside scope)",
    )
    einvoice_format = models.CharField(
        max_length=10,
        default="facturx",
        choices=EInvoiceFormat.choices,
        help_text="The e-invoice issued with each statement",
    )
    buyer_reference = models.CharField(
        max_length=64, blank=True, help_text="Buyer reference (BT-10); for German public buyers their Leitweg-ID"
    )
    einvoice_address = models.CharField(
        max_length=120,
        blank=True,
        help_text="Electronic address (BT-49) as scheme:id: a Peppol participant (0208:0123456789) or EM:ap@example.com",
    )
    personalization_consent = models.BooleanField(
        default=False, help_text="May the provider use this organization's usage to personalize offers?"
    )
    personalization_consent_changed_at = models.DateTimeField(null=True, blank=True)
    personalization_consent_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(billing_day__gte=1, billing_day__lte=28), name="org_billing_day_1_28"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lt=1), name="org_tax_rate_fraction"),
            # Only the standard rate charges VAT (EN 16931 BR-AE-05, BR-E-05, BR-Z-05, BR-O-05).
            models.CheckConstraint(
                condition=Q(vat_category__in=["", "S"]) | Q(tax_rate=0), name="org_vat_category_rate"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.account_number})"

    def clean(self):
        from billing.einvoice.tax import tax_id_errors

        errors = tax_id_errors(self)
        if errors:
            raise ValidationError(errors)

    @property
    def effective_vat_category(self) -> str:
        """The VAT category statement lines are charged under (see ``vat_category``)."""
        return self.vat_category or ("S" if self.tax_rate else "O")

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Location(models.Model):
    """A site or branch of an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    address = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="location_name_unique")]

    def __str__(self):
        return self.name


class Person(models.Model):
    """An employee or other holder of lines."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="persons")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    employee_number = models.CharField(max_length=32, blank=True)
    department = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "persons"

    def __str__(self):
        return self.name


class Line(models.Model):
    """A phone number (fixed extension, mobile SIM, trunk) of an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="lines")
    number = models.CharField(max_length=16, unique=True, validators=[e164_validator])
    label = models.CharField(max_length=100, blank=True)
    activated_on = models.DateField()
    deactivated_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deactivated_on__isnull=True) | Q(deactivated_on__gte=F("activated_on")),
                name="line_active_period_ordered",
            )
        ]

    def __str__(self):
        return self.number


class LineAssignment(models.Model):
    """Which person uses a line and where it is, from ``valid_from`` (inclusive) to ``valid_to`` (exclusive).

    Usage records are stamped with the assignment valid at the time of use, so moving a line to another
    person later never rewrites history. Periods of one line cannot overlap (enforced by PostgreSQL).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="assignments")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "valid_from"]
        constraints = [
            ExclusionConstraint(
                name="line_assignment_no_overlap",
                expressions=[
                    (SingleIdRange("line"), RangeOperators.OVERLAPS),
                    (TsTzRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="line_assignment_period_ordered",
            ),
        ]


class LinePlan(models.Model):
    """The plan a line is on, by the organization's local dates; ``valid_to`` exclusive."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="plans")
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["line", "valid_from"]
        constraints = [
            ExclusionConstraint(
                name="line_plan_no_overlap",
                expressions=[
                    (SingleIdRange("line"), RangeOperators.OVERLAPS),
                    (DateRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="line_plan_period_ordered",
            ),
        ]
