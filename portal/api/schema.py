"""The public GraphQL schema. Its published contract is graphql/schema.graphql (checked by a test)."""

import graphene

from portal.api import accounts, offers, statements, usage, webhooks
from portal.api.core.nodes import ScopedNode


class Query(accounts.Query, usage.Query, statements.Query, offers.Query, webhooks.Query, graphene.ObjectType):
    class Meta:
        description = "Read access to the caller's organization: usage, statements and offers."

    node = ScopedNode.Field(description="Any object by its global id; null when it does not exist for you.")


class Mutation(statements.Mutation, offers.Mutation, webhooks.Mutation, graphene.ObjectType):
    class Meta:
        description = "Changes a customer may make: disputes, webhook endpoints and answers to offers."


schema = graphene.Schema(query=Query, mutation=Mutation, types=[usage.UsageRecordType])
