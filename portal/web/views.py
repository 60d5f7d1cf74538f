from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import render

from billing.audit import Actor, AuditAction, audit_write
from portal.actors import client_address
from portal.models import Membership
from portal.web.access import portal_view
from portal.web.dashboard import dashboard_context
from portal.web.invitation_pages import choose_organization
from portal.web.redirects import redirect_back


@portal_view()
def home(request):
    return render(request, "portal/dashboard.html", dashboard_context(request))


@login_required
def switch_organization(request):
    """The header switcher: act in another organization the user is a member of (GET: the chooser)."""
    if request.method != "POST":
        return choose_organization(request)
    try:
        organization_id = int(request.POST.get("organization", ""))
    except ValueError:
        raise Http404("No such organization") from None
    if not Membership.objects.filter(user=request.user, organization_id=organization_id).exists():
        raise Http404("No such organization")
    request.session["organization_id"] = organization_id
    return redirect_back(request)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Django's set-password page (the link of an invitation or a reset), with its audit row."""

    template_name = "registration/reset_confirm.html"

    def form_valid(self, form):
        with transaction.atomic():  # the new password and its audit row, together
            response = super().form_valid(form)
            audit_write(
                organization=None,
                action=AuditAction.PASSWORD_SET,
                actor=Actor(user=form.user, ip_address=client_address(self.request)),
                target=form.user.get_username(),
            )
        return response
