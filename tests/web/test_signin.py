"""Sign-in throttling, the audit trail of sign-ins and sign-outs, and password reset by email."""

import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar
from unittest import mock

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import mail
from django.utils import timezone

from portal.models import AuditLog
from portal.web.security import client_ip

PASSWORD = "correct horse battery staple"


def test_sign_in_and_out_are_audited(client, make):
    user = make.user("carol")
    assert client.post("/login/", {"username": "carol", "password": PASSWORD}).status_code == 302
    assert AuditLog.objects.filter(action="auth.login", user=user, ip_address="127.0.0.1").count() == 1
    client.post("/logout/")
    assert AuditLog.objects.filter(action="auth.logout", user=user).count() == 1


def test_throttled_after_five_failures_for_a_username(client, make, settings):
    make.user("dave")
    for _ in range(5):
        response = client.post("/login/", {"username": "dave", "password": "wrong"})
        assert "didn't match" in response.content.decode()
    assert AuditLog.objects.filter(action="auth.login_failed", target="dave").count() == 5
    # Now even the right password is refused, with a clear message, and no session is made.
    response = client.post("/login/", {"username": "Dave", "password": PASSWORD})
    assert response.status_code == 429 and "Too many failed sign-in attempts" in response.content.decode()
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(action="auth.login_throttled", target="dave").count() == 1
    # Another username from another address is not affected.
    make.user("erin")
    other = client.post("/login/", {"username": "erin", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302


def test_lock_ends_after_the_window(client, make):
    make.user("frank")
    for _ in range(5):
        client.post("/login/", {"username": "frank", "password": "wrong"})
    # The clock moves on past the window.
    later = timezone.now() + timedelta(minutes=16)
    with mock.patch("portal.signin.timezone.now", return_value=later):
        assert client.post("/login/", {"username": "frank", "password": PASSWORD}).status_code == 302


def test_throttled_by_ip_address(client, make, settings):
    settings.LOGIN_THROTTLE_IP_FAILURES = 3
    for n in range(3):
        client.post("/login/", {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="10.1.1.1")
    make.user("gina")
    refused = client.post("/login/", {"username": "gina", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert client.post("/login/", {"username": "gina", "password": PASSWORD}, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_password_reset_by_email(client, make):
    user = make.user("hank", email="hank@example.com")
    assert "Forgot your password?" in client.get("/login/").content.decode()
    response = client.post("/password-reset/", {"email": "hank@example.com"})
    assert response.status_code == 302 and "Check your email" in client.get(response.url).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hank@example.com"]
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a password" in form.content.decode()
    new = "another long passphrase 7"
    client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    user.refresh_from_db()
    assert user.check_password(new)
    # Unknown addresses get the same answer and no email (no account enumeration).
    assert client.post("/password-reset/", {"email": "nobody@example.com"}).status_code == 302
    assert len(mail.outbox) == 1


# --- atomic counters, client addresses behind proxies, password reset ---------------------------------


def _sign_in(base_url: str, username: str, password: str, headers=None) -> tuple[int, dict]:
    """A browser's sign-in: GET the form (CSRF cookie and token), POST it; (status, headers)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(f"{base_url}/login/", data=data.encode(), headers=headers or {})  # noqa: S310

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener.add_handler(NoRedirect())
    try:
        response = opener.open(request)
        return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.mark.django_db(transaction=True)
def test_sixteen_parallel_wrong_passwords_get_five_real_checks(live_server, make, monkeypatch):
    make.user("ivan")
    checks, lock = [], threading.Lock()
    real = AbstractBaseUser.check_password

    def counted(self, raw):
        with lock:
            checks.append(raw)
        return real(self, raw)

    monkeypatch.setattr(AbstractBaseUser, "check_password", counted)
    results: list = []
    barrier = threading.Barrier(16)

    def attempt():
        barrier.wait()
        results.append(_sign_in(live_server.url, "ivan", "wrong"))

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _headers in results)
    assert len(checks) == 5, len(checks)
    assert statuses == [200] * 5 + [429] * 11
    assert all(int(headers["Retry-After"]) > 0 for status, headers in results if status == 429)
    assert AuditLog.objects.filter(action="auth.login_failed", target="ivan").count() == 5
    # The right password, now, is refused too (the account is locked), without a check.
    assert _sign_in(live_server.url, "ivan", PASSWORD)[0] == 429 and len(checks) == 5


def test_client_address_through_trusted_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"  # no proxy configured: the header is the client's to write
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # what our proxy appended; 6.6.6.6 was written by the client
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"  # came around the proxy
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")) == "10.0.0.2"


def test_failures_behind_the_proxy_lock_the_attacker_not_everyone(client, make, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_THROTTLE_IP_FAILURES = 20
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the TLS front end
    for n in range(25):
        client.post(
            "/login/",
            {"username": f"guess{n}", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.66",  # spoofed entries, then the real client
            **proxy,
        )
    refused = client.post(
        "/login/", {"username": "guess99", "password": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.66", **proxy
    )
    assert refused.status_code == 429
    make.user("judy")
    ok = client.post("/login/", {"username": "judy", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    assert ok.status_code == 302
    assert AuditLog.objects.filter(action="auth.login", target="judy", ip_address="203.0.113.5").exists()


def test_locking_one_account_never_locks_another_with_the_right_password(client, make, settings):
    settings.LOGIN_THROTTLE_IP_FAILURES = 8
    make.user("karl")
    make.user("lena")
    for _ in range(30):  # far more than the address's budget, all on one account
        client.post("/login/", {"username": "karl", "password": "wrong"})
    assert client.post("/login/", {"username": "karl", "password": PASSWORD}).status_code == 429
    # Same address: only karl's 5 real failures count against it, so lena signs in.
    assert client.post("/login/", {"username": "lena", "password": PASSWORD}).status_code == 302


def test_a_successful_sign_in_gives_back_its_slots(client, make):
    make.user("mia")
    for _ in range(4):
        client.post("/login/", {"username": "mia", "password": "wrong"})
    assert client.post("/login/", {"username": "mia", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    for _ in range(4):  # the count started again after the success
        assert client.post("/login/", {"username": "mia", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "mia", "password": PASSWORD}).status_code == 302


def test_password_reset_is_throttled_per_email_and_per_address(client, make, settings):
    settings.PASSWORD_RESET_THROTTLE_EMAILS = 3
    settings.PASSWORD_RESET_THROTTLE_IP = 5
    make.user("nina", email="nina@example.com")
    statuses = [client.post("/password-reset/", {"email": "nina@example.com"}).status_code for _ in range(12)]
    assert statuses == [302] * 3 + [429] * 9
    assert len(mail.outbox) == 3
    refused = client.post("/password-reset/", {"email": "NINA@example.com"}, REMOTE_ADDR="10.9.9.9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many password-reset requests" in refused.content.decode()
    # Per address: other emails from the same address run out after 5 requests in all.
    others = [client.post("/password-reset/", {"email": f"x{n}@example.com"}).status_code for n in range(4)]
    assert others == [302, 302, 429, 429]  # 3 for nina (granted) + 2 = 5
    # The same answer for an address without an account: nothing is told about who exists.
    assert client.post("/password-reset/", {"email": "nobody@example.com"}, REMOTE_ADDR="10.7.7.7").status_code == 302


@pytest.mark.services
def test_redis_counters_are_atomic_too(settings):
    import socket

    import redis

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis listens on 127.0.0.1:6379")
    from portal import signin

    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    signin._REDIS = None
    counter = signin.Counter("test-login-user", 5, 60)
    value = f"parallel-{threading.get_ident()}"
    counter.reset(value)
    results, barrier = [], threading.Barrier(16)

    def take():
        barrier.wait()
        results.append(counter.take(value))

    threads = [threading.Thread(target=take) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(allowed for allowed, _seconds in results) == [False] * 11 + [True] * 5
    assert all(0 < seconds <= 60 for _allowed, seconds in results)
    counter.give_back(value)
    assert counter.take(value)[0] is False  # 16 - 1 + 1 taken: still over
    counter.reset(value)
    assert counter.take(value) == (True, 60)
    counter.reset(value)
    redis.Redis.from_url(settings.REDIS_URL).close()
    signin._REDIS = None
