"""The analysis pages' state in the URL: the explorer's period and filters (``UsageQueryForm``) plus each page's
own choices (pivot rows and columns, forecast groups, anomaly dimensions)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.usage.anomalies import DEFAULT_MIN_EXCESS
from billing.usage.anomalies import DIMENSIONS as ANOMALY_DIMENSIONS
from billing.usage.selectors import Dimension, Metric
from billing.usage.timeseries import CALENDAR_DIMENSIONS, TIME_DIMENSIONS
from portal.web.usage_forms import UsageQueryForm

DIMENSION_NAMES = {
    Dimension.LOCATION: _("Location"),
    Dimension.PERSON: _("Person"),
    Dimension.LINE: _("Line"),
    Dimension.DURATION_BAND: _("Duration band"),
    Dimension.CATEGORY: _("Category"),
    Dimension.COUNTRY: _("Country"),
    Dimension.DIRECTION: _("Direction"),
    Dimension.USAGE_TYPE: _("Usage type"),
    Dimension.HOUR: _("Hour of day"),
    Dimension.WEEKDAY: _("Weekday"),
    Dimension.DAY: _("Day"),
    Dimension.WEEK: _("Week"),
    Dimension.MONTH: _("Month"),
}
METRIC_NAMES = {
    Metric.COST: _("Cost"),
    Metric.MINUTES: _("Minutes"),
    Metric.CALLS: _("Calls"),
    Metric.RECORDS: _("Records"),
    Metric.MESSAGES: _("Messages"),
    Metric.DATA_MB: _("Data (MB)"),
    Metric.AVERAGE_CALL_SECONDS: _("Average call"),
    Metric.LONGEST_CALL_SECONDS: _("Longest call"),
}
GROUP_DIMENSIONS = [d for d in DIMENSION_NAMES if d not in TIME_DIMENSIONS]


def _choices(dimensions):
    return [(d.value, DIMENSION_NAMES[d]) for d in dimensions]


class PivotForm(UsageQueryForm):
    rows = forms.TypedChoiceField(
        label=_("Rows"), choices=_choices(GROUP_DIMENSIONS), coerce=Dimension, required=False, empty_value=None
    )
    columns = forms.TypedChoiceField(
        label=_("Columns"), choices=_choices(CALENDAR_DIMENSIONS), coerce=Dimension, required=False, empty_value=None
    )
    metric = forms.TypedChoiceField(
        label=_("Values"),
        choices=[(m.value, label) for m, label in METRIC_NAMES.items()],
        coerce=Metric,
        required=False,
        empty_value=None,
    )

    def pivot_args(self) -> dict:
        d = self.cleaned_data
        return {
            "rows": d.get("rows") or Dimension.PERSON,
            "columns": d.get("columns") or Dimension.MONTH,
            "metric": d.get("metric") or Metric.COST,
        }


class ForecastForm(UsageQueryForm):
    group = forms.TypedChoiceField(
        label=_("Forecast per"),
        choices=[("", _("Whole organization only")), *_choices(GROUP_DIMENSIONS)],
        coerce=Dimension,
        required=False,
        empty_value=None,
    )


class AnomalyForm(UsageQueryForm):
    kinds = forms.TypedMultipleChoiceField(
        label=_("Look at"),
        choices=_choices(ANOMALY_DIMENSIONS),
        coerce=Dimension,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    min_excess = forms.DecimalField(
        label=_("Minimum amount above usual"),
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
        required=False,
    )

    def anomaly_args(self) -> dict:
        d = self.cleaned_data
        return {
            "dimensions": tuple(d.get("kinds") or ANOMALY_DIMENSIONS),
            "min_excess": d.get("min_excess") if d.get("min_excess") is not None else DEFAULT_MIN_EXCESS,
        }
