"""Staff tools in the Django admin: customers, catalog, statements (read-only), disputes, imports."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import render

from billing.audit import Actor
from billing.costcentres import admin as costcentres_admin  # noqa: F401 - registers the cost centre pages
from billing.ingest.batches import VoidError, import_batch_void
from billing.models import (
    Adjustment,
    Dispute,
    ImportBatch,
    ImportRejection,
    Line,
    LineIdentifier,
    Location,
    Organization,
    Payment,
    Person,
    Plan,
    PlanAllowance,
    PlanRate,
    Statement,
    StatementLine,
    UsageSource,
    WebhookDelivery,
    WebhookEndpoint,
)
from billing.offers.admin import compute_offers  # also registers the offer admin pages
from billing.statements.disputes import dispute_resolve
from billing.statements.payments import PaymentError, payment_record
from billing.statements.services import BillingError


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["account_number", "name", "country", "currency", "billing_day", "personalization_consent"]
    search_fields = ["account_number", "name"]
    actions = [compute_offers]


@admin.register(Location, Person)
class OwnedAdmin(admin.ModelAdmin):
    list_display = ["name", "organization"]
    list_filter = ["organization"]
    search_fields = ["name"]


class LineIdentifierForm(forms.ModelForm):
    """Refuses an identifier that would name two lines of the organization at once, as a form error
    (the database would refuse it too, but as a server error: the organization is not a form field)."""

    class Meta:
        model = LineIdentifier
        fields = ["kind", "value", "valid_from", "valid_to"]

    def clean(self):
        cleaned = super().clean()
        line = getattr(self.instance, "line", None) if self.instance.line_id else None
        kind, value, start, end = (cleaned.get(k) for k in ("kind", "value", "valid_from", "valid_to"))
        if line is None or not (kind and value and start):
            return cleaned
        self.instance.organization_id = line.organization_id
        clash = LineIdentifier.objects.filter(organization_id=line.organization_id, kind=kind, value=value.strip())
        clash = clash.exclude(pk=self.instance.pk).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
        if end is not None:
            clash = clash.filter(valid_from__lt=end)
        other = clash.select_related("line").first()
        if other is not None:
            raise forms.ValidationError(f"{kind} {value} already names line {other.line.number} in that period")
        return cleaned


class LineIdentifierInline(admin.TabularInline):
    model = LineIdentifier
    form = LineIdentifierForm
    extra = 0


@admin.register(Line)
class LineAdmin(admin.ModelAdmin):
    list_display = ["number", "organization", "activated_on", "deactivated_on"]
    list_filter = ["organization"]
    search_fields = ["number", "identifiers__value"]
    inlines = [LineIdentifierInline]

    def save_formset(self, request, form, formset, change):
        for identifier in formset.save(commit=False):
            identifier.organization_id = form.instance.organization_id
            identifier.save()
        for gone in formset.deleted_objects:
            gone.delete()


@admin.register(UsageSource)
class UsageSourceAdmin(admin.ModelAdmin):
    """A phone system that sends call records: format, clock, dial plan, and how rows name lines."""

    list_display = ["slug", "name", "organization", "format", "clock", "match_by", "active"]
    list_filter = ["format", "active"]
    search_fields = ["slug", "name", "organization__account_number"]


class PlanRateInline(admin.TabularInline):
    model = PlanRate
    extra = 0


class PlanAllowanceInline(admin.TabularInline):
    model = PlanAllowance
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "currency", "monthly_fee"]
    inlines = [PlanRateInline, PlanAllowanceInline]


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    extra = 0
    can_delete = False
    fields = ["position", "kind", "description", "quantity", "unit", "amount"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    """Read-only: issued statements are immutable (the database refuses changes anyway)."""

    list_display = ["number", "organization", "period_start", "status", "total", "currency", "pdf_status"]
    list_filter = ["status", "pdf_status"]
    search_fields = ["number", "organization__account_number"]
    inlines = [StatementLineInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    list_display = ["organization", "amount", "reason", "created_by", "created_at", "applied_to"]
    readonly_fields = ["applied_to", "created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class DisputeResolutionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "— keep open —"), ("accept", "Accept and credit"), ("reject", "Reject")], required=False
    )
    credit = forms.DecimalField(required=False, min_value=Decimal("0.01"), help_text="Default: the whole line")

    class Meta:
        model = Dispute
        fields = ["resolution"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    form = DisputeResolutionForm
    list_display = ["statement", "line", "status", "raised_by", "raised_at", "resolved_at"]
    list_filter = ["status"]
    readonly_fields = [
        "statement",
        "line",
        "reason",
        "raised_by",
        "raised_at",
        "status",
        "resolved_by",
        "resolved_at",
        "adjustment",
    ]

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        try:
            dispute_resolve(
                dispute=obj,
                accept=decision == "accept",
                resolution=form.cleaned_data["resolution"],
                user=request.user,
                credit=form.cleaned_data.get("credit"),
            )
        except BillingError as exc:
            messages.error(request, str(exc))


class ImportRejectionInline(admin.TabularInline):
    model = ImportRejection
    extra = 0
    readonly_fields = ["line_number", "reason", "raw"]
    can_delete = False


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept with the batch and in the audit log"
    )


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "filename",
        "source",
        "format",
        "status",
        "rows",
        "loaded",
        "duplicates",
        "rejected",
        "started_at",
    ]
    list_filter = ["status", "source"]
    inlines = [ImportRejectionInline]
    actions = ["void_imports"]

    def get_readonly_fields(self, request, obj=None):
        # An import is a record of what happened: nothing of it is edited by hand (voiding is the action).
        return [field.name for field in ImportBatch._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Void the selected imports (remove their records so a corrected file can be loaded)")
    def void_imports(self, request, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return render(
                request,
                "admin/billing/importbatch/void.html",
                {**self.admin_site.each_context(request), "batches": queryset, "form": form, "opts": self.model._meta},
            )
        for batch in queryset.order_by("pk"):
            try:
                voided = import_batch_void(batch_id=batch.pk, reason=form.cleaned_data["reason"], user=request.user)
            except VoidError as exc:
                self.message_user(request, f"Batch {batch.pk} not voided: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Batch {voided.pk} voided: {voided.voided_records} records removed.")
        return None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "organization", "active", "created_at"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "created_at", "delivered_at"]
    list_filter = ["status"]


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["organization", "received_on", "amount", "currency", "reference", "external_id"]

    def clean(self):
        data = super().clean()
        organization, amount, currency = data.get("organization"), data.get("amount"), data.get("currency")
        if amount is not None and amount <= 0:
            self.add_error("amount", "A payment received is a positive amount.")
        if organization is not None and currency and currency != organization.currency:
            self.add_error("currency", f"{organization.account_number} is billed in {organization.currency}.")
        return data


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Staff enter a payment received; it is recorded by ``payment_record`` (with its audit row) and shown
    on the next statement. Recorded payments are not edited: a statement may already count them."""

    form = PaymentForm
    list_display = ["organization", "received_on", "amount", "currency", "reference", "source", "applied_to"]
    list_filter = ["source", "currency"]
    search_fields = ["organization__account_number", "reference", "external_id"]

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            saved = payment_record(
                organization=obj.organization,
                received_on=obj.received_on,
                amount=obj.amount,
                currency=obj.currency,
                reference=obj.reference,
                source=Payment.Source.STAFF,
                external_id=obj.external_id,
                actor=Actor(user=request.user, ip_address=request.META.get("REMOTE_ADDR")),
            )
        except PaymentError as exc:
            self.message_user(request, f"Payment not recorded: {exc}", messages.ERROR)
            return
        obj.pk = saved.pk
