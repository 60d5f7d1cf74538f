"""Cost centre pages: the tree and its allocation rules (administrators change them, analysts read them), the
journal settings, and each issued statement's chargeback by cost centre with its journal download.

Views parse with a form, call one service of billing.costcentres, and redirect; every object is looked up
inside the acting organization, so another organization's id is a 404.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.costcentres.chargeback import statement_chargeback
from billing.costcentres.datev import DatevError
from billing.costcentres.selectors import (
    allocation_rules,
    chargeback_by_cost_centre,
    chargeback_statements,
    cost_centre_tree,
    journal_export,
)
from billing.costcentres.services import (
    CostCentreError,
    allocation_rule_end,
    allocation_rule_set,
    cost_centre_create,
    cost_centre_update,
    journal_settings_of,
    journal_settings_set,
)
from billing.costcentres.usage import cost_centre_summary
from billing.models import AllocationRule, CostCentre, JournalFormat, Statement
from billing.money import money
from billing.periods import period_containing
from billing.usage.selectors import Period, UsageQueryError
from portal.actors import actor_of_request
from portal.models import Role
from portal.web.access import portal_view
from portal.web.costcentre_forms import (
    AllocationRuleForm,
    CostCentreForm,
    JournalSettingsForm,
    RuleEndForm,
    UsageByCostCentreForm,
)


def _org(request):
    return request.caller.membership.organization


def _admin_only(request):
    if request.caller.membership.role != Role.ADMIN:
        raise PermissionDenied(_("Only administrators change cost centres."))


def _error(form, error: CostCentreError, fields=None):
    form.add_error(error.field if error.field in (fields or form.fields) else None, str(error))


def _usage(request) -> dict:
    """The usage of a period (default: the current billing period) by cost centre, from the GET form."""
    org = _org(request)
    today = timezone.now().astimezone(org.tz).date()
    current = period_containing(org, today)
    form = UsageByCostCentreForm(request.GET or {"start": current.start, "end": min(today, current.end)})
    if not form.is_valid():
        return {"usage_form": form}
    data = form.cleaned_data
    try:
        summary = cost_centre_summary(
            scope=request.caller.scope, period=Period(data["start"], data["end"]), level=data.get("level")
        )
    except UsageQueryError as error:
        form.add_error(None, str(error))
        return {"usage_form": form}
    # Rated amounts keep 6 places; shown once rounded half-up to the currency's unit (billing.money).
    rows = [
        (
            _("Unallocated") if row.keys[0].value is None and not row.is_others else row.keys[0].label,
            row.totals,
            money(row.totals.cost, org.currency),
        )
        for row in summary.rows
    ]
    return {
        "usage_form": form,
        "usage": summary,
        "usage_rows": rows,
        "usage_cost": money(summary.totals.cost, org.currency),
    }


def _index(request, *, centre_form=None, rule_form=None, status=200):
    org = _org(request)
    context = {
        **_usage(request),
        "tree": cost_centre_tree(organization=org),
        "rules": allocation_rules(organization=org),
        "centre_form": centre_form or CostCentreForm(organization=org),
        "rule_form": rule_form or AllocationRuleForm(organization=org),
        "statements": chargeback_statements(scope=request.caller.scope)[:12],
        "is_admin": request.caller.membership.role == Role.ADMIN,
    }
    return render(request, "portal/costcentres/index.html", context, status=status)


@portal_view(billing=True)
def index(request):
    """The tree, the rules and the statements to charge back; POST (administrators) adds a cost centre."""
    if request.method != "POST":
        return _index(request)
    _admin_only(request)
    org = _org(request)
    form = CostCentreForm(request.POST, organization=org)
    if form.is_valid():
        data = form.cleaned_data
        try:
            centre = cost_centre_create(
                organization=org,
                code=data["code"],
                name=data["name"],
                gl_account=data["gl_account"],
                parent=data["parent"],
                actor=actor_of_request(request),
            )
        except CostCentreError as error:
            _error(form, error)
        else:
            messages.success(request, _("Cost centre %(centre)s added.") % {"centre": centre})
            return redirect("cost-centres")
    return _index(request, centre_form=form, status=400)


@portal_view(admin=True)
def edit(request, cost_centre_id: int):
    org = _org(request)
    centre = get_object_or_404(CostCentre.objects.filter(organization=org), pk=cost_centre_id)
    initial = {"code": centre.code, "name": centre.name, "gl_account": centre.gl_account, "parent": centre.parent}
    initial["active"] = centre.active
    form = CostCentreForm(initial=initial, organization=org, editing=centre)
    if request.method == "POST":
        form = CostCentreForm(request.POST, initial=initial, organization=org, editing=centre)
        if form.is_valid():
            data = form.cleaned_data
            try:
                cost_centre_update(
                    cost_centre=centre,
                    name=data["name"],
                    gl_account=data["gl_account"],
                    parent=data["parent"],
                    active=data["active"],
                    actor=actor_of_request(request),
                )
            except CostCentreError as error:
                _error(form, error)
            else:
                messages.success(request, _("Cost centre %(centre)s saved.") % {"centre": centre.code})
                return redirect("cost-centres")
    return render(
        request, "portal/costcentres/edit.html", {"centre": centre, "form": form}, status=400 if form.errors else 200
    )


@portal_view(admin=True)
@require_POST
def rule_set(request):
    org = _org(request)
    form = AllocationRuleForm(request.POST, organization=org)
    if form.is_valid():
        data = form.cleaned_data
        try:
            allocation_rule_set(
                organization=org,
                target=data["target"],
                valid_from=data["valid_from"],
                shares=data["shares"],
                actor=actor_of_request(request),
            )
        except CostCentreError as error:
            _error(form, error, fields={"valid_from"})
        else:
            messages.success(request, _("Allocation of %(target)s saved.") % {"target": data["target"]})
            return redirect("cost-centres")
    return _index(request, rule_form=form, status=400)


@portal_view(admin=True)
@require_POST
def rule_end(request, rule_id: int):
    rule = get_object_or_404(AllocationRule.objects.filter(organization=_org(request)), pk=rule_id)
    form = RuleEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the date the rule no longer applies."))
        return redirect("cost-centres")
    try:
        allocation_rule_end(rule=rule, valid_to=form.cleaned_data["valid_to"], actor=actor_of_request(request))
    except CostCentreError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The allocation of %(target)s ends.") % {"target": rule.target})
    return redirect("cost-centres")


@portal_view(admin=True)
def journal_settings(request):
    org = _org(request)
    form = JournalSettingsForm(instance=journal_settings_of(org))
    if request.method == "POST":
        form = JournalSettingsForm(request.POST, instance=journal_settings_of(org))
        if form.is_valid():
            try:
                journal_settings_set(organization=org, actor=actor_of_request(request), **form.cleaned_data)
            except CostCentreError as error:
                _error(form, error)
            else:
                messages.success(request, _("Journal settings saved."))
                return redirect("cost-centres")
    return render(
        request, "portal/costcentres/journal_settings.html", {"form": form}, status=400 if form.errors else 200
    )


def _statement(request, statement_id: int) -> Statement:
    statement = chargeback_statements(scope=request.caller.scope).select_related("organization").filter(pk=statement_id)
    if not statement:
        raise Http404
    return statement[0]


@portal_view(billing=True)
def chargeback(request, statement_id: int):
    statement = _statement(request, statement_id)
    result = statement_chargeback(statement=statement)
    names = {pk: f"{c.code} {c.name}" for pk, c in result.cost_centres.items()}
    lines = [
        (line, [(names.get(cc, _("Unallocated")), amount) for cc, amount in result.shares[line.position].items()])
        for line in result.lines
    ]
    context = {
        "statement": statement,
        "totals": chargeback_by_cost_centre(result),
        "lines": lines,
        "journal_format": journal_settings_of(statement.organization).journal_format,
        "formats": JournalFormat,
    }
    return render(request, "portal/costcentres/chargeback.html", context)


@portal_view(billing=True)
def journal(request, statement_id: int):
    """The statement's journal download, in ?format=csv or datev (default: the organization's choice)."""
    statement = _statement(request, statement_id)
    chosen = request.GET.get("format") or journal_settings_of(statement.organization).journal_format
    if chosen not in JournalFormat.values:
        return HttpResponse(
            _("format: %(value)s is not one of %(choices)s")
            % {"value": chosen, "choices": ", ".join(JournalFormat.values)},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        filename, content_type, content = journal_export(
            scope=request.caller.scope, statement=statement, journal_format=chosen, actor=actor_of_request(request)
        )
    except DatevError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
