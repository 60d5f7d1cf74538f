"""Sign-in: throttling of failed attempts and the audit trail of sign-ins and sign-outs.

Failed attempts are counted from the audit log (``auth.login_failed`` rows) rather than the cache: the
default cache is per process (LocMemCache) unless REDIS_URL is set, and a throttle that each web worker
counts on its own lets an attacker multiply the attempts by the number of workers. The audit rows are
written anyway and are indexed by time, so counting the last 15 minutes is one cheap query. A username
is locked after ``LOGIN_THROTTLE_USERNAME_FAILURES`` failures in the window; an IP address after the
larger ``LOGIN_THROTTLE_IP_FAILURES`` (an office shares one address behind NAT). Refused attempts are
recorded as ``auth.login_throttled`` and do not extend the lock: it ends when the window has passed.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from portal.models import AuditLog

FAILED = "auth.login_failed"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _normal(username: str) -> str:
    return (username or "").strip().lower()[:150]


def sign_in_locked(*, username: str, ip_address: str | None) -> bool:
    since = timezone.now() - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    recent = AuditLog.objects.filter(action=FAILED, at__gte=since)
    if recent.filter(target=_normal(username)).count() >= settings.LOGIN_THROTTLE_USERNAME_FAILURES:
        return True
    return bool(ip_address) and (recent.filter(Q(ip_address=ip_address)).count() >= settings.LOGIN_THROTTLE_IP_FAILURES)


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        "throttled": "Too many failed sign-in attempts. Please wait 15 minutes before trying again, "
        "or reset your password.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip_address = client_ip(self.request)
        if sign_in_locked(username=username, ip_address=ip_address):
            AuditLog.objects.create(action="auth.login_throttled", target=_normal(username), ip_address=ip_address)
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        return super().clean()


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = ThrottledAuthenticationForm


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
