"""Staff tools for offers in the Django admin: the catalog, runs, answers, change requests, the report."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from billing.models import (
    Offer,
    OfferAcceptance,
    OfferCampaign,
    OfferChangeRequest,
    OfferDecision,
    OfferImpression,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
)
from billing.offers.reports import campaign_results, offer_report
from billing.offers.responses import offer_change_request_close
from billing.offers.services import offers_compute
from billing.offers.uplift import uplift_report


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
            "uplift": uplift_report(),
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
        "retention_risk",
        "why_not_shown",
    ]
    inlines = [RecommendationInline]

    @admin.display(description="Retention risk")
    def retention_risk(self, obj):
        risk = (obj.profile or {}).get("retention_risk")
        if not risk:
            return "— (computed only with consent)"
        rows = format_html_join("", "<li>{} points: {}</li>", ((p, why) for p, why in risk["reasons"]))
        return format_html("<strong>{} / 100 ({})</strong><ul>{}</ul>", risk["score"], risk["level"], rows)

    @admin.display(description="Why other offers were not shown")
    def why_not_shown(self, obj):
        return _why_not_shown(getattr(obj, "decision", None))

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


def _why_not_shown(decision) -> str:
    if decision is None or not decision.excluded:
        return "—"
    rows = format_html_join(
        "", "<tr><th>{}</th><td>{}</td></tr>", sorted((code, why) for code, why in decision.excluded.items())
    )
    return format_html('<table class="why-not-shown">{}</table>', rows)


def _candidates(decision) -> str:
    if decision is None or not decision.candidates:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                c["code"],
                c["value"],
                c["accepted"],
                c["accepted"] + c["not_accepted"],
                c["p_mean"],
                c["score"],
                c["propensity"],
            )
            for c in decision.candidates
        ),
    )
    head = "<tr><th>offer</th><th>value</th><th>accepted/answered</th><th>P(accept)</th><th>score</th><th>propensity</th></tr>"
    return format_html("<table>{}{}</table>", mark_safe(head), rows)  # noqa: S308 - a constant header


@admin.register(OfferDecision)
class OfferDecisionAdmin(ReadOnlyAdmin):
    """The decision log: what each run could have shown, how it scored them, and why the others were not
    shown (resting after a decline or being ignored, accepted, the contact cap, conditions, no saving)."""

    list_display = ["organization", "at", "segment", "chosen", "propensity", "explored", "policy", "value_basis"]
    list_filter = ["explored", "policy", "value_basis"]
    search_fields = ["organization__account_number", "organization__name"]
    fields = [
        "organization",
        "run",
        "at",
        "segment",
        "policy",
        "value_basis",
        "exploration",
        "chosen",
        "propensity",
        "explored",
        "ranked_candidates",
        "why_not_shown",
    ]
    readonly_fields = fields

    @admin.display(description="Candidates (ranked)")
    def ranked_candidates(self, obj):
        return _candidates(obj)

    @admin.display(description="Why not shown")
    def why_not_shown(self, obj):
        return _why_not_shown(obj)


@admin.register(OfferOutcome)
class OfferOutcomeAdmin(ReadOnlyAdmin):
    list_display = ["organization", "offer", "kind", "segment", "at"]
    list_filter = ["kind"]


@admin.register(OfferAcceptance)
class OfferAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["offer", "segment", "accepted", "not_accepted", "updated_at"]
    search_fields = ["offer__code", "segment"]


@admin.register(OfferCampaign)
class OfferCampaignAdmin(admin.ModelAdmin):
    """A campaign is offers + period + segment + cap; its results are counted from the recorded outcomes."""

    list_display = ["name", "starts_on", "ends_on", "segment", "cap", "shown", "accepted", "acceptance"]
    filter_horizontal = ["offers"]
    readonly_fields = ["results"]
    fields = ["name", "offers", "starts_on", "ends_on", "segment", "cap", "results"]

    @admin.display(description="Shown")
    def shown(self, obj):
        return campaign_results(campaign=obj).shown

    @admin.display(description="Accepted")
    def accepted(self, obj):
        return campaign_results(campaign=obj).accepted

    @admin.display(description="Acceptance")
    def acceptance(self, obj):
        rate = campaign_results(campaign=obj).acceptance_rate
        return "—" if rate is None else f"{rate} %"

    @admin.display(description="Results")
    def results(self, obj):
        if obj.pk is None:
            return "—"
        r = campaign_results(campaign=obj)
        savings = ", ".join(f"{amount} {currency}" for currency, amount in sorted(r.savings_monthly_accepted.items()))
        return format_html(
            '<table class="campaign-results"><tr><th>Organizations reached</th><td>{}</td></tr>'
            "<tr><th>Shown</th><td>{}</td></tr><tr><th>Accepted</th><td>{}</td></tr>"
            "<tr><th>Declined</th><td>{}</td></tr><tr><th>Ignored</th><td>{}</td></tr>"
            "<tr><th>Acceptance</th><td>{}</td></tr><tr><th>Savings accepted / month</th><td>{}</td></tr></table>",
            r.organizations,
            r.shown,
            r.accepted,
            r.declined,
            r.ignored,
            "—" if r.acceptance_rate is None else f"{r.acceptance_rate} %",
            savings or "—",
        )
