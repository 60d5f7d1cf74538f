"""Payments and the balance (issue 17, item 1): staff and imported payments, the balance arithmetic on
each statement, and the RF payment reference."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from billing.models import AuditLog, Payment
from billing.periods import billing_period
from billing.statements.payments import (
    PaymentError,
    grouped,
    payment_record,
    payment_reference,
    payments_import,
    rf_reference,
    rf_valid,
)
from billing.statements.services import statement_issue
from billing.usage.writer import usage_records_write
from tests.fixtures_billing import usage


def test_rf_creditor_reference_check_digits():
    # The example of ISO 11649 itself, and the check: move "RFkk" to the end, letters to numbers, mod 97 = 1.
    assert rf_reference("539007547034") == "RF18539007547034"
    assert rf_valid("RF18 5390 0754 7034") and not rf_valid("RF19539007547034")
    assert rf_reference("2026000123") == "RF462026000123"
    assert rf_valid("RF462026000123")
    assert rf_reference("a1") == "RF" + rf_reference("A1")[2:4] + "A1"
    assert grouped("RF462026000123") == "RF46 2026 0001 23"
    with pytest.raises(ValueError):
        rf_reference("2026-000123")  # only letters and digits
    with pytest.raises(ValueError):
        rf_reference("1" * 22)


def test_each_statement_has_its_own_payment_reference(billed_org):
    st = statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert st.number == "2026-000001"
    assert payment_reference(st) == rf_reference("2026000001") and rf_valid(payment_reference(st))


def _october_and_november(org, make):
    from billing.models import Line

    line = Line.objects.get(number="+493011112222")
    usage_records_write(
        records=[usage(org, line, datetime(2026, 11, 10, 9, tzinfo=UTC), seconds=600, dest="+498912345678")]
    )


def test_previous_balance_less_payments_plus_new_charges_is_the_total_due(billed_org, make):
    org = billed_org
    _october_and_november(org, make)
    october = statement_issue(
        organization=org, period=billing_period(org, 2026, 10), now=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert (october.previous_balance, october.payments_total, october.balance_carried_forward) == (0, 0, 0)
    assert october.total_due == october.total == D("37.02")
    # Paid in two parts before December's statement (one after it is issued: on the next one).
    payment_record(
        organization=org, received_on=date(2026, 11, 20), amount=D("30.00"), currency="EUR", reference="INV 2026-000001"
    )
    payment_record(organization=org, received_on=date(2026, 12, 1), amount=D("5.00"), currency="EUR", reference="rest")
    late = payment_record(organization=org, received_on=date(2026, 12, 10), amount=D("2.02"), currency="EUR")
    november = statement_issue(
        organization=org, period=billing_period(org, 2026, 11), now=datetime(2026, 12, 3, tzinfo=UTC)
    )
    assert november.previous_balance == D("37.02")
    assert november.payments_total == D("35.00")
    assert november.balance_carried_forward == D("2.02")
    assert november.total_due == november.balance_carried_forward + november.total
    assert november.details["payments"] == [
        {"received_on": "2026-11-20", "reference": "INV 2026-000001", "amount": "30.00"},
        {"received_on": "2026-12-01", "reference": "rest", "amount": "5.00"},
    ]
    assert set(Payment.objects.filter(applied_to=november).values_list("amount", flat=True)) == {D("30.00"), D("5.00")}
    late.refresh_from_db()
    assert late.applied_to is None  # received after November's statement: shown on December's
    assert AuditLog.objects.filter(organization=org, action="payment.recorded").count() == 3


def test_a_payment_in_another_currency_or_not_positive_is_refused(billed_org):
    with pytest.raises(PaymentError, match="currency USD is not the currency EUR"):
        payment_record(organization=billed_org, received_on=date(2026, 11, 1), amount=D("1"), currency="USD")
    with pytest.raises(PaymentError, match="positive"):
        payment_record(organization=billed_org, received_on=date(2026, 11, 1), amount=D("0"), currency="EUR")
    assert not Payment.objects.exists() and not AuditLog.objects.filter(action="payment.recorded").exists()


CSV = """account_number,received_on,amount,currency,reference,external_id
{acct},2026-11-20,30.00,EUR,INV 2026-000001,FIN-1001
{acct},2026-11-21,7.02,EUR,,FIN-1002
"""


def test_import_payments_field_by_field_and_again_is_a_no_op(billed_org, tmp_path):
    path = tmp_path / "payments.csv"
    path.write_text(CSV.format(acct=billed_org.account_number), encoding="utf-8")
    out = io.StringIO()
    call_command("import_payments", str(path), stdout=out)
    assert "2 payment(s) imported, 0 already imported before" in out.getvalue()
    rows = list(
        Payment.objects.order_by("external_id").values_list(
            "organization__account_number", "received_on", "amount", "currency", "reference", "source", "external_id"
        )
    )
    acct = billed_org.account_number
    assert rows == [
        (acct, date(2026, 11, 20), D("30.00"), "EUR", "INV 2026-000001", "import", "FIN-1001"),
        (acct, date(2026, 11, 21), D("7.02"), "EUR", "", "import", "FIN-1002"),
    ]
    out = io.StringIO()
    call_command("import_payments", str(path), stdout=out)
    assert "0 payment(s) imported, 2 already imported before" in out.getvalue()
    assert Payment.objects.count() == 2
    assert AuditLog.objects.filter(action="payment.recorded").count() == 2


def test_rejected_rows_are_listed_by_line_and_nothing_is_written(billed_org, tmp_path):
    acct = billed_org.account_number
    path = tmp_path / "bad.csv"
    path.write_text(
        "account_number,received_on,amount,currency,reference,external_id\n"
        f"{acct},2026-11-20,30.00,EUR,ok,FIN-1\n"
        f"{acct},20.11.2026,30.00,EUR,,FIN-2\n"
        f"NOPE,2026-11-20,1.00,EUR,,FIN-3\n"
        f"{acct},2026-11-20,-4,USD,,FIN-4\n"
        f"{acct},2026-11-20,1.005,EUR,,\n"
        f"{acct},2026-11-20,1.00,EUR,,FIN-1\n",
        encoding="utf-8",
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="5 row\\(s\\) rejected; nothing was imported"):
        call_command("import_payments", str(path), stderr=err)
    lines = err.getvalue().splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:{n}" for n in (3, 4, 5, 6, 7)]
    assert "received_on '20.11.2026' is not a date like 2026-11-03" in lines[0]
    assert "no organization with account number 'NOPE'" in lines[1]
    assert "amount '-4' is not a positive amount" in lines[2] and "currency 'USD'" in lines[2]
    assert "amount '1.005'" in lines[3] and "external_id is empty" in lines[3]
    assert "external_id 'FIN-1' repeats line 2" in lines[4]
    assert not Payment.objects.exists()


def test_a_changed_payment_under_a_known_external_id_is_rejected(billed_org):
    acct = billed_org.account_number
    header = "account_number,received_on,amount,currency,reference,external_id\n"
    payments_import(file=io.StringIO(header + f"{acct},2026-11-20,30.00,EUR,,FIN-1\n"))
    result = payments_import(
        file=io.StringIO(header + f"{acct},2026-11-21,5.00,EUR,,FIN-9\n{acct},2026-11-20,31.00,EUR,,FIN-1\n")
    )
    assert result.rejections == [(3, "external_id 'FIN-1' was imported before as 30.00 EUR received on 2026-11-20")]
    assert list(Payment.objects.values_list("external_id", flat=True)) == ["FIN-1"]  # FIN-9 rolled back too
    result = payments_import(file=io.StringIO("account,amount\nx,1\n"))
    assert (
        result.rejections[0][0] == 1 and "header lacks column(s) account_number, received_on" in result.rejections[0][1]
    )


def test_staff_record_a_payment_in_the_admin(billed_org, make, client):
    staff = make.user("cashier", is_staff=True, is_superuser=True)
    client.force_login(staff)
    form = {
        "organization": billed_org.pk,
        "received_on": "2026-11-20",
        "amount": "30.00",
        "currency": "EUR",
        "reference": "INV 2026-000001",
        "external_id": "",
    }
    wrong = client.post("/admin/billing/payment/add/", {**form, "currency": "USD"})
    assert wrong.status_code == 200 and "is billed in EUR" in wrong.content.decode()
    assert not Payment.objects.exists()
    response = client.post("/admin/billing/payment/add/", form)
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.received_on, payment.amount, payment.reference, payment.source, payment.created_by) == (
        date(2026, 11, 20),
        D("30.00"),
        "INV 2026-000001",
        "staff",
        staff,
    )
    audit = AuditLog.objects.get(action="payment.recorded")
    assert audit.user == staff and audit.target == f"payment:{payment.pk}"
    assert client.get(f"/admin/billing/payment/{payment.pk}/change/").status_code == 200  # read-only view
    assert client.post(f"/admin/billing/payment/{payment.pk}/change/", {**form, "amount": "1.00"}).status_code == 403
    payment.refresh_from_db()
    assert payment.amount == D("30.00")
