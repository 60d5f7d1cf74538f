"""Answering an invitation (portal.account.member_invite made it): accept, decline, or the inviting
administrators withdraw it. Each is one transaction with its audit row in the inviting organization.

Only the invited user answers, signed in as themselves; an invitation already answered is refused."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from portal.account import AccountError
from portal.models import Invitation, Membership


def pending_invitations(user):
    """Selector: the user's invitations still waiting for an answer, newest first."""
    return Invitation.objects.filter(user=user, status=Invitation.Status.PENDING).select_related(
        "organization", "invited_by"
    )


def _lock_pending(invitation: Invitation) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update(of=("self",)).select_related("organization", "user").get(pk=invitation.pk)
    )
    if invitation.status != Invitation.Status.PENDING:
        raise AccountError(f"This invitation was {invitation.get_status_display().lower()} already.")
    return invitation


def _answer(invitation: Invitation, status: str) -> None:
    invitation.status = status
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, actor: Actor) -> Membership:
    invitation = _lock_pending(invitation)
    if actor.user is None or actor.user.pk != invitation.user_id:
        raise AccountError("This invitation is for someone else.")
    if invitation.role == "member" and invitation.person_id is None:  # the person was deleted meanwhile
        raise AccountError("The person this invitation was for no longer exists: ask for a new invitation.")
    membership, created = Membership.objects.get_or_create(
        user=invitation.user,
        organization=invitation.organization,
        defaults={"role": invitation.role, "person": invitation.person},
    )
    if created and invitation.role == "location_manager":
        membership.locations.set(invitation.locations.all())
    _answer(invitation, Invitation.Status.ACCEPTED)
    audit_write(
        organization=invitation.organization,
        actor=actor,
        action=AuditAction.INVITATION_ACCEPTED,
        target=invitation.email,
        details={"role": membership.role, "already_member": not created},
    )
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, actor: Actor) -> Invitation:
    invitation = _lock_pending(invitation)
    if actor.user is None or actor.user.pk != invitation.user_id:
        raise AccountError("This invitation is for someone else.")
    _answer(invitation, Invitation.Status.DECLINED)
    audit_write(
        organization=invitation.organization,
        actor=actor,
        action=AuditAction.INVITATION_DECLINED,
        target=invitation.email,
        details={"role": invitation.role},
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor) -> Invitation:
    """An administrator of the inviting organization withdraws an unanswered invitation."""
    invitation = _lock_pending(invitation)
    _answer(invitation, Invitation.Status.REVOKED)
    audit_write(
        organization=invitation.organization,
        actor=actor,
        action=AuditAction.INVITATION_REVOKED,
        target=invitation.email,
        details={"role": invitation.role},
    )
    return invitation
