"""Forms of the cost centre pages: they parse and offer only the acting organization's objects; the rules
(codes, accounts, the tree, shares adding up to 100 %) are the domain service's, which names the field."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import CostCentre, JournalFormat, JournalSettings, Line, Location, Person

SHARE_ROWS = 5


def _cost_centres(organization, active_only=False):
    queryset = CostCentre.objects.filter(organization=organization).order_by("code")
    return queryset.filter(active=True) if active_only else queryset


class CostCentreForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=20, help_text=_("Letters, digits or _, e.g. 4100"))
    name = forms.CharField(label=_("Name"), max_length=200)
    gl_account = forms.CharField(
        label=_("GL account"), max_length=9, required=False, help_text=_("Blank: the parent's account")
    )
    parent = forms.ModelChoiceField(queryset=CostCentre.objects.none(), required=False, label=_("Parent"))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, organization, editing=None, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = _cost_centres(organization)
        if editing is not None:
            queryset = queryset.exclude(pk=editing.pk)
            self.fields["code"].disabled = True
        else:
            del self.fields["active"]
        self.fields["parent"].queryset = queryset


class AllocationRuleForm(forms.Form):
    target_kind = forms.ChoiceField(
        label=_("Allocate"), choices=[("line", _("A line")), ("person", _("A person")), ("location", _("A location"))]
    )
    line = forms.ModelChoiceField(queryset=Line.objects.none(), required=False, label=_("Line"))
    person = forms.ModelChoiceField(queryset=Person.objects.none(), required=False, label=_("Person"))
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, label=_("Location"))
    valid_from = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}), help_text=_("The first day it applies")
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(organization=organization).order_by("number")
        self.fields["person"].queryset = Person.objects.filter(organization=organization).order_by("name")
        self.fields["location"].queryset = Location.objects.filter(organization=organization).order_by("name")
        for i in range(1, SHARE_ROWS + 1):
            self.fields[f"cost_centre_{i}"] = forms.ModelChoiceField(
                queryset=_cost_centres(organization, active_only=True),
                required=False,
                label=_("Cost centre %(n)s") % {"n": i},
            )
            self.fields[f"percent_{i}"] = forms.DecimalField(
                required=False,
                label=_("Percent %(n)s") % {"n": i},
                max_digits=5,
                decimal_places=2,
                initial=Decimal(100) if i == 1 else None,
            )

    def share_rows(self):
        return [(self[f"cost_centre_{i}"], self[f"percent_{i}"]) for i in range(1, SHARE_ROWS + 1)]

    def clean(self):
        data = super().clean()
        kind = data.get("target_kind")
        if kind and not data.get(kind):
            self.add_error(kind, _("Choose the %(what)s to allocate.") % {"what": kind})
        shares = []
        for i in range(1, SHARE_ROWS + 1):
            cost_centre, percent = data.get(f"cost_centre_{i}"), data.get(f"percent_{i}")
            if cost_centre is None and percent is None:
                continue
            if cost_centre is None or percent is None:
                self.add_error(f"cost_centre_{i}", _("Give both a cost centre and its percent."))
                continue
            shares.append((cost_centre, percent))
        data["shares"] = shares
        data["target"] = data.get(kind) if kind else None
        return data


class UsageByCostCentreForm(forms.Form):
    """Usage cost of any period by cost centre (GET)."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    level = forms.IntegerField(
        label=_("Roll up to level"), required=False, min_value=0, help_text=_("0: the roots; blank: every cost centre")
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The period ends before it starts."))
        return data


class RuleEndForm(forms.Form):
    valid_to = forms.DateField(label=_("Ends before"), widget=forms.DateInput(attrs={"type": "date"}))


class JournalSettingsForm(forms.ModelForm):
    class Meta:
        model = JournalSettings
        fields = [
            "journal_format",
            "default_gl_account",
            "contra_account",
            "datev_consultant_number",
            "datev_client_number",
            "datev_fiscal_year_start_month",
            "datev_account_length",
            "datev_chart",
            "datev_tax_key",
        ]
        labels = {
            "journal_format": _("Journal format"),
            "default_gl_account": _("Default GL account"),
            "contra_account": _("Creditor account (Gegenkonto)"),
            "datev_consultant_number": _("DATEV consultant number (Beraternummer)"),
            "datev_client_number": _("DATEV client number (Mandantennummer)"),
            "datev_fiscal_year_start_month": _("Fiscal year starts in month"),
            "datev_account_length": _("Account length (Sachkontenlänge)"),
            "datev_chart": _("Chart of accounts"),
            "datev_tax_key": _("Tax key (BU-Schlüssel)"),
        }

    journal_format = forms.ChoiceField(choices=JournalFormat.choices)
