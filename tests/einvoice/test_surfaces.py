"""E-invoice downloads: the statement page and list link them, the API answers statement { einvoice },
each download is audited, another organization's is not found."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import AuditLog

pytestmark = pytest.mark.slow


def test_download_from_the_statement_page_and_list_is_audited(client, issued, signed_in):
    signed_in(issued.organization, role="analyst")
    url = f"/statements/{issued.pk}/einvoice.xml"
    assert f'href="{url}"' in client.get(f"/statements/{issued.pk}/").content.decode()
    assert f'href="{url}"' in client.get("/statements/").content.decode()
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    assert response.content.decode() == issued.einvoice.xml
    assert "facturx.xml" in response["Content-Disposition"]
    row = AuditLog.objects.get(action="statement.einvoice_downloaded")
    assert row.target == issued.number and row.details == {"format": "facturx"}


def test_another_organizations_e_invoice_is_not_found(client, issued, signed_in, make):
    signed_in(make.organization(), role="admin")
    assert client.get(f"/statements/{issued.pk}/einvoice.xml").status_code == 404
    assert not AuditLog.objects.filter(action="statement.einvoice_downloaded").exists()


def test_graphql_statement_einvoice(api, token_for, issued, client):
    query = "{ statements(first: 5) { edges { node { number einvoice { format typeCode valid url } } } } }"
    token = token_for(issued.organization)
    with CaptureQueriesContext(connection) as queries:
        data = api(token).data(query)
    (node,) = [e["node"] for e in data["statements"]["edges"]]
    assert node["einvoice"]["format"] == "FACTURX" and node["einvoice"]["valid"] is True
    assert node["einvoice"]["typeCode"] == "380"
    assert node["einvoice"]["url"].endswith(f"/statements/{issued.pk}/einvoice.xml")
    assert not any(
        "billing_statementeinvoice" in q["sql"] and "SELECT" in q["sql"][:10] and "JOIN" not in q["sql"]
        for q in queries.captured_queries
    )
    response = client.get(f"/statements/{issued.pk}/einvoice.xml", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.content.decode() == issued.einvoice.xml


def test_einvoice_benchmark_prints_its_table(issued, settings, tmp_path):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("einvoice_benchmark", statements=1, pdf=1, stdout=out)
    text = out.getvalue()
    for row in ("XML build facturx", "first validation xrechnung", "PDF with e-invoice", "PDF p95 with / without"):
        assert row in text
