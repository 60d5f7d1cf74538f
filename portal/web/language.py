"""The language a portal page is written in: the organization's (its locale's language when the portal
has it, else English), the same rule as its statements (``billing.statements.services``)."""

from functools import wraps

from django.utils import translation

from billing.statements.services import statement_language


def organization_language(organization) -> str:
    return statement_language(organization)


def in_organization_language(view):
    """Render a ``portal_view`` (inside it: ``request.caller`` is set) in the organization's language."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        language = organization_language(request.caller.scope.organization)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            return view(request, *args, **kwargs)

    return wrapped
