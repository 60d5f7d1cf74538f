import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.models import Statement
from billing.periods import billing_period
from billing.statements.pdf import CURRENT_TEMPLATE_VERSION, render_pdf, statement_html, statement_render
from billing.statements.services import statement_issue

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


@pytest.mark.slow
def test_pdf_text_carries_the_statement_totals_and_renders_identically(billed_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    billed_org.locale = "de-DE"
    billed_org.billing_address = "Musterstraße 1\n10115 Berlin"
    billed_org.save()
    st = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=NOW)
    path = statement_render(statement=st)
    st.refresh_from_db()
    assert st.pdf_status == "ready" and len(st.pdf_sha256) == 64
    pages = PdfReader(io.BytesIO(path.read_bytes())).pages
    text = "\n".join(page.extract_text() for page in pages).replace("\xa0", " ")
    assert st.number in text and billed_org.account_number in text and "Hand GmbH" in text
    # German locale formatting of exactly the numbers in the database.
    assert (st.subtotal, st.tax_amount, st.total) == (Decimal("31.11"), Decimal("5.91"), Decimal("37.02"))
    for amount in ("Zwischensumme 31,11 €", "5,91 €", "Zu zahlen 37,02 €", "20,00 €", "10,32 €"):
        assert amount in text, amount
    assert "+33 1 •••••• 00" in text  # masked number in the longest calls
    # In German throughout: template, line descriptions and duration bands.
    for words in (
        "Rechnungsnummer",
        "Anrufe: National — 2 Vorgänge",
        "von 31 Tagen",
        "Unter 1 Min.",
        "Längste Gespräche",
    ):
        assert words in text, words
    assert "Total due" not in text and "Calls:" not in text
    again = render_pdf(statement_html(st), einvoice=st.einvoice)  # the PDF carries the statement's e-invoice
    assert again == path.read_bytes(), "an issued statement must re-render identically"


def _pdf_words(pdf: bytes) -> list[str]:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return sorted(" ".join(page.extract_text() for page in pages).replace("\xa0", " ").split())


@pytest.mark.slow
def test_new_statements_use_the_faster_template_which_says_what_v1_says(billed_org, settings, tmp_path):
    """Template v2 (laid out for a fast render) carries every word and number of v1; statements issued
    with v1 keep it, so their PDFs still re-render byte for byte."""
    settings.MEDIA_ROOT = tmp_path
    billed_org.locale = "fr-FR"
    billed_org.save()
    st = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=NOW)
    assert st.template_version == CURRENT_TEMPLATE_VERSION == 3
    issued_with_v2 = Statement.objects.select_related("organization").get(pk=st.pk)
    issued_with_v2.template_version = 2  # in memory: how a statement issued with v2 renders
    v2 = render_pdf(statement_html(issued_with_v2))
    issued_with_v1 = Statement.objects.select_related("organization").get(pk=st.pk)
    issued_with_v1.template_version = 1  # in memory: how a statement issued before v2 renders
    v1 = render_pdf(statement_html(issued_with_v1))
    assert v1 != v2
    assert _pdf_words(v1) == _pdf_words(v2)
    assert {st.number, "37,02", "31,11", "5,91"} <= set(_pdf_words(v1))  # French: decimal commas
    assert render_pdf(statement_html(issued_with_v1)) == v1, "a v1 statement re-renders identically"
