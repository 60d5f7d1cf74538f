"""Who the signed-in user is acting as on a page: one membership, chosen with the header switcher.

Every portal view goes through ``portal_view``: it resolves the membership (and so the Scope the domain
selectors filter by) and refuses roles that may not see the page. Objects of other organizations are
never looked up here: views query through the caller's scope, so foreign ids are simply not found (404).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import translation

from billing.statements.services import statement_language
from portal.api.core.auth import session_caller
from portal.models import Role


def portal_view(*, billing: bool = False, admin: bool = False):
    """Decorate a view taking ``(request, ...)``; sets ``request.caller`` (membership, scope).

    ``billing``: statements, charges of the whole organization and offers (administrators, analysts).
    ``admin``: members, tokens, consent and budgets (administrators).
    The page renders in the organization's language.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            caller = session_caller(request)
            if caller is None:
                return render(request, "portal/no_membership.html", status=403)
            if (admin and caller.membership.role != Role.ADMIN) or (billing and not caller.sees_billing):
                raise PermissionDenied("Your role in this organization does not include this page.")
            request.caller = caller
            # Every page is in the organization's language, as its statements are (the sign-in page, before
            # an organization is known, follows the browser: LocaleMiddleware).
            with translation.override(statement_language(caller.membership.organization)):
                return view(request, *args, **kwargs)

        return wrapped

    return decorator
