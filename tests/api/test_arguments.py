"""Every argument is checked in one place (portal/api/core/arguments.py) before any resolver runs:
what an integrator can send — explicit nulls, pages over the cap, negative offsets, NUL characters,
integers out of range — is refused with a stable code and the argument's name, never an internal error."""

import pytest

from portal.api.core import limits

PERIOD = '{from: "2026-10-01", to: "2026-10-31"}'


@pytest.fixture
def admin_api(acme, api, token_for):
    return api(
        token_for(
            acme,
            role="admin",
            scopes=("usage:read", "statements:read", "statements:dispute", "offers", "webhooks:manage"),
        )
    )


def refusal(api_client, query, variables=None):
    status, body = api_client.post(query, variables)
    assert status < 500, body
    errors = body.get("errors")
    assert errors, body
    codes = {e["extensions"]["code"] for e in errors}
    assert "INTERNAL_ERROR" not in codes, body
    return status, errors[0]


@pytest.mark.parametrize(
    "query",
    [
        f"{{ usageRecords(period: {PERIOD}, first: 5, descending: null) {{ edges {{ node {{ id }} }} }} }}",
        f"{{ usageRecords(period: {PERIOD}, first: 5, orderBy: null) {{ edges {{ node {{ id }} }} }} }}",
        f"{{ usageSummary(period: {PERIOD}, groupBy: [LOCATION], descending: null) {{ groupCount }} }}",
        f"{{ usageSummary(period: {PERIOD}, groupBy: [LOCATION], comparePrevious: null) {{ groupCount }} }}",
    ],
)
def test_explicit_null_for_an_argument_with_a_default_is_refused(admin_api, query):
    _status, error = refusal(admin_api, query)
    assert error["extensions"]["code"] == "BAD_ARGUMENT"
    assert "null" in error["message"]
    assert error["extensions"]["field"] in {"descending", "orderBy", "comparePrevious"}


def test_explicit_null_through_a_variable_is_refused(admin_api):
    query = f"query($d: Boolean) {{ usageRecords(period: {PERIOD}, first: 5, descending: $d) {{ edges {{ node {{ id }} }} }} }}"
    _status, error = refusal(admin_api, query, {"d": None})
    assert error["extensions"] == {"code": "BAD_ARGUMENT", "field": "descending"}
    assert error["message"] == "usageRecords: 'descending' may not be null; omit it for its default (true)"
    # A variable that is not given at all means the default.
    status, body = admin_api.post(query, {})
    assert status == 200 and "errors" not in body, body


@pytest.mark.parametrize(
    "field",
    [
        "statements",
        "viewer { organization { persons",
        "viewer { organization { lines",
        "viewer { organization { locations",
    ],
)
@pytest.mark.parametrize("args", ["last: 101", "first: 5, last: 500", "first: 500, last: 5", "last: 0", "first: -1"])
def test_page_sizes_over_the_cap_are_refused(admin_api, field, args):
    closing = " }" * field.count("{")
    query = f"{{ {field}({args}) {{ edges {{ node {{ id }} }} }}{closing} }}"
    status, error = refusal(admin_api, query)
    assert error["extensions"]["code"] == "PAGE_TOO_LARGE", error
    assert f"1 and {limits.MAX_PAGE}" in error["message"]


@pytest.mark.parametrize(
    "args, code",
    [
        ("first: 5, offset: -1", "BAD_ARGUMENT"),
        ('first: 5, offset: 2, before: "YXJyYXljb25uZWN0aW9uOjI="', "BAD_ARGUMENT"),
        ('first: 5, offset: 2, after: "YXJyYXljb25uZWN0aW9uOjI="', None),
        ('first: 5, offset: 2, after: "bm90IGEgY3Vyc29y"', "BAD_CURSOR"),
        ('first: 5, before: "not a cursor"', "BAD_CURSOR"),
        ("first: 5, offset: 2147483647", None),
    ],
)
def test_offsets_and_cursors(admin_api, args, code):
    query = f"{{ statements({args}) {{ edges {{ node {{ id }} }} }} viewer {{ organization {{ persons({args}) {{ edges {{ node {{ id }} }} }} }} }} }}"
    status, body = admin_api.post(query)
    assert status < 500, body
    if code is None:
        assert "errors" not in body, body
        assert body["data"]["statements"]["edges"] == []
    else:
        assert body["errors"][0]["extensions"]["code"] == code, body
        assert "INTERNAL_ERROR" not in str(body)


@pytest.mark.parametrize(
    "query, variables",
    [
        ("query($n: String!) { statement(number: $n) { id } }", {"n": "2026-\x00001"}),
        (
            'mutation($n: String!) { disputeStatementLine(number: $n, linePosition: 1, reason: "x") { errors { code } } }',
            {"n": "\x00"},
        ),
        (
            'mutation($r: String!) { disputeStatementLine(number: "2026-000001", linePosition: 1, reason: $r) { errors { code } } }',
            {"r": "wrong\x00"},
        ),
        (
            "query($c: [String!]) { usageSummary(period: "
            + PERIOD
            + ", groupBy: [LOCATION], filter: {countries: $c}) { groupCount } }",
            {"c": ["DE", "U\x00S"]},
        ),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "TGluZToxAA=="}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "\x00"}),
    ],
)
def test_nul_characters_are_refused_in_every_string_argument(admin_api, query, variables):
    _status, error = refusal(admin_api, query, variables)
    assert error["extensions"]["code"] in {"BAD_ARGUMENT", "BAD_ID"}, error


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 10**30, 1.5])
def test_integers_out_of_range_are_refused(admin_api, value):
    query = f"query($n: Int) {{ usageSummary(period: {PERIOD}, groupBy: [LOCATION], first: $n) {{ groupCount }} }}"
    status, error = refusal(admin_api, query, {"n": value})
    assert status == 400 and error["extensions"] == {"code": "BAD_ARGUMENT", "field": "n"}, error
    assert "Int cannot represent" in error["message"]
    if isinstance(value, int):
        inline = f"{{ usageSummary(period: {PERIOD}, groupBy: [LOCATION], first: {value}) {{ groupCount }} }}"
        status, error = refusal(admin_api, inline)
        assert status == 400 and error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error
