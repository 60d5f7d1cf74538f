"""Relay global ids, scoped: an id of another organization resolves exactly like one that never existed."""

import binascii

import graphene
from graphql_relay import from_global_id, to_global_id

from portal.api.core.errors import ApiError, Codes


def decode_id(global_id: str, expected: str | None = None, field: str = "id") -> tuple[str, int]:
    try:
        type_name, raw = from_global_id(global_id)
        pk = int(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(f"{field}: '{global_id}' is not a valid id", Codes.BAD_ID, field=field) from None
    if not type_name or (expected and type_name != expected):
        raise ApiError(
            f"{field}: '{global_id}' is not an id of a {expected or 'known type'}", Codes.BAD_ID, field=field
        )
    return type_name, pk


def decode_ids(global_ids, expected: str, field: str) -> list[int]:
    return [decode_id(gid, expected, field)[1] for gid in global_ids or []]


def encode_id(type_name: str, pk) -> str:
    return to_global_id(type_name, pk)


def caller(info):
    return info.context.caller


class ScopedNode(graphene.relay.Node):
    """``node(id:)`` that answers null for ids outside the caller's scope (never "forbidden")."""

    class Meta:
        name = "Node"

    @classmethod
    def get_node_from_global_id(cls, info, global_id, only_type=None):
        type_name, pk = decode_id(global_id)
        graphene_type = info.schema.get_type(type_name)
        graphene_type = getattr(graphene_type, "graphene_type", None)
        if graphene_type is None or cls not in getattr(graphene_type._meta, "interfaces", ()):
            return None
        if only_type and graphene_type is not only_type:
            return None
        return graphene_type.get_node(info, pk)
