"""The public GraphQL schema. Its published contract is graphql/schema.graphql (checked by a test)."""

import graphene

from portal.api import accounts, statements, usage
from portal.api.core.nodes import ScopedNode


class Query(accounts.Query, usage.Query, statements.Query, graphene.ObjectType):
    class Meta:
        description = "Read access to the caller's organization: usage, statements and offers."

    node = ScopedNode.Field(description="Any object by its global id; null when it does not exist for you.")


schema = graphene.Schema(query=Query, types=[usage.UsageRecordType])
