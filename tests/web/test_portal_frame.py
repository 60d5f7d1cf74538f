"""The frame every portal page shares: the organization switcher and the role gate."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from portal.web.access import portal_view


@pytest.fixture
def controller(make):
    first, second, foreign = (make.organization(name=n) for n in ("Alpha", "Beta", "Gamma"))
    user = make.user("controller")
    make.membership(user, first, role="analyst")
    make.membership(user, second, role="location_manager")
    return user, first, second, foreign


def test_switching_to_a_membership_changes_the_acting_organization(client, controller):
    user, first, second, _ = controller
    client.force_login(user)
    response = client.post("/organization/", {"organization": second.id, "next": "/"})
    assert response.status_code == 302 and response.url == "/"
    assert client.session["organization_id"] == second.id


@pytest.mark.parametrize("value", ["foreign", "999999999", "abc", ""])
def test_switching_to_another_organization_is_not_found(client, controller, value):
    user, first, _, foreign = controller
    client.force_login(user)
    organization = foreign.id if value == "foreign" else value
    assert client.post("/organization/", {"organization": organization}).status_code == 404
    assert "organization_id" not in client.session


def test_switch_ignores_an_offsite_next(client, controller):
    user, _, second, _ = controller
    client.force_login(user)
    response = client.post("/organization/", {"organization": second.id, "next": "https://evil.example/"})
    assert response.url == "/"


def test_role_gate(controller, rf: RequestFactory):
    user, first, second, _ = controller

    @portal_view(billing=True)
    def billing_page(request):
        return HttpResponse(request.caller.scope.organization.name)

    request = rf.get("/")
    request.user = user
    request.session = {"organization_id": first.id}
    assert billing_page(request).content == b"Alpha"
    request.session = {"organization_id": second.id}  # location manager: no billing pages
    with pytest.raises(PermissionDenied):
        billing_page(request)


def test_friendly_404_page(client, controller):
    client.force_login(controller[0])
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and "Page not found" in response.content.decode()
