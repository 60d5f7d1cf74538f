"""The provider's product catalog: plans, their effective-dated rates and included allowances."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from billing.models.choices import Category, UsageType


class Plan(models.Model):
    class Kind(models.TextChoices):
        PLAN = "plan", "Plan"
        BUNDLE = "bundle", "Bundle"
        ADDON = "addon", "Add-on"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PLAN)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    monthly_fee = models.DecimalField(max_digits=12, decimal_places=4, default=0, help_text="Per line and month")
    call_setup_fee = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, help_text="Charged once per answered outbound call"
    )
    public = models.BooleanField(default=True, help_text="Offered to every customer")

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class PlanRate(models.Model):
    """Price of one kind of usage under a plan, valid from ``valid_from`` (inclusive) to ``valid_to``.

    ``category``/``zone`` empty means "any"; the most specific matching rate wins (see billing.rating).
    Voice is priced per minute and billed in increments: the first ``first_increment`` seconds, then
    blocks of ``next_increment`` seconds (60/60, 30/6, 1/1). SMS per message, data per MB.
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rates")
    usage_type = models.CharField(max_length=5, choices=UsageType.choices, default=UsageType.VOICE)
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    zone = models.CharField(max_length=16, blank=True, help_text="International zone, e.g. EU, NA, ROW")
    price = models.DecimalField(max_digits=12, decimal_places=6, help_text="Per minute, message or MB")
    first_increment = models.PositiveIntegerField(default=60)
    next_increment = models.PositiveIntegerField(default=60)
    minimum_charge = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "usage_type", "category", "zone", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="plan_rate_price_not_negative"),
            models.CheckConstraint(
                condition=Q(first_increment__gte=1, next_increment__gte=1),
                name="plan_rate_increments_positive",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="plan_rate_period_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.plan.code} {self.usage_type}/{self.category or '*'}/{self.zone or '*'} {self.price}"


class PlanAllowance(models.Model):
    """Usage included in a plan each billing period: minutes, messages or MB.

    Per line (each line on the plan gets ``quantity``) or pooled (the organization's lines on the plan
    share ``quantity`` × number of lines). Restricted to some categories/zones when those are set.
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="allowances")
    usage_type = models.CharField(max_length=5, choices=UsageType.choices, default=UsageType.VOICE)
    categories = ArrayField(models.CharField(max_length=16, choices=Category.choices), default=list, blank=True)
    zones = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, help_text="Minutes, messages or MB")
    pooled = models.BooleanField(default=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="plan_allowance_positive")]
