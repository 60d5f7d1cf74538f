"""Offers after issue (Celery, idempotent), frozen in the PDF (old statements unchanged), the staff report
(numbers equal the recorded events) and the compute_offers command."""

import importlib
import io
from datetime import timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing.formatting import Formatter
from billing.models import Offer, OfferImpression, OfferRecommendation, OfferResponse, OfferRun, Statement
from billing.offers.reports import offer_report
from billing.offers.responses import offer_impressions_record, offer_respond
from billing.offers.services import offers_compute
from billing.periods import billing_period
from billing.statements import tasks
from billing.statements.pdf import render_pdf, statement_html, statement_render
from billing.statements.services import statement_issue
from tests.offers.conftest import ISSUED_AT, consultancy, issue_periods


def test_issue_task_starts_the_offer_task_once_and_it_is_idempotent(
    make, catalog, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    org = consultancy(make, catalog)
    for month in (8, 9):
        statement_issue(organization=org, period=billing_period(org, 2026, month), now=ISSUED_AT)
    from billing.offers import tasks as offer_tasks
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            pk = tasks.issue_statement.apply(args=[org.pk, "2026-10-05"]).get()
        assert len(callbacks) == 2  # offers, then the PDF
        statement = Statement.objects.get(pk=pk)
        run = OfferRun.objects.get(statement=statement)
        assert run.trigger == "statement" and run.personalized
        recs = list(run.recommendations.values_list("pk", "offer__code", "saving_total"))
        assert recs and recs[0][1] == "europe-pack-eur"
        # Again (a retried or duplicated task): the same run, nothing added.
        assert offer_tasks.compute_statement_offers.apply(args=[pk]).get() == run.pk
        assert offer_tasks.compute_statement_offers.apply(args=[pk]).get() == run.pk
        assert OfferRun.objects.filter(statement=statement).count() == 1
        assert list(run.recommendations.values_list("pk", "offer__code", "saving_total")) == recs
        # The PDF rendered by the chain shows exactly the frozen offers.
        statement.refresh_from_db()
        assert statement.pdf_status == "ready"
        text = pdf_text((tmp_path / statement.pdf_file).read_bytes())
        assert "Aanbiedingen voor u" in text and "International Pack Europe" in text  # nl-NL: a Dutch statement
    finally:
        app.conf.task_always_eager = False


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ")


@pytest.mark.slow
def test_statements_issued_before_offers_render_byte_for_byte_as_before(make, catalog, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    org = consultancy(make, catalog)
    statements = issue_periods(org)
    old = statements[-1]
    # What the renderer produced before offers existed (with the e-invoice the statement was issued with).
    before = render_pdf(statement_html(old), einvoice=old.einvoice)
    OfferRun.objects.filter(statement__in=statements).delete()
    # Migration 0009 freezes every statement issued so far with no offers.
    importlib.import_module("billing.migrations.0009_offers_freeze_issued_statements").freeze_existing(apps, None)
    assert OfferRun.objects.filter(statement=old, legacy=True).exists()
    path = statement_render(statement=old)
    assert path.read_bytes() == before
    assert not OfferRecommendation.objects.filter(statement=old).exists()  # although the pack would save


@pytest.mark.slow
def test_new_statement_pdf_shows_its_frozen_offers_and_re_renders_identically(make, catalog, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    org = consultancy(make, catalog)
    statement = issue_periods(org)[-1]
    first = statement_render(statement=statement).read_bytes()
    run = OfferRun.objects.get(statement=statement)
    assert run.trigger == "statement" and not run.legacy
    top = run.recommendations.order_by("rank").first()
    text = pdf_text(first)
    assert "Aanbiedingen voor u" in text and top.title in text  # nl-NL: a Dutch statement
    assert Formatter(org).money(top.saving_total).replace("\xa0", " ") in text
    # Staff edit the catalog and the customer declines: the issued PDF stays as it was.
    Offer.objects.filter(pk=top.offer_id).update(title="Renamed pack")
    offer_respond(organization=org, recommendation_id=top.pk, decision="declined")
    statement.refresh_from_db()
    assert statement_render(statement=statement).read_bytes() == first


def test_staff_report_numbers_equal_the_recorded_events(make, catalog, settings, admin_client):
    treated = consultancy(make, catalog, seed=1, name="Treated B.V.")
    private = consultancy(make, catalog, seed=2, name="Private B.V.", consent=False)
    held = consultancy(make, catalog, seed=3, name="Held B.V.")
    runs = {}
    for org in (treated, private, held):
        settings.OFFERS_HOLDOUT_SHARE = 1.0 if org is held else 0.0
        issue_periods(org)
        runs[org.pk] = offers_compute(organization=org, now=ISSUED_AT)
    assert runs[held.pk].holdout and not runs[private.pk].consent and runs[treated.pk].personalized
    pack = Offer.objects.get(code="europe-pack-eur")

    def rec_of(org):
        return runs[org.pk].recommendations.get(offer=pack)

    t, p, h = rec_of(treated), rec_of(private), rec_of(held)
    assert t.personalized and not p.personalized and not h.personalized
    offer_impressions_record(organization=treated, recommendation_ids=[t.pk], channel="web")
    offer_impressions_record(organization=treated, recommendation_ids=[t.pk], channel="pdf")
    offer_impressions_record(organization=treated, recommendation_ids=[t.pk], channel="api")
    offer_impressions_record(organization=private, recommendation_ids=[p.pk], channel="web")
    offer_impressions_record(organization=held, recommendation_ids=[h.pk], channel="web")
    offer_impressions_record(organization=held, recommendation_ids=[h.pk], channel="web")
    # A foreign id is ignored, not recorded for the wrong organization.
    assert offer_impressions_record(organization=held, recommendation_ids=[t.pk], channel="web") == 0
    offer_respond(organization=treated, recommendation_id=t.pk, decision="accepted")
    offer_respond(organization=held, recommendation_id=h.pk, decision="declined", reason="no")
    row = next(r for r in offer_report() if r.offer == pack)
    events = OfferImpression.objects.filter(offer=pack)
    assert row.impressions == events.count() == 6
    assert (row.personalized.impressions, row.holdout.impressions, row.other.impressions) == (3, 2, 1)
    assert (row.personalized.shown, row.holdout.shown, row.other.shown) == (1, 1, 1)
    assert row.accepted == OfferResponse.objects.filter(offer=pack, decision="accepted").count() == 1
    assert (row.personalized.accepted, row.holdout.declined) == (1, 1)
    assert row.acceptance_rate == D("33.3") and row.personalized.acceptance_rate == D("100.0")
    assert row.holdout.acceptance_rate == D("0.0")
    assert row.savings_by_currency == {"EUR": t.saving_monthly}
    # The admin page shows the same numbers.
    html = admin_client.get(reverse("admin:billing_offer_report")).content.decode()
    start = html.index(f'data-offer="{pack.code}"')
    cells = html[start : html.index("</tr>", start)]
    assert '<td class="impressions">6</td>' in cells and '<td class="accepted">1</td>' in cells
    assert '<td class="rate">33.3 %</td>' in cells and f"{t.saving_monthly} EUR" in cells
    assert admin_client.get(reverse("admin:billing_offer_changelist")).status_code == 200


def test_compute_offers_command(make, catalog, monkeypatch):
    org = consultancy(make, catalog)
    statements = issue_periods(org)
    # The command prices the last closed periods as of now: pin now to the fixture's issue day.
    monkeypatch.setattr(timezone, "now", lambda: ISSUED_AT)
    out = StringIO()
    call_command("compute_offers", "--organization", org.account_number, stdout=out)
    text = out.getvalue()
    assert f"{org.account_number} (personalized):" in text and "1. International Pack Europe saves" in text
    call_command("compute_offers", "--statement", statements[-1].number, stdout=out)
    call_command("compute_offers", "--statement", statements[-1].number, stdout=out)
    assert OfferRun.objects.filter(statement=statements[-1]).count() == 1
    assert OfferRun.objects.filter(organization=org).count() == 2
    assert OfferRun.objects.get(statement=statements[-1]).computed_at > ISSUED_AT - timedelta(days=1)


def test_pdf_download_records_an_impression_of_each_frozen_offer(make, catalog, settings, tmp_path, client):
    settings.MEDIA_ROOT = tmp_path
    org = consultancy(make, catalog)
    statement = issue_periods(org)[-1]
    statement_render(statement=statement)
    frozen = list(OfferRecommendation.objects.filter(statement=statement).values_list("pk", flat=True))
    assert frozen
    user = make.user()
    make.membership(user, org, role="analyst")
    client.force_login(user)
    response = client.get(reverse("statement-pdf", args=[statement.pk]))
    assert response.status_code == 200
    shown = OfferImpression.objects.filter(organization=org, channel="pdf", user=user)
    assert sorted(shown.values_list("recommendation_id", flat=True)) == sorted(frozen)
