"""Offer answers from the browser: the accept/decline forms of billing/offers/_panel.html post here.

Scoped through the user's memberships: an offer of an organization the user is not an administrator or
analyst of answers 404, exactly like an offer that does not exist.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from billing.models import OfferRecommendation
from billing.offers.privacy import PRIVACY_TEXT, PRIVACY_TITLE
from billing.offers.responses import OfferError, offer_impressions_record, offer_respond
from billing.offers.selectors import offers_for
from billing.statements.services import statement_language
from portal.actors import actor_of_request
from portal.models import Membership
from portal.scopes import BILLING_ROLES, scope_for
from portal.web.access import portal_view
from portal.web.redirects import redirect_back


def offers_panel_context(request, membership: Membership, statement=None) -> dict:
    """Context for ``{% include "billing/offers/_panel.html" %}``; records the offers as shown (web).

    The portal pages call this with the membership the page is for (and the statement next to which the
    panel stands, if any) and merge the result into their context.
    """
    views = offers_for(scope=scope_for(membership), statement=statement)
    if views:
        offer_impressions_record(
            organization=membership.organization,
            recommendation_ids=[v.id for v in views],
            channel="web",
            user=request.user,
        )
    return {"offers": views, "offers_privacy_title": PRIVACY_TITLE, "offers_privacy_text": PRIVACY_TEXT}


@login_required
@require_POST
def offer_respond_view(request, offer_id: int):
    membership = (
        Membership.objects.select_related("organization")
        .filter(
            user=request.user,
            role__in=BILLING_ROLES,
            organization__offer_recommendations__pk=offer_id,
        )
        .first()
    )
    if (
        membership is None
        or not OfferRecommendation.objects.filter(pk=offer_id, organization=membership.organization).exists()
    ):
        raise Http404("No such offer")
    decision = request.POST.get("decision", "")
    try:
        offer_respond(
            organization=membership.organization,
            recommendation_id=offer_id,
            decision=decision,
            actor=actor_of_request(request),
            reason=request.POST.get("reason", ""),
            channel="web",
        )
    except OfferError as exc:
        messages.error(request, str(exc))
    else:
        with translation.override(statement_language(membership.organization)):  # the next page's language
            messages.success(
                request,
                gettext("Thank you: our staff will contact you to set it up. Nothing changes on your bill until then.")
                if decision == "accepted"
                else gettext("Thank you: we will not show you this offer again for a while."),
            )
    return redirect_back(request)


@portal_view()
def offers_privacy(request):
    return render(
        request,
        "billing/offers/privacy.html",
        {"offers_privacy_title": PRIVACY_TITLE, "offers_privacy_text": PRIVACY_TEXT},
    )
