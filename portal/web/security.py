"""Content-Security-Policy for every page: scripts, styles and images only from our own origin.

No inline scripts or styles anywhere in the portal (server-rendered SVG charts use classes), so a
script injected into a page through data would not run. Django 5.2 has no CSP support of its own."""

import ipaddress

from django.conf import settings

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def client_ip(request) -> str | None:
    """The address of the client, seen through ``TRUSTED_PROXY_COUNT`` reverse proxies.

    Each trusted proxy appends the address it received the request from to ``X-Forwarded-For``, so the
    client is the entry that many places from the right of (X-Forwarded-For + REMOTE_ADDR). Entries
    further left were written by the client itself and mean nothing. With no trusted proxy (the
    default) the header is ignored and REMOTE_ADDR is the client."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR")
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    chain = [*forwarded, remote] if remote else forwarded
    if len(chain) <= proxies:
        return remote  # the request did not come through every proxy: trust nothing it says
    candidate = chain[-(proxies + 1)]
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        return remote
