"""The portal frame in a real browser: sign-in, navigation by role, organization switcher, error pages."""

from urllib.parse import urljoin

import pytest


@pytest.fixture
def two_orgs(make):
    # An English and a German organization: switching also switches the language of the pages.
    first = make.organization(name="Alpha Logistics", locale="en-GB")
    second = make.organization(name="Beta Retail", locale="de-DE")
    user = make.user("controller")
    make.membership(user, first, role="analyst")
    make.membership(user, second, role="admin")
    return first, second


def test_sign_in_and_switch_organization(page, sign_in, two_orgs):
    first, second = two_orgs
    sign_in("controller")
    # A member of several organizations first picks one (the chooser, in the browser's language); the
    # dashboard of the first then carries the switcher.
    page.goto(urljoin(page.url, "/"))
    switcher = page.get_by_label("Organization")
    assert switcher.input_value() == str(first.id)
    switcher.select_option(str(second.id))  # submits by itself with JavaScript on
    page.wait_for_load_state()
    assert page.get_by_label("Organisation").input_value() == str(second.id)
    assert page.get_by_role("link", name="Übersicht").is_visible()
    assert second.account_number in page.locator("footer").inner_text()


def test_unknown_page_is_a_friendly_404(page, sign_in, two_orgs):
    sign_in("controller")
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
