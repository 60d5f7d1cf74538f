"""Who to tell about an organization's billing (a statement is ready): a lookup the edge registers.

Who may see billing is the portal's rule (its roles and memberships), so the domain does not query them: the
portal registers a function ``organization -> [email, ...]`` at start-up (``portal.apps``)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

_billing_recipients: Callable[[object], list[str]] | None = None


def register_billing_recipients(lookup: Callable[[object], list[str]]) -> None:
    global _billing_recipients
    _billing_recipients = lookup


def billing_recipients(organization) -> list[str]:
    """Email addresses of the people who may see ``organization``'s statements."""
    if _billing_recipients is None:
        raise ImproperlyConfigured("no billing recipients lookup is registered (the portal registers one)")
    return _billing_recipients(organization)
