"""Webhook endpoints cannot be pointed at the provider's own network (server-side request forgery).

DNS is replaced in every test (``resolve_addresses``): nothing leaves 127.0.0.1. The receivers are local
servers; the TLS one has a certificate made here for a public-looking host name, so the test proves the
delivery connects to the address that was checked while verifying the certificate for the URL's host."""

import contextlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import pytest

from billing import webhooks
from billing.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billing.webhooks import address_refusal, webhook_attempt, webhook_register

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
HOST = "hooks.customer-erp.example"


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not one to bind
        ("::", "unspecified"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT, shared address space
        ("198.18.0.1", "private"),  # benchmarking
        ("192.0.2.10", "private"),  # documentation
        ("::ffff:127.0.0.1", "IPv6 form of a loopback address"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "IPv6 form of a private address"),
        ("::ffff:169.254.169.254", "IPv6 form of a link-local address"),
        ("::127.0.0.1", "IPv6 form of a loopback address"),  # IPv4-compatible
        ("::10.0.0.1", "IPv6 form of a private address"),
        ("64:ff9b::7f00:1", "IPv6 form of a loopback address"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "IPv6 form of a link-local address"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("2002:7f00:1::1", "IPv6 form of a loopback address"),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_every_non_public_address_class_is_refused(address, reason):
    assert address_refusal(address) == reason


@pytest.mark.parametrize("address", [PUBLIC_V4, "8.8.8.8", PUBLIC_V6, "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"])
def test_public_unicast_addresses_are_allowed(address):
    assert address_refusal(address) is None


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver: host -> list of addresses (one list per call, the last one repeats)."""
    answers: dict[str, list[list[str]]] = {}
    calls: list[str] = []

    def resolve(host, port):
        calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        queue = answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(webhooks, "resolve_addresses", resolve)
    resolve.answers, resolve.calls = answers, calls
    return resolve


REGISTER = """mutation($url: String!) { registerWebhook(url: $url, events: ["statement.issued"]) {
  secret endpoint { url } errors { field code message } } }"""


@pytest.fixture
def admin(acme, api, token_for):
    return api(token_for(acme, role="admin", scopes=["webhooks:manage"]))


@pytest.mark.parametrize(
    "url, resolves_to, message",
    [
        ("https://localhost:6379/", None, "port must be one of 443"),
        ("https://[::1]:5432/", None, "port must be one of 443"),
        ("https://localhost/", ["127.0.0.1", "::1"], "does not resolve to a public address"),
        ("https://127.0.0.1.nip.io/", ["127.0.0.1"], "does not resolve to a public address"),
        ("https://[::ffff:127.0.0.1]/", None, "does not resolve to a public address"),
        ("https://169.254.169.254/latest/meta-data/", None, "does not resolve to a public address"),
        ("https://user:pass@127.0.0.1:8109/x", None, "user name or password"),
        ("https://token@hooks.customer-erp.example/", [PUBLIC_V4], "user name or password"),
        ("http://hooks.customer-erp.example/", [PUBLIC_V4], "https://"),
        ("ftp://hooks.customer-erp.example/", [PUBLIC_V4], "https://"),
        ("https://hooks.customer-erp.example:8443/", [PUBLIC_V4], "port must be one of 443"),
        ("https://hooks.customer-erp.example:99999/", [PUBLIC_V4], "port"),
        ("https:///path-only", None, "no host"),
        ("https://rebind.example/", [PUBLIC_V4, "10.0.0.7"], "does not resolve to a public address"),
        ("https://nowhere.example/", None, "does not resolve"),
        ("https://hooks.customer-erp.example/\r\nX-Injected: 1", [PUBLIC_V4], "one line"),
    ],
)
def test_register_webhook_refuses_destinations_inside_the_network(admin, dns, url, resolves_to, message):
    host = urlsplit(url.split("\r")[0]).hostname
    if resolves_to:
        dns.answers[host] = [resolves_to]
    elif host:
        with contextlib.suppress(ValueError):
            dns.answers[host] = [[str(ipaddress.ip_address(host))]]  # an IP literal resolves to itself
    result = admin.data(REGISTER, {"url": url})["registerWebhook"]
    assert result["endpoint"] is None and result["secret"] is None
    [error] = result["errors"]
    assert (error["field"], error["code"]) == ("url", "BAD_ARGUMENT")
    assert message in error["message"], error
    assert "10.0.0.7" not in result["errors"][0]["message"]  # what the name resolves to is not told
    assert not WebhookEndpoint.objects.exists()


def test_register_webhook_accepts_a_public_host_and_configured_ports(admin, dns, settings):
    dns.answers[HOST] = [[PUBLIC_V4, PUBLIC_V6]]
    result = admin.data(REGISTER, {"url": f"https://{HOST}/hooks"})["registerWebhook"]
    assert result["errors"] == [] and result["endpoint"] == {"url": f"https://{HOST}/hooks"}
    settings.WEBHOOK_ALLOWED_PORTS = [8443]
    result = admin.data(REGISTER, {"url": f"https://{HOST}:8443/hooks"})["registerWebhook"]
    assert result["errors"] == []
    assert dns.calls == [HOST, HOST]  # resolved at registration


# --- delivery -----------------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    requests: list = []
    answer = 204
    location = ""

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        Receiver.requests.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(Receiver.answer)
        if Receiver.location:
            self.send_header("Location", Receiver.location)
        self.send_header("Content-Length", "38")
        self.end_headers()
        self.wfile.write(b"redis_version:7.2.4 secret-banner-text")

    def log_message(self, *args):
        pass


@pytest.fixture
def certificate(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: no certificate for the TLS receiver")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}"]
        + ["-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate, monkeypatch):
    """An HTTPS receiver on 127.0.0.1 whose certificate names HOST; our client trusts that certificate."""
    cert, key = certificate
    Receiver.requests, Receiver.answer, Receiver.location = [], 204, ""
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(webhooks, "tls_context", lambda: client_context)
    yield server
    server.shutdown()


@pytest.fixture
def delivery(acme, dns, settings, tls_receiver):
    """An endpoint on HOST, registered while HOST resolved to a public address."""
    settings.WEBHOOK_ALLOWED_PORTS = [tls_receiver.server_port]
    dns.answers[HOST] = [[PUBLIC_V4]]
    endpoint = webhook_register(
        organization=acme, url=f"https://{HOST}:{tls_receiver.server_port}/hooks", events=["statement.issued"]
    )
    return WebhookDelivery.objects.create(endpoint=endpoint, event="statement.issued", event_id="e-1", payload={})


def _loopback_counts_as_public(monkeypatch):
    """The receiver listens on loopback: for the delivery tests only, loopback passes the address check."""
    real = webhooks.address_refusal
    monkeypatch.setattr(webhooks, "address_refusal", lambda a: None if a == "127.0.0.1" else real(a))


def test_dns_rebinding_after_registration_is_refused_at_delivery(delivery, dns, tls_receiver):
    dns.answers[HOST] = [["127.0.0.1"]]  # the customer's DNS now answers the provider's loopback
    assert webhook_attempt(delivery) is False
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, webhooks.REFUSED_ADDRESS)
    assert Receiver.requests == []  # never connected
    dns.answers[HOST] = [[PUBLIC_V4, "::ffff:10.0.0.1"]]  # one bad address among good ones is enough
    assert webhook_attempt(delivery) is False and Receiver.requests == []


def test_delivery_connects_to_the_checked_address_with_tls_for_the_host_name(delivery, dns, tls_receiver, monkeypatch):
    _loopback_counts_as_public(monkeypatch)
    dns.answers[HOST] = [["127.0.0.1"]]
    looked_up = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert webhook_attempt(delivery) is True
    headers, _body = Receiver.requests[-1]
    assert headers["Host"] == f"{HOST}:{tls_receiver.server_port}"
    assert HOST not in looked_up  # the HTTP layer did not look the name up again: it used the checked address
    assert WebhookAttempt.objects.get().status_code == 204


def test_a_certificate_for_another_name_fails_without_echoing_the_error(delivery, dns, monkeypatch):
    _loopback_counts_as_public(monkeypatch)
    dns.answers[HOST] = [["127.0.0.1"]]
    monkeypatch.setattr(webhooks, "tls_context", ssl.create_default_context)  # the receiver's cert: not trusted
    assert webhook_attempt(delivery) is False
    assert WebhookAttempt.objects.get().error == webhooks.TLS_FAILED


def test_redirects_are_not_followed(delivery, dns, monkeypatch):
    _loopback_counts_as_public(monkeypatch)
    dns.answers[HOST] = [["127.0.0.1"]]
    Receiver.answer, Receiver.location = 307, "http://127.0.0.1:6379/"
    assert webhook_attempt(delivery) is False
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (307, webhooks.REDIRECTED)
    assert len(Receiver.requests) == 1


def test_the_receivers_answer_is_never_shown_through_the_api(acme, delivery, dns, monkeypatch, api, token_for):
    _loopback_counts_as_public(monkeypatch)
    dns.answers[HOST] = [["127.0.0.1"]]
    Receiver.answer = 500
    webhook_attempt(delivery)
    # An attempt recorded by an older version, with what the network said.
    WebhookAttempt.objects.create(delivery=delivery, error="[Errno 111] Connection refused: 10.0.0.5:6379 redis")
    admin = api(token_for(acme, role="admin", scopes=["webhooks:manage"]))
    seen = admin.data("{ webhookEndpoints { deliveries { attempts { statusCode error } } } }")
    attempts = seen["webhookEndpoints"][0]["deliveries"][0]["attempts"]
    assert attempts == [{"statusCode": 500, "error": "HTTP 500"}, {"statusCode": None, "error": "delivery failed"}]
    assert "redis" not in str(seen) and "banner" not in str(seen)
