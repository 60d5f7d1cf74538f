"""Outgoing webhooks: events POSTed as JSON to an organization's HTTPS endpoints, signed, retried.

Each request carries ``X-Portal-Event``, ``X-Portal-Event-Id`` (stable across retries: receivers
ignore repeats), ``X-Portal-Timestamp`` (Unix seconds) and ``X-Portal-Signature: sha256=<hex>``, the
HMAC-SHA256 with the endpoint's secret of ``<timestamp>.<body>``. Receivers should recompute it and
reject timestamps older than five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.models import Organization, WebhookAttempt, WebhookDelivery, WebhookEndpoint

EVENTS = ("statement.issued",)
TIMEOUT_SECONDS = 10


class WebhookError(ValueError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@transaction.atomic
def webhook_register(
    *, organization: Organization, url: str, events: list[str], user=None, actor: Actor | None = None
) -> WebhookEndpoint:
    actor = actor_of(actor, user)
    parsed = urlparse(url)
    local = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme != "https" and not (settings.DEBUG and local and parsed.scheme == "http"):
        raise WebhookError("the endpoint must be an https:// URL")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise WebhookError(
            f"events must be among {', '.join(EVENTS)}" + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=sorted(set(events)),
        secret=secrets.token_hex(32),
        created_by=actor.user,
    )
    audit_write(
        organization=organization,
        action=AuditAction.WEBHOOK_REGISTERED,
        actor=actor,
        target=url,
        details={"endpoint": endpoint.pk, "events": endpoint.events},
    )
    return endpoint


def webhook_emit(*, organization: Organization, event: str, event_id: str, payload: dict) -> list[int]:
    """Queue the event for every active endpoint that wants it (after the transaction commits)."""
    from billing.statements.tasks import deliver_webhook

    ids = []
    for endpoint in WebhookEndpoint.objects.filter(organization=organization, active=True):
        if event not in endpoint.events:
            continue
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, event_id=event_id, defaults={"event": event, "payload": payload}
        )
        if created:
            ids.append(delivery.pk)
            transaction.on_commit(lambda pk=delivery.pk: deliver_webhook.delay(pk))
    return ids


def webhook_attempt(delivery: WebhookDelivery) -> bool:
    """POST once; record the attempt. Returns True when the receiver answered 2xx."""
    body = json.dumps(
        {"id": delivery.event_id, "event": delivery.event, "data": delivery.payload}, cls=DjangoJSONEncoder
    ).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - https enforced at registration
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "billing-portal-webhooks/1",
            "X-Portal-Event": delivery.event,
            "X-Portal-Event-Id": delivery.event_id,
            "X-Portal-Timestamp": str(timestamp),
            "X-Portal-Signature": sign(delivery.endpoint.secret, timestamp, body),
        },
    )
    started = time.monotonic()
    status, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))[:500]
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=status, error=error, duration_ms=int((time.monotonic() - started) * 1000)
    )
    return status is not None and 200 <= status < 300
