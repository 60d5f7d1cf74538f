"""A finance user defines a cost centre tree with a split line, sees the statement's cost by cost centre and
downloads its journal (CSV and DATEV), whose amounts sum to the statement total to the cent."""

import csv
import io
from decimal import Decimal as D

from billing.costcentres.services import journal_settings_set
from tests import factories


def test_finance_user_charges_back_a_statement(page, sign_in, billed_org, make, tmp_path):
    statement = factories.issued_statement(billed_org)
    make.membership(make.user("hand-finance"), billed_org, role="admin")
    sign_in("hand-finance")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cost centres").click()
    assert page.get_by_role("heading", name="Cost centres", exact=True).is_visible()

    for code, name, account, parent in [
        ("1000", "Head office", "6805", None),
        ("1100", "Sales", "", "1000 Head office"),
        ("1200", "Support", "6810", "1000 Head office"),
    ]:
        page.get_by_label("Code").fill(code)
        page.get_by_label("Name").fill(name)
        page.get_by_label("GL account").fill(account)
        if parent:
            page.get_by_label("Parent").select_option(label=parent)
        page.get_by_role("button", name="Add cost centre").click()
        assert page.get_by_text(f"Cost centre {code} {name} added.").is_visible()
    tree = page.get_by_role("table", name="The cost centre tree")
    assert tree.get_by_role("row").count() == 4  # the heading and three cost centres

    form = page.locator("#rule-form")
    form.get_by_label("Allocate").select_option("line")
    form.get_by_label("Line", exact=True).select_option(label="+493011112222")
    form.get_by_label("From").fill("2026-10-01")
    form.get_by_label("Cost centre 1").select_option(label="1100 Sales")
    form.get_by_label("Percent 1").fill("60")
    form.get_by_label("Cost centre 2").select_option(label="1200 Support")
    form.get_by_label("Percent 2").fill("40")
    page.get_by_role("button", name="Save allocation").click()
    rules = page.get_by_role("table", name="Allocation rules")
    assert rules.get_by_text("1100 60.00 %, 1200 40.00 %").is_visible()

    page.get_by_role("link", name=statement.number).click()
    by_centre = page.get_by_role("table", name="Cost by cost centre")
    assert by_centre.get_by_role("row", name="1100 Sales").is_visible()
    assert by_centre.get_by_role("row", name="Unallocated").is_visible()
    page.screenshot(path=str(tmp_path / "chargeback.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download journal (CSV)").click()
    with open(download.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert sum(D(r["gross"]) for r in rows) == statement.total == D("37.02")
    assert {r["cost_centre"] for r in rows} == {"1100", "1200", ""}

    journal_settings_set(
        organization=billed_org,
        journal_format="datev",
        default_gl_account="6800",
        contra_account="70000",
        datev_consultant_number=29098,
        datev_client_number=55003,
        datev_tax_key="9",
    )
    page.reload()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download journal (DATEV)").click()
    assert download.value.suggested_filename.startswith("EXTF_Buchungsstapel_")
    with open(download.value.path(), "rb") as f:
        lines = f.read().decode("cp1252").split("\r\n")
    assert lines[0].startswith('"EXTF";700;21;"Buchungsstapel";13;')
    signed = sum(D(b.split(";")[0].replace(",", ".")) * (1 if b.split(";")[1] == '"S"' else -1) for b in lines[2:] if b)
    assert signed == statement.total
