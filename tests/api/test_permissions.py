"""Every GraphQL root field and mutation declares its permission, and the check is applied in one place."""

import graphene
import pytest

from portal.api.permissions import Permission, protect_schema
from portal.api.schema import PERMISSIONS, schema


def test_every_root_field_and_mutation_is_guarded_by_its_declared_permission():
    roots = (schema.graphql_schema.query_type, schema.graphql_schema.mutation_type)
    fields = {name: field for root in roots for name, field in root.fields.items()}
    assert len(fields) >= 12
    assert {name: field.resolve.permission for name, field in fields.items()} == PERMISSIONS
    assert PERMISSIONS["disputeStatementLine"] is Permission.DISPUTE
    assert PERMISSIONS["registerWebhook"] is Permission.WEBHOOKS


def test_a_root_field_without_a_declaration_is_refused_when_the_schema_is_built():
    class Query(graphene.ObjectType):
        declared = graphene.String()
        forgotten = graphene.String()

    with pytest.raises(RuntimeError, match="without a declared permission: forgotten"):
        protect_schema(graphene.Schema(query=Query).graphql_schema, {"declared": Permission.ANY_CALLER})


@pytest.mark.parametrize(
    "role,scopes,query,message",
    [
        ("analyst", ["usage:read"], "{ statements(first: 1) { edges { node { number } } } }", "statements:read scope"),
        ("member", ["statements:read"], "{ statements(first: 1) { edges { node { number } } } }", "your role may not"),
        ("analyst", ["statements:read"], "{ webhookEndpoints { id } }", "webhooks:manage scope"),
        ("analyst", ["webhooks:manage"], "{ webhookEndpoints { id } }", "only administrators"),
        ("admin", ["statements:read"], "{ offers { id } }", "offers scope"),
    ],
)
def test_refusals_say_what_is_missing(org, make, api, token_for, role, scopes, query, message):
    extra = {"person": make.person(org)} if role == "member" else {}
    status, body = api(token_for(org, role=role, scopes=scopes, **extra)).post(query)
    assert status == 200
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN" and message in error["message"], error
