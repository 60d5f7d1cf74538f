"""The chargeback of billed_org's October statement under the ``tree`` fixture, computed by hand.

Lines (see tests/statements/test_billing_run.py): Anna's fee 20.00 (split 60/40), Ben's fee 10.32 for 16 days
of which 4 before the Berlin rule starts (2.58 unallocated, 7.74 Support), Anna's usage 0.38 + 0.12 + 0.20
split 60/40 by largest remainder per line (0.228/0.152 -> 0.23/0.15; 0.072/0.048 -> 0.07/0.05; 0.12/0.08),
Ben's text message of 20 October 0.09 to Support, the credit -5.00 unallocated. Tax 4.96 shared over the
journal rows by net x 19 %: the one cent left after rounding down goes to Sales' usage (0.0798 -> 0.08).
"""

import csv
import io
from decimal import Decimal as D

from billing.costcentres.chargeback import apportion, statement_chargeback
from billing.costcentres.journal import CSV_COLUMNS, journal_csv, journal_rows
from billing.costcentres.selectors import chargeback_by_cost_centre
from billing.costcentres.services import journal_settings_of


def test_every_line_is_shared_out_to_the_cent(issued_with_tree):
    st = issued_with_tree
    cb = statement_chargeback(statement=st)
    org = st.organization
    sales, support = org.sales.pk, org.support.pk
    by_position = {line.position: (line.kind, line.amount, cb.shares[line.position]) for line in cb.lines}
    assert by_position[1] == ("recurring", D("20.00"), {sales: D("12.00"), support: D("8.00")})
    assert by_position[2] == ("recurring", D("10.32"), {support: D("7.74"), None: D("2.58")})
    assert by_position[3] == ("usage", D("0.38"), {sales: D("0.23"), support: D("0.15")})
    assert by_position[4][2] == {}  # the local call was covered: 0.00
    assert by_position[5] == ("usage", D("0.12"), {sales: D("0.07"), support: D("0.05")})
    assert by_position[6] == ("usage", D("0.20"), {sales: D("0.12"), support: D("0.08")})
    assert by_position[7] == ("usage", D("0.09"), {support: D("0.09")})  # Ben's text, Berlin from 20 October
    assert by_position[8][2] == {} and by_position[9][2] == {}  # included usage carries no amount
    assert by_position[10] == ("adjustment", D("-5.00"), {None: D("-5.00")})
    for line in cb.lines:
        assert sum(cb.shares[line.position].values(), D(0)) == line.amount


def test_journal_rows_add_up_to_the_statement_total(issued_with_tree):
    st = issued_with_tree
    org = st.organization
    rows = journal_rows(statement_chargeback(statement=st), journal_settings_of(org))
    got = [(r.gl_account, r.cost_centre, r.kind, r.net, r.tax, r.gross) for r in rows]
    assert got == [
        ("6805", "1100", "recurring", D("12.00"), D("2.28"), D("14.28")),
        ("6805", "1100", "usage", D("0.42"), D("0.08"), D("0.50")),
        ("6810", "1200", "recurring", D("15.74"), D("2.99"), D("18.73")),
        ("6810", "1200", "usage", D("0.37"), D("0.07"), D("0.44")),
        ("", "", "recurring", D("2.58"), D("0.49"), D("3.07")),
        ("", "", "adjustment", D("-5.00"), D("-0.95"), D("-5.95")),
    ]
    assert sum(r.net for r in rows) == st.subtotal == D("26.11")
    assert sum(r.tax for r in rows) == st.tax_amount == D("4.96")
    assert sum(r.gross for r in rows) == st.total == D("31.07")


def test_journal_csv_read_back_sums_to_the_total(issued_with_tree):
    st = issued_with_tree
    content = journal_csv(journal_rows(statement_chargeback(statement=st), journal_settings_of(st.organization)))
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert list(table[0]) == CSV_COLUMNS
    assert sum(D(r["gross"]) for r in table) == st.total
    assert sum(D(r["net"]) for r in table) == st.subtotal and sum(D(r["tax"]) for r in table) == st.tax_amount
    first = table[0]
    assert first["date"] == "2026-11-03" and first["statement_number"] == st.number == "2026-000001"
    assert first["tax_code"] == "S19" and first["currency"] == "EUR" and first["cost_centre_name"] == "Sales"
    assert first["text"] == "Fees 10/2026 1100 Sales"
    assert table[-1]["cost_centre"] == "" and table[-1]["cost_centre_name"] == "Unallocated"


def test_the_tree_rolls_up_to_its_parents(issued_with_tree):
    rows = chargeback_by_cost_centre(statement_chargeback(statement=issued_with_tree))
    got = [(r.cost_centre.code if r.cost_centre else None, r.depth, r.gross, r.rolled_gross) for r in rows]
    assert got == [
        ("1000", 0, D("0.00"), D("33.95")),
        ("1100", 1, D("14.78"), D("14.78")),
        ("1200", 1, D("19.17"), D("19.17")),
        (None, 0, D("-2.88"), D("-2.88")),
    ]


def test_nothing_allocated_is_all_unallocated(billed_org, make):
    st = make.issued_statement(billed_org)
    cb = statement_chargeback(statement=st)
    assert {cc for shares in cb.shares.values() for cc in shares} == {None}
    assert sum(net + tax for net, tax in cb.rows.values()) == st.total


def test_largest_remainder_rule():
    cent = D("0.01")
    # a third each of 1.00: 33.33... cents each, the cent left over to the first of the equal remainders
    assert apportion([D(1) / 3] * 3, D("1.00"), cent) == [D("0.34"), D("0.33"), D("0.33")]
    # the largest remainder wins the cent, whatever the order
    assert apportion([D("0.228"), D("0.152")], D("0.38"), cent) == [D("0.23"), D("0.15")]
    # negative rows (credits) round down too, and the total still holds
    assert apportion([D("-0.95"), D("0.0798"), D("2.2802")], D("1.41"), cent) == [D("-0.95"), D("0.08"), D("2.28")]
    # a currency without minor units (JPY)
    assert apportion([D("50.5"), D("49.5")], D("100"), D(1)) == [D("51"), D("49")]


def test_a_credit_for_a_disputed_line_follows_that_line(issued_with_tree, make):
    from datetime import UTC, datetime

    from billing.statements.disputes import dispute_open, dispute_resolve

    october = issued_with_tree
    org = october.organization
    user = make.user("finance")
    anna_fee = october.lines.get(position=1)  # 20.00, split 60/40 between Sales and Support
    dispute = dispute_open(line=anna_fee, reason="Line was down", user=user)
    dispute_resolve(dispute=dispute, accept=True, resolution="Credited", user=user, credit=D("10.00"))
    november = make.issued_statement(org, 2026, 11, now=datetime(2026, 12, 3, tzinfo=UTC))
    credit = november.lines.get(kind="adjustment")
    cb = statement_chargeback(statement=november)
    assert credit.amount == D("-10.00")
    assert cb.shares[credit.position] == {org.sales.pk: D("-6.00"), org.support.pk: D("-4.00")}
    assert sum(net + tax for net, tax in cb.rows.values()) == november.total


def test_queries_do_not_grow_with_the_lines(make):
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.costcentres.services import allocation_rule_set, cost_centre_create

    counts = []
    for lines in (2, 6):
        org = make.organization(tax_rate=D("0.19"), currency="EUR")
        plan = make.plan(monthly_fee=D("9.99"), currency="EUR")
        centre = cost_centre_create(organization=org, code="A", name="A")
        for _ in range(lines):
            line = make.line(org)
            make.line_plan(line, plan, valid_from=date(2026, 1, 1))
            allocation_rule_set(organization=org, target=line, valid_from=date(2026, 10, 10), shares=[(centre, 100)])
        statement = make.issued_statement(org)
        with CaptureQueriesContext(connection) as queries:
            cb = statement_chargeback(statement=statement)
            chargeback_by_cost_centre(cb)
        counts.append(len(queries))
        assert sum(net + tax for net, tax in cb.rows.values()) == statement.total
    assert counts[0] == counts[1]
