"""Who is acting, as the domain's audit log records it: built once per request from the caller."""

from __future__ import annotations

from billing.audit import Actor


def client_address(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def actor_of_request(request, caller=None) -> Actor:
    """The user (and API token, when the request carried one) acting in this request, and its address.

    ``caller`` defaults to ``request.caller`` (set by ``portal_view`` and the GraphQL view)."""
    caller = caller if caller is not None else getattr(request, "caller", None)
    if caller is not None:
        return Actor(user=caller.user, token=caller.token, ip_address=client_address(request))
    user = getattr(request, "user", None)
    return Actor(user=user if user is not None and user.is_authenticated else None, ip_address=client_address(request))
