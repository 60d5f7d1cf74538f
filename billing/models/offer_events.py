"""What customers did with the offers recommended to them, and what the engine learned from it.

Impressions and responses are append-only facts: the staff report counts them, so its numbers are exactly
the recorded events. Every row of customer data carries its organization.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.accounts import Organization
from billing.models.offers import Offer, OfferRecommendation, OfferRun


class OfferImpression(models.Model):
    """An offer was shown: on a web page, in a PDF or through the API."""

    class Channel(models.TextChoices):
        WEB = "web", "Web page"
        PDF = "pdf", "PDF statement"
        API = "api", "API"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recommendation = models.ForeignKey(OfferRecommendation, on_delete=models.CASCADE, related_name="impressions")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="impressions")
    channel = models.CharField(max_length=4, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["offer", "at"])]


class OfferResponse(models.Model):
    """A customer accepted or declined an offer (one answer per recommendation)."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recommendation = models.OneToOneField(OfferRecommendation, on_delete=models.CASCADE, related_name="response")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="responses")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=4, choices=OfferImpression.Channel.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "offer", "decision", "at"])]


class OfferChangeRequest(models.Model):
    """An accepted offer waiting for staff: billing changes only when staff carry it out."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="offer_change_requests")
    response = models.OneToOneField(OfferResponse, on_delete=models.PROTECT, related_name="change_request")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    staff_note = models.TextField(blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Two statements can carry the same offer; staff must still get one request to carry out.
            models.UniqueConstraint(
                fields=["organization", "offer"],
                condition=Q(status="open"),
                name="offer_change_request_one_open",
            )
        ]

    def __str__(self):
        return f"{self.offer.title} for {self.organization.name} ({self.get_status_display()})"


class OfferDecision(models.Model):
    """The decision log: what a run could have shown, how it scored each, what it chose and how likely
    that choice was under its policy (the propensity an offline evaluation reweights by)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.OneToOneField(OfferRun, on_delete=models.CASCADE, related_name="decision")
    segment = models.CharField(max_length=60)
    policy = models.CharField(max_length=40, help_text="e.g. ev-thompson (value basis and exploration below)")
    value_basis = models.CharField(max_length=10, help_text="saving or margin (OFFERS_VALUE)")
    exploration = models.DecimalField(max_digits=4, decimal_places=3)
    candidates = models.JSONField(
        default=list,
        help_text="[{offer, code, value, accepted, not_accepted, p_mean, score, propensity}] in ranked order",
    )
    excluded = models.JSONField(default=dict, help_text="offer code -> why it was not shown")
    chosen = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    propensity = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    explored = models.BooleanField(default=False, help_text="The choice came from the exploration draw")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self):
        return f"decision {self.pk} for {self.organization_id}"


class OfferOutcome(models.Model):
    """What happened to a recommendation: shown (first impression), accepted, declined, or ignored
    (OFFERS_IGNORE_IMPRESSIONS impressions without an answer). One row per recommendation and kind."""

    class Kind(models.TextChoices):
        SHOWN = "shown", "Shown"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        IGNORED = "ignored", "Ignored"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recommendation = models.ForeignKey(OfferRecommendation, on_delete=models.CASCADE, related_name="outcomes")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="+")
    segment = models.CharField(max_length=60, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recommendation", "kind"], name="offer_outcome_once_per_kind"),
        ]
        indexes = [models.Index(fields=["organization", "kind", "at"])]


class OfferAcceptance(models.Model):
    """The acceptance model: per offer and segment, a Beta(1 + accepted, 1 + not_accepted) posterior of
    P(accept), updated from the outcomes in the transaction that records them."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=60)
    accepted = models.PositiveIntegerField(default=0)
    not_accepted = models.PositiveIntegerField(default=0, help_text="Declined or ignored")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["offer", "segment"], name="offer_acceptance_per_segment")]

    def __str__(self):
        return f"{self.offer_id}/{self.segment}: {self.accepted}/{self.accepted + self.not_accepted}"
