"""Bill audit findings in the browser: the list of the caller's scope, and setting a finding's status."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.audit_findings.selectors import findings_summary, findings_visible
from billing.audit_findings.services import FindingError, finding_set_status
from billing.models import BillFinding
from portal.actors import actor_of_request
from portal.web.access import portal_view
from portal.web.redirects import redirect_back

STATUS_FILTERS = ("open", "dismissed", "done", "all")


class FindingStatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=BillFinding.Status.choices)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=500)


def _refuse_members(request):
    scope = request.caller.scope
    if scope.person_ids is not None:
        raise PermissionDenied(_("Findings are about what the organization pays: not for your role."))


def finding_text(finding: BillFinding) -> str:
    """One sentence a person reads: what was found, in numbers (also the scheduled report's text)."""
    d = finding.details
    if finding.kind == BillFinding.Kind.IDLE_LINE:
        if d.get("last_usage"):
            return _("No usage for %(days)s days (last on %(last)s), still paying the %(plan)s fee.") % {
                "days": d["idle_days"],
                "last": d["last_usage"],
                "plan": d["plan"],
            }
        return _("No usage for %(days)s days, still paying the %(plan)s fee.") % {
            "days": d["idle_days"],
            "plan": d["plan"],
        }
    if finding.kind == BillFinding.Kind.OVERAGE:
        return _(
            "Paid %(overage)s a month over its allowance for %(months)s months; %(name)s (%(code)s) costs less."
        ) % {
            "overage": d["overage_per_month"],
            "months": d["months"],
            "name": d["suggested_plan_name"],
            "code": d["suggested_plan"],
        }
    if finding.kind == BillFinding.Kind.UNASSIGNED:
        return _("%(person)s held it until %(until)s; nobody since, still paying the fee.") % {
            "person": d["person"],
            "until": d["assigned_until"],
        }
    return _("Usage %(start)s–%(end)s charged %(charged)s; at the rates contracted on %(since)s: %(contracted)s.") % {
        "start": d["period_start"],
        "end": d["period_end"],
        "charged": d["charged"],
        "since": d["contracted_on"],
        "contracted": d["at_contracted_rates"],
    }


@portal_view()
def findings(request):
    _refuse_members(request)
    status = request.GET.get("status", "open")
    if status not in STATUS_FILTERS:
        status = "open"
    rows = findings_visible(request.caller.scope, status=None if status == "all" else status)
    return render(
        request,
        "portal/findings.html",
        {
            "rows": [
                (f, finding_text(f), FindingStatusForm(initial={"status": f.status, "note": f.note})) for f in rows
            ],
            "summary": findings_summary(request.caller.scope),
            "status": status,
            "filters": STATUS_FILTERS,
        },
    )


@portal_view()
@require_POST
def finding_status(request, finding_id: int):
    _refuse_members(request)
    finding = get_object_or_404(findings_visible(request.caller.scope, active=None), pk=finding_id)
    form = FindingStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose open, dismissed or done."))
        return redirect_back(request, "findings")
    try:
        finding_set_status(
            finding=finding,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            actor=actor_of_request(request),
        )
    except FindingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The finding for %(line)s was saved.") % {"line": finding.line.number})
    return redirect_back(request, "findings")
