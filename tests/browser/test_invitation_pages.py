"""Invitations in a real browser: an administrator invites a user of another organization, who signs in,
accepts, and then follows a statement link of the new organization while working in the old one."""

import os

from portal.models import Membership
from tests import factories

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to look at the pages


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_invite_accept_and_a_statement_link_across_organizations(page, sign_in, billed_org, make):
    issued = factories.issued_statement(billed_org)
    hand = billed_org
    other = make.organization(name="Other AG")
    make.membership(make.user("erika", email="erika@example.com"), other, role="admin")
    make.membership(make.user("hand-boss", email="boss@example.com"), hand, role="admin")

    sign_in("hand-boss")
    page.goto("/settings/members/")
    page.get_by_label("Email").fill("erika@example.com")
    page.get_by_label("Role").select_option("analyst")
    page.get_by_role("button", name="Send invitation").click()
    assert page.get_by_text("they become a member when they accept it").is_visible()
    assert page.get_by_role("table", name="Invitations waiting for an answer").is_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in("erika")
    assert page.url.endswith("/organization/")
    assert page.get_by_text("hand-boss invites you to Hand GmbH as Analyst.").is_visible()
    assert not Membership.objects.filter(user__username="erika", organization=hand).exists()
    _shot(page, "invitation.png")
    page.get_by_role("button", name="Accept and join Hand GmbH").click()
    assert page.get_by_text("You are now a member of Hand GmbH.").is_visible()
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Statements").is_visible()

    # Back to Other AG with the header's switcher, then a link to Hand GmbH's statement (as in an email).
    with page.expect_navigation():  # the switcher submits itself; wait for it, or the next goto aborts it
        page.get_by_label("Organization").select_option(label="Other AG")
    page.goto(f"/statements/{issued.pk}/")
    assert page.get_by_role("heading", name="This belongs to Hand GmbH").is_visible()
    _shot(page, "elsewhere.png")
    page.get_by_role("button", name="Switch to Hand GmbH and open").click()
    assert page.get_by_role("heading", name=f"Statement {issued.number}").is_visible()
    assert page.url.endswith(f"/statements/{issued.pk}/")
