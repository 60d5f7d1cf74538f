"""The caller, their organization and its locations, persons and lines."""

import graphene
from graphene_django import DjangoConnectionField, DjangoObjectType

from billing.models import Line, Location, Organization, Person
from billing.usage.scope import scoped_lines, scoped_locations, scoped_persons
from portal.api.core.nodes import ScopedNode, caller
from portal.api.permissions import Permission, require
from portal.models import ApiToken, Role

RoleEnum = graphene.Enum.from_enum(Role, description=lambda v: v.label if v else "A member's role")
TokenScopeEnum = graphene.Enum(
    "TokenScope", [(s.name, s.value) for s in ApiToken.Scope], description="What an API token may do"
)


class DescribedConnection(graphene.relay.Connection):
    """Connections with a description (every type in the published schema is described)."""

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(cls, node=None, **options):
        options.setdefault("description", f"A page of {node._meta.name} objects; pass first (at most 100) and after.")
        super().__init_subclass_with_meta__(node=node, **options)


def require_usage(info):
    return require(info, Permission.USAGE)


class LocationType(DjangoObjectType):
    class Meta:
        model = Location
        name = "Location"
        connection_class = DescribedConnection
        description = "A site or branch of the organization."
        interfaces = (ScopedNode,)
        fields = ("id",)

    name = graphene.String(required=True, description="Name of the site, e.g. 'Berlin office'.")
    code = graphene.String(required=True, description="The organization's own code for the site (may be empty).")
    city = graphene.String(required=True, description="City (may be empty).")
    country = graphene.String(required=True, description="ISO 3166 country code (may be empty).")

    @classmethod
    def get_queryset(cls, queryset, info):
        require_usage(info)
        return scoped_locations(caller(info).scope)


class PersonType(DjangoObjectType):
    class Meta:
        model = Person
        name = "Person"
        connection_class = DescribedConnection
        description = "An employee or other holder of lines."
        interfaces = (ScopedNode,)
        fields = ("id",)

    name = graphene.String(required=True, description="Full name.")
    department = graphene.String(required=True, description="Department (may be empty).")
    employee_number = graphene.String(required=True, description="The organization's employee number (may be empty).")

    @classmethod
    def get_queryset(cls, queryset, info):
        require_usage(info)
        return scoped_persons(caller(info).scope)


class LineType(DjangoObjectType):
    class Meta:
        model = Line
        name = "Line"
        connection_class = DescribedConnection
        description = "A phone number of the organization."
        interfaces = (ScopedNode,)
        fields = ("id",)

    number = graphene.String(required=True, description="The phone number in E.164 form, e.g. +493012345678.")
    label = graphene.String(required=True, description="A label given by the organization (may be empty).")
    activated_on = graphene.Date(required=True, description="First day the line was active.")
    deactivated_on = graphene.Date(description="Day the line was switched off, if it was.")

    @classmethod
    def get_queryset(cls, queryset, info):
        require_usage(info)
        return scoped_lines(caller(info).scope)


class OrganizationType(DjangoObjectType):
    class Meta:
        model = Organization
        name = "Organization"
        description = "The business customer the caller acts for."
        fields = ()

    account_number = graphene.String(required=True, description="The customer account number.")
    name = graphene.String(required=True, description="Legal name.")
    country = graphene.String(required=True, description="ISO 3166 country; national numbers are read in it.")
    time_zone = graphene.String(required=True, description="IANA time zone; days and months are local to it.")
    currency = graphene.String(required=True, description="ISO 4217 currency of statements and costs.")
    locale = graphene.String(required=True, description="Locale for formatting, e.g. de-DE.")
    billing_day = graphene.Int(required=True, description="Day of the month billing periods start (1–28).")

    locations = DjangoConnectionField(LocationType, description="Locations in the caller's scope, by name.")
    persons = DjangoConnectionField(PersonType, description="Persons in the caller's scope, by name.")
    lines = DjangoConnectionField(LineType, description="Lines in the caller's scope, by number.")

    def resolve_locations(root, info, **kwargs):
        return LocationType.get_queryset(None, info)

    def resolve_persons(root, info, **kwargs):
        return PersonType.get_queryset(None, info)

    def resolve_lines(root, info, **kwargs):
        return LineType.get_queryset(None, info)


class UserType(graphene.ObjectType):
    class Meta:
        name = "User"
        description = "A person who signs in to the portal."

    username = graphene.String(required=True, description="Sign-in name.")
    name = graphene.String(required=True, description="Full name, or the username when none is set.")
    email = graphene.String(description="Email address.")

    def resolve_name(user, info):
        return user.get_full_name() or user.username


class Viewer(graphene.ObjectType):
    class Meta:
        description = "Who is calling: the user, the organization they act for and their role there."

    user = graphene.Field(UserType, required=True, description="The signed-in user or the token's owner.")
    organization = graphene.Field(OrganizationType, required=True, description="The organization acted for.")
    role = graphene.Field(RoleEnum, required=True, description="The user's role in that organization.")
    token_scopes = graphene.List(
        graphene.NonNull(TokenScopeEnum), description="Scopes of the API token used, or null for a browser session."
    )


# What each root field and mutation of this module needs (checked by portal.api.permissions).
PERMISSIONS = {"viewer": Permission.ANY_CALLER}


class Query(graphene.ObjectType):
    viewer = graphene.Field(Viewer, required=True, description="The caller.")

    def resolve_viewer(root, info):
        c = caller(info)
        return Viewer(
            user=c.user,
            organization=c.membership.organization,
            role=c.membership.role,
            token_scopes=sorted(c.token_scopes) if c.token else None,
        )
