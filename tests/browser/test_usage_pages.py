"""The dashboard and the usage explorer in headless Chromium: explore, drill down, export; scope."""

import re

from tests import factories
from tests.web.usage_pages_data import firm


def test_analyst_explores_drills_down_and_exports(page, sign_in, transactional_db):
    acme = firm("Acme")
    factories.membership(factories.user("ana"), acme.org, role="analyst")
    sign_in("ana")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.get_by_text("Usage charges so far").is_visible()
    assert page.locator("svg.chart").count() >= 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage", exact=True).click()
    table = page.locator("table.explorer-table")
    assert table.get_by_role("link", name="Acme Berlin", exact=True).is_visible()

    page.get_by_label("Location", exact=True).uncheck()
    page.get_by_label("Person", exact=True).check()
    page.get_by_role("button", name="Show usage").click()
    assert table.get_by_role("link", name="Anna Acme", exact=True).is_visible()
    assert "dim=person" in page.url

    page.get_by_label("Person", exact=True).uncheck()
    page.get_by_label("Duration band", exact=True).check()
    page.get_by_role("button", name="Show usage").click()
    table.get_by_role("link", name="Over 60 min", exact=True).click()

    page.wait_for_url(re.compile(r"/usage/records/\?.*band=4"))
    calls = page.locator("table.records-table tbody tr")
    assert calls.count() == 1
    other_party = calls.first.locator("td.number").inner_text()
    assert "•" in other_party and "123456" not in other_party

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV", exact=True).click()
    with open(download_info.value.path(), encoding="utf-8-sig") as fh:
        text = fh.read()
    assert text.startswith("Organization,Acme") and "\nStart (local time),Line,Person," in text
    assert "Anna Acme" in text and "Ben Acme" not in text


def test_location_manager_cannot_see_other_locations(page, sign_in, transactional_db):
    acme = firm("Acme")
    membership = factories.membership(factories.user("lena"), acme.org, role="location_manager")
    membership.locations.set([acme.berlin])
    sign_in("lena")
    assert "Acme Munich" not in page.content() and "Ben Acme" not in page.content()
    page.goto("/usage/?dim=location")
    assert page.locator("table.explorer-table").get_by_role("link", name="Acme Berlin", exact=True).is_visible()
    assert "Acme Munich" not in page.content()
    page.goto(f"/usage/records/?location={acme.munich.id}")
    assert page.get_by_text("Select a valid choice").first.is_visible()
    assert page.locator("table.records-table").count() == 0


def test_export_progress_page_polls_until_the_file_is_ready(page, sign_in, transactional_db):
    from portal.models import ExportJob

    acme = firm("Acme")
    membership = factories.membership(factories.user("eve"), acme.org, role="analyst")
    job = ExportJob.objects.create(
        organization=acme.org, membership=membership, kind="usage_records", params={}, rows_total=100
    )
    sign_in("eve")
    page.goto(f"/exports/{job.id}/")
    download = page.get_by_role("link", name="Download the file")
    assert not download.is_visible()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.READY, rows_done=100, file="x.csv")
    download.wait_for(state="visible")  # the page's script polled the JSON status
    assert page.locator("progress").evaluate("p => p.value") == 100
