"""Every root field of the GraphQL schema that takes an id (an ``ID`` argument, an input with ``ID``
fields, or a statement ``number``): another organization's real id answers exactly like an id that never
existed, and changes nothing. A new root field taking an id fails the first test until it is covered."""

import pytest
from graphql import GraphQLInputObjectType, get_named_type

from billing.models import BillFinding, Dispute, Line, Location, OfferResponse, Person, UsageRecord
from portal.api.core.nodes import encode_id
from portal.api.schema import schema
from portal.models import Budget
from tests.offers.conftest import catalog  # noqa: F401 - fixture
from tests.web.test_url_isolation import Foreign

IDENTIFYING_ARGUMENTS = {"number"}  # strings that name an object (a statement's number)
PERIOD = '{from: "2026-08-01", to: "2026-11-04"}'
ALL_SCOPES = [
    "usage:read",
    "statements:read",
    "statements:dispute",
    "offers",
    "webhooks:manage",
    "budgets:manage",
    "findings:manage",
]


def root_fields_taking_an_id() -> set[str]:
    found = set()
    graphql_schema = schema.graphql_schema
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        for name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if (
                    named.name == "ID"
                    or arg_name in IDENTIFYING_ARGUMENTS
                    or (
                        isinstance(named, GraphQLInputObjectType)
                        and any(get_named_type(f.type).name == "ID" for f in named.fields.values())
                    )
                ):
                    found.add(f"{root.name}.{name}")
    return found


def _summary(dimension: str) -> str:
    return (
        f"query ($v: ID!) {{ usageSummary(period: {PERIOD}, groupBy: [LOCATION], filter: {{{dimension}: [$v]}}) "
        "{ totals { calls cost } rows { keys { label } metrics { calls } } } }"
    )


def _records(dimension: str) -> str:
    return (
        f"query ($v: ID!) {{ usageRecords(period: {PERIOD}, filter: {{{dimension}: [$v]}}, first: 20) "
        "{ edges { node { id otherParty durationSeconds } } } }"
    )


ANALYSIS = {
    "Query.usageTimeSeries": (
        "usageTimeSeries(period: " + PERIOD + ", interval: WEEK, splitBy: PERSON, filter: {F}) "
        "{ totals series { label values } }"
    ),
    "Query.usagePivot": (
        "usagePivot(period: " + PERIOD + ", rows: LOCATION, columns: MONTH, filter: {F}) { total rows { label cells } }"
    ),
    "Query.usageForecast": (
        'usageForecast(asOf: "2026-11-04", groupBy: PERSON, filter: {F}) '
        "{ total { current { actual projected } } groups { label } }"
    ),
    "Query.usageAnomalies": (
        'usageAnomalies(period: {from: "2026-10-01", to: "2026-11-04"}, minExcess: 0, filter: {F}) '
        "{ totalExcess anomalies { key { label } excess } }"
    ),
}


def _analysis(field: str, dimension: str, exclude: bool = False) -> str:
    limit = f"exclude: {{{dimension}: [$v]}}" if exclude else f"{dimension}: [$v]"
    return "query ($v: ID!) { " + ANALYSIS[field].replace("{F}", "{" + limit + "}") + " }"


NODE = "query ($v: ID!) { node(id: $v) { id __typename } }"
STATEMENT = "query ($v: String!) { statement(number: $v) { number total lines { description } } }"
CHARGEBACK = "query ($v: String!) { statementChargeback(number: $v) { number total costCentres { gross } } }"
RESPOND = "mutation ($v: ID!) { respondToOffer(offerId: $v, decision: ACCEPT) { offer { id } errors { field code message } } }"
BUDGET = (
    'mutation ($v: ID!) { createBudget(amount: "10", thresholds: [80], locationId: $v) '
    "{ budget { id } errors { field code message } } }"
)
FINDING = (
    "mutation ($v: ID!) { setFindingStatus(id: $v, status: DONE) { finding { id } errors { field code message } } }"
)
DISPUTE = (
    'mutation ($v: String!) { disputeStatementLine(number: $v, linePosition: 1, reason: "Not ours") '
    "{ dispute { linePosition reason status } errors { field code message } } }"
)


def cases(foreign: Foreign) -> dict[str, list[tuple[str, object, object]]]:
    """Per root field: (query, their real id, an id that never existed)."""
    org = foreign.org
    location = Location.objects.filter(organization=org).first()
    person = Person.objects.filter(organization=org).first()
    line = Line.objects.filter(organization=org).first()
    record = UsageRecord.objects.filter(organization=org).first()
    gids = {
        "Location": location.pk,
        "Person": person.pk,
        "Line": line.pk,
        "UsageRecord": record.pk,
        "Statement": foreign.statement.pk,
    }
    never = 10**12
    return {
        "Query.node": [(NODE, encode_id(kind, pk), encode_id(kind, never)) for kind, pk in gids.items()],
        "Query.statement": [(STATEMENT, foreign.statement.number, "2099-999999")],
        "Query.statementChargeback": [(CHARGEBACK, foreign.statement.number, "2099-999999")],
        "Query.usageSummary": [
            (_summary("locations"), encode_id("Location", location.pk), encode_id("Location", never)),
            (_summary("persons"), encode_id("Person", person.pk), encode_id("Person", never)),
            (_summary("lines"), encode_id("Line", line.pk), encode_id("Line", never)),
        ],
        "Query.usageRecords": [
            (_records("locations"), encode_id("Location", location.pk), encode_id("Location", never)),
            (_records("persons"), encode_id("Person", person.pk), encode_id("Person", never)),
            (_records("lines"), encode_id("Line", line.pk), encode_id("Line", never)),
        ],
        **{
            field: [
                (_analysis(field, "locations"), encode_id("Location", location.pk), encode_id("Location", never)),
                (_analysis(field, "persons"), encode_id("Person", person.pk), encode_id("Person", never)),
                (_analysis(field, "lines", exclude=True), encode_id("Line", line.pk), encode_id("Line", never)),
            ]
            for field in ANALYSIS
        },
        "Mutation.respondToOffer": [(RESPOND, encode_id("Offer", foreign.offer.pk), encode_id("Offer", never))],
        "Mutation.disputeStatementLine": [(DISPUTE, foreign.statement.number, "2099-999999")],
        "Mutation.createBudget": [(BUDGET, encode_id("Location", location.pk), encode_id("Location", never))],
        "Mutation.setFindingStatus": [
            (FINDING, encode_id("BillFinding", foreign.finding.pk), encode_id("BillFinding", never))
        ],
    }


def _answer(client, query, value) -> tuple:
    """Status and body, without the rate budget (which moves with every request)."""
    status, body = client.post(query, {"v": value})
    for moving in ("remaining", "organizationRemaining"):
        body.get("extensions", {}).get("cost", {}).pop(moving, None)
    return status, body


def test_every_root_field_taking_an_id_has_an_isolation_case():
    covered = {
        "Query.node",
        "Query.statement",
        "Query.statementChargeback",
        "Query.usageSummary",
        "Query.usageRecords",
        *ANALYSIS,
    }
    covered |= {"Mutation.respondToOffer", "Mutation.disputeStatementLine"}
    covered |= {"Mutation.createBudget", "Mutation.setFindingStatus"}
    assert root_fields_taking_an_id() == covered, "a root field taking an id needs a case in cases()"


@pytest.mark.slow
@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_another_organizations_ids_answer_like_missing_ones_in_every_root_field(
    make,
    catalog,  # noqa: F811 - the fixture
    settings,
    tmp_path,
    api,
    token_for,
    role,
):
    foreign = Foreign.build(make, catalog, settings, tmp_path)
    table = cases(foreign)
    assert set(table) == root_fields_taking_an_id()
    outsider = api(token_for(make.organization(), role=role, scopes=ALL_SCOPES))
    insider = api(token_for(foreign.org, role="admin", scopes=ALL_SCOPES))
    for field, rows in table.items():
        for query, theirs, missing in rows:
            if field.startswith("Query."):  # the sample is real: its owner sees it
                owner = insider.post(query, {"v": theirs})
                assert owner[0] == 200 and "errors" not in owner[1], (field, owner)
            answer, nothing = _answer(outsider, query, theirs), _answer(outsider, query, missing)
            assert answer == nothing, (field, query, answer, nothing)
    assert not Dispute.objects.exists() and not OfferResponse.objects.exists()
    assert not Budget.objects.filter(organization=foreign.org).exclude(pk=foreign.budget.pk).exists()
    assert BillFinding.objects.get(pk=foreign.finding.pk).status == "open"
    # The dispute case is a real one: the intruder was told "not found" (not a validation error that any
    # request would get), and the owner, with the same request, disputes its line and reads the dispute back.
    status, intruder = _answer(outsider, DISPUTE, foreign.statement.number)
    assert status == 200 and "errors" not in intruder, intruder
    assert intruder["data"]["disputeStatementLine"] == {
        "dispute": None,
        "errors": [{"field": "number", "code": "NOT_FOUND", "message": "no such statement line"}],
    }
    status, owner = _answer(insider, DISPUTE, foreign.statement.number)
    assert status == 200 and "errors" not in owner, owner
    assert owner["data"]["disputeStatementLine"] == {
        "dispute": {"linePosition": 1, "reason": "Not ours", "status": "open"},
        "errors": [],
    }
    assert Dispute.objects.get().statement == foreign.statement
