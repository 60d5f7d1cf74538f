"""Staff tools for offers in the Django admin: the catalog, runs, answers, change requests, the report."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing.models import Offer, OfferChangeRequest, OfferImpression, OfferRecommendation, OfferResponse, OfferRun
from billing.offers.selectors import offer_report
from billing.offers.services import offer_change_request_close, offers_compute


@admin.action(description="Compute offers now (a new run over the last closed periods)")
def compute_offers(modeladmin, request, queryset):
    for organization in queryset:
        run = offers_compute(organization=organization)
        modeladmin.message_user(
            request,
            f"{organization}: {run.recommendations.count()} offer(s)"
            + ("" if run.personalized else " (not personalized: " + ("holdout" if run.holdout else "no consent") + ")"),
            messages.SUCCESS,
        )


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "kind", "plan", "generic", "active", "valid_from", "valid_to", "priority"]
    list_filter = ["kind", "active", "generic"]
    search_fields = ["code", "title"]
    change_list_template = "admin/billing/offer/change_list.html"

    def get_urls(self):
        report = path("report/", self.admin_site.admin_view(self.report_view), name="billing_offer_report")
        return [report, *super().get_urls()]

    def report_view(self, request):
        rows = offer_report()
        context = {
            **self.admin_site.each_context(request),
            "title": "Offers: impressions, acceptance and savings",
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/offer/report.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:billing_offer_report")}
        return super().changelist_view(request, extra_context)


class RecommendationInline(admin.TabularInline):
    model = OfferRecommendation
    extra = 0
    can_delete = False
    fields = ["rank", "offer", "personalized", "retention", "saving_monthly", "saving_total", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OfferRun)
class OfferRunAdmin(admin.ModelAdmin):
    list_display = ["organization", "computed_at", "trigger", "statement", "personalized", "consent", "holdout"]
    list_filter = ["trigger", "personalized", "holdout", "legacy"]
    search_fields = ["organization__account_number", "organization__name"]
    readonly_fields = [
        "organization",
        "statement",
        "trigger",
        "computed_at",
        "months",
        "personalized",
        "consent",
        "holdout",
        "legacy",
        "profile",
    ]
    inlines = [RecommendationInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OfferResponse)
class OfferResponseAdmin(ReadOnlyAdmin):
    list_display = ["organization", "offer", "decision", "reason", "user", "channel", "at"]
    list_filter = ["decision", "channel"]


@admin.register(OfferImpression)
class OfferImpressionAdmin(ReadOnlyAdmin):
    list_display = ["organization", "offer", "channel", "user", "at"]
    list_filter = ["channel"]


@admin.action(description="Mark done (the change was made in the catalog/line plans)")
def mark_done(modeladmin, request, queryset):
    for change_request in queryset.filter(status=OfferChangeRequest.Status.OPEN):
        offer_change_request_close(
            change_request=change_request, status=OfferChangeRequest.Status.DONE, staff_user=request.user
        )


@admin.action(description="Reject")
def mark_rejected(modeladmin, request, queryset):
    for change_request in queryset.filter(status=OfferChangeRequest.Status.OPEN):
        offer_change_request_close(
            change_request=change_request, status=OfferChangeRequest.Status.REJECTED, staff_user=request.user
        )


@admin.register(OfferChangeRequest)
class OfferChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["organization", "offer", "status", "requested_by", "created_at", "handled_by", "handled_at"]
    list_filter = ["status"]
    readonly_fields = ["organization", "response", "offer", "requested_by", "created_at", "handled_by", "handled_at"]
    fields = [*readonly_fields, "status", "staff_note"]
    actions = [mark_done, mark_rejected]

    def has_add_permission(self, request):
        return False
