"""The usage explorer's state, parsed from the URL: dimensions, filters, period, sort and pagination.

The whole explorer state lives in the query string (a GET form), so a view can be bookmarked, shared
and saved. ``UsageQueryForm`` validates it against the caller's scope (a location, person or line
outside the scope is not a valid choice) and turns it into the selectors' arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from billing.models.choices import Category, Direction, DurationBand, UsageType
from billing.periods import last_closed_period, period_containing
from billing.usage.scope import Scope, scoped_lines, scoped_locations, scoped_persons
from billing.usage.selectors import MAX_PERIOD_DAYS, Dimension, Metric, Period, RecordOrder, UsageFilter

DIMENSION_LABELS = {
    Dimension.LOCATION: gettext_lazy("Location"),
    Dimension.PERSON: gettext_lazy("Person"),
    Dimension.LINE: pgettext_lazy("phone line", "Line"),
    Dimension.DURATION_BAND: gettext_lazy("Duration band"),
    Dimension.CATEGORY: gettext_lazy("Category"),
    Dimension.COUNTRY: gettext_lazy("Country"),
    Dimension.DIRECTION: gettext_lazy("Direction"),
    Dimension.USAGE_TYPE: gettext_lazy("Usage type"),
    Dimension.HOUR: gettext_lazy("Hour of day"),
    Dimension.WEEKDAY: gettext_lazy("Weekday"),
    Dimension.DAY: gettext_lazy("Day"),
    Dimension.WEEK: gettext_lazy("Week"),
    Dimension.MONTH: gettext_lazy("Month"),
}
MAX_DIMENSIONS = 5

METRIC_LABELS = {
    Metric.COST: gettext_lazy("Cost"),
    Metric.MINUTES: gettext_lazy("Minutes"),
    Metric.CALLS: gettext_lazy("Calls"),
    Metric.RECORDS: gettext_lazy("Records"),
    Metric.MESSAGES: gettext_lazy("Messages"),
    Metric.DATA_MB: gettext_lazy("Data (MB)"),
    Metric.AVERAGE_CALL_SECONDS: gettext_lazy("Average call"),
    Metric.LONGEST_CALL_SECONDS: gettext_lazy("Longest call"),
}

PERIOD_CHOICES = [
    ("this_period", gettext_lazy("This billing period")),
    ("last_month", gettext_lazy("Last month (last billing period)")),
    ("last_3_months", gettext_lazy("Last 3 months")),
    ("custom", gettext_lazy("Custom dates")),
]
TOP_CHOICES = [
    (10, gettext_lazy("Top 10")),
    (20, gettext_lazy("Top 20")),
    (50, gettext_lazy("Top 50")),
    (100, gettext_lazy("Top 100")),
    (0, gettext_lazy("All groups")),
]
RECORD_ORDER_CHOICES = [
    ("time", gettext_lazy("Newest first")),
    ("time_asc", gettext_lazy("Oldest first")),
    ("duration", gettext_lazy("Longest first")),
    ("duration_asc", gettext_lazy("Shortest first")),
]
PAGE_SIZES = [(25, "25"), (50, "50"), (100, "100")]

# URL parameter of each filter, and the dimension a group key of that kind filters.
FILTER_PARAMS = {
    Dimension.LOCATION: "location",
    Dimension.PERSON: "person",
    Dimension.LINE: "line",
    Dimension.DURATION_BAND: "band",
    Dimension.CATEGORY: "category",
    Dimension.COUNTRY: "country",
    Dimension.DIRECTION: "direction",
    Dimension.USAGE_TYPE: "usage_type",
    Dimension.HOUR: "hour",
    Dimension.WEEKDAY: "weekday",
    Dimension.DAY: "day",
    Dimension.WEEK: "week",
    Dimension.MONTH: "month",
}
# Filter fields -> UsageFilter lists; each can be turned into an exclusion with ``exclude=<field>``.
EXCLUDABLE = {
    "location": "locations",
    "person": "persons",
    "line": "lines",
    "category": "categories",
    "country": "countries",
    "band": "duration_bands",
    "direction": "directions",
    "usage_type": "usage_types",
    "hour": "hours",
    "weekday": "weekdays",
}
# Parameters that describe what is shown rather than what is selected (left out of drill-down links).
PRESENTATION_PARAMS = {"dim", "sort", "order", "top", "by", "size", "after", "before", "format"}


class CountryCodesField(forms.CharField):
    """ISO country codes, comma or space separated (``DE, FR``), or the parameter repeated."""

    widget = forms.TextInput

    def to_python(self, value):
        if isinstance(value, list | tuple):
            value = ",".join(value)
        value = super().to_python(value) or ""
        codes = [c.upper() for c in re.split(r"[\s,]+", value) if c]
        bad = [c for c in codes if not re.fullmatch(r"[A-Z]{2}", c)]
        if bad:
            raise forms.ValidationError(_("Not a two-letter country code: %(codes)s") % {"codes": ", ".join(bad[:3])})
        return list(dict.fromkeys(codes))


class CountryWidget(forms.TextInput):
    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def format_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return super().format_value(value)


def _multi(label, choices, coerce=str):
    return forms.TypedMultipleChoiceField(
        label=label, choices=choices, coerce=coerce, required=False, widget=forms.SelectMultiple(attrs={"size": 4})
    )


@dataclass
class UsageQuery:
    """The selectors' arguments for one explorer state."""

    period: Period
    group_by: list[Dimension]
    filters: UsageFilter
    sort: Metric | None
    descending: bool
    top: int | None


def today_for(organization) -> date:
    return timezone.now().astimezone(organization.tz).date()


def preset_period(organization, preset: str, today: date | None = None) -> Period:
    today = today or today_for(organization)
    if preset == "last_month":
        last = last_closed_period(organization, timezone.now())
        return Period(last.start, last.end)
    if preset == "last_3_months":
        last = last_closed_period(organization, timezone.now())
        start = last.start
        for _ in range(2):
            start = period_containing(organization, start - timedelta(days=1)).start
        return Period(start, last.end)
    current = period_containing(organization, today)
    return Period(current.start, today)


class UsageQueryForm(forms.Form):
    dim = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Group by"),
        choices=[(d.value, label) for d, label in DIMENSION_LABELS.items()],
        coerce=Dimension,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=format_lazy(gettext_lazy("Up to {count}, in the order you tick them."), count=MAX_DIMENSIONS),
    )
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIOD_CHOICES, required=False)
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    location = _multi(gettext_lazy("Locations"), [], int)
    person = _multi(gettext_lazy("People"), [], int)
    line = _multi(pgettext_lazy("phone lines", "Lines"), [], int)
    band = _multi(gettext_lazy("Duration bands"), DurationBand.choices, int)
    category = _multi(gettext_lazy("Categories"), Category.choices)
    country = CountryCodesField(
        label=gettext_lazy("Countries"), required=False, widget=CountryWidget, help_text=gettext_lazy("e.g. DE, FR")
    )
    direction = _multi(gettext_lazy("Directions"), Direction.choices)
    usage_type = _multi(gettext_lazy("Usage types"), UsageType.choices)
    hour = _multi(gettext_lazy("Hours of day"), [(h, f"{h:02d}:00") for h in range(24)], int)
    weekday = _multi(
        gettext_lazy("Weekdays"),
        list(
            enumerate(
                [
                    gettext_lazy("Monday"),
                    gettext_lazy("Tuesday"),
                    gettext_lazy("Wednesday"),
                    gettext_lazy("Thursday"),
                    gettext_lazy("Friday"),
                ],
                start=1,
            )
        )
        + [(6, gettext_lazy("Saturday")), (7, gettext_lazy("Sunday"))],
        int,
    )
    day = forms.DateField(required=False, widget=forms.HiddenInput)
    week = forms.DateField(required=False, widget=forms.HiddenInput)
    month = forms.DateField(required=False, widget=forms.HiddenInput)
    exclude = forms.MultipleChoiceField(
        label=gettext_lazy("Leave out instead of keeping only"),
        choices=[
            ("location", gettext_lazy("Locations")),
            ("person", gettext_lazy("People")),
            ("line", gettext_lazy("Lines")),
            ("band", gettext_lazy("Duration bands")),
            ("category", gettext_lazy("Categories")),
            ("country", gettext_lazy("Countries")),
            ("direction", gettext_lazy("Directions")),
            ("usage_type", gettext_lazy("Usage types")),
            ("hour", gettext_lazy("Hours of day")),
            ("weekday", gettext_lazy("Weekdays")),
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Ticked: the values chosen in that filter are left out, everything else is kept."),
    )
    min_minutes = forms.IntegerField(
        label=gettext_lazy("Calls of at least (min)"), required=False, min_value=0, max_value=2880
    )
    max_minutes = forms.IntegerField(
        label=gettext_lazy("Calls of at most (min)"), required=False, min_value=0, max_value=2880
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort by"),
        choices=[(m.value, label) for m, label in METRIC_LABELS.items()] + [("group", gettext_lazy("Group name"))],
        required=False,
    )
    order = forms.ChoiceField(
        label=gettext_lazy("Order"),
        choices=[("desc", gettext_lazy("Largest first")), ("asc", gettext_lazy("Smallest first"))],
        required=False,
    )
    top = forms.TypedChoiceField(
        label=gettext_lazy("Show"), choices=TOP_CHOICES, coerce=int, required=False, empty_value=20, initial=20
    )

    def __init__(self, data, *, scope: Scope, **kwargs):
        super().__init__(data, **kwargs)
        self.scope = scope
        self.fields["location"].choices = list(scoped_locations(scope).order_by("name").values_list("id", "name"))
        self.fields["person"].choices = list(scoped_persons(scope).order_by("name").values_list("id", "name"))
        self.fields["line"].choices = list(scoped_lines(scope).order_by("number").values_list("id", "number"))

    def clean_dim(self):
        dims = self.cleaned_data["dim"]
        if len(dims) > MAX_DIMENSIONS:
            raise forms.ValidationError(_("Group by at most %(count)s dimensions.") % {"count": MAX_DIMENSIONS})
        if len(set(dims)) != len(dims):
            raise forms.ValidationError(_("A dimension is chosen twice."))
        return dims

    def clean(self):
        data = super().clean()
        preset = data.get("period") or ("custom" if data.get("start") or data.get("end") else "this_period")
        data["period"] = preset
        organization = self.scope.organization
        if preset == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                if "start" not in self.errors and "end" not in self.errors:
                    self.add_error("start", _("Give both dates of a custom period."))
                return data
            if start > end:
                self.add_error(
                    "end", _("The period ends (%(end)s) before it starts (%(start)s).") % {"end": end, "start": start}
                )
                return data
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                self.add_error(
                    "end",
                    _("The period is longer than %(days)s days; choose a shorter one.") % {"days": MAX_PERIOD_DAYS},
                )
                return data
            period = Period(start, end)
        else:
            period = preset_period(organization, preset)
        # A drill-down into a day, week or month narrows the period to it.
        for name, length in (("day", None), ("week", 7), ("month", 0)):
            value = data.get(name)
            if value is None:
                continue
            if length is None:
                narrow = Period(value, value)
            elif length == 7:
                narrow = Period(value, value + timedelta(days=6))
            else:
                first = value.replace(day=1)
                narrow = Period(first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
            period = Period(max(period.start, narrow.start), min(period.end, narrow.end))
            if period.start > period.end:
                self.add_error(name, _("The chosen day, week or month is outside the period."))
                return data
        data["resolved_period"] = period
        lo, hi = data.get("min_minutes"), data.get("max_minutes")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("max_minutes", _("The longest duration is shorter than the shortest."))
        return data

    def usage_filter(self) -> UsageFilter:
        d = self.cleaned_data
        lo, hi = d.get("min_minutes"), d.get("max_minutes")
        excluded = set(d.get("exclude") or [])
        chosen = {name: d.get(name) or [] for name in EXCLUDABLE}
        left_out = {EXCLUDABLE[name]: v for name, v in chosen.items() if name in excluded and v}
        return UsageFilter(
            **{EXCLUDABLE[name]: v for name, v in chosen.items() if name not in excluded},
            min_duration_seconds=lo * 60 if lo is not None else None,
            max_duration_seconds=hi * 60 if hi is not None else None,
            exclude=UsageFilter(**left_out) if left_out else None,
        )

    def query(self) -> UsageQuery:
        d = self.cleaned_data
        sort = d.get("sort") or Metric.COST.value
        return UsageQuery(
            period=d["resolved_period"],
            group_by=d.get("dim") or [Dimension.LOCATION],
            filters=self.usage_filter(),
            sort=None if sort == "group" else Metric(sort),
            descending=(d.get("order") or ("asc" if sort == "group" else "desc")) == "desc",
            top=d.get("top") or None,
        )


class RecordsForm(UsageQueryForm):
    """The drill-down: the same filters, plus the order of the calls and the page."""

    by = forms.ChoiceField(label=gettext_lazy("Order"), choices=RECORD_ORDER_CHOICES, required=False)
    size = forms.TypedChoiceField(
        label=gettext_lazy("Per page"), choices=PAGE_SIZES, coerce=int, required=False, empty_value=50
    )
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def record_order(self) -> tuple[RecordOrder, bool]:
        by = self.cleaned_data.get("by") or "time"
        return RecordOrder(by.removesuffix("_asc")), not by.endswith("_asc")


def resolved_params(form: UsageQueryForm) -> dict[str, list[str]]:
    """The form's query as URL parameters with the period as fixed dates (for exports run later)."""
    params = {k: form.data.getlist(k) for k in form.data if k not in ("after", "before", "format")}
    period = form.cleaned_data["resolved_period"]
    params.update(period=["custom"], start=[period.start.isoformat()], end=[period.end.isoformat()])
    for name in ("day", "week", "month"):
        params.pop(name, None)
    return params
