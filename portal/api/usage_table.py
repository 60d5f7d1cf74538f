"""The flat table shape of a usage summary (issue 21 item 3), and which metrics a summary query reads."""

import graphene
from graphql import FieldNode
from graphql.execution.values import get_argument_values

from billing.usage.selectors import Dimension, Metric
from portal.api.core.errors import ApiError, Codes
from portal.api.core.nodes import encode_id

ID_TYPES = {Dimension.LOCATION: "Location", Dimension.PERSON: "Person", Dimension.LINE: "Line"}


class UsageTableRow(graphene.Scalar):
    """One group of a usage table: a JSON array of strings (null where a group has no id), in the order of
    the table's columns. Output only. One value per row rather than a list of String, so that a table of
    thousands of cells costs the server one step per row."""

    @staticmethod
    def serialize(value):
        return value

    @staticmethod
    def parse_value(value):
        raise ApiError("UsageTableRow is an output type", Codes.BAD_ARGUMENT)

    parse_literal = parse_value


class UsageSummaryTable(graphene.ObjectType):
    class Meta:
        description = (
            "The summary's groups as a flat table: one list of strings per group, in the order of columns. "
            "The same numbers as rows { keys metrics }, in a shape that is faster to serve and to read."
        )

    columns = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Column names: per groupBy dimension its label (e.g. location) and, for location, person "
        "and line, its global id (locationId); then the metrics asked for (their UsageMetric names, e.g. cost).",
    )
    rows = graphene.List(
        graphene.NonNull(UsageTableRow),
        required=True,
        description="One list per group, sorted like rows; numbers as decimal strings (money 6 decimals, minutes 2); "
        "null ids and a label 'All others' on the row after a top-N.",
    )


ALL_METRICS = [m for m in Metric]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def summary_table(result, metrics: list[Metric]) -> UsageSummaryTable:
    columns = []
    for dim in result.group_by:
        columns.append(_camel(dim.value))
        if dim in ID_TYPES:
            columns.append(f"{_camel(dim.value)}Id")
    columns += [_camel(m.value) for m in metrics]
    rows = []
    for row in result.rows:
        cells = []
        for key in row.keys:
            cells.append(key.label)
            if key.dimension in ID_TYPES:
                cells.append(encode_id(ID_TYPES[key.dimension], key.value) if key.value is not None else None)
        cells += [str(row.totals.metric(m)) for m in metrics]
        rows.append(cells)
    return UsageSummaryTable(columns=columns, rows=rows)


_METRIC_FIELDS = {_camel(m.value): m for m in Metric}
_PLAIN_FIELDS = {"period", "groupBy", "groupCount", "previousPeriod", "__typename"}


def metrics_asked(info) -> set[Metric] | None:
    """The metrics a summary query reads, so that the SQL computes only those; None (all of them) when
    the selection is not plain fields (fragments, aliases) or asks for the nested rows."""
    asked: set[Metric] = set()
    table_field = info.return_type.of_type.fields["table"]
    for node in info.field_nodes:
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.alias is not None:
                return None
            name = selection.name.value
            if name in ("totals", "previousTotals"):
                for inner in selection.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "__typename":
                        continue
                    if not isinstance(inner, FieldNode) or inner.name.value not in _METRIC_FIELDS:
                        return None
                    asked.add(_METRIC_FIELDS[inner.name.value])
            elif name == "table":
                chosen = get_argument_values(table_field, selection, info.variable_values).get("metrics")
                asked |= {Metric(getattr(m, "value", m)) for m in chosen} if chosen else set(Metric)
            elif name not in _PLAIN_FIELDS:
                return None
    return asked
