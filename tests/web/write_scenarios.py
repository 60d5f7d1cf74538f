"""Scenarios of the write walk (test_audit_every_write) for budgets' API, invitations, findings and
scheduled reports: each prepares what a write needs and returns the request (or the mutation) to make."""

from django.urls import reverse

from portal.models import Budget


def _invitation(w, make):
    from portal.models import Invitation

    other = make.organization()
    user = make.user(email="elsewhere@example.com")
    make.membership(user, other, role="admin")
    return user, Invitation.objects.create(organization=w.org, user=user, email=user.email, role="analyst")


def _invitation_answer(w, make):
    user, invitation = _invitation(w, make)
    w.client.force_login(user)
    return lambda: w.client.post(reverse("invitation-answer", args=[invitation.pk]), {"decision": "accept"})


def _invitation_withdraw(w, make):
    _user, invitation = _invitation(w, make)
    return lambda: w.client.post(reverse("settings-invitation-withdraw", args=[invitation.pk]))


def _finding(w):
    from django.utils import timezone

    from billing.models import BillFinding

    now = timezone.now()
    line = w.statement.lines.exclude(line=None).first().line
    return BillFinding.objects.create(
        organization=w.org,
        kind="idle_line",
        line=line,
        monthly_value=20,
        currency="EUR",
        first_found_at=now,
        last_found_at=now,
        details={"idle_days": 60, "last_usage": None, "plan": "flex-eur"},
    )


def _finding_status(w, make):
    finding = _finding(w)
    return lambda: w.client.post(reverse("finding-status", args=[finding.pk]), {"status": "dismissed"})


def _report(w):
    from billing.audit import Actor
    from portal.reports.services import report_schedule

    return report_schedule(
        owner=w.admin,
        name="Findings",
        kind="findings",
        frequency="monthly",
        recipients=[w.admin, w.analyst],
        actor=Actor(user=w.admin.user),
    )


def _report_remove(w, make):
    report = _report(w)
    return lambda: w.client.post(reverse("report-remove", args=[report.pk]))


def _report_unsubscribe(w, make):
    from portal.reports.services import unsubscribe_token

    token = unsubscribe_token(_report(w), w.analyst)
    w.client.logout()
    return lambda: w.client.post(reverse("report-unsubscribe", args=[token]))


def _mutation_budget(w, make):
    check = lambda: Budget.objects.filter(organization=w.org, location=None, person=None).count() == 1  # noqa: E731
    query = 'mutation { createBudget(amount: "250", thresholds: [80, 100]) { budget { id } errors { code message } } }'
    return query, {}, ["budgets:manage"], check


def _mutation_finding(w, make):
    from billing.models import BillFinding
    from portal.api.core.nodes import encode_id

    finding = _finding(w)
    check = lambda: BillFinding.objects.get(pk=finding.pk).status == "done"  # noqa: E731
    query = "mutation($id: ID!) { setFindingStatus(id: $id, status: DONE) { finding { status } errors { code } } }"
    return query, {"id": encode_id("BillFinding", finding.pk)}, ["findings:manage"], check
