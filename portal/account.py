"""Writes behind the settings pages: members and roles, tokens, consent.

Each service runs in one transaction and leaves an audit row, so "who changed what, when" is answerable.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from billing.audit import Actor, AuditAction, audit_write
from billing.einvoice.tax import tax_id_errors
from billing.einvoice.terms import parse_address
from billing.models import Organization
from billing.offers.services import offers_profiling_stop
from portal.models import ApiToken, Invitation, Membership, Role, SavedView


class AccountError(Exception):
    """A refused change, with a message for the person who asked (e.g. removing the last administrator)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _audit(*, organization, user, action: AuditAction, target: str = "", details: dict | None = None, token=None):
    audit_write(
        organization=organization, action=action, actor=Actor(user=user, token=token), target=target, details=details
    )


def set_password_url(user, *, base_url: str) -> str:
    """A one-time link to choose a password: Django's reset token (it dies once the password changes)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url.rstrip("/") + reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def _check_role_fields(role: str, locations, person) -> None:
    if role == Role.LOCATION_MANAGER and not locations:
        raise AccountError("Choose at least one location for a location manager.", field="locations")
    if role == Role.MEMBER and person is None:
        raise AccountError("Choose the person this member is.", field="person")


def _lock_admins(organization: Organization) -> int:
    """Lock the organization's administrator memberships: two concurrent demotions cannot both pass."""
    return len(
        list(Membership.objects.select_for_update().filter(organization=organization, role=Role.ADMIN).values("id"))
    )


@dataclass
class Invited:
    """What an invitation did: a new user is a member at once (``membership``); an existing user got an
    invitation to accept or decline (``invitation``) and is not a member until then."""

    membership: Membership | None = None
    invitation: Invitation | None = None

    @property
    def new_user(self) -> bool:
        return self.membership is not None


@transaction.atomic
def member_invite(
    *, organization: Organization, email: str, role: str, locations=(), person=None, invited_by, base_url: str
) -> Invited:
    """Invite someone by email.

    A new user is added at once, with no usable password and an email with a set-password link (choosing
    the password is the acceptance). An existing user (of this portal, maybe of another organization) gets
    an invitation they accept or decline after signing in: until then they are not a member."""
    email = email.strip().lower()
    _check_role_fields(role, locations, person)
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("id").first()
    new_user = user is None
    if not new_user:
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise AccountError(f"{email} is already a member of {organization.name}.", field="email")
        if Invitation.objects.filter(user=user, organization=organization, status=Invitation.Status.PENDING).exists():
            raise AccountError(f"{email} has been invited already and has not answered yet.", field="email")
        invitation = Invitation.objects.create(
            organization=organization,
            user=user,
            email=email,
            role=role,
            person=person if role == Role.MEMBER else None,
            invited_by=invited_by,
        )
        if role == Role.LOCATION_MANAGER:
            invitation.locations.set(locations)
        result = Invited(invitation=invitation)
        role_label = invitation.get_role_display()
        link = base_url.rstrip("/") + reverse("switch-organization")
    else:
        user = User(username=email[:150], email=email)
        user.set_unusable_password()
        user.save()
        membership = Membership.objects.create(
            user=user,
            organization=organization,
            role=role,
            person=person if role == Role.MEMBER else None,
        )
        if role == Role.LOCATION_MANAGER:
            membership.locations.set(locations)
        result = Invited(membership=membership)
        role_label = membership.get_role_display()
        link = set_password_url(user, base_url=base_url)
    _audit(
        organization=organization,
        user=invited_by,
        action=AuditAction.MEMBER_INVITED,
        target=email,
        details={"role": role, "new_user": new_user, "pending": not new_user},
    )
    context = {
        "organization": organization,
        "invited_by": invited_by,
        "role": role_label,
        "link": link,
        "new_user": new_user,
        "username": user.username,
    }
    message = render_to_string("portal/settings/invite_email.txt", context)
    # Sent after commit: a rolled-back invitation must not leave a working link in someone's inbox.
    transaction.on_commit(
        lambda: send_mail(f"You are invited to {organization.name} on the business portal", message, None, [email])
    )
    return result


@transaction.atomic
def member_change_role(*, membership: Membership, role: str, locations=(), person=None, changed_by) -> Membership:
    _check_role_fields(role, locations, person)
    admins = _lock_admins(membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and role != Role.ADMIN and admins <= 1:
        raise AccountError("This is the last administrator: make someone else an administrator first.", field="role")
    before = {
        "role": membership.role,
        "locations": sorted(membership.locations.values_list("id", flat=True)),
        "person": membership.person_id,
    }
    membership.role = role
    membership.person = person if role == Role.MEMBER else None
    membership.save(update_fields=["role", "person"])
    membership.locations.set(locations if role == Role.LOCATION_MANAGER else [])
    after = {
        "role": role,
        "locations": sorted(loc.id for loc in locations) if role == Role.LOCATION_MANAGER else [],
        "person": membership.person_id,
    }
    _audit(
        organization=membership.organization,
        user=changed_by,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        target=membership.user.username,
        details={"before": before, "after": after},
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, removed_by) -> None:
    """Remove a membership (the user keeps other organizations); its API tokens are revoked and kept."""
    admins = _lock_admins(membership.organization)
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    if membership.role == Role.ADMIN and admins <= 1:
        raise AccountError("This is the last administrator and cannot be removed.")
    # Tokens are referenced by audit rows (append-only), so they are revoked and detached, never deleted.
    for token in membership.tokens.filter(revoked_at__isnull=True):
        token_revoke(token=token, revoked_by=removed_by)
    _audit(
        organization=membership.organization,
        user=removed_by,
        action=AuditAction.MEMBER_REMOVED,
        target=membership.user.username,
        details={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def token_revoke(*, token: ApiToken, revoked_by) -> ApiToken:
    token = ApiToken.objects.select_for_update().select_related("organization").get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(
            organization=token.organization,
            user=revoked_by,
            token=token,
            action=AuditAction.TOKEN_REVOKED,
            target=token.key_prefix,
            details={"name": token.name},
        )
    return token


@transaction.atomic
def consent_set(*, organization: Organization, consent: bool, changed_by) -> Organization:
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if organization.personalization_consent == consent:
        return organization
    organization.personalization_consent = consent
    organization.personalization_consent_changed_by = changed_by
    organization.personalization_consent_changed_at = timezone.now()
    organization.save(
        update_fields=[
            "personalization_consent",
            "personalization_consent_changed_by",
            "personalization_consent_changed_at",
        ]
    )
    if not consent:
        # The objection stops profiling in this very transaction (profiles and scores deleted; a
        # computation that starts later, or waits on the organization's row, sees no consent).
        offers_profiling_stop(organization=organization)
    _audit(
        organization=organization,
        user=changed_by,
        action=AuditAction.CONSENT_CHANGED,
        target="personalization",
        details={"personalization_consent": consent},
    )
    return organization


EINVOICE_FIELDS = ("einvoice_format", "buyer_reference", "vat_id", "einvoice_address")


class EInvoiceSettingsError(AccountError):
    """Every reason the e-invoice fields were refused, by field."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


@transaction.atomic
def einvoice_settings_set(*, organization: Organization, changed_by, **values) -> Organization:
    """Set the organization's e-invoice fields (format, buyer reference / Leitweg-ID, tax ID, electronic
    address), checked together as the statements need them (billing.einvoice.tax), with one audit row naming
    what changed from what. Nothing is saved when any check fails; no change, no row."""
    unknown = set(values) - set(EINVOICE_FIELDS)
    if unknown:
        raise TypeError(f"not e-invoice fields: {', '.join(sorted(unknown))}")
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {name: getattr(organization, name) for name in EINVOICE_FIELDS}
    for name, value in values.items():
        setattr(organization, name, value.strip())
    errors = tax_id_errors(organization)
    if organization.einvoice_format == "xrechnung":
        if not organization.buyer_reference:
            errors["buyer_reference"] = gettext(
                "XRechnung needs the buyer reference (BT-10): for a public buyer its Leitweg-ID"
            )
        address = parse_address(organization.billing_address, organization.country)
        if not (address.postcode and address.city):
            # KoSIT BR-DE-8/9: the statement would be refused at issue; say so now, where it can be fixed.
            errors["einvoice_format"] = gettext(
                "XRechnung needs your billing address with post code and city (BT-52, BT-53); ask us to complete it "
                "first"
            )
    errors = {name: text for name, text in errors.items() if name in EINVOICE_FIELDS}
    if errors:
        raise EInvoiceSettingsError(errors)
    changed = {name: [before[name], getattr(organization, name)] for name in EINVOICE_FIELDS}
    changed = {name: pair for name, pair in changed.items() if pair[0] != pair[1]}
    if not changed:
        return organization
    organization.save(update_fields=list(changed))
    _audit(
        organization=organization,
        user=changed_by,
        action=AuditAction.EINVOICE_SETTINGS_CHANGED,
        target="einvoice",
        details={"changed": changed},
    )
    return organization


@transaction.atomic
def saved_view_save(*, user, organization: Organization, name: str, query: str) -> SavedView:
    """Bookmark the explorer's state under ``name`` (saving a name again replaces its query)."""
    view, created = SavedView.objects.update_or_create(
        user=user, organization=organization, name=name, defaults={"query": query}
    )
    _audit(
        organization=organization,
        user=user,
        action=AuditAction.SAVED_VIEW_CREATED,
        target=name,
        details={"query": query[:1000], "replaced": not created},
    )
    return view


@transaction.atomic
def saved_view_remove(*, view: SavedView, user) -> None:
    _audit(organization=view.organization, user=user, action=AuditAction.SAVED_VIEW_DELETED, target=view.name)
    view.delete()
