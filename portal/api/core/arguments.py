"""Every argument of every field, checked once before execution: the one place resolvers can rely on.

Runs after graphql-core's validation (the document is well formed and typed) and before any resolver or
SQL, over the arguments as execution will see them (variables coerced, defaults applied, fragments
included). What it refuses, each with a stable code and the argument's path in ``extensions.field``:

- an explicit ``null`` for an argument that has a default (``descending: null``, ``orderBy: $unset``
  sent as null): resolvers get the default or a value, never a null they were not written for;
- a NUL character in any string, however deep in an input object or list: PostgreSQL cannot store or
  compare one, and the driver raises instead of answering "not found";
- on connections, ``first``/``last`` outside 1–MAX_PAGE (each of them, not just the first one given),
  a negative ``offset``, ``offset`` with ``before``, and cursors of offset-paginated connections that do
  not decode (``BAD_CURSOR``; opaque cursors such as usageRecords' are checked by their selector).

Integers beyond 32 bits and values of the wrong type are refused by graphql-core's coercion; those
errors are given the code BAD_ARGUMENT here too.
"""

from __future__ import annotations

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Undefined,
    Visitor,
    get_named_type,
    visit,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import ast
from graphql_relay import cursor_to_offset

from portal.api.core.errors import ApiError, Codes
from portal.api.core.limits import MAX_PAGE


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _nul_path(value, path: str) -> str | None:
    """The path of the first string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(item, f"{path}.{_camel(str(key))}")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _null_for_default(type_, value, path: str) -> str | None:
    """Inside input objects: the path of a field sent as null although it has a default."""
    named = type_
    while isinstance(named, GraphQLNonNull):
        named = named.of_type
    if isinstance(named, GraphQLList) and isinstance(value, list):
        for index, item in enumerate(value):
            found = _null_for_default(named.of_type, item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(named, GraphQLInputObjectType) and isinstance(value, dict):
        for name, field in named.fields.items():
            key = field.out_name or name
            if key not in value:
                continue
            if value[key] is None and field.default_value not in (Undefined, None):
                return f"{path}.{name}"
            found = _null_for_default(field.type, value[key], f"{path}.{name}")
            if found:
                return found
    return None


def _refuse(message: str, code: str, field_name: str, argument: str) -> ApiError:
    return ApiError(f"{field_name}: {message}", code, field=argument)


def _check_field(field_name: str, field_def, values: dict, raw_names: dict) -> None:
    for name, argument in field_def.args.items():
        key = argument.out_name or name
        if key not in values:
            continue
        value = values[key]
        if value is None and argument.default_value not in (Undefined, None) and name in raw_names:
            default = argument.default_value
            shown = str(default).lower() if isinstance(default, bool) else getattr(default, "name", default)
            raise _refuse(
                f"'{name}' may not be null; omit it for its default ({shown})", Codes.BAD_ARGUMENT, field_name, name
            )
        nested = _null_for_default(argument.type, value, name)
        if nested:
            raise _refuse(
                f"'{nested}' may not be null; omit it for its default", Codes.BAD_ARGUMENT, field_name, nested
            )
        found = _nul_path(value, name)
        if found:
            raise _refuse(f"'{found}' contains a NUL character", Codes.BAD_ARGUMENT, field_name, found)
    if not get_named_type(field_def.type).name.endswith("Connection"):
        return
    for name in ("first", "last"):
        size = values.get(name)
        if size is not None and not 1 <= size <= MAX_PAGE:
            raise ApiError(
                f"{field_name}: {name} must be between 1 and {MAX_PAGE}, got {size}",
                Codes.PAGE_TOO_LARGE,
                field=name,
                limit=MAX_PAGE,
            )
    if "offset" not in field_def.args:
        return  # opaque cursors: their selector decodes and checks them
    offset = values.get("offset")
    if offset is not None and offset < 0:
        raise _refuse(f"offset must be 0 or more, got {offset}", Codes.BAD_ARGUMENT, field_name, "offset")
    if offset is not None and values.get("before") is not None:
        raise _refuse("pass offset or before, not both", Codes.BAD_ARGUMENT, field_name, "offset")
    for name in ("before", "after"):
        cursor = values.get(name)
        if cursor is None:
            continue
        position = cursor_to_offset(cursor)
        if position is None or position < 0:
            raise _refuse(f"'{name}' is not a cursor of this list", Codes.BAD_CURSOR, field_name, name)


class _ArgumentVisitor(Visitor):
    def __init__(self, type_info: TypeInfo, variables: dict):
        super().__init__()
        self.type_info = type_info
        self.variables = variables

    def enter_field(self, node: ast.FieldNode, *_args):
        field_def = self.type_info.get_field_def()
        if field_def is None or not field_def.args:
            return
        try:
            values = get_argument_values(field_def, node, self.variables)
        except GraphQLError as exc:
            raise ApiError(exc.message, Codes.BAD_ARGUMENT, field=node.name.value) from None
        # Which arguments the document names, with their variable (a variable not sent means "omitted").
        raw_names = {}
        for arg in node.arguments or ():
            if isinstance(arg.value, ast.VariableNode) and arg.value.name.value not in self.variables:
                continue
            raw_names[arg.name.value] = arg
        _check_field(node.name.value, field_def, values, raw_names)


def check_arguments(
    schema: GraphQLSchema, document: ast.DocumentNode, operation: OperationDefinitionNode, variables: dict
) -> None:
    """Raise ApiError for the first argument that no resolver should see. The document must be valid."""
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        error = coerced[0]
        raise ApiError(error.message, Codes.BAD_ARGUMENT, field=_variable_name(error))
    type_info = TypeInfo(schema)
    # Only the operation that runs and the fragments it may spread: other operations' variables are not set.
    fragments = [d for d in document.definitions if isinstance(d, ast.FragmentDefinitionNode)]
    for definition in [operation, *fragments]:
        visit(definition, TypeInfoVisitor(type_info, _ArgumentVisitor(type_info, coerced)))


def _variable_name(error: GraphQLError) -> str | None:
    message = error.message
    if message.startswith("Variable '$"):
        return message[len("Variable '$") :].split("'", 1)[0]
    return None
