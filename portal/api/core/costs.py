"""Cost hints: what a field costs the servers, declared next to the field, estimated before it runs.

A point is about a millisecond of server time (database and Python) on the reference machine; the
benchmark's grid (``manage.py benchmark --only 8``) measures how well the estimate ranks real queries
and the largest milliseconds per point, from which the per-organization budget is set.

The query's cost is the sum over the fields it selects:

- every object field resolved costs ``OBJECT_POINTS`` (graphql-core builds and completes it) and
  every scalar field ``SCALAR_POINTS``, times the size of the list or page they sit in: a
  connection's ``first``/``last``, a plain list's hinted size or ``LIST_ASSUMED_SIZE``;
- a root field without a hint costs ``ROOT_FIELD_POINTS`` (an indexed lookup or two);
- a field with a hint costs what its hint says: the hint gets the caller's context and the field's
  coerced arguments, and returns its own points (the rows its SQL will read) and, optionally, the
  sizes of the lists inside its answer.

Declaring a hint for a new field (in the field's module, so it is registered with the schema)::

    from portal.api.core.costs import FieldCost, cost_hint, POINTS_PER_ROW_READ

    @cost_hint("Query", "usageForecast")
    def _forecast_cost(context, args) -> FieldCost:
        stats = context.usage_statistics()  # cached per organization: no SQL while fresh
        rows = stats.rows_between("daily", args["period"]["from_"], args["period"]["to"])
        return FieldCost(points=rows * POINTS_PER_ROW_READ, sizes={"points": args.get("days", 30)})

Argument names are the Python names graphene gives them (snake_case, ``from_``); enum arguments may
be enum members or their values. A hint must not run SQL of its own other than through the cached
statistics, and must not fail on arguments the field's resolver would refuse: return a rough cost and
let the resolver give the error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

OBJECT_POINTS = 0.05  # one object built and completed by graphql-core
SCALAR_POINTS = 0.008  # one scalar field of it completed and serialized
ROOT_FIELD_POINTS = 2.0  # a root field that declares no hint: a query or two on indexes
POINTS_PER_ROW_READ = 0.002  # one rollup row scanned and aggregated by PostgreSQL
POINTS_PER_RECORD_READ = 0.003  # one usage record read through an index (heap fetch, wider row)
POINTS_PER_GROUP = 0.08  # one group of a summary built in Python (totals, label, sort)
POINTS_PER_RECORD_RETURNED = 0.25  # one usage record built by the ORM with its line, person and location
BASE_POINTS = 8.0  # what a request costs before any field: authentication, audit, parsing, transaction


@dataclass
class FieldCost:
    points: float = 0.0  # the field's own work (SQL it runs, Python it does), beyond its objects
    sizes: dict[str, int] = field(default_factory=dict)  # list fields inside its answer, by dotted path


@dataclass
class CostContext:
    """What a hint may know about the request: the caller's scope (organization, locations, persons)."""

    scope: object

    @property
    def organization_id(self) -> int:
        return self.scope.organization.id

    def usage_statistics(self):
        from billing.usage.estimate import usage_statistics

        return usage_statistics(self.organization_id)


Hint = Callable[[CostContext, dict], FieldCost]
HINTS: dict[tuple[str, str], Hint] = {}


def cost_hint(type_name: str, field_name: str) -> Callable[[Hint], Hint]:
    """Register ``fn(context, args) -> FieldCost`` as the cost of ``type_name.field_name``."""

    def register(fn: Hint) -> Hint:
        HINTS[(type_name, field_name)] = fn
        return fn

    return register


def nested_sizes(sizes: dict[str, int]) -> dict[str, tuple[int, dict]]:
    """{"rows": 5, "rows.keys": 2} -> {"rows": (5, {"keys": (2, {})})}: what the walker descends with."""
    tree: dict[str, tuple[int, dict]] = {}
    for path in sorted(sizes, key=lambda p: p.count(".")):
        *parents, name = path.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, (1, {}))[1]
        node[name] = (sizes[path], node.get(name, (0, {}))[1])
    return tree
