"""Settings: roles, isolation, members and invitations, tokens, consent, budgets."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from portal.models import ApiToken, AuditLog, Budget, Membership, Role, hash_token
from tests import factories

PAGES = [
    "/settings/",
    "/settings/members/",
    "/settings/tokens/",
    "/settings/personalization/",
    "/settings/budgets/",
    "/settings/e-invoice/",
]


@pytest.fixture
def org(db):
    """An English-speaking organization: these tests read the pages' English texts (pages are in the
    organization's language; tests/web/test_portal_languages.py reads them in German, French and Dutch)."""
    return factories.organization(locale="en-US")


@pytest.mark.parametrize("role,status", [("admin", 200), ("analyst", 403), ("location_manager", 403)])
def test_settings_only_for_admins(client, org, signed_in, make, role, status):
    membership = signed_in(org, role=role)
    if role == "location_manager":
        membership.locations.set([make.location(org)])
    for url in PAGES:
        assert client.get(url).status_code == status, url
    home = client.get("/").content.decode()
    assert ('href="/settings/"' in home) == (role == "admin")


def test_privacy_page_for_every_member(client, org, signed_in, make):
    signed_in(org, role="member", person=make.person(org))
    page = client.get("/privacy/").content.decode()
    assert "never leaves the provider" in page and "is <strong>off</strong>" in page


def test_other_organizations_ids_are_not_found(client, org, signed_in, make):
    signed_in(org, role="admin")
    other = make.organization()
    their_admin = make.membership(make.user(), other, role="admin")
    token, _raw = __import__("portal.api.core.auth", fromlist=["token_create"]).token_create(
        membership=their_admin, name="theirs", scopes=["usage:read"]
    )
    budget = Budget.objects.create(organization=other, amount=10, thresholds=[100])
    assert client.get(f"/settings/members/{their_admin.pk}/").status_code == 404
    assert client.post(f"/settings/members/{their_admin.pk}/", {"role": "analyst"}).status_code == 404
    assert client.post(f"/settings/members/{their_admin.pk}/remove").status_code == 404
    assert client.post(f"/settings/tokens/{token.pk}/revoke").status_code == 404
    assert client.post(f"/settings/budgets/{budget.pk}/remove").status_code == 404
    their_location = make.location(other)
    response = client.post(
        "/settings/budgets/",
        {"applies_to": "location", "location": their_location.pk, "amount": "10", "thresholds": "80"},
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None and Membership.objects.filter(pk=their_admin.pk, role="admin").exists()
    assert Budget.objects.filter(pk=budget.pk).exists()


def test_invite_sends_a_working_set_password_link(client, org, signed_in, make, django_capture_on_commit_callbacks):
    signed_in(org, role="admin")
    berlin = make.location(org, name="Berlin")
    with django_capture_on_commit_callbacks(execute=True):  # the email goes out after commit
        response = client.post(
            "/settings/members/",
            {"email": "New.Person@Example.com", "role": "location_manager", "locations": [berlin.pk]},
        )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user, organization=org)
    assert membership.role == "location_manager" and list(membership.locations.all()) == [berlin]
    assert AuditLog.objects.filter(action="member.invited", target="new.person@example.com").exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    client.logout()
    form = client.get(link, follow=True)  # Django swaps the token for a session marker and redirects
    assert form.status_code == 200 and "Choose a password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a long new passphrase 42", "new_password2": "a long new passphrase 42"},
    )
    assert done.status_code == 302
    assert client.login(username=user.username, password="a long new passphrase 42")
    # The link works once.
    client.logout()
    assert "no longer valid" in client.get(link, follow=True).content.decode()


def test_invite_errors_are_per_field(client, org, signed_in, make):
    signed_in(org, role="admin")
    response = client.post("/settings/members/", {"email": "not-an-email", "role": "member"})
    page = response.content.decode()
    assert response.status_code == 400 and "Enter a valid email address" in page and "Choose the person" in page
    response = client.post("/settings/members/", {"email": "a@example.com", "role": "location_manager"})
    assert "Choose at least one location" in response.content.decode()
    response = client.post("/settings/members/", {"email": "a@example.com", "role": "boss"})
    assert response.status_code == 400
    assert not mail.outbox


def test_change_role_is_audited_and_last_admin_is_kept(client, org, signed_in, make):
    me = signed_in(org, role="admin")
    person = make.person(org)
    other = make.membership(make.user(), org, role="analyst")
    assert client.post(f"/settings/members/{other.pk}/", {"role": "member", "person": person.pk}).status_code == 302
    other.refresh_from_db()
    assert other.role == "member" and other.person == person
    row = AuditLog.objects.get(action="member.role_changed")
    assert row.details["before"]["role"] == "analyst" and row.details["after"]["role"] == "member"
    # I am the only administrator: I can neither demote nor remove myself.
    response = client.post(f"/settings/members/{me.pk}/", {"role": "analyst"})
    assert response.status_code == 400 and "last administrator" in response.content.decode()
    client.post(f"/settings/members/{me.pk}/remove")
    me.refresh_from_db()
    assert me.role == Role.ADMIN
    # With a second administrator, removing the other member works.
    assert client.post(f"/settings/members/{other.pk}/remove").status_code == 302
    assert not Membership.objects.filter(pk=other.pk).exists()
    assert AuditLog.objects.filter(action="member.removed").exists()


def test_token_shown_once_hashed_and_revocable(client, org, signed_in, make):
    signed_in(org, role="admin")
    response = client.post("/settings/tokens/", {"name": "ERP", "scopes": ["usage:read"], "expiry": "30"})
    assert response.status_code == 302 and response.url == reverse("settings-token-created")
    page = client.get(response.url).content.decode()
    raw = re.search(r'value="(bp_[^"]+)"', page).group(1)
    token = ApiToken.objects.get(name="ERP")
    assert token.key_hash == hash_token(raw) and raw not in str(ApiToken.objects.values_list().get(pk=token.pk))
    assert token.expires_at is not None and token.scopes == ["usage:read"]
    # Shown once: the next visit, and the list, never show it again.
    assert client.get(reverse("settings-token-created")).status_code == 302
    assert raw not in client.get("/settings/tokens/").content.decode()
    query = {"query": "{ viewer { role } }"}
    graphql = client.post("/graphql/", query, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert graphql.status_code == 200
    assert client.post(f"/settings/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditLog.objects.filter(action="token.revoked", token=token).exists()
    refused = client.post("/graphql/", query, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert refused.status_code == 401


def test_token_form_errors(client, org, signed_in):
    signed_in(org, role="admin")
    response = client.post("/settings/tokens/", {"name": "", "scopes": ["root"], "expiry": "9999"})
    page = response.content.decode()
    assert response.status_code == 400 and "This field is required" in page and "Select a valid choice" in page
    assert not ApiToken.objects.exists()


def test_consent_change_is_recorded(client, org, signed_in):
    me = signed_in(org, role="admin")
    assert client.post("/settings/personalization/", {"consent": "on"}).status_code == 302
    org.refresh_from_db()
    assert org.personalization_consent is True
    assert org.personalization_consent_changed_by == me.user and org.personalization_consent_changed_at is not None
    assert AuditLog.objects.filter(action="consent.changed", details__personalization_consent=True).count() == 1
    client.post("/settings/personalization/", {})
    org.refresh_from_db()
    assert org.personalization_consent is False
    assert "never leaves the provider" in client.get("/settings/personalization/").content.decode()


def test_budget_create_and_remove(client, org, signed_in, make):
    signed_in(org, role="admin")
    person = make.person(org, name="Anna")
    response = client.post(
        "/settings/budgets/", {"applies_to": "person", "person": person.pk, "amount": "250.00", "thresholds": "100, 80"}
    )
    assert response.status_code == 302
    budget = Budget.objects.get(organization=org)
    assert budget.person == person and budget.location is None and budget.thresholds == [80, 100]
    assert "Person Anna" in client.get("/settings/budgets/").content.decode()
    bad = client.post("/settings/budgets/", {"applies_to": "location", "amount": "-1", "thresholds": "eighty"})
    page = bad.content.decode()
    assert bad.status_code == 400 and "Choose the location" in page and "whole percents" in page
    assert client.post(f"/settings/budgets/{budget.pk}/remove").status_code == 302
    assert not Budget.objects.exists()


def test_removing_a_member_revokes_and_keeps_their_tokens(client, org, signed_in, make):
    """A member whose tokens appear in the audit log can be removed: the tokens are revoked, stop
    working at once, and stay listed (for the audit trail) as a removed member's."""
    from portal.api.core.auth import AuthenticationFailed, authenticate_token, token_create

    signed_in(org, role="admin")
    leaver = make.membership(make.user(), org, role="analyst")
    token, raw = token_create(membership=leaver, name="ERP sync", scopes=["usage:read"])
    authenticate_token(raw)  # used once: an audit row now refers to the token
    assert AuditLog.objects.filter(token=token, action="token.used").exists()

    assert client.post(f"/settings/members/{leaver.pk}/remove").status_code == 302
    assert not Membership.objects.filter(pk=leaver.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None and token.membership is None and token.organization == org
    assert AuditLog.objects.filter(token=token, action="token.revoked").exists()
    with pytest.raises(AuthenticationFailed):
        authenticate_token(raw)
    listing = client.get("/settings/tokens/").content.decode()
    assert "ERP sync" in listing and "removed member" in listing
