"""Statements and settings in a real browser: statement PDF download, API token created once and revoked."""

import pytest

from portal.models import ApiToken
from tests import factories


@pytest.fixture
def rendered(billed_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return factories.issued_statement(billed_org, render=True)


def test_admin_reads_statement_downloads_pdf_and_manages_a_token(page, sign_in, rendered, make):
    make.membership(make.user("hand-admin"), rendered.organization, role="admin")
    sign_in("hand-admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statements").click()
    page.get_by_role("link", name=rendered.number, exact=True).click()
    assert page.get_by_role("heading", name=f"Statement {rendered.number}").is_visible()
    assert page.get_by_role("table", name="By location").is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == rendered.pdf_filename
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("ERP export")
    page.get_by_label("Read statements").check()
    page.get_by_role("button", name="Create token").click()
    raw = page.get_by_label("Token “ERP export”").input_value()
    assert raw.startswith("bp_")
    page.get_by_role("link", name="Done").click()
    assert raw not in page.content()  # shown once
    page.get_by_role("button", name="Revoke ERP export").click()
    assert page.get_by_text("was revoked").is_visible()
    assert ApiToken.objects.get(name="ERP export").revoked_at is not None


def test_analyst_has_no_settings_and_location_manager_no_statements(page, sign_in, rendered, billed_org, make):
    org = billed_org
    make.membership(make.user("hand-analyst"), org, role="analyst")
    sign_in("hand-analyst")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Statements").is_visible()
    assert nav.get_by_role("link", name="Settings").count() == 0
    page.get_by_role("button", name="Sign out").click()

    manager = make.membership(make.user("hand-manager"), org, role="location_manager")
    manager.locations.set([org.berlin])
    sign_in("hand-manager")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Statements").count() == 0
    assert page.goto(f"/statements/{rendered.pk}/").status == 403
