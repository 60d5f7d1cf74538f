"""Statement PDFs with WeasyPrint, from the statement's frozen data and a versioned template.

Templates live in ``templates/billing/statements/v<N>/``; a statement stores the version it was issued
with, so a new template never changes how an old statement looks. Rendering reads only the statement
and its lines, breakdowns and frozen details, so an issued statement re-renders byte for byte.
"""

from __future__ import annotations

import gc
import hashlib
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from billing.formatting import Formatter
from billing.models import Statement, StatementEInvoice
from billing.statements import hooks
from billing.statements.builder import unit_label
from billing.statements.charts import bar_chart
from billing.statements.payments import grouped, payment_reference

# The template new statements are issued with. v2 carries what v1 does, laid out for a fast render; v3
# adds the balance (payments received, carried forward, total due), payment instructions with the RF
# reference, the provider's legal details, breakdowns of every usage type that add up, and is wholly in
# the statement's language (numbers, dates and units formatted for it).
CURRENT_TEMPLATE_VERSION = 3
PEOPLE_SHOWN = 15


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def statement_html(statement: Statement, offers=()) -> str:
    if statement.template_version >= 3:
        return _statement_html_v3(statement, offers)
    org = statement.organization
    fmt = Formatter(org)
    breakdowns = list(statement.breakdowns.all())

    def rows(dimension):
        return [
            {
                "label": b.label,
                "calls": fmt.number(b.calls),
                "minutes": fmt.number(b.minutes, 2),
                "amount": fmt.money(b.amount),
                "raw": b,
            }
            for b in sorted(
                (b for b in breakdowns if b.dimension == dimension),
                key=lambda b: (b.duration_band if dimension == "duration_band" else -b.amount, b.label),
            )
        ]

    people = rows("person")
    rest = people[PEOPLE_SHOWN:]
    details = statement.details or {}
    daily = [(day[5:], Decimal(amount)) for day, amount in details.get("daily_cost", [])]
    context = {
        "st": statement,
        "org": org,
        "language": statement.language,
        "provider": settings.PROVIDER,
        "period_start": fmt.date(statement.period_start),
        "period_end": fmt.date(statement.period_end),
        "issued": fmt.date(statement.issued_at.astimezone(org.tz).date()) if statement.issued_at else "",
        "due": fmt.date(statement.due_date) if statement.due_date else "",
        "tax_percent": f"{fmt.number(statement.tax_rate * 100, 1)} %",
        "money": {
            name: fmt.money(getattr(statement, name))
            for name in (
                "previous_balance",
                "recurring_total",
                "usage_total",
                "adjustments_total",
                "subtotal",
                "tax_amount",
                "total",
            )
        },
        "by_location": rows("location"),
        "by_band": rows("duration_band"),
        "by_person": people[:PEOPLE_SHOWN],
        "people_shown": PEOPLE_SHOWN,
        "people_more": len(rest),
        "people_more_calls": fmt.number(sum(r["raw"].calls for r in rest)),
        "people_more_minutes": fmt.number(sum((r["raw"].minutes for r in rest), Decimal(0)), 2),
        "people_more_amount": fmt.money(sum((r["raw"].amount for r in rest), Decimal(0))),
        "longest": [
            {**c, "duration": _duration(c["seconds"]), "amount": fmt.money(Decimal(c["amount"]))}
            for c in details.get("longest_calls", [])
        ],
        "lines": _line_rows(statement, fmt),
        "chart": bar_chart(daily, title="Daily usage cost", tooltips=statement.template_version < 2),
        "offers": offers,
    }
    with translation.override(statement.language):
        return render_to_string(f"billing/statements/v{statement.template_version}/statement.html", context)


def statement_context_v3(statement: Statement) -> dict:
    """What template v3 shows, every number, date and unit formatted for the statement's language (the
    portal's statement page shows the same). Reads only the statement and what was frozen with it."""
    from babel.dates import format_datetime

    org = statement.organization
    fmt = Formatter(org, statement.language)
    breakdowns = list(statement.breakdowns.all())

    def rows(dimension):
        chosen = sorted(
            (b for b in breakdowns if b.dimension == dimension),
            key=lambda b: (b.duration_band if dimension == "duration_band" else -b.amount, b.label),
        )
        return [
            {
                "label": b.label,
                "calls": fmt.number(b.calls),
                "minutes": fmt.number(b.minutes, 2),
                "messages": fmt.number(b.messages),
                "megabytes": fmt.number(b.megabytes, 2),
                "amount": fmt.money(b.amount),
                "raw": b,
            }
            for b in chosen
        ]

    def total_row(chosen):
        return {
            "calls": fmt.number(sum(r["raw"].calls for r in chosen)),
            "minutes": fmt.number(sum((r["raw"].minutes for r in chosen), Decimal(0)), 2),
            "messages": fmt.number(sum(r["raw"].messages for r in chosen)),
            "megabytes": fmt.number(sum((r["raw"].megabytes for r in chosen), Decimal(0)), 2),
            "amount": fmt.money(sum((r["raw"].amount for r in chosen), Decimal(0))),
        }

    people = rows("person")
    rest = people[PEOPLE_SHOWN:]
    details = statement.details or {}
    daily = [(str(int(day[8:])), Decimal(amount)) for day, amount in details.get("daily_cost", [])]
    reference = payment_reference(statement) if statement.number else ""
    provider = settings.PROVIDER
    locations, bands = rows("location"), rows("duration_band")

    def started(text):
        return format_datetime(datetime.strptime(text, "%Y-%m-%d %H:%M"), "short", locale=fmt.locale)

    return {
        "st": statement,
        "org": org,
        "language": statement.language,
        "provider": provider,
        "iban": " ".join(provider.get("iban", "")[i : i + 4] for i in range(0, len(provider.get("iban", "")), 4)),
        "payment_reference": grouped(reference) if reference else "",
        "payment_reference_raw": reference,
        "period_start": fmt.date(statement.period_start),
        "period_end": fmt.date(statement.period_end),
        "issued": fmt.date(statement.issued_at.astimezone(org.tz).date()) if statement.issued_at else "",
        "due": fmt.date(statement.due_date) if statement.due_date else "",
        "tax_percent": f"{fmt.number(statement.tax_rate * 100, 1)} %",
        "money": {
            name: fmt.money(value)
            for name, value in {
                "previous_balance": statement.previous_balance,
                "payments_total": -statement.payments_total,
                "balance_carried_forward": statement.balance_carried_forward,
                "recurring_total": statement.recurring_total,
                "usage_total": statement.usage_total,
                "adjustments_total": statement.adjustments_total,
                "subtotal": statement.subtotal,
                "tax_amount": statement.tax_amount,
                "total": statement.total,
                "total_due": statement.amount_due,
            }.items()
        },
        "credit_balance": statement.amount_due < 0,
        "payments": [
            {
                "received_on": fmt.date(date.fromisoformat(p["received_on"])),
                "reference": p["reference"],
                "amount": fmt.money(Decimal(p["amount"])),
            }
            for p in details.get("payments", [])
        ],
        "by_location": locations,
        "by_location_total": total_row(locations),
        "by_band": bands,
        "by_band_total": total_row(bands),
        "by_person": people[:PEOPLE_SHOWN],
        "by_person_all": people,
        "by_person_total": total_row(people),
        "people_shown": PEOPLE_SHOWN,
        "people_more": len(rest),
        "people_more_row": total_row(rest),
        "longest": [
            {
                **c,
                "started": started(c["started"]),
                "duration": _duration(c["seconds"]),
                "amount": fmt.money(Decimal(c["amount"])),
            }
            for c in details.get("longest_calls", [])
        ],
        "lines": _line_rows(statement, fmt, units=True),
        "daily": daily,
        "offers": (),
    }


def _statement_html_v3(statement: Statement, offers) -> str:
    with translation.override(statement.language):
        context = statement_context_v3(statement)
        context["offers"] = offers
        context["chart"] = bar_chart(context.pop("daily"), title=gettext("Daily usage cost"), tooltips=False)
        return render_to_string("billing/statements/v3/statement.html", context)


def _line_rows(statement, fmt, units: bool = False) -> list[dict]:
    """The line items; the first line charging an earlier period opens the section "Usage from earlier
    periods" (statements issued before late usage existed have none, so they render as issued)."""
    rows, section_open = [], False
    for line in statement.lines.all():
        row = {
            "position": line.position,
            "description": line.description,
            "quantity": fmt.number(line.quantity, 0 if line.unit in ("days", "msg") else 2),
            "unit": unit_label(line.unit) if units else line.unit,
            "amount": fmt.money(line.amount),
        }
        if line.usage_period_start and not section_open:
            row["section"], section_open = gettext_lazy("Usage from earlier periods"), True
        rows.append(row)
    return rows


def render_pdf(html: str, einvoice=None) -> bytes:
    """The PDF of a statement's HTML. With the statement's e-invoice it is a PDF/A-3b file carrying the
    XML (Factur-X / ZUGFeRD for CII); statements issued before e-invoices have none and render as issued."""
    from weasyprint import HTML  # imported lazily: loading Pango costs ~0.3 s and most processes never render

    # fontTools stamps embedded font subsets with the current time unless SOURCE_DATE_EPOCH is set;
    # a fixed value makes the same statement render to the same bytes (and the same checksum).
    os.environ["SOURCE_DATE_EPOCH"] = "946684800"

    options = {}
    if einvoice is not None:
        from billing.einvoice.facturx import pdf_options

        options = pdf_options(einvoice)
    pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(**options)
    _gc_freeze_once()
    return pdf


_gc_frozen = False


def _gc_freeze_once() -> None:
    """After a process's first render (WeasyPrint, Pango, fonts and templates loaded), move everything
    alive to the garbage collector's permanent generation, once.

    A render creates hundreds of thousands of short-lived objects; the full collections they trigger
    walked the whole heap of loaded libraries again and again, so every other render cost ~100 ms more
    CPU (a 3-page statement: 220–240 or 290–350 ms of CPU; frozen 215–265 ms; a billing-run statement
    250/350 ms alternating, ~245 ms once frozen). Frozen objects are still freed by reference counting;
    only reference cycles among them wait, and the libraries' objects live as long as the process."""
    global _gc_frozen
    if not _gc_frozen:
        _gc_frozen = True
        gc.collect()
        gc.freeze()


def statement_pdf_path(statement: Statement) -> Path:
    return Path(settings.MEDIA_ROOT) / "statements" / statement.organization.account_number / f"{statement.number}.pdf"


def statement_pdf_offers(statement: Statement) -> list[dict]:
    """The offer block of a statement's PDF: the offers frozen with the statement (billing/statement_offers.py
    says why frozen), through the hook offers register into, so this package does not import them."""
    return hooks.statement_pdf_offers(statement)


def statement_render(*, statement: Statement) -> Path:
    """Render and store the PDF of an issued statement; records its checksum and marks it ready."""
    einvoice = StatementEInvoice.objects.filter(statement=statement).first()
    pdf = render_pdf(statement_html(statement, offers=statement_pdf_offers(statement)), einvoice=einvoice)
    path = statement_pdf_path(statement)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pdf)
    tmp.replace(path)  # atomic: a reader never sees half a file
    Statement.objects.filter(pk=statement.pk).update(
        pdf_status=Statement.PdfStatus.READY,
        pdf_file=str(path.relative_to(settings.MEDIA_ROOT)),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pdf_error="",
    )
    return path
