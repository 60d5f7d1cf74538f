"""Who is calling the API: a bearer token (integrations) or a signed-in browser session (the portal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from billing.usage.scope import Scope
from portal.models import ApiToken, Membership, hash_token
from portal.scopes import may_see_billing, scope_for

ALL_SCOPES = frozenset(ApiToken.Scope.values)
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthenticationFailed(Exception):
    pass


@dataclass
class Caller:
    membership: Membership
    scope: Scope
    token: ApiToken | None
    token_scopes: frozenset[str]

    @property
    def user(self):
        return self.membership.user

    @property
    def rate_key(self) -> str:
        return f"token:{self.token.id}" if self.token else f"user:{self.membership.user_id}"

    def may(self, token_scope: str) -> bool:
        return token_scope in self.token_scopes

    @property
    def sees_billing(self) -> bool:
        return may_see_billing(self.membership)


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed("Authorization header must be 'Bearer <token>'")
    return value.strip()


def authenticate_token(raw: str, *, ip_address: str | None = None) -> Caller:
    if not raw.startswith(ApiToken.PREFIX):
        raise AuthenticationFailed("unknown, expired or revoked token")
    token = (
        ApiToken.objects.select_related("membership__organization", "membership__user", "membership__person")
        .filter(key_hash=hash_token(raw))
        .first()
    )
    # The lookup is by hash (an index); the constant-time compare guards the final check anyway.
    if (
        token is None
        or not token.matches(raw)
        or not token.is_active
        or token.membership is None
        or not token.membership.user.is_active
    ):
        raise AuthenticationFailed("unknown, expired or revoked token")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # Recorded at most once a minute per token: last use, and a "token.used" audit entry.
        with transaction.atomic():
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            audit_write(
                organization=token.membership.organization,
                action=AuditAction.TOKEN_USED,
                actor=Actor(user=token.membership.user, token=token, ip_address=ip_address),
                target=token.key_prefix,
            )
    return Caller(
        membership=token.membership,
        scope=scope_for(token.membership),
        token=token,
        token_scopes=frozenset(token.scopes),
    )


def session_caller(request, organization_id: int | None = None) -> Caller | None:
    """The signed-in user's membership: the organization chosen in the header switcher, else the first."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("organization", "user", "person").filter(user=user)
    chosen = organization_id or request.session.get("organization_id")
    membership = (memberships.filter(organization_id=chosen).first() if chosen else None) or memberships.order_by(
        "organization__name"
    ).first()
    if membership is None:
        return None
    return Caller(membership=membership, scope=scope_for(membership), token=None, token_scopes=ALL_SCOPES)


@transaction.atomic
def token_create(*, membership: Membership, name: str, scopes: list[str], expires_at=None, created_by=None):
    """Create a token; returns (token, raw). The raw value is shown once and never stored."""
    unknown = set(scopes) - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown token scopes: {', '.join(sorted(unknown))}")
    raw = ApiToken.new_raw_token()
    token = ApiToken.objects.create(
        organization=membership.organization,
        membership=membership,
        name=name,
        key_prefix=raw[:10],
        key_hash=hash_token(raw),
        scopes=sorted(scopes),
        expires_at=expires_at,
    )
    audit_write(
        organization=membership.organization,
        action=AuditAction.TOKEN_CREATED,
        actor=Actor(user=created_by or membership.user, token=token),
        target=token.key_prefix,
        details={"name": name, "scopes": sorted(scopes)},
    )
    return token, raw
