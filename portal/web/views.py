from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.models import Membership
from portal.web.access import portal_view
from portal.web.dashboard import dashboard_context


@portal_view()
def home(request):
    return render(request, "portal/dashboard.html", dashboard_context(request))


@login_required
@require_POST
def switch_organization(request):
    """The header switcher: act in another organization the user is a member of."""
    try:
        organization_id = int(request.POST.get("organization", ""))
    except ValueError:
        raise Http404("No such organization") from None
    if not Membership.objects.filter(user=request.user, organization_id=organization_id).exists():
        raise Http404("No such organization")
    request.session["organization_id"] = organization_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "home"
    return redirect(target)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
