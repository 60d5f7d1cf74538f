"""Template v3 (issue 17, items 1 and 3): the balance and how to pay, the provider's legal details, and
every word, number, date and unit in the customer's language (German, Dutch, French, English)."""

import io
import os
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from pypdf import PdfReader

from billing.periods import billing_period
from billing.statements.payments import grouped, payment_record, payment_reference
from billing.statements.pdf import render_pdf, statement_html
from billing.statements.services import statement_issue

OCTOBER = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def _text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return "\n".join(page.extract_text() for page in pages).replace("\xa0", " ").replace("\u202f", " ")


def _issue(org, locale, currency="EUR", **kw):
    org.locale, org.currency = locale, currency
    for name, value in kw.items():
        setattr(org, name, value)
    org.save()
    # September is billed first, then paid in part, so October carries a balance forward.
    september = statement_issue(
        organization=org, period=billing_period(org, 2026, 9), now=datetime(2026, 10, 2, tzinfo=UTC)
    )
    payment_record(
        organization=org,
        received_on=date(2026, 10, 20),
        amount=D("15.00"),
        currency=currency,
        reference="Überweisung 4711",
    )
    october = statement_issue(organization=org, period=billing_period(org, 2026, 10), now=OCTOBER)
    assert october.previous_balance == september.total == D("23.80")
    assert october.balance_carried_forward == D("8.80") and october.total_due == D("8.80") + october.total
    pdf = render_pdf(statement_html(october))
    if os.environ.get("STATEMENT_PDF_DIR"):  # to look at them: STATEMENT_PDF_DIR=/tmp/pdfs pytest …
        Path(os.environ["STATEMENT_PDF_DIR"], f"statement-{locale}.pdf").write_bytes(pdf)
    return october, _text(pdf)


@pytest.mark.slow
def test_german_statement_is_german_throughout_and_adds_up(billed_org, settings):
    st, text = _issue(billed_org, "de-DE", billing_address="Musterstraße 1\n10115 Berlin")
    assert st.language == "de" and st.total == D("37.02") and st.total_due == D("45.82")
    for words in (
        "Vorsaldo 23,80 €",
        "Erhaltene Zahlungen -15,00 €",
        "Saldovortrag 8,80 €",
        "Neue Entgelte 37,02 €",
        "Zu zahlen 45,82 €",
        "20.10.2026 Überweisung 4711 15,00 €",
        "Bitte überweisen Sie 45,82 € bis zum 03.12.2026 unter Angabe der Zahlungsreferenz.",
        f"Zahlungsreferenz {grouped(payment_reference(st))}",
        "IBAN GB33 BUKB 2020 1555 5555 55",
        "BIC BUKBGB22",
        "30 Tage netto",
        "Inklusive in Business Flex (pro Anschluss): 10,00 von 10,00 Min. genutzt",
        "Gespräche nach Dauer",
        "05.10.26, 11:00",  # a longest call's start, German short date and time
        settings.PROVIDER["registration"],
    ):
        assert words in text, words
    for english in ("Included in", "Total due", "Payment reference", "flex-eur", " of 10", "Previous balance"):
        assert english not in text, english
    assert "1819.69" not in text and "10.00" not in text  # numbers inside sentences are German too


@pytest.mark.slow
def test_dutch_statement_is_dutch_with_dutch_numbers(billed_org):
    st, text = _issue(billed_org, "nl-NL")
    assert st.language == "nl"
    for words in (
        "Factuur",
        "Vorig saldo € 23,80",
        "Overgedragen saldo € 8,80",
        "Te betalen € 45,82",
        "Betalingskenmerk",
        "Inbegrepen in Business Flex (per aansluiting): 10,00 van 10,00 min gebruikt",
        "Gesprekken: Nationaal — 2 registraties",
        "Verbruik per locatie",
        "3 nov 2026",
    ):
        assert words in text, words
    assert "Statement" not in text and "Included in" not in text


@pytest.mark.slow
def test_us_statement_is_in_english_with_us_formats(billed_org):
    st, text = _issue(billed_org, "en-US", currency="USD", time_zone="America/New_York")
    assert st.language == "en"
    for words in (
        "Previous balance $23.80",
        "Payments received -$15.00",
        "Balance carried forward $8.80",
        "Total due $45.82",
        "Please transfer $45.82 by Dec 3, 2026, quoting the payment reference.",
        "Included in Business Flex (per line): 10.00 of 10.00 min used",
        "Calls only: text messages and data sessions have no duration.",
    ):
        assert words in text, words
