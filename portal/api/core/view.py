"""The /graphql/ endpoint: authentication, request checks, limits, rate limit, statement timeout.

Written on graphql-core directly (not graphene-django's view) so that every refusal happens in a
known order, before any SQL, with a stable error code:
method and content type → body size → JSON shape → authentication (+ CSRF for sessions) → parse
(token limit) → introspection switch → depth/alias/pagination checks → graphql validation → argument
checks (core/arguments.py: nulls, NULs, page sizes, offsets, cursors) → cost estimate (core/costs.py) →
per-minute budgets of the token and of its organization → execution in a
read-only-by-default transaction within the request's time budget (core/budget.py), holding a slot of the
organization's and the token's concurrency limits (core/fairness.py).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, OperationalError, transaction
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, OperationType, execute, get_operation_ast, parse, validate

from portal.api.core import arguments, costs, fairness, limits
from portal.api.core.auth import AuthenticationFailed, authenticate_token, bearer_token, session_caller
from portal.api.core.budget import Deadline, budget_error
from portal.api.core.errors import ApiError, Codes
from portal.web.security import POLICY, client_ip

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 100_000
RATE_LIMIT_POINTS = getattr(settings, "GRAPHQL_RATE_LIMIT_POINTS", 10_000)
RATE_WINDOW_SECONDS = 60


class ValidDocuments:
    """The parsed documents of query texts that passed validation, most recently used first.

    API clients send the same few query texts again and again; parsing and validating one costs ~2 ms,
    a fifth of a typical summary request. Only valid documents are kept, the schema never changes in a
    running process, and execution does not change a document, so a cached one answers exactly as a
    fresh parse would. Bounded: at most ``size`` texts of at most MAX_QUERY_CHARS each.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self._documents: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str):
        with self._lock:
            document = self._documents.get(query)
            if document is not None:
                self._documents.move_to_end(query)
            return document

    def add(self, query: str, document) -> None:
        with self._lock:
            self._documents[query] = document
            self._documents.move_to_end(query)
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()


VALID_DOCUMENTS = ValidDocuments()


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """graphql-core's "Did you mean 'viewer'?" names fields, arguments, types and enum values of the
    schema: with introspection switched off they would give the schema away one guess at a time."""
    if settings.GRAPHQL_INTROSPECTION:
        return message
    return _SUGGESTION.sub("", message)


def _error(message: str, code: str, status: int, **extensions) -> JsonResponse:
    return JsonResponse({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}, status=status)


def _client_ip(request) -> str | None:
    return client_ip(request)  # through TRUSTED_PROXY_COUNT proxies, as for sign-in


def _wants_html(request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _graphiql(request):
    """GraphiQL, served from static/vendor (no CDN). It runs no query itself: its requests come back
    here as JSON and go through every check below. React and CodeMirror set inline styles, so this page
    alone allows them (and its fonts, which come as data: URLs); scripts stay limited to our origin."""
    response = render(request, "portal/api/graphiql.html")
    response.headers["Content-Security-Policy"] = POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    ).replace("font-src 'self'", "font-src 'self' data:")
    return response


class _Refused(Exception):
    def __init__(self, response: JsonResponse):
        self.response = response


@method_decorator(csrf_exempt, name="dispatch")  # CSRF is checked below for session (cookie) callers only
class GraphQLView(View):
    schema = None

    def dispatch(self, request, *args, **kwargs):
        if settings.GRAPHIQL and request.method == "GET" and not request.GET.get("query") and _wants_html(request):
            return _graphiql(request)
        try:
            return self._handle(request)
        except _Refused as refused:
            return refused.response

    # -- request checks ---------------------------------------------------------------------------
    def _read_request(self, request) -> dict:
        if request.method == "GET":
            data = {k: request.GET.get(k) for k in ("query", "operationName", "variables")}
            if data["variables"]:
                try:
                    data["variables"] = json.loads(data["variables"])
                except ValueError:
                    raise _Refused(_error("variables is not valid JSON", Codes.BAD_REQUEST, 400)) from None
            return data
        if request.method != "POST":
            raise _Refused(_error("use POST (or GET for queries)", Codes.METHOD_NOT_ALLOWED, 405))
        content_type = request.content_type or ""
        if content_type != "application/json":
            raise _Refused(
                _error(
                    f"Content-Type must be application/json, got '{content_type or 'none'}'",
                    Codes.UNSUPPORTED_CONTENT_TYPE,
                    415,
                )
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise _Refused(
                _error(f"request body is {length} bytes; the limit is {MAX_BODY_BYTES}", Codes.BODY_TOO_LARGE, 413)
            )
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise _Refused(_error("request body is not valid JSON", Codes.BAD_REQUEST, 400)) from None
        if isinstance(data, list):
            raise _Refused(
                _error("batched operations are not supported: send one per request", Codes.BATCH_NOT_SUPPORTED, 400)
            )
        if not isinstance(data, dict):
            raise _Refused(_error("request body must be a JSON object with 'query'", Codes.BAD_REQUEST, 400))
        return data

    def _caller(self, request):
        try:
            raw = bearer_token(request)
            if raw is not None:
                return authenticate_token(raw, ip_address=_client_ip(request))
        except AuthenticationFailed as exc:
            raise _Refused(_error(str(exc), Codes.UNAUTHENTICATED, 401)) from None
        caller = session_caller(request)
        if caller is None:
            raise _Refused(_error("sign in, or send 'Authorization: Bearer <token>'", Codes.UNAUTHENTICATED, 401))
        # Browser sessions ride on a cookie, so they need the CSRF token like any form post.
        if request.method == "POST":
            failure = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
            if failure is not None:
                raise _Refused(_error("CSRF token missing or incorrect", Codes.CSRF_FAILED, 403))
        return caller

    def _charge(self, caller, cost: int) -> tuple[dict, list[str]]:
        """Charge the estimated cost before execution, to the token (or session) and to its organization.

        Fixed one-minute windows; a refused request still counts against the budget that refused it (so
        hammering a full budget never pays), never against the other one. Returns the cost extension and
        the counters charged (``_refund`` gives them back when the request does not run after all)."""
        window = int(time.time() // RATE_WINDOW_SECONDS)
        reset_at = (window + 1) * RATE_WINDOW_SECONDS
        organization_limit = settings.GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE
        charged = []
        used_by = {}
        for budget, key, limit, whose in (
            ("token", f"graphql-rate:{caller.rate_key}:{window}", RATE_LIMIT_POINTS, "this token's"),
            (
                "organization",
                f"graphql-rate:org:{caller.scope.organization.id}:{window}",
                organization_limit,
                "your organization's",
            ),
        ):
            cache.add(key, 0, RATE_WINDOW_SECONDS + 5)
            used = cache.incr(key, cost)
            if used > limit:
                self._refund(charged, cost)
                retry_after = int(reset_at - time.time()) + 1
                response = _error(
                    f"{whose} budget of {limit} cost points per minute is used up (this query costs {cost}); "
                    f"retry after {retry_after} s",
                    Codes.RATE_LIMITED,
                    429,
                    limit=limit,
                    cost=cost,
                    budget=budget,
                    resetAt=reset_at,
                )
                response["Retry-After"] = str(retry_after)
                raise _Refused(response)
            charged.append(key)
            used_by[budget] = used
        return {
            "requestedQueryCost": cost,
            "limit": RATE_LIMIT_POINTS,
            "remaining": RATE_LIMIT_POINTS - used_by["token"],
            "organizationLimit": organization_limit,
            "organizationRemaining": organization_limit - used_by["organization"],
            "resetAt": reset_at,
        }, charged

    @staticmethod
    def _refund(charged: list[str], cost: int) -> None:
        for key in charged:
            cache.decr(key, cost)

    # -- the request ------------------------------------------------------------------------------
    def _handle(self, request):
        started = time.monotonic()
        data = self._read_request(request)
        query = data.get("query")
        if not isinstance(query, str) or not query.strip():
            return _error("'query' is required", Codes.BAD_REQUEST, 400)
        variables = data.get("variables") or {}
        if not isinstance(variables, dict):
            return _error("'variables' must be an object", Codes.BAD_REQUEST, 400)
        operation_name = data.get("operationName")
        if len(query) > limits.MAX_QUERY_CHARS:
            return _error(
                f"query is {len(query)} characters; the limit is {limits.MAX_QUERY_CHARS}", Codes.QUERY_TOO_LARGE, 400
            )
        caller = self._caller(request)
        schema = self.schema.graphql_schema
        document = VALID_DOCUMENTS.get(query)
        known = document is not None
        if not known:
            try:
                document = parse(query, max_tokens=limits.MAX_TOKENS)
            except GraphQLError as exc:
                code = Codes.QUERY_TOO_LARGE if "tokens. parsing aborted" in exc.message.lower() else Codes.PARSE_FAILED
                formatted = {**exc.formatted, "message": without_suggestions(exc.message), "extensions": {"code": code}}
                return JsonResponse({"errors": [formatted]}, status=400)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return _error("no operation, or operationName does not name one", Codes.BAD_REQUEST, 400)
        if operation.operation != OperationType.QUERY and request.method != "POST":
            return _error("mutations only over POST with a JSON body", Codes.METHOD_NOT_ALLOWED, 405)
        if not settings.GRAPHQL_INTROSPECTION and limits.is_introspection(document):
            return _error("introspection is disabled on this server", Codes.INTROSPECTION_DISABLED, 400)
        try:
            limits.check_shape(schema, document, operation_name, variables)
        except ApiError as exc:
            return JsonResponse({"errors": [exc.formatted]}, status=400)
        if not known:
            errors = validate(schema, document, max_errors=20)
            if errors:
                formatted = [
                    {
                        **e.formatted,
                        "message": without_suggestions(e.message),
                        "extensions": {"code": Codes.VALIDATION_FAILED},
                    }
                    for e in errors
                ]
                return JsonResponse({"errors": formatted}, status=400)
            VALID_DOCUMENTS.add(query, document)
        try:
            arguments.check_arguments(schema, document, operation, variables)
            analysis = limits.analyze(schema, document, operation_name, variables, costs.CostContext(caller.scope))
        except ApiError as exc:
            return JsonResponse(
                {"errors": [{**exc.formatted, "message": without_suggestions(exc.message)}]}, status=400
            )
        cost, charged = self._charge(caller, max(analysis.cost, 1))
        request.caller = caller
        budget_ms = settings.GRAPHQL_REQUEST_BUDGET_MS
        deadline = Deadline(
            started=started, budget_ms=budget_ms, statement_cap_ms=settings.GRAPHQL_STATEMENT_TIMEOUT_MS
        )
        slots = fairness.redis_slots()
        try:
            if slots is not None:
                slots.acquire(caller, analysis.cost)
            with transaction.atomic():
                left = deadline.check()
                if slots is None:  # slots are advisory locks of this transaction, taken with the timeout set
                    fairness.acquire_in_transaction(
                        caller,
                        statement_timeout_ms=max(1, min(left, settings.GRAPHQL_STATEMENT_TIMEOUT_MS)),
                        cost=analysis.cost,
                    )
                else:
                    deadline.set_statement_timeout()
                deadline.timeout_fresh = True
                result = execute(
                    schema,
                    document,
                    context_value=request,
                    variable_values=variables,
                    operation_name=operation_name,
                    middleware=[deadline],
                )
                if result.errors:
                    transaction.set_rollback(True)
        except fairness.ConcurrencyLimited as exc:
            # Refused before it ran: its points go back, or clients retrying at the concurrency limit
            # would spend their organization's minute on nothing.
            self._refund(charged, cost["requestedQueryCost"])
            response = JsonResponse({"errors": [exc.formatted]}, status=429)
            response["Retry-After"] = "1"
            return response
        except ApiError as exc:  # no time left before execution began
            return JsonResponse({"errors": [exc.formatted]}, status=503)
        except OperationalError as exc:
            logger.warning("GraphQL request hit the statement timeout: %s", exc)
            return JsonResponse({"errors": [budget_error(budget_ms).formatted]}, status=503)
        finally:
            if slots is not None:
                slots.release()
        if deadline.expired:
            logger.warning("GraphQL request ran out of its %s ms budget", budget_ms)
            return JsonResponse({"errors": [budget_error(budget_ms).formatted]}, status=503)
        body: dict = {}
        if result.errors:
            body["errors"] = [self._format(e) for e in result.errors]
        body["data"] = result.data
        body["extensions"] = {"cost": cost}
        return JsonResponse(body)

    @staticmethod
    def _format(error: GraphQLError) -> dict:
        formatted = error.formatted
        formatted["message"] = without_suggestions(formatted["message"])
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            if isinstance(original, DatabaseError):
                logger.exception("database error in GraphQL resolver", exc_info=original)
            else:
                logger.error("error in GraphQL resolver", exc_info=original)
            formatted["message"] = "internal error"
            formatted["extensions"] = {"code": Codes.INTERNAL}
        elif not formatted.get("extensions", {}).get("code"):
            formatted["extensions"] = {**formatted.get("extensions", {}), "code": Codes.BAD_ARGUMENT}
        return formatted
