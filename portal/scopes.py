"""Turn a membership into the domain's Scope: the one place roles become data limits."""

from billing.usage.scope import Scope
from portal.models import Membership, Role


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
    )


def may_see_billing(membership: Membership) -> bool:
    return membership.role in (Role.ADMIN, Role.ANALYST)
