"""axe-core on every main page of the portal, at desktop and phone widths: zero violations.

``MAIN_PAGES`` is what is walked: (what, path), where ``{statement}`` stands for an issued statement's
id. A new page is covered by adding a line here, or by calling the ``axe`` fixture in its own test.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal.budgets import budget_create
from tests import factories

MAIN_PAGES = [
    ("dashboard", "/"),
    ("usage explorer", "/usage/"),
    ("usage explorer, by hour and country", "/usage/?dim=hour&dim=country&period=last_month"),
    ("usage explorer with a wrong period", "/usage/?start=2026-11-20&end=2026-11-01&min_minutes=x"),
    ("calls", "/usage/records/?period=last_month"),
    ("statements", "/statements/"),
    ("statement", "/statements/{statement}/"),
    ("budgets", "/settings/budgets/"),
    ("offers and privacy", "/offers/privacy"),
    ("settings", "/settings/"),
    ("members", "/settings/members/"),
    ("API tokens", "/settings/tokens/"),
    ("personalization", "/settings/personalization/"),
    ("privacy", "/privacy/"),
]
DANGLING_DESCRIPTIONS = """() => [...document.querySelectorAll("[aria-describedby]")].flatMap((el) =>
    el.getAttribute("aria-describedby").split(/\\s+/).filter((id) => id && !document.getElementById(id)))"""
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)  # inside the period after the billed October


@pytest.fixture
def portal(billed_org, settings, tmp_path, pin_clock):
    """The hand-computed customer with an issued statement, an offer, a budget and an administrator."""
    pin_clock(NOW)
    settings.MEDIA_ROOT = tmp_path
    statement = factories.issued_statement(billed_org)
    factories.offer_recommendation(billed_org, statement=statement)
    admin = factories.membership(factories.user("a11y-admin"), billed_org, role="admin")
    budget_create(organization=billed_org, amount=Decimal(100), thresholds=[80], created_by=admin.user)
    return statement


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_main_pages_have_no_axe_violations(width, page, phone, sign_in, axe, portal):
    tab = page if width == "desktop" else phone
    tab.goto("/login/")
    axe(tab, "sign-in")
    assert tab.evaluate(DANGLING_DESCRIPTIONS) == []
    sign_in("a11y-admin", on=tab)
    failures = []
    for what, path in MAIN_PAGES:
        response = tab.goto(path.format(statement=portal.pk))
        assert response.status == 200, f"{what}: {response.status}"
        try:
            axe(tab, what)
        except pytest.fail.Exception as exc:
            failures.append(str(exc))
        # Help and error texts are announced: every id an aria-describedby names exists (id_end_error, not
        # the id_end-error the templates used to write).
        dangling = tab.evaluate(DANGLING_DESCRIPTIONS)
        if dangling:
            failures.append(f"{what}: aria-describedby names missing ids {dangling}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
