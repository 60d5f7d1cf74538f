"""Template context shared by every portal page: the acting membership and the organization switcher."""

from django.utils.functional import SimpleLazyObject

from portal.models import Membership, Role


def portal(request):
    caller = getattr(request, "caller", None)
    if caller is None or not request.user.is_authenticated:
        return {}
    membership = caller.membership
    return {
        "caller": caller,
        "organization": membership.organization,
        "role": membership.role,
        "is_org_admin": membership.role == Role.ADMIN,
        "sees_billing": caller.sees_billing,
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
