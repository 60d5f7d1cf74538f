"""``{% measure value metric %}``: a metric's value written as itself (cost as money, call lengths as h:mm:ss,
minutes and MB with two decimals, counts whole), in the organization's locale."""

from django import template

from portal.templatetags.portal_format import _formatter, duration

register = template.Library()

_SECONDS = {"average_call_seconds", "longest_call_seconds"}
_TWO_PLACES = {"minutes", "billable_minutes", "data_mb"}


@register.simple_tag(takes_context=True)
def measure(context, value, metric):
    if value is None:
        return ""
    metric = getattr(metric, "value", metric)
    if metric == "cost":
        return _formatter(context).money(value)
    if metric in _SECONDS:
        return duration(value)
    return _formatter(context).number(value, 2 if metric in _TWO_PLACES else 0)


@register.filter
def metric_of(totals, metric):
    """A ``Totals``' value of ``metric``."""
    return totals.metric(metric)
