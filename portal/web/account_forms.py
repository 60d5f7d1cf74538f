"""Forms of the statements and settings pages: they parse and validate; services write.

Every choice of a location, person, line or member is limited to the acting organization, so a foreign
id is simply "not one of the available choices" (a form error, never someone else's data).
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from billing.models import Location, Person, StatementLine
from portal.models import ApiToken, Role


class DisputeForm(forms.Form):
    line = forms.ModelChoiceField(queryset=StatementLine.objects.none(), label="Statement line")
    reason = forms.CharField(
        label="Why do you dispute this line?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Say what you expected; our billing team answers here.",
    )

    def __init__(self, *args, statement, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = statement.lines.order_by("position")
        self.fields["line"].label_from_instance = lambda line: f"{line.position}. {line.description}"


class _RoleFields(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
    locations = forms.ModelMultipleChoiceField(
        queryset=Location.objects.none(),
        required=False,
        label="Locations (for a location manager)",
        widget=forms.CheckboxSelectMultiple,
    )
    person = forms.ModelChoiceField(
        queryset=Person.objects.none(), required=False, label="Person (for a member: whose lines they see)"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["locations"].queryset = Location.objects.filter(organization=organization).order_by("name")
        self.fields["person"].queryset = Person.objects.filter(organization=organization).order_by("name")

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role == Role.LOCATION_MANAGER and not data.get("locations"):
            self.add_error("locations", "Choose at least one location for a location manager.")
        if role == Role.MEMBER and not data.get("person"):
            self.add_error("person", "Choose the person this member is.")
        return data


class InviteForm(_RoleFields):
    email = forms.EmailField(label="Email address", max_length=150)
    field_order = ["email", "role", "locations", "person"]


class RoleForm(_RoleFields):
    pass


EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never")]


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="Where the token is used, e.g. “ERP export”.")
    scopes = forms.MultipleChoiceField(
        label="Allowed", choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expiry = forms.ChoiceField(label="Expires after", choices=EXPIRY_CHOICES, initial="90")

    def expires_at(self):
        expiry = self.cleaned_data["expiry"]
        return None if expiry == "never" else timezone.now() + timedelta(days=int(expiry))


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label="Use our usage to personalize offers", required=False, help_text="You can change this at any time."
    )


class BudgetForm(forms.Form):
    applies_to = forms.ChoiceField(
        label="Applies to",
        choices=[("organization", "The whole organization"), ("location", "One location"), ("person", "One person")],
    )
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, label="Location")
    person = forms.ModelChoiceField(queryset=Person.objects.none(), required=False, label="Person")
    amount = forms.DecimalField(
        label="Amount per billing period", min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    thresholds = forms.CharField(
        label="Alert at (percent)", initial="80, 100", max_length=60, help_text="Comma-separated, e.g. 50, 80, 100."
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(organization=organization).order_by("name")
        self.fields["person"].queryset = Person.objects.filter(organization=organization).order_by("name")
        self.fields["amount"].help_text = f"In {organization.currency}."

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
