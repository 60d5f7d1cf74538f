from decimal import Decimal as D

QUERY = """query($n: String!) {
  costCentres { code name glAccount parentCode depth active }
  statementChargeback(number: $n) {
    number currency total
    costCentres { costCentre { code depth } glAccount net tax gross rolledGross }
  }
}"""


def test_statement_chargeback_over_the_api(issued_with_tree, api, token_for):
    st = issued_with_tree
    data = api(token_for(st.organization)).data(QUERY, {"n": st.number})
    assert data["costCentres"] == [
        {"code": "1000", "name": "Head office", "glAccount": "6805", "parentCode": None, "depth": 0, "active": True},
        {"code": "1100", "name": "Sales", "glAccount": None, "parentCode": "1000", "depth": 1, "active": True},
        {"code": "1200", "name": "Support", "glAccount": "6810", "parentCode": "1000", "depth": 1, "active": True},
    ]
    charge = data["statementChargeback"]
    rows = [
        ((r["costCentre"] or {}).get("code"), r["glAccount"], D(r["gross"]), D(r["rolledGross"]))
        for r in charge["costCentres"]
    ]
    assert rows == [
        ("1000", "6805", D("0.00"), D("33.95")),
        ("1100", "6805", D("14.78"), D("14.78")),
        ("1200", "6810", D("19.17"), D("19.17")),
        (None, None, D("-2.88"), D("-2.88")),
    ]
    assert sum(D(r["gross"]) for r in charge["costCentres"]) == D(charge["total"]) == st.total


def test_a_location_manager_gets_no_chargeback(issued_with_tree, api, token_for):
    org = issued_with_tree.organization
    token = token_for(org, role="location_manager")
    status, body = api(token).post(QUERY, {"n": issued_with_tree.number})
    assert body["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "PERMISSION_DENIED"}, body
