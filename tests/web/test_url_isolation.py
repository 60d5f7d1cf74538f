"""Every portal URL that takes an id answers another organization's real id exactly like an id that never
existed, for every role (and for nobody signed in), and changes nothing.

The routes are found by walking Django's URL resolver: a new route with an id fails
``test_every_route_with_an_id_is_covered`` until it has an entry in ``ROUTES`` (how to find a foreign
object for it, which methods it answers). The Django admin is the provider's staff tool (staff see every
organization by design); a portal user, whatever the id, is sent to the admin's login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from billing.costcentres.services import allocation_rule_set, cost_centre_create
from billing.models import AllocationRule, BillFinding, CostCentre, Line, OfferRecommendation, Statement
from billing.offers.services import offers_compute
from billing.statements.pdf import statement_render
from portal.api.core.auth import token_create
from portal.models import ApiToken, Budget, ExportJob, Invitation, Membership, SavedView, ScheduledReport
from tests.offers.conftest import ISSUED_AT, catalog, consultancy, issue_periods  # noqa: F401 - fixture

MISSING = 987_654_321  # an id no object has


@dataclass
class Route:
    sample: str  # attribute of the Foreign objects whose pk goes into the URL
    model: type  # its model (to check it is unchanged after every request)
    methods: tuple[str, ...]  # what the view serves its owner (GET pages, POST actions); both are sent
    data: dict | None = None  # the form a POST sends
    owner_status: int = 200  # what the owner gets (GET) — shows the sample id is the right kind


# Every portal route with an object id in its path, and how to find another organization's object for it.
ROUTES = {
    "statement": Route("statement", Statement, ("GET", "POST"), {"reason": "Not our call"}),
    "statement-pdf": Route("statement", Statement, ("GET",)),
    "statement-calls-csv": Route("statement", Statement, ("GET",)),
    "statement-einvoice": Route("statement", Statement, ("GET",)),
    "settings-member": Route("member", Membership, ("GET", "POST"), {"role": "analyst"}),
    "settings-member-remove": Route("member", Membership, ("POST",)),
    "settings-token-revoke": Route("token", ApiToken, ("POST",)),
    "settings-budget-remove": Route("budget", Budget, ("POST",)),
    "offer-respond": Route("offer", OfferRecommendation, ("POST",), {"decision": "declined", "reason": "x"}),
    "saved-view-delete": Route("saved_view", SavedView, ("POST",)),
    "report-remove": Route("report", ScheduledReport, ("POST",)),
    # The unsubscribe link's token is signed: another organization's report, or a made-up one, is refused alike.
    "report-unsubscribe": Route("report_token", ScheduledReport, ("GET",), owner_status=404),
    "finding-status": Route("finding", BillFinding, ("POST",), {"status": "dismissed"}),
    "invitation-answer": Route("invitation_to_admin", Invitation, ("POST",), {"decision": "decline"}),
    "settings-invitation-withdraw": Route("invitation", Invitation, ("POST",)),
    "export-job": Route("export", ExportJob, ("GET",)),
    "export-status": Route("export", ExportJob, ("GET",)),
    "export-download": Route("export", ExportJob, ("GET",)),
    "statement-chargeback": Route("statement", Statement, ("GET",)),
    "statement-journal": Route("statement", Statement, ("GET",)),
    "cost-centre": Route("cost_centre", CostCentre, ("GET", "POST"), {"name": "Mine", "active": "on"}),
    "allocation-rule-end": Route("allocation_rule", AllocationRule, ("POST",), {"valid_to": "2026-12-01"}),
    # Django's set-password link: the id is a user's (base64); without a valid token it is refused alike.
    "password_reset_confirm": Route("user_uid", Membership, ("GET",)),
}
ROLES = ("admin", "analyst", "location_manager", "member", None)  # None: nobody signed in


def portal_routes_with_ids(resolver=None, prefix="") -> dict[str, str]:
    """name -> route of every URL pattern with a path converter, outside the Django admin."""
    out = {}
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            out.update(portal_routes_with_ids(entry, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern) and entry.pattern.converters:
            out[entry.name] = prefix + str(entry.pattern)
    return out


def admin_routes_with_ids() -> list[str]:
    admin = next(e for e in get_resolver().url_patterns if isinstance(e, URLResolver) and e.namespace == "admin")
    found = []

    def walk(resolver, prefix):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                walk(entry, prefix + str(entry.pattern))
            elif str(entry.pattern).count("<") == 1 and "<path:object_id>" in str(entry.pattern):
                found.append(prefix + str(entry.pattern))

    walk(admin, "/" + str(admin.pattern))
    return found


def test_every_route_with_an_id_is_covered():
    routes = portal_routes_with_ids()
    assert len(routes) >= 13  # the walk finds the portal's routes (a broken walk must not pass)
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, f"routes with an id and no isolation sample in ROUTES: {missing}"
    assert not set(ROUTES) - set(routes), "ROUTES names a route that no longer exists"


class Foreign:
    """Another organization with one real object of every kind a URL can name, owned by its admin."""

    @classmethod
    def build(cls, make, plans, settings, tmp_path):
        self = cls.__new__(cls)
        settings.MEDIA_ROOT = str(tmp_path / "media")
        self.org = consultancy(make, plans, name="Foreign B.V.")
        statements = issue_periods(self.org)
        self.statement = statements[-1]
        statement_render(statement=self.statement)
        run = offers_compute(organization=self.org, statement=self.statement, now=ISSUED_AT)
        self.offer = run.recommendations.order_by("rank").first()
        assert self.offer is not None
        self.admin = make.membership(make.user(email="their-admin@example.com"), self.org, role="admin")
        self.member = make.membership(make.user(email="their-analyst@example.com"), self.org, role="analyst")
        self.token, _raw = token_create(membership=self.admin, name="theirs", scopes=["usage:read"])
        self.budget = Budget.objects.create(organization=self.org, amount=10, thresholds=[100])
        line = self.statement.lines.exclude(line=None).first().line
        self.finding = BillFinding.objects.create(
            organization=self.org,
            kind="idle_line",
            line=line,
            monthly_value=20,
            currency=self.org.currency,
            first_found_at=datetime(2026, 11, 3, tzinfo=UTC),
            last_found_at=datetime(2026, 11, 3, tzinfo=UTC),
            details={"idle_days": 60, "last_usage": None, "plan": "x"},
        )
        from billing.audit import Actor
        from portal.reports.services import report_schedule

        self.report = report_schedule(
            owner=self.admin,
            name="Theirs",
            kind="findings",
            frequency="monthly",
            recipients=[self.admin],
            actor=Actor(user=self.admin.user),
        )
        self.report_token = self.report
        # A signed token pairing their report with a member of yet another organization: refused like one
        # for a report that does not exist (a valid link of their own member is that member's credential).
        self.outsider = make.membership(make.user(email="outsider@example.com"), make.organization(), role="admin")
        invited = make.user(email="their-invitee@example.com")
        self.invitation = Invitation.objects.create(
            organization=self.org, user=invited, email=invited.email, role="analyst", invited_by=self.admin.user
        )
        # Answered by the invited user only: here their administrator, invited to a third organization.
        self.invitation_to_admin = Invitation.objects.create(
            organization=make.organization(name="Third Ltd"),
            user=self.admin.user,
            email="x@example.com",
            role="analyst",
        )
        self.saved_view = SavedView.objects.create(
            user=self.admin.user, organization=self.org, name="Theirs", query="period=last_month"
        )
        folder = tmp_path / "media" / "exports" / str(self.org.pk)
        folder.mkdir(parents=True)
        (folder / "job.csv").write_text("Date,Number\n2026-10-01,+4930123456\n")
        self.export = ExportJob.objects.create(
            organization=self.org,
            membership=self.admin,
            kind="usage_records",
            status=ExportJob.Status.READY,
            rows_done=1,
            rows_total=1,
            file=f"{self.org.pk}/job.csv",
            params={"start": ["2026-10-01"], "end": ["2026-10-31"]},
            finished_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        self.cost_centre = cost_centre_create(organization=self.org, code="THEIRS", name="Theirs")
        self.allocation_rule = allocation_rule_set(
            organization=self.org,
            target=Line.objects.filter(organization=self.org).first(),
            valid_from=datetime(2026, 1, 1).date(),
            shares=[(self.cost_centre, 100)],
        )
        self.user_uid = self.admin  # the URL takes the user's id in base64, below
        return self

    def url(self, name: str, pk) -> str:
        if name == "password_reset_confirm":
            uid = urlsafe_base64_encode(force_bytes(pk))
            return reverse(name, kwargs={"uidb64": uid, "token": "ccccc-0123456789abcdef0123456789abcdef"})
        if name == "report-unsubscribe":
            from django.core import signing

            from portal.reports.services import UNSUBSCRIBE_SALT

            token = signing.dumps({"r": pk, "m": self.outsider.pk}, salt=UNSUBSCRIBE_SALT, compress=True)
            return reverse(name, kwargs={"token": token})
        (param,) = re.findall(r"<int:(\w+)>", portal_routes_with_ids()[name])
        return reverse(name, kwargs={param: pk})

    def pk(self, name: str) -> int:
        sample = getattr(self, ROUTES[name].sample)
        return sample.user_id if name == "password_reset_confirm" else sample.pk


def _snapshot(route: Route, obj) -> dict | None:
    row = route.model.objects.filter(pk=obj.pk).first()
    return model_to_dict(row) if row is not None else None


def _answer(response, url: str) -> tuple:
    """Status, where it redirects and the body, with the URL asked for taken out (a page may echo it,
    e.g. in a sign-in link's ``next``)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    location = response.get("Location", "")
    for form in (quote(url, safe=""), quote(url), url):
        body = body.replace(form.encode(), b"<url>")
        location = location.replace(form, "<url>")
    body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)
    return response.status_code, location, body


@pytest.fixture
def foreign(make, catalog, settings, tmp_path):  # noqa: F811 - the catalog fixture
    return Foreign.build(make, catalog, settings, tmp_path)


def _own_client(make, role):
    client = Client()
    if role is None:
        return client
    org = make.organization()
    kw = {}
    if role == "member":
        kw["person"] = make.person(org)
    membership = make.membership(make.user(), org, role=role, **kw)
    if role == "location_manager":
        membership.locations.set([make.location(org)])
    client.force_login(membership.user)
    return client


@pytest.mark.slow
def test_another_organizations_ids_answer_like_missing_ones(make, foreign):
    insider = Client()
    insider.force_login(foreign.admin.user)
    # The samples are real and of the right kind: their owner gets the page (GET) — see the end for POSTs.
    for name, route in ROUTES.items():
        if "GET" in route.methods and name != "password_reset_confirm":
            response = insider.get(foreign.url(name, foreign.pk(name)))
            assert response.status_code == route.owner_status, (name, response.status_code)

    for role in ROLES:
        client = _own_client(make, role)
        for name, route in ROUTES.items():
            sample = getattr(foreign, route.sample)
            before = _snapshot(route, sample)
            real, missing = foreign.pk(name), MISSING
            for method in ("GET", "POST"):  # whatever the view answers for its owner
                send = client.get if method == "GET" else client.post
                data = route.data if method == "POST" else None
                their_url, missing_url = foreign.url(name, real), foreign.url(name, missing)
                theirs, nothing = send(their_url, data), send(missing_url, data)
                # Exactly the same answer: status, redirect, body (with the URL itself taken out).
                assert _answer(theirs, their_url) == _answer(nothing, missing_url), (role, name, method)
                assert theirs.status_code in {302, 401, 403, 404, 405} or name == "password_reset_confirm", (
                    role,
                    name,
                    method,
                    theirs.status_code,
                )
                if theirs.status_code == 200:  # only the refused set-password page may answer 200
                    assert b"Foreign B.V." not in theirs.content
            assert _snapshot(route, sample) == before, (role, name, "changed another organization's object")

    # Their owner's POSTs do reach the object (not a 404): the ids were the ones these views act on.
    for name, route in ROUTES.items():
        if route.methods == ("POST",):
            response = insider.post(foreign.url(name, foreign.pk(name)), route.data)
            assert response.status_code in {200, 302}, (name, response.status_code)


@pytest.mark.slow
def test_admin_urls_with_an_object_id_send_portal_users_to_the_admin_login(make, foreign):
    routes = admin_routes_with_ids()
    assert len(routes) >= 10
    client = _own_client(make, "admin")
    pk = foreign.statement.pk
    for route in routes:
        for value in (pk, MISSING):
            url = route.replace("<path:object_id>", str(value)).replace("^", "").replace("$", "")
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (url, response.status_code)
