"""Month arithmetic on dates (``dateutil.relativedelta``): the one place the calendar's months are added.

``relativedelta`` clamps to the end of a shorter month (31 January + 1 month = 28/29 February), which is the
rule billing periods use for their days."""

from datetime import date

from dateutil.relativedelta import relativedelta


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` (negative: back), clamped to the end of a shorter month."""
    return day + relativedelta(months=months)


def month_start(day: date, back: int = 0) -> date:
    """The first day of ``day``'s month, or of the month ``back`` months before it."""
    return day.replace(day=1) - relativedelta(months=back)


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return day.replace(day=1) + relativedelta(months=1)
