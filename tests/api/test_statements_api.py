from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billing.periods import billing_period
from billing.statements.payments import payment_record
from billing.statements.services import statement_issue
from portal.api.core.nodes import encode_id
from portal.models import AuditLog
from tests import factories

QUERY = """{ statements(first: 5) { edges { node { id number total subtotal taxAmount pdfUrl
             lines { position description amount } breakdowns(dimension: "person") { label amount } } } } }"""


@pytest.fixture
def issued(billed_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return factories.issued_statement(billed_org, render=True)


def test_statements_with_totals_lines_and_pdf(issued, api, token_for, client):
    token = token_for(issued.organization, role="analyst", scopes=["statements:read"])
    node = api(token).data(QUERY)["statements"]["edges"][0]["node"]
    assert (node["number"], node["total"], node["subtotal"], node["taxAmount"]) == (
        issued.number,
        str(issued.total),
        str(issued.subtotal),
        str(issued.tax_amount),
    )
    assert sum(float(line["amount"]) for line in node["lines"]) == pytest.approx(float(issued.subtotal))
    assert {b["label"] for b in node["breakdowns"]} == {"Anna", "Ben"}
    response = client.get(node["pdfUrl"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"statement-{issued.organization.account_number}-2026-10.pdf" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditLog.objects.filter(action="statement.pdf_downloaded", target=issued.number).count() == 1


def test_statements_are_hidden_from_other_roles_scopes_and_organizations(issued, api, token_for, make, client):
    manager = token_for(issued.organization, role="location_manager", scopes=["statements:read"])
    _status, body = api(manager).post(QUERY)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    usage_only = token_for(issued.organization, role="admin", scopes=["usage:read"])
    assert api(usage_only).post(QUERY)[1]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outsider = token_for(make.organization(), role="admin")
    assert api(outsider).data(QUERY)["statements"]["edges"] == []
    gid = encode_id("Statement", issued.pk)
    assert api(outsider).data("query ($id: ID!) { node(id: $id) { id } }", {"id": gid}) == {"node": None}
    assert api(outsider).data('{ statement(number: "%s") { id } }' % issued.number) == {"statement": None}
    url = f"/statements/{issued.pk}/pdf"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {outsider}").status_code == 404
    assert client.get(f"/statements/{issued.pk + 999}/pdf", HTTP_AUTHORIZATION=f"Bearer {outsider}").status_code == 404
    assert client.get(url).status_code == 401


def test_statement_page_of_statements_costs_constant_queries(issued, api, token_for, django_assert_max_num_queries):
    client = api(token_for(issued.organization, role="admin"))
    client.data(QUERY)
    with django_assert_max_num_queries(10):
        client.data(QUERY)


def test_calls_csv_of_a_statement(issued, token_for, client, make):
    import csv
    import io

    from billing.models import UsageRecord

    token = token_for(issued.organization, role="analyst", scopes=["statements:read"])
    response = client.get(f"/statements/{issued.pk}/calls.csv", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and "calls.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    october = UsageRecord.objects.filter(organization=issued.organization, local_date__month=10)
    assert len(rows) == october.count() == 8
    assert sum(float(r["cost_EUR"] or 0) for r in rows) == pytest.approx(float(sum(r.cost for r in october)))
    # Masked for analysts, and neutralised against spreadsheet formulas (+49… would be a formula).
    assert rows[0]["other_party"].startswith("'+49 30 ••••")
    assert AuditLog.objects.filter(action="statement.calls_exported", target=issued.number).exists()
    outsider = token_for(make.organization(), role="admin")
    assert client.get(f"/statements/{issued.pk}/calls.csv", HTTP_AUTHORIZATION=f"Bearer {outsider}").status_code == 404


def test_safe_cell():
    from portal.web.statements import safe_cell

    assert [safe_cell(v) for v in ["=1+1", "+49", "-2", "@SUM(A1)", "Anna", None, 3]] == [
        "'=1+1",
        "'+49",
        "'-2",
        "'@SUM(A1)",
        "Anna",
        "",
        "3",
    ]


BALANCE_QUERY = """{
  balance { currency lastStatementNumber lastTotalDue paymentsSince balance }
  payments(first: 5) { edges { node { receivedOn amount currency reference statementNumber } } }
  statements(first: 1) { edges { node { number paymentReference
    balance { previousBalance paymentsReceived carriedForward newCharges totalDue payments { receivedOn reference amount } } } } }
}"""


def test_payments_and_balance(billed_org, api, token_for, make):

    from billing.statements.payments import payment_reference

    org = billed_org
    october = statement_issue(
        organization=org, period=billing_period(org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    payment_record(
        organization=org, received_on=date(2026, 11, 20), amount=D("30.00"), currency="EUR", reference="INV 1"
    )
    november = statement_issue(
        organization=org, period=billing_period(org, 2026, 11), now=datetime(2026, 12, 3, tzinfo=UTC)
    )
    payment_record(organization=org, received_on=date(2026, 12, 5), amount=D("2.00"), currency="EUR", reference="INV 2")
    token = token_for(org, role="analyst", scopes=["statements:read"])
    data = api(token).data(BALANCE_QUERY)
    assert data["balance"] == {
        "currency": "EUR",
        "lastStatementNumber": november.number,
        "lastTotalDue": str(november.total_due),
        "paymentsSince": "2.00",
        "balance": str(november.total_due - D("2.00")),
    }
    assert [e["node"] for e in data["payments"]["edges"]] == [
        {
            "receivedOn": "2026-12-05",
            "amount": "2.00",
            "currency": "EUR",
            "reference": "INV 2",
            "statementNumber": None,
        },
        {
            "receivedOn": "2026-11-20",
            "amount": "30.00",
            "currency": "EUR",
            "reference": "INV 1",
            "statementNumber": november.number,
        },
    ]
    node = data["statements"]["edges"][0]["node"]
    assert node["paymentReference"] == payment_reference(november)
    assert node["balance"] == {
        "previousBalance": str(october.total),
        "paymentsReceived": "30.00",
        "carriedForward": str(october.total - D("30.00")),
        "newCharges": str(november.total),
        "totalDue": str(october.total - D("30.00") + november.total),
        "payments": [{"receivedOn": "2026-11-20", "reference": "INV 1", "amount": "30.00"}],
    }
    # A member (no billing) sees neither.
    member = api(token_for(org, role="member", person=org.anna))
    status, body = member.post("{ balance { balance } }")
    assert body.get("data") is None or body["data"].get("balance") is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
