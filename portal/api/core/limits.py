"""Refuse the "query from hell" before it runs: size, depth, aliases, pagination and cost.

The analysis walks the parsed document (fragments expanded, cycles cut) with the schema's types. It
runs before graphql-core's own validation, whose overlapping-fields rule is quadratic in the number
of fields, so a query with thousands of aliases is refused in microseconds and no SQL ever runs.

Cost model (like GitHub's and Shopify's): every object field costs 1, scalars cost nothing, a
connection multiplies the cost of what is selected inside it by its page size (``first``/``last``,
required, at most 100), and fields that read many rows have a base cost of their own.
"""

from __future__ import annotations

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
from graphql.language import ast

from portal.api.core.errors import ApiError, Codes

MAX_QUERY_CHARS = 20_000
MAX_TOKENS = 5_000
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_COST = 1_000
MAX_PAGE = 100
LIST_ASSUMED_SIZE = 20  # plain lists (not connections) are small by design; this is their assumed size

# Fields that read many rows cost more than their size suggests.
FIELD_BASE_COST = {
    ("Query", "usageSummary"): 10,
    ("Query", "usageRecords"): 2,
}


@dataclass
class Analysis:
    cost: int = 0
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
    def __init__(self, schema, fragments, variables, defaults):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.analysis = Analysis()

    def selection_cost(self, selection_set, parent_type, depth, visiting) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent_type, depth, visiting)
            elif isinstance(selection, InlineFragmentNode):
                cond = selection.type_condition
                frag_type = self.schema.get_type(cond.name.value) if cond else parent_type
                total += self.selection_cost(selection.selection_set, frag_type or parent_type, depth, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:  # unknown or cyclic: graphql validation reports it
                    continue
                frag_type = self.schema.get_type(fragment.type_condition.name.value) or parent_type
                total += self.selection_cost(fragment.selection_set, frag_type, depth, visiting | {name})
            if total > MAX_COST * 100:  # hopeless already: stop walking
                break
        return total

    def field_cost(self, node: FieldNode, parent_type, depth, visiting) -> int:
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
        if not isinstance(named, GraphQLObjectType) and not hasattr(named, "fields"):
            return 0  # scalar or enum
        base = FIELD_BASE_COST.get((parent_type.name, name), 1)
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
            multiplier = size
        elif is_list and parent_type.name.endswith("Connection"):
            multiplier = 1  # a connection's edges: already multiplied by the connection's page size
        elif is_list:
            first = _argument(node, "first", self.variables, self.defaults)
            multiplier = first if isinstance(first, int) and 0 < first <= 1000 else LIST_ASSUMED_SIZE
        inner = self.selection_cost(node.selection_set, named, depth, visiting)
        return base + multiplier * inner


def analyze(schema, document: ast.DocumentNode, operation_name: str | None, variables: dict | None) -> Analysis:
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
    walker = _Walker(schema, fragments, variables or {}, defaults)
    walker.analysis.cost = walker.selection_cost(operation.selection_set, root, 0, frozenset())
    if walker.analysis.cost > MAX_COST:
        raise ApiError(
            f"query would cost {walker.analysis.cost} points; the limit is {MAX_COST} per query "
            "(a connection multiplies what it selects by its page size)",
            Codes.QUERY_TOO_COSTLY,
            cost=walker.analysis.cost,
            limit=MAX_COST,
        )
    return walker.analysis


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
