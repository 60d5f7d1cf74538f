"""Offers over GraphQL: the offers next to a statement, the latest offers, and answering one.

Only administrators and analysts (roles that may see billing) with the ``offers`` token scope see offers;
every offer returned through the API is recorded as an impression (channel "api").
"""

import graphene

from billing.models import OfferRecommendation
from billing.offers.privacy import PRIVACY_TEXT
from billing.offers.responses import OfferError, offer_impressions_record, offer_respond
from billing.offers.selectors import offers_for, view_of
from portal.actors import actor_of_request
from portal.api.core.nodes import decode_id, encode_id
from portal.api.permissions import Permission, require

OfferDecisionEnum = graphene.Enum(
    "OfferDecision", [("ACCEPT", "accepted"), ("DECLINE", "declined")], description="An answer to an offer."
)
OfferStatusEnum = graphene.Enum(
    "OfferStatus",
    [("OPEN", "open"), ("ACCEPTED", "accepted"), ("DECLINED", "declined")],
    description="Whether the offer has been answered.",
)
RespondToOfferErrorCode = graphene.Enum(
    "RespondToOfferErrorCode",
    [
        ("NOT_FOUND", OfferError.NOT_FOUND),
        ("ALREADY_ANSWERED", OfferError.ALREADY_ANSWERED),
        ("OFFER_EXPIRED", OfferError.OFFER_EXPIRED),
        ("REASON_TOO_LONG", OfferError.REASON_TOO_LONG),
        ("ALREADY_REQUESTED", OfferError.ALREADY_REQUESTED),
    ],
    description="Why respondToOffer did nothing.",
)


def offers_caller(info):
    return require(info, Permission.OFFERS)


class OfferType(graphene.ObjectType):
    class Meta:
        name = "Offer"
        description = (
            "A service offer picked for the organization. Personalized offers are priced on its own usage: "
            "the saving is what its statements would have cost less with the offer."
        )

    id = graphene.ID(required=True, description="Id to answer the offer with (respondToOffer).")
    code = graphene.String(required=True, description="Catalog code of the offer.")
    kind = graphene.String(required=True, description="plan_change, bundle, addon or retention.")
    title = graphene.String(required=True, description="Name of the offer.")
    description = graphene.String(required=True, description="What the offer is (the same for every customer).")
    reason = graphene.String(
        required=True, description="Why it is offered, in plain words, with the numbers it is based on."
    )
    personalized = graphene.Boolean(required=True, description="Priced on the organization's own usage.")
    retention = graphene.Boolean(required=True, description="Brought forward because usage is falling.")
    currency = graphene.String(required=True, description="ISO 4217 currency of the amounts.")
    saving_per_month = graphene.Decimal(description="Average saving per month (null for generic offers).")
    saving_total = graphene.Decimal(description="Saving over the months it is based on (null for generic offers).")
    months = graphene.Int(
        required=True, description="Billed periods (with an issued statement) the saving is computed over (0: generic)."
    )
    period_start = graphene.Date(description="First day of the billed months the saving covers.")
    period_end = graphene.Date(description="Last day of the billed months the saving covers.")
    saving_total_incl_tax = graphene.Decimal(description="The same saving on the statements' totals, tax included.")
    saving_per_month_incl_tax = graphene.Decimal(description="Average saving per month, tax included.")
    tax_rate = graphene.Decimal(description="Tax rate of the statements the saving is computed on.")
    price_per_month = graphene.Decimal(description="The offer's own monthly fee per line, before tax.")
    term_months = graphene.Int(required=True, description="Minimum term in months (0: none).")
    status = graphene.Field(OfferStatusEnum, required=True, description="Open, accepted or declined.")

    @staticmethod
    def of(view):
        return OfferType(
            id=encode_id("Offer", view.id),
            code=view.code,
            kind=view.kind,
            title=view.title,
            description=view.copy,
            reason=view.reason,
            personalized=view.personalized,
            retention=view.retention,
            currency=view.currency,
            saving_per_month=view.saving_monthly,
            saving_total=view.saving_total,
            months=view.months,
            status=view.status,
            period_start=view.recommendation.period_start,
            period_end=view.recommendation.period_end,
            saving_total_incl_tax=view.recommendation.saving_total_incl_tax,
            saving_per_month_incl_tax=view.recommendation.saving_monthly_incl_tax,
            tax_rate=view.recommendation.tax_rate,
            price_per_month=view.recommendation.price_monthly,
            term_months=view.term_months,
        )


def shown_offers(info, statement=None) -> list[OfferType]:
    c = offers_caller(info)
    views = offers_for(scope=c.scope, statement=statement)
    if views:
        offer_impressions_record(
            organization=c.scope.organization, recommendation_ids=[v.id for v in views], channel="api", user=c.user
        )
    return [OfferType.of(v) for v in views]


def resolve_statement_offers(statement, info):
    return shown_offers(info, statement)


# What each root field and mutation of this module needs (checked by portal.api.permissions).
PERMISSIONS = {
    "offers": Permission.OFFERS,
    "offerPrivacyNotice": Permission.ANY_CALLER,  # the same text as the public privacy page
    "respondToOffer": Permission.OFFERS,
}


class Query(graphene.ObjectType):
    offers = graphene.List(
        graphene.NonNull(OfferType),
        required=True,
        description="The organization's latest offers (at most 3; declined ones are hidden for a while).",
    )
    offer_privacy_notice = graphene.String(
        required=True, description="What data personalized offers use, and that it never leaves the provider."
    )

    def resolve_offers(root, info):
        return shown_offers(info)

    def resolve_offer_privacy_notice(root, info):
        return str(PRIVACY_TEXT)  # the API's texts are English


class RespondToOfferError(graphene.ObjectType):
    class Meta:
        description = "Why respondToOffer did nothing: which argument and what is wrong."

    field = graphene.String(description="The argument at fault, if one is.")
    code = graphene.Field(RespondToOfferErrorCode, required=True, description="Stable error code.")
    message = graphene.String(required=True, description="What is wrong.")


class RespondToOffer(graphene.Mutation):
    class Meta:
        description = (
            "Accept or decline an offer (administrators and analysts; token scope offers). Accepting sends a "
            "request to the provider's staff; nothing about billing changes until they carry it out."
        )

    class Arguments:
        offer_id = graphene.ID(required=True, description="Offer id (Offer.id).")
        decision = OfferDecisionEnum(required=True, description="ACCEPT or DECLINE.")
        reason = graphene.String(description="Why (optional; at most 500 characters).")

    offer = graphene.Field(OfferType, description="The offer as answered.")
    errors = graphene.List(graphene.NonNull(RespondToOfferError), required=True, description="Empty on success.")

    def mutate(root, info, offer_id, decision, reason=""):
        c = offers_caller(info)
        _type, pk = decode_id(offer_id, "Offer", field="offerId")
        try:
            offer_respond(
                organization=c.scope.organization,
                recommendation_id=pk,
                decision=decision.value if hasattr(decision, "value") else decision,
                actor=actor_of_request(info.context, c),
                reason=reason or "",
                channel="api",
            )
        except OfferError as exc:
            return RespondToOffer(errors=[RespondToOfferError(field=exc.field, code=exc.code, message=str(exc))])
        view = next((v for v in offers_for(scope=c.scope) if v.id == pk), None)
        if view is None:  # answered from an older run or declined (hidden now): describe it all the same
            view = view_of(
                OfferRecommendation.objects.select_related("offer", "response", "organization").get(
                    pk=pk, organization=c.scope.organization
                )
            )
        return RespondToOffer(offer=OfferType.of(view), errors=[])


class Mutation(graphene.ObjectType):
    respond_to_offer = RespondToOffer.Field(description="Accept or decline an offer.")
