"""Storing rated usage: each record's cost, the plan it was rated under and the statement that charged
it (the append-only trigger allows exactly these columns), with the rollups of the touched days
rebuilt in the same transaction."""

from __future__ import annotations

import io
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from billing.models import Organization, Plan
from billing.periods import period_containing
from billing.rating.pipeline import PeriodUsage, RatedPeriod, period_usage_load, period_usage_rate
from billing.usage.rollups import rollups_rebuild


def _write_costs(
    rated, plan_code_of: dict[int, str], plans_by_code: dict[str, Plan], statement_id: int | None = None
) -> None:
    """Store each record's rated cost, and with ``statement_id`` the statement that charges it (the
    append-only trigger allows exactly these columns; a record's statement is set once). Only the records
    given are marked: one that arrives while a statement is issued stays unbilled for the next one."""
    buffer = io.StringIO()
    for r in rated:
        plan_code = plan_code_of.get(r.usage.id)
        plan_id = plans_by_code[plan_code].id if plan_code else ""
        buffer.write(f"{r.usage.id}\t{r.amount}\t{plan_id or chr(92) + 'N'}\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS rated_incoming (id bigint, cost numeric, plan_id bigint)")
        cursor.execute("TRUNCATE rated_incoming")
        cursor.copy_expert("COPY rated_incoming FROM STDIN", buffer)
        cursor.execute(
            """UPDATE billing_usagerecord u SET cost = r.cost, rated_plan_id = r.plan_id, rated_at = now(),
                      billed_on_id = COALESCE(u.billed_on_id, %s)
               FROM rated_incoming r WHERE u.id = r.id
               AND (u.cost IS DISTINCT FROM r.cost OR u.rated_plan_id IS DISTINCT FROM r.plan_id
                    OR (u.billed_on_id IS NULL AND %s IS NOT NULL))""",
            [statement_id, statement_id],
        )
        cursor.execute("TRUNCATE rated_incoming")


def period_rate_and_store(
    organization: Organization, loaded: PeriodUsage, statement_id: int | None = None
) -> RatedPeriod:
    """Rate a loaded period, store each record's cost and plan (and the statement charging it), and
    rebuild the rollups it touched."""
    rated = period_usage_rate(loaded)
    rated_store(organization, rated, rated.result.rated, loaded, statement_id)
    return rated


def rated_store(organization, rated: RatedPeriod, records, loaded: PeriodUsage, statement_id: int | None) -> None:
    plan_code_of = {}
    for r in records:
        plan = rated.plan_for(r.usage)
        if plan is not None:
            plan_code_of[r.usage.id] = plan.code
    _write_costs(records, plan_code_of, loaded.plans_by_code, statement_id)
    if records:
        rollups_rebuild(slices={(organization.id, r.usage.local_date) for r in records})


def usage_rate_open_period(*, organization: Organization, now: datetime | None = None) -> int:
    """Price the usage of the organization's open billing period so far, so that the dashboard's
    "charges so far", the projection and budget alerts show money before the period is billed.

    Rated exactly as the statement will rate it (same load and rating functions); allowances are
    consumed in time order, so the calls made so far get the cost they will have on the statement.
    Idempotent; the statement's own rating at issue overwrites these columns. Returns records rated."""
    today = (now or timezone.now()).astimezone(organization.tz).date()
    period = period_containing(organization, today)
    with transaction.atomic():
        loaded = period_usage_load(organization=organization, period=period)
        if not loaded.usages:
            return 0
        return len(period_rate_and_store(organization, loaded).result.rated)
