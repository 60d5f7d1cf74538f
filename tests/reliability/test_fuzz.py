"""Property-based fuzzing of what users and integrations send: GraphQL arguments and import rows.

Whatever comes in, the answer is a clear refusal (a GraphQL error with a code and, for bad arguments,
the field) or a correct result, never a 500; an import accounts for every row (loaded, duplicate or
rejected with its line number) and nothing is half-written."""

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.ingest.importer import ImportFileError, usage_import
from billing.models import ImportRejection, UsageRecord
from portal.api.core.errors import Codes

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
