from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.api.core.nodes import encode_id
from portal.models import ApiToken, AuditLog

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}

BY_LOCATION = """
query ($period: PeriodInput!) {
  usageSummary(period: $period, groupBy: [LOCATION], orderBy: MINUTES) {
    rows { keys { dimension id label } metrics { calls minutes cost longestCallSeconds } }
    totals { calls minutes cost }
  }
}"""


def test_viewer_with_a_token(acme, api, token_for):
    token = token_for(acme, role="analyst", scopes=["usage:read"])
    data = api(token).data(
        "{ viewer { user { username } organization { name accountNumber timeZone } role tokenScopes } }"
    )
    assert data["viewer"]["organization"] == {
        "name": "ACME GmbH",
        "accountNumber": acme.account_number,
        "timeZone": "Europe/Berlin",
    }
    assert data["viewer"]["role"] == "ANALYST" and data["viewer"]["tokenScopes"] == ["USAGE_READ"]
    token_row = ApiToken.objects.get()
    assert token_row.last_used_at is not None and token.startswith("bp_")
    assert token_row.key_hash != token and token not in str(ApiToken.objects.values().get())  # stored hashed
    assert AuditLog.objects.filter(action="token.used", token=token_row).count() == 1


def test_usage_by_location_money_as_strings(acme, api, token_for):
    data = api(token_for(acme)).data(BY_LOCATION, {"period": OCTOBER})["usageSummary"]
    rows = data["rows"]
    assert [r["keys"][0]["label"] for r in rows] == ["Berlin office", "Munich office"]
    assert rows[0]["keys"][0]["id"] == encode_id("Location", acme.places["berlin"].id)
    # Berlin: Anna 120+240+360+480+600 s + Ben 4000 s + 30 s = 5830 s
    assert rows[0]["metrics"] == {"calls": 7, "minutes": "97.17", "cost": "5.830000", "longestCallSeconds": 4000}
    assert data["totals"] == {"calls": 10, "minutes": "127.17", "cost": "7.630000"}


def test_the_flat_table_carries_the_same_groups_as_rows(acme, api, token_for):
    data = api(token_for(acme)).data(
        """query ($period: PeriodInput!) { usageSummary(period: $period, groupBy: [LOCATION, DAY], orderBy: MINUTES,
             first: 2) { rows { keys { id label } metrics { calls minutes cost } }
             table(metrics: [CALLS, MINUTES, COST]) { columns rows } } }""",
        {"period": OCTOBER},
    )["usageSummary"]
    table = data["table"]
    assert table["columns"] == ["location", "locationId", "day", "calls", "minutes", "cost"]
    nested = [
        [r["keys"][0]["label"], r["keys"][0]["id"], r["keys"][1]["label"], *map(str, r["metrics"].values())]
        for r in data["rows"]
    ]
    assert table["rows"] == nested
    # 5 October at the Berlin office (Anna's five calls, 1,800 s, and Ben's 4,000 s) is the biggest group; then the "all others" row.
    assert table["rows"][0] == [
        "Berlin office",
        encode_id("Location", acme.places["berlin"].id),
        "2026-10-05",
        "6",
        "96.67",
        "5.800000",
    ]
    assert table["rows"][-1][:3] == ["All others", None, "All others"] and len(table["rows"]) == 3
    # Asked for three metrics, the SQL computes only those (and the numbers are the same).
    with CaptureQueriesContext(connection) as queries:
        lean = api(token_for(acme)).data(
            """query ($period: PeriodInput!) { usageSummary(period: $period, groupBy: [LOCATION, DAY],
                 orderBy: MINUTES, first: 2) { table(metrics: [CALLS, MINUTES, COST]) { rows } totals { cost } } }""",
            {"period": OCTOBER},
        )["usageSummary"]
    assert lean["table"]["rows"] == table["rows"] and lean["totals"] == {"cost": "7.630000"}
    summary_sql = [q["sql"] for q in queries.captured_queries if "coalesce(" in q["sql"]]
    assert summary_sql and all("data_bytes" not in sql and "sum(cost)" in sql for sql in summary_sql)
    every_metric = api(token_for(acme)).data(
        '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: []) { table { columns rows } } }'
    )["usageSummary"]["table"]
    assert every_metric["columns"][:3] == ["records", "calls", "messages"] and len(every_metric["columns"]) == 10
    assert every_metric["rows"][0][1] == "10"


def test_top_people_and_long_calls(acme, api, token_for):
    client = api(token_for(acme))
    top = client.data(
        """query { usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [PERSON], orderBy: COST, first: 1) {
             rows { keys { label } isOthers metrics { cost } } groupCount } }"""
    )["usageSummary"]
    assert [(r["keys"][0]["label"], r["isOthers"]) for r in top["rows"]] == [("Ben", False), ("All others", True)]
    assert top["groupCount"] == 3
    long_calls = client.data(
        """query ($loc: ID!) { usageRecords(period: {from: "2026-10-01", to: "2026-10-31"}, first: 10,
              filter: {minDurationSeconds: 3600, locations: [$loc]}, orderBy: DURATION) {
              edges { node { durationSeconds otherParty country person { name } location { name } localTime } }
              pageInfo { hasNextPage } } }""",
        {"loc": encode_id("Location", acme.places["berlin"].id)},
    )["usageRecords"]
    assert len(long_calls["edges"]) == 1
    node = long_calls["edges"][0]["node"]
    assert node["durationSeconds"] == 4000 and node["person"]["name"] == "Ben" and node["country"] == "US"
    assert node["otherParty"] == "+1 415 ••••• 23"  # analysts see masked numbers
    assert node["localTime"] == "10:00:00"  # 08:00 UTC is 10:00 in Berlin in early October (CEST)


def test_admins_see_full_numbers(acme, api, token_for):
    data = api(token_for(acme, role="admin")).data(
        """{ usageRecords(period: {from: "2026-10-01", to: "2026-10-31"}, first: 1, orderBy: DURATION) {
            edges { node { otherParty } } } }"""
    )
    assert data["usageRecords"]["edges"][0]["node"]["otherParty"] == "+14155550123"


def test_location_manager_sees_only_their_locations(acme, api, token_for, make):
    user = make.user()
    membership = make.membership(user, acme, role="location_manager")
    membership.locations.add(acme.places["munich"])
    from portal.api.core.auth import token_create

    _t, raw = token_create(membership=membership, name="mgr", scopes=["usage:read"])
    client = api(raw)
    data = client.data(BY_LOCATION, {"period": OCTOBER})["usageSummary"]
    assert [r["keys"][0]["label"] for r in data["rows"]] == ["Munich office"]
    assert data["totals"]["calls"] == 3
    orgs = client.data("{ viewer { organization { locations(first: 10) { edges { node { name } } } } } }")
    assert [e["node"]["name"] for e in orgs["viewer"]["organization"]["locations"]["edges"]] == ["Munich office"]
    berlin_id = encode_id("Location", acme.places["berlin"].id)
    assert client.data("query ($id: ID!) { node(id: $id) { id } }", {"id": berlin_id}) == {"node": None}


def test_member_sees_only_their_own_usage(acme, api, token_for):
    raw = token_for(acme, role="member", person=acme.people["anna"])
    data = api(raw).data(
        """{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [PERSON]) {
             rows { keys { label } metrics { calls } } } }"""
    )
    assert data["usageSummary"]["rows"] == [{"keys": [{"label": "Anna"}], "metrics": {"calls": 5}}]


def test_another_organizations_ids_lead_nowhere(acme, api, token_for, make):
    other = make.organization(name="Other Ltd")
    outsider = api(token_for(other, role="admin"))
    for type_name, obj in [
        ("Location", acme.places["berlin"]),
        ("Person", acme.people["anna"]),
        ("Line", acme.line_objs["anna"]),
    ]:
        gid = encode_id(type_name, obj.id)
        assert outsider.data("query ($id: ID!) { node(id: $id) { id } }", {"id": gid}) == {"node": None}
        missing = encode_id(type_name, 10**9)
        assert outsider.data("query ($id: ID!) { node(id: $id) { id } }", {"id": missing}) == {"node": None}
    from billing.models import UsageRecord

    record = UsageRecord.objects.filter(organization=acme).first()
    gid = encode_id("UsageRecord", record.id)
    assert outsider.data("query ($id: ID!) { node(id: $id) { id } }", {"id": gid}) == {"node": None}
    insider = api(token_for(acme, role="analyst"))
    assert insider.data("query ($id: ID!) { node(id: $id) { ... on UsageRecord { durationSeconds } } }", {"id": gid})[
        "node"
    ] == {"durationSeconds": record.duration_seconds}
    summary = outsider.data(
        """query ($loc: ID!) { usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [],
             filter: {locations: [$loc]}) { totals { calls } } }""",
        {"loc": encode_id("Location", acme.places["berlin"].id)},
    )
    assert summary["usageSummary"]["totals"]["calls"] == 0


def test_scope_is_enforced_per_token(acme, api, token_for):
    status, body = api(token_for(acme, scopes=["statements:read"])).post(BY_LOCATION, {"period": OCTOBER})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


def test_pages_of_records_cost_a_constant_number_of_queries(acme, api, token_for, django_assert_max_num_queries):
    client = api(token_for(acme))
    query = """query ($n: Int!) { usageRecords(period: {from: "2026-10-01", to: "2026-10-31"}, first: $n) {
                 edges { node { id durationSeconds line { number } person { name } location { name } } } } }"""
    client.data(query, {"n": 1})  # warm-up: token last-use bookkeeping happens once a minute
    with django_assert_max_num_queries(5) as small:
        client.data(query, {"n": 2})
    with django_assert_max_num_queries(5) as large:
        assert len(client.data(query, {"n": 10})["usageRecords"]["edges"]) == 10
    assert len(small.captured_queries) == len(large.captured_queries)
