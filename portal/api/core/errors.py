"""API errors: every refusal has a stable ``code`` in ``extensions`` and a message that says what and where."""

from graphql import GraphQLError


class ApiError(GraphQLError):
    def __init__(self, message: str, code: str, **extensions):
        super().__init__(message, extensions={"code": code, **extensions})


class Codes:
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"  # authenticated but the token lacks a scope / the role lacks a right
    NOT_FOUND = "NOT_FOUND"
    BAD_ARGUMENT = "BAD_ARGUMENT"
    BAD_ID = "BAD_ID"
    PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    FIRST_REQUIRED = "PAGINATION_FIRST_REQUIRED"
    PAGE_TOO_LARGE = "PAGE_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    CONCURRENCY_LIMIT = "CONCURRENCY_LIMIT"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    BATCH_NOT_SUPPORTED = "BATCH_NOT_SUPPORTED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_CONTENT_TYPE = "UNSUPPORTED_CONTENT_TYPE"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    BAD_REQUEST = "BAD_REQUEST"
    CSRF_FAILED = "CSRF_FAILED"
    TIMEOUT = "STATEMENT_TIMEOUT"  # no longer answered: QUERY_TIMEOUT covers the statement timeout too
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    INTERNAL = "INTERNAL_ERROR"
    # Raised by the usage selectors (billing.usage.selectors.UsageQueryError) and passed through.
    PERIOD_TOO_LONG = "PERIOD_TOO_LONG"
    TOO_MANY_GROUPS = "TOO_MANY_GROUPS"
    BAD_CURSOR = "BAD_CURSOR"
