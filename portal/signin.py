"""Sign-in: throttling of attempts, of password-reset emails, and the audit trail of sign-ins and sign-outs.

Throttles are atomic counters shared by every process: Redis ``INCR`` where REDIS_URL is set, else one
row per key in ``portal_throttle`` updated by a single ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
(PostgreSQL locks the row for it), so 16 wrong passwords sent at once for one user get exactly
``LOGIN_THROTTLE_USERNAME_FAILURES`` password checks, not "as many as read the old count in time".

An attempt takes a slot of its username's counter, then of its client address's counter, *before* the
password is checked, and gives it back if it succeeds: the counters count failures plus attempts in
flight. An attempt refused by its username's counter takes no slot of the address's, so hammering one
account locks that account and never, by itself, the address (and so the other people behind it). A
username is locked after LOGIN_THROTTLE_USERNAME_FAILURES in the window, an address after the larger
LOGIN_THROTTLE_IP_FAILURES (an office shares one address behind NAT). The client address is taken
through TRUSTED_PROXY_COUNT proxies (portal.web.security.client_ip). Windows are fixed: refused attempts
do not extend a lock. Password-reset requests are throttled per address and per email address the same
way. Every refusal is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connection
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from portal.models import AuditLog, Invitation, Membership
from portal.web.security import client_ip

FAILED = "auth.login_failed"

_INCREMENT = """
INSERT INTO portal_throttle (key, window_ends, hits) VALUES (%(key)s, %(ends)s, 1)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN portal_throttle.window_ends <= %(now)s THEN 1 ELSE portal_throttle.hits + 1 END,
    window_ends = CASE WHEN portal_throttle.window_ends <= %(now)s THEN EXCLUDED.window_ends
                       ELSE portal_throttle.window_ends END
RETURNING hits, window_ends
"""
_RELEASE = "UPDATE portal_throttle SET hits = greatest(hits - 1, 0) WHERE key = %s"
_RESET = "DELETE FROM portal_throttle WHERE key = %s"


def _normal(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _key(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.encode()).hexdigest()[:40]


class Counter:
    """A fixed-window counter: ``take`` returns (allowed, seconds until the window ends)."""

    def __init__(self, kind: str, limit: int, window_seconds: int):
        self.kind, self.limit, self.window = kind, limit, window_seconds

    def _redis(self):
        if not settings.REDIS_URL:
            return None
        import redis

        global _REDIS
        if _REDIS is None:
            _REDIS = redis.Redis.from_url(settings.REDIS_URL)
        return _REDIS

    def take(self, value: str) -> tuple[bool, int]:
        key = _key(self.kind, value)
        client = self._redis()
        if client is not None:
            pipe = client.pipeline()
            pipe.set(key, 0, ex=self.window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _created, hits, ttl = pipe.execute()
            return hits <= self.limit, max(int(ttl), 1)
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_INCREMENT, {"key": key, "ends": now + timedelta(seconds=self.window), "now": now})
            hits, ends = cursor.fetchone()
        return hits <= self.limit, max(math.ceil((ends - now).total_seconds()), 1)

    def give_back(self, value: str) -> None:
        key = _key(self.kind, value)
        client = self._redis()
        if client is not None:
            client.eval("if redis.call('GET', KEYS[1]) then return redis.call('DECR', KEYS[1]) end", 1, key)
            return
        with connection.cursor() as cursor:
            cursor.execute(_RELEASE, [key])

    def reset(self, value: str) -> None:
        key = _key(self.kind, value)
        client = self._redis()
        if client is not None:
            client.delete(key)
            return
        with connection.cursor() as cursor:
            cursor.execute(_RESET, [key])


_REDIS = None


def _window() -> int:
    return settings.LOGIN_THROTTLE_WINDOW_SECONDS


def username_counter() -> Counter:
    return Counter("login-user", settings.LOGIN_THROTTLE_USERNAME_FAILURES, _window())


def address_counter() -> Counter:
    return Counter("login-ip", settings.LOGIN_THROTTLE_IP_FAILURES, _window())


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        "throttled": "Too many failed sign-in attempts. Please wait %(minutes)s minutes before trying again, "
        "or reset your password.",
    }
    retry_after: int | None = None

    def _throttled(self, username: str, ip_address: str | None, seconds: int):
        self.retry_after = seconds
        AuditLog.objects.create(action="auth.login_throttled", target=_normal(username), ip_address=ip_address)
        return forms.ValidationError(
            self.error_messages["throttled"], code="throttled", params={"minutes": max(1, math.ceil(seconds / 60))}
        )

    def clean(self):
        username = _normal(self.cleaned_data.get("username") or "")
        ip_address = client_ip(self.request)
        by_user, by_address = username_counter(), address_counter()
        allowed, seconds = by_user.take(username)
        if not allowed:
            raise self._throttled(username, ip_address, seconds)
        if ip_address:
            allowed, seconds = by_address.take(ip_address)
            if not allowed:
                by_user.give_back(username)  # this attempt was never checked
                raise self._throttled(username, ip_address, seconds)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            raise  # a failure: both slots stay taken
        by_user.reset(username)
        if ip_address:
            by_address.give_back(ip_address)
        return cleaned


def _too_many(response, seconds: int):
    response.status_code = 429
    response["Retry-After"] = str(seconds)
    return response


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = ThrottledAuthenticationForm

    def get_success_url(self):
        """Where the link asked for (``next``); else, for a user of several organizations or with
        invitations waiting, the chooser (portal.web.invitation_pages); else the dashboard."""
        if self.get_redirect_url():
            return super().get_success_url()
        user = self.request.user
        if (
            Membership.objects.filter(user=user).count() > 1
            or Invitation.objects.filter(user=user, status=Invitation.Status.PENDING).exists()
        ):
            return reverse("switch-organization")
        return super().get_success_url()

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after is not None:
            return _too_many(response, form.retry_after)
        return response


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """At most PASSWORD_RESET_THROTTLE_EMAILS requests per email address and PASSWORD_RESET_THROTTLE_IP per
    client address in PASSWORD_RESET_THROTTLE_WINDOW_SECONDS. The refusal does not tell whether the
    address has an account (the same 429 for any address)."""

    def form_valid(self, form):
        window = settings.PASSWORD_RESET_THROTTLE_WINDOW_SECONDS
        ip_address = client_ip(self.request)
        email = _normal(form.cleaned_data.get("email", ""))
        checks = [(Counter("reset-email", settings.PASSWORD_RESET_THROTTLE_EMAILS, window), email)]
        if ip_address:
            checks.append((Counter("reset-ip", settings.PASSWORD_RESET_THROTTLE_IP, window), ip_address))
        for counter, value in checks:
            allowed, seconds = counter.take(value)
            if not allowed:
                AuditLog.objects.create(action="auth.reset_throttled", target=email, ip_address=ip_address)
                form.add_error(
                    "email",
                    "Too many password-reset requests. Please wait "
                    f"{max(1, math.ceil(seconds / 60))} minutes before asking again.",
                )
                return _too_many(self.form_invalid(form), seconds)
        return super().form_valid(form)


@receiver(user_login_failed)
def _record_failure(sender, credentials, request=None, **kwargs):
    AuditLog.objects.create(
        action=FAILED, target=_normal(credentials.get("username", "")), ip_address=client_ip(request)
    )


@receiver(user_logged_in)
def _record_sign_in(sender, request, user, **kwargs):
    AuditLog.objects.create(action="auth.login", user=user, target=user.get_username(), ip_address=client_ip(request))


@receiver(user_logged_out)
def _record_sign_out(sender, request, user, **kwargs):
    if user is not None:
        AuditLog.objects.create(
            action="auth.logout", user=user, target=user.get_username(), ip_address=client_ip(request)
        )
