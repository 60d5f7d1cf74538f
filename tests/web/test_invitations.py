"""Inviting a user who already has an account: an invitation they accept or decline; until then they are not
a member. A user of several organizations picks one after sign-in and keeps working statement links."""

import re

import pytest
from django.core import mail

from portal.models import AuditLog, Invitation, Membership
from tests import factories

PASSWORD = "correct horse battery staple"


@pytest.fixture
def two_orgs(make, issued):
    """Hand GmbH (issued October statement) and a second organization where Erika already works."""
    hand = issued.organization
    other = make.organization(name="Other AG")
    erika = make.user("erika", email="erika@example.com")
    make.membership(erika, other, role="admin")
    boss = make.membership(make.user("boss", email="boss@example.com"), hand, role="admin")
    return hand, other, erika, boss


def _invite(client, boss, email="Erika@Example.com", role="analyst", **extra):
    client.force_login(boss.user)
    return client.post("/settings/members/", {"email": email, "role": role, **extra})


def test_an_existing_user_is_invited_not_added(client, two_orgs, django_capture_on_commit_callbacks):
    hand, other, erika, boss = two_orgs
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, boss)
    assert response.status_code == 302
    assert not Membership.objects.filter(user=erika, organization=hand).exists()
    invitation = Invitation.objects.get(user=erika, organization=hand)
    assert (invitation.status, invitation.role, invitation.email) == ("pending", "analyst", "erika@example.com")
    row = AuditLog.objects.get(action="member.invited", organization=hand)
    assert row.details == {"role": "analyst", "new_user": False, "pending": True} and row.user == boss.user
    (message,) = mail.outbox
    assert message.to == ["erika@example.com"] and "accept or decline" in message.body
    assert re.search(r"http://testserver/organization/\s", message.body)
    members = client.get("/settings/members/").content.decode()
    assert "Invitations waiting for an answer" in members and "erika@example.com" in members
    # Invited twice while the first is unanswered: refused, per field.
    again = _invite(client, boss)
    assert again.status_code == 400 and "has been invited already" in again.content.decode()
    # Erika still works only in her own organization: Hand GmbH's statement is not hers.
    client.force_login(erika)
    assert client.get(f"/statements/{hand.statements.get().pk}/").status_code == 404


def test_accept_after_sign_in_makes_a_member_with_the_invited_scope(client, two_orgs, make):
    hand, other, erika, boss = two_orgs
    berlin = hand.locations.get(name="Berlin")
    _invite(client, boss, role="location_manager", locations=[berlin.pk])
    client.logout()
    signed_in = client.post("/login/", {"username": "erika", "password": PASSWORD})
    assert signed_in.url == "/organization/"  # invitations waiting: the chooser first
    page = client.get("/organization/").content.decode()
    assert "boss invites you to Hand GmbH as Location manager." in page and "Accept and join Hand GmbH" in page
    invitation = Invitation.objects.get(user=erika)
    response = client.post(f"/invitations/{invitation.pk}/answer", {"decision": "accept"})
    assert response.url == "/"
    membership = Membership.objects.get(user=erika, organization=hand)
    assert membership.role == "location_manager" and list(membership.locations.all()) == [berlin]
    assert client.session["organization_id"] == hand.pk
    home = client.get("/").content.decode()
    assert "You are now a member of Hand GmbH." in home
    row = AuditLog.objects.get(action="member.invitation_accepted")
    assert (row.organization, row.user, row.target) == (hand, erika, "erika@example.com")
    # Answered: it cannot be answered again.
    assert client.post(f"/invitations/{invitation.pk}/answer", {"decision": "decline"}).status_code == 404


def test_decline_and_withdraw_leave_no_membership(client, two_orgs, make):
    hand, other, erika, boss = two_orgs
    _invite(client, boss)
    invitation = Invitation.objects.get(user=erika)
    # Someone else cannot answer it, not even an administrator of the inviting organization.
    assert client.post(f"/invitations/{invitation.pk}/answer", {"decision": "accept"}).status_code == 404
    client.force_login(erika)
    assert client.post(f"/invitations/{invitation.pk}/answer", {"decision": "decline"}).status_code == 302
    assert not Membership.objects.filter(user=erika, organization=hand).exists()
    assert Invitation.objects.get(pk=invitation.pk).status == "declined"
    assert AuditLog.objects.filter(action="member.invitation_declined", organization=hand, user=erika).count() == 1
    # A new invitation, withdrawn by the administrator before Erika answers.
    _invite(client, boss)
    second = Invitation.objects.get(user=erika, status="pending")
    assert client.post(f"/settings/invitations/{second.pk}/withdraw").status_code == 302
    assert AuditLog.objects.filter(action="member.invitation_revoked", organization=hand, user=boss.user).count() == 1
    client.force_login(erika)
    assert client.post(f"/invitations/{second.pk}/answer", {"decision": "accept"}).status_code == 404
    assert not Membership.objects.filter(user=erika, organization=hand).exists()
    # Another organization's administrator cannot withdraw Hand GmbH's invitations.
    _invite(client, boss)
    third = Invitation.objects.get(user=erika, status="pending")
    client.force_login(erika)  # admin of Other AG
    assert client.post(f"/settings/invitations/{third.pk}/withdraw").status_code == 404


def test_a_user_of_several_organizations_picks_one_and_keeps_statement_links(client, two_orgs, make):
    hand, other, erika, boss = two_orgs
    make.membership(erika, hand, role="analyst")
    mine = hand.statements.get()
    elsewhere_org = make.organization(name="Stranger SA")
    stranger = factories.issued_statement(elsewhere_org)

    signed_in = client.post("/login/", {"username": "erika", "password": PASSWORD})
    assert signed_in.url == "/organization/"
    chooser = client.get("/organization/").content.decode()
    assert "Hand GmbH" in chooser and "Other AG" in chooser
    client.post("/organization/", {"organization": other.pk})
    assert client.session["organization_id"] == other.pk

    # A link to Hand GmbH's statement while working in Other AG: offered to switch, then it opens.
    for url in (f"/statements/{mine.pk}/", f"/statements/{mine.pk}/pdf", f"/statements/{mine.pk}/calls.csv"):
        offer = client.get(url)
        assert offer.status_code == 200, url
        text = offer.content.decode()
        assert "This belongs to Hand GmbH" in text and "Switch to Hand GmbH and open" in text
        assert "You are working in Other AG now." in text
        assert f'name="next" value="{url}"' in text
    switched = client.post("/organization/", {"organization": hand.pk, "next": f"/statements/{mine.pk}/"})
    assert switched.url == f"/statements/{mine.pk}/"
    assert mine.number in client.get(switched.url).content.decode()
    # A statement of an organization she is not a member of stays "not found"; a direct link with a
    # bearer token never switches anything.
    assert client.get(f"/statements/{stranger.pk}/").status_code == 404
    assert client.get(f"/statements/{stranger.pk}/pdf").status_code == 404


def test_a_member_role_elsewhere_is_not_offered_statements(client, two_orgs, make):
    hand, other, erika, boss = two_orgs
    make.membership(erika, hand, role="member", person=hand.persons.get(name="Anna"))
    client.force_login(erika)
    client.post("/organization/", {"organization": other.pk})
    assert client.get(f"/statements/{hand.statements.get().pk}/").status_code == 404
