"""Budgets: administrators add and remove them (Settings → Budgets); analysts and location managers see the
budgets of their scope (Budgets in the main navigation), read only."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.budgets import BudgetError, budget_create, budget_delete, budget_statuses, budgets_visible
from portal.web.access import portal_view
from portal.web.account_forms import BudgetForm


@portal_view(admin=True)
def budgets(request):
    caller = request.caller
    org = caller.membership.organization
    form = BudgetForm(organization=org)
    if request.method == "POST":
        form = BudgetForm(request.POST, organization=org)
        if form.is_valid():
            data = form.cleaned_data
            try:
                budget_create(
                    organization=org,
                    amount=data["amount"],
                    thresholds=data["thresholds"],
                    location=data["location"],
                    person=data["person"],
                    created_by=request.user,
                )
            except BudgetError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                messages.success(request, _("The budget was added. Administrators get an email when it is reached."))
                return redirect("settings-budgets")
    return render(
        request,
        "portal/settings/budgets.html",
        {"statuses": budget_statuses(caller.scope), "form": form, "can_edit": True},
        status=400 if form.errors else 200,
    )


@portal_view()
def budget_list(request):
    """The budgets of the caller's scope, read only (a member, who sees only their own usage, has none)."""
    if request.caller.scope.person_ids is not None:
        return render(request, "portal/budgets.html", {"statuses": [], "can_edit": False}, status=403)
    return render(
        request, "portal/budgets.html", {"statuses": budget_statuses(request.caller.scope), "can_edit": False}
    )


@portal_view(admin=True)
@require_POST
def budget_remove(request, budget_id: int):
    budget = get_object_or_404(budgets_visible(request.caller.scope), pk=budget_id)
    budget_delete(budget=budget, deleted_by=request.user)
    messages.success(request, _("The budget was removed."))
    return redirect("settings-budgets")
