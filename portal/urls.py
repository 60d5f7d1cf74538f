from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from portal.api.core.view import GraphQLView
from portal.api.schema import schema
from portal.signin import LoginView, ThrottledPasswordResetView
from portal.web import (
    budget_pages,
    exports,
    findings_pages,
    invitation_pages,
    offers,
    report_pages,
    settings_pages,
    statement_pages,
    statements,
    usage,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path(
        "password-reset/",
        ThrottledPasswordResetView.as_view(
            template_name="registration/reset_form.html",
            email_template_name="registration/reset_email.txt",
            subject_template_name="registration/reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/reset_sent.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordSetView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/reset_complete.html"),
        name="password_reset_complete",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/", views.switch_organization, name="switch-organization"),
    path("invitations/<int:invitation_id>/answer", invitation_pages.invitation_answer, name="invitation-answer"),
    path(
        "settings/invitations/<int:invitation_id>/withdraw",
        invitation_pages.invitation_withdraw,
        name="settings-invitation-withdraw",
    ),
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("statements/", statement_pages.statement_list, name="statements"),
    path("statements/<int:statement_id>/", statement_pages.statement_detail, name="statement"),
    path("settings/", settings_pages.overview, name="settings"),
    path("settings/members/", settings_pages.members, name="settings-members"),
    path("settings/members/<int:membership_id>/", settings_pages.member, name="settings-member"),
    path("settings/members/<int:membership_id>/remove", settings_pages.member_delete, name="settings-member-remove"),
    path("settings/tokens/", settings_pages.tokens, name="settings-tokens"),
    path("settings/tokens/new", settings_pages.token_created, name="settings-token-created"),
    path("settings/tokens/<int:token_id>/revoke", settings_pages.token_delete, name="settings-token-revoke"),
    path("settings/personalization/", settings_pages.consent, name="settings-consent"),
    path("settings/budgets/", budget_pages.budgets, name="settings-budgets"),
    path("settings/budgets/<int:budget_id>/remove", budget_pages.budget_remove, name="settings-budget-remove"),
    path("budgets/", budget_pages.budget_list, name="budgets"),
    path("findings/", findings_pages.findings, name="findings"),
    path("reports/", report_pages.reports, name="reports"),
    path("reports/<int:report_id>/remove", report_pages.report_remove, name="report-remove"),
    path("reports/unsubscribe/<str:token>/", report_pages.unsubscribe, name="report-unsubscribe"),
    path("findings/<int:finding_id>/status", findings_pages.finding_status, name="finding-status"),
    path("privacy/", settings_pages.privacy, name="privacy"),
    path("statements/<int:statement_id>/pdf", statements.statement_pdf, name="statement-pdf"),
    path("statements/<int:statement_id>/einvoice.xml", statements.statement_einvoice, name="statement-einvoice"),
    path("statements/<int:statement_id>/calls.csv", statements.statement_calls_csv, name="statement-calls-csv"),
    path("offers/<int:offer_id>/respond", offers.offer_respond_view, name="offer-respond"),
    path("offers/privacy", offers.offers_privacy, name="offers-privacy"),
    path("usage/", usage.explorer, name="usage"),
    path("usage/records/", usage.records, name="usage-records"),
    path("usage/export/", exports.usage_export, name="usage-export"),
    path("usage/records/export/", exports.records_export, name="usage-records-export"),
    path("usage/views/", usage.saved_view_create, name="saved-view-create"),
    path("usage/views/<int:view_id>/delete", usage.saved_view_delete, name="saved-view-delete"),
    path("exports/<int:job_id>/", exports.export_job, name="export-job"),
    path("exports/<int:job_id>/status", exports.export_job_status, name="export-status"),
    path("exports/<int:job_id>/download", exports.export_download, name="export-download"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
