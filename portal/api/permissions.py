"""What each GraphQL root field and mutation needs, declared next to it and checked here, in one place.

Every module of ``portal/api`` declares ``PERMISSIONS``: GraphQL field name -> ``Permission`` for the fields of
its ``Query`` and ``Mutation`` (Saleor's style). ``protect_schema`` wraps each root field's resolver with
``require`` and refuses to build a schema with an undeclared root field (fail closed). Resolvers that reach
the same data another way (a statement's offers, a node by id) call ``require`` with the same permission.

A permission is a token scope (what an integration was allowed) plus what the caller's role may see, which is
read from the domain's Scope (built once per request by ``portal.scopes.scope_for``), never re-derived here.
"""

from __future__ import annotations

import enum
from functools import wraps

from graphql import GraphQLSchema, default_field_resolver

from portal.api.core.errors import ApiError, Codes
from portal.api.core.nodes import caller
from portal.models import ApiToken, Role


class Permission(enum.Enum):
    # value: (token scope or None, what the role must see or None, what to say when the role may not)
    ANY_CALLER = (None, None, "")
    USAGE = (ApiToken.Scope.USAGE_READ, None, "")
    STATEMENTS = (ApiToken.Scope.STATEMENTS_READ, "billing", "statements")
    DISPUTE = (ApiToken.Scope.STATEMENTS_DISPUTE, "billing", "statements")
    OFFERS = (ApiToken.Scope.OFFERS, "billing", "offers")
    WEBHOOKS = (ApiToken.Scope.WEBHOOKS, "admin", "webhooks")
    BUDGETS_MANAGE = (ApiToken.Scope.BUDGETS, "admin", "budgets")
    FINDINGS_MANAGE = (ApiToken.Scope.FINDINGS, None, "")


def require(info, permission: Permission):
    """The caller, if it has ``permission``; otherwise a FORBIDDEN error saying what is missing."""
    c = caller(info)
    token_scope, sees, what = permission.value
    if token_scope is not None and not c.may(token_scope):
        raise ApiError(f"this token lacks the {token_scope} scope", Codes.FORBIDDEN, scope=str(token_scope))
    if sees == "billing" and not c.scope.sees_billing:
        raise ApiError(f"your role may not see {what} (administrators and analysts may)", Codes.FORBIDDEN)
    if sees == "admin" and c.membership.role != Role.ADMIN:
        raise ApiError(f"only administrators manage {what}", Codes.FORBIDDEN)
    return c


def _guarded(resolve, permission: Permission):
    resolve = resolve or default_field_resolver

    @wraps(resolve)
    def guarded(root, info, **kwargs):
        require(info, permission)
        return resolve(root, info, **kwargs)

    guarded.permission = permission
    return guarded


def protect_schema(schema: GraphQLSchema, declarations: dict[str, Permission]) -> GraphQLSchema:
    """Wrap every root field and mutation with its declared permission; an undeclared one is an error."""
    roots = [t for t in (schema.query_type, schema.mutation_type) if t is not None]
    names = {name for root in roots for name in root.fields}
    undeclared = sorted(names - set(declarations))
    if undeclared:
        raise RuntimeError(f"GraphQL root fields without a declared permission: {', '.join(undeclared)}")
    unknown = sorted(set(declarations) - names)
    if unknown:
        raise RuntimeError(f"permissions declared for fields that do not exist: {', '.join(unknown)}")
    for root in roots:
        for name, field in root.fields.items():
            if getattr(field.resolve, "permission", None) is None:
                field.resolve = _guarded(field.resolve, declarations[name])
    return schema
