"""The cost centre pages as an administrator and an analyst use them: define the tree and a split line, read
the chargeback by cost centre, download the journal."""

import csv
import io
from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.models import AllocationRule, AuditLog, CostCentre, Line
from tests import factories


@pytest.fixture
def statement(billed_org):
    return factories.issued_statement(billed_org)


def test_an_admin_defines_a_tree_and_a_split_line(client, signed_in, billed_org, statement):
    signed_in(billed_org, role="admin")
    assert (
        client.post(reverse("cost-centres"), {"code": "1000", "name": "Head office", "gl_account": "6805"}).status_code
        == 302
    )
    head = CostCentre.objects.get(code="1000")
    client.post(reverse("cost-centres"), {"code": "1100", "name": "Sales", "parent": head.pk})
    client.post(reverse("cost-centres"), {"code": "1200", "name": "Support", "parent": head.pk, "gl_account": "6810"})
    sales, support = CostCentre.objects.get(code="1100"), CostCentre.objects.get(code="1200")
    line = Line.objects.get(number="+493011112222")
    bad = client.post(
        reverse("allocation-rule-set"),
        {
            "target_kind": "line",
            "line": line.pk,
            "valid_from": "2026-10-01",
            "cost_centre_1": sales.pk,
            "percent_1": "60",
            "cost_centre_2": support.pk,
            "percent_2": "30",
        },
    )
    assert bad.status_code == 400 and "the percentages add up to 90.00 %, not 100 %" in bad.content.decode()
    assert not AllocationRule.objects.exists()
    ok = client.post(
        reverse("allocation-rule-set"),
        {
            "target_kind": "line",
            "line": line.pk,
            "valid_from": "2026-10-01",
            "cost_centre_1": sales.pk,
            "percent_1": "60",
            "cost_centre_2": support.pk,
            "percent_2": "40",
        },
    )
    assert ok.status_code == 302
    page = client.get(reverse("cost-centres")).content.decode()
    assert "1100 60.00 %, 1200 40.00 %" in page
    chargeback = client.get(reverse("statement-chargeback", args=[statement.pk])).content.decode()
    assert "1100 Sales" in chargeback and "Unallocated" in chargeback
    response = client.get(reverse("statement-journal", args=[statement.pk]) + "?format=csv")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert sum(D(r["gross"]) for r in rows) == statement.total
    assert {r["cost_centre"] for r in rows} == {"1100", "1200", ""}
    actions = list(AuditLog.objects.filter(organization=billed_org).values_list("action", flat=True))
    assert actions.count("cost_centre.created") == 3 and actions.count("allocation_rule.set") == 1
    assert "export.journal" in actions


def test_analysts_read_and_only_admins_write(client, signed_in, billed_org, statement):
    signed_in(billed_org, role="analyst")
    assert client.get(reverse("cost-centres")).status_code == 200
    assert client.get(reverse("statement-chargeback", args=[statement.pk])).status_code == 200
    assert client.post(reverse("cost-centres"), {"code": "1", "name": "x"}).status_code == 403
    assert client.get(reverse("journal-settings")).status_code == 403
    assert not CostCentre.objects.exists()


def test_members_and_other_organizations_see_nothing(client, signed_in, billed_org, statement, make):
    signed_in(billed_org, role="member", person=billed_org.anna)
    assert client.get(reverse("cost-centres")).status_code == 403
    other = make.organization()
    client.logout()
    signed_in(other, role="admin")
    assert client.get(reverse("statement-chargeback", args=[statement.pk])).status_code == 404
    assert client.get(reverse("statement-journal", args=[statement.pk])).status_code == 404


def test_journal_errors_are_clear(client, signed_in, billed_org, statement):
    signed_in(billed_org, role="admin")
    wrong = client.get(reverse("statement-journal", args=[statement.pk]) + "?format=xlsx")
    assert wrong.status_code == 400 and wrong.content.decode() == "format: xlsx is not one of csv, datev"
    unset = client.get(reverse("statement-journal", args=[statement.pk]) + "?format=datev")
    assert unset.status_code == 400 and "DATEV consultant number (Beraternummer) is not set" in unset.content.decode()
    incomplete = client.post(
        reverse("journal-settings"),
        {"journal_format": "datev", "datev_fiscal_year_start_month": 1, "datev_account_length": 4},
    )
    assert incomplete.status_code == 400 and "required for DATEV journals" in incomplete.content.decode()


def test_usage_of_any_period_by_cost_centre(client, signed_in, issued_with_tree):
    org = issued_with_tree.organization
    signed_in(org, role="analyst")
    page = client.get(reverse("cost-centres"), {"start": "2026-10-01", "end": "2026-10-31", "level": ""})
    html = page.content.decode()
    table = html[html.index('id="usage-by-cost-centre"') :]
    assert "1100 Sales" in table and "€0.42" in table and "1200 Support" in table and "€0.37" in table
    rolled = client.get(reverse("cost-centres"), {"start": "2026-10-01", "end": "2026-10-31", "level": "0"})
    table = rolled.content.decode()[rolled.content.decode().index('id="usage-by-cost-centre"') :]
    assert "1000 Head office" in table and "€0.79" in table and "1100 Sales" not in table.split("</table>")[0]
    bad = client.get(reverse("cost-centres"), {"start": "2026-10-31", "end": "2026-10-01"})
    assert "The period ends before it starts." in bad.content.decode()
