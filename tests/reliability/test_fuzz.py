"""Property-based fuzzing of what users and integrations send: GraphQL arguments and import rows.

Whatever comes in, the answer is a clear refusal (a GraphQL error with a code and, for bad arguments,
the field) or a correct result, never a 500; an import accounts for every row (loaded, duplicate or
rejected with its line number) and nothing is half-written."""

import csv
import io
import json
import os
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from billing.ingest.importer import ImportFileError, usage_import
from billing.models import ImportRejection, UsageRecord
from portal.api.core.errors import Codes
from tests.offers.conftest import catalog  # noqa: F401 - fixture

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

DIMENSIONS = ["LOCATION", "PERSON", "LINE", "CATEGORY", "DURATION_BAND", "HOUR", "MONTH", "BOGUS", "location"]
dates = st.one_of(
    st.dates().map(str),
    st.sampled_from(["2026-10-01", "2026-10-31", "2026-02-30", "", "yesterday", "2026-10-01T00:00:00Z"]),
    st.text(max_size=12),
)
ints = st.one_of(st.integers(min_value=-(2**40), max_value=2**40), st.sampled_from([0, 1, 100, 101, 1000]))
# An INTERNAL_ERROR would be a crash reported politely: it does not count as a clear answer.
CLEAR_CODES = {value for name, value in vars(Codes).items() if name.isupper()} - {Codes.INTERNAL}


@pytest.fixture
def client_token(acme, token_for, client):
    return client, token_for(acme, role="analyst")


def post(client, token, query, variables):
    response = client.post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return response.status_code, response.json()


SUMMARY = """query($from: Date!, $to: Date!, $groupBy: [UsageDimension!]!, $first: Int, $min: Int, $max: Int) {
  usageSummary(period: {from: $from, to: $to}, groupBy: $groupBy, first: $first,
               filter: {minDurationSeconds: $min, maxDurationSeconds: $max}) {
    rows { keys { label } metrics { calls cost } } totals { cost }
  }
}"""

RECORDS = """query($from: Date!, $to: Date!, $first: Int, $after: String) {
  usageRecords(period: {from: $from, to: $to}, first: $first, after: $after) {
    edges { node { durationSeconds } } pageInfo { hasNextPage }
  }
}"""


def assert_clear(status, body):
    assert status < 500, body
    for error in body.get("errors", []):
        assert error["extensions"]["code"] in CLEAR_CODES, error
        assert error["message"]


@FUZZ
@given(
    start=dates,
    end=dates,
    group_by=st.lists(st.sampled_from(DIMENSIONS), max_size=4),
    first=st.one_of(st.none(), ints),
    low=st.one_of(st.none(), ints),
    high=st.one_of(st.none(), ints),
)
def test_usage_summary_arguments_never_break_the_api(client_token, start, end, group_by, first, low, high):
    client, token = client_token
    variables = {"from": start, "to": end, "groupBy": group_by, "first": first, "min": low, "max": high}
    status, body = post(client, token, SUMMARY, variables)
    assert_clear(status, body)
    if not body.get("errors"):
        summary = body["data"]["usageSummary"]
        assert sum(float(r["metrics"]["cost"]) for r in summary["rows"]) == pytest.approx(
            float(summary["totals"]["cost"])
        )


@FUZZ
@given(start=dates, end=dates, first=st.one_of(st.none(), ints), after=st.one_of(st.none(), st.text(max_size=40)))
def test_usage_records_arguments_never_break_the_api(client_token, start, end, first, after):
    client, token = client_token
    status, body = post(client, token, RECORDS, {"from": start, "to": end, "first": first, "after": after})
    assert_clear(status, body)


# --- import rows -----------------------------------------------------------------------------------

printable = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
numbers = st.one_of(st.sampled_from(["+493012345601", "+493012345602", "030 12345601", "+4940999", ""]), printable)
stamps = st.one_of(
    st.sampled_from(["2026-10-05 09:00:00", "2026-10-26 02:30:00", "2030-01-01 09:00:00", "1999-12-31 23:59:59"]),
    printable,
)
seconds = st.one_of(st.integers(min_value=-100, max_value=10**6).map(str), printable)
asterisk_row = st.tuples(
    numbers, numbers, stamps, seconds, seconds, st.sampled_from(["ANSWERED", "NO ANSWER", "BUSY", "??"]), printable
).map(
    lambda t: (
        ["acct", t[0], t[1], "from-internal", "", "SIP/1", "SIP/2", "Dial", "", t[2], t[2], t[2], t[3], t[4]]
        + [t[5], "DOCUMENTATION", t[6]]
    )
)
rows = st.lists(st.one_of(asterisk_row, st.lists(printable, max_size=20)), min_size=1, max_size=12)


@FUZZ
@given(rows=rows)
def test_every_import_row_is_loaded_or_rejected_with_its_line(pbx, tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "Master.csv"
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    before = UsageRecord.objects.count()
    try:
        result = usage_import(path=path, format="asterisk")
    except ImportFileError as exc:
        assert str(exc)  # the whole file refused, with a reason, and nothing written
        assert UsageRecord.objects.count() == before
        return
    assert result.loaded + result.duplicates + result.rejected + result.joined_legs == result.rows
    assert UsageRecord.objects.count() - before == result.loaded
    # Line numbers are the file's physical lines (a quoted field may hold a line break).
    physical_lines = path.read_bytes().count(b"\n") + 1
    assert all(1 <= r.line_number <= physical_lines and r.reason for r in result.rejections)
    assert ImportRejection.objects.filter(batch_id=result.batch_id).count() == result.rejected


# --- every query and mutation of the schema ---------------------------------------------------------
# hypothesis-graphql writes documents from the schema itself (any root field, any selection, any argument
# values, NUL characters included); ids, statement numbers, page sizes and dates are then swapped, half of
# the time, for real ones of both organizations (ours and a foreign one) so that the fuzzer reaches data.
# The CI form runs SCHEMA_EXAMPLES documents per operation type (~20 s each here); the long form, marked
# slow, runs FUZZ_EXAMPLES of them when that variable is set: `FUZZ_EXAMPLES=5000 pytest -k schema_long`.

SCHEMA_EXAMPLES = 120


def _schema_world(make, plans, monkeypatch):
    from billing.models import Line, Location, OfferRecommendation, Person, Statement, UsageRecord
    from billing.offers.services import offers_compute
    from portal.api.core.auth import token_create
    from portal.api.core.nodes import encode_id
    from tests.offers.conftest import ISSUED_AT, consultancy, issue_periods

    def build(name, seed):
        org = consultancy(make, plans, name=name, seed=seed)
        statements = issue_periods(org)
        offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT)
        return org

    ours, theirs = build("Ours GmbH", 2), build("Foreign B.V.", 3)
    kinds = {
        "Location": Location,
        "Person": Person,
        "Line": Line,
        "UsageRecord": UsageRecord,
        "Statement": Statement,
        "Offer": OfferRecommendation,
    }
    ids = {org.pk: [] for org in (ours, theirs)}
    owner = {}
    for kind, model in kinds.items():
        for pk, org_id in model.objects.filter(organization__in=[ours, theirs]).values_list("pk", "organization_id")[
            :40
        ]:
            ids[org_id].append(encode_id(kind, pk))
        for pk, org_id in model.objects.values_list("pk", "organization_id"):
            owner[encode_id(kind, pk)] = org_id
    numbers = {
        org.pk: list(Statement.objects.filter(organization=org).values_list("number", flat=True))
        for org in (ours, theirs)
    }
    foreign_markers = {theirs.name} | set(Line.objects.filter(organization=theirs).values_list("number", flat=True))
    foreign_markers |= set(numbers[theirs.pk]) - set(numbers[ours.pk])
    membership = make.membership(make.user(), ours, role="admin")
    _token, raw = token_create(
        membership=membership,
        name="fuzz",
        scopes=["usage:read", "statements:read", "statements:dispute", "offers", "webhooks:manage"],
    )
    # Registering a webhook resolves its host: no DNS query may leave this machine.
    import socket

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "fuzz: no DNS")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return {
        "token": raw,
        "ours": ours.pk,
        "ids": ids[ours.pk] + ids[theirs.pk],
        "numbers": numbers[ours.pk] + numbers[theirs.pk] + ["2099-999999", ""],
        "owner": owner,
        "foreign_markers": foreign_markers,
    }


def _real_values(document, data):
    """Swap some generated argument values for real ones (ids of both organizations, numbers, pages, dates)."""
    from graphql import IntValueNode, StringValueNode, TypeInfo, TypeInfoVisitor, Visitor, get_named_type, visit

    from portal.api.schema import schema

    world = _WORLD
    type_info = TypeInfo(schema.graphql_schema)

    class Swap(Visitor):
        def enter_argument(self, node, *_):
            self.argument = node.name.value

        def enter_string_value(self, node, *_):
            named = get_named_type(type_info.get_input_type())
            if named is None or not data.draw(st.booleans()):
                return None
            if named.name == "ID":
                return StringValueNode(value=data.draw(st.sampled_from(world["ids"])))
            if named.name == "Date":
                return StringValueNode(value=data.draw(st.dates(date(2026, 7, 1), date(2026, 12, 31))).isoformat())
            if getattr(self, "argument", None) == "number":
                return StringValueNode(value=data.draw(st.sampled_from(world["numbers"])))
            return None

        def enter_int_value(self, node, *_):
            if getattr(self, "argument", None) in {"first", "last", "offset", "linePosition"} and data.draw(
                st.booleans()
            ):
                return IntValueNode(value=str(data.draw(st.sampled_from([0, 1, 2, 5, 100, 101, -1]))))
            return None

    return visit(document, TypeInfoVisitor(type_info, Swap()))


_WORLD: dict = {}


def _foreign_ids(value, world) -> list[str]:
    """Ids of another organization's objects anywhere in the answer's data."""
    found = []
    if isinstance(value, dict):
        for item in value.values():
            found += _foreign_ids(item, world)
    elif isinstance(value, list):
        for item in value:
            found += _foreign_ids(item, world)
    elif isinstance(value, str):
        org_id = world["owner"].get(value)
        if (org_id is not None and org_id != world["ours"]) or value in world["foreign_markers"]:
            found.append(value)
    return found


def _run_schema_fuzz(client, world, operation_type: str, examples: int):
    from django.core.cache import cache
    from graphql import parse, print_ast
    from hypothesis_graphql import mutations, queries

    from portal.api.schema import schema

    _WORLD.clear()
    _WORLD.update(world)
    graphql_schema = schema.graphql_schema
    scalars = {
        "Date": st.one_of(st.dates().map(str), st.text(max_size=12)).map(nodes.String),
        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat() + "Z")),
        "Decimal": st.decimals(allow_nan=False, allow_infinity=False).map(nodes.String),
    }
    strategy = (queries if operation_type == "query" else mutations)(graphql_schema, custom_scalars=scalars)
    seen = {"requests": 0, "answers": 0, "codes": {}}

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(text=strategy, data=st.data())
    def run(text, data):
        cache.clear()  # the per-minute budget would otherwise refuse most of a long run
        query = print_ast(_real_values(parse(text), data))
        status, body = post(client, world["token"], query, {})
        seen["requests"] += 1
        assert_clear(status, body)
        for error in body.get("errors", []):
            code = error["extensions"]["code"]
            seen["codes"][code] = seen["codes"].get(code, 0) + 1
        if body.get("data"):
            seen["answers"] += 1
            assert not _foreign_ids(body["data"], world), (query, body)

    run()
    return seen


@pytest.fixture
def schema_world(make, catalog, monkeypatch):  # noqa: F811 - the fixture
    return _schema_world(make, catalog, monkeypatch)


@pytest.mark.parametrize("operation_type", ["query", "mutation"])
def test_schema_fuzz_every_query_and_mutation(client, schema_world, operation_type):
    seen = _run_schema_fuzz(client, schema_world, operation_type, SCHEMA_EXAMPLES)
    assert seen["requests"] == SCHEMA_EXAMPLES
    print(operation_type, seen)
    assert seen["answers"] > 0, seen  # some documents got through every check and ran


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FUZZ_EXAMPLES"), reason="the long form runs with FUZZ_EXAMPLES=<n>")
@pytest.mark.parametrize("operation_type", ["query", "mutation"])
def test_schema_fuzz_long(client, schema_world, operation_type):
    examples = int(os.environ["FUZZ_EXAMPLES"])
    seen = _run_schema_fuzz(client, schema_world, operation_type, examples)
    print(operation_type, seen)
