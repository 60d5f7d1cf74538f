import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from billing import webhooks
from billing.models import Dispute, WebhookAttempt, WebhookDelivery
from billing.statements.disputes import dispute_resolve
from billing.statements.services import BillingError
from billing.webhooks import WebhookError, webhook_attempt, webhook_register
from portal.api.core.auth import token_create
from tests import factories

NOW = datetime(2026, 11, 3, tzinfo=UTC)
DISPUTE = """mutation ($n: String!, $p: Int!, $r: String!) {
  disputeStatementLine(number: $n, linePosition: $p, reason: $r) { dispute { status linePosition } errors { field code message } } }"""


def issue(org, when=NOW, month=10):
    return factories.issued_statement(org, 2026, month, now=when)


def test_dispute_accepted_becomes_a_credit_on_the_next_statement(billed_org, make, api):
    statement = issue(billed_org)
    user = make.user("buyer")
    membership = make.membership(user, billed_org, role="admin")
    _t, token = token_create(membership=membership, name="t", scopes=["statements:read", "statements:dispute"])
    client = api(token)
    result = client.data(DISPUTE, {"n": statement.number, "p": 3, "r": "We never call France."})
    assert result["disputeStatementLine"] == {"dispute": {"status": "open", "linePosition": 3}, "errors": []}
    again = client.data(DISPUTE, {"n": statement.number, "p": 3, "r": "Again"})["disputeStatementLine"]
    assert again["dispute"] is None and "already has an open dispute" in again["errors"][0]["message"]
    missing = client.data(DISPUTE, {"n": statement.number, "p": 99, "r": "?"})["disputeStatementLine"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"

    dispute = Dispute.objects.get()
    staff = make.user("staffer", is_staff=True)
    with pytest.raises(BillingError, match="say why"):
        dispute_resolve(dispute=dispute, accept=True, resolution=" ", user=staff)
    dispute_resolve(dispute=dispute, accept=True, resolution="Routing error on our side", user=staff)
    seen = client.data('{ statement(number: "%s") { total disputes { status resolution credit } } }' % statement.number)
    assert seen["statement"]["disputes"] == [
        {"status": "accepted", "resolution": "Routing error on our side", "credit": "0.38"}
    ]
    assert seen["statement"]["total"] == str(statement.total)  # the issued statement did not change
    november = issue(billed_org, datetime(2026, 12, 2, tzinfo=UTC), month=11)
    credit = november.lines.get(kind="adjustment")
    assert credit.amount == D("-0.38") and statement.number in credit.description


def test_dispute_needs_scope_and_role(billed_org, api, token_for):
    statement = issue(billed_org)
    reader = token_for(billed_org, role="admin", scopes=["statements:read"])
    _s, body = api(reader).post(DISPUTE, {"n": statement.number, "p": 1, "r": "x"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    member = token_for(
        billed_org, role="member", person=billed_org.anna, scopes=["statements:read", "statements:dispute"]
    )
    _s, body = api(member).post(DISPUTE, {"n": statement.number, "p": 1, "r": "x"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_staff_resolve_disputes_in_the_admin(billed_org, make):
    statement = issue(billed_org)
    buyer = make.user("buyer2")
    make.membership(buyer, billed_org)
    from billing.statements.disputes import dispute_open

    dispute = dispute_open(line=statement.lines.get(position=1), reason="Line was cancelled", user=buyer)
    staff = make.user("admin2", is_staff=True, is_superuser=True)
    admin = site._registry[Dispute]
    request = RequestFactory().post("/")
    request.user = staff
    form = admin.get_form(request, dispute)(
        {"resolution": "The line was active all month", "decision": "reject", "credit": ""}, instance=dispute
    )
    assert form.is_valid(), form.errors
    admin.save_model(request, form.save(commit=False), form, change=True)
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolved_by, dispute.adjustment) == ("rejected", staff, None)


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    answer = 200

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.answer)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received, Receiver.answer = [], 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_statement_issued_webhook_is_signed_retried_and_visible(
    billed_org, receiver, settings, api, token_for, django_capture_on_commit_callbacks
):
    settings.DEBUG = True  # allows http://127.0.0.1 for this test; production requires https
    url = f"http://127.0.0.1:{receiver.server_port}/hooks"
    endpoint = webhook_register(organization=billed_org, url=url, events=["statement.issued"])
    with django_capture_on_commit_callbacks(execute=False):
        statement = issue(billed_org)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    Receiver.answer = 500
    assert webhook_attempt(delivery) is False  # what a failing first try of the task records
    Receiver.answer = 204
    assert webhooks.deliver_webhook.apply(args=[delivery.pk]).get() == "delivered"
    assert webhooks.deliver_webhook.apply(args=[delivery.pk]).get() == "delivered"  # idempotent: no resend
    assert len(Receiver.received) == 2
    headers, body = Receiver.received[-1]
    expected = hmac.new(endpoint.secret.encode(), f"{headers['X-Portal-Timestamp']}.".encode() + body, hashlib.sha256)
    assert headers["X-Portal-Signature"] == "sha256=" + expected.hexdigest()
    assert headers["X-Portal-Event-Id"] == f"statement.issued:{statement.number}"
    assert json.loads(body)["data"]["total"] == str(statement.total)
    assert [a.status_code for a in WebhookAttempt.objects.order_by("at")] == [500, 204]

    admin = api(token_for(billed_org, role="admin", scopes=["webhooks:manage"]))
    seen = admin.data("{ webhookEndpoints { url deliveries { status attempts { statusCode } } } }")
    assert seen["webhookEndpoints"] == [
        {"url": url, "deliveries": [{"status": "delivered", "attempts": [{"statusCode": 500}, {"statusCode": 204}]}]}
    ]
    analyst = api(token_for(billed_org, role="analyst", scopes=["webhooks:manage"]))
    assert analyst.post("{ webhookEndpoints { url } }")[1]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_webhook_registration_rules(billed_org, api, token_for, settings, monkeypatch):
    # Registration resolves the host (tests/api/test_webhook_destinations.py): no DNS from the tests.
    monkeypatch.setattr("billing.webhooks.resolve_addresses", lambda host, port: ["93.184.215.14"])
    with pytest.raises(WebhookError, match="https"):
        webhook_register(organization=billed_org, url="http://example.com/hook", events=["statement.issued"])
    with pytest.raises(WebhookError, match="unknown: offer.sold"):
        webhook_register(organization=billed_org, url="https://example.com/hook", events=["offer.sold"])
    admin = api(token_for(billed_org, role="admin", scopes=["webhooks:manage"]))
    result = admin.data(
        'mutation { registerWebhook(url: "https://erp.example.com/hooks", events: ["statement.issued"]) '
        "{ secret endpoint { url } errors { code } } }"
    )["registerWebhook"]
    assert len(result["secret"]) == 64 and result["errors"] == []


def test_webhook_gives_up_after_the_last_retry(billed_org, receiver, settings, django_capture_on_commit_callbacks):
    settings.DEBUG = True
    webhook_register(
        organization=billed_org, url=f"http://127.0.0.1:{receiver.server_port}/", events=["statement.issued"]
    )
    with django_capture_on_commit_callbacks(execute=False):
        issue(billed_org)
    delivery = WebhookDelivery.objects.get()
    Receiver.answer = 503
    assert webhooks.deliver_webhook.apply(args=[delivery.pk], retries=webhooks.WEBHOOK_MAX_RETRIES).get() == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts.get().status_code == 503
