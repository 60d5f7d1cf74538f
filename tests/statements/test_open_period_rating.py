"""The open period's usage is priced before billing, exactly as the statement will price it."""

from datetime import UTC, datetime
from io import StringIO

from django.core.management import call_command

from billing.models import UsageRecord
from billing.periods import period_containing
from billing.rating.store import usage_rate_open_period
from billing.statements.services import statement_issue
from billing.statements.tasks import rate_open_periods
from billing.usage.scope import Scope
from billing.usage.selectors import Period, usage_summary


def test_open_period_costs_equal_the_statements_and_show_in_the_rollups(billed_org):
    during = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)  # October is still open then
    assert usage_rate_open_period(organization=billed_org, now=during) > 0
    assert usage_rate_open_period(organization=billed_org, now=during) > 0  # idempotent
    early = dict(UsageRecord.objects.filter(organization=billed_org).values_list("id", "cost"))
    assert any(cost for cost in early.values())
    period = period_containing(billed_org, during.date())
    summary = usage_summary(
        scope=Scope(organization=billed_org, role="admin"), period=Period(period.start, period.end), group_by=[]
    )
    assert summary.totals.cost == sum(c for c in early.values() if c is not None)

    statement_issue(organization=billed_org, period=period, now=datetime(2026, 11, 2, tzinfo=UTC))
    final = dict(UsageRecord.objects.filter(organization=billed_org).values_list("id", "cost"))
    assert final == early  # the statement priced every call the same way


def test_rate_usage_command_and_beat_task(billed_org):
    out = StringIO()
    call_command("rate_usage", stdout=out)
    assert billed_org.account_number in out.getvalue()
    assert rate_open_periods() >= 0
