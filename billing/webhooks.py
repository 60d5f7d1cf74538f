"""Outgoing webhooks: events POSTed as JSON to an organization's HTTPS endpoints, signed, retried.

Each request carries ``X-Portal-Event``, ``X-Portal-Event-Id`` (stable across retries: receivers
ignore repeats), ``X-Portal-Timestamp`` (Unix seconds) and ``X-Portal-Signature: sha256=<hex>``, the
HMAC-SHA256 with the endpoint's secret of ``<timestamp>.<body>``. Receivers should recompute it and
reject timestamps older than five minutes.

An endpoint is a URL a customer types, fetched by our servers: the classic server-side request forgery.
So the URL must be ``https://`` without user info, on port 443 or one of ``WEBHOOK_ALLOWED_PORTS``; its
host is resolved when it is registered AND again at every delivery, and every address it resolves to must
be a public unicast one (no loopback, private, shared, link-local, multicast, reserved or unspecified
address, nor one of those wrapped in IPv6: IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). The
request then connects to the address that was checked (a second lookup by the HTTP library could answer
differently: DNS rebinding), with TLS verified for the host name. Redirects are not followed, and what
the receiver or the network said is never stored or shown: an attempt records a status code or one of a
few generic reasons (ATTEMPT_ERRORS), the details go to the server log.

With ``DEBUG`` on, ``http://localhost`` / ``http://127.0.0.1`` are allowed for trying a receiver on the
developer's machine; production runs with ``DEBUG`` off (``check --deploy``).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.models import Organization, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billing.retries import backoff_countdown

logger = logging.getLogger(__name__)

EVENTS = ("statement.issued", "usage.anomaly")
TIMEOUT_SECONDS = 10
LOCAL_DEBUG_HOSTS = ("localhost", "127.0.0.1", "::1")

# What an attempt may say besides a status code: nothing the receiver or the network wrote.
REFUSED_ADDRESS = "the endpoint's host does not resolve to a public address"
UNRESOLVED = "the endpoint's host does not resolve"
CONNECT_FAILED = "could not connect"
TLS_FAILED = "TLS handshake or certificate check failed"
TIMED_OUT = "timed out"
REDIRECTED = "answered a redirect (not followed)"
NO_ANSWER = "no valid HTTP answer"
ATTEMPT_ERRORS = frozenset({REFUSED_ADDRESS, UNRESOLVED, CONNECT_FAILED, TLS_FAILED, TIMED_OUT, REDIRECTED, NO_ANSWER})


class WebhookError(ValueError):
    def __init__(self, message: str, field: str = "url"):
        super().__init__(message)
        self.field = field


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where the standards define one."""
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002:aabb:ccdd::/48
        return ip.sixtofour
    packed = ip.packed
    if packed[:12] == bytes(12) and int(ip) > 1:  # ::a.b.c.d, IPv4-compatible (deprecated)
        return ipaddress.IPv4Address(packed[12:])
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64, RFC 6052
        return ipaddress.IPv4Address(packed[12:])
    return None


def address_refusal(address: str) -> str | None:
    """Why a resolved address may not be a webhook destination, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "Teredo"  # the client address inside is obfuscated: no way to check it
        if ip in ipaddress.IPv6Network("64:ff9b:1::/48"):
            return "local-use NAT64"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = address_refusal(str(inner))
            return f"IPv6 form of a {reason} address" if reason else None
    for reason in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{reason}"):
            return reason.replace("_", "-")
    if not ip.is_global:
        return "non-global"  # shared address space 100.64/10, benchmarking, documentation, ...
    return None


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address the host resolves to (tests replace this: no query leaves the machine)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _allowed_ports() -> set[int]:
    return {443, *getattr(settings, "WEBHOOK_ALLOWED_PORTS", ())}


def _debug_local(scheme: str, host: str | None) -> bool:
    return bool(settings.DEBUG) and scheme in ("http", "https") and host in LOCAL_DEBUG_HOSTS


def checked_destination(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) of an endpoint URL, or WebhookError saying what is wrong."""
    if not isinstance(url, str) or len(url) > 2000 or any(c.isspace() or ord(c) < 32 for c in url):
        raise WebhookError("the endpoint URL must be one line of at most 2000 characters")
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname
    local = _debug_local(scheme, host)
    if scheme != "https" and not local:
        raise WebhookError("the endpoint must be an https:// URL")
    if "@" in parts.netloc:
        raise WebhookError("the endpoint URL may not contain a user name or password")
    if not host:
        raise WebhookError("the endpoint URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise WebhookError("the endpoint URL's port is not a number from 1 to 65535") from None
    if local:
        return scheme, host, port, ["::1" if host == "::1" else "127.0.0.1"]
    if port not in _allowed_ports():
        allowed = ", ".join(str(p) for p in sorted(_allowed_ports()))
        raise WebhookError(f"the endpoint URL's port must be one of {allowed}")
    try:
        addresses = resolve_addresses(host, port)
    except (OSError, UnicodeError):
        raise WebhookError(UNRESOLVED) from None
    if not addresses:
        raise WebhookError(UNRESOLVED)
    refusals = {a: address_refusal(a) for a in addresses}
    if any(refusals.values()):
        logger.warning("webhook host %s refused: %s", host, refusals)
        raise WebhookError(REFUSED_ADDRESS + " (loopback, private, link-local, multicast and reserved are refused)")
    return scheme, host, port, addresses


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@transaction.atomic
def webhook_register(
    *, organization: Organization, url: str, events: list[str], user=None, actor: Actor | None = None
) -> WebhookEndpoint:
    actor = actor_of(actor, user)
    checked_destination(url)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise WebhookError(
            f"events must be among {', '.join(EVENTS)}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field="events",
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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever a new lookup of the host would answer."""

    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified for the URL's host name (SNI too)."""

    def __init__(self, host, port, *, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    """POST once to the checked address; (status, generic error). Never follows a redirect."""
    try:
        scheme, host, port, addresses = checked_destination(url)
    except WebhookError as exc:
        return None, UNRESOLVED if str(exc) == UNRESOLVED else REFUSED_ADDRESS
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    address = addresses[0]
    if scheme == "https":
        connection = _PinnedHTTPSConnection(host, port, address=address, timeout=TIMEOUT_SECONDS, context=tls_context())
    else:
        connection = _PinnedHTTPConnection(host, port, address=address, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        response.read(64 * 1024)  # a bounded read; the text is never kept
    except TimeoutError:
        return None, TIMED_OUT
    except ssl.SSLError as exc:
        logger.warning("webhook to %s: TLS failed: %s", host, exc)
        return None, TLS_FAILED
    except http.client.HTTPException as exc:
        logger.warning("webhook to %s: bad HTTP answer: %s", host, exc)
        return None, NO_ANSWER
    except OSError as exc:
        logger.warning("webhook to %s: connection failed: %s", host, exc)
        return None, CONNECT_FAILED
    finally:
        connection.close()
    if 300 <= status < 400:
        return status, REDIRECTED
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def webhook_attempt(delivery: WebhookDelivery) -> bool:
    """POST once; record the attempt. Returns True when the receiver answered 2xx."""
    body = json.dumps(
        {"id": delivery.event_id, "event": delivery.event, "data": delivery.payload}, cls=DjangoJSONEncoder
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "billing-portal-webhooks/1",
        "X-Portal-Event": delivery.event,
        "X-Portal-Event-Id": delivery.event_id,
        "X-Portal-Timestamp": str(timestamp),
        "X-Portal-Signature": sign(delivery.endpoint.secret, timestamp, body),
    }
    started = time.monotonic()
    status, error = _post(delivery.endpoint.url, body, headers)
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=status, error=error, duration_ms=int((time.monotonic() - started) * 1000)
    )
    return status is not None and 200 <= status < 300


WEBHOOK_MAX_RETRIES = 8


# The task keeps the name it had in billing.statements.tasks, so messages queued before the move still run.
@shared_task(
    bind=True, acks_late=True, max_retries=WEBHOOK_MAX_RETRIES, name="billing.statements.tasks.deliver_webhook"
)
def deliver_webhook(self, delivery_id: int) -> str:
    """Deliver one webhook; retried with exponential backoff; every attempt is recorded."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return delivery.status
    if webhook_attempt(delivery):
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now()
        )
        return "delivered"
    if self.request.retries >= WEBHOOK_MAX_RETRIES:
        WebhookDelivery.objects.filter(pk=delivery_id).update(status=WebhookDelivery.Status.FAILED)
        return "failed"
    raise self.retry(countdown=backoff_countdown(self.request.retries, cap=6 * 3600))
