"""Fairness: at most GRAPHQL_CONCURRENCY_PER_ORGANIZATION API executions at once per organization, and
GRAPHQL_CONCURRENCY_PER_TOKEN per token (or per signed-in user), across every process and machine.

Where REDIS_URL is set the slots are members of a Redis sorted set per organization and per token
(scored by start time; members older than twice the request budget are dropped, so a process that died
holding a slot cannot keep it). Otherwise they are PostgreSQL transaction-level advisory locks: slot ``s``
of organization ``o`` is the lock (ORG_KEY + s, o), tried with ``pg_try_advisory_xact_lock`` in the
statement that also sets the first statement timeout, and released by the database when the request's
transaction ends, whatever happens to the process. A request that finds every slot taken is refused at
once with ``429 CONCURRENCY_LIMIT`` and ``Retry-After: 1``; it never waits (a waiting request would hold
a worker thread, which is what the limit is there to protect). With a transaction-pooling proxy such as
pgbouncer this still works: the locks live exactly as long as the transaction.

A request takes organization slots by its estimated cost (core/costs.py): one, plus one for every
HEAVY_POINTS it costs, at most all of them. Four slots of cheap summaries are four short requests; one
query that costs seconds holds them all, so an organization keeps at most one such query running and
the server's cores stay free for everyone else (benchmark figure 9).
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.db import connection

from portal.api.core.errors import ApiError, Codes

ORG_KEY = 0x46410000  # + slot; the second key is the organization's id
TOKEN_KEY = 0x46420000  # + slot; the token's id
USER_KEY = 0x46430000  # + slot; the user's id (browser sessions)
HEAVY_POINTS = 250  # a request costing this much more takes one more of its organization's slots


def slots_for(cost: int, limit: int) -> int:
    return max(1, min(limit, 1 + int(cost) // HEAVY_POINTS))


_ACQUIRE = """
SELECT set_config('statement_timeout', %(timeout)s, true),
       caller_slot,
       CASE WHEN caller_slot IS NULL THEN NULL ELSE
           (SELECT count(*) FROM (SELECT s FROM generate_series(0, %(org_slots)s - 1) AS s
             WHERE pg_try_advisory_xact_lock(%(org_key)s + s, %(org)s) LIMIT %(weight)s) AS taken_slots) END
FROM (SELECT (SELECT s FROM generate_series(0, %(caller_slots)s - 1) AS s
               WHERE pg_try_advisory_xact_lock(%(caller_key)s + s, %(caller)s) LIMIT 1) AS caller_slot) AS taken
"""
# The token's slot first: a request refused for its token never takes (even briefly) one of the
# organization's slots, so the token's limit cannot make another token of the organization look full.
# Organization slots taken short of the weight are released with the refused request's rollback.


class ConcurrencyLimited(ApiError):
    def __init__(self, what: str, limit: int):
        super().__init__(
            f"{what} already has {limit} API requests running, the most it may at once: retry in a moment",
            Codes.CONCURRENCY_LIMIT,
            limit=limit,
        )


def _caller_key(caller) -> tuple[int, int, str]:
    if caller.token is not None:
        return TOKEN_KEY, caller.token.id, "this token"
    return USER_KEY, caller.membership.user_id, "your session"


def acquire_in_transaction(caller, *, statement_timeout_ms: int, cost: int = 1) -> None:
    """Take ``slots_for(cost)`` slots of the organization and one of the token for the current transaction
    (PostgreSQL), and set its statement timeout in the same round trip. Raises ConcurrencyLimited."""
    org_slots = settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION
    caller_slots = settings.GRAPHQL_CONCURRENCY_PER_TOKEN
    key, caller_id, what = _caller_key(caller)
    with connection.cursor() as cursor:
        cursor.execute(
            _ACQUIRE,
            {
                "timeout": str(statement_timeout_ms),
                "org_slots": org_slots,
                "org_key": ORG_KEY,
                "org": caller.scope.organization.id,
                "caller_slots": caller_slots,
                "caller_key": key,
                "caller": caller_id,
                "weight": slots_for(cost, org_slots),
            },
        )
        _timeout, caller_slot, org_taken = cursor.fetchone()
    if caller_slot is None:
        raise ConcurrencyLimited(what, caller_slots)
    if org_taken < slots_for(cost, org_slots):
        raise ConcurrencyLimited("your organization", org_slots)  # the slots taken go with the rollback


class RedisSlots:
    """The same limits in Redis, for deployments with several database-independent web machines."""

    def __init__(self, client, *, stale_after_seconds: float):
        self.client = client
        self.stale_after = stale_after_seconds
        self.held: list[tuple[str, str]] = []

    def _take(self, key: str, limit: int, weight: int = 1) -> bool:
        members, now = [uuid.uuid4().hex for _ in range(weight)], time.time()
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now - self.stale_after)
        pipe.zadd(key, dict.fromkeys(members, now))
        pipe.zcard(key)
        pipe.expire(key, int(self.stale_after) + 1)
        _removed, _added, count, _ttl = pipe.execute()
        if count > limit:
            self.client.zrem(key, *members)
            return False
        self.held.extend((key, member) for member in members)
        return True

    def acquire(self, caller, cost: int = 1) -> None:
        _key, caller_id, what = _caller_key(caller)
        org_limit = settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION
        caller_limit = settings.GRAPHQL_CONCURRENCY_PER_TOKEN
        if not self._take(f"graphql-running:{caller.rate_key}", caller_limit):
            raise ConcurrencyLimited(what, caller_limit)
        if not self._take(f"graphql-running:org:{caller.scope.organization.id}", org_limit, slots_for(cost, org_limit)):
            self.release()
            raise ConcurrencyLimited("your organization", org_limit)

    def release(self) -> None:
        for key, member in self.held:
            self.client.zrem(key, member)
        self.held = []


_REDIS = None


def redis_slots() -> RedisSlots | None:
    global _REDIS
    if not settings.REDIS_URL:
        return None
    if _REDIS is None:
        import redis

        _REDIS = redis.Redis.from_url(settings.REDIS_URL)
    return RedisSlots(_REDIS, stale_after_seconds=2 * settings.GRAPHQL_REQUEST_BUDGET_MS / 1000)
