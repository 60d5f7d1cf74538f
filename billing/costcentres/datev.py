"""The chargeback journal as a DATEV booking batch: DATEV-Format "Buchungsstapel" (EXTF, header version 700,
format category 21, format version 13), written from DATEV's format description (developer.datev.de, DATEV-
Format: header and Buchungsstapel).

The file: line 1 the header (31 fields), line 2 the 125 column captions, then one booking per line. Fields
are separated by semicolons, text fields are in double quotes (quotes inside doubled), numbers use a decimal
comma and no thousands separator, every line ends in CR LF, and the file is Windows-1252 ("ANSI"), as DATEV
reads it; characters it cannot hold become "?".

Each journal row (cost centre × kind of charge) is one booking from the customer's side, an incoming invoice:
the gross amount (#1, always positive; #2 "S" debits the cost centre's GL account #7, "H" for a credit)
against the provider's creditor account (#8 Gegenkonto), with the configured tax key (#9 BU-Schlüssel, e.g.
9 = 19 % input tax) when the row carries tax, so DATEV books the input tax itself; document date (#10, DDMM:
the statement's issue date), document number (#11 Belegfeld 1: the statement number), booking text (#14, at
most 60 characters) and the cost centre (#37 KOST1; blank for unallocated). The grosses add up to the
statement's total; DATEV splits each gross into net and tax by the key's rate, so its input tax per row can
differ from the row's share of the statement's tax by a cent. Rows of zero are left out (DATEV refuses 0,00).
The batch covers the calendar month of the issue date (#15/#16) in the fiscal year that contains it (#13) and
is not locked (#21 Festschreibung 0), so the tax adviser reviews it before booking.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from decimal import Decimal

from billing.costcentres.journal import JournalRow
from billing.models import JournalSettings

HEADER_VERSION = 700
FORMAT_CATEGORY = 21
FORMAT_NAME = "Buchungsstapel"
FORMAT_VERSION = 13

# The 125 columns of a Buchungsstapel, format version 13, by position.
COLUMNS = [
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
    "Postensperre",
    "Diverse Adressnummer",
    "Geschäftspartnerbank",
    "Sachverhalt",
    "Zinssperre",
    "Beleglink",
    *[f"Beleginfo - {part} {n}" for n in range(1, 9) for part in ("Art", "Inhalt")],
    "KOST1 - Kostenstelle",
    "KOST2 - Kostenstelle",
    "Kost-Menge",
    "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)",
    "Abw. Versteuerungsart",
    "Sachverhalt L+L",
    "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp",
    "BU 49 Hauptfunktionsnummer",
    "BU 49 Funktionsergänzung",
    *[f"Zusatzinformation - {part} {n}" for n in range(1, 21) for part in ("Art", "Inhalt")],
    "Stück",
    "Gewicht",
    "Zahlweise",
    "Forderungsart",
    "Veranlagungsjahr",
    "Zugeordnete Fälligkeit",
    "Skontotyp",
    "Auftragsnummer",
    "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)",
    "EU-Mitgliedstaat (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)",
    "EU-Steuersatz (Anzahlungen)",
    "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz",
    "Leerfeld",
    "KOST-Datum",
    "SEPA-Mandatsreferenz",
    "Skontosperre",
    "Gesellschaftername",
    "Beteiligtennummer",
    "Identifikationsnummer",
    "Zeichnernummer",
    "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt",
    "Kennzeichen SoBil-Buchung",
    "Festschreibung",
    "Leistungsdatum",
    "Datum Zuord. Steuerperiode",
    "Fälligkeit",
    "Generalumkehr (GU)",
    "Steuersatz",
    "Land",
    "Abrechnungsreferenz",
    "BVV-Position",
    "EU-Mitgliedstaat u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
]
assert len(COLUMNS) == 125
# Positions (1-based, as DATEV numbers them) of the fields a booking fills.
UMSATZ, SOLL_HABEN, WKZ, KONTO, GEGENKONTO, BU, BELEGDATUM, BELEGFELD1, BUCHUNGSTEXT, KOST1 = (
    1, 2, 3, 7, 8, 9, 10, 11, 14, 37,
)  # fmt: skip
BELEGFELD_RE = re.compile(r"^[A-Za-z0-9_$%\-/]{0,36}$")


class DatevError(ValueError):
    """The batch cannot be written as DATEV would accept it; the message says which setting or row."""


def text(value: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", value)  # DATEV allows no control characters inside text fields
    return '"' + cleaned.replace('"', '""') + '"'


def amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def fiscal_year_start(day: date, start_month: int) -> date:
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)


def header(*, settings: JournalSettings, booked_on: date, created: datetime, currency: str, label: str) -> str:
    month_end = date(booked_on.year, booked_on.month, calendar.monthrange(booked_on.year, booked_on.month)[1])
    fields = [
        text("EXTF"),
        str(HEADER_VERSION),
        str(FORMAT_CATEGORY),
        text(FORMAT_NAME),
        str(FORMAT_VERSION),
        created.strftime("%Y%m%d%H%M%S") + f"{created.microsecond // 1000:03d}",
        "",  # Importiert (DATEV's)
        text("RE"),  # Herkunft
        text(""),  # Exportiert von
        text(""),  # Importiert von
        str(settings.datev_consultant_number),
        str(settings.datev_client_number),
        fiscal_year_start(booked_on, settings.datev_fiscal_year_start_month).strftime("%Y%m%d"),
        str(settings.datev_account_length),
        booked_on.replace(day=1).strftime("%Y%m%d"),
        month_end.strftime("%Y%m%d"),
        text(label[:30]),
        text(""),  # Diktatkürzel
        "1",  # Buchungstyp: Finanzbuchführung
        "0",  # Rechnungslegungszweck: unabhängig
        "0",  # Festschreibung: none, the adviser reviews first
        text(currency),
        "",
        text(""),  # Derivatskennzeichen
        "",
        "",
        text(settings.datev_chart),
        "",  # ID der Branchenlösung
        "",
        text(""),
        text(""),  # Anwendungsinformation
    ]
    assert len(fields) == 31
    return ";".join(fields)


def _check(settings: JournalSettings, rows: list[JournalRow]) -> None:
    for name, value in (
        ("consultant number (Beraternummer)", settings.datev_consultant_number),
        ("client number (Mandantennummer)", settings.datev_client_number),
        ("creditor account (Gegenkonto)", settings.contra_account),
    ):
        if value in (None, ""):
            raise DatevError(f"journal settings: the DATEV {name} is not set")
    length = settings.datev_account_length
    if len(settings.contra_account) > length + 1:
        raise DatevError(
            f"journal settings: creditor account {settings.contra_account} is longer than {length + 1} digits "
            f"(a personal account is one digit longer than the account length {length})"
        )
    for row in rows:
        who = f"cost centre {row.cost_centre}" if row.cost_centre else "unallocated cost"
        if not row.gl_account:
            raise DatevError(f"{who}: no GL account (set one on the cost centre or a default account)")
        if len(row.gl_account) > length:
            raise DatevError(f"{who}: GL account {row.gl_account} is longer than the account length {length}")
        if row.tax and not settings.datev_tax_key:
            raise DatevError("journal settings: the statement carries tax but no DATEV tax key is set")
        if not BELEGFELD_RE.match(row.statement_number):
            raise DatevError(f"statement number {row.statement_number} cannot be a DATEV Belegfeld 1")


def booking_batch(*, rows: list[JournalRow], settings: JournalSettings, created: datetime, label: str) -> bytes:
    """The DATEV file of one statement's journal rows (all of one issue date and currency)."""
    _check(settings, rows)
    if not rows:
        raise DatevError("the journal has no bookings")
    booked_on, currency = rows[0].date, rows[0].currency
    lines = [
        header(settings=settings, booked_on=booked_on, created=created, currency=currency, label=label),
        ";".join(COLUMNS),
    ]
    for row in rows:
        if row.gross == 0:
            continue
        fields = [""] * len(COLUMNS)
        fields[UMSATZ - 1] = amount(row.gross)
        fields[SOLL_HABEN - 1] = text("S" if row.gross > 0 else "H")
        fields[WKZ - 1] = text(row.currency)
        fields[KONTO - 1] = row.gl_account
        fields[GEGENKONTO - 1] = settings.contra_account
        fields[BU - 1] = text(settings.datev_tax_key if row.tax else "")
        fields[BELEGDATUM - 1] = row.date.strftime("%d%m")
        fields[BELEGFELD1 - 1] = text(row.statement_number)
        fields[BUCHUNGSTEXT - 1] = text(row.text[:60])
        fields[KOST1 - 1] = text(row.cost_centre)
        lines.append(";".join(fields))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace")


def batch_filename(statement) -> str:
    return f"EXTF_Buchungsstapel_{statement.organization.account_number}_{statement.period_start:%Y-%m}.csv"
