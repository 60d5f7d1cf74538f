"""The public GraphQL schema. Its published contract is graphql/schema.graphql (checked by a test)."""

import graphene

from portal.api import (  # noqa: F401 (usage_costs registers cost hints)
    accounts,
    analysis,
    budgets,
    costcentres,
    findings,
    offers,
    statements,
    usage,
    usage_costs,
    webhooks,
)
from portal.api.core.nodes import ScopedNode
from portal.api.permissions import Permission, protect_schema


class Query(
    accounts.Query,
    usage.Query,
    analysis.Query,
    statements.Query,
    offers.Query,
    webhooks.Query,
    costcentres.Query,
    budgets.Query,
    findings.Query,
    graphene.ObjectType,
):
    class Meta:
        description = "Read access to the caller's organization: usage, statements and offers."

    node = ScopedNode.Field(description="Any object by its global id; null when it does not exist for you.")


class Mutation(
    statements.Mutation, offers.Mutation, webhooks.Mutation, budgets.Mutation, findings.Mutation, graphene.ObjectType
):
    class Meta:
        description = "Changes a customer may make: disputes, webhook endpoints and answers to offers."


schema = graphene.Schema(query=Query, mutation=Mutation, types=[usage.UsageRecordType])

# Every root field and mutation declares what it needs in its module; checked in one place (fail closed).
PERMISSIONS = {
    "node": Permission.ANY_CALLER,  # each type's get_queryset applies that type's own permission
    **accounts.PERMISSIONS,
    **usage.PERMISSIONS,
    **analysis.PERMISSIONS,
    **statements.PERMISSIONS,
    **offers.PERMISSIONS,
    **webhooks.PERMISSIONS,
    **costcentres.PERMISSIONS,
    **budgets.PERMISSIONS,
    **findings.PERMISSIONS,
}
protect_schema(schema.graphql_schema, PERMISSIONS)
