from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from portal.api.core.view import GraphQLView
from portal.api.schema import schema
from portal.web import exports, statements, usage, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/", views.switch_organization, name="switch-organization"),
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("statements/<int:statement_id>/pdf", statements.statement_pdf, name="statement-pdf"),
    path("statements/<int:statement_id>/calls.csv", statements.statement_calls_csv, name="statement-calls-csv"),
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
