"""``manage.py einvoice_benchmark``: what e-invoices cost per statement, measured side by side in one run.

On the latest issued statements of the database it points at (``seed_demo`` makes some), nothing saved:
building the EN 16931 XML in each format, validating it by the official rule files (Saxon-HE worker,
compiled once per process: the first, compiling run is reported apart), and the statement PDF rendered
without and with the e-invoice embedded (PDF/A-3b, attachment, XMP), p50 and p95.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import replace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.einvoice.cii import cii_xml
from billing.einvoice.terms import CREDIT_NOTE, invoice_terms
from billing.einvoice.ubl import ubl_xml
from billing.einvoice.validation import validate
from billing.models import Statement, StatementEInvoice
from billing.statements.pdf import render_pdf, statement_html, statement_pdf_offers

FORMATS = ("facturx", "xrechnung", "peppol")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Time e-invoice XML, validation by the official rules, and PDF embedding on issued statements."

    def add_arguments(self, parser):
        parser.add_argument("--statements", type=int, default=20, help="How many of the latest statements")
        parser.add_argument("--pdf", type=int, default=10, help="How many of them to render as PDF")

    def handle(self, *args, statements: int, pdf: int, **options):
        chosen = list(
            Statement.objects.exclude(status=Statement.Status.DRAFT)
            .select_related("organization")
            .prefetch_related("lines")
            .order_by("-issued_at")[:statements]
        )
        if not chosen:
            raise CommandError("no issued statements: run `manage.py seed_demo` (or run_billing) first")
        build = {f: [] for f in FORMATS}
        check = {f: [] for f in FORMATS}
        first_ms = {}
        for statement in chosen:
            lines = list(statement.lines.all())
            if not lines:
                continue
            org = statement.organization
            for fmt in FORMATS:
                buyer = org
                if fmt != org.einvoice_format:  # the same statement as if the customer had chosen fmt
                    buyer = copy.copy(org)
                    buyer.einvoice_format = fmt
                    buyer.buyer_reference = buyer.buyer_reference or org.account_number
                    buyer.einvoice_address = buyer.einvoice_address or "EM:ap@customer.example"
                t0 = time.perf_counter()
                terms = invoice_terms(
                    statement=statement, lines=lines, organization=buyer, provider=settings.PROVIDER, format=fmt
                )
                if not (terms.buyer.address.city and terms.buyer.address.postcode):  # demo data may lack them
                    terms = replace(
                        terms,
                        buyer=replace(
                            terms.buyer, address=replace(terms.buyer.address, city="Berlin", postcode="10115")
                        ),
                    )
                xml = ubl_xml(terms) if fmt == "peppol" else cii_xml(terms)
                build[fmt].append((time.perf_counter() - t0) * 1000)
                rules = (
                    ("peppol-creditnote" if terms.type_code == CREDIT_NOTE else "peppol") if fmt == "peppol" else fmt
                )
                t0 = time.perf_counter()
                validate(xml, rules)
                elapsed = (time.perf_counter() - t0) * 1000
                if fmt not in first_ms:
                    first_ms[fmt] = elapsed  # includes compiling the rule files in the worker
                else:
                    check[fmt].append(elapsed)

        rows = [("what", "n", "p50 ms", "p95 ms")]
        for fmt in FORMATS:
            rows.append((f"XML build {fmt}", len(build[fmt]), statistics.median(build[fmt]), _p(build[fmt], 0.95)))
        for fmt in FORMATS:
            rows.append((f"first validation {fmt} (compiles rules)", 1, first_ms.get(fmt, 0), first_ms.get(fmt, 0)))
            if check[fmt]:
                rows.append((f"validation {fmt}", len(check[fmt]), statistics.median(check[fmt]), _p(check[fmt], 0.95)))

        plain, embedded = [], []
        rendered = [s for s in chosen if StatementEInvoice.objects.filter(statement=s).exists()][:pdf]
        for statement in rendered:
            offers = statement_pdf_offers(statement)
            einvoice = StatementEInvoice.objects.get(statement=statement)
            lines = list(statement.lines.all())
            render_pdf(statement_html(statement, offers=offers))  # warm-up: fonts and Pango load once per process
            t0 = time.perf_counter()
            render_pdf(statement_html(statement, offers=offers))
            plain.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            terms = invoice_terms(
                statement=statement,
                lines=lines,
                organization=statement.organization,
                provider=settings.PROVIDER,
                format=einvoice.format,
            )
            (ubl_xml if einvoice.format == "peppol" else cii_xml)(terms)  # the XML as issued: built, then embedded
            render_pdf(statement_html(statement, offers=offers), einvoice=einvoice)
            embedded.append((time.perf_counter() - t0) * 1000)
        if plain:
            rows.append(("PDF without e-invoice", len(plain), statistics.median(plain), _p(plain, 0.95)))
            rows.append(
                (
                    "PDF with e-invoice (HTML + XML + PDF/A-3b)",
                    len(embedded),
                    statistics.median(embedded),
                    _p(embedded, 0.95),
                )
            )
            ratio = _p(embedded, 0.95) / _p(plain, 0.95)
        for name, n, p50, p95 in rows[:1] + [(a, str(b), f"{c:.1f}", f"{d:.1f}") for a, b, c, d in rows[1:]]:
            self.stdout.write(f"{name:<48} {n:>4} {p50:>9} {p95:>9}")
        if plain:
            self.stdout.write(f"PDF p95 with / without e-invoice: {ratio:.2f} (target: with ≤ 500 ms)")
