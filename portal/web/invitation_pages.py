"""Invitations from the invited user's side (accept or decline), the organization chooser after sign-in,
and withdrawing an unanswered invitation (administrators, Settings → Members)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.account import AccountError
from portal.actors import actor_of_request
from portal.api.core.auth import session_caller
from portal.invitations import invitation_accept, invitation_decline, invitation_revoke, pending_invitations
from portal.models import Invitation, Membership
from portal.web.access import portal_view


def _memberships(user):
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")


@login_required
def choose_organization(request):
    """After sign-in, for a user of several organizations (or with invitations waiting): pick where to work."""
    # The header still shows where the user works now, when they come here from a page.
    request.caller = session_caller(request)
    return render(
        request,
        "portal/choose_organization.html",
        {"memberships": _memberships(request.user), "invitations": pending_invitations(request.user)},
    )


@login_required
@require_POST
def invitation_answer(request, invitation_id: int):
    invitation = get_object_or_404(pending_invitations(request.user), pk=invitation_id)
    decision = request.POST.get("decision")
    actor = actor_of_request(request)
    try:
        if decision == "accept":
            membership = invitation_accept(invitation=invitation, actor=actor)
        elif decision == "decline":
            invitation_decline(invitation=invitation, actor=actor)
        else:
            raise Http404("decision must be accept or decline")
    except AccountError as error:
        messages.error(request, str(error))
        return redirect("switch-organization")
    name = invitation.organization.name
    if decision == "accept":
        request.session["organization_id"] = membership.organization_id
        messages.success(request, _("You are now a member of %(name)s.") % {"name": name})
        return redirect("home")
    messages.info(request, _("You declined the invitation to %(name)s.") % {"name": name})
    return redirect("switch-organization")


@portal_view(admin=True)
@require_POST
def invitation_withdraw(request, invitation_id: int):
    invitation = get_object_or_404(
        Invitation.objects.filter(
            organization=request.caller.membership.organization, status=Invitation.Status.PENDING
        ),
        pk=invitation_id,
    )
    invitation_revoke(invitation=invitation, actor=actor_of_request(request))
    messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
    return redirect("settings-members")
