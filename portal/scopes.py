"""Turn a membership into the domain's Scope: the one place roles become data limits."""

from billing.usage.scope import Scope
from portal.models import Membership, Role

# Who sees statements, payments and offers of the whole organization.
BILLING_ROLES = frozenset({Role.ADMIN, Role.ANALYST})


def scope_for(membership: Membership) -> Scope:
    location_ids = person_ids = None
    if membership.role == Role.LOCATION_MANAGER:
        location_ids = frozenset(membership.locations.values_list("id", flat=True))
    elif membership.role == Role.MEMBER:
        person_ids = frozenset([membership.person_id] if membership.person_id else [])
    return Scope(
        organization=membership.organization,
        role=membership.role,
        location_ids=location_ids,
        person_ids=person_ids,
        # Full other-party numbers are personal data: only administrators may reveal them.
        reveal_numbers=membership.role == Role.ADMIN,
        sees_billing=membership.role in BILLING_ROLES,
    )


def may_see_billing(membership: Membership) -> bool:
    return membership.role in BILLING_ROLES


def billing_recipients(organization) -> list[str]:
    """Email addresses of the active users who may see the organization's statements (sorted, unique).

    Registered as the domain's ``billing.statements.notifications`` recipients lookup (portal.apps)."""
    return sorted(
        set(
            Membership.objects.filter(organization=organization, role__in=BILLING_ROLES, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
