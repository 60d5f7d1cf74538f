"""Analysis pages beside the explorer: the pivot (/usage/pivot/, exportable), the forecast (/usage/forecast/),
unusual usage (/usage/anomalies/, with the alert opt-in), and the explorer's chart over time.

Views are thin: the URL is parsed by a form (``portal.web.analysis_forms``, built on the explorer's), one
selector of ``billing.usage`` answers within the caller's scope, and the page shapes its answer. Pages are
in the organization's language, like its statements.
"""

from __future__ import annotations

from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from billing.audit import AuditAction, audit_write
from billing.charts.timeseries import bucket_label
from billing.formatting import locale_of
from billing.statements.services import statement_language
from billing.usage.anomalies import method_description as anomaly_method
from billing.usage.anomalies import usage_anomalies
from billing.usage.anomaly_alerts import anomaly_alert_setting, anomaly_alerts_configure
from billing.usage.forecast import method_description as forecast_method
from billing.usage.forecast import usage_forecast
from billing.usage.pivot import Pivot, usage_pivot
from billing.usage.selectors import Period, UsageQueryError
from portal.actors import actor_of_request
from portal.exports import ExportQuery, grid_table
from portal.models import Role
from portal.web.access import portal_view
from portal.web.analysis_forms import DIMENSION_NAMES, METRIC_NAMES, AnomalyForm, ForecastForm, PivotForm
from portal.web.exports import export_format, export_response  # the explorer's writer: typed XLSX, CSV
from portal.web.usage import add_selector_error, query_string
from portal.web.usage_forms import today_for

CHART_SERIES = 8
PIVOT_ROWS_SHOWN = 200
DASHBOARD_ANOMALIES = 5


def in_organization_language(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with translation.override(statement_language(request.caller.scope.organization)):
            return view(request, *args, **kwargs)

    return wrapped


def page(request, template: str, context: dict):
    """Render in the active language, and say which it is (``<html lang>``)."""
    return render(request, template, {**context, "LANGUAGE_CODE": translation.get_language()})


# --- Pivot -----------------------------------------------------------------------------------------


def _pivot_form(request):
    data = request.GET.copy()
    if not data.get("period") and not data.get("start"):
        data["period"] = "last_3_months"
    return data, PivotForm(data, scope=request.caller.scope)


def _pivot_of(request, form, first):
    query = form.query()
    return usage_pivot(
        scope=request.caller.scope, period=query.period, filters=query.filters, first=first, **form.pivot_args()
    )


def column_labels(pivot: Pivot, organization) -> list[str]:
    locale = locale_of(organization)
    if pivot.columns_by.value == "week":
        return [gettext("Week of %(day)s") % {"day": bucket_label(c, "day", locale)} for c in pivot.columns]
    return [bucket_label(c, pivot.columns_by.value, locale) for c in pivot.columns]


@portal_view()
@in_organization_language
def pivot(request):
    data, form = _pivot_form(request)
    result = None
    if form.is_valid():
        try:
            result = _pivot_of(request, form, PIVOT_ROWS_SHOWN)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    organization = request.caller.scope.organization
    return page(
        request,
        "portal/usage/pivot.html",
        {
            "form": form,
            "pivot": result,
            "columns": column_labels(result, organization) if result else [],
            "rows_label": DIMENSION_NAMES[result.rows_by] if result else "",
            "metric_label": METRIC_NAMES[result.metric] if result else "",
            "query": data.urlencode(),
            "open_filters": True,
        },
    )


def pivot_table(pivot: Pivot, organization) -> tuple[list[str], list[list]]:
    """The pivot as a typed table for the export writer: text labels, numbers as numbers (cost in the
    currency as Decimal, counts as int), the totals row last."""
    metric = pivot.metric
    header = [str(DIMENSION_NAMES[pivot.rows_by]), *column_labels(pivot, organization), gettext("Total")]
    rows = [[row.label, *row.values(metric), row.total.metric(metric)] for row in pivot.rows]
    rows.append([gettext("Total"), *(c.metric(metric) for c in pivot.column_totals), pivot.total.metric(metric)])
    return header, rows


@portal_view()
@in_organization_language
def pivot_export(request):
    fmt, dialect = export_format(request)
    data, form = _pivot_form(request)
    result = None
    if form.is_valid():
        try:
            result = _pivot_of(request, form, None)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    if result is None:
        back = reverse("usage-pivot") + "?" + request.GET.urlencode()
        return render(request, "portal/usage/export_error.html", {"form": form, "back": back}, status=400)
    scope = request.caller.scope
    header, rows = pivot_table(result, scope.organization)
    period = result.period
    audit_write(
        organization=scope.organization,
        action=AuditAction.EXPORT_USAGE_PIVOT,
        actor=actor_of_request(request),
        target=f"{period.start}..{period.end}",
        details={"format": fmt, "query": request.GET.urlencode()[:1000], "rows": len(rows)},
    )
    filename = f"pivot-{scope.organization.account_number}-{period.start}-{period.end}"
    table = grid_table(scope, ExportQuery(period), result.metric, header, rows, gettext("Pivot"))
    return export_response(fmt, dialect, table, filename)


# --- Forecast --------------------------------------------------------------------------------------


@portal_view()
@in_organization_language
def forecast(request):
    scope = request.caller.scope
    form = ForecastForm(request.GET, scope=scope)
    result = None
    if form.is_valid():
        try:
            result = usage_forecast(
                scope=scope,
                as_of=today_for(scope.organization),
                group_by=form.cleaned_data.get("group"),
                filters=form.query().filters,
            )
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    return page(
        request,
        "portal/usage/forecast.html",
        {
            "form": form,
            "forecast": result,
            "method": forecast_method(),
            "group_label": DIMENSION_NAMES[result.group_by] if result and result.group_by else "",
        },
    )


# --- Anomalies -------------------------------------------------------------------------------------


def anomaly_link(anomaly) -> str:
    """The explorer on the anomaly's day, narrowed to its location, person or line, by destination category."""
    params = {
        "period": "custom",
        "start": anomaly.day.isoformat(),
        "end": anomaly.day.isoformat(),
        anomaly.dimension.value: anomaly.key.value,
        "dim": "category",
    }
    return reverse("usage") + "?" + urlencode(params)


@portal_view()
@in_organization_language
def anomalies(request):
    scope = request.caller.scope
    form = AnomalyForm(request.GET, scope=scope)
    report = None
    if form.is_valid():
        try:
            report = usage_anomalies(
                scope=scope, period=form.query().period, filters=form.query().filters, **form.anomaly_args()
            )
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    is_admin = request.caller.membership.role == Role.ADMIN
    return page(
        request,
        "portal/usage/anomalies.html",
        {
            "form": form,
            "report": report,
            "rows": [(a, anomaly_link(a), DIMENSION_NAMES[a.dimension]) for a in report.anomalies] if report else [],
            "method": anomaly_method(),
            "alert_setting": anomaly_alert_setting(scope.organization) if is_admin else None,
            "may_configure_alerts": is_admin and scope.whole_organization,
            "query": query_string(request.GET),
        },
    )


@portal_view(admin=True)
@require_POST
@in_organization_language
def anomaly_alerts(request):
    organization = request.caller.scope.organization
    try:
        min_excess = Decimal(request.POST.get("min_excess") or "0")
    except ArithmeticError:
        min_excess = Decimal(-1)
    if not min_excess.is_finite() or min_excess < 0 or min_excess > Decimal("1000000"):
        messages.error(request, gettext("The minimum amount must be a number from 0 to 1,000,000."))
        return redirect("usage-anomalies")
    anomaly_alerts_configure(
        organization=organization,
        email=request.POST.get("email") == "on",
        webhook=request.POST.get("webhook") == "on",
        min_excess=min_excess,
        actor=actor_of_request(request),
    )
    messages.success(request, gettext("Alert settings saved."))
    return redirect("usage-anomalies")


def dashboard_anomalies(scope, today) -> dict:
    """The dashboard's part: this billing period's unusual days so far (the largest few) and the method."""
    from billing.periods import period_containing

    current = period_containing(scope.organization, today)
    period = Period(current.start, today)
    report = usage_anomalies(scope=scope, period=period, first=DASHBOARD_ANOMALIES)
    return {
        "anomalies": [(a, anomaly_link(a), DIMENSION_NAMES[a.dimension]) for a in report.anomalies],
        "anomaly_method": anomaly_method(),
        "anomalies_url": reverse("usage-anomalies"),
        "anomaly_period": period,
    }
