"""Refuse the "query from hell" before it runs: size, depth, aliases, pagination and cost.

The analysis walks the parsed document (fragments expanded, cycles cut) with the schema's types. The
shape checks run before graphql-core's own validation, whose overlapping-fields rule is quadratic in
the number of fields, so a query with thousands of aliases is refused in microseconds and no SQL runs.

Two passes over the same walker. Before graphql validation, ``check_shape`` refuses by shape alone
(depth, aliases, page sizes). After validation and the argument checks, ``analyze`` estimates the cost
in points (about a millisecond of server time each): objects times the pages and lists they sit in,
plus what each field's cost hint (core/costs.py) says its SQL will read, for this organization and
these arguments. A connection multiplies what it selects by its page size (``first``/``last``,
required, at most 100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
)
from graphql.error import GraphQLError
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import ast

from portal.api.core import costs
from portal.api.core.errors import ApiError, Codes

MAX_QUERY_CHARS = 20_000
MAX_TOKENS = 5_000
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_COST = 2_000  # points, about 2 s of server time: a quarter of the request's time budget
MAX_PAGE = 100
LIST_ASSUMED_SIZE = 20  # plain lists (not connections) are small by design; this is their assumed size


@dataclass
class Analysis:
    cost: int = 0
    points: float = 0.0  # the unrounded estimate (the benchmark compares it with measured time)
    depth: int = 0
    aliases: int = 0


def _unwrap(type_):
    is_list = False
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


def _argument(node: FieldNode, name: str, variables: dict, defaults: dict):
    for arg in node.arguments or ():
        if arg.name.value == name:
            if isinstance(arg.value, VariableNode):
                var = arg.value.name.value
                return variables.get(var, defaults.get(var))
            if isinstance(arg.value, ast.IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, ast.NullValueNode):
                return None
            return getattr(arg.value, "value", None)
    return None


class _Walker:
    def __init__(self, schema, fragments, variables, defaults, *, root=None, context=None, coerced=None):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.root = root
        self.context = context  # None: shape checks only (before validation), no hints
        self.coerced = coerced  # the operation's variables as graphql-core coerces them
        self.analysis = Analysis()

    def selection_cost(self, selection_set, parent_type, depth, visiting, sizes=None) -> float:
        if selection_set is None:
            return 0
        total = 0.0
        sizes = sizes or {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent_type, depth, visiting, sizes)
            elif isinstance(selection, InlineFragmentNode):
                cond = selection.type_condition
                frag_type = self.schema.get_type(cond.name.value) if cond else parent_type
                total += self.selection_cost(selection.selection_set, frag_type or parent_type, depth, visiting, sizes)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:  # unknown or cyclic: graphql validation reports it
                    continue
                frag_type = self.schema.get_type(fragment.type_condition.name.value) or parent_type
                total += self.selection_cost(fragment.selection_set, frag_type, depth, visiting | {name}, sizes)
            if total > MAX_COST * 100:  # hopeless already: stop walking
                break
        return total

    def _own_cost(self, field, node: FieldNode, parent_type) -> costs.FieldCost:
        """What the field's hint says (or the default of a root field); nothing before validation."""
        if self.context is None:
            return costs.FieldCost()
        hint = costs.HINTS.get((parent_type.name, node.name.value))
        if hint is None:
            return costs.FieldCost(points=costs.ROOT_FIELD_POINTS if parent_type is self.root else 0.0)
        if self.coerced is None:
            return costs.FieldCost()  # the variables do not coerce: execution refuses before any resolver
        try:
            args = get_argument_values(field, node, self.coerced)
        except GraphQLError:
            return costs.FieldCost()  # execution reports the argument error before the resolver runs
        return hint(self.context, args)

    def field_cost(self, node: FieldNode, parent_type, depth, visiting, sizes) -> float:
        name = node.name.value
        if name.startswith("__"):
            return 0  # introspection is allowed or refused as a whole, see view
        if node.alias is not None:
            self.analysis.aliases += 1
            if self.analysis.aliases > MAX_ALIASES:
                raise ApiError(f"query uses more than {MAX_ALIASES} aliases", Codes.TOO_MANY_ALIASES, limit=MAX_ALIASES)
        depth += 1
        if depth > MAX_DEPTH:
            raise ApiError(
                f"query is nested deeper than {MAX_DEPTH} levels (at field '{name}')",
                Codes.QUERY_TOO_DEEP,
                limit=MAX_DEPTH,
            )
        self.analysis.depth = max(self.analysis.depth, depth)
        fields = getattr(parent_type, "fields", None) or {}
        field = fields.get(name)
        if field is None:
            # Unknown field (graphql validation reports it): still walk it so depth and aliases count.
            self.selection_cost(node.selection_set, None, depth, visiting)
            return 0
        field_type, is_list = _unwrap(field.type)
        named = get_named_type(field_type)
        own = self._own_cost(field, node, parent_type)
        hinted_size, child_sizes = sizes.get(name, (None, {}))
        if not isinstance(named, GraphQLObjectType) and not hasattr(named, "fields"):
            # A scalar or enum; a list of them counts its hinted size (e.g. the cells of a table).
            return own.points + costs.SCALAR_POINTS * (hinted_size if is_list and hinted_size else 1)
        if own.sizes:
            child_sizes = {**child_sizes, **costs.nested_sizes(own.sizes)}
        multiplier = 1
        if named.name.endswith("Connection"):
            first = _argument(node, "first", self.variables, self.defaults)
            last = _argument(node, "last", self.variables, self.defaults)
            size = first if first is not None else last
            if size is None:
                raise ApiError(f"'{name}' is a connection: pass first (1–{MAX_PAGE})", Codes.FIRST_REQUIRED, field=name)
            if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
                raise ApiError(
                    f"'{name}': first must be between 1 and {MAX_PAGE}, got {size}",
                    Codes.PAGE_TOO_LARGE,
                    field=name,
                    limit=MAX_PAGE,
                )
            inner = self.selection_cost(node.selection_set, named, depth, visiting, child_sizes)
            return own.points + costs.OBJECT_POINTS + size * inner
        elif is_list and parent_type.name.endswith("Connection"):
            multiplier = 1  # a connection's edges: already multiplied by the connection's page size
        elif is_list and hinted_size is not None:
            multiplier = hinted_size
        elif is_list:
            first = _argument(node, "first", self.variables, self.defaults)
            multiplier = first if isinstance(first, int) and 0 < first <= 1000 else LIST_ASSUMED_SIZE
        inner = self.selection_cost(node.selection_set, named, depth, visiting, child_sizes)
        return own.points + multiplier * (costs.OBJECT_POINTS + inner)


def _walk(schema, document, operation_name, variables, context) -> Analysis:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinitionNode)}
    if operation_name:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if not operations:
        return Analysis()
    operation = operations[0]
    defaults = {}
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, ast.IntValueNode):
            defaults[definition.variable.name.value] = int(definition.default_value.value)
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation.operation.value]
    coerced = None
    if context is not None:
        coerced = get_variable_values(schema, operation.variable_definitions or [], variables or {})
        coerced = None if isinstance(coerced, list) else coerced  # a list of errors: execution reports them
    walker = _Walker(schema, fragments, variables or {}, defaults, root=root, context=context, coerced=coerced)
    points = walker.selection_cost(operation.selection_set, root, 0, frozenset())
    walker.analysis.points = points + (costs.BASE_POINTS if context is not None else 0)
    walker.analysis.cost = math.ceil(walker.analysis.points)
    return walker.analysis


def check_shape(schema, document: ast.DocumentNode, operation_name: str | None, variables: dict | None) -> None:
    """Before validation: refuse by depth, aliases and page sizes (no cost hints, no SQL)."""
    _walk(schema, document, operation_name, variables, None)


def analyze(
    schema, document: ast.DocumentNode, operation_name: str | None, variables: dict | None, context
) -> Analysis:
    """After validation: the cost in points for this caller (``costs.CostContext``), refused over MAX_COST."""
    analysis = _walk(schema, document, operation_name, variables, context)
    if analysis.cost > MAX_COST:
        raise ApiError(
            f"query would cost {analysis.cost} points; the limit is {MAX_COST} per query (a point is about a "
            "millisecond of server time: ask for a shorter period, fewer groupBy dimensions or smaller pages)",
            Codes.QUERY_TOO_COSTLY,
            cost=analysis.cost,
            limit=MAX_COST,
        )
    return analysis


def is_introspection(document: ast.DocumentNode) -> bool:
    """Does any field anywhere in the document (fragments included) ask for __schema or __type?"""
    stack: list = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.name.value in {"__schema", "__type"}:
            return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False
