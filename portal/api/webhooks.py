"""Webhook endpoints and their delivery attempts, for the organization's administrators."""

import graphene

from billing.models import WebhookEndpoint
from billing.webhooks import ATTEMPT_ERRORS, EVENTS, WebhookError, webhook_register
from portal.actors import actor_of_request
from portal.api.core.errors import ApiError, Codes
from portal.api.core.nodes import caller
from portal.api.permissions import Permission, require
from portal.api.statements import MutationError


def _admin_endpoints(info):
    c = require(info, Permission.WEBHOOKS)
    return WebhookEndpoint.objects.filter(organization=c.scope.organization)


class WebhookAttemptType(graphene.ObjectType):
    class Meta:
        name = "WebhookAttempt"
        description = "One try to deliver an event."

    at = graphene.DateTime(required=True, description="When.")
    status_code = graphene.Int(description="HTTP status answered, if any.")
    error = graphene.String(required=True, description="What went wrong (empty on success).")
    duration_ms = graphene.Int(required=True, description="How long the request took.")

    def resolve_error(attempt, info):
        # Only our own generic reasons, never text from the receiver or the network (attempts recorded
        # before the reasons were generic may hold such text).
        error = attempt.error or ""
        if not error or error in ATTEMPT_ERRORS or (error.startswith("HTTP ") and error[5:].isdigit()):
            return error
        return "delivery failed"


class WebhookDeliveryType(graphene.ObjectType):
    class Meta:
        name = "WebhookDelivery"
        description = "An event sent (or being sent) to an endpoint."

    event = graphene.String(required=True, description="Event name, e.g. statement.issued.")
    event_id = graphene.String(required=True, description="Stable id, the same on every retry.")
    status = graphene.String(required=True, description="pending, delivered or failed.")
    created_at = graphene.DateTime(required=True, description="When the event happened.")
    attempts = graphene.List(
        graphene.NonNull(WebhookAttemptType), required=True, description="Every try, oldest first."
    )

    def resolve_attempts(delivery, info):
        return delivery.attempts.all()


class WebhookEndpointType(graphene.ObjectType):
    class Meta:
        name = "WebhookEndpoint"
        description = "An HTTPS endpoint receiving signed events."

    id = graphene.ID(required=True, description="Endpoint id.")
    url = graphene.String(required=True, description="Where events are POSTed.")
    events = graphene.List(graphene.NonNull(graphene.String), required=True, description="Subscribed events.")
    active = graphene.Boolean(required=True, description="Whether events are sent.")
    deliveries = graphene.List(
        graphene.NonNull(WebhookDeliveryType),
        required=True,
        description="The latest deliveries, newest first.",
        first=graphene.Int(default_value=20, description="How many (at most 100)."),
    )

    def resolve_deliveries(endpoint, info, first=20):
        if not 1 <= first <= 100:
            raise ApiError("first must be between 1 and 100", Codes.PAGE_TOO_LARGE, field="first")
        return endpoint.deliveries.prefetch_related("attempts")[:first]


# What each root field and mutation of this module needs (checked by portal.api.permissions).
PERMISSIONS = {"webhookEndpoints": Permission.WEBHOOKS, "registerWebhook": Permission.WEBHOOKS}


class Query(graphene.ObjectType):
    webhook_endpoints = graphene.List(
        graphene.NonNull(WebhookEndpointType), required=True, description="The organization's webhook endpoints."
    )

    def resolve_webhook_endpoints(root, info):
        return list(_admin_endpoints(info).order_by("created_at"))


class RegisterWebhook(graphene.Mutation):
    class Meta:
        description = "Register an HTTPS endpoint; the signing secret is returned once, here."

    class Arguments:
        url = graphene.String(required=True, description="https:// URL of your receiver.")
        events = graphene.List(
            graphene.NonNull(graphene.String), required=True, description=f"Among: {', '.join(EVENTS)}."
        )

    endpoint = graphene.Field(WebhookEndpointType, description="The endpoint, when registered.")
    secret = graphene.String(description="HMAC-SHA256 signing secret; shown once.")
    errors = graphene.List(graphene.NonNull(MutationError), required=True, description="Empty on success.")

    def mutate(root, info, url, events):
        _admin_endpoints(info)
        c = caller(info)
        try:
            endpoint = webhook_register(
                organization=c.scope.organization, url=url, events=events, actor=actor_of_request(info.context, c)
            )
        except WebhookError as exc:
            return RegisterWebhook(errors=[MutationError(field=exc.field, code=Codes.BAD_ARGUMENT, message=str(exc))])
        return RegisterWebhook(endpoint=endpoint, secret=endpoint.secret, errors=[])


class Mutation(graphene.ObjectType):
    register_webhook = RegisterWebhook.Field(description="Register a webhook endpoint.")
