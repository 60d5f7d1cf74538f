# Long: the explorer page, its drill-down to calls and saved views share one query parsing and one comparison.
"""Usage explorer (/usage/), its drill-down to calls (/usage/records/) and saved views.

Views are thin: the URL is parsed by a form (portal.web.usage_forms), the selectors of
billing.usage.selectors answer within the caller's scope, and the page shapes their answer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.periods import Basis
from billing.statements.charts import hbar_chart
from billing.usage.comparison import usage_comparison
from billing.usage.selectors import (
    Metric,
    Period,
    SummaryRow,
    Totals,
    UsageQueryError,
    UsageSummary,
    record_cursor,
    usage_records,
)
from portal.account import saved_view_remove, saved_view_save
from portal.models import SavedView
from portal.web.access import portal_view
from portal.web.charts import time_chart
from portal.web.language import in_organization_language
from portal.web.usage_forms import (
    DIMENSION_LABELS,
    FILTER_PARAMS,
    METRIC_LABELS,
    PRESENTATION_PARAMS,
    RecordsForm,
    UsageQuery,
    UsageQueryForm,
    today_for,
)

CHART_ROWS = 25
# Selector error fields -> form fields, so a bad URL shows the message next to the right input.
ERROR_FIELDS = {
    "period": "end",
    "groupBy": "dim",
    "first": "top",
    "after": None,
    "filter.minDurationSeconds": "min_minutes",
    "filter.hours": "hour",
    "filter.weekdays": "weekday",
    "filter.durationBands": "band",
}


def query_string(params, **changes) -> str:
    """``params`` (a QueryDict or dict of lists) with some parameters replaced (None removes one)."""
    q = QueryDict(mutable=True)
    for key in params:
        q.setlist(key, list(params.getlist(key) if isinstance(params, QueryDict) else params[key]))
    for key, value in changes.items():
        if value is None:
            q.pop(key, None)
        else:
            q.setlist(key, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)])
    return q.urlencode()


def add_selector_error(form, exc: UsageQueryError) -> None:
    form.add_error(ERROR_FIELDS.get(exc.field), str(exc))


def _key_value(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def drill_down_params(params: QueryDict, row: SummaryRow) -> str | None:
    """The drill-down URL query of a group: the explorer's filters narrowed to the group's keys."""
    if row.is_others:
        return None
    q = QueryDict(mutable=True)
    for key in params:
        if key not in PRESENTATION_PARAMS:
            q.setlist(key, params.getlist(key))
    for key in row.keys:
        if key.value is None:  # "No location" / "Unassigned": the filters cannot express "is empty"
            return None
        name = FILTER_PARAMS[key.dimension]
        q.setlist(name, [_key_value(key.value)])
        # The group's own value is kept, whatever the explorer left out of that filter.
        q.setlist("exclude", [x for x in q.getlist("exclude") if x != name])
    return q.urlencode()


@dataclass
class TableRow:
    keys: list
    totals: Totals
    previous: Totals | None
    delta: Decimal | None
    pct: Decimal | None
    link: str | None
    is_others: bool

    @property
    def previous_value(self):
        return self.previous.metric(self.metric) if self.previous is not None else None

    metric: Metric = Metric.COST


@dataclass
class Explored:
    query: UsageQuery
    summary: UsageSummary
    metric: Metric
    previous_period: Period
    basis: Basis
    rows: list[TableRow]
    previous_totals: Totals | None
    total_delta: Decimal | None
    total_pct: Decimal | None

    @property
    def previous_value(self):
        return self.previous_totals.metric(self.metric) if self.previous_totals is not None else None


def explore(scope, query: UsageQuery, params: QueryDict) -> Explored:
    """The explorer table: the groups (top N + others), each compared with the previous period
    (``billing.usage.comparison``), with the drill-down link of each group."""
    compared = usage_comparison(
        scope=scope,
        period=query.period,
        group_by=query.group_by,
        filters=query.filters,
        order_by=query.sort,
        descending=query.descending,
        first=query.top,
    )
    rows = [
        TableRow(
            c.row.keys,
            c.row.totals,
            c.previous,
            c.delta,
            c.pct,
            drill_down_params(params, c.row),
            c.row.is_others,
            compared.metric,
        )
        for c in compared.rows
    ]
    return Explored(
        query,
        compared.summary,
        compared.metric,
        compared.previous_period,
        compared.basis,
        rows,
        compared.previous_totals,
        compared.total_delta,
        compared.total_pct,
    )


def row_label(row: TableRow) -> str:
    return " · ".join(str(k.label) for k in row.keys) if row.keys else _("Total")


def is_default_period(params) -> bool:
    """No period chosen in the URL: the explorer picks one (this billing period, or the last complete one)."""
    return not (params.get("period") or params.get("start") or params.get("end"))


def explore_page(scope, data: QueryDict) -> tuple[UsageQueryForm, Explored | None, bool]:
    """The explorer's form and table; the default view of a billing period with no usage yet (its first
    day, say) shows the last complete period instead, and says so (``fell_back``)."""
    form = UsageQueryForm(data, scope=scope)
    explored = None
    if form.is_valid():
        try:
            explored = explore(scope, form.query(), data)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    if explored is not None and is_default_period(data) and not explored.summary.totals.records:
        data = data.copy()
        data["period"] = "last_month"
        fallback = UsageQueryForm(data, scope=scope)
        if fallback.is_valid():
            return fallback, explore(scope, fallback.query(), data), True
    return form, explored, False


def chart_of(explored: Explored, width: int) -> str:
    title = _("%(metric)s by %(dimensions)s") % {
        "metric": METRIC_LABELS[explored.metric],
        "dimensions": ", ".join(str(DIMENSION_LABELS[d]) for d in explored.query.group_by),
    }
    return hbar_chart(
        [
            (row_label(r), Decimal(r.totals.metric(explored.metric)), _prev_metric(r, explored.metric))
            for r in explored.rows[:CHART_ROWS]
        ],
        title=title,
        width=width,
    )


@portal_view()
@in_organization_language
def explorer(request):
    scope = request.caller.scope
    data = request.GET.copy()
    if not data.getlist("dim"):
        data.setlist("dim", ["location"])  # the default grouping, ticked in the form
    if not data.get("top"):
        data["top"] = "20"
    form, explored, fell_back = explore_page(scope, data)
    chart = phone_chart = over_time = None
    if explored is not None:
        over_time = time_chart(scope, explored.query, explored.metric)
    if explored is not None and over_time is None:
        # The phone gets its own narrow drawing, so its labels stay at their size instead of shrinking.
        chart, phone_chart = chart_of(explored, 640), chart_of(explored, 340)
    saved = SavedView.objects.filter(user=request.user, organization=scope.organization)
    current_sort = request.GET.get("sort") or "cost"
    current_order = request.GET.get("order") or "desc"
    sort_links = {
        m.value: "?"
        + query_string(
            request.GET,
            sort=m.value,
            order="asc" if current_sort == m.value and current_order == "desc" else "desc",
        )
        for m in METRIC_LABELS
    }
    # The selector sorts groups by name in one direction only (A to Z, before the top-N cut).
    sort_links["group"] = "?" + query_string(request.GET, sort="group", order="asc")
    export_query = request.GET.urlencode()
    if explored is not None:  # exactly the period shown (also when the page fell back to the last one)
        shown = explored.query.period
        export_query = query_string(data, period="custom", start=shown.start, end=shown.end)
    return render(
        request,
        "portal/usage/explorer.html",
        {
            "form": form,
            "explored": explored,
            "chart": chart,
            "phone_chart": phone_chart,
            "columns": [
                ("calls", _("Calls")),
                ("minutes", _("Minutes")),
                ("average_call_seconds", _("Avg call")),
                ("longest_call_seconds", _("Longest")),
                ("cost", _("Cost")),
            ],
            "fell_back": fell_back,
            "today": today_for(scope.organization),
            "time_chart": over_time[1] if over_time else None,
            "time_series": over_time[0] if over_time else None,
            "metric_label": METRIC_LABELS[explored.metric] if explored else "",
            "dimension_labels": [DIMENSION_LABELS[d] for d in explored.query.group_by] if explored else [],
            "saved_views": saved,
            "open_filters": filters_open(form),
            "query": request.GET.urlencode(),
            "export_query": export_query,
            "sort_links": sort_links,
            "current_sort": current_sort,
            "current_order": current_order,
        },
    )


def _prev_metric(row: TableRow, metric: Metric):
    return Decimal(row.previous.metric(metric)) if row.previous is not None else None


@dataclass
class RecordsPage:
    records: list
    next_query: str | None
    previous_query: str | None


def records_page(scope, form: RecordsForm, params: QueryDict) -> RecordsPage:
    """One page of calls; ``before`` pages backwards by asking for the reverse order after a cursor."""
    query = form.query()
    order, descending = form.record_order()
    size = form.cleaned_data.get("size") or 50
    after, before = form.cleaned_data.get("after") or None, form.cleaned_data.get("before") or None
    common = dict(scope=scope, period=query.period, filters=query.filters, order_by=order, first=size)
    if before and not after:
        page = usage_records(**common, descending=not descending, after=before)
        records = list(reversed(page.records))
        has_previous, has_next = page.has_next_page, True
    else:
        page = usage_records(**common, descending=descending, after=after)
        records = page.records
        has_previous, has_next = bool(after), page.has_next_page
    next_query = previous_query = None
    if records and has_next:
        next_query = query_string(params, after=record_cursor(order, records[-1]), before=None)
    if records and has_previous:
        previous_query = query_string(params, before=record_cursor(order, records[0]), after=None)
    return RecordsPage(records, next_query, previous_query)


FILTER_FIELDS = ("location", "person", "line", "band", "category", "country", "direction", "usage_type", "hour")
FILTER_FIELDS += ("weekday", "min_minutes", "max_minutes")


def filters_open(form) -> bool:
    """Show the filters unfolded when one is set or wrong, so the choice (or its error) is visible."""
    return any(name in form.errors or form.data.get(name) for name in FILTER_FIELDS)


def active_filters(form: UsageQueryForm) -> list[tuple[str, str]]:
    """What the drill-down is limited to, in words (e.g. Location: Berlin)."""
    out = []
    excluded = set(form.cleaned_data.get("exclude") or [])

    def label(name, text):
        return f"{text} ({_('left out')})" if name in excluded else text

    for name in ("location", "person", "line", "band", "category", "direction", "usage_type", "hour", "weekday"):
        values = form.cleaned_data.get(name) or []
        if values:
            choices = dict(form.fields[name].choices)
            out.append((label(name, form.fields[name].label), ", ".join(str(choices.get(v, v)) for v in values)))
    if form.cleaned_data.get("country"):
        out.append((form.fields["country"].label, ", ".join(form.cleaned_data["country"])))
    for name in ("min_minutes", "max_minutes"):
        if form.cleaned_data.get(name) is not None:
            out.append((form.fields[name].label, str(form.cleaned_data[name])))
    return out


@portal_view()
@in_organization_language
def records(request):
    scope = request.caller.scope
    form = RecordsForm(request.GET, scope=scope)
    page = None
    if form.is_valid():
        try:
            page = records_page(scope, form, request.GET)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    explorer_query = query_string(request.GET, after=None, before=None, by=None, size=None)
    return render(
        request,
        "portal/usage/records.html",
        {
            "form": form,
            "page": page,
            "period": form.cleaned_data.get("resolved_period") if form.is_bound and not form.errors else None,
            "filters_in_words": active_filters(form) if page is not None else [],
            "reveal_numbers": scope.reveal_numbers,
            "open_filters": filters_open(form),
            "explorer_query": explorer_query,
            "query": request.GET.urlencode(),
            "export_query": query_string(request.GET, after=None, before=None),
        },
    )


@portal_view()
@in_organization_language
@require_POST
def saved_view_create(request):
    name = (request.POST.get("name") or "").strip()[:100]
    query = (request.POST.get("query") or "").lstrip("?")[:2000]
    if not name:
        messages.error(request, _("Give the view a name to save it."))
        return redirect(reverse("usage") + ("?" + query if query else ""))
    organization = request.caller.scope.organization
    with contextlib.suppress(IntegrityError):  # a concurrent save of the same name: the other one wins
        saved_view_save(user=request.user, organization=organization, name=name, query=query)
    messages.success(request, _("Saved the view “%(name)s”.") % {"name": name})
    return redirect(reverse("usage") + ("?" + query if query else ""))


@portal_view()
@in_organization_language
@require_POST
def saved_view_delete(request, view_id: int):
    view = SavedView.objects.filter(
        pk=view_id, user=request.user, organization=request.caller.scope.organization
    ).first()
    if view is None:
        raise Http404("No such saved view")
    saved_view_remove(view=view, user=request.user)
    messages.success(request, _("Deleted the view “%(name)s”.") % {"name": view.name})
    return redirect("usage")


def explorer_url(**params) -> str:
    return reverse("usage") + "?" + urlencode(params, doseq=True)
