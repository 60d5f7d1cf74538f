"""Who may see what: memberships of users in organizations, API tokens, and the audit log."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import Location, Organization, Person


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"  # everything, incl. members, tokens, consent
    ANALYST = "analyst", "Analyst"  # all usage and statements of the organization, read only
    LOCATION_MANAGER = "location_manager", "Location manager"  # usage of some locations only
    MEMBER = "member", "Member"  # usage of their own lines only


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
        USAGE_READ = "usage:read", "Read usage"
        STATEMENTS_READ = "statements:read", "Read statements"
        STATEMENTS_DISPUTE = "statements:dispute", "Dispute statement lines"
        WEBHOOKS = "webhooks:manage", "Register webhook endpoints and see deliveries"
        OFFERS = "offers", "See and answer offers"

    PREFIX = "bp_"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
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


class AuditLog(models.Model):
    """Append-only record of sign-ins, token use, exports, PDF downloads, role and consent changes.

    A database trigger rejects updates and deletes."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "-at"], name="audit_org_at")]
