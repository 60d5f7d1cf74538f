"""What part of an organization's data a caller may see. Built by the portal from a membership or token.

This is the one access rule of the domain: selectors and services read these fields and never a role's name
(roles are the portal's; ``portal.scopes.scope_for`` turns one into a Scope)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.models import Line, Location, Organization, Person


@dataclass(frozen=True)
class Scope:
    organization: Organization
    # The edge's name for the caller's role: a label (the API's viewer shows it), never compared in the domain.
    role: str = ""
    # None means "all of the organization"; a set limits usage to records stamped with these ids.
    location_ids: frozenset[int] | None = None
    person_ids: frozenset[int] | None = None
    # Whether full other-party numbers may be shown (otherwise masked: +49 30 •••••• 78).
    reveal_numbers: bool = False
    # Statements, payments, disputes and the organization's charges.
    sees_billing: bool = False

    @property
    def whole_organization(self) -> bool:
        return self.location_ids is None and self.person_ids is None

    @property
    def sees_offers(self) -> bool:
        """Offers are priced on the whole organization's usage: only for callers who see all of it and its bills."""
        return self.sees_billing and self.whole_organization

    @property
    def organization_id(self) -> int:
        return self.organization.id

    def sql(self, alias: str = "") -> tuple[str, list]:
        """WHERE clause (and params) restricting a usage or rollup table to this scope."""
        prefix = f"{alias}." if alias else ""
        clauses, params = [f"{prefix}organization_id = %s"], [self.organization.id]
        if self.location_ids is not None:
            clauses.append(f"{prefix}location_id = ANY(%s)")
            params.append(sorted(self.location_ids))
        if self.person_ids is not None:
            clauses.append(f"{prefix}person_id = ANY(%s)")
            params.append(sorted(self.person_ids))
        return " AND ".join(clauses), params


def scoped_locations(scope: Scope):
    queryset = Location.objects.filter(organization=scope.organization)
    if scope.location_ids is not None:
        queryset = queryset.filter(id__in=scope.location_ids)
    if scope.person_ids is not None:
        queryset = queryset.filter(assignments__person_id__in=scope.person_ids).distinct()
    return queryset


def scoped_persons(scope: Scope):
    queryset = Person.objects.filter(organization=scope.organization)
    if scope.person_ids is not None:
        queryset = queryset.filter(id__in=scope.person_ids)
    if scope.location_ids is not None:
        queryset = queryset.filter(assignments__location_id__in=scope.location_ids).distinct()
    return queryset


def scoped_lines(scope: Scope):
    """Lines that are, or ever were, assigned inside the scope."""
    queryset = Line.objects.filter(organization=scope.organization)
    if scope.location_ids is not None:
        queryset = queryset.filter(assignments__location_id__in=scope.location_ids)
    if scope.person_ids is not None:
        queryset = queryset.filter(assignments__person_id__in=scope.person_ids)
    if scope.location_ids is not None or scope.person_ids is not None:
        queryset = queryset.distinct()
    return queryset
