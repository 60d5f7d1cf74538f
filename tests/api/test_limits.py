"""Abusive or malformed requests are refused before execution, with a stable code and no SQL."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.api.core import limits


def refused(api_client, query, code, variables=None, status=400):
    """Assert the refusal, and that nothing but authentication touched the database."""
    with CaptureQueriesContext(connection) as ctx:
        got_status, body = api_client.post(query, variables)
    assert got_status == status, body
    assert body["errors"][0]["extensions"]["code"] == code, body
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any("billing_usage" in s or "billing_location" in s for s in sql), sql
    return body["errors"][0]


@pytest.fixture
def client_api(acme, api, token_for):
    return api(token_for(acme))


def test_connection_without_first_is_refused(client_api):
    error = refused(
        client_api,
        '{ usageRecords(period: {from: "2026-10-01", to: "2026-10-31"}) { edges { node { id } } } }',
        "PAGINATION_FIRST_REQUIRED",
    )
    assert "first" in error["message"]


def test_huge_first_is_refused(client_api):
    error = refused(
        client_api,
        '{ usageRecords(period: {from: "2026-10-01", to: "2026-10-31"}, first: 100000) { edges { node { id } } } }',
        "PAGE_TOO_LARGE",
    )
    assert "between 1 and 100" in error["message"]


def test_huge_first_in_a_variable_is_refused(client_api):
    refused(
        client_api,
        "query ($n: Int) { viewer { organization { lines(first: $n) { edges { node { id } } } } } }",
        "PAGE_TOO_LARGE",
        {"n": 5000},
    )


def test_deep_nesting_is_refused(client_api):
    depth_bomb = "{ viewer { organization { " + "lines(first: 1) { edges { node { " * 4 + "id" + " } } }" * 4 + " } } }"
    error = refused(client_api, depth_bomb, "QUERY_TOO_DEEP")
    assert f"deeper than {limits.MAX_DEPTH}" in error["message"]


def test_thousands_of_aliases_are_refused(client_api):
    query = "{" + "".join(f"a{i}:viewer{{role}}" for i in range(500)) + "}"
    error = refused(client_api, query, "TOO_MANY_ALIASES")
    assert str(limits.MAX_ALIASES) in error["message"]
    # Thousands do not even get parsed: the token limit stops them first.
    query = "{" + "".join(f"a{i}:viewer{{role}}" for i in range(3000)) + "}"
    error = refused(client_api, query.replace("viewer{role}", "viewer{role}")[:19_000] + "}", "QUERY_TOO_LARGE")
    assert "5000 tokens" in error["message"]


def test_fragment_cycles_are_refused(client_api):
    query = "query { viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { role ...A }"
    refused(client_api, query, "GRAPHQL_VALIDATION_FAILED")


def test_batched_operations_are_refused(acme, client, token_for):
    token = token_for(acme)
    body = json.dumps([{"query": "{ viewer { role } }"}, {"query": "{ viewer { role } }"}])
    response = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BATCH_NOT_SUPPORTED"


def test_non_json_content_type_and_oversized_bodies(acme, client, token_for):
    token = token_for(acme)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.post("/graphql/", {"query": "{ viewer { role } }"}, **auth)  # form-encoded
    assert (
        response.status_code == 415 and response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_CONTENT_TYPE"
    )
    big = json.dumps({"query": "{ viewer { role } }", "variables": {"x": "y" * 200_000}})
    response = client.post("/graphql/", big, content_type="application/json", **auth)
    assert response.status_code == 413 and response.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    response = client.post("/graphql/", "{not json", content_type="application/json", **auth)
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_mutations_are_refused_over_get(acme, client, token_for):
    token = token_for(acme)
    response = client.get("/graphql/", {"query": "mutation { x }"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405 and response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_unauthenticated_revoked_and_expired_tokens(acme, api, token_for):
    from django.utils import timezone

    from portal.models import ApiToken

    status, body = api().post("{ viewer { role } }")
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    status, body = api("bp_not-a-real-token").post("{ viewer { role } }")
    assert status == 401
    token = token_for(acme)
    ApiToken.objects.update(revoked_at=timezone.now())
    assert api(token).post("{ viewer { role } }")[0] == 401
    token = token_for(acme)
    ApiToken.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now())
    assert api(token).post("{ viewer { role } }")[0] == 401


def test_session_callers_need_csrf(acme, make):
    from django.test import Client

    user = make.user("carol")
    make.membership(user, acme, role="analyst")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    body = json.dumps({"query": "{ viewer { role } }"})
    response = browser.post("/graphql/", body, content_type="application/json")
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    browser.get("/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post("/graphql/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["data"]["viewer"]["role"] == "ANALYST"


def test_rate_limit_in_cost_points(acme, api, token_for, settings, monkeypatch):
    from portal.api.core import view

    monkeypatch.setattr(view, "RATE_LIMIT_POINTS", 25)
    client_api = api(token_for(acme))
    query = '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATION]) { totals { calls } } }'
    status, body = client_api.post(query)
    assert status == 200
    budget = body["extensions"]["cost"]
    assert budget["limit"] == 25 and budget["remaining"] == 25 - budget["requestedQueryCost"]
    statuses = [client_api.post(query)[0] for _ in range(25 // budget["requestedQueryCost"] + 1)]
    assert statuses[-1] == 429 and statuses.count(200) == 25 // budget["requestedQueryCost"] - 1
    status, body = client_api.post(query)
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED" and "per minute" in body["errors"][0]["message"]
    response = client_api.client.post(
        "/graphql/",
        json.dumps({"query": query}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {client_api.token}",
    )
    assert response.status_code == 429
    assert (
        1 <= int(response["Retry-After"]) <= 61
        and f"retry after {response['Retry-After']} s" in response.json()["errors"][0]["message"]
    )


def test_introspection_can_be_switched_off(client_api, settings):
    assert client_api.post("{ __schema { types { name } } }")[0] == 200
    settings.GRAPHQL_INTROSPECTION = False
    refused(client_api, "{ __schema { types { name } } }", "INTROSPECTION_DISABLED")
    refused(
        client_api, 'query { ...F } fragment F on Query { __type(name: "Viewer") { name } }', "INTROSPECTION_DISABLED"
    )


@pytest.mark.parametrize(
    "arguments, code, needle",
    [
        ('period: {from: "2026-10-31", to: "2026-10-01"}, groupBy: [DAY]', "BAD_ARGUMENT", "after it ends"),
        ('period: {from: "2020-01-01", to: "2026-10-01"}, groupBy: [DAY]', "PERIOD_TOO_LONG", "at most 732"),
        (
            'period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [DAY], filter: {locations: ["nope"]}',
            "BAD_ID",
            "filter.locations",
        ),
        (
            'period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [DAY], filter: {hours: [99]}',
            "BAD_ARGUMENT",
            "0–23",
        ),
        (
            'period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [NOT_A_DIMENSION]',
            "GRAPHQL_VALIDATION_FAILED",
            "NOT_A_DIMENSION",
        ),
    ],
)
def test_bad_arguments_get_clear_errors_never_500(client_api, arguments, code, needle):
    status, body = client_api.post(f"{{ usageSummary({arguments}) {{ totals {{ calls }} }} }}")
    assert status in (200, 400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == code and needle in error["message"], error


def test_malformed_node_id(client_api):
    status, body = client_api.post('{ node(id: "%%%") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_ID"


def test_graphiql_is_served_from_our_origin_and_can_be_switched_off(client, db, settings):
    from django.contrib.staticfiles import finders

    settings.GRAPHIQL = True
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b'id="graphiql"' in page.content
    assert b"cdn." not in page.content and b"https://" not in page.content
    for asset in ("vendor/graphiql-3.8.3/graphiql.min.js", "vendor/react-18.3.1/react.production.min.js"):
        assert asset.encode() in page.content and finders.find(asset)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    settings.GRAPHIQL = False
    refused = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert refused.status_code in (400, 401) and refused.json()["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize(
    "query, variables",
    [
        ("{ viewr { role } }", None),  # a field
        ("{ viewer { rol } }", None),
        ('{ statement(numbr: "x") { id } }', None),  # an argument
        ("query($p: PeriodInpt!) { viewer { role } }", {"p": {}}),  # a type
        ('{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATON]) { groupCount } }', None),
        (
            'query($g: [UsageDimension!]!) { usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, '
            "groupBy: $g) { groupCount } }",
            {"g": ["LOCATON"]},
        ),  # an enum value in a variable
        ('{ usageSummary(period: {from: "2026-10-01", too: "2026-10-31"}, groupBy: [LOCATION]) { groupCount } }', None),
    ],
)
def test_no_field_suggestions_while_introspection_is_off(client_api, settings, query, variables):
    settings.GRAPHQL_INTROSPECTION = True
    _status, body = client_api.post(query, variables)
    assert "Did you mean" in str(body), body  # the case does trigger a suggestion
    settings.GRAPHQL_INTROSPECTION = False
    status, body = client_api.post(query, variables)
    assert status == 400 and body["errors"], body
    assert "Did you mean" not in str(body), body
    assert all(e["message"] and e["extensions"]["code"] for e in body["errors"])
