"""Payments and the balance of a statement, and the payment reference a customer pays with.

The balance rule (stored on every statement issued with template v3 on; also in the README):

    previous balance        = what was due on the previous statement (0 on the first)
    − payments received     = payments received since, each counted once (on the first statement issued
                              on or after the day it was received)
    = balance carried forward
    + new charges           = this statement's total (its lines plus tax)
    = total due

Payments come from staff (the admin) or from the provider's finance system (``payments_import``, the
``import_payments`` command). Each is written by ``payment_record`` with its audit row; an import is one
transaction and idempotent (a payment's ``external_id`` is unique per organization).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction

from billing.audit import Actor, AuditAction, audit_write
from billing.models import Organization, Payment, Statement

# The CSV layout of an import (README, "Payments"): a header row with exactly these columns, any order.
IMPORT_COLUMNS = ("account_number", "received_on", "amount", "currency", "reference", "external_id")


class PaymentError(Exception):
    pass


# --- Payment reference ----------------------------------------------------------------------------


def _rf_digits(text: str) -> int:
    """ISO 7064 MOD 97-10 input: letters become two digits (A = 10 … Z = 35)."""
    return int("".join(str(int(ch, 36)) for ch in text.upper()))


def rf_reference(reference: str) -> str:
    """The ISO 11649 structured creditor reference of ``reference`` (1–21 letters or digits):
    "RF", two check digits, the reference. ``rf_reference("539007547034") == "RF18539007547034"``."""
    if not (1 <= len(reference) <= 21 and reference.isascii() and reference.isalnum()):
        raise ValueError(f"an RF creditor reference holds 1 to 21 letters or digits, not {reference!r}")
    check = 98 - _rf_digits(reference + "RF00") % 97
    return f"RF{check:02d}{reference.upper()}"


def rf_valid(value: str) -> bool:
    value = value.replace(" ", "").upper()
    if not (value.startswith("RF") and 5 <= len(value) <= 25 and value.isalnum()):
        return False
    return _rf_digits(value[4:] + value[:4]) % 97 == 1


def payment_reference(statement: Statement) -> str:
    """The reference the customer pays this statement with: the ISO 11649 RF creditor reference of the
    statement number's letters and digits ("2026-000123" -> "RF462026000123"). Printed on the PDF and the
    page, and the e-invoice's remittance information (BT-83)."""
    if not statement.number:
        raise ValueError("a draft statement has no number and so no payment reference")
    return rf_reference("".join(ch for ch in statement.number if ch.isalnum()))


def grouped(reference: str) -> str:
    """In groups of four, as printed ("RF46 2026 0001 23")."""
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


# --- The balance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    previous_balance: Decimal
    payments_total: Decimal
    carried_forward: Decimal
    new_charges: Decimal
    total_due: Decimal


def balance_of(*, previous_due: Decimal, payments: list[Decimal], new_charges: Decimal) -> Balance:
    """The balance arithmetic (pure). All amounts are already in the currency's minor unit, so no
    rounding happens here: the figures add up exactly."""
    paid = sum(payments, Decimal(0))
    carried = previous_due - paid
    return Balance(previous_due, paid, carried, new_charges, carried + new_charges)


def payments_to_apply(*, organization: Organization, through: date) -> list[Payment]:
    """Payments no statement has shown yet, received on or before ``through``, locked for the issuing
    transaction (which marks them applied)."""
    return list(
        Payment.objects.select_for_update()
        .filter(organization=organization, applied_to__isnull=True, received_on__lte=through)
        .order_by("received_on", "id")
    )


# --- Writes ------------------------------------------------------------------------------------------


@transaction.atomic
def payment_record(
    *,
    organization: Organization,
    received_on: date,
    amount: Decimal,
    currency: str,
    reference: str = "",
    source: str = Payment.Source.STAFF,
    external_id: str = "",
    actor: Actor | None = None,
) -> Payment:
    """Record one payment received, with its audit row. Refuses amounts that are not positive and
    currencies other than the organization's (what it is billed in)."""
    if amount is None or amount <= 0:
        raise PaymentError(f"amount must be positive, got {amount}")
    if amount != amount.quantize(Decimal("0.01")):
        raise PaymentError(f"amount {amount} has more than two decimal places")
    if currency != organization.currency:
        raise PaymentError(
            f"currency {currency} is not the currency {organization.currency} of {organization.account_number}"
        )
    payment = Payment.objects.create(
        organization=organization,
        received_on=received_on,
        amount=amount,
        currency=currency,
        reference=reference.strip(),
        source=source,
        external_id=external_id.strip(),
        created_by=actor.user if actor else None,
    )
    audit_write(
        organization=organization,
        action=AuditAction.PAYMENT_RECORDED,
        actor=actor,
        target=f"payment:{payment.pk}",
        details={
            "received_on": received_on.isoformat(),
            "amount": str(amount),
            "currency": currency,
            "reference": payment.reference,
            "source": source,
            "external_id": payment.external_id,
        },
    )
    return payment


@dataclass
class ImportResult:
    created: list[Payment] = field(default_factory=list)
    unchanged: int = 0  # rows already imported (same external id, same payment)
    rejections: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def payments_import(*, file: io.TextIOBase, actor: Actor | None = None) -> ImportResult:
    """Import payments from the finance system's CSV (``IMPORT_COLUMNS``; line 1 is the header).

    All or nothing, in one transaction: a file with any rejected row writes nothing and returns every
    rejection with its line number. A row whose external id was imported before with the same account,
    day, amount and currency is unchanged (so a file can be imported again); with different values it is
    rejected (the finance system changed a payment: correct it by hand)."""
    result = ImportResult()
    reader = csv.DictReader(file)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    if missing:
        result.rejections.append(
            (1, f"header lacks column(s) {', '.join(missing)}; expected {','.join(IMPORT_COLUMNS)}")
        )
        return result
    reader.fieldnames = header
    rows, seen = [], {}
    organizations = {o.account_number: o for o in Organization.objects.all()}
    for row in reader:
        number = reader.line_num
        if None in row or any(value is None for value in row.values()):
            result.rejections.append((number, f"expected {len(header)} fields"))
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        problems = []
        organization = organizations.get(row["account_number"])
        if organization is None:
            problems.append(f"no organization with account number '{row['account_number']}'")
        try:
            received_on = date.fromisoformat(row["received_on"])
        except ValueError:
            problems.append(f"received_on '{row['received_on']}' is not a date like 2026-11-03")
            received_on = None
        try:
            amount = Decimal(row["amount"])
            if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"amount '{row['amount']}' is not a positive amount like 1234.56")
            amount = None
        if organization is not None and row["currency"] != organization.currency:
            problems.append(f"currency '{row['currency']}' is not the account's currency {organization.currency}")
        if not row["external_id"]:
            problems.append("external_id is empty (it makes a second import of the same file change nothing)")
        elif organization is not None:
            key = (organization.pk, row["external_id"])
            if key in seen:
                problems.append(f"external_id '{row['external_id']}' repeats line {seen[key]}")
            seen.setdefault(key, number)
        if problems:
            result.rejections.append((number, "; ".join(problems)))
        else:
            rows.append((number, organization, received_on, amount, row))
    if result.rejections:
        return result
    with transaction.atomic():
        existing = {
            (p.organization_id, p.external_id): p
            for p in Payment.objects.select_for_update().filter(
                external_id__in=[row["external_id"] for *_rest, row in rows]
            )
        }
        for number, organization, received_on, amount, row in rows:
            before = existing.get((organization.pk, row["external_id"]))
            if before is not None:
                if (before.received_on, before.amount, before.currency) == (received_on, amount, row["currency"]):
                    result.unchanged += 1
                else:
                    result.rejections.append(
                        (
                            number,
                            f"external_id '{row['external_id']}' was imported before as {before.amount} "
                            f"{before.currency} received on {before.received_on}",
                        )
                    )
                continue
            result.created.append(
                payment_record(
                    organization=organization,
                    received_on=received_on,
                    amount=amount,
                    currency=row["currency"],
                    reference=row["reference"],
                    source=Payment.Source.IMPORT,
                    external_id=row["external_id"],
                    actor=actor,
                )
            )
        if result.rejections:
            transaction.set_rollback(True)
            result.created = []
    return result


# --- Reads --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountBalance:
    currency: str
    last_statement: Statement | None
    last_total_due: Decimal  # what the latest statement asked for
    payments_since: Decimal  # received since, not yet on a statement
    balance: Decimal  # still owed today (negative: in credit)


def account_balance(*, organization: Organization) -> AccountBalance:
    """Selector: what the organization owes now: the latest statement's total due less the payments
    received since (which the next statement will show)."""
    last = (
        Statement.objects.filter(organization=organization, status__in=(Statement.Status.ISSUED, Statement.Status.PAID))
        .order_by("-period_start")
        .first()
    )
    due = last.amount_due if last else Decimal(0)
    paid = sum(
        Payment.objects.filter(organization=organization, applied_to__isnull=True).values_list("amount", flat=True),
        Decimal(0),
    )
    return AccountBalance(organization.currency, last, due, paid, due - paid)
