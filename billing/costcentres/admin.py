"""Staff tools for cost centres in the Django admin. Every write goes through billing.costcentres.services
(with its audit row): the admin's own saving is replaced, so no admin form writes a row directly."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages

from billing.audit import Actor
from billing.costcentres.services import (
    CostCentreError,
    _checked_shares,
    _target_fields,
    allocation_rule_set,
    cost_centre_create,
    cost_centre_update,
)
from billing.models import AllocationRule, AllocationShare, CostCentre


@admin.register(CostCentre)
class CostCentreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "organization", "parent", "gl_account", "active"]
    list_filter = ["organization", "active"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "code"] if obj else []

    def save_model(self, request, obj, form, change):
        actor = Actor(user=request.user, ip_address=request.META.get("REMOTE_ADDR"))
        try:
            if change:
                cost_centre_update(
                    cost_centre=CostCentre.objects.get(pk=obj.pk),
                    name=obj.name,
                    gl_account=obj.gl_account,
                    parent=obj.parent,
                    active=obj.active,
                    actor=actor,
                )
            else:
                created = cost_centre_create(
                    organization=obj.organization,
                    code=obj.code,
                    name=obj.name,
                    gl_account=obj.gl_account,
                    parent=obj.parent,
                    actor=actor,
                )
                obj.pk = created.pk
        except CostCentreError as error:
            messages.error(request, str(error))

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: allocation history refers to it


class ShareInline(admin.TabularInline):
    model = AllocationShare
    fields = ["cost_centre", "percent"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class AllocationRuleForm(forms.ModelForm):
    shares_text = forms.CharField(
        label="Shares", help_text="Cost centre codes and percents, e.g. 1100=60, 1200=40 (adding up to 100)"
    )

    class Meta:
        model = AllocationRule
        fields = ["organization", "line", "person", "location", "valid_from"]

    def clean(self):
        data = super().clean()
        targets = [data.get(k) for k in ("line", "person", "location") if data.get(k)]
        if len(targets) != 1:
            raise forms.ValidationError("Choose exactly one line, person or location.")
        data["target"] = targets[0]
        shares = []
        for part in (data.get("shares_text") or "").split(","):
            code, _, percent = part.partition("=")
            centre = CostCentre.objects.filter(organization=data.get("organization"), code=code.strip()).first()
            try:
                value = Decimal(percent.strip())
            except InvalidOperation:
                raise forms.ValidationError(f"Shares: {part.strip()!r} is not CODE=PERCENT") from None
            if centre is None:
                raise forms.ValidationError(f"Shares: no cost centre {code.strip()} in this organization")
            shares.append((centre, value))
        try:  # the service's own checks, so a bad rule is a form error rather than a message after the fact
            _target_fields(data.get("organization"), data["target"])
            data["shares"] = _checked_shares(data.get("organization"), shares)
        except CostCentreError as error:
            raise forms.ValidationError(str(error)) from None
        return data


@admin.register(AllocationRule)
class AllocationRuleAdmin(admin.ModelAdmin):
    form = AllocationRuleForm
    list_display = ["organization", "target", "valid_from", "valid_to"]
    list_filter = ["organization"]
    inlines = [ShareInline]

    def has_change_permission(self, request, obj=None):
        return obj is None  # a rule is cut by a new one (or ended in the portal), never edited

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            rule = allocation_rule_set(
                organization=data["organization"],
                target=data["target"],
                valid_from=data["valid_from"],
                shares=data["shares"],
                actor=Actor(user=request.user, ip_address=request.META.get("REMOTE_ADDR")),
            )
            obj.pk = rule.pk
        except CostCentreError as error:
            messages.error(request, str(error))
