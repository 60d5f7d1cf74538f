"""Statements in the browser: the list and one statement with its breakdowns, lines and disputes.

For administrators and analysts. Drafts are never shown; another organization's statement is "not found".
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext

from billing.models import Dispute, Statement, StatementBreakdown
from billing.statements.disputes import dispute_open
from billing.statements.pdf import statement_context_v3
from billing.statements.services import BillingError
from portal.actors import actor_of_request
from portal.web.access import portal_view, statement_owner
from portal.web.account_forms import DisputeForm
from portal.web.offers import offers_panel_context

PAGE_SIZE = 24


def visible_statements(caller):
    """Selector: the organization's issued (or paid/void) statements, newest period first."""
    return (
        Statement.objects.filter(organization=caller.scope.organization)
        .exclude(status=Statement.Status.DRAFT)
        .order_by("-period_start")
    )


@portal_view(billing=True)
def statement_list(request):
    statements = (
        visible_statements(request.caller)
        .annotate(open_disputes=Count("disputes", filter=Q(disputes__status=Dispute.Status.OPEN)))
        .select_related("einvoice")
        .defer("einvoice__xml", "einvoice__report")
    )
    page = Paginator(statements, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/statements/list.html", {"page": page})


def _detail_context(statement):
    breakdowns = {dimension: [] for dimension in StatementBreakdown.Dimension.values}
    for row in statement.breakdowns.all():
        breakdowns[row.dimension].append(row)
    return {
        "statement": statement,
        "tax_percent": statement.tax_rate * 100,
        "lines": statement.lines.select_related("line").order_by("position"),
        "breakdown_sections": [
            (label, breakdowns[value]) for value, label in StatementBreakdown.Dimension.choices if breakdowns[value]
        ],
        "disputes": statement.disputes.select_related("line", "raised_by").order_by("-raised_at"),
        "can_dispute": statement.status in (Statement.Status.ISSUED, Statement.Status.PAID),
    } | (_v3_context(statement) if statement.template_version >= 3 else {})


def _v3_context(statement) -> dict:
    """A v3 statement's page shows what its PDF shows, formatted the same way (active language: the
    statement's)."""
    v3 = statement_context_v3(statement)
    return {
        "v3": v3,
        "v3_sections": [
            (gettext("Usage by location"), gettext("Location"), v3["by_location"], v3["by_location_total"]),
            (gettext("Charges by person"), gettext("Person"), v3["by_person_all"], v3["by_person_total"]),
            (gettext("Calls by duration"), gettext("Duration"), v3["by_band"], v3["by_band_total"]),
        ],
    }


@portal_view(billing=True, owner=statement_owner)
def statement_detail(request, statement_id: int):
    statement = get_object_or_404(
        visible_statements(request.caller).prefetch_related(
            Prefetch("breakdowns", queryset=StatementBreakdown.objects.order_by("dimension", "-amount", "label"))
        ),
        pk=statement_id,
    )
    # The page is in the statement's language, like its PDF.
    with translation.override(statement.language):
        return _statement_detail(request, statement)


def _statement_detail(request, statement):
    form = DisputeForm(statement=statement)
    if request.method == "POST":
        form = DisputeForm(request.POST, statement=statement)
        if form.is_valid():
            try:
                dispute_open(
                    line=form.cleaned_data["line"],
                    reason=form.cleaned_data["reason"],
                    actor=actor_of_request(request),
                )
            except BillingError as error:
                form.add_error(None, str(error).capitalize() + ".")
            else:
                messages.success(
                    request, gettext("Your dispute was sent to our billing team. Its answer appears here.")
                )
                return redirect("statement", statement_id=statement.pk)
    context = _detail_context(statement)
    context.update(offers_panel_context(request, request.caller.membership, statement=statement))
    context["dispute_form"] = form
    context["LANGUAGE_CODE"] = statement.language
    return render(request, "portal/statements/detail.html", context, status=400 if form.errors else 200)
