"""Template context shared by every portal page: the acting membership and the organization switcher."""

from functools import cache

from django.utils.functional import SimpleLazyObject

from portal.models import Invitation, Membership, Role


def portal(request):
    caller = getattr(request, "caller", None)
    if not request.user.is_authenticated:
        return {}
    # A callable: the template calls it (one COUNT) only where it shows the header.
    invitations = {
        "pending_invitations": cache(
            lambda: Invitation.objects.filter(user=request.user, status=Invitation.Status.PENDING).count()
        )
    }
    if caller is None:
        return invitations
    membership = caller.membership
    return {
        **invitations,
        "caller": caller,
        "organization": membership.organization,
        "role": membership.role,
        "is_org_admin": membership.role == Role.ADMIN,
        "sees_billing": caller.sees_billing,
        "sees_findings": membership.role != Role.MEMBER,  # findings are about what the organization pays
        # Budgets in the main navigation for those who see them read only (administrators: Settings).
        "sees_budgets": membership.role in (Role.ANALYST, Role.LOCATION_MANAGER),
        "switchable_memberships": SimpleLazyObject(
            lambda: list(
                Membership.objects.filter(user=request.user)
                .select_related("organization")
                .order_by("organization__name")
            )
        ),
    }
