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

from billing.models import Statement
from billing.statements.services import statement_language
from portal.api.core.auth import session_caller
from portal.models import Membership, Role
from portal.scopes import BILLING_ROLES


def statement_owner(statement_id) -> int | None:
    """The organization of an issued statement (the one object whose links people keep in mail and bookmarks)."""
    return (
        Statement.objects.filter(pk=statement_id)
        .exclude(status=Statement.Status.DRAFT)
        .values_list("organization_id", flat=True)
        .first()
    )


def elsewhere(request, organization_id: int | None, *, billing: bool = False, admin: bool = False):
    """A link to an object of another organization the signed-in user is a member of (with a role that
    may open it): a page offering to switch there and open it, instead of "not found". ``None`` when the
    object is not theirs anywhere else: the view answers as usual (404), so nothing leaks."""
    if organization_id is None or request.method not in ("GET", "HEAD") or not request.user.is_authenticated:
        return None
    other = (
        Membership.objects.filter(user=request.user, organization_id=organization_id)
        .select_related("organization")
        .first()
    )
    if other is None:
        return None
    if (billing and other.role not in BILLING_ROLES) or (admin and other.role != Role.ADMIN):
        return None
    return render(request, "portal/elsewhere.html", {"other": other, "next": request.get_full_path()})


def portal_view(*, billing: bool = False, admin: bool = False, owner=None):
    """Decorate a view taking ``(request, ...)``; sets ``request.caller`` (membership, scope).

    ``billing``: statements, charges of the whole organization and offers (administrators, analysts).
    ``admin``: members, tokens, consent and budgets (administrators).
    The page renders in the organization's language.
    ``owner``: maps the view's URL kwargs to the organization owning the object shown; a link to an
    object of another of the user's organizations offers to switch there (``elsewhere``).
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            caller = session_caller(request)
            if caller is None:
                return render(request, "portal/no_membership.html", status=403)
            request.caller = caller
            if owner is not None:
                organization_id = owner(**kwargs)
                if organization_id != caller.membership.organization_id:
                    offer = elsewhere(request, organization_id, billing=billing, admin=admin)
                    if offer is not None:
                        return offer
            if (admin and caller.membership.role != Role.ADMIN) or (billing and not caller.sees_billing):
                raise PermissionDenied("Your role in this organization does not include this page.")
            # Every page is in the organization's language, as its statements are (the sign-in page, before
            # an organization is known, follows the browser: LocaleMiddleware).
            with translation.override(statement_language(caller.membership.organization)):
                return view(request, *args, **kwargs)

        return wrapped

    return decorator
