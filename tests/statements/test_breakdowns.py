"""Breakdowns that add up (issue 17, item 4): every usage type, rows that sum exactly to the usage total
(largest remainder), people told apart where names repeat."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D

from billing.models import Plan, PlanRate
from billing.periods import billing_period
from billing.statements.builder import largest_remainder, person_labels
from billing.statements.services import statement_issue
from billing.usage.writer import usage_records_write
from tests.fixtures_billing import usage

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CENT = D("0.01")


def test_largest_remainder_shares_out_the_total_exactly():
    # Three rows of 1/3 each of 1.00: quotas 33.33 cents; floors 33+33+33 = 99; the cent left goes to
    # the first of the equal remainders.
    assert largest_remainder([D(1), D(1), D(1)], D("1.00"), CENT) == [D("0.34"), D("0.33"), D("0.33")]
    # Rounded one by one these would be 0.12 + 0.12 + 0.12 = 0.36, while the lines charged 0.37.
    exact = [D("0.124"), D("0.124"), D("0.124")]
    assert sum(largest_remainder(exact, D("0.37"), CENT)) == D("0.37")
    # The largest remainder wins, not the first row: 0.10 / 0.19 of 0.30 -> 10.34 / 19.66 cents.
    assert largest_remainder([D("0.10"), D("0.19")], D("0.30"), CENT) == [D("0.10"), D("0.20")]
    assert largest_remainder([D(0), D(0)], D("0"), CENT) == [D("0"), D("0")]
    assert largest_remainder([], D("0"), CENT) == []
    assert largest_remainder([D("2.5"), D("7.5")], D("10"), D("1")) == [D("3"), D("7")]  # JPY: whole yen


def test_people_with_the_same_name_are_told_apart():
    labels = person_labels(
        {1: "Anna Schmidt", 2: "Anna Schmidt", 3: "Ben", 4: "Carl", 5: "carl "},
        {1: "E-1043", 2: "E-2001", 4: "E-7"},
        {4: ["+493011110004"], 5: ["+493011110005", "+493011110006"]},
    )
    assert labels == {
        1: "Anna Schmidt (employee no. E-1043)",
        2: "Anna Schmidt (employee no. E-2001)",
        3: "Ben",
        4: "Carl (employee no. E-7)",
        5: "carl  (line +493011110005, +493011110006)",
    }


def test_every_usage_type_is_in_the_location_and_person_rows_and_they_add_up(billed_org, make):
    """Texts and data count by location and person; rows sum to the usage total exactly, duration bands
    to the calls' total; a second 'Anna' is shown with her line."""
    org = billed_org
    flex = Plan.objects.get(code="flex-eur")
    PlanRate.objects.create(plan=flex, usage_type="data", price=D("0.05"), valid_from=date(2020, 1, 1))
    other_anna = make.person(org, name="Anna")
    line = make.line(org, "+493011114444", person=other_anna, since=datetime(2025, 1, 1, tzinfo=UTC))
    make.line_plan(line, flex, valid_from=date(2025, 1, 1))
    # Three data sessions of 0.333333 MB at 0.05 per MB: 0.016667 each, sums that need the rule.
    records = [
        replace(
            usage(org, line, datetime(2026, 10, 22, 9 + i, tzinfo=UTC), kind="data", person=other_anna),
            data_bytes=333_333,
        )
        for i in range(3)
    ]
    usage_records_write(records=records)
    st = statement_issue(organization=org, period=billing_period(org, 2026, 10), now=NOW)
    for dim in ("location", "person"):
        rows = list(st.breakdowns.filter(dimension=dim))
        assert sum(b.amount for b in rows) == st.usage_total == D("0.84"), dim
    calls_total = sum(x.amount for x in st.lines.filter(kind="usage", usage_type="voice"))
    assert sum(b.amount for b in st.breakdowns.filter(dimension="duration_band")) == calls_total == D("0.70")
    people = {b.label: (b.calls, b.messages, b.megabytes, b.amount) for b in st.breakdowns.filter(dimension="person")}
    assert people == {
        "Anna (line +493011112222)": (6, 0, D("0.00"), D("0.70")),
        "Anna (line +493011114444)": (0, 0, D("1.00"), D("0.05")),
        "Ben": (1, 1, D("0.00"), D("0.09")),
    }
    data = st.lines.get(kind="usage", usage_type="data")
    assert data.unit == "MB" and data.quantity == D("1.000") and data.amount == D("0.05")
