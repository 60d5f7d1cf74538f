from datetime import UTC, datetime

import pytest

from billing.statements.pdf import statement_render
from billing.statements.services import billing_period, statement_issue
from portal.api.core.nodes import encode_id
from portal.models import AuditLog
from tests.statements.conftest import billed_org  # noqa: F401 - fixture

QUERY = """{ statements(first: 5) { edges { node { id number total subtotal taxAmount pdfUrl
             lines { position description amount } breakdowns(dimension: "person") { label amount } } } } }"""


@pytest.fixture
def issued(billed_org, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    statement = statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    statement_render(statement=statement)
    statement.refresh_from_db()
    return statement


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
    with django_assert_max_num_queries(8):
        client.data(QUERY)
