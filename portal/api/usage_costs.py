"""What a usage summary or a page of usage records will cost before it runs (the cost hints of
portal.api.core.costs), from the organization's own statistics (billing.usage.estimate)."""

from billing.usage import estimate
from billing.usage.selectors import Dimension, Metric, RecordOrder
from portal.api.core import costs
from portal.api.usage import to_filter, to_period


@costs.cost_hint("Query", "usageSummary")
def _summary_cost(context, args) -> costs.FieldCost:
    """The rollup rows the summary scans and the groups it builds, for this organization (billing.usage.estimate)."""
    group_by = [Dimension(getattr(d, "value", d)) for d in args.get("group_by") or []]
    read = estimate.summary_estimate(
        context.usage_statistics(),
        period=to_period(args["period"]),
        group_by=group_by,
        filters=to_filter(args.get("filter")),
        first=args.get("first"),
        compare_previous=bool(args.get("compare_previous")),
    )
    per_row = costs.POINTS_PER_RECORD_READ if read.source == "raw" else costs.POINTS_PER_ROW_READ
    return costs.FieldCost(
        points=read.rows_read * per_row + read.groups * costs.POINTS_PER_GROUP,
        sizes={
            "rows": read.returned,
            "rows.keys": len(group_by),
            "groupBy": len(group_by),
            "table.rows": read.returned,
            "table.columns": 2 * len(group_by) + len(Metric),
        },
    )


@costs.cost_hint("Query", "usageRecords")
def _records_cost(context, args) -> costs.FieldCost:
    """The records an index walk passes to fill the page (the page's objects are counted by the walker)."""
    order = RecordOrder(getattr(args.get("order_by"), "value", args.get("order_by") or RecordOrder.TIME.value))
    read = estimate.records_estimate(
        context.usage_statistics(),
        period=to_period(args["period"]),
        filters=to_filter(args.get("filter")),
        order_by=order,
        first=args.get("first") or 1,
    )
    return costs.FieldCost(
        points=read.rows_read * costs.POINTS_PER_RECORD_READ + read.returned * costs.POINTS_PER_RECORD_RETURNED
    )
