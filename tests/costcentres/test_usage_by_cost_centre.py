"""groupBy: COST_CENTRE in the API: October's usage of the ``tree`` fixture, split by the rules (Anna's line
60/40 between Sales and Support, Ben's usage of 20 October in Berlin to Support), rolled up on request."""

from decimal import Decimal as D

QUERY = """query($level: Int, $groupBy: [UsageDimension!]!) {
  usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: $groupBy, costCentreLevel: $level) {
    rows { keys { dimension value label } metrics { records cost } }
    totals { records cost }
  }
}"""


def rows(data):
    summary = data["usageSummary"]
    return [(r["keys"][0]["label"], r["metrics"]["records"], D(r["metrics"]["cost"])) for r in summary["rows"]]


def test_usage_by_cost_centre_with_the_split_and_the_mid_period_rule(issued_with_tree, api, token_for):
    org = issued_with_tree.organization
    data = api(token_for(org)).data(QUERY, {"groupBy": ["COST_CENTRE"]})
    # cost: Sales 60 % of Anna's 0.695, Support 40 % of it + Ben's text 0.09; records: Anna's 6 records split
    # 3.6/2.4 and Ben's 2 to Support, 3.6 + 4.4 rounded by largest remainder to 4 + 4
    assert rows(data) == [("1100 Sales", 4, D("0.417000")), ("1200 Support", 4, D("0.368000"))]  # by cost
    assert data["usageSummary"]["totals"] == {"records": 8, "cost": "0.785000"}
    assert data["usageSummary"]["rows"][0]["keys"][0]["dimension"] == "COST_CENTRE"


def test_rolled_up_to_the_roots(issued_with_tree, api, token_for):
    data = api(token_for(issued_with_tree.organization)).data(QUERY, {"groupBy": ["COST_CENTRE"], "level": 0})
    assert rows(data) == [("1000 Head office", 8, D("0.785000"))]


def test_usage_no_rule_covers_is_unallocated(billed_org, make, api, token_for):
    make.issued_statement(billed_org)
    data = api(token_for(billed_org)).data(QUERY, {"groupBy": ["COST_CENTRE"]})
    assert rows(data) == [("Unallocated", 8, D("0.785000"))]
    assert data["usageSummary"]["rows"][0]["keys"][0]["value"] is None


def test_cost_centre_with_another_dimension_is_a_clear_error(issued_with_tree, api, token_for):
    status, body = api(token_for(issued_with_tree.organization)).post(QUERY, {"groupBy": ["COST_CENTRE", "PERSON"]})
    error = body["errors"][0]
    assert error["message"] == "COST_CENTRE cannot be combined with other dimensions"
    assert error["extensions"]["field"] == "groupBy"
