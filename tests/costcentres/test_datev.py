"""The DATEV booking batch, checked field by field against DATEV's format description (DATEV-Format
"Buchungsstapel", header version 700, format category 21, format version 13)."""

import re
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.audit import AuditAction
from billing.costcentres.datev import COLUMNS, DatevError
from billing.costcentres.selectors import journal_export
from billing.costcentres.services import journal_settings_set
from billing.models import AuditLog
from billing.usage.scope import Scope

CREATED = datetime(2026, 11, 5, 9, 30, 15, 123000, tzinfo=UTC)


def batch(org, statement, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: CREATED)
    scope = Scope(organization=org, sees_billing=True)
    filename, content_type, content = journal_export(scope=scope, statement=statement, journal_format="datev")
    return filename, content_type, content


def _split(line: str) -> list[str]:
    out, cur, quoted, i = [], "", False, 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == '"' and line[i + 1 : i + 2] == '"':
                cur += '""'
                i += 1
            elif ch == '"':
                quoted = False
                cur += ch
            else:
                cur += ch
        elif ch == '"':
            quoted = True
            cur += ch
        elif ch == ";":
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return out


def test_header_line_as_the_format_defines(datev_org, issued_with_tree, monkeypatch):
    filename, content_type, content = batch(datev_org, issued_with_tree, monkeypatch)
    assert filename == f"EXTF_Buchungsstapel_{datev_org.account_number}_2026-10.csv"
    assert content_type == "text/csv; charset=windows-1252"
    assert content.endswith(b"\r\n") and b"\n" not in content.replace(b"\r\n", b"")
    header = _split(content.decode("cp1252").split("\r\n")[0])
    assert len(header) == 31
    assert header[:6] == ['"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20261105103015123"]  # local (Berlin) time
    assert header[10:16] == ["29098", "55003", "20260101", "4", "20261101", "20261130"]  # WJ, length, month
    assert header[16] == f'"Telekom {issued_with_tree.number}"' and len(header[16]) <= 32
    assert header[18:22] == ["1", "0", "0", '"EUR"']  # Finanzbuchführung, no purpose, not locked, currency
    assert header[26] == '"04"'


def test_bookings_in_the_125_columns(datev_org, issued_with_tree, monkeypatch):
    _f, _t, content = batch(datev_org, issued_with_tree, monkeypatch)
    lines = content.decode("cp1252").split("\r\n")[:-1]
    captions = lines[1].split(";")
    assert len(captions) == len(COLUMNS) == 125
    assert captions[0] == "Umsatz (ohne Soll/Haben-Kz)" and captions[36] == "KOST1 - Kostenstelle"
    assert captions[124] == "Abw. Skontokonto"
    bookings = [_split(line) for line in lines[2:]]
    assert all(len(b) == 125 for b in bookings)
    got = [(b[0], b[1], b[2], b[6], b[7], b[8], b[9], b[10], b[36]) for b in bookings]
    n = f'"{issued_with_tree.number}"'
    assert got == [
        ("14,28", '"S"', '"EUR"', "6805", "70000", '"9"', "0311", n, '"1100"'),
        ("0,50", '"S"', '"EUR"', "6805", "70000", '"9"', "0311", n, '"1100"'),
        ("18,73", '"S"', '"EUR"', "6810", "70000", '"9"', "0311", n, '"1200"'),
        ("0,44", '"S"', '"EUR"', "6810", "70000", '"9"', "0311", n, '"1200"'),
        ("3,07", '"S"', '"EUR"', "6800", "70000", '"9"', "0311", n, '""'),  # unallocated: default account
        ("5,95", '"H"', '"EUR"', "6800", "70000", '"9"', "0311", n, '""'),  # the credit
    ]
    for b in bookings:  # each filled field matches DATEV's expression for it
        assert re.fullmatch(r"\d{1,10},\d{2}", b[0]) and b[0] != "0,00"
        assert re.fullmatch(r'"[^"]{0,60}"', b[13])
        assert re.fullmatch(r"\d{4}", b[9])
    signed = sum((D(b[0].replace(",", ".")) * (1 if b[1] == '"S"' else -1) for b in bookings), D(0))
    assert signed == issued_with_tree.total == D("31.07")
    assert bookings[0][13] == '"Fees 10/2026 1100 Sales"'


def test_windows_1252_and_quotes_doubled(datev_org, issued_with_tree, monkeypatch):
    sales = datev_org.sales
    sales.name = 'Vertrieb "Süd" – Ø'
    sales.save()
    _f, _t, content = batch(datev_org, issued_with_tree, monkeypatch)
    assert 'Vertrieb ""Süd"" – Ø'.encode("cp1252") in content  # ü, – and Ø exist in Windows-1252


def test_missing_settings_are_named(tree, issued_with_tree, monkeypatch):
    journal_settings_set(organization=tree, default_gl_account="6800")
    with pytest.raises(DatevError, match="consultant number"):
        batch(tree, issued_with_tree, monkeypatch)
    journal_settings_set(
        organization=tree, datev_consultant_number=29098, datev_client_number=1, contra_account="70000"
    )
    with pytest.raises(DatevError, match="no DATEV tax key"):
        batch(tree, issued_with_tree, monkeypatch)
    journal_settings_set(organization=tree, datev_tax_key="9", datev_account_length=4)
    tree.support.gl_account = "681000"
    tree.support.save()
    with pytest.raises(DatevError, match="cost centre 1200: GL account 681000 is longer than the account length 4"):
        batch(tree, issued_with_tree, monkeypatch)


def test_export_is_audited_and_scoped(datev_org, issued_with_tree, monkeypatch, make):
    batch(datev_org, issued_with_tree, monkeypatch)
    row = AuditLog.objects.get(action=AuditAction.JOURNAL_EXPORTED)
    assert row.organization == datev_org and row.target == issued_with_tree.number
    assert row.details == {"format": "datev", "rows": 6}
    with pytest.raises(issued_with_tree.DoesNotExist):  # a location manager's scope sees no whole statement
        journal_export(
            scope=Scope(organization=datev_org, sees_billing=True, location_ids=frozenset({datev_org.berlin.pk})),
            statement=issued_with_tree,
            journal_format="csv",
        )
    other = make.organization()
    with pytest.raises(issued_with_tree.DoesNotExist):
        journal_export(
            scope=Scope(organization=other, sees_billing=True), statement=issued_with_tree, journal_format="csv"
        )
