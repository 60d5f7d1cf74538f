"""The chargeback journal of an issued statement: one booking per cost centre and kind of charge (fees,
usage, adjustments), with its net, tax and gross amounts; written as the portal's CSV layout or as a DATEV
booking batch (``billing.costcentres.datev``), as the organization chose.

CSV layout (UTF-8, comma-separated, one header row, amounts with a decimal point and the currency's minor
unit, negative for credits); the columns, in order:

    date            the statement's issue date (organization's local date, YYYY-MM-DD)
    gl_account      the cost centre's GL account (else its nearest ancestor's, else the default account)
    cost_centre     the cost centre's code; blank for what no rule allocates ("unallocated")
    cost_centre_name
    net             the cost centre's share of the statement lines of this kind
    tax             its share of the statement's tax
    gross           net + tax
    tax_code        EN 16931 VAT category and rate in percent, e.g. S19 (19 % standard rate), AE0
    currency        ISO 4217
    text            what was booked, e.g. "Usage 10/2026 4100 Sales"
    statement_number

The rows' net add up to the statement's subtotal, their tax to its tax and their gross to its total, to the
minor unit (see ``billing.costcentres.chargeback`` for the rounding rule).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from billing.costcentres.chargeback import Chargeback
from billing.models import CostCentre, JournalSettings

CSV_COLUMNS = [
    "date",
    "gl_account",
    "cost_centre",
    "cost_centre_name",
    "net",
    "tax",
    "gross",
    "tax_code",
    "currency",
    "text",
    "statement_number",
]


@dataclass(frozen=True)
class JournalRow:
    date: date
    gl_account: str
    cost_centre: str
    cost_centre_name: str
    kind: str
    net: Decimal
    tax: Decimal
    gross: Decimal
    tax_code: str
    currency: str
    text: str
    statement_number: str


def gl_account_of(cost_centre: CostCentre | None, default: str) -> str:
    node = cost_centre
    while node is not None:
        if node.gl_account:
            return node.gl_account
        node = node.parent
    return default


def tax_code(vat_category: str, rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    return f"{vat_category}{percent:f}"


def journal_rows(chargeback: Chargeback, settings: JournalSettings) -> list[JournalRow]:
    statement = chargeback.statement
    organization = statement.organization
    issued_on = statement.issued_at.astimezone(organization.tz).date()
    vat_category = next((line.vat_category for line in chargeback.lines if line.vat_category), "")
    code = tax_code(vat_category or organization.effective_vat_category, statement.tax_rate)
    with translation.override(statement.language):
        kinds = {"recurring": _("Fees"), "usage": _("Usage"), "adjustment": _("Adjustments")}
        unallocated = _("Unallocated")
        rows = []
        for (cc_id, kind), (net, tax) in chargeback.rows.items():
            cost_centre = chargeback.cost_centres.get(cc_id) if cc_id is not None else None
            label = f"{cost_centre.code} {cost_centre.name}" if cost_centre else unallocated
            rows.append(
                JournalRow(
                    date=issued_on,
                    gl_account=gl_account_of(cost_centre, settings.default_gl_account),
                    cost_centre=cost_centre.code if cost_centre else "",
                    cost_centre_name=cost_centre.name if cost_centre else unallocated,
                    kind=kind,
                    net=net,
                    tax=tax,
                    gross=net + tax,
                    tax_code=code,
                    currency=statement.currency,
                    text=f"{kinds.get(kind, kind)} {statement.period_start:%m/%Y} {label}"[:60],
                    statement_number=statement.number,
                )
            )
    return rows


def _text(value: str) -> str:
    """Names and texts are people's input: a leading =, +, -, @, tab or CR would run as a spreadsheet formula."""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def journal_csv(rows: list[JournalRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.date.isoformat(),
                row.gl_account,
                row.cost_centre,
                _text(row.cost_centre_name),
                f"{row.net:f}",
                f"{row.tax:f}",
                f"{row.gross:f}",
                row.tax_code,
                row.currency,
                _text(row.text),
                row.statement_number,
            ]
        )
    return out.getvalue().encode("utf-8")


def journal_filename(statement, extension: str = "csv", prefix: str = "journal") -> str:
    return f"{prefix}-{statement.organization.account_number}-{statement.period_start:%Y-%m}.{extension}"
