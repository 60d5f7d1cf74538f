"""Scheduled reports in the browser: schedule one, see the delivery log, remove it, and unsubscribe."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.models import WebhookEndpoint
from portal.actors import actor_of_request
from portal.models import Membership, ReportDelivery, Role, ScheduledReport
from portal.reports.registry import FORMATS, KINDS
from portal.reports.services import (
    ReportError,
    report_schedule,
    report_unschedule,
    report_unsubscribe,
    unsubscribe_target,
)
from portal.web.access import portal_view


class ScheduleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    what = forms.ChoiceField(label=gettext_lazy("Report"))
    file_format = forms.ChoiceField(label=gettext_lazy("File"), choices=[(f, f.upper()) for f in FORMATS])
    frequency = forms.ChoiceField(label=gettext_lazy("When"), choices=ScheduledReport.Frequency.choices)
    channel = forms.ChoiceField(label=gettext_lazy("Send"), choices=ScheduledReport.Channel.choices)
    recipients = forms.ModelMultipleChoiceField(
        label=gettext_lazy("To"),
        queryset=Membership.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    webhook = forms.ModelChoiceField(
        label=gettext_lazy("Webhook endpoint"), queryset=WebhookEndpoint.objects.none(), required=False
    )

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["what"].choices = [
            (f"{kind.key}:{source}", f"{kind.label}: {label}" if source else kind.label)
            for kind in KINDS.values()
            for source, label in kind.choices(membership)
        ]
        org = membership.organization
        self.fields["recipients"].queryset = (
            Membership.objects.filter(organization=org, user__is_active=True)
            .select_related("user")
            .order_by("user__username")
        )
        self.fields["recipients"].label_from_instance = lambda m: f"{m.user.get_username()} ({m.get_role_display()})"
        if membership.role == Role.ADMIN:
            self.fields["webhook"].queryset = WebhookEndpoint.objects.filter(organization=org, active=True)
            self.fields["webhook"].label_from_instance = lambda e: e.url
        else:
            del self.fields["webhook"]
            self.fields["channel"].choices = [ScheduledReport.Channel.choices[0]]


def _visible(membership):
    reports = ScheduledReport.objects.filter(organization=membership.organization)
    if membership.role != Role.ADMIN:
        reports = reports.filter(owner=membership)
    return reports.select_related("owner__user", "webhook").prefetch_related("recipients__user")


@portal_view()
def reports(request):
    membership = request.caller.membership
    form = ScheduleForm(membership=membership)
    if request.method == "POST":
        form = ScheduleForm(request.POST, membership=membership)
        if form.is_valid():
            data = form.cleaned_data
            kind, _sep, source = data["what"].partition(":")
            try:
                report_schedule(
                    owner=membership,
                    name=data["name"],
                    kind=kind,
                    source=source,
                    file_format=data["file_format"],
                    frequency=data["frequency"],
                    channel=data["channel"],
                    recipients=list(data["recipients"]),
                    webhook=data.get("webhook"),
                    actor=actor_of_request(request),
                )
            except ReportError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                messages.success(request, _("The report “%(name)s” is scheduled.") % {"name": data["name"]})
                return redirect("reports")
    visible = _visible(membership)
    log = ReportDelivery.objects.filter(report__in=visible).select_related("report")[:30]
    return render(
        request,
        "portal/reports.html",
        {
            "reports": [(r, KINDS[r.kind].label if r.kind in KINDS else r.kind) for r in visible],
            "form": form,
            "log": log,
        },
        status=400 if form.errors else 200,
    )


@portal_view()
@require_POST
def report_remove(request, report_id: int):
    report = get_object_or_404(_visible(request.caller.membership), pk=report_id)
    report_unschedule(report=report, actor=actor_of_request(request))
    messages.success(request, _("The report “%(name)s” was removed.") % {"name": report.name})
    return redirect("reports")


# No CSRF token: a mail client's one-click POST (RFC 8058) carries none. The signed token in the URL is the
# proof, and a forged request can only do what the link's owner could: unsubscribe themselves.
@csrf_exempt
def unsubscribe(request, token: str):
    """The link in every report email (no sign-in needed: the signed token says who and what). GET asks,
    POST (the button, or a mail client's one-click) unsubscribes."""
    target = unsubscribe_target(token)
    if target is None:
        return render(request, "portal/report_unsubscribe.html", {"invalid": True}, status=404)
    report, membership = target
    if request.method == "POST":
        report_unsubscribe(report=report, membership=membership, actor=actor_of_request(request))
        return redirect(request.path)
    if request.method != "GET":
        raise PermissionDenied
    done = not report.recipients.filter(pk=membership.pk).exists()
    return render(request, "portal/report_unsubscribe.html", {"report": report, "member": membership, "done": done})
