from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import Statement
from billing.offers import tasks as offer_tasks
from billing.statements import tasks
from tests import factories


def test_run_billing_command_is_idempotent(billed_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    out = StringIO()
    call_command("run_billing", "--period", "2026-10", "--organization", billed_org.account_number, stdout=out)
    call_command("run_billing", "--period", "2026-10", "--organization", billed_org.account_number, stdout=out)
    statements = Statement.objects.filter(organization=billed_org)
    assert statements.count() == 1 and statements.get().pdf_status == "ready"
    assert out.getvalue().count(statements.get().number) == 2


def test_run_billing_command_errors(billed_org):
    with pytest.raises(CommandError, match="must look like 2026-10"):
        call_command("run_billing", "--period", "October")
    with pytest.raises(CommandError, match="no organization"):
        call_command("run_billing", "--period", "2026-10", "--organization", "NOPE")


def test_tasks_issue_render_and_email_once(billed_org, make, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        boss = make.user("boss", email="boss@hand.example")
        make.membership(boss, billed_org, role="admin")
        with django_capture_on_commit_callbacks(execute=True):
            pk = tasks.issue_statement.apply(args=[billed_org.pk, "2026-10-01"]).get()
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.issue_statement.apply(args=[billed_org.pk, "2026-10-15"]).get() == pk  # same period
        statement = Statement.objects.get(pk=pk)
        assert statement.pdf_status == "ready" and statement.pdf_attempts == 1
        assert len(mail.outbox) == 1 and statement.number in mail.outbox[0].subject
        assert mail.outbox[0].to == ["boss@hand.example"]
    finally:
        app.conf.task_always_eager = False


def test_failed_render_keeps_the_statement_issued_and_visible(billed_org, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    statement = factories.issued_statement(billed_org)

    def broken(**kwargs):
        raise RuntimeError("fonts missing")

    monkeypatch.setattr(tasks, "statement_render", broken)
    result = tasks.render_statement_pdf.apply(args=[statement.pk])
    assert result.state in ("RETRY", "FAILURE")
    statement.refresh_from_db()
    assert (statement.status, statement.pdf_status, statement.pdf_error) == ("issued", "failed", "fonts missing")
    monkeypatch.undo()
    tasks.render_statement_pdf.apply(args=[statement.pk])
    statement.refresh_from_db()
    assert statement.pdf_status == "ready" and statement.pdf_error == ""


def test_daily_billing_starts_each_missing_statement_once(billed_org, monkeypatch):
    started = []
    monkeypatch.setattr(tasks.issue_statement, "delay", lambda *args: started.append(args))
    monkeypatch.setattr(tasks.timezone, "now", lambda: datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert tasks.run_daily_billing() == 1
    assert started == [(billed_org.pk, "2026-10-01")]
    call_command("run_billing", "--period", "2026-10", "--no-pdf", stdout=StringIO())
    started.clear()
    assert tasks.run_daily_billing() == 0 and started == []


def test_run_billing_all_closed_issues_history_once_and_queues_pdfs(
    billed_org, monkeypatch, django_capture_on_commit_callbacks
):
    # The clock is pinned: which periods are closed must not depend on the day the suite runs.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 10, 9, tzinfo=UTC))
    queued, offers = [], []
    monkeypatch.setattr(tasks.render_statement_pdf, "delay", queued.append)
    monkeypatch.setattr(offer_tasks.compute_statement_offers, "delay", offers.append)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_billing", "--all-closed", "--no-pdf", stdout=StringIO())
    statements = Statement.objects.filter(organization=billed_org).order_by("period_start")
    # The fixture's usage starts in October 2026: October and November are closed on 10 December.
    assert [s.period_start for s in statements] == [date(2026, 10, 1), date(2026, 11, 1)]
    pks = [s.pk for s in statements]
    assert sorted(queued) == sorted(pks * 2)  # still pending after the first run: queued again, rendered once
    assert sorted(offers) == sorted(pks * 2)  # idempotent: frozen once per statement
    with pytest.raises(CommandError):
        call_command("run_billing")


def test_retry_countdowns_stay_below_the_redis_visibility_timeout(settings):
    """On Redis a task waiting for its retry countdown is unacknowledged; past visibility_timeout Redis
    would give it to a second worker, so the backoff never reaches it."""
    if hasattr(settings, "CELERY_VISIBILITY_TIMEOUT"):
        del settings.CELERY_VISIBILITY_TIMEOUT
    assert [tasks.backoff_countdown(n, cap=6 * 3600) for n in (0, 1, 5, 12)] == [30, 60, 960, 6 * 3600]
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    assert tasks.backoff_countdown(12, cap=6 * 3600) == 2880
    assert tasks.backoff_countdown(2, cap=6 * 3600) == 120


def test_a_notification_about_a_missing_statement_is_dropped_not_retried(db):
    assert tasks.notify_statement_ready.apply(args=[10**9]).successful()
    assert not mail.outbox


def test_a_caught_up_statement_gets_its_offers_and_pdf_queued_like_any_other(
    billed_org, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """Issuing October while September has no statement issues September too (a catch-up); both get
    their offers computed and their PDF rendered by the same run, not six hours later by the sweep."""
    from billing.periods import billing_period
    from billing.statements.services import statement_issue
    from portal.celery import app

    settings.MEDIA_ROOT = tmp_path
    now = datetime(2026, 11, 3, 8, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    august = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 8), now=now)
    queued = []
    monkeypatch.setattr(tasks.render_statement_pdf, "delay", lambda pk: queued.append(("pdf", pk)))
    monkeypatch.setattr(offer_tasks.compute_statement_offers, "delay", lambda pk: queued.append(("offers", pk)))
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            october_pk = tasks.issue_statement.apply(args=[billed_org.pk, "2026-10-01"]).get()
    finally:
        app.conf.task_always_eager = False
    september = Statement.objects.get(organization=billed_org, period_start=date(2026, 9, 1))
    assert sorted(queued) == sorted(
        [("offers", september.pk), ("pdf", september.pk), ("offers", october_pk), ("pdf", october_pk)]
    )
    assert august.pk not in {pk for _kind, pk in queued}  # issued before: not this run's


def test_run_billing_renders_the_caught_up_statement_too(billed_org, settings, tmp_path, monkeypatch):
    from billing.models import OfferRun
    from billing.periods import billing_period
    from billing.statements.services import statement_issue

    settings.MEDIA_ROOT = tmp_path
    now = datetime(2026, 11, 3, 8, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 8), now=now)
    out = StringIO()
    call_command("run_billing", "--period", "2026-10", "--organization", billed_org.account_number, stdout=out)
    statements = Statement.objects.filter(organization=billed_org, period_start__gte=date(2026, 9, 1))
    assert [(s.period_start, s.pdf_status) for s in statements.order_by("period_start")] == [
        (date(2026, 9, 1), "ready"),
        (date(2026, 10, 1), "ready"),
    ]
    assert OfferRun.objects.filter(statement__in=statements).count() == 2
