"""Sign-in throttling, the audit trail of sign-ins and sign-outs, and password reset by email."""

import re
from datetime import timedelta
from unittest import mock

from django.core import mail
from django.utils import timezone

from portal.models import AuditLog

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
    assert response.status_code == 200 and "Too many failed sign-in attempts" in response.content.decode()
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
    # Audit rows are append-only, so instead of ageing them the clock moves on past the window.
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
