"""Allowances are prorated like fees: a line that changes plan mid-period gets each plan's allowance for
the share of the period it spent on that plan (issue 17, item 5). Every number computed by hand below."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

from billing.models import PlanAllowance, PlanRate
from billing.periods import billing_period
from billing.rating.pipeline import period_usage_load, period_usage_rate
from billing.usage.writer import usage_records_write
from tests.fixtures_billing import usage


def _plan(make, code, name, fee, minutes, price):
    plan = make.plan(code=code, name=name, currency="EUR", monthly_fee=D(fee))
    plan.rates.all().delete()
    PlanRate.objects.create(plan=plan, usage_type="voice", price=D(price), valid_from=date(2020, 1, 1))
    PlanAllowance.objects.create(plan=plan, usage_type="voice", quantity=D(minutes))
    return plan


def test_a_line_on_flex_for_17_of_31_days_gets_274_19_of_500_minutes(make):
    org = make.organization(billing_day=1, time_zone="UTC")
    flex = _plan(make, "flex-test", "Business Flex", "31.00", "500", "0.10")
    basic = _plan(make, "basic-test", "Business Basic", "15.50", "100", "0.05")
    line = make.line(org, "+493011110000")
    make.line_plan(line, flex, valid_from=date(2025, 1, 1), valid_to=date(2026, 10, 18))  # 1–17 Oct: 17 days
    make.line_plan(line, basic, valid_from=date(2026, 10, 18))  # 18–31 Oct: 14 days
    usage_records_write(
        records=[
            # 400 minutes on Flex: 500 × 17/31 = 274.193548 covered, 125.806452 min × 0.10 = 12.580645
            usage(org, line, datetime(2026, 10, 10, 9, tzinfo=UTC), seconds=400 * 60, dest="+498912345678"),
            # 60 minutes on Basic: 100 × 14/31 = 45.161290 covered, 14.838710 min × 0.05 = 0.741935
            usage(org, line, datetime(2026, 10, 20, 9, tzinfo=UTC), seconds=60 * 60, dest="+498912345678"),
        ]
    )
    rated = period_usage_rate(period_usage_load(organization=org, period=billing_period(org, 2026, 10)))

    granted = {
        use.plan_code: (use.granted.quantize(D("0.000001")), use.used.quantize(D("0.000001")))
        for use in rated.result.allowances
    }
    assert granted == {
        "flex-test": (D("274.193548"), D("274.193548")),
        "basic-test": (D("45.161290"), D("45.161290")),
    }
    assert [r.amount for r in rated.result.rated] == [D("12.580645"), D("0.741935")]
    # The fees of the same line are prorated by the very same shares: 31.00 × 17/31 and 15.50 × 14/31.
    assert sorted(item.exact.quantize(D("0.01")) for item in rated.recurring) == [D("7.00"), D("17.00")]


def test_the_pooled_allowance_counts_each_line_for_its_days_on_the_plan(make):
    org = make.organization(billing_day=1, time_zone="UTC")
    flex = _plan(make, "pool-test", "Business Pool", "0", "310", "0.10")
    PlanAllowance.objects.filter(plan=flex).update(pooled=True)
    other = _plan(make, "other-test", "Other", "0", "1", "0.10")
    stays, leaves = make.line(org, "+493011110001"), make.line(org, "+493011110002")
    make.line_plan(stays, flex, valid_from=date(2025, 1, 1))
    make.line_plan(leaves, flex, valid_from=date(2025, 1, 1), valid_to=date(2026, 10, 11))  # 10 days on the pool
    make.line_plan(leaves, other, valid_from=date(2026, 10, 11))
    usage_records_write(
        records=[usage(org, stays, datetime(2026, 10, 25, 9, tzinfo=UTC), seconds=600 * 60, dest="+498912345678")]
    )
    rated = period_usage_rate(period_usage_load(organization=org, period=billing_period(org, 2026, 10)))
    pool = next(use for use in rated.result.allowances if use.plan_code == "pool-test")
    # 310 × 31/31 + 310 × 10/31 = 410 minutes in the pool (not 620); 190 minutes paid at 0.10
    assert pool.granted == D("410") and pool.used == D("410")
    assert rated.result.rated[0].amount == D("19.000000")
