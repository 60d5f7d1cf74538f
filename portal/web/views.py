from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from billing.models import UsageRecord


@login_required
def home(request):
    memberships = request.user.memberships.select_related("organization").order_by("organization__name").all()
    organizations = []
    for membership in memberships:
        org = membership.organization
        organizations.append(
            {
                "organization": org,
                "role": membership.get_role_display(),
                "lines": org.lines.count(),
                "locations": org.locations.count(),
                "usage_records": UsageRecord.objects.filter(organization=org).count(),
            }
        )
    return render(request, "portal/home.html", {"organizations": organizations})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
