"""Issued v1 and v2 statements keep rendering exactly as issued: their HTML (what WeasyPrint turns into
the PDF) is compared with a snapshot taken before template v3 existed. The statement is built here by
hand, not by the builder, so the snapshot depends only on templates and on ``statement_html``.

To re-take the snapshots (only ever for a deliberate change to how old statements render, which should
not happen): SNAPSHOT_UPDATE=1 pytest tests/statements/test_template_versions.py."""

import os
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from billing.models import Statement, StatementBreakdown, StatementLine
from billing.statements.pdf import statement_html

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _statement(make, version: int, locale: str) -> Statement:
    org = make.organization(
        account_number=f"SNAP{version}{locale[:2]}",
        name="Snapshot GmbH",
        locale=locale,
        billing_address="Musterstraße 1\n10115 Berlin",
        vat_id="DE123456789",
    )
    st = Statement.objects.create(
        organization=org,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        currency="EUR",
        language=locale[:2],
        template_version=version,
        recurring_total=D("30.32"),
        usage_total=D("0.79"),
        subtotal=D("31.11"),
        tax_rate=D("0.19"),
        tax_amount=D("5.91"),
        total=D("37.02"),
        previous_balance=D("12.50"),
        details={
            "daily_cost": [["2026-10-05", "0.70"], ["2026-10-20", "0.09"]],
            "longest_calls": [
                {
                    "started": "2026-10-05 11:00",
                    "line": "+493011112222",
                    "person": "Anna",
                    "location": "Berlin",
                    "other_party": "+49 89 •••••• 78",
                    "seconds": 400,
                    "amount": "0.20",
                }
            ],
        },
    )
    for position, (kind, text, quantity, unit, amount) in enumerate(
        [
            ("recurring", "Business Flex — +493011112222", "31", "days", "20.00"),
            ("usage", "Calls: National — 2 records", "2", "min", "0.20"),
            ("allowance", "Included in flex-eur (per line): 10.00 of 10.00 min used", "10", "min", "0"),
        ],
        start=1,
    ):
        StatementLine.objects.create(
            statement=st,
            position=position,
            kind=kind,
            description=text,
            quantity=D(quantity),
            unit=unit,
            amount=D(amount),
        )
    for dim, label, band in [("location", "Berlin", None), ("person", "Anna", None), ("duration_band", "", 2)]:
        StatementBreakdown.objects.create(
            statement=st, dimension=dim, label=label, duration_band=band, calls=4, minutes=D("13.67"), amount=D("0.70")
        )
    Statement.objects.filter(pk=st.pk).update(
        status="issued",
        number=f"2026-00000{version}",
        issued_at=datetime(2026, 11, 3, 8, tzinfo=UTC),
        due_date=date(2026, 12, 3),
    )
    return Statement.objects.select_related("organization").get(pk=st.pk)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("locale", ["de-DE", "en-US"])
def test_issued_v1_and_v2_statements_render_as_issued(make, version, locale):
    html = statement_html(_statement(make, version, locale))
    snapshot = SNAPSHOTS / f"v{version}-{locale}.html"
    if os.environ.get("SNAPSHOT_UPDATE"):
        snapshot.write_text(html, encoding="utf-8")
    assert html == snapshot.read_text(encoding="utf-8")
