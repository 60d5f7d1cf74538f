"""Statements list and statement page: who sees them, isolation, the dispute form, query counts."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Dispute, Statement
from billing.periods import billing_period
from billing.statements.services import statement_issue
from portal.models import AuditLog


def test_admin_sees_list_and_statement(client, issued, signed_in):
    signed_in(issued.organization, role="admin")
    page = client.get("/statements/").content.decode()
    assert issued.number in page and "Issued" in page
    assert "PDF waiting to be rendered" in page  # pending PDFs say so instead of a dead link
    page = client.get(f"/statements/{issued.pk}/").content.decode()
    from billing.statements.payments import grouped, payment_reference

    for text in (
        "Previous balance",
        "Balance carried forward",
        "Total due",
        "Usage by location",
        "Charges by person",
        "Calls by duration",
        "Berlin",
        "Anna",
        "Line items",
        "Calls (CSV)",
        "Payment reference",
        grouped(payment_reference(issued)),
        "GB33 BUKB 2020 1555 5555 55",
    ):
        assert text in page, text
    assert f"/statements/{issued.pk}/calls.csv" in page
    assert "€" in page  # money in the organization's currency


def test_the_statement_page_is_in_the_statements_language(client, billed_org, signed_in):
    from datetime import UTC, datetime

    from billing.periods import billing_period
    from billing.statements.services import statement_issue

    billed_org.locale = "de-DE"
    billed_org.save()
    st = statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    signed_in(billed_org, role="admin")
    page = client.get(f"/statements/{st.pk}/").content.decode()
    assert '<html lang="de">' in page
    for text in (
        "Rechnung 2026-000001",
        "Vorsaldo",
        "Saldovortrag",
        "Zu zahlen",
        "Zahlungsreferenz",
        "Nutzung nach Standort",
        "Inklusive in Business Flex (pro Anschluss): 10,00 von 10,00 Min. genutzt",
        "10,00 Min.",
        "Reklamationen",
        "03.12.2026",
    ):
        assert text in page, text
    for english in ("Previous balance", "Total due", "Line items", "Included in", "Disputes"):
        assert english not in page, english


@pytest.mark.parametrize("role,status", [("analyst", 200), ("location_manager", 403), ("member", 403)])
def test_statements_by_role(client, issued, signed_in, make, role, status):
    org = issued.organization
    kw = {"person": org.anna} if role == "member" else {}
    membership = signed_in(org, role=role, **kw)
    if role == "location_manager":
        membership.locations.set([org.berlin])
    assert client.get("/statements/").status_code == status
    assert client.get(f"/statements/{issued.pk}/").status_code == status


def test_other_organizations_statement_is_not_found(client, issued, signed_in, make):
    signed_in(make.organization(), role="admin")
    assert client.get(f"/statements/{issued.pk}/").status_code == 404
    assert client.post(f"/statements/{issued.pk}/", {"line": 1, "reason": "x"}).status_code == 404
    assert issued.number not in client.get("/statements/").content.decode()


def test_drafts_are_never_shown(client, billed_org, signed_in):
    draft = Statement.objects.create(
        organization=billed_org,
        period_start=datetime(2026, 9, 1).date(),
        period_end=datetime(2026, 9, 30).date(),
        currency="EUR",
    )
    signed_in(billed_org, role="admin")
    assert client.get(f"/statements/{draft.pk}/").status_code == 404
    assert "Draft" not in client.get("/statements/").content.decode()


def test_pdf_link_when_rendered(client, issued, signed_in, settings, tmp_path):
    from billing.statements.pdf import statement_render

    settings.MEDIA_ROOT = tmp_path
    statement_render(statement=issued)
    signed_in(issued.organization, role="analyst")
    assert f'href="/statements/{issued.pk}/pdf"' in client.get("/statements/").content.decode()
    response = client.get(f"/statements/{issued.pk}/pdf")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")


def test_raise_a_dispute_and_see_it(client, issued, signed_in):
    signed_in(issued.organization, role="analyst")
    line = issued.lines.order_by("position").first()
    response = client.post(f"/statements/{issued.pk}/", {"line": line.pk, "reason": "We never called France."})
    assert response.status_code == 302
    dispute = Dispute.objects.get(line=line)
    assert dispute.reason == "We never called France." and dispute.status == "open"
    assert AuditLog.objects.filter(action="dispute.opened", target=issued.number).exists()
    page = client.get(f"/statements/{issued.pk}/").content.decode()
    assert "We never called France." in page and "Waiting for our billing team" in page
    # A second open dispute on the same line is a form error, not a 500.
    again = client.post(f"/statements/{issued.pk}/", {"line": line.pk, "reason": "Again"})
    assert again.status_code == 400 and "already has an open dispute" in again.content.decode()


def test_dispute_form_errors(client, issued, signed_in, make):
    signed_in(issued.organization, role="admin")
    line = issued.lines.first()
    response = client.post(f"/statements/{issued.pk}/", {"line": line.pk, "reason": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    # A line of another statement (here: of another organization) is not one of the choices.
    other = make.organization()
    other_statement = Statement.objects.create(
        organization=other,
        period_start=datetime(2026, 9, 1).date(),
        period_end=datetime(2026, 9, 30).date(),
        currency="EUR",
    )
    other_line = other_statement.lines.create(position=1, kind="recurring", description="x", amount=1)
    response = client.post(f"/statements/{issued.pk}/", {"line": other_line.pk, "reason": "mine?"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = client.post(f"/statements/{issued.pk}/", {"line": "abc", "reason": "x"})
    assert response.status_code == 400
    assert not Dispute.objects.exists()


def test_list_query_count_does_not_grow(client, billed_org, signed_in):
    signed_in(billed_org, role="admin")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/statements/").status_code == 200
        return len(queries)

    statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 7), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    one = count()
    # October after July: August and September are issued first (a missed period is caught up).
    statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert Statement.objects.filter(organization=billed_org).count() == 4
    assert count() == one
