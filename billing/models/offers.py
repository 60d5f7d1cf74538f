"""Offers: the catalog and campaigns staff maintain, and what the engine recommended to whom (what customers
did with it, and what the engine learned: ``billing.models.offer_events``).

Every row of customer data carries its organization. Impressions and responses are append-only facts:
the staff report counts them, so its numbers are exactly the recorded events.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from billing.models.accounts import Organization
from billing.models.catalog import Plan
from billing.models.statements import Statement

# Eligibility is data, not code: {"conditions": [{"metric": ..., "op": ..., "value": ...}], ...}.
ELIGIBILITY_METRICS = {
    # Usage metrics (need the organization's consent; averages per month over the profile's months)
    "minutes_per_month": "Outbound billed minutes per month",
    "minutes_per_month.<category>": "Minutes per month to a destination category (national, mobile, ...)",
    "minutes_per_month.international.<zone>": "Minutes per month to an international zone (EU, NA, APAC, ROW)",
    "usage_cost_per_month": "Usage charges per month",
    "overage_per_month": "Charges per month for usage beyond the plan's allowances",
    "trend_percent": "Change of minutes from the first to the last month, in percent",
    "lines_removed": "Lines switched off during the profile's months",
    "lines_added": "Lines added during the profile's months",
    # Account facts (usable without consent)
    "lines_active": "Lines active at the end of the profile",
}
ELIGIBILITY_ACCOUNT_METRICS = {"lines_active"}
ELIGIBILITY_OPS = {">=", ">", "<=", "<", "=="}
ELIGIBILITY_KEYS = {"conditions", "currencies", "countries", "current_plans"}


def _metric_known(metric: str) -> bool:
    if metric in ELIGIBILITY_METRICS:
        return True
    parts = metric.split(".")
    if parts[0] == "minutes_per_month" and len(parts) == 2:
        return True
    return parts[:2] == ["minutes_per_month", "international"] and len(parts) == 3 and bool(parts[2])


def validate_eligibility(value) -> None:
    """Refuse anything the engine could not evaluate, with a message saying what is wrong."""
    if not isinstance(value, dict):
        raise ValidationError('eligibility must be an object, e.g. {"conditions": []}')
    unknown = set(value) - ELIGIBILITY_KEYS
    if unknown:
        raise ValidationError(f"unknown eligibility keys: {', '.join(sorted(unknown))}")
    for key in ("currencies", "countries", "current_plans"):
        if key in value and (not isinstance(value[key], list) or not all(isinstance(v, str) and v for v in value[key])):
            raise ValidationError(f"{key} must be a list of codes")
    conditions = value.get("conditions", [])
    if not isinstance(conditions, list):
        raise ValidationError("conditions must be a list")
    for i, condition in enumerate(conditions, 1):
        if not isinstance(condition, dict) or set(condition) != {"metric", "op", "value"}:
            raise ValidationError(f"condition {i} must have exactly metric, op and value")
        if not isinstance(condition["metric"], str) or not _metric_known(condition["metric"]):
            raise ValidationError(f"condition {i}: unknown metric {condition['metric']!r}")
        if condition["op"] not in ELIGIBILITY_OPS:
            raise ValidationError(f"condition {i}: op must be one of {', '.join(sorted(ELIGIBILITY_OPS))}")
        if isinstance(condition["value"], bool) or not isinstance(condition["value"], int | float | str):
            raise ValidationError(f"condition {i}: value must be a number")
        try:
            float(condition["value"])
        except ValueError:
            raise ValidationError(f"condition {i}: value must be a number") from None


class Offer(models.Model):
    """An offer in the catalog: what it applies (a plan or bundle of the catalog), to whom, when."""

    class Kind(models.TextChoices):
        PLAN_CHANGE = "plan_change", "Plan change"
        BUNDLE = "bundle", "Bundle"
        ADDON = "addon", "Add-on"
        RETENTION = "retention", "Retention offer"

    code = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=120, help_text="Shown to the customer")
    customer_copy = models.TextField(help_text="Shown to the customer under the title (no usage numbers here)")
    plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Plan change: the plan every line moves to. Bundle / add-on: laid over each line's plan "
        "(its rates win where they match, its allowances are used first, its monthly fee is added per line). "
        "Retention: either, see 'overlay'.",
    )
    overlay = models.BooleanField(
        default=False,
        help_text="Lay the plan over each line's plan (bundles, add-ons) instead of replacing it (plan changes)",
    )
    eligibility = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_eligibility],
        help_text='Data, not code: {"conditions": [{"metric": "minutes_per_month.international.EU", "op": ">=", '
        '"value": 300}], "currencies": ["EUR"], "countries": ["NL"], "current_plans": ["flex-eur"]}',
    )
    generic = models.BooleanField(
        default=False,
        help_text="May be shown, without any usage numbers, to organizations that are not personalized "
        "(consent off or holdout); only account facts (currency, country, lines) are checked then",
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Exclusive")
    active = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Order of generic offers (lower first)")
    term_months = models.PositiveSmallIntegerField(
        default=12, help_text="Minimum term the customer commits to when accepting (0: cancel any month)"
    )
    margin_monthly = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The provider's margin per month of an accepted offer (ranking value when OFFERS_VALUE = 'margin')",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="offer_validity_ordered",
            )
        ]

    def __str__(self):
        return f"{self.title} ({self.code})"

    def clean(self):
        super().clean()
        try:  # the field skips its validators for "empty" values such as []
            validate_eligibility(self.eligibility)
        except ValidationError as exc:
            raise ValidationError({"eligibility": exc.messages}) from None
        if self.plan_id and self.kind == self.Kind.PLAN_CHANGE and self.overlay:
            raise ValidationError({"overlay": "a plan change replaces the plan; it is not laid over it"})
        if self.plan_id and self.kind in (self.Kind.BUNDLE, self.Kind.ADDON) and not self.overlay:
            raise ValidationError({"overlay": "bundles and add-ons are laid over the line's plan"})


class OfferRun(models.Model):
    """One computation of an organization's offers (after a statement is issued, or on staff demand)."""

    class Trigger(models.TextChoices):
        STATEMENT = "statement", "Statement issued"
        STAFF = "staff", "Staff (admin or command)"
        RENDER = "render", "PDF rendering"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="offer_runs")
    statement = models.OneToOneField(
        Statement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="offer_run",
        help_text="Offers frozen for this statement (its PDF shows exactly these)",
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    computed_at = models.DateTimeField()
    months = models.PositiveSmallIntegerField()
    personalized = models.BooleanField(help_text="Consent on and not in the holdout")
    consent = models.BooleanField()
    holdout = models.BooleanField()
    legacy = models.BooleanField(
        default=False, help_text="A statement issued before offers existed: frozen with no offers, PDF unchanged"
    )
    profile = models.JSONField(default=dict, blank=True, help_text="Empty when the organization did not consent")

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["organization", "-computed_at"])]

    def __str__(self):
        return f"{self.organization.account_number} {self.computed_at:%Y-%m-%d %H:%M}"


class OfferRecommendation(models.Model):
    """An offer recommended to an organization by a run, with its price on the organization's usage."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="offer_recommendations")
    run = models.ForeignKey(OfferRun, on_delete=models.CASCADE, related_name="recommendations")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="recommendations")
    statement = models.ForeignKey(Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120, help_text="The offer's title when recommended (frozen)")
    personalized = models.BooleanField()
    retention = models.BooleanField(default=False, help_text="Brought forward by the retention signal")
    currency = models.CharField(max_length=3)
    months = models.PositiveSmallIntegerField(default=0)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    cost_current = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cost_with_offer = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    saving_total = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Over the profile's months: its statements' charges minus the same usage re-rated with the offer",
    )
    saving_monthly = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    saving_total_incl_tax = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The same saving on the statements' totals (tax included, each statement's tax rounded once)",
    )
    saving_monthly_incl_tax = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    price_monthly = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The offer's own monthly fee per line (before tax)",
    )
    term_months = models.PositiveSmallIntegerField(default=0)
    changes = models.JSONField(
        default=list, blank=True, help_text="What changes, in words (frozen with the recommendation)"
    )
    reason = models.TextField(help_text="Why, in plain words (in the organization's language and currency)")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "offer"], name="offer_recommendation_once_per_run"),
            models.CheckConstraint(
                condition=Q(personalized=False) | Q(saving_total__gt=0),
                name="offer_personalized_is_a_saving",
            ),
        ]

    def __str__(self):
        return f"{self.offer.code} for {self.organization.account_number}"


class OfferCampaign(models.Model):
    """A staff campaign: some offers, for a period, to a segment, at most ``cap`` of them per organization.

    An offer that belongs to any campaign is shown only through an active one whose segment matches the
    organization's; offers in no campaign are shown as always."""

    name = models.CharField(max_length=120)
    offers = models.ManyToManyField(Offer, related_name="campaigns")
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Exclusive")
    segment = models.CharField(
        max_length=60,
        default="*/*/*",
        help_text="size/mix/trend, each part a value or *: e.g. s/intl/* (sizes s m l; mix intl domestic; "
        "trend down flat up)",
    )
    cap = models.PositiveSmallIntegerField(default=1, help_text="Different offers of the campaign per organization")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gt=models.F("starts_on")), name="offer_campaign_ordered")
        ]

    def __str__(self):
        return f"{self.name} ({self.starts_on} – {self.ends_on})"

    def clean(self):
        super().clean()
        parts = self.segment.split("/")
        allowed = [{"s", "m", "l", "*"}, {"intl", "domestic", "-", "*"}, {"down", "flat", "up", "-", "*"}]
        if len(parts) != 3 or any(p not in a for p, a in zip(parts, allowed, strict=False)):
            raise ValidationError({"segment": "size/mix/trend, e.g. s/intl/* (each part a value or *)"})

    def matches(self, segment: str) -> bool:
        return all(want in ("*", got) for want, got in zip(self.segment.split("/"), segment.split("/"), strict=False))
