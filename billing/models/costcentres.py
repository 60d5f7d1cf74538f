"""Cost centres: an organization's tree of cost centres, the effective-dated rules that allocate its lines,
persons and locations to them, and how it wants its chargeback journal.

Every table carries the organization and every unique constraint includes it (the tables are distributed by
organization). Writes go through ``billing.costcentres.services`` only (each with its audit row).
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from billing.models.accounts import DateRange, Line, Location, Organization, Person, SingleIdRange

# DATEV's KOST1 field takes letters, digits, underscore and blanks only; codes keep to that so every journal
# format can carry them unchanged.
cost_centre_code_validator = RegexValidator(
    r"^[A-Za-z0-9_]{1,20}$", "A cost centre code is 1–20 letters, digits or underscores (e.g. 4100 or SALES_DE)"
)
gl_account_validator = RegexValidator(r"^[1-9][0-9]{0,8}$", "A GL account is a number of 1–9 digits (e.g. 6805)")


class CostCentre(models.Model):
    """A node of the organization's cost centre tree (any depth). A blank GL account books to the nearest
    ancestor's account, or else to the organization's default account (JournalSettings)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="cost_centres")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    code = models.CharField(max_length=20, validators=[cost_centre_code_validator])
    name = models.CharField(max_length=200)
    gl_account = models.CharField(max_length=9, blank=True, validators=[gl_account_validator])
    active = models.BooleanField(default=True, help_text="Inactive cost centres take no new allocation rules")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="cost_centre_code_unique"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="cost_centre_not_own_parent"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class AllocationRule(models.Model):
    """From ``valid_from`` (inclusive) to ``valid_to`` (exclusive; NULL = open), by the organization's local
    dates, one line, person or location is allocated to cost centres by its shares (percentages summing to
    100). Rules of one target never overlap (enforced by PostgreSQL, like line assignments); a change is a new
    rule from a date, which ends the previous one, so history is never rewritten."""

    class Target(models.TextChoices):
        LINE = "line", "Line"
        PERSON = "person", "Person"
        LOCATION = "location", "Location"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(line__isnull=False, person__isnull=True, location__isnull=True)
                    | Q(line__isnull=True, person__isnull=False, location__isnull=True)
                    | Q(line__isnull=True, person__isnull=True, location__isnull=False)
                ),
                name="allocation_rule_one_target",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="allocation_rule_period_ordered",
            ),
            *[
                ExclusionConstraint(
                    name=f"allocation_rule_{target}_no_overlap",
                    expressions=[
                        (SingleIdRange("organization"), RangeOperators.OVERLAPS),
                        (SingleIdRange(target), RangeOperators.OVERLAPS),
                        (DateRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
                    ],
                    condition=Q(**{f"{target}__isnull": False}),
                )
                for target in ("line", "person", "location")
            ],
        ]

    @property
    def target_kind(self) -> str:
        return "line" if self.line_id else "person" if self.person_id else "location"

    @property
    def target(self):
        return self.line or self.person or self.location


class AllocationShare(models.Model):
    """The part of a rule's target that one cost centre bears, in percent to 0.01."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AllocationRule, on_delete=models.CASCADE, related_name="shares")
    cost_centre = models.ForeignKey(CostCentre, on_delete=models.PROTECT, related_name="shares")
    percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["rule", "-percent", "cost_centre"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "rule", "cost_centre"], name="allocation_share_once"),
            models.CheckConstraint(condition=Q(percent__gt=0, percent__lte=100), name="allocation_share_percent"),
        ]


class JournalFormat(models.TextChoices):
    CSV = "csv", "CSV (the portal's journal layout)"
    DATEV = "datev", "DATEV Buchungsstapel (EXTF)"


class JournalSettings(models.Model):
    """How an organization books its chargeback: the journal format and the accounts it books to."""

    organization = models.OneToOneField(
        Organization, primary_key=True, on_delete=models.CASCADE, related_name="journal_settings"
    )
    journal_format = models.CharField(max_length=8, choices=JournalFormat.choices, default=JournalFormat.CSV)
    default_gl_account = models.CharField(
        max_length=9,
        blank=True,
        validators=[gl_account_validator],
        help_text="Books what no rule allocates and cost centres without an account of their own",
    )
    contra_account = models.CharField(
        max_length=9,
        blank=True,
        validators=[gl_account_validator],
        help_text="The provider's creditor account (DATEV Gegenkonto, e.g. 70000)",
    )
    # DATEV header and booking fields (ask the tax adviser).
    datev_consultant_number = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1001), MaxValueValidator(9999999)]
    )
    datev_client_number = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(99999)]
    )
    datev_fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    datev_account_length = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(4), MaxValueValidator(8)]
    )
    datev_chart = models.CharField(
        max_length=2, blank=True, choices=[("03", "SKR 03"), ("04", "SKR 04")], help_text="Sachkontenrahmen"
    )
    datev_tax_key = models.CharField(
        max_length=4,
        blank=True,
        validators=[RegexValidator(r"^[0-9]{1,4}$", "A DATEV tax key (BU-Schlüssel) is 1–4 digits, e.g. 9")],
        help_text="BU-Schlüssel booked with taxed amounts, e.g. 9 (19 % input tax in SKR 03/04)",
    )
    updated_at = models.DateTimeField(auto_now=True)
