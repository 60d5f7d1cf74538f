"""Forms of the statements and settings pages: they parse and validate; services write.

Every choice of a location, person, line or member is limited to the acting organization, so a foreign
id is simply "not one of the available choices" (a form error, never someone else's data).
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Location, Person, StatementLine
from billing.models.choices import EInvoiceFormat
from portal.models import ApiToken, Role


class DisputeForm(forms.Form):
    line = forms.ModelChoiceField(queryset=StatementLine.objects.none(), label=_("Statement line"))
    reason = forms.CharField(
        label=_("Why do you dispute this line?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Say what you expected; our billing team answers here."),
    )

    def __init__(self, *args, statement, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = statement.lines.order_by("position")
        self.fields["line"].label_from_instance = lambda line: f"{line.position}. {line.description}"


class _RoleFields(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    locations = forms.ModelMultipleChoiceField(
        queryset=Location.objects.none(),
        required=False,
        label=_("Locations (for a location manager)"),
        widget=forms.CheckboxSelectMultiple,
    )
    person = forms.ModelChoiceField(
        queryset=Person.objects.none(), required=False, label=_("Person (for a member: whose lines they see)")
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["locations"].queryset = Location.objects.filter(organization=organization).order_by("name")
        self.fields["person"].queryset = Person.objects.filter(organization=organization).order_by("name")

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role == Role.LOCATION_MANAGER and not data.get("locations"):
            self.add_error("locations", _("Choose at least one location for a location manager."))
        if role == Role.MEMBER and not data.get("person"):
            self.add_error("person", _("Choose the person this member is."))
        return data


class InviteForm(_RoleFields):
    email = forms.EmailField(label=_("Email address"), max_length=150)
    field_order = ["email", "role", "locations", "person"]


class RoleForm(_RoleFields):
    pass


EXPIRY_CHOICES = [("30", _("30 days")), ("90", _("90 days")), ("365", _("1 year")), ("never", _("Never"))]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Where the token is used, e.g. “ERP export”."))
    scopes = forms.MultipleChoiceField(
        label=_("Allowed"), choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expiry = forms.ChoiceField(label=_("Expires after"), choices=EXPIRY_CHOICES, initial="90")

    def expires_at(self):
        expiry = self.cleaned_data["expiry"]
        return None if expiry == "never" else timezone.now() + timedelta(days=int(expiry))


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label=_("Use our usage to personalize offers"), required=False, help_text=_("You can change this at any time.")
    )


class EInvoiceForm(forms.Form):
    """The organization's e-invoice fields; checked together by the service (einvoice_settings_set)."""

    einvoice_format = forms.ChoiceField(label=_("E-invoice format"), choices=EInvoiceFormat.choices)
    buyer_reference = forms.CharField(
        label=_("Buyer reference or Leitweg-ID"),
        max_length=64,
        required=False,
        help_text=_(
            "Printed on every e-invoice (BT-10). German public buyers: your Leitweg-ID, e.g. 04011000-12345-34."
        ),
    )
    vat_id = forms.CharField(
        label=_("Tax ID"),
        max_length=32,
        required=False,
        help_text=_("Your VAT ID with its country prefix (EU, UK), or your EIN (US)."),
    )
    einvoice_address = forms.CharField(
        label=_("Electronic address"),
        max_length=120,
        required=False,
        help_text=_(
            "Where e-invoices reach you, as scheme:id: a Peppol participant (0208:0123456789) or EM:ap@example.com."
        ),
    )


class BudgetForm(forms.Form):
    applies_to = forms.ChoiceField(
        label=_("Applies to"),
        choices=[
            ("organization", _("The whole organization")),
            ("location", _("One location")),
            ("person", _("One person")),
        ],
    )
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, label=_("Location"))
    person = forms.ModelChoiceField(queryset=Person.objects.none(), required=False, label=_("Person"))
    amount = forms.DecimalField(
        label=_("Amount per billing period"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    thresholds = forms.CharField(
        label=_("Alert at (percent)"),
        initial="80, 100",
        max_length=60,
        help_text=_("Comma-separated, e.g. 50, 80, 100."),
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(organization=organization).order_by("name")
        self.fields["person"].queryset = Person.objects.filter(organization=organization).order_by("name")
        self.fields["amount"].help_text = _("In %(currency)s.") % {"currency": organization.currency}

    def clean_thresholds(self):
        raw = self.cleaned_data["thresholds"]
        try:
            values = sorted({int(part) for part in raw.replace(";", ",").split(",") if part.strip()})
        except ValueError:
            raise forms.ValidationError("Write whole percents separated by commas, e.g. 80, 100.") from None
        if not values:
            raise forms.ValidationError("Give at least one percent.")
        if any(not 1 <= v <= 1000 for v in values):
            raise forms.ValidationError("Each percent must be between 1 and 1000.")
        return values

    def clean(self):
        data = super().clean()
        applies_to = data.get("applies_to")
        if applies_to == "location" and not data.get("location"):
            self.add_error("location", "Choose the location.")
        if applies_to == "person" and not data.get("person"):
            self.add_error("person", "Choose the person.")
        if applies_to != "location":
            data["location"] = None
        if applies_to != "person":
            data["person"] = None
        return data
