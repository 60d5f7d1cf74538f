"""Rating rules, computed by hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from billing.rating.engine import Allowance, PlanTerms, Rate, Usage, billed_seconds, rate_one, rate_period

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def call(seconds, *, id=1, line=1, category="national", zone="", answered=True, direction="outbound", at=0):
    return Usage(
        id=id,
        line_id=line,
        usage_type="voice",
        started_at=T0 + timedelta(minutes=at),
        local_date=date(2026, 10, 5),
        direction=direction,
        answered=answered,
        billable_seconds=seconds if answered else 0,
        category=category,
        zone=zone,
    )


BASIC = PlanTerms(
    code="basic",
    currency="EUR",
    rates=(
        Rate("voice", "", "", D("0.10")),  # catch-all 60/60
        Rate("voice", "mobile", "", D("0.20"), 30, 6),
        Rate("voice", "international", "", D("0.50"), 1, 1, minimum_charge=D("0.05")),
        Rate("voice", "international", "EU", D("0.25"), 1, 1),
        Rate("sms", "", "", D("0.09")),
        Rate("data", "", "", D("0.015")),
    ),
)


@pytest.mark.parametrize(
    "seconds, first, step, expected",
    [
        (0, 60, 60, 0),
        (1, 60, 60, 60),
        (60, 60, 60, 60),
        (61, 60, 60, 120),
        (31, 30, 6, 36),
        (30, 30, 6, 30),
        (7, 1, 1, 7),
    ],
)
def test_billing_increments(seconds, first, step, expected):
    assert billed_seconds(seconds, first, step) == expected


def test_rates_are_chosen_most_specific_first():
    assert rate_one(call(61), BASIC).amount == D("0.200000")  # 2 min at 0.10
    assert rate_one(call(31, category="mobile"), BASIC).amount == D("0.120000")  # 36 s at 0.20/min
    assert rate_one(call(90, category="international", zone="EU"), BASIC).amount == D("0.375000")  # 1.5 min × 0.25
    assert rate_one(call(90, category="international", zone="NA"), BASIC).amount == D("0.750000")
    assert rate_one(call(3, category="international", zone="NA"), BASIC).amount == D("0.050000")  # minimum charge


def test_unanswered_and_inbound_calls_cost_nothing():
    assert rate_one(call(300, answered=False), BASIC).amount == 0
    assert rate_one(call(300, direction="inbound"), BASIC).amount == 0
    assert not rate_one(call(300, direction="inbound"), BASIC).chargeable


def test_sms_data_and_setup_fee():
    sms = Usage(2, 1, "sms", T0, date(2026, 10, 5))
    data = Usage(3, 1, "data", T0, date(2026, 10, 5), data_bytes=250_000_000)
    assert rate_one(sms, BASIC).amount == D("0.090000")
    assert rate_one(data, BASIC).amount == D("3.750000")  # 250 MB × 0.015
    with_fee = PlanTerms("fee", "EUR", call_setup_fee=D("0.03"), rates=BASIC.rates)
    assert rate_one(call(60), with_fee).amount == D("0.130000")


def test_effective_dated_rates():
    plan = PlanTerms(
        "dated",
        "EUR",
        rates=(
            Rate("voice", "", "", D("0.10"), valid_to=date(2026, 10, 5)),
            Rate("voice", "", "", D("0.08"), valid_from=date(2026, 10, 5)),
        ),
    )
    assert rate_one(call(60), plan).amount == D("0.080000")


def test_no_rate_is_reported_not_silently_free():
    plan = PlanTerms("sms-only", "EUR", rates=(Rate("sms", "", "", D("0.1")),))
    rated = rate_one(call(60), plan)
    assert rated.unrated and rated.amount == 0


def test_per_line_allowance_consumed_in_time_order():
    plan = PlanTerms(
        "flex",
        "EUR",
        rates=(Rate("voice", "", "", D("0.10")),),
        allowances=(Allowance("voice", D("5"), categories=("national",)),),
    )
    usages = [
        call(180, id=1, at=0),
        call(150, id=2, at=10),
        call(240, id=3, at=20),
        call(60, id=4, category="mobile", at=30),
    ]
    result = rate_period(reversed(usages), {1: plan})
    amounts = {r.usage.id: r.amount for r in result.rated}
    # 3 min covered, then 2 of the 3 billed minutes of call 2 (1 min charged), then 4 min charged.
    assert amounts == {1: D("0"), 2: D("0.100000"), 3: D("0.400000"), 4: D("0.100000")}
    assert result.total == D("0.600000")
    assert [(a.granted, a.used) for a in result.allowances] == [(D("5"), D("5"))]


def test_pooled_allowance_is_shared_and_prorated():
    plan = PlanTerms(
        "pool",
        "EUR",
        rates=(Rate("voice", "", "", D("0.10"), minimum_charge=D("0.50")),),
        allowances=(Allowance("voice", D("10"), pooled=True),),
    )
    # Line 2 was active half the period: the pool is 10 + 5 = 15 minutes.
    usages = [call(600, id=1, line=1, at=0), call(300, id=2, line=1, at=1), call(120, id=3, line=2, at=2)]
    result = rate_period(usages, {1: plan, 2: plan}, line_share={2: D("0.5")})
    amounts = {r.usage.id: r.amount for r in result.rated}
    # Pool used up by calls 1 and 2; call 3 pays 2 min × 0.10 = 0.20, raised to the 0.50 minimum charge.
    assert amounts == {1: D("0"), 2: D("0"), 3: D("0.500000")}
    assert result.allowances[0].granted == D("15.0")


def test_internal_calls_cost_nothing_unless_the_plan_prices_them():
    internal = call(125, category="internal")
    free = rate_one(internal, BASIC)  # BASIC's catch-all voice rate does not apply to internal calls
    assert (free.amount, free.chargeable, free.unrated) == (D("0.000000"), False, False)
    priced = PlanTerms(code="p", currency="EUR", rates=BASIC.rates + (Rate("voice", "internal", "", D("0.01")),))
    assert rate_one(internal, priced).amount == D("0.030000")  # 125 s at 60/60: 3 minutes
    period = rate_period([internal, call(60, id=2, at=5)], {1: BASIC})
    assert [r.amount for r in period.rated] == [D("0.000000"), D("0.100000")]
