"""The organization's administrator sets the e-invoice fields in the portal: checked as the statements need
them, saved by one service with one audit row, refused whole with a message that names the field."""

from billing.models import AuditLog, Organization
from tests import factories

VALID = {
    "einvoice_format": "xrechnung",
    "buyer_reference": "04011000-12345-34",
    "vat_id": "DE136695976",
    "einvoice_address": "EM:rechnungseingang@hand.example",
}


def _org(billed_org) -> Organization:
    billed_org.country = "DE"
    billed_org.billing_address = "Hauptstraße 1\n10115 Berlin"
    billed_org.save(update_fields=["country", "billing_address"])
    return billed_org


def test_admin_sets_the_einvoice_fields_with_one_audit_row(client, billed_org, signed_in):
    org = _org(billed_org)
    membership = signed_in(org, role="admin")
    response = client.post("/settings/e-invoice/", VALID)
    assert response.status_code == 302 and response["Location"] == "/settings/e-invoice/"
    org.refresh_from_db()
    assert (org.einvoice_format, org.buyer_reference, org.vat_id, org.einvoice_address) == tuple(VALID.values())
    rows = list(AuditLog.objects.filter(organization=org, action="organization.einvoice_changed"))
    assert len(rows) == 1
    assert rows[0].user_id == membership.user_id and rows[0].target == "einvoice"
    assert rows[0].details["changed"]["einvoice_format"] == ["facturx", "xrechnung"]
    assert rows[0].details["changed"]["buyer_reference"] == ["", "04011000-12345-34"]
    # Saving the same values again changes nothing and writes no second row.
    assert client.post("/settings/e-invoice/", VALID).status_code == 302
    assert AuditLog.objects.filter(organization=org, action="organization.einvoice_changed").count() == 1
    # The next statement's e-invoice is an XRechnung carrying the Leitweg-ID (BT-10) and is valid.
    statement = factories.issued_statement(org)
    assert statement.einvoice.format == "xrechnung" and statement.einvoice.valid
    assert "<ram:BuyerReference>04011000-12345-34</ram:BuyerReference>" in statement.einvoice.xml


def test_xrechnung_without_buyer_reference_is_refused_whole(client, billed_org, signed_in):
    org = _org(billed_org)
    signed_in(org, role="admin")
    response = client.post("/settings/e-invoice/", {**VALID, "buyer_reference": "", "vat_id": "DE000000000"})
    assert response.status_code == 400
    page = response.content.decode()
    # Every reason at once, each under its field.
    assert "XRechnung needs the buyer reference (BT-10)" in page
    assert "is not a valid VAT ID of DE" in page
    org.refresh_from_db()
    assert org.einvoice_format == "facturx" and org.vat_id == ""
    assert not AuditLog.objects.filter(organization=org, action="organization.einvoice_changed").exists()


def test_a_wrong_vat_id_is_a_field_error(client, billed_org, signed_in):
    org = _org(billed_org)
    signed_in(org, role="admin")
    response = client.post("/settings/e-invoice/", {**VALID, "vat_id": "DE123"})
    assert response.status_code == 400
    assert "is not a valid VAT ID of DE" in response.content.decode()
    org.refresh_from_db()
    assert org.vat_id == "" and org.einvoice_format == "facturx"


def test_xrechnung_needs_the_buyers_post_code_and_city(client, billed_org, signed_in):
    org = _org(billed_org)
    org.billing_address = "Hauptstraße 1"
    org.save(update_fields=["billing_address"])
    signed_in(org, role="admin")
    response = client.post("/settings/e-invoice/", VALID)
    assert response.status_code == 400 and "post code and city (BT-52, BT-53)" in response.content.decode()
    org.refresh_from_db()
    assert org.einvoice_format == "facturx"


def test_peppol_needs_an_electronic_address(client, billed_org, signed_in):
    org = _org(billed_org)
    signed_in(org, role="admin")
    response = client.post("/settings/e-invoice/", {**VALID, "einvoice_format": "peppol", "einvoice_address": "ap"})
    assert response.status_code == 400 and "scheme:id" in response.content.decode()


def test_only_administrators_reach_the_page(client, billed_org, signed_in):
    org = _org(billed_org)
    signed_in(org, role="analyst")
    assert client.get("/settings/e-invoice/").status_code == 403
    assert client.post("/settings/e-invoice/", VALID).status_code == 403
    org.refresh_from_db()
    assert org.einvoice_format == "facturx"
