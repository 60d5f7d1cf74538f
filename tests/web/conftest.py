import pytest

from tests import factories


@pytest.fixture
def issued(billed_org):
    """billed_org's October statement, issued (PDF not rendered: tests that download render it)."""
    return factories.issued_statement(billed_org)


@pytest.fixture
def signed_in(client, make):
    """Sign ``client`` in as a new user with ``role`` in ``org``; returns the membership."""

    def sign_in(org, role="admin", **kw):
        user = make.user(email=f"{role}{org.pk}-{next(make._seq)}@example.com")
        membership = make.membership(user, org, role=role, **kw)
        client.force_login(user)
        return membership

    return sign_in
