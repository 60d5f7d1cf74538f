"""Who may see what: memberships of users in organizations and API tokens; the portal's own pages' rows.

The audit log is the domain's (``billing.models.AuditLog``, written by ``billing.audit.audit_write``); it is
re-exported here for the callers that read it."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import AuditLog, Location, Organization, Person  # noqa: F401  (AuditLog: re-exported)


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")  # everything, incl. members, tokens, consent
    ANALYST = "analyst", _("Analyst")  # all usage and statements of the organization, read only
    LOCATION_MANAGER = "location_manager", _("Location manager")  # usage of some locations only
    MEMBER = "member", _("Member")  # usage of their own lines only


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    locations = models.ManyToManyField(Location, blank=True, help_text="Scope of a location manager")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, help_text="The person a member is"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(
                condition=~Q(role="member") | Q(person__isnull=False), name="membership_member_has_person"
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"


def hash_token(raw: str) -> str:
    # Tokens are 256-bit random values, so a plain SHA-256 is enough (no need for a slow password hash).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the GraphQL API, acting as its user within one organization.

    Only a SHA-256 of the token is stored; the token itself is shown once at creation.
    """

    class Scope(models.TextChoices):
        USAGE_READ = "usage:read", _("Read usage")
        STATEMENTS_READ = "statements:read", _("Read statements")
        STATEMENTS_DISPUTE = "statements:dispute", _("Dispute statement lines")
        WEBHOOKS = "webhooks:manage", _("Register webhook endpoints and see deliveries")
        OFFERS = "offers", _("See and answer offers")
        BUDGETS = "budgets:manage", _("Add budgets")
        FINDINGS = "findings:manage", _("Set the status of bill audit findings")

    PREFIX = "bp_"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # Removing a member revokes their tokens and detaches them (membership NULL): the audit log refers to
    # tokens, so they are kept; a detached token never authenticates.
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="tokens")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def new_raw_token(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    def matches(self, raw: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_token(raw))

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class SavedView(models.Model):
    """A usage-explorer view a user bookmarked by name: the explorer's whole state is its query string."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, help_text="The explorer's URL query string, without '?'")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "organization", "name"], name="saved_view_name_unique")]

    def __str__(self):
        return self.name


class ExportJob(models.Model):
    """A CSV/XLSX export too large to stream in the request: built by a Celery task, downloaded when ready."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=32, help_text="What is exported, e.g. usage_summary or usage_records")
    file_format = models.CharField(max_length=4, default="csv")
    params = models.JSONField(default=dict, help_text="The explorer state the export was asked with")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    file = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def progress(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)


class Budget(models.Model):
    """A monthly spending limit for a location, a person or the whole organization (both empty).

    When usage charges in a billing period cross ``thresholds`` (percent of ``amount``), the organization's
    administrators get one email per crossing, naming the highest threshold crossed (a jump from 40 % to
    105 % is one "100 %" email, not three). One budget per subject: the organization, a location or a
    person (a unique index on the subject with empty ids as 0, so PostgreSQL 14 refuses duplicates too)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Per billing period, in its currency")
    thresholds = ArrayField(models.PositiveSmallIntegerField(), default=list, help_text="Percents, e.g. [80, 100]")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(
                condition=Q(location__isnull=True) | Q(person__isnull=True), name="budget_location_or_person"
            ),
            models.UniqueConstraint(
                F("organization"),
                Coalesce(F("location"), Value(0)),
                Coalesce(F("person"), Value(0)),
                name="budget_one_per_subject",
            ),
        ]


class BudgetAlert(models.Model):
    """One alert sent: the highest threshold of a budget crossed in a billing period (unique, so sent once).

    A later check alerts again only for a threshold above every one already alerted in the period."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    threshold = models.PositiveSmallIntegerField()
    spent = models.DecimalField(max_digits=12, decimal_places=2)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "period_start", "threshold"], name="budget_alert_once")
        ]


class Invitation(models.Model):
    """An existing user asked to join an organization: they are not a member until they accept.

    (A new user is added at once and gets a set-password link: choosing the password is the acceptance.)
    One open invitation per user and organization."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an answer"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    locations = models.ManyToManyField(Location, blank=True, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], condition=Q(status="pending"), name="invitation_one_open"
            ),
            models.CheckConstraint(
                condition=~Q(role="member") | Q(person__isnull=False), name="invitation_member_has_person"
            ),
        ]


class ScheduledReport(models.Model):
    """A report delivered on a schedule to chosen members by email, or to one webhook endpoint.

    ``kind`` names an entry of the report registry (``portal.reports.registry``: saved views, bill audit
    findings, and what other modules register); ``source`` is what of that kind (a saved view's id). It is
    built with its owner's scope as it is at delivery time, never more."""

    class Frequency(models.TextChoices):
        AFTER_STATEMENT = "statement", "After each statement"
        WEEKLY = "weekly", "Weekly (the previous Monday to Sunday)"
        MONTHLY = "monthly", "Monthly (the last closed billing period)"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email with the file attached"
        WEBHOOK = "webhook", "Webhook (the file in the signed JSON body)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="scheduled_reports")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32)
    source = models.CharField(max_length=64, blank=True)
    file_format = models.CharField(max_length=4, default="xlsx")
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    recipients = models.ManyToManyField(Membership, blank=True, related_name="+")
    webhook = models.ForeignKey(
        "billing.WebhookEndpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "owner", "name"], name="scheduled_report_name_unique")
        ]

    def __str__(self):
        return self.name


class ReportDelivery(models.Model):
    """One delivery of a scheduled report for one period (``key``: unique per report, so sent once),
    with its attempts: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(ScheduledReport, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=40, help_text="What this delivery is for: statement:12, week:2026-W44, ...")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    sent_to = models.JSONField(default=list, help_text="Addresses (or the webhook's URL) it went to")
    skipped = models.JSONField(default=list, help_text="Recipients no longer allowed to see it, not sent to")
    filename = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["organization", "report", "key"], name="report_delivery_once")]
