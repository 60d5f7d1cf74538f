from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from portal.api.core.view import GraphQLView
from portal.api.schema import schema
from portal.web import offers, statements, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/", views.switch_organization, name="switch-organization"),
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("statements/<int:statement_id>/pdf", statements.statement_pdf, name="statement-pdf"),
    path("statements/<int:statement_id>/calls.csv", statements.statement_calls_csv, name="statement-calls-csv"),
    path("offers/<int:offer_id>/respond", offers.offer_respond_view, name="offer-respond"),
    path("offers/privacy", offers.offers_privacy, name="offers-privacy"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
