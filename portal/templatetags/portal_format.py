"""Money, numbers, dates and times as the acting organization writes them (its locale and time zone).

Tags read ``organization`` from the page context (set by portal.web.context), e.g. ``{% money total %}``,
``{% num minutes 1 %}``, ``{% day statement.due_date %}``, ``{% moment record.started_at %}``.
"""

from babel.dates import format_datetime
from django import template

from billing.formatting import Formatter, locale_of

register = template.Library()


def _formatter(context) -> Formatter:
    organization = context["organization"]
    cache = context.render_context
    key = ("formatter", organization.pk)
    if key not in cache:
        cache[key] = Formatter(organization)
    return cache[key]


@register.simple_tag(takes_context=True)
def money(context, amount):
    return "" if amount is None else _formatter(context).money(amount)


@register.simple_tag(takes_context=True)
def num(context, value, places=0):
    return "" if value is None else _formatter(context).number(value, places)


@register.simple_tag(takes_context=True)
def day(context, value, style="medium"):
    return "" if value is None else _formatter(context).date(value, style)


@register.simple_tag(takes_context=True)
def moment(context, value, style="medium"):
    """A UTC timestamp shown in the organization's time zone."""
    if value is None:
        return ""
    organization = context["organization"]
    return format_datetime(value.astimezone(organization.tz), format=style, locale=locale_of(organization))


@register.filter
def duration(seconds):
    """Seconds as h:mm:ss (0:05:00 for five minutes: one shape in every column)."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


_COUNTS = {"records", "calls", "messages", "data_sessions"}
_DURATIONS = {"average_call_seconds", "longest_call_seconds"}


@register.simple_tag(takes_context=True)
def metric(context, name, value, signed=False):
    """A value of a usage metric formatted as what it is: money in the currency, counts as whole numbers,
    call durations as h:mm:ss, minutes whole, megabytes with 2 decimals; ``signed`` adds + to a rise."""
    if value is None:
        return ""
    name = str(name)
    sign = "+" if signed and value > 0 else ""
    if name == "cost":
        return sign + _formatter(context).money(value)
    if name in _DURATIONS:
        return ("-" if value < 0 else sign) + duration(abs(value))
    places = 2 if name == "data_mb" else 0
    return sign + _formatter(context).number(value, places)


@register.filter
def metric_of(totals, name):
    """``totals|metric_of:"cost"``: one metric of a summary's Totals."""
    return getattr(totals, str(name))


@register.filter
def get(mapping, key):
    return mapping.get(key)
