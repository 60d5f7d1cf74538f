"""Every write a person can make, in the browser or over the API, leaves exactly one audit row, written in the
same transaction as the write (``billing.audit.audit_write``).

The POST views are found by walking Django's URL resolver and the mutations by reading the GraphQL schema: a
new route or mutation fails ``test_every_route_is_classified`` / ``test_every_mutation_is_covered`` until it has
a scenario here (or, for a route, a reason why it writes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.audit import AuditAction, audit_write
from billing.models import AuditLog, Dispute, OfferResponse
from portal.account import set_password_url
from portal.api.core.auth import token_create
from portal.api.schema import schema
from portal.models import Budget, Membership, SavedView
from tests.web.write_scenarios import (
    _finding_status,
    _invitation_answer,
    _invitation_withdraw,
    _mutation_budget,
    _mutation_finding,
    _report_remove,
    _report_unsubscribe,
)

PASSWORD = "correct horse battery staple"


def portal_route_names(resolver=None) -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace != "admin":
                names |= portal_route_names(entry)
        elif isinstance(entry, URLPattern):
            names.add(entry.name)
    return names


# Routes that write nothing a person could be asked about, and why.
NO_WRITE = {
    "home": "a page",
    "statements": "a page",
    "settings": "a page",
    "settings-token-created": "a page (shows the new token once; the creation was audited)",
    "privacy": "a page",
    "offers-privacy": "a page",
    "usage": "a page",
    "usage-records": "a page",
    "usage-pivot": "a page",
    "usage-forecast": "a page",
    "usage-anomalies": "a page",
    "usage-pivot-export": "a download: audited as a read (export.usage_pivot), tests/web/test_analysis_pages.py",
    "statement-pdf": "a download: audited as a read (statement.pdf_downloaded), tests/api/test_statements_api.py",
    "statement-calls-csv": "a download: audited as a read (statement.calls_exported)",
    "statement-einvoice": "a download: audited as a read (statement.einvoice_downloaded), tests/einvoice",
    "usage-export": "a download: audited as a read (export.usage_summary), tests/web/test_usage_pages.py",
    "usage-records-export": "a download or a queued export job: audited (export.usage_records[_queued])",
    "export-job": "a page",
    "export-status": "a progress poll",
    "export-download": "a download: audited as a read (export.download)",
    "switch-organization": "changes only the session's acting organization",
    "password_reset": "sends an email with a link, writes no row (the password change is audited)",
    "password_reset_done": "a page",
    "password_reset_complete": "a page",
    "healthz": "a probe",
    "statement-chargeback": "a page",
    "statement-journal": "a download: audited as a read (export.journal), tests/costcentres",
    "graphql": "its mutations are walked by test_every_mutation_is_covered",
    "budgets": "a page (read only; budgets are added under settings-budgets)",
    "findings": "a page",
}


@dataclass
class World:
    client: Client
    admin: Membership
    org: object
    statement: object
    analyst: Membership


@pytest.fixture
def world(client, make, issued):
    org = issued.organization
    admin = make.membership(make.user(email="boss@example.com"), org, role="admin")
    analyst = make.membership(make.user(email="numbers@example.com"), org, role="analyst")
    client.force_login(admin.user)
    return World(client=client, admin=admin, org=org, statement=issued, analyst=analyst)


def _login(w: World):
    w.client.logout()
    return lambda: w.client.post(reverse("login"), {"username": w.admin.user.username, "password": PASSWORD})


def _password_set(w: World):
    w.client.logout()
    link = set_password_url(w.analyst.user, base_url="http://testserver")
    form_url = w.client.get(link).url  # Django swaps the token for a session marker and redirects
    new = "a long new passphrase 42"
    return lambda: w.client.post(form_url, {"new_password1": new, "new_password2": new})


def _token_revoke(w: World):
    token, _raw = token_create(membership=w.admin, name="ERP", scopes=["usage:read"])
    return lambda: w.client.post(reverse("settings-token-revoke", args=[token.pk]))


def _budget_remove(w: World):
    budget = Budget.objects.create(organization=w.org, amount=10, thresholds=[100])
    return lambda: w.client.post(reverse("settings-budget-remove", args=[budget.pk]))


def _offer_respond(w: World, make):
    rec = make.offer_recommendation(w.org)
    return lambda: w.client.post(reverse("offer-respond", args=[rec.pk]), {"decision": "declined", "reason": "no"})


def _saved_view_delete(w: World):
    view = SavedView.objects.create(user=w.admin.user, organization=w.org, name="Mine", query="period=last_month")
    return lambda: w.client.post(reverse("saved-view-delete", args=[view.pk]))


def _cost_centre(w: World, code="CC1"):
    from billing.costcentres.services import cost_centre_create

    return cost_centre_create(organization=w.org, code=code, name="Sales")


def _rule_end(w: World):
    from datetime import date

    from billing.costcentres.services import allocation_rule_set

    line = w.statement.lines.exclude(line=None).first().line
    rule = allocation_rule_set(
        organization=w.org, target=line, valid_from=date(2026, 10, 1), shares=[(_cost_centre(w), 100)]
    )
    return lambda: w.client.post(reverse("allocation-rule-end", args=[rule.pk]), {"valid_to": "2026-12-01"})


def _rule_set(w: World):
    centre, line = _cost_centre(w), w.statement.lines.exclude(line=None).first().line
    data = {"target_kind": "line", "line": line.pk, "valid_from": "2026-10-01", "cost_centre_1": centre.pk}
    return lambda: w.client.post(reverse("allocation-rule-set"), {**data, "percent_1": "100"})


# route name -> (prepare(world, make) returning the request to make, the action it must record, the row it made)
WRITES = {
    "login": (lambda w, m: _login(w), AuditAction.LOGIN),
    "logout": (lambda w, m: lambda: w.client.post(reverse("logout")), AuditAction.LOGOUT),
    "password_reset_confirm": (lambda w, m: _password_set(w), AuditAction.PASSWORD_SET),
    "statement": (
        lambda w, m: (
            lambda: w.client.post(
                reverse("statement", args=[w.statement.pk]),
                {"line": w.statement.lines.first().pk, "reason": "Not ours"},
            )
        ),
        AuditAction.DISPUTE_OPENED,
    ),
    "settings-members": (
        lambda w, m: (
            lambda: w.client.post(reverse("settings-members"), {"email": "new@example.com", "role": "analyst"})
        ),
        AuditAction.MEMBER_INVITED,
    ),
    "settings-member": (
        lambda w, m: lambda: w.client.post(reverse("settings-member", args=[w.analyst.pk]), {"role": "admin"}),
        AuditAction.MEMBER_ROLE_CHANGED,
    ),
    "settings-member-remove": (
        lambda w, m: lambda: w.client.post(reverse("settings-member-remove", args=[w.analyst.pk])),
        AuditAction.MEMBER_REMOVED,
    ),
    "settings-tokens": (
        lambda w, m: (
            lambda: w.client.post(reverse("settings-tokens"), {"name": "ERP", "scopes": ["usage:read"], "expiry": "90"})
        ),
        AuditAction.TOKEN_CREATED,
    ),
    "settings-token-revoke": (lambda w, m: _token_revoke(w), AuditAction.TOKEN_REVOKED),
    "settings-consent": (
        lambda w, m: lambda: w.client.post(reverse("settings-consent"), {"consent": "on"}),
        AuditAction.CONSENT_CHANGED,
    ),
    "settings-einvoice": (
        lambda w, m: (
            lambda: w.client.post(
                reverse("settings-einvoice"),
                {
                    "einvoice_format": "peppol",
                    "buyer_reference": "PO-1",
                    "vat_id": "",
                    "einvoice_address": "0208:0123456789",
                },
            )
        ),
        AuditAction.EINVOICE_SETTINGS_CHANGED,
    ),
    "settings-budgets": (
        lambda w, m: (
            lambda: w.client.post(
                reverse("settings-budgets"), {"applies_to": "organization", "amount": "100", "thresholds": "80, 100"}
            )
        ),
        AuditAction.BUDGET_CREATED,
    ),
    "settings-budget-remove": (lambda w, m: _budget_remove(w), AuditAction.BUDGET_DELETED),
    "offer-respond": (_offer_respond, AuditAction.OFFER_DECLINED),
    "invitation-answer": (_invitation_answer, AuditAction.INVITATION_ACCEPTED),
    "finding-status": (_finding_status, AuditAction.FINDING_STATUS_CHANGED),
    "reports": (
        lambda w, m: (
            lambda: w.client.post(
                reverse("reports"),
                {
                    "name": "F",
                    "what": "findings:",
                    "file_format": "csv",
                    "frequency": "monthly",
                    "channel": "email",
                    "recipients": [w.admin.pk],
                },
            )
        ),
        AuditAction.REPORT_SCHEDULED,
    ),
    "report-remove": (_report_remove, AuditAction.REPORT_UNSCHEDULED),
    "report-unsubscribe": (_report_unsubscribe, AuditAction.REPORT_UNSUBSCRIBED),
    "settings-invitation-withdraw": (_invitation_withdraw, AuditAction.INVITATION_REVOKED),
    "saved-view-create": (
        lambda w, m: (
            lambda: w.client.post(reverse("saved-view-create"), {"name": "Mine", "query": "period=last_month"})
        ),
        AuditAction.SAVED_VIEW_CREATED,
    ),
    "saved-view-delete": (lambda w, m: _saved_view_delete(w), AuditAction.SAVED_VIEW_DELETED),
    "cost-centres": (
        lambda w, m: lambda: w.client.post(reverse("cost-centres"), {"code": "4100", "name": "Sales"}),
        AuditAction.COST_CENTRE_CREATED,
    ),
    "cost-centre": (
        lambda w, m: (
            lambda c: lambda: w.client.post(reverse("cost-centre", args=[c.pk]), {"name": "Sales DE", "active": "on"})
        )(_cost_centre(w)),
        AuditAction.COST_CENTRE_CHANGED,
    ),
    "allocation-rule-set": (lambda w, m: _rule_set(w), AuditAction.ALLOCATION_RULE_SET),
    "allocation-rule-end": (lambda w, m: _rule_end(w), AuditAction.ALLOCATION_RULE_ENDED),
    "journal-settings": (
        lambda w, m: (
            lambda: w.client.post(
                reverse("journal-settings"),
                {"journal_format": "csv", "datev_fiscal_year_start_month": "1", "datev_account_length": "4"},
            )
        ),
        AuditAction.JOURNAL_SETTINGS_CHANGED,
    ),
    "usage-anomaly-alerts": (
        lambda w, m: lambda: w.client.post(reverse("usage-anomaly-alerts"), {"email": "on", "min_excess": "10"}),
        AuditAction.ANOMALY_ALERTS_CHANGED,
    ),
}


def test_every_route_is_classified():
    routes = portal_route_names()
    assert len(routes) >= 30  # the walk finds the portal's routes (a broken walk must not pass)
    unclassified = sorted(routes - set(WRITES) - set(NO_WRITE))
    assert not unclassified, (
        f"routes neither in WRITES (with a scenario) nor in NO_WRITE (with a reason): {unclassified}"
    )
    assert not (set(WRITES) | set(NO_WRITE)) - routes, "a route named here no longer exists"
    assert not set(WRITES) & set(NO_WRITE)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_each_post_view_writes_exactly_one_audit_row(world, make, name, django_capture_on_commit_callbacks):
    prepare, action = WRITES[name]
    send = prepare(world, make)
    before = set(AuditLog.objects.values_list("id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = send()
    assert response.status_code == 302, (name, response.status_code, response.content[:500])
    new = list(AuditLog.objects.exclude(id__in=before).values_list("action", flat=True))
    assert new == [action.value], name


# --- GraphQL ----------------------------------------------------------------------------------------------

DISPUTE = """mutation($n: String!, $p: Int!) { disputeStatementLine(number: $n, linePosition: $p, reason: "Not ours")
  { dispute { linePosition status } errors { code message } } }"""
RESPOND = """mutation($id: ID!) { respondToOffer(offerId: $id, decision: DECLINE, reason: "no")
  { offer { status } errors { code message } } }"""
WEBHOOK = """mutation { registerWebhook(url: "https://erp.example.com/hook", events: ["statement.issued"])
  { endpoint { id } errors { code message } } }"""


def _mutation_dispute(w, make):
    line = w.statement.lines.order_by("position").first()
    check = lambda: Dispute.objects.filter(line=line).count() == 1  # noqa: E731
    return DISPUTE, {"n": w.statement.number, "p": line.position}, ["statements:read", "statements:dispute"], check


def _mutation_respond(w, make):
    from portal.api.core.nodes import encode_id

    rec = make.offer_recommendation(w.org)
    check = lambda: OfferResponse.objects.filter(recommendation=rec, decision="declined").exists()  # noqa: E731
    return RESPOND, {"id": encode_id("Offer", rec.pk)}, ["offers"], check


def _mutation_webhook(w, make):
    check = lambda: w.org.webhook_endpoints.count() == 1  # noqa: E731
    return WEBHOOK, {}, ["webhooks:manage"], check


MUTATIONS = {
    "createBudget": (_mutation_budget, AuditAction.BUDGET_CREATED),
    "setFindingStatus": (_mutation_finding, AuditAction.FINDING_STATUS_CHANGED),
    "disputeStatementLine": (_mutation_dispute, AuditAction.DISPUTE_OPENED),
    "respondToOffer": (_mutation_respond, AuditAction.OFFER_DECLINED),
    "registerWebhook": (_mutation_webhook, AuditAction.WEBHOOK_REGISTERED),
}


def test_every_mutation_is_covered():
    names = set(schema.graphql_schema.mutation_type.fields)
    assert names, "the schema has no mutations: the walk is broken"
    assert names == set(MUTATIONS), f"mutations without an audit scenario: {sorted(names - set(MUTATIONS))}"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_writes_exactly_one_audit_row(world, make, api, name, settings, monkeypatch):
    settings.DEBUG = True  # registerWebhook's https rule is the same either way; DEBUG only allows http://localhost
    # Registration resolves the host (tests/api/test_webhook_destinations.py): no DNS from the tests.
    monkeypatch.setattr("billing.webhooks.resolve_addresses", lambda host, port: ["93.184.215.14"])
    prepare, action = MUTATIONS[name]
    query, variables, scopes, written = prepare(world, make)
    _token, raw = token_create(membership=world.admin, name="integration", scopes=scopes)
    client = api(raw)
    client.data("{ viewer { role } }")  # the token's first use is audited (token.used) before the write
    before = set(AuditLog.objects.values_list("id", flat=True))
    data = client.data(query, variables)
    assert data[name]["errors"] == [], data
    assert written()
    new = list(AuditLog.objects.exclude(id__in=before).values("action", "token_id", "user_id"))
    assert new == [{"action": action.value, "token_id": _token.pk, "user_id": world.admin.user_id}], name


def test_a_refused_write_leaves_no_audit_row(world, api):
    """The audit row is in the write's transaction: a dispute the service refuses records nothing."""
    _token, raw = token_create(membership=world.admin, name="i", scopes=["statements:read", "statements:dispute"])
    client = api(raw)
    client.data("{ viewer { role } }")
    before = AuditLog.objects.count()
    data = client.data(
        'mutation($n: String!) { disputeStatementLine(number: $n, linePosition: 1, reason: "  ") { errors { code } } }',
        {"n": world.statement.number},
    )
    assert data["disputeStatementLine"]["errors"] == [{"code": "BAD_ARGUMENT"}]
    assert AuditLog.objects.count() == before


def test_audit_write_refuses_an_action_type_nobody_enumerated(world):
    with pytest.raises(ValueError):
        audit_write(organization=world.org, action="statement.shredded")
    row = audit_write(organization=world.org, action=AuditAction.IMPORT_VOIDED, target="batch 7", details={"n": 3})
    assert (row.action, row.target, row.details, row.user_id, row.token_id) == (
        "import.voided",
        "batch 7",
        {"n": 3},
        None,
        None,
    )


def test_the_audit_log_is_still_append_only(world):
    from django.db import DatabaseError, transaction

    row = audit_write(organization=world.org, action=AuditAction.CONSENT_CHANGED)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).update(target="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).delete()
    assert AuditLog.objects.get(pk=row.pk).target == ""
