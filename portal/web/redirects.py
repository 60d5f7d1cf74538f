"""Where a form may send the browser back to: the ``next`` it posted, if it stays on this site."""

from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request, default: str = "home"):
    """Redirect to the posted ``next`` when it is a URL of this host (over https when the request was),
    otherwise to ``default``: never off site (an open redirect would lend the portal's name to phishing)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)
