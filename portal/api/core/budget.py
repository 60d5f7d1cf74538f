"""A total deadline for every API request: database work and Python together.

A per-statement timeout alone lets one request run 30 aliases × 5 s; the budget is per request. The clock
starts when the request arrives (parsing, checks and authentication count). Before each root field the
transaction's ``statement_timeout`` is set to what is left (at most GRAPHQL_STATEMENT_TIMEOUT_MS), so no
SQL statement can outlive the request; before every resolver the time left is checked, so Python work
between statements stops too. Whatever runs out first, the answer is one ``QUERY_TIMEOUT`` error naming
the budget, and the transaction is rolled back.
"""

from __future__ import annotations

import time

from django.db import OperationalError, connection

from portal.api.core.errors import ApiError, Codes

QUERY_CANCELED = "57014"  # SQLSTATE of "canceling statement due to statement timeout"


def is_cancelled(exc: BaseException) -> bool:
    """Django wraps the driver's error: the SQLSTATE is on the original."""
    return getattr(exc.__cause__, "pgcode", None) == QUERY_CANCELED or getattr(exc, "pgcode", None) == QUERY_CANCELED


def budget_error(budget_ms: int) -> ApiError:
    return ApiError(
        f"the request used its whole time budget of {budget_ms} ms (database and processing together) and "
        "was cancelled: ask for less at once (a shorter period, fewer groups, a smaller page or fewer aliases)",
        Codes.QUERY_TIMEOUT,
        limit=budget_ms,
    )


class Deadline:
    """graphql-core middleware: every resolver runs only while the request has time left."""

    def __init__(self, *, started: float, budget_ms: int, statement_cap_ms: int):
        self.deadline = started + budget_ms / 1000
        self.budget_ms = budget_ms
        self.statement_cap_ms = statement_cap_ms
        self.expired = False
        self.timeout_fresh = False  # set just before execution: the first root field need not set it again

    def left_ms(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)

    def check(self) -> int:
        """The milliseconds left, or the budget error when none are."""
        left = self.left_ms()
        if left <= 0:
            self.expired = True
            raise budget_error(self.budget_ms)
        return left

    def set_statement_timeout(self) -> None:
        left = self.check()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [max(1, min(left, self.statement_cap_ms))])

    def resolve(self, next_, root, info, **args):
        if self.expired or time.monotonic() >= self.deadline:
            self.expired = True
            raise budget_error(self.budget_ms)
        # Root fields run one after the other, each with its whole subtree: setting the timeout at each
        # root field bounds every statement of the request (one SET per root field, none per row).
        if info.path.prev is None:
            if self.timeout_fresh:
                self.timeout_fresh = False
            else:
                self.set_statement_timeout()
        try:
            return next_(root, info, **args)
        except OperationalError as exc:
            if not is_cancelled(exc):
                raise
            self.expired = True  # the transaction is aborted: nothing after this can run
            raise budget_error(self.budget_ms) from None
